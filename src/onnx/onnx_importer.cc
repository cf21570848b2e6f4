#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/onnx.h"
#include "onnx/tensor_proto.h"

namespace kiln {
namespace {

Expected<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found("model file '" + path + "' does not exist");
  if (std::filesystem::is_directory(path, ec)) return invalid_argument("'" + path + "' is a directory, not a model file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Expected<Attribute> convert_attribute(const onnx::AttributeProto& a, const std::string& where,
                                      const std::string& base_dir) {
  using AP = onnx::AttributeProto;
  switch (a.type()) {
    case AP::FLOAT: return Attribute::of_float(a.f());
    case AP::INT: return Attribute::of_int(a.i());
    case AP::STRING: return Attribute::of_string(a.s());
    case AP::TENSOR: {
      auto t = tensor_from_proto(a.t(), base_dir);
      if (!t.ok()) return t.status().with_context(where + ": attribute '" + a.name() + "'");
      return Attribute::of_tensor(std::move(t).value());
    }
    case AP::FLOATS: return Attribute::of_floats({a.floats().begin(), a.floats().end()});
    case AP::INTS: return Attribute::of_ints({a.ints().begin(), a.ints().end()});
    case AP::STRINGS: return Attribute::of_strings({a.strings().begin(), a.strings().end()});
    case AP::GRAPH: {
      Attribute out;
      out.kind = Attribute::Kind::kGraph;
      return out;  // Subgraphs are kept as markers; ops that need them are rejected by the op table.
    }
    default:
      return unimplemented(where + ": attribute '" + a.name() + "' has type " + AP::AttributeType_Name(a.type()) +
                           ", which is not supported");
  }
}

Status apply_type(const onnx::TypeProto& type, Value* value, const std::string& what) {
  if (!type.has_tensor_type()) {
    std::string kind = type.has_sequence_type() ? "sequence" : type.has_optional_type() ? "optional"
                     : type.has_map_type() ? "map" : type.has_sparse_tensor_type() ? "sparse tensor" : "non-tensor";
    return unimplemented(what + " '" + value->name + "' has " + kind + " type; only tensors are supported");
  }
  const auto& tt = type.tensor_type();
  if (tt.elem_type() != 0) {
    if (!dtype_is_valid(tt.elem_type())) {
      return unimplemented(what + " '" + value->name + "' has element type " + std::to_string(tt.elem_type()) +
                           ", which is not supported");
    }
    value->dtype = static_cast<DataType>(tt.elem_type());
  }
  if (tt.has_shape()) {
    std::vector<Dim> dims;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value() && d.dim_value() >= 0) dims.push_back(Dim::known(d.dim_value()));
      else if (d.has_dim_param() && !d.dim_param().empty()) dims.push_back(Dim::symbolic(d.dim_param()));
      else dims.push_back(Dim());
    }
    value->shape = Shape(std::move(dims));
  } else {
    value->shape = Shape::unranked();
  }
  return ok_status();
}

// Constant nodes become constant values at import: every consumer then sees a
// known value, which shape inference and the passes rely on.
Expected<Tensor> constant_node_value(const onnx::NodeProto& n, const std::string& where, const std::string& base_dir) {
  for (const auto& a : n.attribute()) {
    const std::string& k = a.name();
    if (k == "value") {
      auto t = tensor_from_proto(a.t(), base_dir);
      if (!t.ok()) return t.status().with_context(where);
      return t;
    }
    if (k == "value_float") return Tensor::from_vector<float>(DataType::kFloat32, {}, {a.f()});
    if (k == "value_int") return Tensor::from_vector<int64_t>(DataType::kInt64, {}, {a.i()});
    if (k == "value_floats") {
      std::vector<float> v(a.floats().begin(), a.floats().end());
      return Tensor::from_vector<float>(DataType::kFloat32, {static_cast<int64_t>(v.size())}, v);
    }
    if (k == "value_ints") {
      std::vector<int64_t> v(a.ints().begin(), a.ints().end());
      return Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
    }
    if (k == "value_string") return Tensor::strings({}, {a.s()});
    if (k == "value_strings") {
      std::vector<std::string> v(a.strings().begin(), a.strings().end());
      return Tensor::strings({static_cast<int64_t>(v.size())}, v);
    }
    if (k == "sparse_value") return unimplemented(where + ": sparse constants are not supported");
  }
  return invalid_argument(where + ": Constant node has no value attribute");
}

Expected<std::unique_ptr<Graph>> convert_model(const onnx::ModelProto& model, const std::string& file,
                                               const std::string& base_dir) {
  if (!model.has_graph()) return format_error("'" + file + "' is not an ONNX model: it has no graph");
  if (model.ir_version() <= 0) return format_error("'" + file + "' is not an ONNX model: ir_version is missing");
  auto graph = std::make_unique<Graph>();
  const onnx::GraphProto& g = model.graph();
  graph->name = g.name();
  for (const auto& op : model.opset_import()) {
    std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    graph->opsets[domain] = static_cast<int>(op.version());
  }
  if (!graph->opsets.count("")) {
    if (model.opset_import_size() == 0) graph->opsets[""] = 1;  // IR v1-2 models imply opset 1
  }
  int opset = graph->opset_for("");
  if (opset > kMaxOnnxOpset) {
    return unimplemented("'" + file + "' uses default-domain opset " + std::to_string(opset) +
                         "; Kiln supports opsets up to " + std::to_string(kMaxOnnxOpset));
  }
  if (g.sparse_initializer_size() > 0) {
    return unimplemented("'" + file + "': sparse initializers are not supported");
  }
  for (const auto& init : g.initializer()) {
    auto loaded = tensor_from_proto(init, base_dir);
    if (!loaded.ok()) return loaded.status().with_context("'" + file + "': initializer '" + init.name() + "'");
    Tensor t = std::move(loaded).value();
    Value* v = graph->value(init.name());
    v->dtype = t.dtype();
    v->shape = Shape::from_dims(t.dims());
    v->constant = std::move(t);
  }
  for (const auto& in : g.input()) {
    Value* v = graph->value(in.name());
    if (v->constant) continue;  // old-style models list weights as inputs too
    KILN_RETURN_IF_ERROR(apply_type(in.type(), v, "'" + file + "': graph input"));
    graph->inputs().push_back(v);
  }
  for (const auto& vi : g.value_info()) {
    Value* v = graph->value(vi.name());
    if (vi.type().has_tensor_type()) (void)apply_type(vi.type(), v, "value");
  }
  int index = 0;
  for (const auto& n : g.node()) {
    std::string name = n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
    ++index;
    std::string domain = n.domain() == "ai.onnx" ? "" : n.domain();
    std::string where = "'" + file + "': node '" + name + "' (" + n.op_type() + ")";
    if (!graph->opsets.count(domain)) {
      return invalid_argument(where + ": domain '" + domain + "' is not imported by the model");
    }
    if (domain.empty() && n.op_type() == "Constant" && n.output_size() == 1) {
      KILN_ASSIGN_OR_RETURN(Tensor t, constant_node_value(n, where, base_dir));
      Value* v = graph->value(n.output(0));
      v->dtype = t.dtype();
      v->shape = Shape::from_dims(t.dims());
      v->constant = std::move(t);
      continue;
    }
    auto node = std::make_unique<Node>();
    node->name = name;
    node->op_type = n.op_type();
    node->domain = domain;
    node->opset = graph->opset_for(domain);
    for (const auto& in : n.input()) node->inputs.push_back(in.empty() ? nullptr : graph->value(in));
    for (const auto& out : n.output()) node->outputs.push_back(out.empty() ? nullptr : graph->value(out));
    for (const auto& a : n.attribute()) {
      if (!a.ref_attr_name().empty()) {
        return unimplemented(where + ": attribute '" + a.name() + "' refers to a function attribute");
      }
      KILN_ASSIGN_OR_RETURN(Attribute attr, convert_attribute(a, where, base_dir));
      node->attributes[a.name()] = std::move(attr);
    }
    graph->add_node(std::move(node));
  }
  for (const auto& out : g.output()) {
    Value* v = graph->value(out.name());
    KILN_RETURN_IF_ERROR(apply_type(out.type(), v, "'" + file + "': graph output"));
    graph->outputs().push_back(v);
  }
  if (graph->outputs().empty()) return format_error("'" + file + "': the graph has no outputs");
  return graph;
}

}  // namespace

Expected<std::unique_ptr<Graph>> import_onnx_bytes(const void* data, size_t size, const std::string& display_name,
                                                   const std::string& base_dir) {
  if (size == 0) return format_error("'" + display_name + "' is empty, not an ONNX model");
  onnx::ModelProto model;
  if (size > static_cast<size_t>(INT32_MAX)) {
    return unimplemented("'" + display_name + "' is larger than 2 GiB; keep weights in external data files");
  }
  if (!model.ParseFromArray(data, static_cast<int>(size))) {
    return format_error("'" + display_name + "' is not a valid ONNX model: protobuf parsing failed (" +
                        std::to_string(size) + " bytes; truncated or not an ONNX file)");
  }
  return convert_model(model, display_name, base_dir);
}

Expected<std::unique_ptr<Graph>> import_onnx_file(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  std::string base_dir = std::filesystem::path(path).parent_path().string();
  return import_onnx_bytes(bytes.data(), bytes.size(), path, base_dir);
}

Expected<Tensor> load_onnx_tensor_file(const std::string& path, std::string* name) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) return format_error("'" + path + "' is not a serialized onnx.TensorProto");
  if (name) *name = proto.name();
  return tensor_from_proto(proto, std::filesystem::path(path).parent_path().string());
}

bool looks_like_onnx(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  if (std::memcmp(magic, "KILNPLAN", 8) == 0) return false;
  return true;
}

}  // namespace kiln
