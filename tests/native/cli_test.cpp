// The `dida` CLI as a user runs it: a child process, its output and exit status.
#include <array>
#include <cstdio>
#include <gtest/gtest.h>
#include <string>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dida/image.hpp"
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

TEST(Cli, PredictUsesTheCoreAndReportsJson) {
  const std::string bundle = std::string(DIDA_SOURCE_DIR) + "/tests/fixtures/parity/trained";
  const std::string png = "/tmp/dida-cli-predict.png";
  dida::Image img(32, 32, 3, 0);
  for (int y = 8; y < 24; ++y) img.at(y, 15, 0) = img.at(y, 15, 1) = img.at(y, 15, 2) = 255;
  dida::write_png(png, img);
  const Result text = run_cli("predict " + bundle + " " + png);
  ASSERT_EQ(text.status, 0) << text.output;
  EXPECT_NE(text.output.find(png + ": "), std::string::npos) << text.output;
  const Result json = run_cli("predict --json " + bundle + " " + png);
  ASSERT_EQ(json.status, 0) << json.output;
  const auto j = nlohmann::json::parse(json.output);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["file"], png);
  EXPECT_EQ(j[0]["probs"].size(), 10u);
  EXPECT_EQ(j[0]["logits"].size(), 10u);
  // The label is the arg-max of the probabilities the core computed.
  const auto probs = j[0]["probs"].get<std::vector<float>>();
  EXPECT_EQ(j[0]["class"].get<int>(), std::max_element(probs.begin(), probs.end()) - probs.begin());
  const Result missing = run_cli("predict " + bundle + " /nonexistent.png");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("/nonexistent.png: cannot open file"), std::string::npos) << missing.output;
  const Result bad_bundle = run_cli("predict /tmp " + png);
  EXPECT_NE(bad_bundle.status, 0);
  EXPECT_NE(bad_bundle.output.find("/tmp: not a run or bundle folder"), std::string::npos) << bad_bundle.output;
  std::remove(png.c_str());
}

TEST(Cli, DataListNamesEveryDomainAndItsPackage) {
  const Result r = run_cli("data list");
  ASSERT_EQ(r.status, 0);
  for (const char* d : {"mnist", "mnistm", "syndigits", "optdigits", "fashion", "fashionm", "dataset-fashion-mnist"})
    EXPECT_NE(r.output.find(d), std::string::npos) << d;
  const Result bad = run_cli("data show --source svhn --out /tmp/x.png");
  EXPECT_NE(bad.status, 0);
}

TEST(Cli, TrainReadsAConfigFileAndFlagsWin) {
  const std::string dir = "/tmp/dida-cli-config-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  {
    std::ofstream f(dir + "/train.toml");
    f << "# a dida training recipe\nepochs = 1\nbatch-size = 16\nmax-per-domain = 200\nwidth = 4\n"
         "head-hidden = 8\nmine-hidden = 8\ncache = \"none\"\nlambda-mi = 0.5\niters-per-epoch = 2\n";
  }
  const Result r = run_cli("--threads 1 train --config " + dir + "/train.toml --lambda-mi 0.25 --quiet --out " + dir + "/run");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream recorded(dir + "/run/config.json");
  const auto j = nlohmann::json::parse(recorded)["options"];
  EXPECT_EQ(j["epochs"], 1);
  EXPECT_EQ(j["batch_size"], 16);
  EXPECT_EQ(j["width"], 4);
  EXPECT_DOUBLE_EQ(j["lambda_mi"].get<double>(), 0.25);  // the flag wins over the file
  const Result missing = run_cli("train --config " + dir + "/nope.toml");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("nope.toml: cannot open config file"), std::string::npos) << missing.output;
  std::system(("rm -rf " + dir).c_str());
}
