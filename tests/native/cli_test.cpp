// The `dida` CLI as a user runs it: a child process, its output and exit status.
#include <array>
#include <cstdio>
#include <gtest/gtest.h>
#include <string>

#include "dida/native/torch_api.hpp"
#include "dida/version.hpp"

namespace {

struct Result {
  int status;
  std::string output;
};

Result run_cli(const std::string& args) {
  const std::string cmd = std::string(DIDA_CLI_PATH) + " " + args + " 2>&1";
  Result r{-1, {}};
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe)) r.output += buf.data();
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST(Cli, VersionReportsDidaTorchThreadsAndCuda) {
  const Result r = run_cli("--threads 2 --version");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(std::string("dida ") + dida::version()), std::string::npos) << r.output;
  const dida::TorchInfo info = dida_torch_api()->info(2);
  EXPECT_NE(r.output.find("LibTorch " + info.torch_version), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("threads 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CUDA "), std::string::npos) << r.output;
}

TEST(Cli, HelpAndUnknownArguments) {
  const Result help = run_cli("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("disentangled domain adaptation"), std::string::npos) << help.output;
  const Result bad = run_cli("--no-such-flag");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("no-such-flag"), std::string::npos) << bad.output;
}

TEST(TorchApi, ThreadCountIsApplied) {
  const dida::TorchApi* api = dida_torch_api();
  ASSERT_EQ(api->abi_version, dida::kTorchApiVersion);
  EXPECT_EQ(api->info(1).threads, 1);
  EXPECT_EQ(api->info(2).threads, 2);
  EXPECT_FALSE(api->info(0).torch_version.empty());
}
