# Header-only third-party libraries from Debian, usable by both builds.
# Under Emscripten /usr/include cannot go on the include path (it would shadow the wasm libc),
# so each library's own folder is linked into a private include directory.
set(DIDA_THIRD_PARTY_INCLUDE "${CMAKE_BINARY_DIR}/third_party_include")
file(MAKE_DIRECTORY "${DIDA_THIRD_PARTY_INCLUDE}")

function(_dida_link_headers name system_path)
  if(NOT EXISTS "${system_path}")
    message(FATAL_ERROR "${system_path} is missing: run `make deps` (scripts/setup.sh) first")
  endif()
  if(NOT EXISTS "${DIDA_THIRD_PARTY_INCLUDE}/${name}")
    file(CREATE_LINK "${system_path}" "${DIDA_THIRD_PARTY_INCLUDE}/${name}" SYMBOLIC)
  endif()
endfunction()

# Where the header-only libraries live: Debian's /usr/include, or a copy of those folders on a
# machine without Debian's -dev packages (e.g. a GPU machine with a PyTorch wheel).
set(DIDA_HEADER_ROOT "/usr/include" CACHE PATH "Folder holding eigen3/, nlohmann/, stb/ and CLI/")
_dida_link_headers(Eigen "${DIDA_HEADER_ROOT}/eigen3/Eigen")
_dida_link_headers(nlohmann "${DIDA_HEADER_ROOT}/nlohmann")
_dida_link_headers(stb "${DIDA_HEADER_ROOT}/stb")
if(NOT EMSCRIPTEN)
  _dida_link_headers(CLI "${DIDA_HEADER_ROOT}/CLI")
endif()

add_library(dida_third_party INTERFACE)
target_include_directories(dida_third_party SYSTEM INTERFACE "${DIDA_THIRD_PARTY_INCLUDE}")
target_compile_definitions(dida_third_party INTERFACE EIGEN_MPL2_ONLY)

set(DIDA_IMGUI_DIR "${PROJECT_SOURCE_DIR}/.deps/imgui" CACHE PATH "Dear ImGui sources (fetched by make deps)")
