// The builder's record of the tactics it chose for one node, kept in the node's
// attribute `kiln.tactics` (a list of strings, one per profile) so that plans
// carry it like any other attribute.
//
// An entry says: for profile P, in precision mode M, when the node's inputs lie
// between the dims they have at P's min shapes and at P's max shapes, use
// tactic T (measured at P's opt shapes in `time_ms`). The tactic itself is an
// opaque string owned by the backend that chose it; `label` describes it for
// people (`kiln inspect`, `kiln build --verbose`).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kiln/graph.h"
#include "kiln/status.h"

namespace kiln {

constexpr char kTacticsAttribute[] = "kiln.tactics";

struct StoredTactic {
  size_t profile = 0;
  std::string mode;   // precision mode timed in: "fp32", "tf32", "fp16", "bf16"
  double time_ms = 0;
  // Aligned with the node's inputs; std::nullopt for an omitted input.
  std::vector<std::optional<Dims>> min_inputs;
  std::vector<std::optional<Dims>> max_inputs;
  std::string tactic;  // backend encoding; no ';'
  std::string label;   // for people; may hold spaces, no ';' or newline

  bool operator==(const StoredTactic&) const = default;
};

// One entry as text: "profile=0;mode=tf32;ms=0.0213;min=1x3x16x16/8x3x3x3/-;max=...;tactic=...;label=..."
std::string encode_stored_tactic(const StoredTactic& entry);
Expected<StoredTactic> decode_stored_tactic(const std::string& text);

// Every entry of the node's record (none when it has no `kiln.tactics`);
// errors name the node and the malformed entry.
Expected<std::vector<StoredTactic>> stored_tactics(const Node& node);
// Replaces the node's record; an empty list removes the attribute.
void set_stored_tactics(Node& node, const std::vector<StoredTactic>& entries);

// The entry for inputs of these dims in this mode: each present input's dims
// within [min, max] axis by axis, omitted inputs omitted in the entry too. When
// several profiles cover them, the one with the smallest max volume wins (as
// select_profile chooses profiles). nullptr when none does.
const StoredTactic* find_stored_tactic(const std::vector<StoredTactic>& entries,
                                       const std::vector<std::optional<Dims>>& inputs, const std::string& mode);

// The mode a float layer of `dtype` runs in: float32 is "tf32" when TF32 is
// allowed, else "fp32"; float16 "fp16"; bfloat16 "bf16"; other types their name.
std::string precision_mode(DataType dtype, bool allow_tf32);

}  // namespace kiln
