#pragma once
// A subcommand of `dida`: it registers its options on the app and runs when parsed. main.cpp holds
// the list (commands()); each command lives in its own file.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace dida::cli {

class Command {
 public:
  virtual ~Command() = default;
  // Adds the subcommand (and its options) to the app; keeps what it needs to tell if it was parsed.
  virtual void add_to(CLI::App& app) = 0;
  virtual bool parsed() const { return sub_ && sub_->parsed(); }
  // Runs it; returns the exit code (2 for a usage error). `threads`: the global --threads.
  virtual int run(int threads) = 0;

 protected:
  CLI::App* sub_ = nullptr;
};

std::unique_ptr<Command> train_command();
std::unique_ptr<Command> eval_command();
std::unique_ptr<Command> bench_command();
std::unique_ptr<Command> export_command();
std::unique_ptr<Command> predict_command();
std::unique_ptr<Command> data_command();
std::unique_ptr<Command> serve_command();

// "dida COMMAND: error: WHAT" on stderr; returns 2, a usage error's exit code.
int usage_error(const std::string& command, const std::string& what);

// Checks a number given on the command line without CLI11's own range text ("0 to 1.8e308").
extern const CLI::Validator kNonNegative, kPositive;

}  // namespace dida::cli
