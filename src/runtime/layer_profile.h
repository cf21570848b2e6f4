// Accumulates per-layer times of a context's queries (ExecutionOptions::
// profile_layers) for both backends: one slot per node, in the order the
// nodes first ran.
#pragma once

#include <unordered_map>
#include <vector>

#include "kiln/engine.h"
#include "kiln/graph.h"

namespace kiln {

class LayerProfile {
 public:
  void add(const Node& node, double ms) {
    auto [it, inserted] = index_.try_emplace(&node, layers_.size());
    if (inserted) layers_.push_back(LayerTime{node.name, node.op_type, 0, 0.0});
    LayerTime& layer = layers_[it->second];
    layer.runs += 1;
    layer.total_ms += ms;
  }
  const std::vector<LayerTime>& layers() const { return layers_; }

 private:
  std::unordered_map<const Node*, size_t> index_;
  std::vector<LayerTime> layers_;
};

}  // namespace kiln
