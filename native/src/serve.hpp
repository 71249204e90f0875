#pragma once
// `dida serve`: the built site and, read-only, the files a page needs from run folders, on one HTTP
// server. What a request may reach is decided here, without a socket, so it is tested on its own.
//   /                      the site (a folder: its index.html)
//   /runs.json             the served runs: {"runs": [{"id": 0, "name": ..., "files": [those of kRunFiles there now]}]}
//   /runs/K/FILE           FILE of the K-th run, one of kRunFiles, nothing else of the run
#include <memory>
#include <string>
#include <vector>

namespace dida {

// The files of a run folder a page reads (the log, the replay so far, the options, the latest
// epoch's snapshot and, once training ends, the bundle). Nothing else of a run is served.
extern const std::vector<std::string> kRunFiles;

struct ServeRoots {
  std::string site;               // the built site (build/wasm/site)
  std::vector<std::string> runs;  // run folders, served as /runs/0, /runs/1, ...
};

struct Resolved {
  int status = 200;    // 200, or the refusal's 400 / 403 / 404
  std::string file;    // the file to send (status 200)
  std::string reason;  // why not (one line)
};

// Maps a request target as it was sent (path and query, not decoded) to a file. Refused: a path
// that does not start with '/', a backslash, a NUL, an encoded '/', '\\' or NUL, a "." or ".."
// segment, any symbolic link on the way (inside the roots or not), anything but a regular file,
// and in a run folder every file that is not in kRunFiles.
Resolved resolve_target(const ServeRoots& roots, const std::string& target);

// The Content-Type of a served file, by its extension.
std::string content_type(const std::string& file);

// /runs.json's body: each run's id, folder name and the files of kRunFiles it holds now.
std::string runs_json(const ServeRoots& roots);

struct ServeOptions {
  ServeRoots roots;
  std::string host = "127.0.0.1";
  int port = 8080;          // 0: any free port
  bool isolation = true;    // COOP/COEP, so ONNX Runtime Web may use threads
  bool quiet = false;       // no line per request
};

// A server bound and answering on threads of its own (which never take SIGINT or SIGTERM) until
// stop() or destruction. Throws std::runtime_error with a one-line reason (a missing site, a run
// that is not a folder, a port in use); `who` names the program in a warning.
class RunningServer {
 public:
  RunningServer(const ServeOptions& o, const std::string& who);
  ~RunningServer();
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  const std::string& url() const { return url_; }
  void stop();

 private:
  struct Impl;
  ServeOptions o_;
  std::string url_;
  int port_ = -1;
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGINT and SIGTERM in the calling thread and waits for one; returns it.
int wait_for_stop_signal();

// `dida serve`: serves until SIGINT or SIGTERM; returns the exit code. Refuses to start with one
// line on stderr.
int serve(const ServeOptions& o);

}  // namespace dida
