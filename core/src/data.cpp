// Domains and specs: the Domain container, parsing a domain spec, and building a domain of any
// kind (built-in: builtin_domains.cpp; folders and IDX files: user_domains.cpp). Pairs and their
// cache are in pairs.cpp, the page's sample sets in sample_sets.cpp, the preview in preview_grid.cpp.
#include "dida/data.hpp"

#include <algorithm>
#include <stdexcept>

#include "domain_builders.hpp"

namespace dida {

// ---- Domain ----------------------------------------------------------------------------------

Image Domain::image(int i) const {
  Image img(height, width, channels);
  std::copy_n(pixels.begin() + static_cast<std::ptrdiff_t>(image_bytes() * static_cast<std::size_t>(i)), image_bytes(), img.pixels.begin());
  return img;
}

void Domain::append(const Image& img, std::int32_t label, std::int32_t origin_index) {
  if (img.height != height || img.width != width || img.channels != channels)
    throw std::logic_error("Domain::append: image shape differs from the domain's");
  pixels.insert(pixels.end(), img.pixels.begin(), img.pixels.end());
  labels.push_back(label);
  origin.push_back(origin_index);
}

Domain Domain::subset(const std::vector<int>& indices) const {
  Domain d;
  d.name = name;
  d.height = height, d.width = width, d.channels = channels;
  d.classes = classes;
  d.pixels.reserve(indices.size() * image_bytes());
  for (int i : indices) {
    const auto begin = pixels.begin() + static_cast<std::ptrdiff_t>(image_bytes() * static_cast<std::size_t>(i));
    d.pixels.insert(d.pixels.end(), begin, begin + static_cast<std::ptrdiff_t>(image_bytes()));
    d.labels.push_back(labels[static_cast<std::size_t>(i)]);
    d.origin.push_back(origin[static_cast<std::size_t>(i)]);
  }
  return d;
}


DomainSpec DomainSpec::parse(const std::string& text) {
  DomainSpec s;
  s.text = text;
  if (text.rfind("folder:", 0) == 0) {
    s.kind = Kind::Folder;
    s.path = text.substr(7);
    if (s.path.empty()) throw std::invalid_argument("folder: needs a path, e.g. folder:data/office31/amazon");
    return s;
  }
  if (text.rfind("idx:", 0) == 0) {
    s.kind = Kind::Idx;
    const std::string rest = text.substr(4);
    const auto comma = rest.find(',');
    s.path = rest.substr(0, comma);
    if (comma != std::string::npos) s.labels_path = rest.substr(comma + 1);
    if (s.path.empty()) throw std::invalid_argument("idx: needs a file, e.g. idx:images.idx3-ubyte.gz,labels.idx1-ubyte.gz");
    return s;
  }
  for (const auto& d : builtin_domains())
    if (d.name == text) {
      s.name = text;
      return s;
    }
  std::string names;
  for (const auto& d : builtin_domains()) names += (names.empty() ? "" : ", ") + d.name;
  throw std::invalid_argument("unknown domain \"" + text + "\": use one of " + names +
                              ", folder:PATH or idx:IMAGES[,LABELS]");
}

std::string DomainSpec::base() const {
  if (kind != Kind::Builtin) return text;
  if (name == "mnistm") return "mnist";
  if (name == "fashionm") return "fashion";
  return name;
}

Domain build_domain(const DomainSpec& spec, const DataSources& src, std::uint64_t seed, int h, int w, int c,
                    const std::vector<int>* pool, int count) {
  switch (spec.kind) {
    case DomainSpec::Kind::Folder: return load_folder_domain(spec, h, w, c);
    case DomainSpec::Kind::Idx: return load_idx_domain(spec, h, w, c);
    case DomainSpec::Kind::Builtin: break;
  }
  return build_builtin_domain(spec.name, src, seed, h, w, c, pool, count);
}

}  // namespace dida
