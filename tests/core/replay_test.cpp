// The training replay's file and the alignment that makes its epochs comparable.
#include <gtest/gtest.h>

#include <cmath>

#include "dida/replay.hpp"
#include "dida/rng.hpp"

namespace dida {

TEST(Replay, AlignmentUndoesRotationReflectionScaleAndShift) {
  // Epoch 0 is the last epoch's layout rotated by 70 degrees, mirrored, scaled by 5 and shifted:
  // aligned, it must coincide with the last epoch's (centred, unit RMS) layout.
  const int n = 30;
  Rng rng(2);
  std::vector<float> last(2 * n), xy(4 * n);
  for (auto& v : last) v = static_cast<float>(rng.uniform(-3, 3));
  const double a = 70 * 3.14159265358979 / 180;
  for (int i = 0; i < n; ++i) {
    const double x = last[2 * i], y = -last[2 * i + 1];  // mirrored
    xy[2 * i] = static_cast<float>(5 * (std::cos(a) * x - std::sin(a) * y) + 11);
    xy[2 * i + 1] = static_cast<float>(5 * (std::sin(a) * x + std::cos(a) * y) - 4);
    xy[2 * n + 2 * i] = last[2 * i], xy[2 * n + 2 * i + 1] = last[2 * i + 1];
  }
  align_layouts(xy, 2, n);
  double rms = 0;
  for (int i = 0; i < 2 * n; ++i) {
    EXPECT_NEAR(xy[i], xy[2 * n + i], 1e-4) << i;
    rms += xy[2 * n + i] * xy[2 * n + i];
  }
  EXPECT_NEAR(rms / n, 1.0, 1e-4);
}

TEST(Replay, RoundTripsAndRefusesWrongFiles) {
  Replay r;
  r.epochs = {1, 2};
  r.samples = 3, r.source_samples = 2;
  r.inv_2d.assign(12, 0.5f), r.spe_2d.assign(12, -0.5f);
  r.source_val = {0.5f, 0.9f}, r.target_test = {0.2f, 0.6f};
  r.loss_names = {"task", "adv"};
  r.losses = {1, 2, 3, 4};
  r.source = "mnist", r.target = "mnistm";
  const Replay back = parse_replay(replay_to_bytes(r), "replay.safetensors");
  EXPECT_EQ(back.epochs, r.epochs);
  EXPECT_EQ(back.samples, 3);
  EXPECT_EQ(back.source_samples, 2);
  EXPECT_EQ(back.inv_2d, r.inv_2d);
  EXPECT_EQ(back.spe_2d, r.spe_2d);
  EXPECT_EQ(back.losses, r.losses);
  EXPECT_EQ(back.loss_names, r.loss_names);
  EXPECT_EQ(back.target, "mnistm");
  r.losses.pop_back();  // 3 values for 2 x 2
  EXPECT_ANY_THROW(replay_to_bytes(r));
  try {
    parse_replay({1, 2, 3}, "x/replay.safetensors");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()).rfind("x/replay.safetensors", 0), 0u) << e.what();
  }
}

TEST(Replay, FromARunsLogsAsTheyAreWhileItTrains) {
  // Two samples (one source, one target): an epoch's layout is 4 numbers per space.
  const std::string layouts =
      "{\"epoch\":1,\"inv\":[1,0,-1,0],\"spe\":[0,1,0,-1]}\n"
      "{\"epoch\":2,\"inv\":[2,0,-2,0],\"spe\":[0,2,0,-2]}\n"
      "{\"epoch\":2,\"inv\":[0,3,0,-3],\"spe\":[3,0,-3,0]}\n"  // the epoch again (the erasure's frame): it replaces
      "{\"epoch\":3,\"inv\":[1,2,3],\"spe\":[1,2,3,4]}\n"      // not two points: skipped
      "{\"epoch\":4,\"inv\":[1,0,-1,0],\"spe\":[0,1,0,-";      // a line being written: skipped
  const std::string log =
      "{\"epoch\":1,\"losses\":{\"task\":2.0,\"mi\":0.5},\"source_val_accuracy\":0.5,\"target_test_accuracy\":0.25}\n"
      "{\"epoch\":2,\"losses\":{\"task\":1.0,\"mi\":0.25},\"source_val_accuracy\":0.75,\"target_test_accuracy\":0.5}\n"
      "{\"epoch\":3,\"losses\":{\"task\":0.5,\"mi\":0.125},\"source_val_accuracy\":0.875}\n";
  const Replay r = replay_from_run_logs(layouts, log, 2, 1, "mnist", "mnistm");
  EXPECT_EQ(r.epochs, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(r.loss_names, (std::vector<std::string>{"mi", "task"}));  // the log's names, in its order
  EXPECT_EQ(r.loss_curve("task"), (std::vector<float>{2.0f, 1.0f}));
  EXPECT_EQ(r.source_val, (std::vector<float>{0.5f, 0.75f}));
  EXPECT_EQ(r.target_test, (std::vector<float>{0.25f, 0.5f}));
  EXPECT_EQ(r.source, "mnist");
  EXPECT_EQ(r.source_samples, 1);
  // Aligned onto the last epoch, whose layout is the replacing line's (unit RMS radius).
  ASSERT_EQ(r.inv_2d.size(), 8u);
  EXPECT_NEAR(r.inv_2d[4], 0, 1e-5);
  EXPECT_NEAR(std::abs(r.inv_2d[5]), 1, 1e-5);
  // The first epoch's points turned onto the second's: the same axis.
  EXPECT_NEAR(r.inv_2d[0], 0, 1e-5);
  EXPECT_NEAR(std::abs(r.inv_2d[1]), 1, 1e-5);
  // Nothing yet: no epochs.
  EXPECT_TRUE(replay_from_run_logs("", "", 2, 1, "a", "b").epochs.empty());
  EXPECT_TRUE(replay_from_run_logs(layouts, "", 2, 1, "a", "b").epochs.empty());
}

}  // namespace dida
