#include "config_file.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "dida/messages.hpp"
#include "dida/safetensors.hpp"

namespace dida::cli {

constexpr std::uint64_t kMaxConfigBytes = 1 << 20;  // 1 MiB: a config is a few lines

// `train --config FILE` / `bench --config FILE`: the file's key = value pairs become options placed
// before the command line's own, so that flags given on the command line win.
std::vector<std::string> expand_config(int argc, char** argv) {
  std::vector<std::string> in(argv, argv + argc), out;
  std::size_t sub = in.size();
  for (std::size_t i = 1; i < in.size(); ++i)
    if (in[i] == "train" || in[i] == "bench") {
      sub = i;
      break;
    }
  std::string file;
  for (std::size_t i = sub + 1; i < in.size(); ++i) {
    if (in[i] == "--config" && i + 1 < in.size()) file = in[i + 1];
    if (in[i].rfind("--config=", 0) == 0) file = in[i].substr(9);
  }
  if (file.empty()) return in;
  // Names a folder, a FIFO, a missing file or one far larger than a config: an error before reading.
  const auto bytes = dida::read_file_bytes(file, kMaxConfigBytes, "a config file");
  // A binary file (or one with terminal controls) is refused by name, never echoed back; tabs and
  // line ends are what a text file holds, so they are left out of the check.
  std::string text(bytes.begin(), bytes.end()), checked;
  for (char c : text)
    if (c != '\n' && c != '\r' && c != '\t') checked += c;
  if (printable(checked) != checked)
    throw std::runtime_error(file + ": not a text file (a config holds lines of key = value, UTF-8)");
  std::istringstream stream(text);
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_config(stream);
  } catch (const std::exception& e) {
    throw std::runtime_error(file + ": " + e.what());
  }
  out.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(sub) + 1);
  for (const auto& item : items) {
    if (item.name == "++" || item.name == "--" || item.name.empty()) continue;  // section markers
    std::string name = item.name;
    std::replace(name.begin(), name.end(), '_', '-');
    if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
      throw std::runtime_error(file + ": \"" + name + "\" is not an option name (lower-case letters, digits and -, as the flags)");
    if (item.inputs.size() == 1 && (item.inputs[0] == "true" || item.inputs[0] == "false")) {
      out.push_back("--" + name + "=" + item.inputs[0]);
      continue;
    }
    out.push_back("--" + name);
    for (const auto& v : item.inputs) out.push_back(v);
  }
  out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(sub) + 1, in.end());
  return out;
}

}  // namespace dida::cli
