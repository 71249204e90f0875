#pragma once
// Helpers shared by the core tests (native and wasm): a scratch folder on the real file system.
#include <filesystem>
#include <functional>
#include <string>

namespace dida::test {
// The message of the exception f throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f);

// A fresh, empty folder under the system temp folder, removed by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path(const std::string& name) const { return (root_ / name).string(); }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};
}  // namespace dida::test
