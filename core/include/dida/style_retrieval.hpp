#pragma once
// Whose style a picture shows, judged without the model: each channel's pixel mean and spread, and
// which of K style images has the nearest. `dida eval`'s swap_style_retrieval and the page's swap
// grid both measure with it (docs/METHOD.md, "how it is measured").
#include <vector>

namespace dida {

// C means, then C spreads (population standard deviation), over an image's pixels.
using StyleDescriptor = std::vector<double>;

// `planes`: one image as channel planes (C x H x W, any scale; a descriptor is compared only with
// descriptors of the same scale).
StyleDescriptor style_descriptor(const float* planes, int channels, int pixels);

// The index of the style nearest to `d` (Euclidean; the first of equals); -1 when there is none.
int nearest_style(const StyleDescriptor& d, const std::vector<StyleDescriptor>& styles);

// How often a swap is nearest to its own style image: `cells` rows x columns, row-major, cell
// (i, j) decoded in the style of column j, whose descriptor is styles[j]. 0 with no cells.
double style_retrieval(const std::vector<StyleDescriptor>& cells, const std::vector<StyleDescriptor>& styles);

}  // namespace dida
