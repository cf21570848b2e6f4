// Optimization profiles: the range of shapes an engine is built for.
//
// A profile gives, for each graph input with a dynamic dimension, the smallest
// (min), the most frequent (opt, the shape tactics are timed on) and the largest
// (max) shape the engine must accept. An engine may carry several profiles; at
// run time the tightest one that covers the actual shapes is chosen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/io.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

struct ProfileRange {
  Dims min;
  Dims opt;
  Dims max;
  bool operator==(const ProfileRange& other) const = default;
};

struct OptimizationProfile {
  // Input name -> range. Inputs with fully static shapes may be left out.
  std::map<std::string, ProfileRange> inputs;
  bool operator==(const OptimizationProfile& other) const = default;
};

// Concrete shapes of one request, by input name.
using InputShapes = std::map<std::string, Dims>;

// "input:1x3x224x224,8x3x224x224,32x3x224x224;mask:1x16,8x16,32x16"
std::string profile_to_string(const OptimizationProfile& profile);

// Checks a profile against the graph's declared inputs: every entry names an
// input, ranks agree, min <= opt <= max on every axis, static extents are kept
// (min = opt = max = declared), every input with a dynamic or unranked shape
// has an entry, and a symbolic dimension shared by several inputs ("batch") has
// the same range everywhere. Errors name the input, the axis and the values.
Status validate_profile(const OptimizationProfile& profile, const std::vector<IoDesc>& graph_inputs);

// Parses "name:MIN,OPT,MAX;name2:MIN,OPT,MAX" where each shape is "1x3x224x224"
// (a single shape "name:SHAPE" means min = opt = max). Names may contain ':'
// only before the last ':' of their entry (ONNX names like "input:0" work).
Expected<OptimizationProfile> parse_profile_spec(const std::string& spec);

// trtexec's triple: --minShapes=name:1x3x224x224,name2:1x16 --optShapes=... --maxShapes=...
// Pass the text after '='. Every input must appear in all three lists.
Expected<OptimizationProfile> parse_trtexec_shapes(const std::string& min_shapes, const std::string& opt_shapes,
                                                   const std::string& max_shapes);

// True when every input the profile names is present in `shapes` with the same
// rank and every extent within [min, max]. Inputs the profile does not name
// (static ones) are not looked at here: Engine::validate_inputs checks them.
bool profile_covers(const OptimizationProfile& profile, const InputShapes& shapes);

// Index of the tightest profile that covers `shapes`: the one with the smallest
// max volume (sum over its inputs of the max shape's element count); the first
// wins ties. When none covers, the error names the first input that falls
// outside, its shape, and every profile's min/max for it.
Expected<size_t> select_profile(const std::vector<OptimizationProfile>& profiles, const InputShapes& shapes);

// One profile per batch bucket (ascending, positive): on axis 0 of every input
// whose axis 0 is dynamic, opt = max = bucket and min = previous bucket + 1
// (1 for the first). All other axes must be static; an input with another
// dynamic axis is an error naming it (give explicit profiles then).
Expected<std::vector<OptimizationProfile>> profiles_for_batch_buckets(const std::vector<IoDesc>& graph_inputs,
                                                                      const std::vector<int64_t>& buckets);

// Shapes of a request's tensors, for profile_covers / select_profile.
InputShapes input_shapes_of(const TensorMap& inputs);

}  // namespace kiln
