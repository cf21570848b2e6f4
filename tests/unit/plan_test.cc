#include "kiln/plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "kiln/builder.h"

namespace kiln {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "kiln_plan_test_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Tensor random_floats(Dims dims, uint32_t seed) {
  Tensor t = Tensor::empty(DataType::kFloat32, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

// A graph exercising every value, tensor and attribute kind a plan stores.
std::unique_ptr<Graph> make_graph() {
  auto g = std::make_unique<Graph>();
  g->name = "plan_test_graph";
  g->opsets = {{"", 17}, {"com.microsoft", 1}};
  Value* x = g->value("x");
  x->dtype = DataType::kFloat32;
  x->shape = Shape({Dim::symbolic("batch"), Dim::known(8)});
  Value* w = g->value("weight");
  w->dtype = DataType::kFloat32;
  w->shape = Shape::from_dims({8, 5});
  w->constant = random_floats({8, 5}, 7);
  Value* idx = g->value("indices");
  idx->dtype = DataType::kInt64;
  idx->constant = Tensor::from_vector<int64_t>(DataType::kInt64, {3}, {-1, 4, 1ll << 40});
  Value* half = g->value("half");
  half->constant = Tensor::from_vector<uint16_t>(DataType::kFloat16, {2}, {0x3c00, 0xc000});
  Value* labels = g->value("labels");
  labels->constant = Tensor::strings({2}, {"cat", std::string("d\0g", 3)});
  Value* empty = g->value("empty");
  empty->constant = Tensor::empty(DataType::kFloat32, {0, 4});
  Value* h = g->value("h");
  h->dtype = DataType::kFloat32;
  h->shape = Shape({Dim::symbolic("batch"), Dim()});
  Value* y = g->value("y");
  y->shape = Shape::unranked();

  auto n1 = std::make_unique<Node>();
  n1->name = "matmul";
  n1->op_type = "MatMul";
  n1->opset = 17;
  n1->inputs = {x, w};
  n1->outputs = {h};
  n1->attributes["alpha"] = Attribute::of_float(0.125);
  n1->attributes["axis"] = Attribute::of_int(-3);
  n1->attributes["mode"] = Attribute::of_string("constant");
  n1->attributes["value"] = Attribute::of_tensor(random_floats({3}, 11));
  n1->attributes["scales"] = Attribute::of_floats({1.5, -2.25});
  n1->attributes["perm"] = Attribute::of_ints({0, 2, 1});
  n1->attributes["names"] = Attribute::of_strings({"a", "", "ccc"});
  n1->attributes["none"] = Attribute::of_tensor(Tensor());
  g->add_node(std::move(n1));
  auto n2 = std::make_unique<Node>();
  n2->name = "custom";
  n2->op_type = "Thing";
  n2->domain = "com.microsoft";
  n2->opset = 1;
  n2->inputs = {h, nullptr, idx, half, labels, empty};
  n2->outputs = {y, nullptr};
  g->add_node(std::move(n2));
  g->inputs() = {x};
  g->outputs() = {y};
  return g;
}

PlanMetadata make_metadata(const Graph& g) {
  PlanMetadata meta;
  meta.backend = BackendKind::kCpu;
  meta.device_architecture = "x86_64-avx2";
  meta.precision_flags = kPlanPrecisionFp32 | kPlanPrecisionFp16;
  meta.profiles.push_back(*parse_profile_spec("x:1x8,4x8,8x8"));
  meta.profiles.push_back(*parse_profile_spec("x:9x8,16x8,32x8"));
  meta.properties = {{"kiln_version", "0.1.0"}, {"optimize", "true"}};
  describe_graph_io(g, &meta);
  return meta;
}

void expect_same_tensor(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  ASSERT_EQ(a.dims(), b.dims()) << what;
  if (!a.defined()) return;
  if (a.dtype() == DataType::kString) {
    EXPECT_EQ(a.string_data(), b.string_data()) << what;
    return;
  }
  ASSERT_EQ(a.byte_size(), b.byte_size()) << what;
  if (a.byte_size()) EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()), 0) << what;
}

void expect_same_shape(const Shape& a, const Shape& b, const std::string& what) {
  EXPECT_EQ(a.is_ranked(), b.is_ranked()) << what;
  EXPECT_EQ(a.dims(), b.dims()) << what << ": " << a.to_string() << " vs " << b.to_string();
}

void expect_same_graph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.opsets, b.opsets);
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  ASSERT_EQ(a.inputs().size(), b.inputs().size());
  ASSERT_EQ(a.outputs().size(), b.outputs().size());
  for (size_t i = 0; i < a.inputs().size(); ++i) EXPECT_EQ(a.inputs()[i]->name, b.inputs()[i]->name);
  for (size_t i = 0; i < a.outputs().size(); ++i) EXPECT_EQ(a.outputs()[i]->name, b.outputs()[i]->name);
  auto same_value = [&](const Value* va, const Value* vb) {
    ASSERT_EQ(va == nullptr, vb == nullptr);
    if (!va) return;
    EXPECT_EQ(va->name, vb->name);
    EXPECT_EQ(va->dtype, vb->dtype) << va->name;
    expect_same_shape(va->shape, vb->shape, va->name);
    ASSERT_EQ(va->is_constant(), vb->is_constant()) << va->name;
    if (va->is_constant()) expect_same_tensor(*va->constant, *vb->constant, va->name);
  };
  for (size_t n = 0; n < a.nodes().size(); ++n) {
    const Node& na = *a.nodes()[n];
    const Node& nb = *b.nodes()[n];
    EXPECT_EQ(na.name, nb.name);
    EXPECT_EQ(na.op_type, nb.op_type);
    EXPECT_EQ(na.domain, nb.domain);
    EXPECT_EQ(na.opset, nb.opset);
    ASSERT_EQ(na.inputs.size(), nb.inputs.size());
    ASSERT_EQ(na.outputs.size(), nb.outputs.size());
    for (size_t i = 0; i < na.inputs.size(); ++i) same_value(na.inputs[i], nb.inputs[i]);
    for (size_t i = 0; i < na.outputs.size(); ++i) {
      same_value(na.outputs[i], nb.outputs[i]);
      if (nb.outputs[i]) EXPECT_EQ(nb.outputs[i]->producer, &nb);
    }
    ASSERT_EQ(na.attributes.size(), nb.attributes.size());
    for (const auto& [key, attr] : na.attributes) {
      const Attribute* other = nb.attr(key);
      ASSERT_NE(other, nullptr) << key;
      EXPECT_EQ(attr.kind, other->kind) << key;
      EXPECT_EQ(attr.f, other->f) << key;
      EXPECT_EQ(attr.i, other->i) << key;
      EXPECT_EQ(attr.s, other->s) << key;
      EXPECT_EQ(attr.floats, other->floats) << key;
      EXPECT_EQ(attr.ints, other->ints) << key;
      EXPECT_EQ(attr.strings, other->strings) << key;
      expect_same_tensor(attr.t, other->t, key);
    }
  }
}

// Start and end of the mapping of `path` in this process, if mapped.
bool find_mapping(const std::string& path, uintptr_t* begin, uintptr_t* end) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < path.size() || line.compare(line.size() - path.size(), path.size(), path) != 0) continue;
    std::istringstream fields(line);
    std::string range;
    fields >> range;
    *begin = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    *end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    return true;
  }
  return false;
}

TEST(Plan, RoundTripsGraphAndMetadata) {
  auto graph = make_graph();
  PlanMetadata meta = make_metadata(*graph);
  const std::string path = temp_path("roundtrip.kiln");
  ASSERT_TRUE(save_plan(*graph, meta, path).ok());

  auto loaded = load_plan(path, BackendKind::kCpu);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->format_version, kPlanFormatVersion);
  const PlanMetadata& m = loaded->metadata;
  EXPECT_EQ(m.backend, BackendKind::kCpu);
  EXPECT_EQ(m.device_architecture, "x86_64-avx2");
  EXPECT_EQ(m.precision_flags, kPlanPrecisionFp32 | kPlanPrecisionFp16);
  EXPECT_EQ(m.profiles, meta.profiles);
  EXPECT_EQ(m.properties, meta.properties);
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.inputs[0].name, "x");
  EXPECT_EQ(m.inputs[0].dtype, DataType::kFloat32);
  EXPECT_EQ(m.inputs[0].shape.to_string(), "batchx8");
  ASSERT_EQ(m.outputs.size(), 1u);
  EXPECT_FALSE(m.outputs[0].shape.is_ranked());
  expect_same_graph(*graph, *loaded->graph);
  // Loading without a backend expectation also works.
  EXPECT_TRUE(load_plan(path, std::nullopt).ok());
  std::remove(path.c_str());
}

TEST(Plan, WeightsViewTheMappingWithoutCopy) {
  auto graph = make_graph();
  const std::string path = temp_path("mapped.kiln");
  ASSERT_TRUE(save_plan(*graph, make_metadata(*graph), path).ok());
  Tensor kept;
  {
    auto loaded = load_plan(path, BackendKind::kCpu);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    uintptr_t begin = 0, end = 0;
    ASSERT_TRUE(find_mapping(path, &begin, &end)) << "plan is not memory-mapped";
    for (const char* name : {"weight", "indices", "half"}) {
      const Tensor& t = *loaded->graph->find_value(name)->constant;
      auto address = reinterpret_cast<uintptr_t>(t.raw_data());
      EXPECT_EQ(address % kPlanWeightAlignment, 0u) << name;
      EXPECT_GE(address, begin) << name << " was copied out of the mapping";
      EXPECT_LE(address + t.byte_size(), end) << name;
    }
    auto attribute_tensor = loaded->graph->nodes()[0]->attr("value")->t;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(attribute_tensor.raw_data()) % kPlanWeightAlignment, 0u);
    kept = *loaded->graph->find_value("weight")->constant;
  }
  // The graph is gone; the tensor still keeps the mapping alive.
  uintptr_t begin = 0, end = 0;
  EXPECT_TRUE(find_mapping(path, &begin, &end));
  expect_same_tensor(kept, *graph->find_value("weight")->constant, "weight after the graph is gone");
  kept = Tensor();
  EXPECT_FALSE(find_mapping(path, &begin, &end)) << "mapping outlived every tensor";
  std::remove(path.c_str());
}

TEST(Plan, LoadedPlanBuildsAndRuns) {
  // No kernels are needed: y is the input passed through, c is a weight.
  Graph g;
  Value* x = g.value("x");
  x->dtype = DataType::kFloat32;
  x->shape = Shape({Dim::symbolic("batch"), Dim::known(4)});
  Value* c = g.value("c");
  c->dtype = DataType::kFloat32;
  c->shape = Shape::from_dims({3, 4});
  c->constant = random_floats({3, 4}, 99);
  g.inputs() = {x};
  g.outputs() = {x, c};
  PlanMetadata meta;  // inputs/outputs left empty: save_plan describes the graph itself
  const std::string path = temp_path("run.kiln");
  ASSERT_TRUE(save_plan(g, meta, path).ok());
  auto loaded = load_plan(path, BackendKind::kCpu);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  ASSERT_EQ(loaded->metadata.inputs.size(), 1u);
  EXPECT_EQ(loaded->metadata.inputs[0].shape.to_string(), "batchx4");
  ASSERT_EQ(loaded->metadata.outputs.size(), 2u);
  EXPECT_EQ(loaded->metadata.outputs[1].name, "c");
  auto engine = Builder::build(std::move(loaded->graph), BuildConfig{BackendKind::kCpu, false});
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  auto context = (*engine)->create_context();
  ASSERT_TRUE(context.ok()) << context.status().to_string();
  Tensor input = random_floats({2, 4}, 5);
  auto outputs = (*context)->execute({{"x", input}});
  ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
  ASSERT_EQ(outputs->size(), 2u);
  expect_same_tensor((*outputs)[0], input, "x");
  expect_same_tensor((*outputs)[1], *c->constant, "c");
  std::remove(path.c_str());
}

class PlanErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    graph_ = make_graph();
    auto bytes = serialize_plan(*graph_, make_metadata(*graph_));
    ASSERT_TRUE(bytes.ok());
    bytes_ = std::move(*bytes);
  }
  Status load(const std::vector<uint8_t>& bytes, std::optional<BackendKind> backend = BackendKind::kCpu) {
    return load_plan_from_memory(bytes.data(), bytes.size(), backend, "test.kiln").status();
  }
  std::unique_ptr<Graph> graph_;
  std::vector<uint8_t> bytes_;
};

void expect_error(const Status& s, StatusCode code, std::vector<std::string> fragments) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s.to_string();
  for (const std::string& f : fragments)
    EXPECT_NE(s.message().find(f), std::string::npos) << f << " not in " << s.message();
}

TEST_F(PlanErrors, LoadsFromMemory) { EXPECT_TRUE(load(bytes_).ok()) << load(bytes_).to_string(); }

TEST_F(PlanErrors, BadMagic) {
  std::string onnx_like = "\x08\x07\x12\x04test-model";
  expect_error(load(std::vector<uint8_t>(onnx_like.begin(), onnx_like.end())), StatusCode::kFormatError,
               {"not a Kiln plan", "test.kiln"});
  expect_error(load({}), StatusCode::kFormatError, {"not a Kiln plan"});
  auto bytes = bytes_;
  bytes[3] = 'X';
  expect_error(load(bytes), StatusCode::kFormatError, {"not a Kiln plan"});
}

TEST_F(PlanErrors, WrongVersionNamesBoth) {
  auto bytes = bytes_;
  bytes[8] = 7;
  expect_error(load(bytes), StatusCode::kFormatError, {"version 7", "version " + std::to_string(kPlanFormatVersion)});
}

TEST_F(PlanErrors, WrongBackendNamesBoth) {
  expect_error(load(bytes_, BackendKind::kCuda), StatusCode::kInvalidArgument, {"cpu", "cuda", "test.kiln"});
}

TEST_F(PlanErrors, ChecksumMismatch) {
  auto bytes = bytes_;
  bytes.back() ^= 0x40;  // inside the weight blob
  expect_error(load(bytes), StatusCode::kFormatError, {"checksum"});
}

TEST_F(PlanErrors, TruncatedAtEveryOffset) {
  for (size_t size = 0; size < bytes_.size(); ++size) {
    std::vector<uint8_t> prefix(bytes_.begin(), bytes_.begin() + size);
    Status s = load(prefix);
    ASSERT_FALSE(s.ok()) << "size " << size;
    if (size >= 8 || size == 0) {
      const bool says_truncated = s.message().find("truncated") != std::string::npos;
      EXPECT_TRUE(size == 0 || says_truncated) << "size " << size << ": " << s.message();
    }
  }
}

TEST_F(PlanErrors, FlippedByteAtEveryOffset) {
  for (size_t offset = 0; offset < bytes_.size(); ++offset) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      auto bytes = bytes_;
      bytes[offset] ^= mask;
      Status s = load(bytes);
      ASSERT_FALSE(s.ok()) << "flip at " << offset;
      EXPECT_EQ(s.code(), StatusCode::kFormatError) << "offset " << offset << ": " << s.to_string();
    }
  }
}

// Corruption that keeps the checksum valid (a buggy writer, or a forged file):
// the section readers must still never crash or read outside the buffer.
TEST_F(PlanErrors, CorruptSectionsWithValidChecksum) {
  constexpr size_t kChecksumOffset = 16, kCovered = 24;
  auto reseal = [](std::vector<uint8_t>& bytes) {
    uint64_t sum = plan_checksum(bytes.data() + kCovered, bytes.size() - kCovered);
    for (int i = 0; i < 8; ++i) bytes[kChecksumOffset + i] = static_cast<uint8_t>(sum >> (8 * i));
  };
  int rejected = 0;
  for (size_t offset = kCovered; offset < bytes_.size(); ++offset) {
    for (uint8_t mask : {0x01, 0x10, 0x80, 0xff}) {
      auto bytes = bytes_;
      bytes[offset] ^= mask;
      reseal(bytes);
      auto result = load_plan_from_memory(bytes.data(), bytes.size(), std::nullopt, "forged.kiln");
      if (!result.ok()) {
        ++rejected;
        EXPECT_NE(result.status().message().find("forged.kiln"), std::string::npos) << result.status().message();
      }
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(PlanFiles, MissingFileAndEmptyFile) {
  auto missing = load_plan(temp_path("does_not_exist.kiln"), BackendKind::kCpu);
  expect_error(missing.status(), StatusCode::kNotFound, {"does_not_exist.kiln"});
  const std::string path = temp_path("empty.kiln");
  write_bytes(path, {});
  expect_error(load_plan(path, BackendKind::kCpu).status(), StatusCode::kFormatError, {"not a Kiln plan"});
  // A truncated file on disk says so.
  auto graph = make_graph();
  auto bytes = serialize_plan(*graph, make_metadata(*graph));
  ASSERT_TRUE(bytes.ok());
  bytes->resize(bytes->size() - 100);
  write_bytes(path, *bytes);
  expect_error(load_plan(path, BackendKind::kCpu).status(), StatusCode::kFormatError, {"truncated", "empty.kiln"});
  std::remove(path.c_str());
}

TEST(PlanFiles, SubgraphAttributesAreRefused) {
  auto graph = make_graph();
  Attribute body;
  body.kind = Attribute::Kind::kGraph;
  body.g = std::make_shared<Graph>();
  const_cast<Node*>(graph->nodes()[1].get())->attributes["then_branch"] = body;
  auto bytes = serialize_plan(*graph, make_metadata(*graph));
  expect_error(bytes.status(), StatusCode::kUnimplemented, {"'custom'", "then_branch"});
}

TEST(PlanFiles, SavingIsDeterministicAcrossRoundTrips) {
  auto graph = make_graph();
  auto first = serialize_plan(*graph, make_metadata(*graph));
  ASSERT_TRUE(first.ok());
  auto loaded = load_plan_from_memory(first->data(), first->size(), BackendKind::kCpu);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  auto second = serialize_plan(*loaded->graph, loaded->metadata);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
}

TEST(PlanFiles, ChecksumIsStableAndSensitive) {
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
  const uint64_t base = plan_checksum(data.data(), data.size());
  EXPECT_EQ(base, plan_checksum(data.data(), data.size()));
  for (size_t i = 0; i < data.size(); i += 37) {
    data[i] ^= 1;
    EXPECT_NE(plan_checksum(data.data(), data.size()), base) << i;
    data[i] ^= 1;
  }
  EXPECT_NE(plan_checksum(data.data(), 999), base);
  EXPECT_NE(plan_checksum(data.data(), 0), plan_checksum(data.data(), 1));
}

}  // namespace
}  // namespace kiln
