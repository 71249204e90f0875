// `dida eval`: accuracies and the disentanglement measures of a run or bundle.
#include "command.hpp"
#include "dida/native/torch_api.hpp"
#include "torch_loader.hpp"

namespace dida::cli {
namespace {

class EvalCommand : public Command {
 public:
  void add_to(CLI::App& app) override {
    sub_ = app.add_subcommand("eval", "Accuracies and disentanglement measures of a run or bundle");
    sub_->add_option("run", options_.path, "Run folder or bundle folder")->required();
    sub_->add_flag("--json", options_.json, "Print JSON");
    sub_->add_option("--cache", options_.cache_dir, "Data cache folder");
  }
  int run(int threads) override {
    options_.threads = threads;
    return torch_api().eval(options_);
  }

 private:
  EvalOptions options_;
};

}  // namespace

std::unique_ptr<Command> eval_command() { return std::make_unique<EvalCommand>(); }

}  // namespace dida::cli
