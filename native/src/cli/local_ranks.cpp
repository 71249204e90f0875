#include "local_ranks.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <stdexcept>

extern char** environ;

namespace dida::cli {
namespace {

std::vector<std::string> g_args;
std::vector<pid_t> g_children;

void forward(int sig) {
  for (const pid_t p : g_children) kill(p, sig);
}

// A port no one listens on now, for the ranks' store (rank 0 opens it a moment later).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error(std::string("no free port for the ranks: ") + std::strerror(errno));
  }
  close(fd);
  return ntohs(a.sin_port);
}

// The command line without the launcher's own options.
std::vector<std::string> rank_args(int threads) {
  std::vector<std::string> out = {g_args.at(0), "--threads", std::to_string(threads)};
  auto is_number = [](const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; };
  for (std::size_t i = 1; i < g_args.size(); ++i) {
    const std::string& a = g_args[i];
    if (a == "--nproc" || a == "--threads") { ++i; continue; }
    if (a.rfind("--nproc=", 0) == 0 || a.rfind("--threads=", 0) == 0 || a.rfind("--serve=", 0) == 0) continue;
    if (a == "--serve") {
      if (i + 1 < g_args.size() && is_number(g_args[i + 1])) ++i;
      continue;
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace

void set_program_args(int argc, char** argv) { g_args.assign(argv, argv + argc); }

int run_local_ranks(int n, int threads_per_rank) {
  const std::vector<std::string> args = rank_args(threads_per_rank);
  const std::string port = std::to_string(free_port()), world = std::to_string(n);
  struct sigaction sa {};
  sa.sa_handler = forward;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  for (int r = 0; r < n; ++r) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (key != "RANK" && key != "LOCAL_RANK" && key != "WORLD_SIZE" && key != "LOCAL_WORLD_SIZE" && key != "MASTER_ADDR" &&
          key != "MASTER_PORT")
        env.push_back(kv);
    }
    for (const std::string& kv : {"RANK=" + std::to_string(r), "LOCAL_RANK=" + std::to_string(r), "WORLD_SIZE=" + world,
                                  "LOCAL_WORLD_SIZE=" + world, std::string("MASTER_ADDR=127.0.0.1"), "MASTER_PORT=" + port})
      env.push_back(kv);
    std::vector<char*> argv, envp;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = 0;
    // The ranks run this same program (its own path, as the kernel knows it).
    if (const int err = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()); err != 0) {
      forward(SIGTERM);
      throw std::runtime_error("rank " + std::to_string(r) + " could not be started: " + std::strerror(err));
    }
    g_children.push_back(pid);
  }
  int first_failure = 0;
  for (std::size_t k = 0; k < g_children.size(); ++k) {
    int status = 0;
    while (waitpid(g_children[k], &status, 0) < 0 && errno == EINTR) {
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && first_failure == 0) first_failure = code;
  }
  g_children.clear();
  return first_failure;
}

}  // namespace dida::cli
