#include "test_util.hpp"

#include <atomic>
#include <chrono>

namespace dida::test {
ScratchDir::ScratchDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  root_ = std::filesystem::temp_directory_path() /
          ("dida-test-" + tag + "-" + std::to_string(stamp) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(root_);
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}
}  // namespace dida::test
