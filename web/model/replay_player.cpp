#include "replay_player.hpp"

#include <algorithm>

namespace dida::web {

void ReplayPlayer::start(ExplorerModel& m, double now) {
  if (!m.has_replay()) return;
  m.set_replay_epoch(0);
  playing_ = true, clock_ = now;
}

void ReplayPlayer::toggle(ExplorerModel& m, double now) {
  if (!m.has_replay()) return;
  if (!playing_ && m.replay_epoch() + 1 >= m.replay().epoch_count()) m.set_replay_epoch(0);
  playing_ = !playing_, clock_ = now;
}

void ReplayPlayer::seek(ExplorerModel& m, int epoch) {
  if (!m.has_replay()) return;
  m.set_replay_epoch(std::clamp(epoch, 0, m.replay().epoch_count() - 1));
  playing_ = false;
}

void ReplayPlayer::back_to_live(ExplorerModel& m) {
  m.set_replay_epoch(-1);
  playing_ = false;
}

void ReplayPlayer::tick(ExplorerModel& m, double now) {
  if (!playing_ || !m.has_replay() || m.replay_epoch() < 0) return void(playing_ = false);
  if (now - clock_ <= kSecondsPerEpoch) return;
  clock_ = now;
  if (m.replay_epoch() + 1 < m.replay().epoch_count()) m.set_replay_epoch(m.replay_epoch() + 1);
  else playing_ = false;
}

}  // namespace dida::web
