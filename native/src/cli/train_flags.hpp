#pragma once
// Every row of the option table (dida/native/options.hpp) as a flag of `train` or `bench`; the same
// names work in a --config file.
#include <CLI/CLI.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "dida/native/options.hpp"

namespace dida::cli {

class TrainFlags {
 public:
  // Adds a flag per row (but those in `except`) to the subcommand.
  void add_to(CLI::App* cmd, const std::set<std::string>& except = {});
  // Writes the flags given into `o`; returns their rows.
  std::vector<const OptionRow*> apply(TrainOptions& o);
  // The names of the flags given (on the command line or in a config file).
  std::set<std::string> given() const;

 private:
  std::map<std::string, std::string> texts_;
  std::map<std::string, bool> bools_;
  std::vector<std::pair<const OptionRow*, CLI::Option*>> given_;
};

}  // namespace dida::cli
