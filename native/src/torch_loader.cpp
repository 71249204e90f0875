#include "torch_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace dida {
namespace {
std::filesystem::path executable_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : exe.parent_path();
}
}  // namespace

const TorchApi& torch_api() {
  static const TorchApi* api = [] {
    const std::string path = (executable_dir() / "libdida_torch.so").string();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) throw std::runtime_error(std::string("cannot load the LibTorch part: ") + dlerror());
    using Entry = const TorchApi* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, "dida_torch_api"));
    if (!entry) throw std::runtime_error(path + ": no dida_torch_api symbol");
    const TorchApi* a = entry();
    if (a->abi_version != kTorchApiVersion)
      throw std::runtime_error(path + ": built for another dida version (rebuild with make)");
    return a;
  }();
  return *api;
}
}  // namespace dida
