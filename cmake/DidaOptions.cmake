# Which parts to build, warnings and sanitizers.
if(EMSCRIPTEN)
  set(_dida_native_default OFF)
  set(_dida_web_default ON)
else()
  set(_dida_native_default ON)
  set(_dida_web_default OFF)
endif()
option(DIDA_BUILD_NATIVE "Build the LibTorch trainer and the dida CLI" ${_dida_native_default})
option(DIDA_BUILD_WEB "Build the WebAssembly canvas app and the site (needs emcmake)" ${_dida_web_default})
option(DIDA_BUILD_TESTS "Build the test suites" ON)
option(DIDA_BUILD_FUZZERS "Build the libFuzzer targets of tests/fuzz (clang only; make fuzz)" OFF)
set(DIDA_SANITIZE "" CACHE STRING "Sanitizers for the project's own code, e.g. address,undefined")
# The native build is compiled for the CPU it is built on: the core's Eigen GEMMs then use AVX2 /
# AVX-512 with FMA instead of SSE2 (batch 256 about 1.7x faster). Set to "" for a binary that runs on
# any x86-64, or to a named CPU (e.g. x86-64-v3) for a family of machines.
set(DIDA_MARCH "native" CACHE STRING "-march= of the native build; empty: the compiler's default")

if(DIDA_BUILD_WEB AND NOT EMSCRIPTEN)
  message(FATAL_ERROR "DIDA_BUILD_WEB needs the Emscripten toolchain: configure with emcmake cmake")
endif()
if(DIDA_BUILD_NATIVE AND EMSCRIPTEN)
  message(FATAL_ERROR "DIDA_BUILD_NATIVE cannot be built with Emscripten")
endif()

# dida_target_defaults(target): warnings and sanitizers for the project's own targets.
function(dida_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(DIDA_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${DIDA_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${DIDA_SANITIZE})
  endif()
endfunction()
