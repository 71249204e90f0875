// The page's sample sets: held-out images of a pair with labels and domains, one safetensors file.
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "dida/data.hpp"
#include "dida/json_text.hpp"
#include "dida/formats.hpp"
#include "dida/safetensors.hpp"

namespace dida {

void write_sample_set(const DomainPair& p, int n, const std::string& path, int probe_n) {
  const Domain& s = p.source_val;
  const Domain& t = p.target_test;
  SafeTensorsWriter w;
  // Held-out images [from, from + count) of each domain as one block of tensors named prefix*.
  auto block = [&](const std::string& prefix, int from, int count) {
    std::vector<std::uint8_t> images;
    std::vector<std::int64_t> labels, domains;
    auto take = [&](const Domain& d, int domain) {
      for (int i = from; i < std::min(from + count, d.size()); ++i) {
        const auto img = d.image(i);
        images.insert(images.end(), img.pixels.begin(), img.pixels.end());
        labels.push_back(d.labels[static_cast<std::size_t>(i)]);
        domains.push_back(domain);
      }
    };
    take(s, 0);
    take(t, 1);
    const auto total = static_cast<std::int64_t>(labels.size());
    if (total == 0) return std::int64_t{0};
    w.add_u8(prefix + "images", {total, s.height, s.width, s.channels}, images);
    w.add_i64(prefix + "labels", {total}, labels);
    w.add_i64(prefix + "domains", {total}, domains);
    return total;
  };
  block("", 0, n);
  if (probe_n > 0) w.set_metadata("probe_images", std::to_string(block("probe_", n, probe_n)));
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
  if (info.shape[0] == 0) throw std::runtime_error(origin + ": holds no images");
  if (info.shape[0] > kMaxSampleSetImages)
    throw std::runtime_error(origin + ": " + std::to_string(info.shape[0]) + " images, more than the " +
                             std::to_string(kMaxSampleSetImages) + " a sample set may hold");
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
    d.classes = parse_json(f.metadata_or("classes", "[]"), origin + ": metadata \"classes\"").get<std::vector<std::string>>();
  } catch (const std::exception&) {
    throw std::runtime_error(origin + ": metadata \"classes\" is not a JSON list of names");
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < -1 || labels[i] >= static_cast<std::int64_t>(d.classes.size()))
      throw std::runtime_error(origin + ": label " + std::to_string(labels[i]) + " out of range");
    d.labels.push_back(static_cast<std::int32_t>(labels[i]));
    d.origin.push_back(static_cast<std::int32_t>(i));
    out.domains.push_back(static_cast<std::int32_t>(domains[i]));
  }
  // The probes' own images, when the file has them: the shown images' size and classes.
  if (f.contains("probe_images")) {
    for (const char* name : {"probe_labels", "probe_domains"})
      if (!f.contains(name)) throw std::runtime_error(origin + ": missing tensor \"" + name + "\"");
    const TensorInfo& pi = f.info("probe_images");
    if (pi.shape.size() != 4 || pi.shape[1] != info.shape[1] || pi.shape[2] != info.shape[2] || pi.shape[3] != info.shape[3])
      throw std::runtime_error(origin + ": probe_images are not of the images' size");
    if (info.shape[0] + pi.shape[0] > kMaxSampleSetImages)
      throw std::runtime_error(origin + ": " + std::to_string(info.shape[0] + pi.shape[0]) + " images, more than the " +
                               std::to_string(kMaxSampleSetImages) + " a sample set may hold");
    Domain& q = out.probe_images;
    q.name = d.name + " (probes)", q.height = d.height, q.width = d.width, q.channels = d.channels, q.classes = d.classes;
    q.pixels = f.to_u8("probe_images");
    const auto pl = f.to_i64("probe_labels"), pd = f.to_i64("probe_domains");
    if (static_cast<std::int64_t>(pl.size()) != pi.shape[0] || pl.size() != pd.size())
      throw std::runtime_error(origin + ": probe_images, probe_labels and probe_domains differ in count");
    for (std::size_t i = 0; i < pl.size(); ++i) {
      if (pl[i] < 0 || pl[i] >= static_cast<std::int64_t>(d.classes.size()) || (pd[i] != 0 && pd[i] != 1))
        throw std::runtime_error(origin + ": probe image " + std::to_string(i) + " has a label or domain out of range");
      q.labels.push_back(static_cast<std::int32_t>(pl[i]));
      q.origin.push_back(static_cast<std::int32_t>(i));
      out.probe_domains.push_back(static_cast<std::int32_t>(pd[i]));
    }
  }
  return out;
}

std::string sample_shape_mismatch(const SampleSet& s, int image_size, int in_channels, const std::string& origin) {
  const Domain& d = s.images;
  if (d.height == image_size && d.width == image_size && d.channels == in_channels) return "";
  return origin + ": images are " + std::to_string(d.height) + "x" + std::to_string(d.width) + "x" + std::to_string(d.channels) +
         ", the model expects " + std::to_string(image_size) + "x" + std::to_string(image_size) + "x" + std::to_string(in_channels);
}

std::string sample_pair_mismatch(const SampleSet& s, const std::string& model_source, const std::string& model_target) {
  if (model_source.empty() || (s.source == model_source && s.target == model_target)) return "";
  return "the samples are " + s.source + " -> " + s.target + " images, the model was trained on " + model_source + " -> " +
         model_target + ": its accuracies here are not those of its card";
}

}  // namespace dida
