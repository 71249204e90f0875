#pragma once
// Plays a training replay's epochs in the plots (ExplorerModel::set_replay_epoch) at two epochs a
// second: play and pause, a seek that stops it, the end that stops it, and back to the live plots.
// GL-free: the view passes the clock (seconds) and draws the buttons and the slider.
#include "explorer_model.hpp"

namespace dida::web {

class ReplayPlayer {
 public:
  static constexpr double kSecondsPerEpoch = 0.5;
  // Shows the first epoch and plays from `now`.
  void start(ExplorerModel& m, double now);
  // Play or pause; play at the last epoch starts again from the first.
  void toggle(ExplorerModel& m, double now);
  void seek(ExplorerModel& m, int epoch);  // shows that epoch (clamped) and stops
  void back_to_live(ExplorerModel& m);     // the live plots, stopped
  // Called every frame: the next epoch once kSecondsPerEpoch have passed; stops at the last.
  void tick(ExplorerModel& m, double now);
  bool playing() const { return playing_; }

 private:
  bool playing_ = false;
  double clock_ = 0;  // when the epoch shown was shown
};

}  // namespace dida::web
