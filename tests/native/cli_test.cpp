// The `dida` CLI as a user runs it: a child process, its output and exit status.
#include <array>
#include <chrono>
#include <cstdio>
#include <gtest/gtest.h>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>
#include <nlohmann/json.hpp>

#include "dida/data.hpp"
#include "dida/image.hpp"
#include "dida/safetensors.hpp"
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
  EXPECT_NE(missing.output.find("/nonexistent.png: no such file"), std::string::npos) << missing.output;
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
  const std::string png = "/tmp/dida-cli-unknown-" + std::to_string(::getpid()) + ".png";
  std::remove(png.c_str());
  const Result bad = run_cli("data show --source svhn --out " + png);
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("svhn"), std::string::npos) << bad.output;  // the message names what is unknown
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
  EXPECT_FALSE(std::ifstream(png).good()) << "nothing is written for an unknown domain";
}

TEST(Cli, TrainReadsAConfigFileAndFlagsWin) {
  const std::string dir = "/tmp/dida-cli-config-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  {
    std::ofstream f(dir + "/train.toml");
    f << "# a dida training recipe\nepochs = 1\nbatch-size = 16\nmax-per-domain = 200\nwidth = 4\n"
         "head-hidden = 8\nmine-hidden = 8\ncache = \"none\"\nlambda-mi = 0.5\niters-per-epoch = 2\n"
         "progressive = true\naugment-source = false\n";  // booleans, both ways
  }
  const Result r = run_cli("--threads 1 train --config " + dir + "/train.toml --lambda-mi 0.25 --quiet --out " + dir + "/run");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream recorded(dir + "/run/config.json");
  const auto j = nlohmann::json::parse(recorded)["options"];
  EXPECT_EQ(j["epochs"], 1);
  EXPECT_EQ(j["batch_size"], 16);
  EXPECT_EQ(j["width"], 4);
  EXPECT_DOUBLE_EQ(j["lambda_mi"].get<double>(), 0.25);  // the flag wins over the file
  EXPECT_EQ(j["progressive"], true);
  EXPECT_EQ(j["augment_source"], false);
  const Result missing = run_cli("train --config " + dir + "/nope.toml");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("nope.toml: no such file"), std::string::npos) << missing.output;
  std::system(("rm -rf " + dir).c_str());
}

namespace {
std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
// Whether a folder holds a temporary of an atomic write (NAME.tmp-XXXXXX).
bool holds_temporary(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().find(".tmp") != std::string::npos) return true;
  return false;
}
const char* kTinyTrain =
    " --source mnist --target mnistm --max-per-domain 200 --width 4 --head-hidden 8 --mine-hidden 8 --cache none"
    " --batch-size 16 --quiet";
}  // namespace

// --profile: the table of where the steps' time went, one row per operator, counted over exactly
// the steps the run took (not the epoch's evaluation), and not recorded as a training option.
TEST(Cli, AProfileTablesTheStepsOperators) {
  const std::string dir = "/tmp/dida-cli-profile-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const Result r = run_cli(std::string("--threads 1 train") + kTinyTrain + " --epochs 1 --iters-per-epoch 3 --replay 0 --profile " +
                           dir + "/profile.json --out " + dir + "/run");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("profile: 3 steps"), std::string::npos) << r.output;
  const auto p = nlohmann::json::parse(slurp(dir + "/profile.json"));
  EXPECT_EQ(p["steps"], 3);
  EXPECT_EQ(p["threads"], 1);
  double self = 0, prev = 1e18;
  std::map<std::string, double> calls;
  for (const auto& o : p["operators"]) {
    const double ms = o["self_ms_per_step"].get<double>();
    EXPECT_LE(ms, prev + 1e-9) << "sorted by own time";
    EXPECT_LE(ms, o["total_ms_per_step"].get<double>() + 1e-9);
    prev = ms, self += ms;
    calls[o["name"].get<std::string>()] = o["calls_per_step"].get<double>();
  }
  EXPECT_NEAR(self, p["operators_ms_per_step"].get<double>(), 1e-6);
  EXPECT_LE(self, p["step_ms"].get<double>());  // own times do not overlap: their sum fits in the step
  ASSERT_TRUE(calls.count("aten::convolution_backward")) << p.dump();
  EXPECT_GT(calls["aten::convolution_backward"], 0);
  EXPECT_EQ(nlohmann::json::parse(slurp(dir + "/run/config.json"))["options"].count("profile"), 0u);
  for (const std::string& where : {dir, dir + "/nope/profile.json"}) {  // refused before training: no run folder
    const Result bad = run_cli(std::string("--threads 1 train") + kTinyTrain + " --epochs 1 --iters-per-epoch 1 --profile " + where +
                               " --out " + dir + "/run2");
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.output.find("--profile " + where + ": "), std::string::npos) << bad.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/run2"));
  }
  std::system(("rm -rf " + dir).c_str());
}

// An option the run would ignore is named: one the method does not read, or one without the
// option it needs; the loss registry reads the same condition (the term stays off).
TEST(Cli, OptionsThatARunWouldIgnoreAreNamed) {
  const std::string dir = "/tmp/dida-cli-ignored-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string train = "--threads 1 train" + std::string(kTinyTrain) + " --epochs 1 --iters-per-epoch 1 --replay 0";
  const Result dann = run_cli(train + " --method dann --lambda-mi 0.5 --out " + dir + "/dann");
  ASSERT_EQ(dann.status, 0) << dann.output;
  EXPECT_NE(dann.output.find("warning: --lambda-mi is not read by --method dann (ignored)"), std::string::npos) << dann.output;
  const Result plain = run_cli(train + " --lambda-stats 1 --decoder-style none --out " + dir + "/plain");
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_NE(plain.output.find("warning: --lambda-stats has no effect without --decoder-style adain (ignored)"), std::string::npos)
      << plain.output;
  const Result adain = run_cli(train + " --lambda-stats 1 --variant style --decoder-style adain --out " + dir + "/adain");
  ASSERT_EQ(adain.status, 0) << adain.output;
  EXPECT_EQ(adain.output.find("warning"), std::string::npos) << adain.output;
  const auto stats = [&](const std::string& run) {
    return nlohmann::json::parse(slurp(dir + "/" + run + "/log.jsonl"))["losses"]["stats"].get<double>();
  };
  EXPECT_EQ(stats("plain"), 0.0) << "L_stats off without the AdaIN output";
  EXPECT_GT(stats("adain"), 0.0);
  std::system(("rm -rf " + dir).c_str());
}

// The project's configuration is read as a run records it (each run trains one iteration), and a
// dida run takes dida's split (the method's own defaults) where no option says otherwise; the
// other methods keep theirs, and a flag given wins.
TEST(Cli, TheShippedConfigurationTrainsAndDidaTakesItsSplit) {
  const std::string dir = "/tmp/dida-cli-configs-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const auto train = [&](const std::string& name, const std::string& flags) {
    const std::string run = dir + "/" + name;
    const Result r = run_cli("--threads 1 train --config " + std::string(DIDA_SOURCE_DIR) +
                             "/configs/small.toml --max-per-domain 200 --cache none --epochs 1 --iters-per-epoch 1 --replay 0 --quiet --out " +
                             run + " " + flags);
    EXPECT_EQ(r.status, 0) << name << ": " << r.output;
    EXPECT_EQ(r.output.find("warning"), std::string::npos) << name << ": every option takes effect: " << r.output;
    return nlohmann::json::parse(slurp(run + "/config.json"))["options"];
  };
  const auto dida = train("dida", "--method dida --erasure-retrain-iters 2");
  EXPECT_EQ(dida["width"], 8);
  EXPECT_EQ(dida["epochs"], 1) << "the flag wins over the file";
  EXPECT_EQ(dida["variant"], "style");
  EXPECT_EQ(dida["style_encoder"], "pointwise");
  EXPECT_EQ(dida["decoder_style"], "adain");
  EXPECT_EQ(dida["lambda_stats"], 1.0);
  EXPECT_EQ(dida["erase_domain_mean"], true);
  EXPECT_EQ(dida["erase_directions"], 8);
  EXPECT_EQ(dida["erasure_retrain_iters"], 2) << "given: it wins over dida's 250";
  const auto dann = train("dann", "--method dann");
  EXPECT_EQ(dann["variant"], "branch");
  EXPECT_EQ(dann["decoder_style"], "none");
  EXPECT_EQ(dann["erase_domain_mean"], false);
  EXPECT_EQ(dann["erasure_retrain_iters"], 0);
  const auto branch = train("branch", "--method dida --variant branch --no-erase-domain-mean");
  EXPECT_EQ(branch["variant"], "branch") << "given: it wins over dida's default";
  EXPECT_EQ(branch["erase_domain_mean"], false);
  EXPECT_EQ(branch["decoder_style"], "adain") << "what is not given is still dida's";
  std::system(("rm -rf " + dir).c_str());
}

// Hostile and careless input: one line naming the file, a non-zero exit, nothing of the user's changed.
TEST(Cli, BadInputIsRefusedWithoutHarm) {
  const std::string dir = "/tmp/dida-cli-hostile-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir + "/folder " + dir + "/mine").c_str());
  auto refused = [&](const std::string& args, const std::string& expect) {
    const Result r = run_cli(args);
    EXPECT_TRUE(r.status == 1 || r.status == 2) << args << " -> " << r.status << ": " << r.output;
    EXPECT_NE(r.output.find(expect), std::string::npos) << args << ": " << r.output;
  };
  refused("train --config " + dir + "/folder", dir + "/folder: is a folder, not a file");
  refused("train --seed -1 --out " + dir + "/r", "--seed");
  refused("train --iters-per-epoch -3 --out " + dir + "/r", "--iters-per-epoch");
  // A run far beyond the machine's memory is refused before anything is allocated or written.
  refused("--threads 1 train --width 512 --batch-size 4096 --out " + dir + "/huge", "GB of memory (--batch-size 4096, --width 512");
  EXPECT_FALSE(std::filesystem::exists(dir + "/huge"));
  refused("predict " + dir + "/folder " + dir + "/folder", "not a run or bundle folder");
  // --out at a folder of the user's own: refused, their config.json untouched.
  { std::ofstream(dir + "/mine/config.json") << "{\"mine\": true}\n"; }
  refused("--threads 1 train" + std::string(kTinyTrain) + " --out " + dir + "/mine", dir + "/mine: is not empty (it holds config.json)");
  EXPECT_EQ(slurp(dir + "/mine/config.json"), "{\"mine\": true}\n");
  // A bundle whose class_names is too short: an error, not a crash.
  const std::string fixture = std::string(DIDA_SOURCE_DIR) + "/tests/fixtures/parity/trained";
  std::system(("cp -r " + fixture + " " + dir + "/bundle").c_str());
  auto card = nlohmann::json::parse(slurp(dir + "/bundle/config.json"));
  const std::string png = dir + "/digit.png";
  dida::write_png(png, dida::Image(32, 32, 3, 40));
  card["class_names"] = nlohmann::json::array({"zero", "one"});
  { std::ofstream(dir + "/bad-names.json") << card.dump(); }
  std::system(("mkdir -p " + dir + "/bad && cp " + dir + "/bundle/model.safetensors " + dir + "/bad/ && cp " + dir +
               "/bad-names.json " + dir + "/bad/config.json").c_str());
  refused("predict --json " + dir + "/bad " + png, "\"class_names\" must be 10 strings");
  // A binary --config is refused by name, not echoed; a file name with terminal controls is printed
  // escaped, on one line.
  { std::ofstream(dir + "/binary.toml", std::ios::binary) << std::string("epochs = 3\n\x7f" "ELF\0\x1b[2J\x01", 16); }
  const Result bin = run_cli("train --config " + dir + "/binary.toml");
  EXPECT_EQ(bin.status, 2) << bin.output;  // a usage error
  EXPECT_NE(bin.output.find("binary.toml: not a text file"), std::string::npos) << bin.output;
  EXPECT_EQ(bin.output.find('\x1b'), std::string::npos) << "nothing of the file reaches the terminal";
  const std::string forged = dir + "/a\x1b[31mred\nforged.png";
  dida::write_png(forged, dida::Image(32, 32, 3, 40));
  const Result esc = run_cli("predict " + fixture + " '" + forged + "'");
  EXPECT_EQ(esc.status, 0) << esc.output;
  EXPECT_NE(esc.output.find("a\\x1B[31mred\\x0Aforged.png: "), std::string::npos) << esc.output;
  EXPECT_EQ(esc.output.find('\x1b'), std::string::npos) << esc.output;
  // Weights of 3e38 pass every check of the file but overflow: predict and eval refuse the bundle.
  std::system(("cp -r " + std::string(DIDA_SOURCE_DIR) + "/models/mnist-mnistm-dida " + dir + "/huge-weights").c_str());
  {
    const auto f = dida::SafeTensorsFile::load(dir + "/huge-weights/model.safetensors");
    dida::SafeTensorsWriter w;
    for (const auto& name : f.names()) {
      auto v = f.to_f32(name);
      if (name == "classifier.fc1.weight")
        for (auto& x : v) x = 3e38f;
      w.add_f32(name, f.info(name).shape, v);
    }
    w.set_metadata("format", "dida-bundle");
    w.save(dir + "/huge-weights/model.safetensors");
  }
  refused("predict " + dir + "/huge-weights " + png, "huge-weights: the model's output logits is not finite");
  refused("--threads 1 eval " + dir + "/huge-weights", "huge-weights: the model's output logits is not finite");
  // A bundle that does not record its pair is not scored on the default pair.
  refused("--threads 1 eval " + dir + "/bundle", "does not record the pair it was trained on");
#ifdef DIDA_HAVE_ONNX
  // export --out elsewhere writes the file there and leaves the bundle's record alone.
  const std::string before = slurp(dir + "/bundle/config.json");
  const Result ex = run_cli("export " + dir + "/bundle --out " + dir + "/copy.onnx");
  ASSERT_EQ(ex.status, 0) << ex.output;
  EXPECT_EQ(slurp(dir + "/bundle/config.json"), before) << "the bundle's config.json must not change";
  // The file written elsewhere is the one the bundle's own export writes.
  std::system(("cp -r " + fixture + " " + dir + "/again").c_str());
  const Result own = run_cli("export " + dir + "/again");
  ASSERT_EQ(own.status, 0) << own.output;
  const std::string copy = slurp(dir + "/copy.onnx");
  EXPECT_GT(copy.size(), 1000u);
  EXPECT_EQ(copy, slurp(dir + "/again/model.onnx"));
#endif
  std::system(("rm -rf " + dir).c_str());
}

// Writes never go through a planted link, replace a special file or land in a folder that is not
// the command's own: export's temporary, --out at a FIFO, data export into a user's folder, and
// --resume of a bundle (no .lock or checkpoint written into it).
TEST(Cli, WritesGoOnlyWhereTheyBelong) {
  const std::string dir = "/tmp/dida-cli-links-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir + "/mine").c_str());
  auto refused = [&](const std::string& args, const std::string& expect) {
    const Result r = run_cli(args);
    EXPECT_TRUE(r.status == 1 || r.status == 2) << args << " -> " << r.status << ": " << r.output;
    EXPECT_NE(r.output.find(expect), std::string::npos) << args << ": " << r.output;
  };
  const std::string fixture = std::string(DIDA_SOURCE_DIR) + "/tests/fixtures/parity/trained";
  std::system(("cp -r " + fixture + " " + dir + "/bundle").c_str());
  // --resume of a bundle: refused, and nothing written into it.
  refused("--threads 1 train --resume " + dir + "/bundle", "not a run folder");
  EXPECT_FALSE(std::filesystem::exists(dir + "/bundle/.lock"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/bundle/checkpoint.pt"));
  refused("--threads 1 train --resume " + dir + "/bundle --out " + dir + "/elsewhere", "not both");
  // data export into a folder holding a file of the user's: refused before the pair is built.
  { std::ofstream(dir + "/mine/notes.txt") << "mine\n"; }
  refused("data export --source mnist --target mnistm --out " + dir + "/mine", dir + "/mine: is not empty");
  EXPECT_EQ(slurp(dir + "/mine/notes.txt"), "mine\n");
  // A FIFO as --out: refused by name, still a FIFO.
  const std::string fifo = dir + "/pipe.png";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  refused("data show --source mnist --target mnistm --max-per-domain 50 --cache none --out " + fifo, "not a regular file");
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
#ifdef DIDA_HAVE_ONNX
  // A link planted at the old fixed temporary name: export writes its own file, the victim stays.
  { std::ofstream(dir + "/victim.txt") << "victim\n"; }
  std::filesystem::create_symlink(dir + "/victim.txt", dir + "/bundle/model.onnx.tmp");
  const Result ex = run_cli("export " + dir + "/bundle");
  ASSERT_EQ(ex.status, 0) << ex.output;
  EXPECT_EQ(slurp(dir + "/victim.txt"), "victim\n");
  EXPECT_FALSE(std::filesystem::is_symlink(dir + "/bundle/model.onnx"));
  EXPECT_GT(std::filesystem::file_size(dir + "/bundle/model.onnx"), 1000u);
#endif
  std::system(("rm -rf " + dir).c_str());
}

// A second signal ends the run at once (a user who presses Ctrl-C twice, a scheduler that sends
// SIGTERM again): no waiting for the iteration's end, no checkpoint half-written; --resume still
// starts from the folder. Iterations of 512 images at width 32 take seconds here.
TEST(Cli, ASecondSignalStopsAtOnce) {
  const std::string dir = "/tmp/dida-cli-sig2-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string run = dir + "/run";
  const std::string script =
      std::string(DIDA_CLI_PATH) + " --threads 1 train --source mnist --target mnistm --max-per-domain 600 --width 32 --cache none" +
      " --batch-size 512 --epochs 1 --iters-per-epoch 50 --quiet --out " + run + " > " + dir + "/out.txt 2>&1" +
      " & p=$!; for i in $(seq 600); do [ -s " + run + "/config.json ] && break; sleep 0.1; done; sleep 2; " +
      "kill -TERM $p; sleep 0.2; kill -TERM $p; wait $p; exit $?";
  const auto t0 = std::chrono::steady_clock::now();
  const int status = std::system(("bash -c '" + script + "'").c_str());
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string out = slurp(dir + "/out.txt");
  EXPECT_NE(out.find("stopped at once"), std::string::npos) << out;
  EXPECT_EQ(out.find("checkpoint saved"), std::string::npos) << out;
  EXPECT_LT(took, 120.0);
  const Result resumed = run_cli("--threads 1 train --quiet --stop-after-iters 1 --resume " + run);
  EXPECT_EQ(resumed.status, 130) << resumed.output;  // it starts again, and stops after one iteration
  EXPECT_FALSE(holds_temporary(run));
  std::system(("rm -rf " + dir).c_str());
}

// SIGTERM stops a training as Ctrl-C does: a checkpoint, exit 130, and --resume finishes it.
TEST(Cli, SigintAndSigtermLeaveACheckpointThatResumes) {
  for (const char* sig : {"INT", "TERM"}) {
    const std::string dir = "/tmp/dida-cli-sig-" + std::string(sig) + std::to_string(::getpid());
    std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
    const std::string run = dir + "/run";
    // Ctrl-C in a terminal sends SIGINT to the process; a job scheduler or `kill` sends SIGTERM.
    const std::string script = std::string(DIDA_CLI_PATH) + " --threads 1 train" + kTinyTrain + " --epochs 2 --iters-per-epoch 150 --out " +
                               run + " & p=$!; for i in $(seq 600); do [ -s " + run + "/config.json ] && break; sleep 0.1; done; sleep 1; " +
                               "kill -" + sig + " $p; wait $p; exit $?";
    const int status = std::system(("bash -c '" + script + "'").c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130) << sig;
    EXPECT_TRUE(std::ifstream(run + "/checkpoint.pt").good()) << sig << ": a checkpoint was written";
    EXPECT_FALSE(holds_temporary(run));
    EXPECT_FALSE(std::ifstream(run + "/bundle/model.safetensors").good()) << sig << ": stopped before the end";
    // --resume finishes the run from there, with a bundle and a log line per epoch.
    const Result resumed = run_cli("--threads 1 train --quiet --resume " + run);
    ASSERT_EQ(resumed.status, 0) << resumed.output;
    EXPECT_TRUE(std::ifstream(run + "/bundle/model.safetensors").good()) << sig;
    const std::string log = slurp(run + "/log.jsonl");
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;
    std::system(("rm -rf " + dir).c_str());
  }
}

// kill -9 at random moments, again and again: every time, --resume (or a fresh start when the run
// had not written its config yet) carries on, and the run ends with a readable bundle and one log
// line per epoch.
TEST(Cli, KillNineAtAnyMomentLeavesARunThatResumes) {
  const std::string dir = "/tmp/dida-cli-kill-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string run = dir + "/run";
  const std::string train = std::string(DIDA_CLI_PATH) + " --threads 1 train" + kTinyTrain + " --epochs 3 --iters-per-epoch 25 --out " + run;
  const std::string resume = std::string(DIDA_CLI_PATH) + " --threads 1 train --quiet --resume " + run;
  std::srand(static_cast<unsigned>(::getpid()));
  int kills = 0;
  for (int k = 0; k < 8; ++k) {
    const bool started = std::ifstream(run + "/config.json").good();
    const int ms = 200 + std::rand() % 2500;
    const std::string script = (started ? resume : train) + " > /dev/null 2>&1 & p=$!; sleep " + std::to_string(ms / 1000.0) +
                               "; kill -9 $p 2>/dev/null && echo killed; wait $p 2>/dev/null; true";
    FILE* pipe = popen(("bash -c '" + script + "'").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::array<char, 64> buf{};
    if (std::fgets(buf.data(), buf.size(), pipe) && std::string(buf.data()).rfind("killed", 0) == 0) ++kills;
    pclose(pipe);
    if (std::ifstream(run + "/bundle/model.safetensors").good()) break;
  }
  EXPECT_GT(kills, 0) << "no run was killed: the test would prove nothing";
  if (!std::ifstream(run + "/bundle/model.safetensors").good()) {
    const Result r = run_cli(std::ifstream(run + "/config.json").good() ? "--threads 1 train --quiet --resume " + run
                                                                         : "--threads 1 train" + std::string(kTinyTrain) + " --epochs 3 --iters-per-epoch 25 --out " + run);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  const Result p = run_cli("predict --json " + run + " " + std::string(DIDA_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_image/gradient.png");
  EXPECT_EQ(p.status, 0) << p.output;
  std::ifstream log(run + "/log.jsonl");
  std::vector<int> epochs;
  for (std::string line; std::getline(log, line);) epochs.push_back(nlohmann::json::parse(line)["epoch"].get<int>());
  EXPECT_EQ(epochs, (std::vector<int>{1, 2, 3})) << "one log line per epoch, in order";
  std::system(("rm -rf " + dir).c_str());
}

// --cache none means no cache (not a folder named "none"); a sample set of another pair is used,
// with a warning; a full disk while a checkpoint is written is an error that names the file.
TEST(Cli, CacheNoneForeignSamplesAndAFullDisk) {
  const std::string dir = "/tmp/dida-cli-misc-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string cli = DIDA_CLI_PATH;
  ASSERT_EQ(std::system(("cd " + dir + " && " + cli + " data show --max-per-domain 60 --n 4 --cache none --out grid.png > /dev/null 2>&1").c_str()), 0);
  EXPECT_TRUE(std::ifstream(dir + "/grid.png").good());
  EXPECT_FALSE(std::ifstream(dir + "/none").good()) << "no folder named none";
  // A model of mnist -> mnistm on optdigits -> mnist samples.
  std::system(("cp -r " + std::string(DIDA_SOURCE_DIR) + "/tests/fixtures/parity/trained " + dir + "/bundle").c_str());
  auto card = nlohmann::json::parse(slurp(dir + "/bundle/config.json"));
  card["data"] = {{"source", "mnist"}, {"target", "mnistm"}};
  { std::ofstream(dir + "/bundle/config.json") << card.dump(); }
  ASSERT_EQ(run_cli("data samples --source optdigits --target mnist --max-per-domain 60 --n 3 --probe-n 2 --cache none --out " + dir +
                    "/s.safetensors").status, 0);
  const auto samples = dida::read_sample_set(dida::read_file_bytes(dir + "/s.safetensors"), "s");
  EXPECT_EQ(samples.images.size(), 6);
  EXPECT_EQ(samples.probe_images.size(), 4) << "--probe-n: 2 more of each domain, for the probes";
  const Result r = run_cli("predict " + dir + "/bundle --samples " + dir + "/s.safetensors");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("of 3"), std::string::npos) << "the shown samples only: " << r.output;
  EXPECT_NE(r.output.find("warning: " + dir + "/s.safetensors: the samples are optdigits -> mnist images, the model was trained on mnist -> mnistm"),
            std::string::npos) << r.output;
  // Files over 64 kB cannot be written (ulimit -f; SIGXFSZ ignored, so the write fails as on a full disk).
  const std::string run = dir + "/run";
  const std::string script = "ulimit -f 64; trap \"\" XFSZ; " + cli + " --threads 1 train" + kTinyTrain + " --epochs 1 --iters-per-epoch 2 --out " + run +
                             " > " + dir + "/out.txt 2>&1";
  const int status = std::system(("bash -c '" + script + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string out = slurp(dir + "/out.txt");
  EXPECT_NE(out.find(run + "/checkpoint.pt: write failed (disk full?)"), std::string::npos) << out;
  EXPECT_EQ(out.find("terminate called"), std::string::npos) << out;
  EXPECT_FALSE(holds_temporary(run)) << "no partial file left";
  std::system(("rm -rf " + dir).c_str());
}

// dida bench and dida eval end to end on tiny runs, with the methods the other tests do not train:
// DSN and the target-only oracle.
TEST(Cli, BenchAndEvalEndToEndOnTinyRuns) {
  const std::string dir = "/tmp/dida-cli-bench-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const Result bench = run_cli("--threads 1 bench" + std::string(kTinyTrain) +
                               " --methods dsn,target-only --seeds 1,2 --epochs 1 --iters-per-epoch 3 --out " + dir + "/bench");
  ASSERT_EQ(bench.status, 0) << bench.output;
  const auto results = nlohmann::json::parse(slurp(dir + "/bench/mnist-mnistm/results.json"));
  ASSERT_EQ(results["results"].size(), 4u) << results.dump();
  // Each row is its run's: the accuracy its bundle recorded, and the table's mean is theirs.
  std::map<std::string, std::vector<double>> by_method;
  for (const auto& r : results["results"]) {
    const std::string m = r["method"], run = r["run"];
    EXPECT_EQ(run, dir + "/bench/mnist-mnistm/" + m + "-seed" + std::to_string(r["seed"].get<int>()));
    const auto card = nlohmann::json::parse(slurp(run + "/bundle/config.json"));
    EXPECT_NEAR(r["target_accuracy"].get<double>(), card["metrics"]["target_test_accuracy"].get<double>(), 1e-9) << run;
    by_method[m].push_back(r["target_accuracy"].get<double>());
  }
  const std::string table = slurp(dir + "/bench/mnist-mnistm/results.md");
  for (const auto& [m, acc] : by_method) {
    ASSERT_EQ(acc.size(), 2u) << m;
    char mean[32];
    std::snprintf(mean, sizeof mean, "| %.1f ± ", 100 * (acc[0] + acc[1]) / 2);
    const auto row = table.find("| " + m + " ");
    ASSERT_NE(row, std::string::npos) << table;
    const std::string line = table.substr(row, table.find('\n', row) - row);
    EXPECT_NE(line.find(mean), std::string::npos) << m << ": the mean of its seeds, " << mean << " in " << line;
  }
  EXPECT_NE(table.find("| dsn |"), std::string::npos) << table;
  EXPECT_NE(table.find("target-only"), std::string::npos) << table;
  EXPECT_NE(table.find("oracle"), std::string::npos) << "the oracle is marked as such: " << table;

  const std::string run = dir + "/bench/mnist-mnistm/dsn-seed1";
  const Result eval = run_cli("--threads 1 eval --json " + run);
  ASSERT_EQ(eval.status, 0) << eval.output;
  const auto e = nlohmann::json::parse(eval.output);
  for (const char* k : {"target_accuracy", "source_accuracy", "domain_probe_inv", "domain_probe_spe", "class_probe_spe",
                        "swap_content_accuracy", "swap_style_accuracy"}) {
    ASSERT_TRUE(e.contains(k)) << k << ": " << e.dump();
    EXPECT_TRUE(e[k].get<double>() >= 0 && e[k].get<double>() <= 1) << k << " = " << e[k];
  }
  EXPECT_GT(e["reconstruction_psnr"].get<double>(), 0);
  // Each probe is the mean of its draws, which are listed (one draw is what the page fits).
  for (const char* k : {"domain_probe_inv", "domain_probe_spe", "class_probe_spe"}) {
    const auto& draws = e["probe_draws"][k];
    ASSERT_EQ(draws.size(), 5u) << k << ": " << e["probe_draws"].dump();
    double sum = 0;
    for (const auto& d : draws) sum += d.get<double>();
    EXPECT_NEAR(sum / 5, e[k].get<double>(), 1e-9) << k;
  }
  // The bundle's own record and eval agree on the target accuracy of the last checkpoint.
  const auto card = nlohmann::json::parse(slurp(run + "/bundle/config.json"));
  EXPECT_NEAR(card["metrics"]["target_test_accuracy"].get<double>(), e["target_accuracy"].get<double>(), 1e-9);
  EXPECT_EQ(card["method"], "dsn");
  const Result text = run_cli("--threads 1 eval " + run);
  ASSERT_EQ(text.status, 0) << text.output;
  EXPECT_NE(text.output.find("target"), std::string::npos) << text.output;
  std::system(("rm -rf " + dir).c_str());
}

// Data-parallel training on this machine: --nproc 2 starts two ranks (c10d, Gloo on 127.0.0.1);
// rank 0 alone writes the run; a run stopped with two ranks resumes with one; a rank killed with
// SIGKILL stops the other within the group's timeout, leaving a checkpoint that resumes.
TEST(Cli, TwoLocalRanksTrainAndResumeWithAnotherNumberAndSurviveAKilledRank) {
  const std::string dir = "/tmp/dida-cli-ranks-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string run = dir + "/run";
  Result r = run_cli("--threads 1 train" + std::string(kTinyTrain) + " --epochs 2 --iters-per-epoch 3 --nproc 2 --stop-after-iters 4 --out " + run);
  EXPECT_EQ(r.status, 130) << "interrupted after 4 iterations (exit 130, as on Ctrl-C): " << r.output;
  auto status = nlohmann::json::parse(slurp(run + "/status.json"));
  EXPECT_EQ(status["ranks"], 2);
  EXPECT_EQ(status["state"], "interrupted");
  EXPECT_EQ(status["epoch"], 1);
  // One rank finishes what two began (the checkpoint is inside epoch 2: that epoch starts over).
  r = run_cli("--threads 1 train --resume " + run);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("by another number of ranks: that epoch starts over"), std::string::npos) << r.output;
  status = nlohmann::json::parse(slurp(run + "/status.json"));
  EXPECT_EQ(status["state"], "done");
  EXPECT_EQ(status["ranks"], 1);
  EXPECT_TRUE(std::ifstream(run + "/bundle/model.safetensors").good());
  std::ifstream log(run + "/log.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line);) ++lines;
  EXPECT_EQ(lines, 2) << "rank 0 alone wrote the log, a line per epoch";

  // Two ranks started as torchrun starts them; rank 1 killed once epoch 1 is checkpointed.
  const std::string run2 = dir + "/run2", port = std::to_string(29600 + ::getpid() % 300);
  const std::string rank = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " " + DIDA_CLI_PATH +
                           " --threads 1 train" + kTinyTrain + " --epochs 4 --iters-per-epoch 40 --out " + run2;
  const std::string script = "RANK=0 " + rank + " > " + dir + "/rank0.txt 2>&1 & p0=$!; RANK=1 " + rank +
                             " > /dev/null 2>&1 & p1=$!; while [ ! -f " + run2 + "/checkpoint.pt ]; do sleep 0.1; done; " +
                             "kill -9 $p1; s=$(date +%s); wait $p0; echo \"rc=$? after $(( $(date +%s) - s )) s\"";
  FILE* pipe = popen(("bash -c '" + script + "' 2>/dev/null").c_str(), "r");  // (bash's "Killed" notice)
  ASSERT_NE(pipe, nullptr);
  std::array<char, 128> buf{};
  std::string said;
  while (std::fgets(buf.data(), buf.size(), pipe)) said += buf.data();
  pclose(pipe);
  int code = -1, seconds = -1;
  ASSERT_EQ(std::sscanf(said.c_str(), "rc=%d after %d s", &code, &seconds), 2) << said;
  EXPECT_EQ(code, 1) << slurp(dir + "/rank0.txt");
  EXPECT_LE(seconds, 35) << "rank 0 stops within the group's timeout";
  std::cerr << "rank 0 stopped " << seconds << " s after rank 1 was killed\n";
  const std::string out = slurp(dir + "/rank0.txt");
  EXPECT_NE(out.find("rank 0 of 2: the ranks'"), std::string::npos) << out;
  EXPECT_NE(out.find("failed: rank 1 stopped or cannot be reached"), std::string::npos) << out;
  // Ranks started with other options: every rank stops at once, with one line.
  const std::string run3 = dir + "/run3", port3 = std::to_string(29300 + ::getpid() % 300);
  const std::string mismatch = "R() { RANK=$1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port3 + " " + DIDA_CLI_PATH +
                               " --threads 1 train" + kTinyTrain + " --iters-per-epoch 2 --out " + run3 + " --epochs $2; }; " +
                               "R 0 1 > " + dir + "/m0.txt 2>&1 & R 1 2 > " + dir + "/m1.txt 2>&1; echo $?; wait $!; echo $?";
  pipe = popen(("bash -c '" + mismatch + "'").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  said.clear();
  while (std::fgets(buf.data(), buf.size(), pipe)) said += buf.data();
  pclose(pipe);
  EXPECT_EQ(said, "1\n1\n") << slurp(dir + "/m0.txt") << slurp(dir + "/m1.txt");
  for (const char* f : {"/m0.txt", "/m1.txt"})
    EXPECT_NE(slurp(dir + f).find("rank 1's options and data differ from rank 0's"), std::string::npos) << slurp(dir + f);
  r = run_cli("--threads 1 train --quiet --resume " + run2);  // alone: the checkpoint is intact
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::ifstream(run2 + "/bundle/model.safetensors").good());
  std::system(("rm -rf " + dir).c_str());
}

// torchrun (Debian's python3-torch 1.13) starts the ranks, its agent holding the store: the
// command docs/SCALE.md gives.
TEST(Cli, TorchrunStartsTheRanks) {
  if (std::system("command -v torchrun > /dev/null 2>&1") != 0) GTEST_SKIP() << "no torchrun (python3-torch) here";
  const std::string dir = "/tmp/dida-cli-torchrun-" + std::to_string(::getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string cmd = "torchrun --no_python --nproc_per_node 2 --master_port " + std::to_string(29900 + ::getpid() % 90) +
                          " --redirects 1 --tee 1 --log_dir " + dir + "/logs " + DIDA_CLI_PATH + " --threads 1 train" + kTinyTrain +
                          " --epochs 2 --iters-per-epoch 3 --out " + dir + "/run > " + dir + "/out.txt 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << slurp(dir + "/out.txt");
  const auto status = nlohmann::json::parse(slurp(dir + "/run/status.json"));
  EXPECT_EQ(status["ranks"], 2);
  EXPECT_EQ(status["state"], "done");
  std::system(("rm -rf " + dir).c_str());
}
