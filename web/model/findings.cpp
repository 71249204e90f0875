#include "findings.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dida::web {

namespace {

// Halves rounded up, as the probe panel and the page's state round them (printf's %.0f rounds
// 22.5 to 22, to even).
std::string percent(double x) { return std::to_string(std::lround(100.0 * x)) + " %"; }

}  // namespace

double ProbeVerdict::share(double accuracy, double chance) { return chance < 1 ? (accuracy - chance) / (1 - chance) : 0; }

std::string ProbeVerdict::of(double accuracy, double chance) {
  const double s = share(accuracy, chance);
  if (s <= kClose) return "close to chance";
  if (s <= kPartly) return "above chance";
  return "far above chance";
}

std::string probe_findings(const ExplorerModel& m) {
  const auto inv = m.probe(ExplorerModel::kDomainInv), spe = m.probe(ExplorerModel::kDomainSpe),
             cls = m.probe(ExplorerModel::kClassSpe);
  if (inv.accuracy < 0 || spe.accuracy < 0 || cls.accuracy < 0) {
    if (inv.chance == 0 && spe.chance == 0 && cls.chance == 0) return "";
    return "Measuring this model: the probes are still fitting.";
  }
  const auto line = [](const char* what, const ExplorerModel::ProbeReadout& r, const char* want) {
    // The verdict says how it was judged: "close to chance" at 23 % against 11 % is a reader's
    // surprise unless the page says that this is 13 % of the way from chance to every image right.
    const long way = std::lround(100.0 * std::max(0.0, ProbeVerdict::share(r.accuracy, r.chance)));
    return std::string(what) + " " + percent(r.accuracy) + " (chance " + percent(r.chance) + "): " +
           ProbeVerdict::of(r.accuracy, r.chance) + " (" + std::to_string(way) +
           " % of the way from chance to every image right); a split that holds: " + want + ".";
  };
  // Where one domain has fewer held-out images, the page's figure is the mean of draws (page_probe_draws).
  const std::string drawn = inv.draws > 1 ? "the mean of " + std::to_string(inv.draws) + " draws of this page's held-out images"
                                          : "one draw, this page's held-out images";
  return "Measured on this model, here: " + line("the domain read from z_spe", spe, "far above chance") + " " +
         line("The domain read from z_inv", inv, "close to chance") + " " +
         line("The class read from z_spe", cls, "close to chance") + " These are " + drawn +
         "; dida eval averages five draws of as many held-out images (the model's card).";
}

std::string swap_findings(const ExplorerModel& m) {
  const double r = m.swap_readout().style_retrieval;
  const int cols = static_cast<int>(m.swap_cols().size()), cells = cols * static_cast<int>(m.swap_rows().size());
  if (r < 0 || cells == 0) return "";
  const int right = static_cast<int>(std::lround(r * cells));
  const double chance = 1.0 / cols;
  std::string said = "Measured on this grid: " + std::to_string(right) + " of " + std::to_string(cells) +
                     " cells are nearest, by each colour's mean and spread, to their own column's style image (chance 1 in " +
                     std::to_string(cols) + "): ";
  if (right == cells) return said + "every cell takes its own column's look.";
  const auto verdict = ProbeVerdict::of(r, chance);
  if (verdict == "close to chance") return said + "the cells do not take their own columns' looks.";
  if (verdict == "above chance") return said + "some cells take their own column's look, most do not.";
  return said + "most cells take their own column's look; the others are nearer another column's.";
}

}  // namespace dida::web
