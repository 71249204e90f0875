#pragma once
// Training schedules of METHOD.md (DANN): both take the training progress p in [0, 1].

namespace dida {
// Gradient-reversal weight: lambda_p = 2 / (1 + exp(-gamma p)) - 1, gamma = 10.
double grl_lambda(double progress, double gamma = 10.0);
// Learning-rate annealing factor: 1 / (1 + alpha p)^beta, alpha = 10, beta = 0.75.
double lr_factor(double progress, double alpha = 10.0, double beta = 0.75);
}  // namespace dida
