// Importer and builder errors on broken or unsupported models: each must be an
// error value naming the file (and node, op, domain, opset where they apply),
// never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "kiln/builder.h"
#include "kiln/onnx.h"

namespace kiln {
namespace {

// A minimal protobuf writer, so that the tests build ONNX models byte by byte
// without depending on the ONNX headers.
class Proto {
 public:
  Proto& varint(int field, uint64_t v) {
    key(field, 0);
    raw_varint(v);
    return *this;
  }
  Proto& bytes(int field, const std::string& s) {
    key(field, 2);
    raw_varint(s.size());
    out_ += s;
    return *this;
  }
  Proto& message(int field, const Proto& m) { return bytes(field, m.out_); }
  const std::string& str() const { return out_; }

 private:
  void key(int field, int wire) { raw_varint((static_cast<uint64_t>(field) << 3) | wire); }
  void raw_varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

// ValueInfoProto{name, type{tensor_type{elem_type: FLOAT, shape{dim{dim_value: 2}}}}}
Proto float_vector_info(const std::string& name) {
  Proto dim;
  dim.varint(1, 2);
  Proto shape;
  shape.message(1, dim);
  Proto tensor_type;
  tensor_type.varint(1, 1).message(2, shape);
  Proto type;
  type.message(1, tensor_type);
  Proto info;
  info.bytes(1, name).message(2, type);
  return info;
}

// ModelProto with one node y = <domain>.<op_type>(x), importing `imported_domain` at version 1.
std::string one_node_model(const std::string& op_type, const std::string& domain, const std::string& imported_domain) {
  Proto node;
  node.bytes(1, "x").bytes(2, "y").bytes(3, "my_node").bytes(4, op_type).bytes(7, domain);
  Proto graph;
  graph.message(1, node).bytes(2, "g").message(11, float_vector_info("x")).message(12, float_vector_info("y"));
  Proto default_opset;
  default_opset.bytes(1, "").varint(2, 17);
  Proto custom_opset;
  custom_opset.bytes(1, imported_domain).varint(2, 1);
  Proto model;
  model.varint(1, 8).message(7, graph).message(8, default_opset).message(8, custom_opset);
  return model.str();
}

std::string bundled_model_bytes() {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/models/resnet18_mini.onnx", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_error_mentions(const Status& status, std::initializer_list<std::string> words) {
  ASSERT_FALSE(status.ok());
  for (const std::string& word : words) {
    EXPECT_NE(status.message().find(word), std::string::npos) << "'" << word << "' missing in: " << status.message();
  }
}

TEST(OnnxImportErrors, TruncatedModelNamesTheFile) {
  std::string bytes = bundled_model_bytes();
  ASSERT_GT(bytes.size(), 1000u) << "models/resnet18_mini.onnx is missing";
  auto graph = import_onnx_bytes(bytes.data(), bytes.size() / 2, "half.onnx", "");
  expect_error_mentions(graph.status(), {"half.onnx", "truncated"});
  EXPECT_EQ(graph.status().code(), StatusCode::kFormatError);
}

TEST(OnnxImportErrors, BundledModelImportsWhole) {
  std::string bytes = bundled_model_bytes();
  auto graph = import_onnx_bytes(bytes.data(), bytes.size(), "resnet18_mini.onnx", "");
  ASSERT_TRUE(graph.ok()) << graph.status().to_string();
  EXPECT_EQ((*graph)->inputs().size(), 1u);
  EXPECT_EQ((*graph)->inputs()[0]->shape.to_string(), "batchx3x224x224");
  EXPECT_EQ((*graph)->nodes().size(), 69u);
}

TEST(OnnxImportErrors, RandomBytesAndTextAreNotModels) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 50; ++trial) {
    std::string bytes(1 + rng() % 4096, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    auto graph = import_onnx_bytes(bytes.data(), bytes.size(), "noise.bin", "");
    expect_error_mentions(graph.status(), {"noise.bin"});
  }
  std::string text = "This is a README, not a model.\nIt has two lines.\n";
  auto graph = import_onnx_bytes(text.data(), text.size(), "README.txt", "");
  expect_error_mentions(graph.status(), {"README.txt"});
}

TEST(OnnxImportErrors, EmptyAndMissingFiles) {
  auto dir = std::filesystem::temp_directory_path();
  std::string empty = (dir / "kiln_empty_model.onnx").string();
  { std::ofstream touch(empty); }
  auto graph = import_onnx_file(empty);
  expect_error_mentions(graph.status(), {empty, "empty"});
  std::filesystem::remove(empty);

  std::string missing = (dir / "kiln_no_such_model.onnx").string();
  graph = import_onnx_file(missing);
  expect_error_mentions(graph.status(), {missing, "does not exist"});
  EXPECT_EQ(graph.status().code(), StatusCode::kNotFound);
}

TEST(OnnxImportErrors, UnsupportedOpNamesNodeOpDomainAndOpset) {
  std::string bytes = one_node_model("FooBar", "com.example", "com.example");
  auto graph = import_onnx_bytes(bytes.data(), bytes.size(), "foobar.onnx", "");
  ASSERT_TRUE(graph.ok()) << graph.status().to_string();
  auto engine = Builder::build(std::move(graph).value());
  expect_error_mentions(engine.status(), {"my_node", "FooBar", "com.example", "opset 1"});
  EXPECT_EQ(engine.status().code(), StatusCode::kUnimplemented);
}

TEST(OnnxImportErrors, NodeDomainNotImported) {
  std::string bytes = one_node_model("FooBar", "com.example", "com.other");
  auto graph = import_onnx_bytes(bytes.data(), bytes.size(), "foobar.onnx", "");
  expect_error_mentions(graph.status(), {"foobar.onnx", "my_node", "com.example"});
}

TEST(OnnxImportErrors, ModelWithoutGraph) {
  Proto model;
  model.varint(1, 8);
  auto graph = import_onnx_bytes(model.str().data(), model.str().size(), "nograph.onnx", "");
  expect_error_mentions(graph.status(), {"nograph.onnx", "no graph"});
}

}  // namespace
}  // namespace kiln
