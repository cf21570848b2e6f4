// Plan files (.kiln): a built graph and its metadata, saved so that an engine
// can be created without importing and optimising the model again.
//
// Layout (all integers little-endian):
//   header    "KILNPLAN", format version, header size, file size, checksum of
//             every byte after the header, offset and size of each section
//   metadata  backend, device architecture, precision flags, profiles, I/O
//   graph     values (dtype, shape with symbolic names), nodes, attributes
//   weights   raw tensor bytes, each tensor at a 256-byte-aligned file offset
// Loading maps the file read-only (MAP_PRIVATE); constant tensors view the
// mapping, which stays mapped until the last tensor viewing it is gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/graph.h"
#include "kiln/profile.h"
#include "kiln/status.h"

namespace kiln {

constexpr char kPlanMagic[8] = {'K', 'I', 'L', 'N', 'P', 'L', 'A', 'N'};
constexpr uint32_t kPlanFormatVersion = 1;
// File offset alignment of every tensor in the weight blob.
constexpr size_t kPlanWeightAlignment = 256;

// Precisions the builder was allowed to use (bit flags).
enum PlanPrecision : uint32_t {
  kPlanPrecisionFp32 = 1u << 0,
  kPlanPrecisionTf32 = 1u << 1,
  kPlanPrecisionFp16 = 1u << 2,
  kPlanPrecisionBf16 = 1u << 3,
  kPlanPrecisionInt8 = 1u << 4,
};

struct PlanMetadata {
  BackendKind backend = BackendKind::kCpu;
  // What the plan was built for: "sm_90", "x86_64", ... Checked by the caller
  // (the loader cannot know what the current device is called).
  std::string device_architecture;
  uint32_t precision_flags = kPlanPrecisionFp32;
  std::vector<OptimizationProfile> profiles;
  // The graph's inputs and outputs (names, dtypes, shapes with symbolic
  // names). save_plan fills them from the graph; what the caller put here is
  // ignored. Readable without walking the graph (for `kiln inspect`).
  std::vector<IoDesc> inputs;
  std::vector<IoDesc> outputs;
  // Free-form build facts (builder options, Kiln version, ...), kept in order.
  std::map<std::string, std::string> properties;
};

struct LoadedPlan {
  uint32_t format_version = 0;
  PlanMetadata metadata;
  // Constant tensors view the file mapping (read-only memory: clone before
  // writing); the mapping lives as long as any of them.
  std::unique_ptr<Graph> graph;
};

// Fills inputs/outputs of `meta` from the graph's declared inputs and outputs
// (what save_plan stores).
void describe_graph_io(const Graph& graph, PlanMetadata* meta);

// Serialises to bytes; save_plan writes these bytes to `path`. Errors for
// what a plan cannot hold (graph attributes, unnamed values) name the node.
Expected<std::vector<uint8_t>> serialize_plan(const Graph& graph, const PlanMetadata& meta);
Status save_plan(const Graph& graph, const PlanMetadata& meta, const std::string& path);

// Reads a plan. With `expected_backend` set, a plan built for another backend
// is an error naming both. Other errors: not a Kiln plan (bad magic),
// truncated, other format version (both versions named), checksum mismatch,
// malformed sections. Never reads outside the file.
Expected<LoadedPlan> load_plan(const std::string& path, std::optional<BackendKind> expected_backend);

// Same from memory: the bytes are copied once into an aligned buffer that the
// constant tensors then share (for fuzzing, tests and embedded plans).
Expected<LoadedPlan> load_plan_from_memory(const void* data, size_t size, std::optional<BackendKind> expected_backend,
                                           const std::string& display_name = "<memory>");

// The checksum plans use: a 64-bit hash of `size` bytes (4 multiply-rotate
// lanes over 8-byte words, an xxHash-like construction).
uint64_t plan_checksum(const void* data, size_t size);

}  // namespace kiln
