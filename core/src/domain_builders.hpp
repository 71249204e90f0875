#pragma once
// What the data files share inside core: the builders of each kind of domain, which build_domain
// (data.cpp) dispatches to, and the conversion of an image to a pair's shape.
#include <string>
#include <vector>

#include "dida/data.hpp"
#include "dida/image.hpp"

namespace dida {

// Per-domain conversion to the pair's shape.
inline Image to_shape(const Image& img, int h, int w, int c) { return resize_image(convert_channels(img, c), h, w); }

// builtin_domains.cpp: mnist, mnistm, syndigits, optdigits, fashion, fashionm.
Domain build_builtin_domain(const std::string& name, const DataSources& src, std::uint64_t seed, int h, int w, int c,
                            const std::vector<int>* pool, int count);
// user_domains.cpp: folder:PATH and idx:IMAGES[,LABELS].
Domain load_folder_domain(const DomainSpec& spec, int h, int w, int c);
Domain load_idx_domain(const DomainSpec& spec, int h, int w, int c);

}  // namespace dida
