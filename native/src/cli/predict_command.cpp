// `dida predict`: the core's forward pass (no LibTorch) on image files or on a sample set.
#include "command.hpp"
#include "predict.hpp"

namespace dida::cli {
namespace {

class PredictCommand : public Command {
 public:
  void add_to(CLI::App& app) override {
    sub_ = app.add_subcommand("predict", "Classify image files with a bundle (core forward pass, no LibTorch)");
    sub_->add_option("bundle", bundle_, "Bundle folder (or run folder)")->required();
    auto* images = sub_->add_option("images", images_, "PNG / JPEG / BMP files");
    sub_->add_option("--samples", samples_, "A sample set (dida data samples): accuracy per domain instead")->excludes(images);
    sub_->add_flag("--json", json_, "One JSON object per image: file, label, probs, logits, domain heads");
  }
  int run(int threads) override {
    if (!samples_.empty()) return predict_samples(bundle_, samples_, json_, threads);
    if (images_.empty()) return usage_error("predict", "give image files or --samples FILE (see dida predict --help)");
    return predict(bundle_, images_, json_, threads);
  }

 private:
  std::string bundle_, samples_;
  std::vector<std::string> images_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> predict_command() { return std::make_unique<PredictCommand>(); }

}  // namespace dida::cli
