#pragma once
// `train --config FILE` / `bench --config FILE`: a TOML/INI file of the same options as the flags.
#include <string>
#include <vector>

namespace dida::cli {

// argv with the file's key = value pairs inserted as flags before the command line's own, so that
// flags given on the command line win. Booleans become --name=true|false. Throws naming the file.
std::vector<std::string> expand_config(int argc, char** argv);

}  // namespace dida::cli
