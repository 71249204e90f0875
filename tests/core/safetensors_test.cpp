#include "dida/safetensors.hpp"

#include <filesystem>
#ifndef __EMSCRIPTEN__
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#endif
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace dida {
namespace fs = std::filesystem;
namespace {

SafeTensorsWriter sample_writer() {
  SafeTensorsWriter w;
  w.add_f32("weight", {2, 3}, {1.f, -2.f, 3.5f, 0.f, 1e-3f, -7.25f});
  w.add_u8("pixels", {2, 2}, {0, 127, 128, 255});
  w.add_i64("labels", {3}, {0, 9, -1});
  w.set_metadata("format", "dida-test");
  return w;
}

// Builds a file from a raw header string and a data section.
std::vector<std::uint8_t> raw_file(const std::string& header, std::size_t data_bytes) {
  std::vector<std::uint8_t> out(8 + header.size() + data_bytes, 0);
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::string parse_error(std::vector<std::uint8_t> bytes) {
  try {
    SafeTensorsFile::parse(std::move(bytes), "bad.safetensors");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SafeTensors, RoundTripInMemory) {
  const auto bytes = sample_writer().to_bytes();
  const auto f = SafeTensorsFile::parse(bytes);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"labels", "pixels", "weight"}));
  EXPECT_EQ(f.info("weight").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(f.info("weight").dtype, DType::F32);
  EXPECT_EQ(f.to_f32("weight"), (std::vector<float>{1.f, -2.f, 3.5f, 0.f, 1e-3f, -7.25f}));
  EXPECT_EQ(f.to_u8("pixels"), (std::vector<std::uint8_t>{0, 127, 128, 255}));
  EXPECT_EQ(f.to_i64("labels"), (std::vector<std::int64_t>{0, 9, -1}));
  EXPECT_EQ(f.metadata_or("format", ""), "dida-test");
  EXPECT_EQ(f.metadata_or("missing", "fallback"), "fallback");
}

TEST(SafeTensors, LayoutIsAlignedAndDeterministic) {
  const auto a = sample_writer().to_bytes();
  const auto b = sample_writer().to_bytes();
  EXPECT_EQ(a, b);
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, a.data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u);
  const auto f = SafeTensorsFile::parse(a);
  for (const auto& name : f.names())
    EXPECT_EQ(f.info(name).begin % dtype_size(f.info(name).dtype), 0u) << name;
  // largest elements first: the I64 tensor starts the data
  EXPECT_EQ(f.info("labels").begin, 0u);
}

TEST(SafeTensors, ReadsTheReferenceFormatByHand) {
  // A file laid out by hand as the format's reference describes it.
  const std::string header = R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}})";
  auto bytes = raw_file(header, 6);
  std::uint8_t* d = bytes.data() + 8 + header.size();
  d[0] = 0x00; d[1] = 0x3c;  // F16 1.0
  d[2] = 0x00; d[3] = 0xc0;  // F16 -2.0
  d[4] = 0x80; d[5] = 0x3f;  // BF16 1.0
  const auto f = SafeTensorsFile::parse(bytes);
  EXPECT_EQ(f.to_f32("a"), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(f.to_f32("b"), (std::vector<float>{1.0f}));
  EXPECT_THROW(f.to_u8("a"), FormatError);
  EXPECT_THROW(f.to_i64("a"), FormatError);
}

TEST(SafeTensors, SaveIsAtomicAndLoadReadsIt) {
  test::ScratchDir dir("st");
  const std::string path = dir.path("m.safetensors");
  sample_writer().save(path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(SafeTensorsFile::load(path).to_i64("labels")[1], 9);
  // Saving into a folder that does not exist fails cleanly and leaves nothing behind.
  EXPECT_THROW(sample_writer().save(dir.path("no/such/dir/m.safetensors")), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(dir.path("no")));
  // A save that cannot write (a read-only folder) leaves the old file as it was and no temporary.
  const auto before = read_file_bytes(path);
  SafeTensorsWriter other;
  other.add_f32("w", {1}, {1.f});
  if (::geteuid() != 0) {  // root writes into a read-only folder anyway
    std::filesystem::permissions(dir.path(""), std::filesystem::perms::owner_write, std::filesystem::perm_options::remove);
    EXPECT_THROW(other.save(path), std::runtime_error);
    std::filesystem::permissions(dir.path(""), std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
    EXPECT_EQ(read_file_bytes(path), before);
  }
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path(""))) files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "only m.safetensors";
}

// Writes never follow a link planted where a temporary would go, never replace a special file,
// and two writers of one file never share a temporary.
TEST(SafeTensors, WritesFollowNoLinkAndReplaceNoSpecialFile) {
  test::ScratchDir dir("st-links");
  const std::string victim = dir.path("victim.txt"), out = dir.path("out.bin");
  write_file_atomic(victim, "keep", 4);
  std::filesystem::create_symlink(victim, out + ".tmp");  // the old fixed temporary name
  write_file_atomic(out, "data", 4);
  EXPECT_EQ(read_file_bytes(victim), (std::vector<std::uint8_t>{'k', 'e', 'e', 'p'}));
  EXPECT_FALSE(std::filesystem::is_symlink(out)) << "the output is a file of its own";
  EXPECT_EQ(read_file_bytes(out).size(), 4u);
  // A link at the output's own name is replaced by the file, the file it pointed to untouched.
  const std::string linked = dir.path("linked.bin");
  std::filesystem::create_symlink(victim, linked);
  write_file_atomic(linked, "new!", 4);
  EXPECT_FALSE(std::filesystem::is_symlink(linked));
  EXPECT_EQ(read_file_bytes(victim), (std::vector<std::uint8_t>{'k', 'e', 'e', 'p'}));
  EXPECT_THROW(write_file_atomic(dir.path(""), "x", 1), std::runtime_error);  // a folder
#ifndef __EMSCRIPTEN__  // FIFOs, devices and threads: the native build's
  // A FIFO or a device as the output: refused by name, left as it was.
  const std::string fifo = dir.path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  try {
    write_file_atomic(fifo, "x", 1);
    ADD_FAILURE() << "a FIFO was replaced";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  EXPECT_THROW(write_file_atomic("/dev/null", "x", 1), std::runtime_error);
  // Two writers of one file at once: each has its own temporary; the file ends whole.
  const std::string shared = dir.path("shared.bin");
  std::vector<std::uint8_t> a(1 << 20, 'a'), b(1 << 20, 'b');
  std::thread ta([&] { for (int i = 0; i < 20; ++i) write_file_atomic(shared, a.data(), a.size()); });
  std::thread tb([&] { for (int i = 0; i < 20; ++i) write_file_atomic(shared, b.data(), b.size()); });
  ta.join(), tb.join();
  const auto got = read_file_bytes(shared);
  ASSERT_EQ(got.size(), a.size());
  EXPECT_TRUE(got == a || got == b) << "one writer's bytes, whole";
#endif
  for (const auto& e : std::filesystem::directory_iterator(dir.path("")))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "no temporary left: " << e.path();
}

TEST(SafeTensors, FoldersAndFifosAreNamedNotRead) {
  test::ScratchDir dir("notfile");
  fs::create_directories(dir.path("folder"));
  EXPECT_EQ(test::error_of([&] { read_file_bytes(dir.path("folder")); }), dir.path("folder") + ": is a folder, not a file");
#ifndef __EMSCRIPTEN__
  // A FIFO with no writer would block a read forever.
  ASSERT_EQ(::mkfifo(dir.path("pipe").c_str(), 0600), 0);
  EXPECT_NE(test::error_of([&] { read_file_bytes(dir.path("pipe")); }).find("pipe: not a regular file"), std::string::npos);
#endif
  EXPECT_EQ(test::error_of([&] { read_file_bytes(dir.path("none")); }), dir.path("none") + ": no such file");
}

TEST(SafeTensors, MissingFileNamesThePath) {
  try {
    SafeTensorsFile::load("/nonexistent/x.safetensors");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.safetensors"), std::string::npos);
  }
}

TEST(SafeTensors, RejectsEveryTruncation) {
  const auto good = sample_writer().to_bytes();
  // Every proper prefix of a valid file is rejected with a FormatError, never read past its end.
  for (std::size_t n = 0; n < good.size(); ++n) {
    std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_NE(parse_error(cut), "") << "prefix of " << n << " bytes was accepted";
  }
  EXPECT_NE(parse_error({1, 2, 3}).find("shorter than the 8-byte header length"), std::string::npos);
}

TEST(SafeTensors, RejectsOversizedHeaderLength) {
  auto bytes = sample_writer().to_bytes();
  bytes[7] = 0x7f;  // header length ~ 9e18
  EXPECT_NE(parse_error(bytes).find("exceeds"), std::string::npos);
  auto bytes2 = sample_writer().to_bytes();
  bytes2[0] = 0xff; bytes2[1] = 0xff; bytes2[2] = 0x0f;  // ~1 MB: under the limit, past the file
  EXPECT_NE(parse_error(bytes2).find("runs past the end"), std::string::npos);
}

TEST(SafeTensors, RejectsMalformedHeaders) {
  struct Case {
    std::string header;
    std::size_t data;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {R"([1,2])", 0, "JSON object"},
      {R"({"a": )", 0, "not valid JSON"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8, "not valid JSON"},
      {R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", 4, "unknown dtype"},
      {R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, "negative"},
      {R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4, "non-integer"},
      {R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "needs 12 bytes"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, "begin > end"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, "past the data"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8, "two integers"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 8, "overlaps"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, "hole"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8, "after the last tensor"},
      {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", 4, "overflows"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", 4, "unknown field"},
      {R"({"a":5})", 0, "not an object"},
      {R"({"__metadata__":{"k":1}})", 0, "not a string"},
  };
  for (const auto& c : cases) {
    const std::string err = parse_error(raw_file(c.header, c.data));
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.header << " -> " << err;
    EXPECT_EQ(err.rfind("bad.safetensors: ", 0), 0u) << err;  // names the file
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;     // one line
  }
}

TEST(SafeTensors, ForeignFilesAreRejected) {
  // A PNG signature and a JSON document are not safetensors.
  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13};
  EXPECT_NE(parse_error(png), "");
  const std::string text = "{\"hello\": \"world\"}";
  EXPECT_NE(parse_error(std::vector<std::uint8_t>(text.begin(), text.end())), "");
}

TEST(SafeTensors, BitFlipsNeverCrash) {
  const auto good = sample_writer().to_bytes();
  int rejected = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit : {0, 3, 7}) {
      auto bad = good;
      bad[i] ^= static_cast<std::uint8_t>(1u << bit);
      try {
        const auto f = SafeTensorsFile::parse(bad, "flip");
        for (const auto& n : f.names()) (void)f.to_f32(n);  // accepted files stay readable
      } catch (const FormatError&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(SafeTensors, WriterRejectsBadInput) {
  SafeTensorsWriter w;
  EXPECT_THROW(w.add_f32("x", {2, 2}, {1.f, 2.f, 3.f}), FormatError);
  w.add_f32("x", {1}, {1.f});
  EXPECT_THROW(w.add_f32("x", {1}, {1.f}), FormatError);
  EXPECT_THROW(w.add_f32("__metadata__", {1}, {1.f}), FormatError);
  EXPECT_THROW(w.add_f32("", {1}, {1.f}), FormatError);
}

TEST(SafeTensors, EmptyTensorsAndScalars) {
  SafeTensorsWriter w;
  w.add_f32("empty", {0, 4}, {});
  w.add_f32("scalar", {}, {42.f});
  const auto f = SafeTensorsFile::parse(w.to_bytes());
  EXPECT_EQ(f.info("empty").numel(), 0);
  EXPECT_TRUE(f.to_f32("empty").empty());
  EXPECT_EQ(f.to_f32("scalar"), (std::vector<float>{42.f}));
}

}  // namespace dida
