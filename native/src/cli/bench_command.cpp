// `dida bench`: methods x seeds on a pair, trained (or resumed) and evaluated, as one table.
#include "command.hpp"
#include "dida/native/torch_api.hpp"
#include "torch_loader.hpp"
#include "train_flags.hpp"

namespace dida::cli {
namespace {

class BenchCommand : public Command {
 public:
  void add_to(CLI::App& app) override {
    sub_ = app.add_subcommand("bench", "Methods x seeds on a pair: a results table (Markdown and JSON)");
    flags_.add_to(sub_, {"out"});
    sub_->add_option("--config", config_, "Read options from a TOML/INI file (flags given on the command line win)");
    sub_->add_option("--methods", options_.methods, "Methods to compare")->delimiter(',')->capture_default_str()->group("Bench");
    sub_->add_option("--seeds", options_.seeds, "Seeds")->delimiter(',')->capture_default_str()->group("Bench");
    sub_->add_option("--out", options_.out, "Folder of the runs and the tables")->capture_default_str()->group("Bench");
  }

  int run(int threads) override {
    flags_.apply(options_.base);
    options_.given = flags_.given();
    options_.base.threads = threads;
    for (std::size_t i = 0; i < options_.seeds.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (options_.seeds[i] == options_.seeds[j])
          return usage_error("bench", "--seeds: seed " + std::to_string(options_.seeds[i]) + " is given twice");
    for (const auto& m : options_.methods) {
      try {
        TrainOptions o = options_.base;
        o.method = parse_enum<Method>(m, "--methods: each");
        apply_method_defaults(o, options_.given);
        validate(o);
      } catch (const std::invalid_argument& e) {
        return usage_error("bench", e.what());
      }
    }
    options_.source = options_.base.source;
    options_.target = options_.base.target;
    return torch_api().bench(options_);
  }

 private:
  TrainFlags flags_;
  BenchOptions options_;
  std::string config_;
};

}  // namespace

std::unique_ptr<Command> bench_command() { return std::make_unique<BenchCommand>(); }

}  // namespace dida::cli
