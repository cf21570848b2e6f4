#include "build/tactic_selection.h"

#include <cstdio>

namespace kiln {

BuildProgress TacticProgress::base(BuildProgress::Event event) const {
  BuildProgress p;
  p.event = event;
  p.layers_done = done_;
  p.layers_total = total_;
  p.layers_timed = timed_;
  p.cache_hits = hits_;
  p.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return p;
}

void TacticProgress::start(size_t layers_total) {
  total_ = layers_total;
  if (callback_) callback_(base(BuildProgress::Event::kTacticsStart));
}

void TacticProgress::layer_done(const std::string& layer, const std::string& op_type, size_t profile,
                                const std::string& tactic, double tactic_ms, bool from_cache) {
  ++done_;
  if (from_cache) ++hits_;
  else ++timed_;
  if (!callback_) return;
  BuildProgress p = base(BuildProgress::Event::kLayerDone);
  p.layer = layer;
  p.op_type = op_type;
  p.profile = profile;
  p.tactic = tactic;
  p.tactic_ms = tactic_ms;
  p.from_cache = from_cache;
  callback_(p);
}

void TacticProgress::done() {
  if (callback_) callback_(base(BuildProgress::Event::kTacticsDone));
}

void TacticProgress::warning(const std::string& message) {
  if (!callback_) {
    std::fprintf(stderr, "kiln: warning: %s\n", message.c_str());
    return;
  }
  BuildProgress p = base(BuildProgress::Event::kWarning);
  p.message = message;
  callback_(p);
}

}  // namespace kiln
