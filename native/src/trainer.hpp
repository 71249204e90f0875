#pragma once
// `dida train`: the run loop around the training step (train_step.hpp): resume, progress, signals,
// the log, checkpoints, the replay and the bundle.
#include <string>

#include "dida/native/options.hpp"

namespace dida {

// Exit codes of run_training.
constexpr int kTrainDone = 0, kTrainInterrupted = 130, kTrainDiverged = 3;

// Trains (or, with resume, continues the run in options.out). Returns one of the codes above;
// throws std::runtime_error with a one-line reason for bad options, data or checkpoints.
int run_training(TrainOptions options, bool resume);

// Appends one line (and a newline) to a file, creating it.
void append_line(const std::string& path, const std::string& line);
// Keeps the lines of a JSON-lines file whose "epoch" is 1..epochs_kept (a resumed run trains the
// later ones again); nothing happens when the file does not exist.
void trim_epoch_lines(const std::string& path, int epochs_kept);

}  // namespace dida
