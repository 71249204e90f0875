#pragma once
// The page's work between two frames, for the model shown and the one beside it: the core's
// predictions a chunk at a time, the live probes a bounded share at a time (the model shown first,
// then the other: one probe at a time, so a frame's work stays bounded), and t-SNE's iterations.
// GL-free: the view calls it once per frame, before drawing.
#include "explorer_model.hpp"

namespace dida::web {

struct FrameBudget {
  int predict_chunk = ExplorerModel::kChunk;  // samples the core predicts per model
  long probe_work = 1L << 19;                 // multiply-adds of probe fitting (about 3 ms)
  int tsne_iterations = 5;                    // per model, while t-SNE is the projection
};

void do_frame_work(ExplorerModel& shown, ExplorerModel* beside, const FrameBudget& budget = {});

}  // namespace dida::web
