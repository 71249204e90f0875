// Data-parallel training's collectives on c10d's Gloo group: ranks as threads of this process over
// one in-memory store, on 127.0.0.1.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "distributed.hpp"
#include "model.hpp"
#include "test_util.hpp"

namespace dida {
namespace {

using namespace std::chrono_literals;

// LibTorch's random generator is one for the process: ranks as threads make their networks one at
// a time, so that each is seeded as a process of its own would be.
std::mutex g_init;

// Runs `body(ranks)` on `world` ranks, each a thread; returns each rank's error ("" when none).
std::vector<std::string> on_ranks(int world, const std::function<void(const Ranks&)>& body, std::chrono::milliseconds timeout = 20s,
                                  int arriving = -1) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::string> errors(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < (arriving < 0 ? world : arriving); ++r)
    threads.emplace_back([&, r]() {
      try {
        const Ranks ranks(r, world, store, timeout);
        body(ranks);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

ModelConfig tiny_net() {
  ModelConfig c;
  c.width = 4, c.head_hidden = 8, c.mine_hidden = 8;
  return c;
}

std::vector<torch::Tensor> grads_of(DidaNetImpl& net) {
  std::vector<torch::Tensor> g;
  for (const auto& p : net.parameters()) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return g;
}

}  // namespace

TEST(Distributed, TwoRanksAverageTheGradientsOfTheirHalfBatches) {
  torch::manual_seed(5);
  const auto x = torch::rand({8, 3, 32, 32}) * 2 - 1;
  const auto y = torch::randint(0, 10, {8}, torch::kLong);
  const auto loss_on = [&](DidaNetImpl& net, int64_t from, int64_t to) {
    return torch::cross_entropy_loss(net.forward(x.slice(0, from, to))["logits"], y.slice(0, from, to));
  };
  // In one process: the mean of the two half-batches' gradients (each half with its own batch norm).
  torch::manual_seed(1);
  DidaNet ref(tiny_net());
  loss_on(*ref, 0, 4).backward();
  const auto first = grads_of(*ref);
  ref->zero_grad();
  loss_on(*ref, 4, 8).backward();
  const auto second = grads_of(*ref);
  // On two ranks, a half each, averaged by the group.
  std::vector<std::vector<torch::Tensor>> got(2);
  std::string backend;
  const auto errors = on_ranks(2, [&](const Ranks& ranks) {
    DidaNet net(nullptr);
    {
      const std::lock_guard<std::mutex> one_at_a_time(g_init);
      torch::manual_seed(1);  // the same initial weights on both ranks
      net = DidaNet(tiny_net());
    }
    loss_on(*net, 4 * ranks.rank(), 4 * ranks.rank() + 4).backward();
    ranks.average_gradients(net->parameters());
    got[static_cast<std::size_t>(ranks.rank())] = grads_of(*net);
    if (ranks.rank() == 0) backend = ranks.backend();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(backend, "gloo") << "the Gloo group, not a fallback to one process";
  // Float rounding only: the summation order of a convolution's gradient depends on the threads.
  for (int r = 0; r < 2; ++r)
    for (std::size_t i = 0; i < first.size(); ++i) {
      const auto want = (first[i] + second[i]) / 2;
      const double err = (got[static_cast<std::size_t>(r)][i] - want).norm().item<double>();
      ASSERT_LE(err, 1e-5 * want.norm().item<double>() + 1e-9) << "rank " << r << ", parameter " << i;
    }
}

// Where two ranks must agree with one process: a network without batch statistics, the mean loss
// of the batch, equal halves. Then the mean of the halves' gradients is the whole batch's, so ten
// Adam steps on two ranks (a half each) end where ten on the whole batch in one process do, up to
// float rounding, and the two ranks hold the same weights. (dida's network normalises each
// rank's half with its own batch statistics: a 2-rank run is not the 1-rank run of the double
// batch, and is compared at the gradients above.)
TEST(Distributed, TwoRanksOfAnMlpEndWhereOneProcessOfTheWholeBatchDoes) {
  torch::manual_seed(9);
  const auto x = torch::randn({16, 12}), y = torch::randint(0, 3, {16}, torch::kLong);
  const auto make = []() {
    const std::lock_guard<std::mutex> one_at_a_time(g_init);
    torch::manual_seed(3);
    return torch::nn::Sequential(torch::nn::Linear(12, 20), torch::nn::Tanh(), torch::nn::Linear(20, 3));
  };
  const auto train = [&](torch::nn::Sequential net, const Ranks& ranks) {
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(0.05));
    const int64_t n = 16 / ranks.world(), from = n * ranks.rank();
    for (int step = 0; step < 10; ++step) {
      opt.zero_grad();
      torch::cross_entropy_loss(net->forward(x.slice(0, from, from + n)), y.slice(0, from, from + n)).backward();
      ranks.average_gradients(net->parameters());
      opt.step();
    }
    return torch::cat({net->parameters()[0].flatten(), net->parameters()[1], net->parameters()[2].flatten(), net->parameters()[3]}).detach();
  };
  const auto alone = train(make(), Ranks());
  std::vector<torch::Tensor> ranked(2);
  const auto errors = on_ranks(2, [&](const Ranks& ranks) { ranked[static_cast<std::size_t>(ranks.rank())] = train(make(), ranks); });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_TRUE(torch::equal(ranked[0], ranked[1])) << "the ranks stay in step";
  EXPECT_LT((ranked[0] - alone).abs().max().item<double>(), 1e-5);
}

TEST(Distributed, BroadcastAnyAndTheSameOptionsOnEveryRank) {
  std::vector<torch::Tensor> after(3);
  std::vector<int> any_seen(3);
  auto errors = on_ranks(3, [&](const Ranks& ranks) {
    auto t = torch::full({2, 2}, static_cast<float>(ranks.rank() + 1));
    ranks.broadcast({t});
    after[static_cast<std::size_t>(ranks.rank())] = t;
    any_seen[static_cast<std::size_t>(ranks.rank())] = ranks.any(ranks.rank() == 2) ? 1 : 0;
    ranks.check_same("epochs=5", "options");
  });
  EXPECT_EQ(errors, (std::vector<std::string>(3, "")));
  for (const auto& t : after) EXPECT_TRUE(torch::equal(t, torch::ones({2, 2})));
  EXPECT_EQ(any_seen, (std::vector<int>{1, 1, 1}));
  // One rank started with other options: every rank stops with the same line.
  errors = on_ranks(3, [&](const Ranks& ranks) { ranks.check_same(ranks.rank() == 1 ? "epochs=6" : "epochs=5", "options"); });
  for (const auto& e : errors) EXPECT_EQ(e, "rank 1's options differ from rank 0's: every rank must be started with the same ones");
}

TEST(Distributed, ARankThatNeverArrivesIsAnErrorWithinTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto errors = on_ranks(2, [](const Ranks&) {}, 3s, /*arriving=*/1);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 30);
  EXPECT_NE(errors[0].find("rank 0 of 2: the ranks did not all meet within 3 s"), std::string::npos) << errors[0];
}

// Ranks on several machines must not listen on loopback (the others could not connect): the
// interface GLOO_SOCKET_IFNAME names, else the host name's address; loopback only when the
// rendezvous itself is this machine's loopback.
TEST(Distributed, TheTransportListensWhereTheOtherRanksCanReachIt) {
  EXPECT_EQ(gloo_listen_address("127.0.0.1", ""), "");
  EXPECT_EQ(gloo_listen_address("127.0.1.1", ""), "");
  EXPECT_EQ(gloo_listen_address("localhost", ""), "");
  EXPECT_EQ(gloo_listen_address("::1", ""), "");
  EXPECT_EQ(gloo_listen_address("node0.cluster", ""), "*");
  EXPECT_EQ(gloo_listen_address("10.1.2.3", ""), "*");
  EXPECT_EQ(gloo_listen_address("10.1.2.3", "eth1"), "eth1");
  EXPECT_EQ(gloo_listen_address("127.0.0.1", "ib0,eth0"), "ib0");
  // Named, the interface is what the group uses: two ranks meet over "lo"; an interface this
  // machine lacks is one line naming it.
  ::setenv("GLOO_SOCKET_IFNAME", "lo", 1);
  auto errors = on_ranks(2, [](const Ranks& ranks) { EXPECT_TRUE(ranks.any(ranks.rank() == 1)); });
  EXPECT_EQ(errors, (std::vector<std::string>(2, "")));
  ::setenv("GLOO_SOCKET_IFNAME", "nosuch0", 1);
  errors = on_ranks(2, [](const Ranks&) {}, 3s);
  ::unsetenv("GLOO_SOCKET_IFNAME");
  for (const auto& e : errors) EXPECT_NE(e.find("no network interface for the ranks' transport (GLOO_SOCKET_IFNAME=nosuch0)"), std::string::npos) << e;
}

TEST(Distributed, AloneEveryCallIsANoOp) {
  const Ranks alone;
  EXPECT_TRUE(alone.alone());
  EXPECT_EQ(alone.backend(), "none");
  auto p = torch::ones({2}, torch::requires_grad());
  (p * 3).sum().backward();
  alone.average_gradients({p});
  EXPECT_TRUE(torch::equal(p.grad(), torch::full({2}, 3.f)));
  EXPECT_TRUE(alone.any(true));
  EXPECT_NO_THROW(alone.check_same("x", "options"));
}

}  // namespace dida
