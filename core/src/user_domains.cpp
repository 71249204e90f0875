// The user's own data: image folders (PATH/<class>/*.png|jpg|bmp) and IDX files.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "dida/formats.hpp"
#include "domain_builders.hpp"

namespace fs = std::filesystem;

namespace dida {
namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

}  // namespace

Domain load_folder_domain(const DomainSpec& spec, int h, int w, int c) {
  const fs::path root(spec.path);
  if (!fs::is_directory(root)) throw std::runtime_error(spec.path + ": not a folder (folder:PATH expects PATH/<class>/*.png)");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  if (classes.empty())
    throw std::runtime_error(spec.path + ": no class folders (expected PATH/<class name>/*.png|jpg|bmp)");
  Domain d;
  d.name = spec.text;
  d.height = h, d.width = w, d.channels = c;
  d.classes = classes;
  int index = 0;
  for (std::size_t k = 0; k < classes.size(); ++k) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(root / classes[k]))
      if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty())
      throw std::runtime_error((root / classes[k]).string() + ": class folder has no .png, .jpg or .bmp images");
    for (const auto& f : files) d.append(to_shape(load_image(f.string()), h, w, c), static_cast<int>(k), index++);
  }
  return d;
}

Domain load_idx_domain(const DomainSpec& spec, int h, int w, int c) {
  const IdxArray im = read_idx(spec.path);
  if (im.dims.size() != 3 && !(im.dims.size() == 4 && (im.dims[3] == 1 || im.dims[3] == 3)))
    throw std::runtime_error(spec.path + ": expected IDX images of N x H x W (or N x H x W x 1|3)");
  const int n = static_cast<int>(im.dims[0]), ih = static_cast<int>(im.dims[1]), iw = static_cast<int>(im.dims[2]);
  const int ic = im.dims.size() == 4 ? static_cast<int>(im.dims[3]) : 1;
  if (n == 0 || ih == 0 || iw == 0) throw std::runtime_error(spec.path + ": IDX file holds no images");
  if (static_cast<std::int64_t>(ih) * iw > kMaxImagePixels)
    throw std::runtime_error(spec.path + ": IDX images of " + std::to_string(ih) + " x " + std::to_string(iw) + " are more than the " +
                             std::to_string(kMaxImagePixels) + " pixels an image may have");
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n), -1);
  int max_label = -1;  // without LABELS: no classes of its own (a target takes the source's)
  if (!spec.labels_path.empty()) {
    const IdxArray lb = read_idx(spec.labels_path);
    if (lb.dims.size() != 1 || static_cast<int>(lb.dims[0]) != n)
      throw std::runtime_error(spec.labels_path + ": expected " + std::to_string(n) + " labels (one per image in " +
                               spec.path + ")");
    max_label = 0;
    for (int i = 0; i < n; ++i) max_label = std::max<int>(max_label, labels[static_cast<std::size_t>(i)] = lb.data[static_cast<std::size_t>(i)]);
  }
  Domain d;
  d.name = spec.text;
  d.height = h, d.width = w, d.channels = c;
  for (int k = 0; k <= max_label; ++k) d.classes.push_back(std::to_string(k));
  const std::size_t per = static_cast<std::size_t>(ih) * iw * ic;
  for (int i = 0; i < n; ++i) {
    Image img(ih, iw, ic);
    std::copy_n(im.data.begin() + static_cast<std::ptrdiff_t>(per * static_cast<std::size_t>(i)), per, img.pixels.begin());
    d.append(to_shape(img, h, w, c), labels[static_cast<std::size_t>(i)], i);
  }
  return d;
}

}  // namespace dida
