#include "step_profile.hpp"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "dida/safetensors.hpp"

namespace dida {

namespace prof = torch::autograd::profiler;

void StepProfile::begin() {
  prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  started_ = std::chrono::steady_clock::now();
}

void StepProfile::end() {
  const auto lists = prof::disableProfilerLegacy();
  step_us_ += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - started_).count();
  ++steps_;
  // Each thread's events nest (push ... pop): an operator's own time is its span less its
  // children's spans. Pops are matched to pushes by handle, as the profiler's own tables do.
  for (const auto& list : lists) {
    struct Open {
      const prof::LegacyEvent* push;
      double children_us;
    };
    std::vector<Open> stack;
    for (const auto& e : list) {
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back({&e, 0});
      } else if (e.kind() == prof::EventKind::PopRange) {
        auto it = std::find_if(stack.rbegin(), stack.rend(), [&](const Open& o) { return o.push->handle() == e.handle(); });
        if (it == stack.rend()) continue;
        const double span = it->push->cpuElapsedUs(e);
        Row& r = ops_[it->push->name()];
        r.total_us += span, r.self_us += span - it->children_us, ++r.calls;
        stack.erase(std::next(it).base());
        if (!stack.empty()) stack.back().children_us += span;
      }
    }
  }
}

void StepProfile::write(const std::string& path, int threads, int top) const {
  std::vector<std::pair<std::string, Row>> rows(ops_.begin(), ops_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
  double ops_us = 0;
  for (const auto& [name, r] : rows) ops_us += r.self_us;
  nlohmann::json j = {{"steps", steps_},
                      {"threads", threads},
                      {"step_ms", steps_ ? step_us_ / 1e3 / steps_ : 0.0},
                      {"operators_ms_per_step", steps_ ? ops_us / 1e3 / steps_ : 0.0}};
  j["operators"] = nlohmann::json::array();
  for (const auto& [name, r] : rows)
    j["operators"].push_back({{"name", name},
                              {"calls_per_step", steps_ ? static_cast<double>(r.calls) / steps_ : 0.0},
                              {"self_ms_per_step", steps_ ? r.self_us / 1e3 / steps_ : 0.0},
                              {"total_ms_per_step", steps_ ? r.total_us / 1e3 / steps_ : 0.0},
                              {"self_share", ops_us > 0 ? r.self_us / ops_us : 0.0}});
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(path, text.data(), text.size());  // no link followed, no special file replaced
  std::cerr << std::fixed << std::setprecision(2) << "profile: " << steps_ << " steps, " << j["step_ms"].get<double>()
            << " ms a step (profiler on), operators' own time " << j["operators_ms_per_step"].get<double>() << " ms; " << path << "\n";
  for (int i = 0; i < std::min<int>(top, static_cast<int>(rows.size())); ++i) {
    const auto& [name, r] = rows[i];
    std::cerr << "  " << std::setw(6) << std::setprecision(1) << 100.0 * r.self_us / std::max(ops_us, 1.0) << " %  "
              << std::setw(8) << std::setprecision(2) << r.self_us / 1e3 / steps_ << " ms  " << std::setw(6)
              << std::setprecision(0) << static_cast<double>(r.calls) / steps_ << " calls  " << name << "\n";
  }
}

}  // namespace dida
