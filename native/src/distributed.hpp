#pragma once
// Data-parallel training on PyTorch's c10d: the ranks of a run, joined through c10d's TCPStore from
// the environment torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and what a step needs
// of them: each optimiser's gradients averaged in one flat bucket, tensors set to rank 0's, a flag
// any rank raised, and a text every rank must agree on. Gloo carries everything on the CPU; on CUDA
// (a LibTorch built with NCCL: DIDA_WITH_NCCL) NCCL carries the gradients and weights, Gloo the
// flags and checks. No transport of our own.
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/torch.h>
#include <torch/version.h>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#include <chrono>
#include <string>
#include <vector>

namespace dida {

// Where a rank's Gloo transport listens (the other ranks connect to it there): the interface
// GLOO_SOCKET_IFNAME names (`ifname`, as PyTorch reads it: the first of a comma list), "" when the
// ranks all run on this machine (`master_addr` a loopback address), or "*" for the address this
// machine's host name resolves to (PyTorch's default).
std::string gloo_listen_address(const std::string& master_addr, const std::string& ifname);

// What runs the collectives: since PyTorch 2.0 Gloo and NCCL are a process group's backends.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveGroup = c10d::Backend;
#else
using CollectiveGroup = c10d::ProcessGroup;
#endif

class Ranks {
 public:
  // One process alone: rank 0 of 1, no group; every call below is then a no-op.
  Ranks() = default;
  // Rank `rank` of `world` over `store` (tests run ranks as threads of one process over one store).
  // Every collective gives up after `timeout` with an error instead of waiting for ever.
  // Its Gloo transport listens where `master_addr` says the ranks are (gloo_listen_address).
  Ranks(int rank, int world, const c10::intrusive_ptr<c10d::Store>& store, std::chrono::milliseconds timeout,
        const std::string& master_addr = "127.0.0.1");
  // The group torchrun (or `dida train --nproc`) describes in the environment; alone when
  // WORLD_SIZE is unset or 1. Throws std::runtime_error with one line (a variable missing or wrong,
  // a store that cannot be reached, ranks that do not all arrive within `timeout`).
  static Ranks from_environment(std::chrono::milliseconds timeout);

  int rank() const { return rank_; }
  int world() const { return world_; }
  bool alone() const { return world_ == 1; }
  std::string backend() const;  // "gloo", "nccl+gloo" on CUDA, or "none" alone

  // Whether this build has c10d's NCCL group (a CUDA LibTorch; Debian's has none).
  static bool nccl_built();
  // For training on CUDA: this rank's GPU (LOCAL_RANK's, modulo the GPUs there are), made the
  // current device, and an NCCL group for average_gradients and broadcast over the same store.
  // Throws one line when this LibTorch has no NCCL group. Call before the Ranks are copied.
  torch::Device use_cuda();

  // Every defined gradient of `params` summed over the ranks and divided by their number: one
  // all-reduce of one flat buffer (a bucket), copied back.
  void average_gradients(const std::vector<torch::Tensor>& params) const;
  // `tensors` (parameters, buffers) set in place to rank 0's, in one flat buffer.
  void broadcast(const std::vector<torch::Tensor>& tensors) const;
  // Whether any rank's `flag` is true (a Ctrl-C seen by one rank stops all at the same step).
  bool any(bool flag) const;
  // Throws std::runtime_error on every rank unless every rank's `text` is the same: what differs is
  // named by `what` and the first rank that differs from rank 0.
  void check_same(const std::string& text, const std::string& what) const;

  // What the collectives cost so far on this rank: seconds waited (the transfer and any wait for a
  // slower rank) and bytes sent into them (each all-reduce or broadcast buffer once).
  double comm_seconds() const { return comm_->seconds; }
  int64_t comm_bytes() const { return comm_->bytes; }

 private:
  struct Comm {
    double seconds = 0;
    int64_t bytes = 0;
  };
  void count(const torch::Tensor& t, std::chrono::steady_clock::time_point since) const;
  // Waits for a collective; when it fails, throws one line naming the ranks that are gone.
  void finish(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const;
  std::string lost_ranks() const;
  int rank_ = 0, world_ = 1;
  c10::intrusive_ptr<c10d::Store> store_;
  std::chrono::milliseconds timeout_{0};
  c10::intrusive_ptr<CollectiveGroup> group_;       // Gloo: everything on the CPU, flags and checks always
  c10::intrusive_ptr<CollectiveGroup> data_group_;  // NCCL on CUDA: the gradients and weights
  const c10::intrusive_ptr<CollectiveGroup>& data_group() const { return data_group_ ? data_group_ : group_; }
  std::shared_ptr<Comm> comm_ = std::make_shared<Comm>();  // shared by the copies of these ranks
};

}  // namespace dida
