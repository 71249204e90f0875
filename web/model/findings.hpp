#pragma once
// What the walkthrough says about the shown model is what the page measures on it: these sentences
// are built from the live probes and the swap grid's own figures, so a property they state ("close
// to chance", "in its column's style") holds for the numbers printed beside it. GL-free, tested.
#include <string>

#include "explorer_model.hpp"

namespace dida::web {

// How far a probe reads above chance, in words: its accuracy's share of the way from chance to 1
// (<= kClose: "close to chance"; <= kPartly: "above chance"; beyond: "far above chance").
struct ProbeVerdict {
  static constexpr double kClose = 0.2, kPartly = 0.5;
  static std::string of(double accuracy, double chance);
  // The accuracy's share of the way from chance to 1 (0: chance, 1: every image right).
  static double share(double accuracy, double chance);
};

// Chapter "the probes": the three live probes of the shown model, each with its verdict and what a
// split that holds would show; "" before the model has features.
std::string probe_findings(const ExplorerModel& m);

// Chapter "the swap": how many of the grid's cells are nearest, by colour statistics, to their own
// column's style image, against chance (1 in the number of columns).
std::string swap_findings(const ExplorerModel& m);

}  // namespace dida::web
