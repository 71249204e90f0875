#pragma once
// The walkthrough: a short sequence of chapters that tell the story of the page. Each chapter sets
// up the views (which model of the pair, how the plots are coloured, which window to look at) and
// says in a few sentences what to look at. GL-free: the view (web/src/explorer.cpp) applies it.
#include <string>
#include <vector>

namespace dida::web {

struct Chapter {
  enum Focus { kSamples, kPlots, kProbes, kSwap, kDraw };
  std::string title, text;
  std::string method;  // the model of the current pair to show: "source-only", "dann" or "dida"
  bool colour_by_domain = false;
  Focus focus = kPlots;
  bool select_target_mistake = false;  // select the first target sample the model gets wrong
  std::string compare_method;          // a second model of the pair, its plots under the first's ("": none)
};

class Walkthrough {
 public:
  static const std::vector<Chapter>& chapters();
  static int count() { return static_cast<int>(chapters().size()); }
  // Chapters are numbered from 1 (as ?chapter=N); 0 is the free explorer.
  int chapter() const { return chapter_; }
  bool active() const { return chapter_ > 0; }
  const Chapter& current() const { return chapters()[static_cast<std::size_t>(chapter_ - 1)]; }
  void open(int k);  // clamped to 0..count()
  void next() { open(chapter_ < count() ? chapter_ + 1 : chapter_); }
  void previous() { open(chapter_ > 1 ? chapter_ - 1 : chapter_); }
  void close() { open(0); }
  // Grows with every change of chapter: the view applies a chapter once, when it opens.
  int version() const { return version_; }

 private:
  int chapter_ = 0;
  int version_ = 0;
};

}  // namespace dida::web
