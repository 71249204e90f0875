#include "comparison.hpp"

namespace dida::web {
namespace {
std::string pair_of(const ExplorerModel& m) {
  const auto d = m.model().card().value("data", nlohmann::json::object());
  return d.value("source", "") + ">" + d.value("target", "");
}
}  // namespace

bool Comparison::comparable(const ExplorerModel& a, const ExplorerModel& b) {
  return a.loaded() && b.loaded() && pair_of(a) == pair_of(b) && a.samples().images.size() == b.samples().images.size();
}

std::string Comparison::load(const ExplorerModel& shown, const std::string& config_text, std::vector<std::uint8_t> weights,
                             const std::vector<std::uint8_t>& samples, const std::string& origin, int index) {
  auto other = std::make_unique<ExplorerModel>();
  const std::string error = other->load(config_text, std::move(weights), samples, origin);
  if (!error.empty()) return error;
  if (!comparable(shown, *other)) return origin + ": another pair or sample set than the model shown";
  other_ = std::move(other), index_ = index;
  return "";
}

void Comparison::keep_if_comparable(const ExplorerModel& shown) {
  if (other_ && !comparable(shown, *other_)) close();
}

}  // namespace dida::web
