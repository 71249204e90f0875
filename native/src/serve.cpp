#include "serve.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "dida/messages.hpp"

namespace dida {
namespace fs = std::filesystem;

const std::vector<std::string> kRunFiles = {
    "config.json",         "status.json",       "log.jsonl",            "replay.jsonl",       "latest/config.json",
    "latest/model.safetensors",
    "bundle/config.json",  "bundle/model.safetensors", "bundle/replay.safetensors", "bundle/model.onnx",
    "bundle/swap.onnx",    "bundle/decoder.onnx"};

namespace {

// The largest file served: the shipped bundles are under 1 MB, the site's biggest file (ONNX
// Runtime Web's wasm) about 12 MB.
constexpr std::uintmax_t kMaxServedBytes = 256u << 20;

Resolved refuse(int status, std::string reason) { return {status, "", std::move(reason)}; }

// Splits a path into its segments, decoding %XX; refuses what could leave the segment it is in.
bool decode_segments(const std::string& path, std::vector<std::string>& out, std::string& why) {
  std::string seg;
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  auto flush = [&]() {
    if (seg == "." || seg == "..") return why = "a '.' or '..' segment", false;
    if (!seg.empty()) out.push_back(seg);
    seg.clear();
    return true;
  };
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size() || !hex(path[i + 1]) || !hex(path[i + 2])) return why = "a broken %-escape", false;
      c = static_cast<char>(std::stoi(path.substr(i + 1, 2), nullptr, 16));
      i += 2;
      if (c == '/' || c == '\\' || c == '\0') return why = "an encoded '/', '\\' or NUL", false;
    } else if (c == '\\' || c == '\0') {
      return why = "a '\\' or NUL", false;
    } else if (c == '/') {
      if (!flush()) return false;
      continue;
    }
    seg += c;
  }
  return flush();
}

// Walks root/segments with lstat: every step must be a real folder, the last a regular file (a
// folder gives its index.html), and nothing on the way a symbolic link.
Resolved walk(const std::string& root, const std::vector<std::string>& segments) {
  struct stat st {};
  if (lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return refuse(404, "not found");
  std::string path = root;
  std::vector<std::string> rest = segments;
  for (std::size_t i = 0; i <= rest.size(); ++i) {
    if (i == rest.size()) {  // a folder: its index.html
      if (!S_ISDIR(st.st_mode)) break;
      rest.push_back("index.html");
    }
    path += "/" + rest[i];
    if (lstat(path.c_str(), &st) != 0) return refuse(404, "not found");
    if (S_ISLNK(st.st_mode)) return refuse(403, "a symbolic link");
    if (i + 1 < rest.size() && !S_ISDIR(st.st_mode)) return refuse(404, "not found");
  }
  if (!S_ISREG(st.st_mode)) return refuse(403, "not a regular file");
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxServedBytes) return refuse(403, "larger than 256 MiB");
  return {200, path, ""};
}

}  // namespace

Resolved resolve_target(const ServeRoots& roots, const std::string& target) {
  const std::string path = target.substr(0, target.find_first_of("?#"));
  if (path.empty() || path[0] != '/') return refuse(400, "the path does not start with '/'");
  std::vector<std::string> seg;
  std::string why;
  if (!decode_segments(path, seg, why)) return refuse(400, why);
  if (!seg.empty() && seg[0] == "runs") {
    if (seg.size() < 3) return refuse(404, "not found");
    const std::string& id = seg[1];
    if (id.empty() || id.size() > 6 || (id.size() > 1 && id[0] == '0') || !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return refuse(404, "no such run");
    const std::size_t k = std::stoul(id);
    if (k >= roots.runs.size()) return refuse(404, "no such run");
    std::string file;
    for (std::size_t i = 2; i < seg.size(); ++i) file += (i > 2 ? "/" : "") + seg[i];
    if (std::find(kRunFiles.begin(), kRunFiles.end(), file) == kRunFiles.end())
      return refuse(404, "not a file a page reads from a run");
    return walk(roots.runs[k], {seg.begin() + 2, seg.end()});
  }
  return walk(roots.site, seg);
}

std::string content_type(const std::string& file) {
  static const std::map<std::string, std::string> types = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"}, {".jsonl", "application/jsonl"}, {".wasm", "application/wasm"},
      {".png", "image/png"}, {".jpg", "image/jpeg"}, {".svg", "image/svg+xml"}, {".ico", "image/x-icon"},
      {".md", "text/markdown; charset=utf-8"}, {".txt", "text/plain; charset=utf-8"}};
  const auto it = types.find(fs::path(file).extension().string());
  return it == types.end() ? "application/octet-stream" : it->second;
}

std::string runs_json(const ServeRoots& roots) {
  nlohmann::json runs = nlohmann::json::array();
  for (std::size_t k = 0; k < roots.runs.size(); ++k) {
    nlohmann::json files = nlohmann::json::array();  // those there now: a page asks for no file not yet written
    for (const auto& f : kRunFiles) {
      std::vector<std::string> parts;
      for (std::size_t at = 0, slash; at <= f.size(); at = slash + 1) {
        slash = std::min(f.find('/', at), f.size());
        parts.push_back(f.substr(at, slash - at));
      }
      if (walk(roots.runs[k], parts).status == 200) files.push_back(f);
    }
    runs.push_back({{"id", k}, {"name", fs::path(roots.runs[k]).filename().string()}, {"files", files}});
  }
  return nlohmann::json{{"runs", runs}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct RunningServer::Impl {
  httplib::Server server;
  std::thread thread;
};

RunningServer::RunningServer(const ServeOptions& o, const std::string& who) : o_(o), impl_(std::make_unique<Impl>()) {
  struct stat st {};
  if (lstat(o.roots.site.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !fs::exists(o.roots.site + "/index.html"))
    throw std::runtime_error("no built site at " + printable(o.roots.site) + " (build it with `make site`, or give --site DIR)");
  for (const auto& run : o.roots.runs)
    if (lstat(run.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw std::runtime_error(printable(run) + ": not a run folder");

  httplib::Server& server = impl_->server;
  const ServeOptions& opt = o_;  // the handlers read this object's copy, which lives as long as the server
  auto headers = [&opt](httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    if (opt.isolation) {
      res.set_header("Cross-Origin-Opener-Policy", "same-origin");
      res.set_header("Cross-Origin-Embedder-Policy", "require-corp");
    }
  };
  auto log = [&opt](const httplib::Request& req, int status) {
    if (!opt.quiet) std::cerr << status << " " << req.method << " " << printable(req.target) << "\n";
  };
  server.Get(".*", [&opt, headers, log](const httplib::Request& req, httplib::Response& res) {
    headers(res);
    const std::string path = req.target.substr(0, req.target.find_first_of("?#"));
    if (path == "/runs.json") {
      res.set_content(runs_json(opt.roots), "application/json");
      return log(req, 200);
    }
    const Resolved r = resolve_target(opt.roots, req.target);
    if (r.status != 200) {
      res.status = r.status;
      res.set_content(r.reason + "\n", "text/plain; charset=utf-8");
      return log(req, r.status);
    }
    std::ifstream in(r.file, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) {
      res.status = 404;
      res.set_content("not found\n", "text/plain; charset=utf-8");
      return log(req, 404);
    }
    res.set_content(body.str(), content_type(r.file));
    log(req, 200);
  });
  // Read-only: every other method is refused (HEAD is answered as GET without the body).
  const auto not_allowed = [headers, log](const httplib::Request& req, httplib::Response& res) {
    headers(res);
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("read-only: GET and HEAD only\n", "text/plain; charset=utf-8");
    log(req, 405);
  };
  server.Post(".*", not_allowed);
  server.Put(".*", not_allowed);
  server.Patch(".*", not_allowed);
  server.Delete(".*", not_allowed);
  server.Options(".*", not_allowed);

  // SO_REUSEADDR (a restart need not wait for TIME_WAIT) but not the library's SO_REUSEPORT, with
  // which a second server would share the port silently instead of being refused.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  port_ = o.port == 0 ? server.bind_to_any_port(o.host) : (server.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port_ < 0)
    throw std::runtime_error("cannot listen on " + printable(o.host) + ":" + std::to_string(o.port) +
                             " (in use? another port: --port N, or --port 0 for any free one)");
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1")
    std::cerr << who << ": warning: listening on " << printable(o.host)
              << ": anyone who reaches this address can read the site and the runs' served files\n";
  const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  url_ = "http://" + host + ":" + std::to_string(port_) + "/";
  // The server's threads never take SIGINT or SIGTERM: they stay the program's (a training's
  // Ctrl-C, or serve()'s wait).
  sigset_t block, before;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &before);
  impl_->thread = std::thread([this]() { impl_->server.listen_after_bind(); });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

RunningServer::~RunningServer() { stop(); }

void RunningServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

int wait_for_stop_signal() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  return sig;
}

int serve(const ServeOptions& o) {
  try {
    RunningServer server(o, "dida serve");
    std::cout << "dida serve: " << server.url() << "  (site " << o.roots.site << "; " << o.roots.runs.size() << " run(s)"
              << (o.roots.runs.empty() ? std::string() : ", read-only; live view: " + server.url() + "?run=0") << "). Ctrl-C stops.\n"
              << std::flush;
    wait_for_stop_signal();
    return 0;
  } catch (const std::runtime_error& e) {
    std::cerr << "dida serve: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace dida
