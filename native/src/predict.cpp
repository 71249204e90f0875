#include "predict.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "dida/data.hpp"
#include "dida/image.hpp"
#include "dida/inference.hpp"
#include "dida/messages.hpp"
#include "dida/safetensors.hpp"

namespace dida::cli {

// `dida predict`: the core's forward pass on image files; no LibTorch is loaded.
int predict(const std::string& path, const std::vector<std::string>& images, bool json, int threads) {
  dida::Model model = dida::Model::load(dida::resolve_bundle_dir(path));
  model.set_threads(threads);
  const dida::ModelConfig& c = model.config();
  const auto names = model.class_names();
  nlohmann::json out = nlohmann::json::array();
  int failures = 0;
  for (const auto& file : images) {
    try {
      const dida::Image img = dida::resize_image(dida::convert_channels(dida::load_image(file, 3), c.in_channels),
                                                 c.image_size, c.image_size);
      const auto o = model.forward(dida::pixels_to_input(img.pixels, 1, img.height, img.width, img.channels));
      const dida::Rows &probs = o.rows("probs"), &logits = o.rows("logits");
      const float* p = probs.row(0);
      const int label = static_cast<int>(std::max_element(p, p + probs.d) - p);
      const auto inv = dida::softmax(o.rows("dom_inv").row(0), 2), spe = dida::softmax(o.rows("dom_spe").row(0), 2);
      if (json) {
        out.push_back({{"file", file},
                       {"label", names[static_cast<std::size_t>(label)]},
                       {"class", label},
                       {"probs", std::vector<float>(p, p + probs.d)},
                       {"logits", std::vector<float>(logits.row(0), logits.row(0) + logits.d)},
                       {"domain_inv_target_prob", inv[1]},
                       {"domain_spe_target_prob", spe[1]}});
      } else {
        std::cout << printable(file) << ": " << printable(names[static_cast<std::size_t>(label)]) << " (p=" << std::fixed << std::setprecision(3)
                  << p[label] << ")  domain heads, P(target): invariant " << inv[1] << ", specific " << spe[1] << "\n";
      }
    } catch (const std::exception& e) {
      std::cerr << "dida predict: error: " << describe_error(e) << "\n";
      ++failures;
    }
  }
  if (json) std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return failures ? 1 : 0;
}

// `dida predict BUNDLE --samples FILE`: accuracy per domain on a sample set (the page's), by the core.
int predict_samples(const std::string& path, const std::string& samples_file, bool json, int threads) {
  dida::Model model = dida::Model::load(dida::resolve_bundle_dir(path));
  model.set_threads(threads);
  const dida::SampleSet s = dida::read_sample_set(dida::read_file_bytes(samples_file), samples_file);
  const dida::ModelConfig& c = model.config();
  const std::string shape = dida::sample_shape_mismatch(s, c.image_size, c.in_channels, samples_file);
  if (!shape.empty()) throw std::runtime_error(shape);
  const auto data = model.card().value("data", nlohmann::json::object());
  const std::string mismatch = dida::sample_pair_mismatch(s, data.value("source", ""), data.value("target", ""));
  if (!mismatch.empty()) std::cerr << "dida predict: warning: " << samples_file << ": " << mismatch << "\n";
  const int n = s.images.size();
  int correct[2] = {0, 0}, count[2] = {0, 0};
  std::vector<int> predicted(static_cast<std::size_t>(n));
  // In parts: forward() keeps every map of its batch, which for a whole set would be gigabytes.
  constexpr int kPart = 256;
  const std::size_t per_image = s.images.image_bytes();
  for (int first = 0; first < n; first += kPart) {
    const int m = std::min(kPart, n - first);
    const std::vector<std::uint8_t> part(s.images.pixels.begin() + static_cast<std::ptrdiff_t>(first * per_image),
                                         s.images.pixels.begin() + static_cast<std::ptrdiff_t>((first + m) * per_image));
    const auto o = model.forward(dida::pixels_to_input(part, m, s.images.height, s.images.width, s.images.channels));
    const dida::Rows& probs = o.rows("probs");
    for (int j = 0; j < m; ++j) {
      const float* p = probs.row(j);
      predicted[static_cast<std::size_t>(first + j)] = static_cast<int>(std::max_element(p, p + probs.d) - p);
    }
  }
  for (int i = 0; i < n; ++i) {
    const int dom = s.domains[static_cast<std::size_t>(i)] ? 1 : 0;
    ++count[dom];
    correct[dom] += predicted[static_cast<std::size_t>(i)] == s.images.labels[static_cast<std::size_t>(i)];
  }
  // A domain without images has no accuracy (null in JSON), not 0 %.
  auto acc = [&](int d) { return count[d] ? nlohmann::json(static_cast<double>(correct[d]) / count[d]) : nlohmann::json(); };
  auto text = [&](int d) {
    std::ostringstream t;
    if (count[d]) t << std::fixed << std::setprecision(1) << 100.0 * correct[d] / count[d] << " % of " << count[d];
    else t << "no images";
    return t.str();
  };
  if (json) {
    std::cout << nlohmann::json{{"samples", samples_file}, {"source", s.source}, {"target", s.target}, {"pair_warning", mismatch},
                                {"source_count", count[0]}, {"target_count", count[1]},
                                {"source_accuracy", acc(0)}, {"target_accuracy", acc(1)}, {"predictions", predicted}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << printable(samples_file) << " (" << printable(s.source) << " -> " << printable(s.target) << "): source " << text(0) << ", target " << text(1)
              << "\n";
  }
  return 0;
}

}  // namespace dida::cli
