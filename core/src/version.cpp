#include "dida/version.hpp"

namespace dida {
const char* version() { return DIDA_VERSION_STRING; }
const char* build_kind() {
#ifdef __EMSCRIPTEN__
  return "wasm";
#else
  return "native";
#endif
}
}  // namespace dida
