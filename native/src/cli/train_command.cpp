// `dida train`: a new run from the flags (and --config), or --resume of a run with its recorded options.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "command.hpp"
#include "local_ranks.hpp"
#include "dida/messages.hpp"
#include "dida/native/torch_api.hpp"
#include "serve.hpp"
#include "torch_loader.hpp"
#include "train_flags.hpp"

namespace dida::cli {
namespace {

class TrainCommand : public Command {
 public:
  void add_to(CLI::App& app) override {
    sub_ = app.add_subcommand("train", "Train a model: dida train --source S --target T --method M --seed N --out RUN");
    flags_.add_to(sub_);
    sub_->add_option("--config", config_,
                     "Read options from a TOML/INI file: epochs = 5, lambda-mi = 0.2, ... (flags given on the command line win)");
    resume_ = sub_->add_option("--resume", resume_run_, "Continue the run in this folder (its recorded options are used)")
                  ->group("Run");
    serve_ = sub_->add_option("--serve", serve_port_,
                              "Serve the page and this run while it trains (dida serve; PORT default 8080): "
                              "http://127.0.0.1:PORT/?run=0")
                 ->expected(0, 1)
                 ->default_str("8080")
                 ->check(CLI::Range(0, 65535))
                 ->group("Run");
    sub_->add_option("--nproc", nproc_,
                     "Data-parallel on this machine: N ranks, each a process training its part of every batch "
                     "(c10d, Gloo; the cores shared out unless --threads says per rank; torchrun starts ranks elsewhere)")
        ->check(CLI::Range(1, 256))
        ->group("Run");
  }

  int run(int threads) override {
    if (resume_->count() && resume_run_.empty()) return usage_error("train", "--resume needs a run folder");
    const auto given = flags_.apply(options_);
    options_.threads = threads;
    if (!resume_run_.empty()) {
      // A resumed run trains with its recorded options; only how it runs may be given.
      for (const auto* row : given) {
        if (row->name == "out")
          return usage_error("train", "--resume continues the run in its own folder: give --resume RUN or --out RUN, not both");
        if (row->recorded && row->name != "device")
          return usage_error("train", "--resume continues a run with its recorded options: --" + row->name +
                                          " cannot change it (start a new run with --out instead)");
      }
      options_.out = resume_run_;
    } else {
      apply_method_defaults(options_, flags_.given());
      try {
        validate(options_);
      } catch (const std::invalid_argument& e) {
        return usage_error("train", e.what());
      }
      for (const auto* row : given)
        if (!row->read_by(options_.method))
          std::cerr << "dida train: warning: --" << row->name << " is not read by --method " << name_of(options_.method)
                    << " (ignored)\n";
        else if (!row->takes_effect(options_))
          std::cerr << "dida train: warning: --" << row->name << " has no effect without " << row->needs_what << " (ignored)\n";
    }
    // A rank that torchrun or --nproc started (WORLD_SIZE set) is one rank, whatever --nproc says.
    const bool launcher = nproc_ > 1 && !std::getenv("WORLD_SIZE");
    const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const auto train = [&]() {
      return launcher ? run_local_ranks(nproc_, threads == hardware ? std::max(1, hardware / nproc_) : threads)
                      : torch_api().train(options_, !resume_run_.empty());
    };
    if (!serve_->count()) return train();
    // --serve: the run folder exists before the server does (it serves folders that exist); the
    // server's threads never take Ctrl-C, which stays the training's.
    std::optional<RunningServer> server;
    try {
      std::filesystem::create_directories(options_.out);
      ServeOptions so;
      so.roots.site = (std::filesystem::path(DIDA_SOURCE_DIR) / "build/wasm/site").string();
      so.roots.runs = {options_.out};
      so.port = serve_port_;
      so.quiet = true;
      server.emplace(so, "dida train");
    } catch (const std::exception& e) {
      return usage_error("train", std::string("--serve: ") + describe_error(e));
    }
    std::cerr << "dida train: watch this run at " << server->url() << "?run=0\n";
    const int code = train();
    if (code != 0) return code;  // interrupted, diverged or an error: the server stops with it
    std::cerr << "dida train: still serving " << server->url() << "?run=0 (the run is done). Ctrl-C stops.\n";
    wait_for_stop_signal();
    return 0;
  }

 private:
  TrainFlags flags_;
  TrainOptions options_;
  std::string config_, resume_run_;  // --config is read before parsing (config_file.hpp)
  CLI::Option* resume_ = nullptr;
  CLI::Option* serve_ = nullptr;
  int serve_port_ = 8080;
  int nproc_ = 1;
};

}  // namespace

std::unique_ptr<Command> train_command() { return std::make_unique<TrainCommand>(); }

}  // namespace dida::cli
