#include "walkthrough.hpp"

#include <algorithm>

namespace dida::web {

const std::vector<Chapter>& Walkthrough::chapters() {
  static const std::vector<Chapter> kChapters = {
      {"The shift",
       "This network learnt from labelled source digits only. Look at the target samples in the grid: a red frame marks "
       "each mistake, and the accuracies above say how many. In the plots, coloured by domain, the target points "
       "(squares) lie apart from the source points (circles): what the network learnt on one domain does not carry over "
       "to the other.",
       "source-only", true, Chapter::kSamples, true, ""},
      {"Alignment: DANN",
       "DANN adds a domain classifier on the features and reverses its gradient into the encoder: the encoder learns "
       "features from which the domain cannot be told. Compare its plots (top) with the source-only model's (below): "
       "coloured by domain, source and target overlap more in z_inv, and the target accuracy rises. But one feature space must then hold both what the digit is and what its domain looks "
       "like, and the second plot, z_spe, is untrained here.",
       "dann", true, Chapter::kPlots, false, "source-only"},
      {"The split: dida",
       "dida gives the network two feature spaces. z_inv, the content, feeds the classifier and is aligned across "
       "domains as in DANN; z_spe, the style, comes from an encoder of its own that sees each image's look, and the "
       "decoder takes each image's colours from it. Coloured by class: in z_inv the digits of a class lie near each other "
       "(t-SNE, above the plots, is another projection of the same points; DANN's plots below for comparison). Switch the "
       "colouring to domain: in z_spe the domains lie apart. 'replay the training' plays the split forming, epoch by "
       "epoch.",
       "dida", false, Chapter::kPlots, false, "dann"},
      {"Mutual information and the probes",
       "If z_inv and z_spe shared information, style could leak into the features the classifier reads. dida estimates "
       "the mutual information between them with a small network (MINE) and pushes it down; after training it removes "
       "from z_inv the direction in which the two domains' mean features differ. The figures beside the plots are "
       "linear probes fitted here, in your browser, on half of the page's held-out images (the samples shown and more "
       "of each domain that only the probes read) and tested on the other half. A split that "
       "holds reads the domain from z_spe, and neither the domain from z_inv nor the class from z_spe.",
       "dida", true, Chapter::kProbes, false, ""},
      {"The swap",
       "A decoder rebuilds an image from its two parts. Give it the content (z_inv) of one image and the style (z_spe) "
       "of another: each cell is the row's digit decoded with the column's z_spe, which sets the mean and spread of its "
       "colours. The style mixer under the grid slides the code from one column's z_spe to another's. Select any "
       "sample, in the grid or a plot, and make it a row or a column.",
       "dida", false, Chapter::kSwap, false, ""},
      {"Try it yourself",
       "Draw a digit on the pad: the model reads it as you draw, and a star marks it in both plots. Make it a content "
       "row to see it in each target style. Drop your own PNG or JPEG images on the page (or choose them with the "
       "button): they join the plots as 'yours'.",
       "dida", false, Chapter::kDraw, false, ""},
  };
  return kChapters;
}

void Walkthrough::open(int k) {
  chapter_ = std::clamp(k, 0, count());
  ++version_;
}

}  // namespace dida::web
