#include "trainer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "bundle.hpp"
#include "dida/inference.hpp"
#include "dida/json_text.hpp"
#include "dida/rng.hpp"
#include "dida/safetensors.hpp"
#include "dida/schedule.hpp"
#include "replay_recorder.hpp"
#include "step_profile.hpp"
#include "train_step.hpp"
#include "training_data.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

std::atomic<bool> g_interrupted{false};
// The first SIGINT/SIGTERM asks for a checkpoint at the end of the iteration; a second one, or
// kStopDeadlineS seconds without that end (a long iteration, the data still building), ends the
// process at once. Checkpoints are written to a temporary and renamed, so the last one stays whole.
constexpr unsigned kStopDeadlineS = 10;
void stop_now(int) {
  static const char msg[] = "\ntrain: stopped at once; the last checkpoint is as it was\n";
  [[maybe_unused]] const ssize_t n = ::write(2, msg, sizeof msg - 1);
  ::_exit(130);
}
void on_sigint(int) {
  if (g_interrupted.exchange(true)) stop_now(0);
  std::signal(SIGALRM, stop_now);
  ::alarm(kStopDeadlineS);
}


std::string fmt_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const int t = static_cast<int>(s + 0.5);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
  else if (t >= 60) o << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
  else o << t << "s";
  return o.str();
}


// An exclusive lock on RUN/.lock for as long as a training runs: a second `dida train` or
// `dida bench` on the same folder would otherwise interleave its log and checkpoints with ours.
class RunLock {
 public:
  explicit RunLock(const std::string& run) {
    const std::string path = run + "/.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0) throw std::runtime_error(path + ": cannot create the run's lock file");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw std::runtime_error(run + ": another dida is training this run right now (" + path +
                               " is locked); wait for it to finish, or choose another --out");
    }
  }
  ~RunLock() { ::close(fd_); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};


void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(path, text.data(), text.size());
}

}  // namespace

void append_line(const std::string& path, const std::string& line) {
  // O_NOFOLLOW: a link planted as the log is not written through.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot append to the log (" + std::strerror(errno) + ")");
  const std::string text = line + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) throw std::runtime_error(path + ": write failed (disk full?)");
}

void trim_epoch_lines(const std::string& path, int epochs_kept) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    const int epoch = j.is_object() ? j.value("epoch", 0) : 0;
    if (epoch >= 1 && epoch <= epochs_kept) kept += line + "\n";
  }
  write_file_atomic(path, kept.data(), kept.size());
}

// A config.json that dida's trainer wrote: {"options": {...}, "data": {...}} (a bundle's has "format").
static bool is_run_record(const std::string& path) {
  try {
    const auto j = read_json_file(path);
    return j.is_object() && j.contains("options") && j.contains("data") && !j.contains("format");
  } catch (const std::exception&) {
    return false;
  }
}

namespace {

// What a training on the CPU takes, measured on this trainer (dida, 32 x 32 RGB): about 0.6 GB
// of its own (LibTorch, the data, the model), and per image of a batch about 3 MB at width 16,
// growing with the width and the image's area (2.3 GB at batch 512, 3.6 GB at width 64 and batch
// 256). A run that would need more than the machine has is refused before it starts, not killed
// by the system after gigabytes.
double estimated_training_bytes(const TrainOptions& o) {
  const double area = static_cast<double>(o.model.image_size) * o.model.image_size / (32.0 * 32.0);
  return 0.6e9 + static_cast<double>(o.batch_size) * 3.0e6 * (o.model.width / 16.0) * area;
}
double available_memory_bytes() {  // MemAvailable of /proc/meminfo; 0 where unknown
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024.0;
  return 0;
}
void refuse_runs_beyond_memory(const TrainOptions& o) {
  const double need = estimated_training_bytes(o), have = available_memory_bytes();
  if (have <= 0 || need <= have) return;
  std::ostringstream m;
  m << std::fixed << std::setprecision(1) << "this run would need about " << need / 1e9 << " GB of memory (--batch-size "
    << o.batch_size << ", --width " << o.model.width << ", " << o.model.image_size << " x " << o.model.image_size
    << " images), more than the " << have / 1e9 << " GB available: a smaller --batch-size or --width";
  throw std::runtime_error(m.str());
}

// The run folder's checks before anything is written: a resumed run takes its recorded options
// (the flags that do not change the training from the command line); a new run goes only into a
// new or empty folder.
TrainOptions options_for_run(TrainOptions o, bool resume) {
  if (!o.profile.empty()) {  // said before the training, not after it
    const fs::path p(o.profile);
    if (fs::is_directory(p)) throw std::runtime_error("--profile " + o.profile + ": is a folder; give a file name");
    if (p.has_parent_path() && !fs::is_directory(p.parent_path()))
      throw std::runtime_error("--profile " + o.profile + ": no folder " + p.parent_path().string());
  }
  const std::string run = o.out;
  const std::string config_path = run + "/config.json";
  if (resume) {
    // Only a folder a `dida train` made is continued: .lock and a checkpoint are never written into a
    // bundle or a folder of the user's own that merely holds a config.json.
    if (!fs::exists(config_path)) throw std::runtime_error(run + ": not a run folder (no config.json)");
    if (!is_run_record(config_path))
      throw std::runtime_error(run + ": not a run folder (its config.json is not one `dida train` wrote: no \"options\" and \"data\")");
    const nlohmann::json recorded = read_json_file(config_path);
    TrainOptions r;
    try {
      r = TrainOptions::from_json(recorded.value("options", nlohmann::json::object()));
    } catch (const std::exception& e) {
      throw std::runtime_error(config_path + ": " + e.what());
    }
    r.out = run, r.threads = o.threads, r.stop_after_iters = o.stop_after_iters, r.quiet = o.quiet, r.device = o.device, r.profile = o.profile;
    return r;  // checked by validate(), as a new run's options are
  }
  if (fs::exists(run + "/checkpoint.pt") || fs::exists(run + "/bundle") || fs::exists(run + "/log.jsonl"))
    throw std::runtime_error(run + ": already holds a run: resume it with --resume " + run + ", or choose another --out");
  if (fs::exists(run)) {
    // Only an empty folder (or one left by a run stopped before its first log line) is written into:
    // --out pointed at a bundle or a folder of the user's own must not lose its config.json.
    if (!fs::is_directory(run)) throw std::runtime_error(run + ": exists and is not a folder; choose another --out");
    for (const auto& e : fs::directory_iterator(run)) {
      const std::string name = e.path().filename().string();
      if (name == ".lock") continue;
      if (name == "config.json" && is_run_record(config_path)) continue;
      throw std::runtime_error(run + ": is not empty (it holds " + name + "); dida writes a new run only into a new or empty folder: choose another --out");
    }
  }
  return o;
}

// The progress line: rate, every active term by name, time left; on a terminal it rewrites itself
// twice a second, in a log file it is a line every 15 s.
class ProgressLine {
 public:
  ProgressLine(const TrainOptions& o, int64_t total_iters) : o_(o), total_(total_iters), tty_(isatty(2)) {}
  bool tty() const { return tty_; }
  // An iteration of `images` images is done.
  void count(int64_t images) { ++iters_, images_ += images; }
  int iterations() const { return iters_; }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }
  double images_per_s() const { return images_ / std::max(seconds(), 1e-9); }
  bool due(bool last_of_epoch) const {
    const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_).count();
    return !o_.quiet && (since > (tty_ ? 0.5 : 15.0) || last_of_epoch);
  }
  void print(const TrainStep& trainer, int epoch, int it, int64_t global) {
    last_ = std::chrono::steady_clock::now();
    const LossValues v = trainer.last_values();
    const double left = (total_ - global - 1) * seconds() / iters_;
    std::ostringstream line;
    line << "epoch " << epoch + 1 << "/" << o_.epochs << " [" << std::setw(3) << 100 * (it + 1) / trainer.iters_per_epoch() << "%] "
         << std::fixed << std::setprecision(0) << images_per_s() << " img/s |" << std::setprecision(3);
    for (const auto& [term, weight] : trainer.active_terms()) line << " " << term->name << " " << v.get(term->name);
    line << " | left " << fmt_duration(left);
    std::cerr << (tty_ ? "\r" : "") << line.str() << (tty_ ? "\033[K" : "\n") << std::flush;
  }

 private:
  const TrainOptions& o_;
  int64_t total_;
  bool tty_;
  int iters_ = 0;  // this session's
  int64_t images_ = 0;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now(), last_ = t0_;
};

// An epoch's line of log.jsonl: its losses, the accuracies and the label-free statistics.
nlohmann::json epoch_record(TrainStep& trainer, const TrainOptions& o, int epoch, int count, double seconds, double& val, double& test) {
  const LossValues sum = trainer.take_sum();
  val = trainer.eval_accuracy(trainer.x_val(), trainer.y_val());
  test = trainer.eval_accuracy(trainer.x_test(), trainer.y_test());
  const LabelFreeStats lf = trainer.target_train_stats();
  const double p_end = static_cast<double>(epoch + 1) / o.epochs;
  nlohmann::json line = {{"epoch", epoch + 1},
                         {"iterations", count},
                         {"seconds", seconds},
                         // every rank's images: the run's rate
                         {"images_per_s", count * trainer.images_per_iter() * trainer.ranks().world() / std::max(seconds, 1e-9)},
                         {"lr", o.anneal_lr ? o.lr * lr_factor(p_end) : o.lr},
                         {"grl_lambda", grl_lambda(p_end, o.grl_gamma)},
                         {"losses", sum.to_json(count ? 1.0 / count : 0.0)},
                         {"source_val_accuracy", val},
                         {"target_train_confidence", lf.confidence},
                         {"target_train_balance", lf.balance},
                         {"target_test_accuracy", test},
                         {"note", "target_test_accuracy is logged for reporting only; nothing is selected by it"}};
  if (o.method == Method::TargetOnly) line["oracle"] = true;
  return line;
}

// The bundle's card: the run's record, what trained it and the last checkpoint's accuracies.
nlohmann::json bundle_card(nlohmann::json card, const TrainOptions& o, const DomainPair& pair, double seconds, double images_per_s,
                           const torch::Device& device, double val, double test) {
  card["method"] = name_of(o.method);
  card["class_names"] = pair.source_train.classes;
  card["preprocessing"] = {{"layout", "NCHW"}, {"input", "x = pixel / 127.5 - 1 (pixels 0..255, RGB)"}};
  card["training"] = {{"options", o.to_json()},
                      {"seconds_this_session", seconds},
                      {"images_per_s", images_per_s},
                      {"device", device.str()},
                      {"threads", torch::get_num_threads()},
                      {"libtorch", TORCH_VERSION}};
  card["metrics"] = {{"source_val_accuracy", val}, {"target_test_accuracy", test}, {"checkpoint", "last (no selection)"}};
  card.erase("options");
  return card;
}

}  // namespace

// How long a rank waits for the others at a collective before it stops with an error (a rank that
// died, or never arrived). Rank 0's work at an epoch's end (accuracies, replay, checkpoint) happens
// while the others wait at the next step: it must fit well inside.
constexpr std::chrono::seconds kRanksTimeout{30};

int run_training(TrainOptions o, bool resume) {
  // A data-parallel run (torchrun, or `dida train --nproc`): every rank trains its part of each
  // batch; rank 0 alone checks and writes the run folder (log, progress, checkpoints, replay,
  // bundle). A refusal on rank 0 stops every rank.
  Ranks ranks = Ranks::from_environment(kRanksTimeout);
  const bool writer = ranks.rank() == 0;
  std::string refused;
  try {
    if (writer || resume) o = options_for_run(std::move(o), resume);
    validate(o);
  } catch (const std::exception& e) {
    refused = e.what();
  }
  if (ranks.any(!refused.empty()))
    throw std::runtime_error(!refused.empty() ? refused : "rank 0 refused the run (its message says why)");
  if (!writer) o.quiet = true;
  const std::string run = o.out;
  const std::string config_path = run + "/config.json", ckpt = run + "/checkpoint.pt", log_path = run + "/log.jsonl";
  if (o.threads > 0) torch::set_num_threads(o.threads);
  torch::Device device = pick_device(o.device);
  if (device.is_cuda() && !ranks.alone()) device = ranks.use_cuda();  // each rank its GPU; NCCL for gradients
  if (device.is_cpu()) refuse_runs_beyond_memory(o);
  std::optional<RunLock> lock;
  if (writer) fs::create_directories(run), lock.emplace(run);
  // A process stopped at once may have left a temporary of an atomic write (NAME.tmp-XXXXXX).
  for (const std::string& dir : {run, run + "/latest"}) {
    if (!writer) break;
    if (!fs::is_directory(fs::symlink_status(dir))) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      const auto at = name.rfind(".tmp-");
      if (at != std::string::npos && at + 11 == name.size() && e.is_regular_file()) fs::remove(e.path());
    }
  }
  // From here on a signal stops the run at its next iteration, with a checkpoint.
  g_interrupted = false;
  // SIGTERM (kill, a job scheduler, a container stop) is handled as Ctrl-C: a checkpoint, then exit.
  struct Restore {
    void (*int_h)(int);
    void (*term_h)(int);
    ~Restore() { ::alarm(0), std::signal(SIGINT, int_h), std::signal(SIGTERM, term_h); }
  } restore{std::signal(SIGINT, on_sigint), std::signal(SIGTERM, on_sigint)};

  const auto t_data = std::chrono::steady_clock::now();
  const DomainPair pair = pair_for(o);
  if (o.batch_size > pair.source_train.size() && !o.quiet)
    std::cerr << "train: warning: --batch-size " << o.batch_size << " is more than the " << pair.source_train.size()
              << " source-train images: every batch repeats images\n";
  const double data_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_data).count();

  const nlohmann::json record = {{"options", o.to_json()},
                                 {"oracle", o.method == Method::TargetOnly},
                                 {"data", {{"source", o.source}, {"target", o.target}, {"seed", o.data_seed},
                                           {"source_train", pair.source_train.size()}, {"source_val", pair.source_val.size()},
                                           {"target_train", pair.target_train.size()}, {"target_test", pair.target_test.size()},
                                           {"classes", pair.source_train.classes}}}};
  if (!resume && writer) write_json(config_path, record);
  ranks.check_same(record.dump(), "options and data");

  TrainStep trainer(o, pair, device, ranks);
  const ReplayRecorder replay(run, pair, writer ? o.replay : 0);
  int start_epoch = 0, start_iter = 0;
  if (resume && fs::exists(ckpt)) trainer.load_checkpoint(ckpt, start_epoch, start_iter);
  const bool bundle_done = fs::exists(run + "/bundle/config.json") && fs::exists(run + "/bundle/model.safetensors");
  if (start_epoch >= o.epochs && bundle_done)
    throw std::runtime_error(run + ": already finished all " + std::to_string(o.epochs) + " epochs");
  // A process killed between an epoch's log line and its checkpoint logged an epoch that is now
  // trained again: keep the log to the epochs the checkpoint holds.
  if (resume && writer) trim_epoch_lines(log_path, start_epoch);
  if (trainer.epoch_started_over() && !o.quiet)
    std::cerr << "train: note: the checkpoint was taken inside epoch " << start_epoch + 1
              << " by another number of ranks: that epoch starts over\n";
  replay.trim(resume ? start_epoch : 0);

  // RUN/status.json: what the page's live view (dida serve) says of the run: training (and from
  // which epoch a resume started), interrupted, diverged or done, and the epoch it is at.
  const auto started = std::chrono::system_clock::now();
  nlohmann::json status = {{"state", "training"}, {"epoch", start_epoch}, {"epochs", o.epochs},
                           {"resumed_at_epoch", resume ? nlohmann::json(start_epoch) : nlohmann::json(nullptr)}};
  status["ranks"] = ranks.world();
  const auto set_status = [&](const std::string& state) {
    if (!writer) return;
    status["state"] = state;
    status["seconds"] = std::chrono::duration<double>(std::chrono::system_clock::now() - started).count();
    status["updated"] = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    write_json(run + "/status.json", status);
  };
  set_status("training");

  const bool oracle = o.method == Method::TargetOnly;
  if (!o.quiet)
    std::cerr << "train: " << name_of(o.method) << (oracle ? " (ORACLE: trained on target labels, an upper bound, not a result)" : "")
              << " on " << o.source << " -> " << o.target << ", " << o.epochs << " epochs x " << trainer.iters_per_epoch()
              << " iterations, batch " << o.batch_size << (ranks.alone() ? "" : " per rank") << ", " << name_of(o.optimisation) << ", device " << device.str()
              << ", threads " << torch::get_num_threads()
              << (ranks.alone() ? std::string() : ", ranks " + std::to_string(ranks.world()) + " (" + ranks.backend() + ")")
              << " (data " << std::fixed << std::setprecision(1) << data_s
              << " s)" << (resume ? ", resuming at epoch " + std::to_string(start_epoch + 1) : std::string()) << "\n";

  const int n_iters = trainer.iters_per_epoch();
  const int64_t total_iters = static_cast<int64_t>(o.epochs) * n_iters;
  ProgressLine progress(o, total_iters);
  // --profile: the table is written however the loop ends (done, interrupted, diverged).
  std::optional<StepProfile> profile;
  if (!o.profile.empty() && writer) profile.emplace();  // rank 0 profiles its own steps
  struct WriteProfile {
    std::optional<StepProfile>& p;
    const std::string& path;
    ~WriteProfile() {
      if (p) try {
          p->write(path, torch::get_num_threads());
        } catch (const std::exception& e) {
          std::cerr << "train: the profile could not be written: " << e.what() << "\n";
        }
    }
  } write_profile{profile, o.profile};
  const auto diverged = [&](int epoch, int it) {
    if (writer)
      std::cerr << "\ntrain: error: the loss became NaN or Inf by epoch " << epoch + 1 << ", iteration " << it + 1
              << "; stopped. The last good checkpoint is kept in " << ckpt << " (try a lower --lr or smaller loss weights).\n";
    set_status("diverged");
    return kTrainDiverged;
  };
  for (int epoch = start_epoch; epoch < o.epochs; ++epoch) {
    int count = 0;
    const double comm_s_before = ranks.comm_seconds();
    const int64_t comm_bytes_before = ranks.comm_bytes();
    const auto t_epoch = std::chrono::steady_clock::now();
    for (int it = (epoch == start_epoch ? start_iter : 0); it < n_iters; ++it) {
      const int64_t global = static_cast<int64_t>(epoch) * n_iters + it;
      if (profile) profile->begin();
      trainer.step(epoch, it, static_cast<double>(global) / static_cast<double>(total_iters));
      if (profile) profile->end();
      ++count;
      progress.count(trainer.images_per_iter() * ranks.world());
      // The loss values stay on the device; they are read (and checked for NaN/Inf) only when a line
      // is printed, before a checkpoint and at the epoch's end.
      if (progress.due(it + 1 == n_iters)) {
        if (ranks.alone() && !trainer.finite()) return diverged(epoch, it);  // ranks check together, at the epoch's end
        progress.print(trainer, epoch, it, global);
      }
      // A stop seen by any rank stops every rank after the same iteration.
      if (ranks.any(g_interrupted || (o.stop_after_iters > 0 && progress.iterations() >= o.stop_after_iters))) {
        if (ranks.any(!trainer.finite())) return diverged(epoch, it);
        if (writer) trainer.save_checkpoint(ckpt, it + 1 == n_iters ? epoch + 1 : epoch, it + 1 == n_iters ? 0 : it + 1);
        if (!o.quiet)
          std::cerr << (progress.tty() ? "\n" : "") << "train: interrupted; checkpoint saved. Continue with: dida train --resume "
                    << run << "\n";
        set_status("interrupted");
        return kTrainInterrupted;
      }
    }
    if (ranks.any(!trainer.finite())) return diverged(epoch, n_iters - 1);
    if (!writer) continue;  // the other ranks go on to the next epoch's first step, where rank 0 joins them
    double val = 0, test = 0;
    const double epoch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    append_line(log_path, epoch_record(trainer, o, epoch, count, epoch_s, val, test).dump());
    // What the live view reads of the epoch: the replay's layouts (before the checkpoint, as the log
    // line: a resume trains again what the checkpoint does not hold) and, once the checkpoint is
    // written, RUN/latest/: the epoch's model as the site ships a bundle (no tensors only training
    // uses), replaced each epoch. Their cost is in status.json (publish_seconds, beside epoch_seconds).
    const auto t_publish = std::chrono::steady_clock::now();
    replay.record(trainer.net(), epoch + 1, device);
    const double replay_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_publish).count();
    trainer.save_checkpoint(ckpt, epoch + 1, 0);
    const auto t_snapshot = std::chrono::steady_clock::now();
    nlohmann::json card = bundle_card(record, o, pair, progress.seconds(), progress.images_per_s(), device, val, test);
    card["snapshot"] = {{"epoch", epoch + 1}, {"epochs", o.epochs}};
    save_bundle(trainer.net(), run + "/latest", card, true);
    status["epoch"] = epoch + 1;
    status["epoch_seconds"] = epoch_s;
    if (!ranks.alone()) {  // rank 0's share of the epoch spent in the ranks' collectives (bench/ranks_bench.sh)
      status["comm_seconds"] = ranks.comm_seconds() - comm_s_before;
      status["comm_bytes_per_iteration"] = static_cast<double>(ranks.comm_bytes() - comm_bytes_before) / std::max(count, 1);
    }
    status["publish_seconds"] = replay_s + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_snapshot).count();
    set_status("training");
    if (!o.quiet)
      std::cerr << (progress.tty() ? "\n" : "") << "epoch " << epoch + 1 << ": source-val " << std::fixed << std::setprecision(4)
                << val << ", target-test " << test << " (reporting only)\n";
  }

  if (!writer) return kTrainDone;
  trainer.use_weight_average();  // --weight-average: the bundle's weights are the average's
  trainer.set_erasure();  // after the last step: the encoder never trains against it (docs/RESULTS.md)
  trainer.retrain_readers();
  // The replay's last frame is the bundle's model, the weights' average and the erasure included
  // (it replaces the epoch's line; its accuracies are the bundle's, below).
  if (trainer.net().config.erase_domain_mean || o.weight_average > 0) replay.record(trainer.net(), o.epochs, device);
  const double train_s = progress.seconds(), rate = progress.images_per_s();
  const double val = trainer.eval_accuracy(trainer.x_val(), trainer.y_val());
  const double test = trainer.eval_accuracy(trainer.x_test(), trainer.y_test());
  save_bundle(trainer.net(), run + "/bundle", bundle_card(record, o, pair, train_s, rate, device, val, test));
  // The loss can stay finite while a weight overflows (a huge --lr): the page and `dida predict`
  // refuse such a bundle at load, so the run says so now instead of finishing with exit 0.
  try {
    Model::load(run + "/bundle");
  } catch (const std::runtime_error& e) {
    fs::remove_all(run + "/bundle");
    std::cerr << (progress.tty() ? "\n" : "") << "train: error: training diverged: " << e.what()
              << ". No bundle was kept; the last checkpoint is in " << ckpt << " (try a lower --lr or smaller loss weights).\n";
    set_status("diverged");
    return kTrainDiverged;
  }
  replay.write(run + "/bundle", log_path, o.source, o.target, val, test);
  set_status("done");
  if (!o.quiet)
    std::cerr << "train: done in " << fmt_duration(train_s) << ": source-val " << std::fixed << std::setprecision(4) << val
              << ", target-test " << test << (oracle ? " (ORACLE)" : "") << "; bundle in " << run << "/bundle\n";
  return kTrainDone;
}

}  // namespace dida
