#pragma once
// `dida predict`: the core's forward pass (no LibTorch) on image files, or on a sample set.
#include <string>
#include <vector>

namespace dida::cli {

// Prints each file's class, probability and domain-head outputs (or JSON); 1 when a file failed.
// `threads`: the core's (dida --threads).
int predict(const std::string& bundle, const std::vector<std::string>& images, bool json, int threads);
// `dida predict BUNDLE --samples FILE`: accuracy per domain on a sample set (the page's).
int predict_samples(const std::string& bundle, const std::string& samples_file, bool json, int threads);

}  // namespace dida::cli
