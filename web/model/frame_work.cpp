#include "frame_work.hpp"

namespace dida::web {

void do_frame_work(ExplorerModel& shown, ExplorerModel* beside, const FrameBudget& budget) {
  if (!shown.loaded()) return;
  if (!shown.predicted_all()) shown.predict_next(budget.predict_chunk);
  shown.step_probes(budget.probe_work);
  if (shown.tsne()) shown.step_tsne(budget.tsne_iterations);
  if (!beside || !beside->loaded()) return;
  if (!beside->predicted_all()) {
    beside->predict_next(budget.predict_chunk);
    return;
  }
  if (beside->tsne()) beside->step_tsne(budget.tsne_iterations);
  if (shown.probes_done()) beside->step_probes(budget.probe_work);
}

}  // namespace dida::web
