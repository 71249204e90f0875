// `dida export`: a bundle's ONNX files (model.onnx, swap.onnx, decoder.onnx), their checksums recorded in it.
#include <iomanip>
#include <iostream>

#include "command.hpp"
#include "dida/inference.hpp"
#ifdef DIDA_HAVE_ONNX
#include "onnx_export.hpp"
#endif

namespace dida::cli {
namespace {

class ExportCommand : public Command {
 public:
  void add_to(CLI::App& app) override {
    sub_ = app.add_subcommand("export", "Write a bundle's ONNX files, model.onnx, swap.onnx and decoder.onnx (and record their checksums "
                                        "in the bundle; an older bundle is converted)");
    sub_->add_option("bundle", bundle_, "Bundle folder (or run folder)")->required();
    sub_->add_option("--out", out_, "Folder to write model.onnx, swap.onnx and decoder.onnx into (default: the bundle)");
  }
  int run(int) override {
#ifdef DIDA_HAVE_ONNX
    const std::string dir = resolve_bundle_dir(bundle_);
    const auto results = export_onnx(dir, out_.empty() ? dir : out_);
    for (const auto& r : results)
      std::cout << "wrote " << r.path << " (" << r.bytes << " bytes, crc32 " << std::hex << std::setw(8) << std::setfill('0')
                << r.crc32 << std::dec << std::setfill(' ') << ")\n";
    std::cout << (results.front().recorded ? "checksums recorded in " + dir + "/config.json" : std::string("the bundle is unchanged"))
              << "\n";
    return 0;
#else
    std::cerr << "dida export: error: this dida was built without libonnx (install libonnx-dev and rebuild)\n";
    return 1;
#endif
  }

 private:
  std::string bundle_, out_;
};

}  // namespace

std::unique_ptr<Command> export_command() { return std::make_unique<ExportCommand>(); }

}  // namespace dida::cli
