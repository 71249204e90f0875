// `dida serve`: the built site and, read-only, run folders (serve.hpp says what may be reached).
#include <filesystem>

#include "command.hpp"
#include "serve.hpp"

namespace dida::cli {
namespace {

class ServeCommand : public Command {
 public:
  void add_to(CLI::App& app) override {
    sub_ = app.add_subcommand("serve", "Serve the page and, read-only, run folders to watch: dida serve [RUN ...]");
    sub_->add_option("runs", o_.roots.runs, "Run folders (dida train --out): their log, replay so far, latest epoch's model, bundle");
    sub_->add_option("--site", o_.roots.site, "The built site")->capture_default_str();
    sub_->add_option("--port", o_.port, "Port (0: any free one)")->check(CLI::Range(0, 65535))->capture_default_str();
    sub_->add_option("--host", o_.host, "Address to listen on; another than 127.0.0.1 serves to the network (a warning says so)")
        ->capture_default_str();
    sub_->add_flag("--no-isolation", no_isolation_, "No COOP/COEP headers (ONNX Runtime Web then runs on one thread)");
    sub_->add_flag("--quiet", o_.quiet, "No line per request");
  }
  int run(int) override {
    o_.isolation = !no_isolation_;
    return serve(o_);
  }

 private:
  ServeOptions o_ = [] {
    ServeOptions o;
    o.roots.site = (std::filesystem::path(DIDA_SOURCE_DIR) / "build/wasm/site").string();
    return o;
  }();
  bool no_isolation_ = false;
};

}  // namespace

std::unique_ptr<Command> serve_command() { return std::make_unique<ServeCommand>(); }

}  // namespace dida::cli
