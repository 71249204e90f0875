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

}  // namespace dida
