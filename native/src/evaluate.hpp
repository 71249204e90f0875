#pragma once
// `dida eval` and `dida bench`: accuracies and the disentanglement measures of METHOD.md.
#include <nlohmann/json.hpp>
#include <string>
#include <torch/torch.h>

#include "dida/native/options.hpp"

namespace dida {

struct EvalResult {
  double target_accuracy = 0, source_accuracy = 0;
  double domain_probe_inv = 0, domain_probe_spe = 0, class_probe_spe = 0;
  double mi_estimate = 0, a_distance_inv = 0, a_distance_spe = 0;
  int source_images = 0, target_images = 0;
  nlohmann::json to_json() const;
};

EvalResult evaluate(const EvalOptions& options);

// Logistic regression (softmax, L2) fitted on (x_train, y_train); accuracy on (x_test, y_test).
double probe_accuracy(const torch::Tensor& x_train, const torch::Tensor& y_train, const torch::Tensor& x_test,
                      const torch::Tensor& y_test, int classes);

// Kraskov-Stoegbauer-Grassberger estimate (algorithm 1, k neighbours, max-norm) of I(X; Y) in nats.
double ksg_mutual_information(const torch::Tensor& x, const torch::Tensor& y, int k = 3);

// Digamma function (for KSG).
double digamma(double x);

int run_bench(const BenchOptions& options);

}  // namespace dida
