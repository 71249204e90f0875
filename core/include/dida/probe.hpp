#pragma once
// A linear probe: how much of a label (the domain, the class) a feature vector gives away to a
// linear classifier. Multinomial logistic regression on features standardised with the fitting
// half's mean and std, fitted by Adam (300 steps, rate 0.05, L2 1e-3 on the weights): the recipe
// of `dida eval`'s probes, so the page's live probe and the evaluation measure the same thing. It
// runs stepwise, so the page can spread the fit over frames.
#include <utility>
#include <vector>

namespace dida {

class LinearProbe {
 public:
  static constexpr int kSteps = 300;
  // x: n x d row-major; y: n labels in [0, classes); fit, test: row indices.
  LinearProbe(const std::vector<float>& x, int n, int d, const std::vector<int>& y, int classes,
              const std::vector<int>& fit, const std::vector<int>& test);
  // Up to `steps` Adam steps; returns false once all kSteps are done.
  bool step(int steps);
  // About `work` multiply-adds of fitting (a step's gradient is summed over the fitting rows a
  // chunk at a time), so that a frame's share stays small; returns false once all are done.
  bool advance(long work);
  bool done() const { return iteration_ >= kSteps; }
  int iteration() const { return iteration_; }
  // Share of the test rows the probe labels correctly (with the weights so far).
  double test_accuracy() const;
  // What guessing the most common label of the fitting rows scores on the test rows.
  double chance() const { return chance_; }
  const std::vector<double>& weights() const { return w_; }  // d x classes, row-major

 private:
  int d_, k_;
  std::vector<double> a_, b_;   // standardised fitting and test rows
  std::vector<int> ya_, yb_;
  std::vector<double> w_, bias_;  // d x k, k
  std::vector<double> m_, v_;     // Adam's moments, over w then bias
  std::vector<double> g_;         // the gradient being summed, over w then bias
  std::size_t row_ = 0;           // the next fitting row of the step being summed
  int iteration_ = 0;
  void add_rows(std::size_t end);  // adds rows row_..end to g_
  void update();                   // the Adam step with g_, which it clears
  double chance_ = 0;
};

// The probes' protocol, the page's and `dida eval`'s: two halves of the rows, a probe fitted on
// each and tested on the other, their accuracies averaged (cross-fitting: every row is tested once,
// and the figure varies less with the split than one probe's). It steps as a LinearProbe does,
// the first half's probe, then the second's.
class CrossFitProbe {
 public:
  static constexpr int kSteps = 2 * LinearProbe::kSteps;
  // Rows per domain that a probe of `dida eval` draws at a time: the page's probes read as many
  // (its sample set's 200 shown images of each domain and 300 more, its probe images), and a
  // probe's figure depends on how many rows it fits (fewer: it finds less). One draw of 200 strayed
  // up to 4.3 points from the mean of five (docs/RESULTS.md).
  static constexpr int kRowsPerDomain = 500;
  CrossFitProbe(const std::vector<float>& x, int n, int d, const std::vector<int>& y, int classes,
                const std::vector<int>& half_a, const std::vector<int>& half_b);
  bool step(int steps);
  bool advance(long work);
  bool done() const { return b_.done(); }
  int iteration() const { return a_.iteration() + b_.iteration(); }
  double test_accuracy() const;  // the mean of the two (each row tested once)
  double chance() const;

 private:
  LinearProbe a_, b_;  // fitted on half a and tested on b; the other way round
  double rows_a_, rows_b_;
};

// The page's rows in draws, which `dida eval` reproduces (page_probes). With k the smaller domain's
// row count, every draw reads all k rows of that domain and the next k of the other's, in order and
// wrapping, until every row of the larger domain has been read once (at most kMaxDraws draws): a
// draw's figure strays from the mean of many by a few points when k is small (optdigits' 180
// source-val images), and the page should not leave its other rows unread. Within a draw the
// domain probes fit the i-th row of each domain for even i and test it for odd i; the class probe
// fits the even-numbered of [the draw's source rows, then its target rows] and tests the odd.
struct ProbeDraw {
  std::vector<int> domain_fit, domain_test, class_fit, class_test;  // row indices
};
constexpr int kMaxProbeDraws = 5;
// source_rows, target_rows: each domain's row indices, in held-out order. No draw when either is empty.
std::vector<ProbeDraw> page_probe_draws(const std::vector<int>& source_rows, const std::vector<int>& target_rows);

// One probe over several draws of rows (the same label and features): the draws' CrossFitProbes
// fitted one after another, the figure their mean.
class ProbeOverDraws {
 public:
  void add(CrossFitProbe p) { probes_.push_back(std::move(p)); }
  bool advance(long work);  // as CrossFitProbe's; false once all are done
  bool done() const;
  int draws() const { return static_cast<int>(probes_.size()); }
  double progress() const;  // 0..1 over all draws
  double test_accuracy() const;
  double chance() const;

 private:
  std::vector<CrossFitProbe> probes_;
};

}  // namespace dida
