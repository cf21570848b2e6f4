// The per-node record of chosen tactics (attribute "kiln.tactics"): its text
// form, which entry covers given input shapes, that plans keep it, and that a
// backend without tactics leaves the timing cache file alone. No device needed.
#include "build/tactic_record.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph_test_util.h"
#include "kiln/builder.h"

namespace kiln {
namespace {

using testing::GraphMaker;
using testing::random_tensor;

StoredTactic sample_entry(size_t profile, Dims min_x, Dims max_x) {
  StoredTactic entry;
  entry.profile = profile;
  entry.mode = "tf32";
  entry.time_ms = 0.0213;
  entry.min_inputs = {min_x, Dims{8, 3, 3, 3}, std::nullopt};
  entry.max_inputs = {max_x, Dims{8, 3, 3, 3}, std::nullopt};
  entry.tactic = "cudnn:1,1";
  entry.label = "cudnn IMPLICIT_PRECOMP_GEMM tensor-op";
  return entry;
}

TEST(TacticRecord, EntryRoundTripsThroughText) {
  StoredTactic entry = sample_entry(3, {1, 3, 16, 16}, {32, 3, 16, 16});
  const std::string text = encode_stored_tactic(entry);
  EXPECT_EQ(text,
            "profile=3;mode=tf32;ms=0.0213;min=1x3x16x16/8x3x3x3/-;max=32x3x16x16/8x3x3x3/-;tactic=cudnn:1,1;"
            "label=cudnn IMPLICIT_PRECOMP_GEMM tensor-op");
  auto decoded = decode_stored_tactic(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, entry);

  // Scalars and separators inside the label survive (the label is cleaned, not rejected).
  entry.min_inputs = entry.max_inputs = {Dims{}};
  entry.label = "a;b";
  decoded = decode_stored_tactic(encode_stored_tactic(entry));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->min_inputs[0], Dims{});
  EXPECT_EQ(decoded->label, "a b");
}

TEST(TacticRecord, MalformedEntriesAreErrorsNamingTheNode) {
  for (const std::string text : {"", "profile=x;mode=tf32;ms=1;min=;max=;tactic=t", "profile=0;mode=tf32;ms=1;tactic=t",
                                 "profile=0;mode=tf32;ms=1;min=1x2;max=-;tactic=t",
                                 "profile=0;mode=tf32;ms=fast;min=;max=;tactic=t", "profile=0;colour=red"}) {
    EXPECT_FALSE(decode_stored_tactic(text).ok()) << text;
  }
  Node node;
  node.name = "conv7";
  node.op_type = "Conv";
  node.attributes[kTacticsAttribute] = Attribute::of_strings({"profile=0;nonsense"});
  auto entries = stored_tactics(node);
  ASSERT_FALSE(entries.ok());
  EXPECT_NE(entries.status().message().find("conv7"), std::string::npos) << entries.status().message();
}

TEST(TacticRecord, FindsTheTightestCoveringEntryInTheSameMode) {
  std::vector<StoredTactic> entries = {sample_entry(0, {1, 3, 16, 16}, {64, 3, 16, 16}),
                                       sample_entry(1, {1, 3, 16, 16}, {8, 3, 16, 16})};
  entries[1].tactic = "cudnn:0,1";
  auto inputs = [](int64_t batch) {
    return std::vector<std::optional<Dims>>{Dims{batch, 3, 16, 16}, Dims{8, 3, 3, 3}, std::nullopt};
  };
  ASSERT_NE(find_stored_tactic(entries, inputs(4), "tf32"), nullptr);
  EXPECT_EQ(find_stored_tactic(entries, inputs(4), "tf32")->profile, 1u);   // both cover: the smaller wins
  EXPECT_EQ(find_stored_tactic(entries, inputs(32), "tf32")->profile, 0u);  // only the first covers
  EXPECT_EQ(find_stored_tactic(entries, inputs(65), "tf32"), nullptr);      // beyond every max
  EXPECT_EQ(find_stored_tactic(entries, inputs(4), "fp32"), nullptr);       // timed for another precision
  auto with_bias = inputs(4);
  with_bias[2] = Dims{8};
  EXPECT_EQ(find_stored_tactic(entries, with_bias, "tf32"), nullptr);  // the entry has no bias input
  auto other_rank = inputs(4);
  other_rank[0] = Dims{4, 3, 16};
  EXPECT_EQ(find_stored_tactic(entries, other_rank, "tf32"), nullptr);
}

TEST(TacticRecord, PrecisionModes) {
  EXPECT_EQ(precision_mode(DataType::kFloat32, true), "tf32");
  EXPECT_EQ(precision_mode(DataType::kFloat32, false), "fp32");
  EXPECT_EQ(precision_mode(DataType::kFloat16, true), "fp16");
  EXPECT_EQ(precision_mode(DataType::kBFloat16, false), "bf16");
}

// A conv + gemm graph whose conv carries a tactic record, as a CUDA build leaves it.
std::unique_ptr<Graph> annotated_graph(const std::vector<StoredTactic>& entries) {
  GraphMaker m;
  Value* x = m.input("x", {2, 3, 8, 8});
  Value* c = m.node("Conv", {x, m.constant("w", random_tensor({4, 3, 3, 3}, 1)), m.constant("b", random_tensor({4}, 2))},
                    "conv", {{"pads", Attribute::of_ints({1, 1, 1, 1})}});
  Value* f = m.node("Flatten", {c}, "flat");
  m.output(m.node("Gemm", {f, m.constant("w2", random_tensor({256, 5}, 3))}, "fc"));
  Graph& g = m.graph();
  for (const auto& node : g.nodes()) {
    if (node->op_type == "Conv") set_stored_tactics(*node, entries);
  }
  return m.take();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("kiln_tactic_record_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(TacticRecord, SurvivesSaveAndLoadEngine) {
  const std::vector<StoredTactic> entries = {sample_entry(0, {2, 3, 8, 8}, {2, 3, 8, 8})};
  BuildConfig config;
  config.optimize = false;  // keep the Conv node as it is
  auto engine = Builder::build(annotated_graph(entries), config);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const std::string path = temp_path("plan.kiln");
  ASSERT_TRUE(save_engine(**engine, path).ok());
  auto loaded = load_engine(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  int annotated = 0;
  for (const auto& node : (*loaded)->graph().nodes()) {
    auto stored = stored_tactics(*node);
    ASSERT_TRUE(stored.ok()) << stored.status().to_string();
    if (node->op_type == "Conv") {
      EXPECT_EQ(*stored, entries);
      ++annotated;
    } else {
      EXPECT_TRUE(stored->empty());
    }
  }
  EXPECT_EQ(annotated, 1);
  // The annotation changes nothing on a backend without tactics.
  TensorMap inputs{{"x", random_tensor({2, 3, 8, 8}, 9)}};
  auto plain_engine = Builder::build(annotated_graph({}), config);
  ASSERT_TRUE(plain_engine.ok());
  auto with = (*loaded)->create_context().value()->execute(inputs);
  auto without = (*plain_engine)->create_context().value()->execute(inputs);
  ASSERT_TRUE(with.ok() && without.ok());
  ASSERT_EQ((*with)[0].byte_size(), (*without)[0].byte_size());
  EXPECT_EQ(0, std::memcmp((*with)[0].raw_data(), (*without)[0].raw_data(), (*with)[0].byte_size()));
  std::filesystem::remove(path);
}

TEST(TacticRecord, CpuBuildLeavesTheTimingCacheFileAlone) {
  const std::string missing = temp_path("missing.cache");
  const std::string corrupt = temp_path("corrupt.cache");
  {
    std::ofstream out(corrupt);
    out << "not a timing cache";
  }
  for (const std::string& path : {missing, corrupt}) {
    std::vector<BuildProgress> events;
    BuildConfig config;
    config.timing_cache = path;
    config.progress = [&events](const BuildProgress& p) { events.push_back(p); };
    auto engine = Builder::build(annotated_graph({}), config);
    ASSERT_TRUE(engine.ok()) << engine.status().to_string();
    EXPECT_TRUE(events.empty()) << "the CPU backend has no tactics: no progress, no warning about " << path;
    for (const auto& node : (*engine)->graph().nodes()) EXPECT_FALSE(node->has_attribute(kTacticsAttribute));
  }
  EXPECT_FALSE(std::filesystem::exists(missing));
  std::ifstream in(corrupt);
  std::stringstream bytes;
  bytes << in.rdbuf();
  EXPECT_EQ(bytes.str(), "not a timing cache");
  std::filesystem::remove(corrupt);
}

}  // namespace
}  // namespace kiln
