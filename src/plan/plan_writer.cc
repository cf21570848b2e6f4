// Plan serialisation: metadata and graph go through ByteWriter; tensor bytes go
// to a separate weight blob where each tensor starts at a 256-byte boundary.
#include <cstdio>
#include <map>
#include <set>

#include "kiln/plan.h"
#include "plan/byte_io.h"
#include "plan/plan_format.h"

namespace kiln {

namespace {

using plan_format::StoredAttributeKind;
using plan_io::ByteWriter;

void write_dims(ByteWriter& out, const Dims& dims) {
  out.u64(dims.size());
  for (int64_t extent : dims) out.i64(extent);
}

void write_shape(ByteWriter& out, const Shape& shape) {
  out.u8(shape.is_ranked() ? 1 : 0);
  if (!shape.is_ranked()) return;
  out.u64(shape.rank());
  for (const Dim& dim : shape.dims()) {
    out.i64(dim.value);
    out.string(dim.symbol);
  }
}

void write_io(ByteWriter& out, const std::vector<IoDesc>& descs) {
  out.u64(descs.size());
  for (const IoDesc& desc : descs) {
    out.string(desc.name);
    out.i32(static_cast<int32_t>(desc.dtype));
    write_shape(out, desc.shape);
  }
}

// Writes the tensor's header into `out` and its bytes into `weights`.
void write_tensor(ByteWriter& out, ByteWriter& weights, const Tensor& tensor) {
  out.i32(static_cast<int32_t>(tensor.dtype()));
  write_dims(out, tensor.dims());
  if (!tensor.defined()) return;
  if (tensor.dtype() == DataType::kString) {
    const std::vector<std::string>& strings = tensor.string_data();
    out.u64(strings.size());
    for (const std::string& s : strings) out.string(s);
    return;
  }
  weights.pad_to(kPlanWeightAlignment);
  out.u64(weights.size());
  out.u64(tensor.byte_size());
  weights.raw(tensor.raw_data(), tensor.byte_size());
}

Status write_attribute(ByteWriter& out, ByteWriter& weights, const Node& node, const std::string& name,
                       const Attribute& attribute) {
  out.string(name);
  switch (attribute.kind) {
    case Attribute::Kind::kFloat:
      out.u8(static_cast<uint8_t>(StoredAttributeKind::kFloat));
      out.f64(attribute.f);
      return ok_status();
    case Attribute::Kind::kInt:
      out.u8(static_cast<uint8_t>(StoredAttributeKind::kInt));
      out.i64(attribute.i);
      return ok_status();
    case Attribute::Kind::kString:
      out.u8(static_cast<uint8_t>(StoredAttributeKind::kString));
      out.string(attribute.s);
      return ok_status();
    case Attribute::Kind::kTensor:
      out.u8(static_cast<uint8_t>(StoredAttributeKind::kTensor));
      write_tensor(out, weights, attribute.t);
      return ok_status();
    case Attribute::Kind::kFloats:
      out.u8(static_cast<uint8_t>(StoredAttributeKind::kFloats));
      out.u64(attribute.floats.size());
      for (double v : attribute.floats) out.f64(v);
      return ok_status();
    case Attribute::Kind::kInts:
      out.u8(static_cast<uint8_t>(StoredAttributeKind::kInts));
      out.u64(attribute.ints.size());
      for (int64_t v : attribute.ints) out.i64(v);
      return ok_status();
    case Attribute::Kind::kStrings:
      out.u8(static_cast<uint8_t>(StoredAttributeKind::kStrings));
      out.u64(attribute.strings.size());
      for (const std::string& v : attribute.strings) out.string(v);
      return ok_status();
    case Attribute::Kind::kGraph:
      break;
  }
  return unimplemented(node.describe() + ": attribute '" + name +
                       "' holds a subgraph, which plan files cannot store yet");
}

void write_metadata(ByteWriter& out, const PlanMetadata& meta) {
  out.u32(meta.backend == BackendKind::kCuda ? plan_format::kBackendCuda : plan_format::kBackendCpu);
  out.string(meta.device_architecture);
  out.u32(meta.precision_flags);
  out.u64(meta.profiles.size());
  for (const OptimizationProfile& profile : meta.profiles) {
    out.u64(profile.inputs.size());
    for (const auto& [name, range] : profile.inputs) {
      out.string(name);
      write_dims(out, range.min);
      write_dims(out, range.opt);
      write_dims(out, range.max);
    }
  }
  write_io(out, meta.inputs);
  write_io(out, meta.outputs);
  out.u64(meta.properties.size());
  for (const auto& [key, value] : meta.properties) {
    out.string(key);
    out.string(value);
  }
}

// Every value the graph refers to, in a stable order: inputs, node inputs and
// outputs in node order, graph outputs, then weights nothing reads.
std::vector<const Value*> collect_values(const Graph& graph) {
  std::vector<const Value*> values;
  std::set<const Value*> seen;
  auto add = [&](const Value* v) {
    if (v && seen.insert(v).second) values.push_back(v);
  };
  for (const Value* v : graph.inputs()) add(v);
  for (const auto& node : graph.nodes()) {
    for (const Value* v : node->inputs) add(v);
    for (const Value* v : node->outputs) add(v);
  }
  for (const Value* v : graph.outputs()) add(v);
  for (const Value* v : graph.constant_values()) add(v);
  return values;
}

Status write_graph(ByteWriter& out, ByteWriter& weights, const Graph& graph) {
  out.string(graph.name);
  out.u64(graph.opsets.size());
  for (const auto& [domain, version] : graph.opsets) {
    out.string(domain);
    out.i32(version);
  }
  std::vector<const Value*> values = collect_values(graph);
  std::map<const Value*, uint32_t> index_of;
  out.u64(values.size());
  for (const Value* v : values) {
    index_of[v] = static_cast<uint32_t>(index_of.size());
    out.string(v->name);
    out.i32(static_cast<int32_t>(v->dtype));
    write_shape(out, v->shape);
    out.u8(v->is_constant() ? 1 : 0);
    if (v->is_constant()) write_tensor(out, weights, *v->constant);
  }
  auto write_refs = [&](const std::vector<Value*>& refs) {
    out.u64(refs.size());
    for (const Value* v : refs) out.u32(v ? index_of.at(v) : plan_format::kNoValue);
  };
  write_refs(graph.inputs());
  write_refs(graph.outputs());
  out.u64(graph.nodes().size());
  for (const auto& node : graph.nodes()) {
    out.string(node->name);
    out.string(node->op_type);
    out.string(node->domain);
    out.i32(node->opset);
    write_refs(node->inputs);
    write_refs(node->outputs);
    out.u64(node->attributes.size());
    for (const auto& [name, attribute] : node->attributes) {
      KILN_RETURN_IF_ERROR(write_attribute(out, weights, *node, name, attribute));
    }
  }
  return ok_status();
}

}  // namespace

void describe_graph_io(const Graph& graph, PlanMetadata* meta) {
  meta->inputs.clear();
  meta->outputs.clear();
  for (const Value* v : graph.inputs()) meta->inputs.push_back({v->name, v->dtype, v->shape});
  for (const Value* v : graph.outputs()) meta->outputs.push_back({v->name, v->dtype, v->shape});
}

Expected<std::vector<uint8_t>> serialize_plan(const Graph& graph, const PlanMetadata& meta) {
  // Inputs and outputs always describe the graph being saved.
  PlanMetadata described = meta;
  describe_graph_io(graph, &described);
  ByteWriter metadata;
  write_metadata(metadata, described);
  ByteWriter graph_section;
  ByteWriter weights;
  KILN_RETURN_IF_ERROR(write_graph(graph_section, weights, graph));

  ByteWriter file;
  file.raw(kPlanMagic, sizeof kPlanMagic);
  file.u32(kPlanFormatVersion);
  file.u32(static_cast<uint32_t>(plan_format::kHeaderSize));
  file.u64(0);                              // checksum, patched below
  file.u64(0);                              // file size, patched below
  for (int i = 0; i < 6; ++i) file.u64(0);  // section table, patched below

  const size_t metadata_offset = file.size();
  file.raw(metadata.bytes().data(), metadata.size());
  const size_t graph_offset = file.size();
  file.raw(graph_section.bytes().data(), graph_section.size());
  file.pad_to(kPlanWeightAlignment);
  const size_t weights_offset = file.size();
  file.raw(weights.bytes().data(), weights.size());

  file.patch_u64(plan_format::kFileSizeOffset, file.size());
  const uint64_t table[6] = {metadata_offset,      metadata.size(), graph_offset,
                             graph_section.size(), weights_offset,  weights.size()};
  for (int i = 0; i < 6; ++i) file.patch_u64(plan_format::kSectionTableOffset + 8 * i, table[i]);
  file.patch_u64(plan_format::kChecksumOffset, plan_checksum(file.bytes().data() + plan_format::kChecksummedFrom,
                                                             file.size() - plan_format::kChecksummedFrom));
  return std::move(file.bytes());
}

Status save_plan(const Graph& graph, const PlanMetadata& meta, const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serialize_plan(graph, meta));
  // Write to a temporary name and rename, so a crash never leaves half a plan under `path`.
  const std::string temporary = path + ".partial";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (!file) return io_error("cannot create plan file '" + temporary + "'");
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  const bool closed = std::fclose(file) == 0;
  if (written != bytes.size() || !closed) {
    std::remove(temporary.c_str());
    return io_error("cannot write plan file '" + path + "' (disk full?)");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return io_error("cannot rename '" + temporary + "' to '" + path + "'");
  }
  return ok_status();
}

}  // namespace kiln
