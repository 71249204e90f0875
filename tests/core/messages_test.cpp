// What reaches a user's terminal: one line, no control sequences, no library internals.
#include "dida/messages.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

namespace dida {
namespace {

TEST(Messages, ControlSequencesAndBrokenUtf8AreEscaped) {
  EXPECT_EQ(printable("digit 7.png"), "digit 7.png");
  EXPECT_EQ(printable("chiffre \xC3\xA9t\xC3\xA9 \xE2\x9C\x93"), "chiffre \xC3\xA9t\xC3\xA9 \xE2\x9C\x93") << "UTF-8 stays";
  EXPECT_EQ(printable("a\x1B[31mred\nforged: 0 (p=1.000)"), "a\\x1B[31mred\\x0Aforged: 0 (p=1.000)");
  EXPECT_EQ(printable(std::string("nul\0x\x7F", 6)), "nul\\x00x\\x7F");
  EXPECT_EQ(printable("c1 \xC2\x9B" "31m"), "c1 \\xC2\\x9B31m") << "the C1 CSI is a control too";
  EXPECT_EQ(printable("cut \xE2\x9C"), "cut \\xE2\\x9C");
  EXPECT_EQ(printable("lone \xFF\xC0\xAF"), "lone \\xFF\\xC0\\xAF");
  EXPECT_EQ(printable("\r\t"), "\\x0D\\x09");
}

TEST(Messages, LibraryErrorsAreSaidInWords) {
  EXPECT_EQ(describe_error(std::bad_alloc()).find("out of memory"), 0u);
  std::vector<int> v;
  try {
    v.resize(v.max_size() + 1);
  } catch (const std::length_error& e) {
    EXPECT_EQ(describe_error(e).find("a size too large"), 0u) << describe_error(e);
  }
  try {
    (void)nlohmann::json::parse("{\"a\": 1}").at("a").get<std::string>();
    ADD_FAILURE();
  } catch (const nlohmann::json::exception& e) {
    const std::string d = describe_error(e);
    EXPECT_EQ(d.find("[json.exception"), std::string::npos) << d;
    EXPECT_EQ(d.rfind("JSON: ", 0), 0u) << d;
  }
  try {
    std::filesystem::directory_iterator it("/no/such/dida-folder");
    ADD_FAILURE();
  } catch (const std::filesystem::filesystem_error& e) {
    EXPECT_EQ(describe_error(e), "/no/such/dida-folder: No such file or directory");
  }
  EXPECT_EQ(describe_error(std::runtime_error("x.png: bad\nline")), "x.png: bad\\x0Aline");
}

}  // namespace
}  // namespace dida
