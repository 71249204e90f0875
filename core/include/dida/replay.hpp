#pragma once
// The training replayed: replay.safetensors beside a bundle holds, for every epoch, where the
// page's sample set lay in z_inv and z_spe (2-D), and the epoch's losses and accuracies, so the page
// can play the split forming. Tensors: z_inv_2d F32 [E, N, 2], z_spe_2d F32 [E, N, 2], epoch I64
// [E], source_val_accuracy F32 [E], target_test_accuracy F32 [E] (reporting only), losses F32
// [E, K]; metadata: format "dida-replay", loss_names (JSON), source, target, source_samples,
// projection.
#include <cstdint>
#include <string>
#include <vector>

namespace dida {

struct Replay {
  std::vector<std::int64_t> epochs;  // E, from 1
  int samples = 0;         // N: the sample set's images, source-val ones first, then target-test ones
  int source_samples = 0;  // how many of the N are source images
  std::vector<float> inv_2d, spe_2d;            // E x N x 2
  std::vector<float> source_val, target_test;   // E
  std::vector<std::string> loss_names;          // K
  std::vector<float> losses;                    // E x K
  std::string source, target;
  int epoch_count() const { return static_cast<int>(epochs.size()); }
  // One loss term's value at every epoch (E values; zeros when the run had no such term).
  std::vector<float> loss_curve(const std::string& name) const;
};

std::vector<std::uint8_t> replay_to_bytes(const Replay& r);

// A replay from a run folder's text files as `dida train` writes them each epoch: `layouts`, the
// lines of RUN/replay.jsonl ({"epoch", "inv", "spe"}: an epoch's 2-D layouts, unaligned), and `log`,
// the lines of RUN/log.jsonl (its losses and accuracies). Epochs in both only, in order; a later
// line of an epoch replaces an earlier one; a line that is not a whole JSON object (one being
// written) or whose layout is not of `samples` points is skipped. Aligned (align_layouts). What
// training writes into replay.safetensors at its end, and what the page's live view reads while a
// run trains.
Replay replay_from_run_logs(const std::string& layouts, const std::string& log, int samples, int source_samples,
                            const std::string& source, const std::string& target);
// Throws std::runtime_error "<origin>: ..." when a tensor is missing or its shape disagrees.
Replay parse_replay(std::vector<std::uint8_t> bytes, const std::string& origin);

// Makes E layouts of N 2-D points (E x N x 2) comparable: each is centred, scaled to unit RMS
// radius, and rotated or reflected onto the last epoch's (orthogonal Procrustes). Each epoch keeps
// its own PCA plane; only its orientation, sign and scale change, so that the points move as the
// features change rather than when the plane's axes flip.
void align_layouts(std::vector<float>& xy, int epochs, int n);

}  // namespace dida
