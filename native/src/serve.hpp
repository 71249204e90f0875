#pragma once
// `dida serve`: the built site and, read-only, the files a page needs from run folders, on one HTTP
// server. What a request may reach is decided here, without a socket, so it is tested on its own.
//   /                      the site (a folder: its index.html)
//   /runs.json             the served runs: {"runs": [{"id": 0, "name": ..., "files": [those of kRunFiles there now]}]}
//   /runs/K/FILE           FILE of the K-th run, one of kRunFiles, nothing else of the run
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

// Serves until SIGINT or SIGTERM; returns the exit code. Refuses to start with one line on stderr
// (a missing site, a port in use).
int serve(const ServeOptions& o);

}  // namespace dida
