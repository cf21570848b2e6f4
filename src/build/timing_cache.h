// The timing cache: tactic choices measured by earlier builds, so a rebuild of
// the same layers on the same device skips the timing.
//
// A key names everything the measurement depends on: the device (name, compute
// capability, library versions), the layer's signature (op, types, every input
// and output shape, attributes) and the precision mode. The backend builds the
// keys; the cache only stores them.
//
// File format (text, one record per line, fields separated by tabs):
//   KILN-TIMING-CACHE <version>
//   <entry count>
//   <key> \t <tactic> \t <time ms> \t <label>        (entry count lines)
//   checksum <16 hex digits>                          (plan_checksum of every byte before this line)
// A file that is not in this format (another version, truncated, edited,
// checksum mismatch) is not used: like trtexec, the build warns, times every
// layer and writes a fresh file.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ir/op_registry.h"
#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

constexpr char kTimingCacheMagic[] = "KILN-TIMING-CACHE";
constexpr uint32_t kTimingCacheVersion = 1;

struct TimingCacheEntry {
  std::string tactic;  // backend encoding
  double time_ms = 0;  // median measured time
  std::string label;   // for people

  bool operator==(const TimingCacheEntry&) const = default;
};

class TimingCache {
 public:
  // Reads `path`. A missing file is an empty cache (no warning). A file that
  // cannot be read or parsed gives an empty cache and sets *warning to a
  // sentence naming the file and the reason.
  static TimingCache load(const std::string& path, std::string* warning);
  // Strict parse of a whole file's bytes; errors say what is wrong.
  static Expected<TimingCache> parse(const std::string& bytes);

  std::string serialize() const;
  // Writes a temporary file next to `path` and renames it over `path`, so
  // readers see the old file or the new one, never a partial one.
  Status save(const std::string& path) const;

  const TimingCacheEntry* find(const std::string& key) const;
  // Adds or replaces; tabs and line breaks in the key and fields become spaces.
  void insert(const std::string& key, TimingCacheEntry entry);

  size_t size() const { return entries_.size(); }
  // True when insert was called since load/parse.
  bool modified() const { return modified_; }
  const std::map<std::string, TimingCacheEntry>& entries() const { return entries_; }

 private:
  std::map<std::string, TimingCacheEntry> entries_;
  bool modified_ = false;
};

// The layer part of a timing cache key: op type and domain, every input's and
// output's type and dims, and a hash of the attributes (builder annotations
// "kiln.*" left out). Two nodes with equal signatures run the same candidates
// at the same speed.
std::string layer_signature(const Node& node, const std::vector<TensorInfo>& inputs,
                            const std::vector<TensorInfo>& outputs);

}  // namespace kiln
