// Benchmark pairs: the four splits of a pair, built deterministically, and their cache files; and
// a pair written out as image folders.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "dida/data.hpp"
#include "dida/json_text.hpp"
#include "dida/formats.hpp"
#include "dida/rng.hpp"
#include "dida/safetensors.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

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
  const auto names = [&](const char* key) {
    try {
      return parse_json(f.metadata_or(key, "[]"), path).get<std::vector<std::string>>();
    } catch (const std::exception&) {
      throw std::runtime_error(path + ": metadata \"" + key + "\" is not a JSON list of names");
    }
  };
  const auto src_classes = names("source_classes"), tgt_classes = names("target_classes");
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
  // --max-per-domain holds for folder: and idx: domains too: a seeded draw of that many images.
  Rng cap_rng = Rng(o.seed).fork("user-domain-cap");
  for (auto [d, spec] : {std::pair<Domain*, const DomainSpec*>{&sd, &s}, {&td, &t}}) {
    if (spec->kind == DomainSpec::Kind::Builtin || d->size() <= o.max_per_domain) continue;
    std::vector<int> keep = permutation(d->size(), cap_rng);
    keep.resize(static_cast<std::size_t>(o.max_per_domain));
    std::sort(keep.begin(), keep.end());
    *d = d->subset(keep);
  }
  // An unlabelled target (idx: without LABELS) has no classes of its own: it takes the source's.
  if (td.classes.empty() && std::count(td.labels.begin(), td.labels.end(), -1) == td.size()) td.classes = sd.classes;

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

void check_export_folder(const std::string& dir) {
  std::error_code ec;
  const auto st = fs::symlink_status(dir, ec);
  if (ec || st.type() == fs::file_type::not_found) return;
  if (st.type() != fs::file_type::directory)
    throw std::runtime_error(dir + ": exists and is not a folder; choose a new --out folder");
  if (!fs::is_empty(dir, ec))
    throw std::runtime_error(dir + ": is not empty; dida exports only into a new or empty folder (nothing of yours is overwritten): choose another --out");
}

int export_pair(const DomainPair& p, const std::string& dir) {
  check_export_folder(dir);
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

std::string default_cache_dir() {
  if (const char* d = std::getenv("DIDA_CACHE"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/dida";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/dida";
  return ".dida-cache";
}

}  // namespace dida
