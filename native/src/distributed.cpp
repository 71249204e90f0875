#include "distributed.hpp"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef DIDA_WITH_NCCL  // a CUDA LibTorch (native/CMakeLists.txt): compiled only there
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace dida {

namespace {

int env_int(const char* name, int fallback, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    throw std::runtime_error(std::string(name) + "=" + v + ": not a number from " + std::to_string(lo) + " to " + std::to_string(hi));
  return static_cast<int>(x);
}

// A flat copy of the tensors (all float32 here) and its way back.
torch::Tensor flatten(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> flat;
  flat.reserve(ts.size());
  for (const auto& t : ts) flat.push_back(t.detach().reshape({-1}).to(torch::kFloat));
  return torch::cat(flat);
}

void unflatten_into(const torch::Tensor& flat, const std::vector<torch::Tensor>& ts) {
  torch::NoGradGuard no_grad;
  int64_t at = 0;
  for (const auto& t : ts) {
    const int64_t n = t.numel();
    t.copy_(flat.slice(0, at, at + n).view(t.sizes()));
    at += n;
  }
}

}  // namespace

std::string gloo_listen_address(const std::string& master_addr, const std::string& ifname) {
  if (!ifname.empty()) return ifname.substr(0, ifname.find(','));
  const bool loopback = master_addr.empty() || master_addr == "localhost" || master_addr == "::1" ||
                        master_addr.rfind("127.", 0) == 0;
  return loopback ? "" : "*";
}

Ranks::Ranks(int rank, int world, const c10::intrusive_ptr<c10d::Store>& store, std::chrono::milliseconds timeout,
             const std::string& master_addr)
    : rank_(rank), world_(world), store_(store), timeout_(timeout) {
  if (world < 1 || rank < 0 || rank >= world)
    throw std::runtime_error("rank " + std::to_string(rank) + " of " + std::to_string(world) + ": no such rank");
  if (world == 1) return;
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // Ranks on other machines connect to the address this one listens on: never loopback then.
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  const std::string listen = gloo_listen_address(master_addr, ifname ? ifname : "");
  try {
    options->devices.push_back(listen.empty()   ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                               : listen == "*" ? c10d::ProcessGroupGloo::createDefaultDevice()
                                               : c10d::ProcessGroupGloo::createDeviceForInterface(listen));
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(rank) + ": no network interface for the ranks' transport (" +
                             (listen == "*" ? std::string("this machine's host name") : "GLOO_SOCKET_IFNAME=" + listen) +
                             "): " + std::string(e.what()).substr(0, std::string(e.what()).find('\n')));
  }
  options->threads = 1;
  try {
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(rank) + " of " + std::to_string(world) +
                             ": the ranks did not all meet within " + std::to_string(timeout.count() / 1000) + " s (" +
                             std::string(e.what()).substr(0, std::string(e.what()).find('\n')) + ")");
  }
}

Ranks Ranks::from_environment(std::chrono::milliseconds timeout) {
  const int world = env_int("WORLD_SIZE", 1, 1, 65536);
  if (world == 1) return Ranks();
  const char* rank_text = std::getenv("RANK");
  if (!rank_text) throw std::runtime_error("WORLD_SIZE=" + std::to_string(world) + " without RANK (start the ranks with torchrun)");
  const int rank = env_int("RANK", 0, 0, world - 1);
  const char* addr = std::getenv("MASTER_ADDR");
  const int port = env_int("MASTER_PORT", -1, 1, 65535);
  if (!addr || !*addr || port < 0) throw std::runtime_error("MASTER_ADDR and MASTER_PORT are needed with WORLD_SIZE > 1");
  // torchrun's agent already holds a store at MASTER_PORT and says so: every rank is then its
  // client, under the prefix of the agent's attempt (what PyTorch's env:// rendezvous does).
  const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  const bool agent_store = agent && std::string(agent) == "True";
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = rank == 0 && !agent_store;
  so.numWorkers = world;
  so.waitWorkers = false;
  so.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(addr, so);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("rank ") + std::to_string(rank) + ": the store at " + addr + ":" + std::to_string(port) +
                             " could not be " + (rank == 0 ? "opened" : "reached") + " within " +
                             std::to_string(timeout.count() / 1000) + " s (" +
                             std::string(e.what()).substr(0, std::string(e.what()).find('\n')) + ")");
  }
  if (agent_store) {
    const char* attempt = std::getenv("TORCHELASTIC_RESTART_COUNT");
    store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::string(attempt ? attempt : "0"), store);
  }
  return Ranks(rank, world, store, timeout, addr);
}

void Ranks::count(const torch::Tensor& t, std::chrono::steady_clock::time_point since) const {
  comm_->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  comm_->bytes += static_cast<int64_t>(t.numel() * t.element_size());
}

// Which ranks are gone: every rank that sees a collective fail says so in the store and, a few
// seconds later, the ranks that have not said so are the ones named. A store that cannot be
// reached was rank 0's (or torchrun's agent's): rank 0, or its machine, is then the one gone.
std::string Ranks::lost_ranks() const {
  try {
    store_->set("dida/failed/" + std::to_string(rank_), std::vector<std::uint8_t>{1});
    std::this_thread::sleep_for(std::chrono::seconds(3));
    std::string lost;
    for (int r = 0; r < world_; ++r)
      if (!store_->check({"dida/failed/" + std::to_string(r)})) lost += (lost.empty() ? "" : ", ") + std::to_string(r);
    return lost.empty() ? "no rank is missing from the store: the network between ranks failed"
                        : std::string("rank") + (lost.find(',') != std::string::npos ? "s " : " ") + lost + " stopped or cannot be reached";
  } catch (const std::exception&) {
    return "the ranks' store cannot be reached: rank 0 (or the launcher holding the store) stopped";
  }
}

void Ranks::finish(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
  try {
    work->wait();
  } catch (const std::exception& e) {
    const std::string why = e.what();
    throw std::runtime_error("rank " + std::to_string(rank_) + " of " + std::to_string(world_) + ": the ranks' " + what +
                             " failed: " + lost_ranks() + " (" + why.substr(0, why.find('\n')) + ")");
  }
}

std::string Ranks::backend() const {
  if (!group_) return "none";
  return data_group_ ? data_group_->getBackendName() + "+" + group_->getBackendName() : group_->getBackendName();
}

bool Ranks::nccl_built() {
#ifdef DIDA_WITH_NCCL
  return true;
#else
  return false;
#endif
}

torch::Device Ranks::use_cuda() {
#ifdef DIDA_WITH_NCCL
  const int gpus = static_cast<int>(torch::cuda::device_count());
  const int local = env_int("LOCAL_RANK", rank_, 0, 65535);
  const auto index = static_cast<c10::DeviceIndex>(local % std::max(gpus, 1));
  c10::cuda::set_device(index);
  if (!group_) return torch::Device(torch::kCUDA, index);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout_;
  data_group_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("dida/nccl", store_), rank_,
                                                            world_, options);
  return torch::Device(torch::kCUDA, index);
#else
  if (!group_) return torch::Device(torch::kCUDA);
  throw std::runtime_error("data-parallel training on CUDA needs c10d's NCCL group, which this LibTorch lacks "
                           "(a CUDA build of LibTorch has it); on this one: --device cpu");
#endif
}

void Ranks::average_gradients(const std::vector<torch::Tensor>& params) const {
  if (!group_) return;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.mutable_grad());
  if (grads.empty()) return;
  std::vector<torch::Tensor> bucket = {flatten(grads)};
  const auto t0 = std::chrono::steady_clock::now();
  finish(data_group()->allreduce(bucket), "gradient average");
  count(bucket[0], t0);
  unflatten_into(bucket[0].div_(world_), grads);
}

void Ranks::broadcast(const std::vector<torch::Tensor>& tensors) const {
  if (!group_ || tensors.empty()) return;
  std::vector<torch::Tensor> bucket = {flatten(tensors)};
  const auto t0 = std::chrono::steady_clock::now();
  finish(data_group()->broadcast(bucket), "broadcast");
  count(bucket[0], t0);
  unflatten_into(bucket[0], tensors);
}

bool Ranks::any(bool flag) const {
  if (!group_) return flag;
  std::vector<torch::Tensor> t = {torch::full({1}, flag ? 1.f : 0.f)};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::MAX;
  const auto t0 = std::chrono::steady_clock::now();
  finish(group_->allreduce(t, o), "step agreement");
  count(t[0], t0);
  return t[0].item<float>() > 0;
}

void Ranks::check_same(const std::string& text, const std::string& what) const {
  if (!group_) return;
  // Each rank's text as bytes, padded to the longest: gathered, compared with rank 0's.
  std::vector<torch::Tensor> len = {torch::full({1}, static_cast<int64_t>(text.size()), torch::kLong)};
  c10d::AllreduceOptions mx;
  mx.reduceOp = c10d::ReduceOp::MAX;
  finish(group_->allreduce(len, mx), "check of the options");
  const int64_t n = len[0].item<int64_t>() + 1;
  auto mine = torch::zeros({n}, torch::kUInt8);
  std::memcpy(mine.data_ptr<std::uint8_t>(), text.data(), text.size());
  mine[static_cast<int64_t>(text.size())] = 1;  // so that "a" and "a\0" differ
  std::vector<std::vector<torch::Tensor>> all(1);
  for (int r = 0; r < world_; ++r) all[0].push_back(torch::empty({n}, torch::kUInt8));
  std::vector<torch::Tensor> in = {mine};
  finish(group_->allgather(all, in), "check of the options");
  for (int r = 1; r < world_; ++r)
    if (!torch::equal(all[0][static_cast<std::size_t>(r)], all[0][0]))
      throw std::runtime_error("rank " + std::to_string(r) + "'s " + what + " differ from rank 0's: every rank must be started with the same ones");
}

}  // namespace dida
