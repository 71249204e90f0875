#pragma once
// Where a training step's time goes: LibTorch's profiler around each step, every operator's own
// time (its time less the operators it called) and calls summed over the steps, written as JSON
// (`dida train --profile FILE`, bench/step_profile.sh).
#include <chrono>
#include <map>
#include <string>

namespace dida {

class StepProfile {
 public:
  void begin();  // before a step
  void end();    // after it: its events are added to the table
  // The table (operators by their own time, largest first) to `path`; the first `top` rows on stderr.
  void write(const std::string& path, int threads, int top = 12) const;

 private:
  struct Row {
    double self_us = 0, total_us = 0;
    long long calls = 0;
  };
  std::map<std::string, Row> ops_;
  double step_us_ = 0;
  long long steps_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace dida
