#pragma once
// The model side by side with the one shown: another bundle of the same pair, run on the same
// samples, its plots under the first's. The rule: it stays only while both show the same pair on
// the same sample set. GL-free; the view draws both models' plots.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "explorer_model.hpp"

namespace dida::web {

class Comparison {
 public:
  // Whether `b` can stand beside `a`: both loaded, the same source and target, as many samples.
  static bool comparable(const ExplorerModel& a, const ExplorerModel& b);
  // Loads the bundle beside `shown` (index: its entry in the page's picker). Returns "" or a
  // one-line error naming `origin`; nothing changes then.
  std::string load(const ExplorerModel& shown, const std::string& config_text, std::vector<std::uint8_t> weights,
                   const std::vector<std::uint8_t>& samples, const std::string& origin, int index);
  // After another model is shown: the one beside goes unless it is still comparable.
  void keep_if_comparable(const ExplorerModel& shown);
  void close() { other_.reset(), index_ = -1; }
  // The model beside (loaded), or null.
  ExplorerModel* model() const { return other_ && other_->loaded() ? other_.get() : nullptr; }
  int index() const { return other_ ? index_ : -1; }

 private:
  std::unique_ptr<ExplorerModel> other_;
  int index_ = -1;
};

}  // namespace dida::web
