// What the builder hands a backend that chooses tactics (Backend::select_tactics):
// each profile's shapes, the timing cache and a progress reporter.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "build/timing_cache.h"
#include "kiln/builder.h"
#include "kiln/profile.h"

namespace kiln {

// One profile's input shapes at its min, opt and max points; inputs with static
// shapes at their declared dims. An engine without profiles but with static
// inputs has one, with min = opt = max.
struct ProfileShapes {
  size_t index = 0;
  InputShapes min, opt, max;
};

// Counts layers and forwards events to BuildConfig::progress (or warnings to
// stderr when there is no callback).
class TacticProgress {
 public:
  TacticProgress(const BuildProgressFn& callback, std::chrono::steady_clock::time_point build_start)
      : callback_(callback), start_(build_start) {}

  void start(size_t layers_total);
  // One layer decided; `tactic` empty when no candidate fits (heuristic at run time).
  void layer_done(const std::string& layer, const std::string& op_type, size_t profile, const std::string& tactic,
                  double tactic_ms, bool from_cache);
  void done();
  void warning(const std::string& message);

  size_t layers_timed() const { return timed_; }
  size_t cache_hits() const { return hits_; }

 private:
  BuildProgress base(BuildProgress::Event event) const;

  const BuildProgressFn& callback_;
  std::chrono::steady_clock::time_point start_;
  size_t total_ = 0, done_ = 0, timed_ = 0, hits_ = 0;
};

struct TacticSelection {
  std::vector<ProfileShapes> profiles;
  bool allow_tf32 = true;
  TimingCache* cache = nullptr;  // never null while a backend selects
  TacticProgress* progress = nullptr;
};

}  // namespace kiln
