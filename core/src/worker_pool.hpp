#pragma once
// The core's worker threads (native builds; the wasm build runs a pass on one thread).
#ifndef __EMSCRIPTEN__
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dida {

// Worker threads that live as long as the process: each keeps its own padded-image buffer
// (thread_local in conv2d_channels_last) from one forward pass to the next, which threads started per call would
// allocate and fault in again every time.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
    return pool;
  }
  // Runs job(0) on the calling thread and job(1) .. job(parts - 1) on workers; returns when all are done.
  void run(int parts, const std::function<void(int)>& job) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (static_cast<int>(workers_.size()) < parts - 1) {
      const int id = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, id] { work(id); });
    }
    job_ = &job, parts_ = parts, pending_ = parts - 1, ++generation_;
    wake_.notify_all();
    lock.unlock();
    job(0);
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  void work(int id) {
    int seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (id >= parts_) continue;
      const std::function<void(int)>* job = job_;
      lock.unlock();
      (*job)(id);
      lock.lock();
      if (--pending_ == 0) done_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0, pending_ = 0, generation_ = 0;
  bool stop_ = false;
};

}  // namespace dida
#endif
