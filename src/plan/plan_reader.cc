// Plan loading. Order of checks: magic, format version, header, file size,
// checksum, metadata (backend), graph. Every count, offset and size read from
// the file is checked against what remains before it is used.
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kiln/plan.h"
#include "plan/byte_io.h"
#include "plan/mapped_file.h"
#include "plan/plan_format.h"

namespace kiln {

namespace {

using plan_format::StoredAttributeKind;
using plan_io::ByteReader;

uint64_t load_le(const uint8_t* p, int width) {
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) value |= static_cast<uint64_t>(p[i]) << (8 * i);
  return value;
}

// The weight blob: where tensors live and who keeps that memory alive.
struct WeightBlob {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t file_offset = 0;
  std::shared_ptr<void> owner;
};

Status read_dims(ByteReader& in, Dims* dims, const char* what) {
  uint64_t rank = 0;
  KILN_RETURN_IF_ERROR(in.count(&rank, 8, what));
  dims->resize(static_cast<size_t>(rank));
  for (int64_t& extent : *dims) {
    KILN_RETURN_IF_ERROR(in.i64(&extent, what));
    if (extent < 0) return in.error(std::string(what) + " has a negative extent " + std::to_string(extent));
  }
  return ok_status();
}

Status read_dtype(ByteReader& in, DataType* dtype, const char* what) {
  int32_t raw = 0;
  KILN_RETURN_IF_ERROR(in.i32(&raw, what));
  if (raw != 0 && !dtype_is_valid(raw))
    return in.error(std::string(what) + " is an unknown type " + std::to_string(raw));
  *dtype = static_cast<DataType>(raw);
  return ok_status();
}

Status read_shape(ByteReader& in, Shape* shape) {
  uint8_t ranked = 0;
  KILN_RETURN_IF_ERROR(in.u8(&ranked, "shape rank flag"));
  if (ranked > 1) return in.error("shape rank flag is " + std::to_string(ranked) + ", expected 0 or 1");
  if (!ranked) {
    *shape = Shape::unranked();
    return ok_status();
  }
  uint64_t rank = 0;
  KILN_RETURN_IF_ERROR(in.count(&rank, 16, "shape rank"));
  std::vector<Dim> dims(static_cast<size_t>(rank));
  for (Dim& dim : dims) {
    KILN_RETURN_IF_ERROR(in.i64(&dim.value, "dimension extent"));
    if (dim.value < -1) return in.error("dimension extent " + std::to_string(dim.value) + " is invalid");
    KILN_RETURN_IF_ERROR(in.string(&dim.symbol, "dimension name"));
  }
  *shape = Shape(std::move(dims));
  return ok_status();
}

Status read_io(ByteReader& in, std::vector<IoDesc>* descs) {
  uint64_t count = 0;
  KILN_RETURN_IF_ERROR(in.count(&count, 13, "input/output count"));
  descs->resize(static_cast<size_t>(count));
  for (IoDesc& desc : *descs) {
    KILN_RETURN_IF_ERROR(in.string(&desc.name, "input/output name"));
    KILN_RETURN_IF_ERROR(read_dtype(in, &desc.dtype, "input/output type"));
    KILN_RETURN_IF_ERROR(read_shape(in, &desc.shape));
  }
  return ok_status();
}

// Bytes the tensor needs, or false on overflow.
bool tensor_bytes(DataType dtype, const Dims& dims, uint64_t* bytes) {
  uint64_t total = dtype_size(dtype);
  for (int64_t extent : dims) {
    const auto e = static_cast<uint64_t>(extent);
    if (e != 0 && total > std::numeric_limits<uint64_t>::max() / e) return false;
    total *= e;
  }
  *bytes = total;
  return true;
}

Status read_tensor(ByteReader& in, const WeightBlob& blob, Tensor* tensor) {
  DataType dtype = DataType::kUndefined;
  Dims dims;
  KILN_RETURN_IF_ERROR(read_dtype(in, &dtype, "tensor type"));
  KILN_RETURN_IF_ERROR(read_dims(in, &dims, "tensor dims"));
  if (dtype == DataType::kUndefined) {
    if (!dims.empty()) return in.error("a tensor without a type has dims " + dims_to_string(dims));
    *tensor = Tensor();
    return ok_status();
  }
  if (dtype == DataType::kString) {
    uint64_t count = 0;
    KILN_RETURN_IF_ERROR(in.count(&count, 8, "string tensor element count"));
    uint64_t expected = 1;
    for (int64_t extent : dims) {
      if (extent != 0 && expected > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(extent)) {
        return in.error("string tensor dims " + dims_to_string(dims) + " overflow");
      }
      expected *= static_cast<uint64_t>(extent);
    }
    if (count != expected) {
      return in.error("string tensor [" + dims_to_string(dims) + "] holds " + std::to_string(count) + " strings");
    }
    std::vector<std::string> values(static_cast<size_t>(count));
    for (std::string& value : values) KILN_RETURN_IF_ERROR(in.string(&value, "string tensor element"));
    *tensor = Tensor::strings(std::move(dims), std::move(values));
    return ok_status();
  }
  uint64_t offset = 0, size = 0, expected = 0;
  KILN_RETURN_IF_ERROR(in.u64(&offset, "tensor offset"));
  KILN_RETURN_IF_ERROR(in.u64(&size, "tensor size"));
  if (!tensor_bytes(dtype, dims, &expected) || size != expected) {
    return in.error(std::string(dtype_name(dtype)) + "[" + dims_to_string(dims) + "] tensor records " +
                    std::to_string(size) + " bytes");
  }
  if (offset % kPlanWeightAlignment != 0) {
    return in.error("tensor offset " + std::to_string(offset) + " in the weight blob is not " +
                    std::to_string(kPlanWeightAlignment) + "-byte aligned");
  }
  if (offset > blob.size || size > blob.size - offset) {
    return in.error("tensor bytes [" + std::to_string(offset) + ", +" + std::to_string(size) +
                    ") lie outside the weight blob of " + std::to_string(blob.size) + " bytes");
  }
  // The mapping is read-only; Tensor's API is not, so writes would fault rather than corrupt.
  void* address = const_cast<uint8_t*>(blob.data + offset);
  *tensor = Tensor::view(dtype, std::move(dims), address, blob.owner);
  return ok_status();
}

Status read_attribute(ByteReader& in, const WeightBlob& blob, std::string* name, Attribute* attribute) {
  KILN_RETURN_IF_ERROR(in.string(name, "attribute name"));
  uint8_t kind = 0;
  KILN_RETURN_IF_ERROR(in.u8(&kind, "attribute kind"));
  uint64_t count = 0;
  switch (static_cast<StoredAttributeKind>(kind)) {
    case StoredAttributeKind::kFloat:
      attribute->kind = Attribute::Kind::kFloat;
      return in.f64(&attribute->f, "float attribute");
    case StoredAttributeKind::kInt:
      attribute->kind = Attribute::Kind::kInt;
      return in.i64(&attribute->i, "int attribute");
    case StoredAttributeKind::kString:
      attribute->kind = Attribute::Kind::kString;
      return in.string(&attribute->s, "string attribute");
    case StoredAttributeKind::kTensor:
      attribute->kind = Attribute::Kind::kTensor;
      return read_tensor(in, blob, &attribute->t);
    case StoredAttributeKind::kFloats:
      attribute->kind = Attribute::Kind::kFloats;
      KILN_RETURN_IF_ERROR(in.count(&count, 8, "float list length"));
      attribute->floats.resize(static_cast<size_t>(count));
      for (double& v : attribute->floats) KILN_RETURN_IF_ERROR(in.f64(&v, "float list element"));
      return ok_status();
    case StoredAttributeKind::kInts:
      attribute->kind = Attribute::Kind::kInts;
      KILN_RETURN_IF_ERROR(in.count(&count, 8, "int list length"));
      attribute->ints.resize(static_cast<size_t>(count));
      for (int64_t& v : attribute->ints) KILN_RETURN_IF_ERROR(in.i64(&v, "int list element"));
      return ok_status();
    case StoredAttributeKind::kStrings:
      attribute->kind = Attribute::Kind::kStrings;
      KILN_RETURN_IF_ERROR(in.count(&count, 8, "string list length"));
      attribute->strings.resize(static_cast<size_t>(count));
      for (std::string& v : attribute->strings) KILN_RETURN_IF_ERROR(in.string(&v, "string list element"));
      return ok_status();
  }
  return in.error("attribute '" + *name + "' has unknown kind " + std::to_string(kind));
}

Status read_metadata(ByteReader& in, PlanMetadata* meta) {
  uint32_t backend = 0;
  KILN_RETURN_IF_ERROR(in.u32(&backend, "backend"));
  if (backend == plan_format::kBackendCpu)
    meta->backend = BackendKind::kCpu;
  else if (backend == plan_format::kBackendCuda)
    meta->backend = BackendKind::kCuda;
  else
    return in.error("unknown backend number " + std::to_string(backend));
  KILN_RETURN_IF_ERROR(in.string(&meta->device_architecture, "device architecture"));
  KILN_RETURN_IF_ERROR(in.u32(&meta->precision_flags, "precision flags"));
  uint64_t profile_count = 0;
  KILN_RETURN_IF_ERROR(in.count(&profile_count, 8, "profile count"));
  meta->profiles.resize(static_cast<size_t>(profile_count));
  for (OptimizationProfile& profile : meta->profiles) {
    uint64_t entries = 0;
    KILN_RETURN_IF_ERROR(in.count(&entries, 32, "profile entry count"));
    for (uint64_t i = 0; i < entries; ++i) {
      std::string name;
      ProfileRange range;
      KILN_RETURN_IF_ERROR(in.string(&name, "profile input name"));
      KILN_RETURN_IF_ERROR(read_dims(in, &range.min, "profile min shape"));
      KILN_RETURN_IF_ERROR(read_dims(in, &range.opt, "profile opt shape"));
      KILN_RETURN_IF_ERROR(read_dims(in, &range.max, "profile max shape"));
      if (!profile.inputs.emplace(name, std::move(range)).second) {
        return in.error("a profile names input '" + name + "' twice");
      }
    }
  }
  KILN_RETURN_IF_ERROR(read_io(in, &meta->inputs));
  KILN_RETURN_IF_ERROR(read_io(in, &meta->outputs));
  uint64_t property_count = 0;
  KILN_RETURN_IF_ERROR(in.count(&property_count, 16, "property count"));
  for (uint64_t i = 0; i < property_count; ++i) {
    std::string key, value;
    KILN_RETURN_IF_ERROR(in.string(&key, "property name"));
    KILN_RETURN_IF_ERROR(in.string(&value, "property value"));
    meta->properties[key] = value;
  }
  if (!in.at_end()) return in.error(std::to_string(in.remaining()) + " unexpected bytes after the metadata");
  return ok_status();
}

Status read_value_refs(ByteReader& in, const std::vector<Value*>& values, bool allow_omitted, std::vector<Value*>* refs,
                       const char* what) {
  uint64_t count = 0;
  KILN_RETURN_IF_ERROR(in.count(&count, 4, what));
  refs->resize(static_cast<size_t>(count));
  for (Value*& ref : *refs) {
    uint32_t index = 0;
    KILN_RETURN_IF_ERROR(in.u32(&index, what));
    if (index == plan_format::kNoValue && allow_omitted) {
      ref = nullptr;
      continue;
    }
    if (index >= values.size()) {
      return in.error(std::string(what) + " refers to value #" + std::to_string(index) + " of " +
                      std::to_string(values.size()));
    }
    ref = values[index];
  }
  return ok_status();
}

Status read_graph(ByteReader& in, const WeightBlob& blob, Graph* graph) {
  KILN_RETURN_IF_ERROR(in.string(&graph->name, "graph name"));
  uint64_t opset_count = 0;
  KILN_RETURN_IF_ERROR(in.count(&opset_count, 12, "opset count"));
  for (uint64_t i = 0; i < opset_count; ++i) {
    std::string domain;
    int32_t version = 0;
    KILN_RETURN_IF_ERROR(in.string(&domain, "opset domain"));
    KILN_RETURN_IF_ERROR(in.i32(&version, "opset version"));
    graph->opsets[domain] = version;
  }
  uint64_t value_count = 0;
  KILN_RETURN_IF_ERROR(in.count(&value_count, 14, "value count"));
  if (value_count >= plan_format::kNoValue) return in.error("too many values");
  std::vector<Value*> values;
  values.reserve(static_cast<size_t>(value_count));
  for (uint64_t i = 0; i < value_count; ++i) {
    std::string name;
    KILN_RETURN_IF_ERROR(in.string(&name, "value name"));
    if (graph->find_value(name)) return in.error("value '" + name + "' appears twice");
    Value* value = graph->value(name);
    KILN_RETURN_IF_ERROR(read_dtype(in, &value->dtype, "value type"));
    KILN_RETURN_IF_ERROR(read_shape(in, &value->shape));
    uint8_t has_constant = 0;
    KILN_RETURN_IF_ERROR(in.u8(&has_constant, "constant flag"));
    if (has_constant > 1) return in.error("constant flag of value '" + name + "' is " + std::to_string(has_constant));
    if (has_constant) {
      Tensor tensor;
      KILN_RETURN_IF_ERROR(read_tensor(in, blob, &tensor));
      value->constant = std::move(tensor);
    }
    values.push_back(value);
  }
  KILN_RETURN_IF_ERROR(read_value_refs(in, values, false, &graph->inputs(), "graph input"));
  KILN_RETURN_IF_ERROR(read_value_refs(in, values, false, &graph->outputs(), "graph output"));
  uint64_t node_count = 0;
  KILN_RETURN_IF_ERROR(in.count(&node_count, 52, "node count"));
  for (uint64_t i = 0; i < node_count; ++i) {
    auto node = std::make_unique<Node>();
    KILN_RETURN_IF_ERROR(in.string(&node->name, "node name"));
    KILN_RETURN_IF_ERROR(in.string(&node->op_type, "node op type"));
    KILN_RETURN_IF_ERROR(in.string(&node->domain, "node domain"));
    KILN_RETURN_IF_ERROR(in.i32(&node->opset, "node opset"));
    KILN_RETURN_IF_ERROR(read_value_refs(in, values, true, &node->inputs, "node input"));
    KILN_RETURN_IF_ERROR(read_value_refs(in, values, true, &node->outputs, "node output"));
    for (Value* out : node->outputs) {
      if (out && out->producer) {
        return in.error(node->describe() + " writes value '" + out->name + "', which already has a producer");
      }
      if (out) out->producer = node.get();
    }
    uint64_t attribute_count = 0;
    KILN_RETURN_IF_ERROR(in.count(&attribute_count, 9, "attribute count"));
    for (uint64_t a = 0; a < attribute_count; ++a) {
      std::string name;
      Attribute attribute;
      KILN_RETURN_IF_ERROR(read_attribute(in, blob, &name, &attribute));
      if (!node->attributes.emplace(name, std::move(attribute)).second) {
        return in.error(node->describe() + " has attribute '" + name + "' twice");
      }
    }
    graph->add_node(std::move(node));
  }
  if (!in.at_end()) return in.error(std::to_string(in.remaining()) + " unexpected bytes after the graph");
  return ok_status();
}

Status check_io_matches_graph(const std::string& file, const std::vector<IoDesc>& described,
                              const std::vector<Value*>& actual, const char* what) {
  bool same = described.size() == actual.size();
  for (size_t i = 0; same && i < described.size(); ++i) same = described[i].name == actual[i]->name;
  if (same) return ok_status();
  return format_error(file + ": the metadata lists " + std::to_string(described.size()) + " graph " + what +
                      "s that differ from the graph's " + std::to_string(actual.size()));
}

struct Section {
  uint64_t offset = 0;
  uint64_t size = 0;
};

Status check_section(const std::string& display_name, const char* what, const Section& section, size_t file_size) {
  if (section.offset < plan_format::kHeaderSize || section.offset > file_size ||
      section.size > file_size - section.offset) {
    return format_error("plan file '" + display_name + "': " + what + " section [" + std::to_string(section.offset) +
                        ", +" + std::to_string(section.size) + ") lies outside the file of " +
                        std::to_string(file_size) + " bytes");
  }
  return ok_status();
}

// Parses a whole plan held in memory at `data`, which `owner` keeps alive.
// `data` must be 256-byte aligned for weight views to be aligned.
Expected<LoadedPlan> parse_plan(const uint8_t* data, size_t size, std::shared_ptr<void> owner,
                                std::optional<BackendKind> expected_backend, const std::string& display_name) {
  const std::string file = "plan file '" + display_name + "'";
  if (size < plan_format::kMagicSize || std::memcmp(data, kPlanMagic, plan_format::kMagicSize) != 0) {
    // A prefix of the magic is a truncated plan; anything else is some other file.
    if (size < plan_format::kMagicSize && size > 0 && std::memcmp(data, kPlanMagic, size) == 0) {
      return format_error(file + " is truncated: " + std::to_string(size) + " bytes, shorter than the " +
                          std::to_string(plan_format::kHeaderSize) + "-byte header");
    }
    return format_error(file + " is not a Kiln plan (it does not start with \"KILNPLAN\")");
  }
  if (size < plan_format::kHeaderSizeOffset + 4) {
    return format_error(file + " is truncated: " + std::to_string(size) + " bytes, shorter than the " +
                        std::to_string(plan_format::kHeaderSize) + "-byte header");
  }
  const auto version = static_cast<uint32_t>(load_le(data + plan_format::kVersionOffset, 4));
  if (version != kPlanFormatVersion) {
    return format_error(file + " has format version " + std::to_string(version) + ", but this Kiln reads version " +
                        std::to_string(kPlanFormatVersion) + "; rebuild the plan from the model");
  }
  const auto header_size = static_cast<uint32_t>(load_le(data + plan_format::kHeaderSizeOffset, 4));
  if (size < plan_format::kHeaderSize) {
    return format_error(file + " is truncated: " + std::to_string(size) + " bytes, shorter than the " +
                        std::to_string(plan_format::kHeaderSize) + "-byte header");
  }
  if (header_size != plan_format::kHeaderSize) {
    return format_error(file + " has header size " + std::to_string(header_size) + ", expected " +
                        std::to_string(plan_format::kHeaderSize));
  }
  const uint64_t declared_size = load_le(data + plan_format::kFileSizeOffset, 8);
  if (declared_size > size) {
    return format_error(file + " is truncated: " + std::to_string(size) + " bytes, but its header says " +
                        std::to_string(declared_size));
  }
  if (declared_size < size) {
    return format_error(file + " has " + std::to_string(size - declared_size) + " bytes beyond the " +
                        std::to_string(declared_size) + " its header declares");
  }
  const uint64_t stored_checksum = load_le(data + plan_format::kChecksumOffset, 8);
  const uint64_t actual_checksum =
      plan_checksum(data + plan_format::kChecksummedFrom, size - plan_format::kChecksummedFrom);
  if (stored_checksum != actual_checksum) {
    return format_error(file + " is corrupt: checksum mismatch (stored " + std::to_string(stored_checksum) +
                        ", computed " + std::to_string(actual_checksum) + ")");
  }
  Section sections[3];
  for (int i = 0; i < 3; ++i) {
    sections[i].offset = load_le(data + plan_format::kSectionTableOffset + 16 * i, 8);
    sections[i].size = load_le(data + plan_format::kSectionTableOffset + 16 * i + 8, 8);
  }
  KILN_RETURN_IF_ERROR(check_section(display_name, "metadata", sections[0], size));
  KILN_RETURN_IF_ERROR(check_section(display_name, "graph", sections[1], size));
  KILN_RETURN_IF_ERROR(check_section(display_name, "weights", sections[2], size));
  if (sections[2].offset % kPlanWeightAlignment != 0) {
    return format_error(file + ": the weight blob starts at offset " + std::to_string(sections[2].offset) +
                        ", which is not " + std::to_string(kPlanWeightAlignment) + "-byte aligned");
  }

  LoadedPlan plan;
  plan.format_version = version;
  ByteReader metadata(data + sections[0].offset, sections[0].size, file + " metadata", sections[0].offset);
  KILN_RETURN_IF_ERROR(read_metadata(metadata, &plan.metadata));
  if (expected_backend && *expected_backend != plan.metadata.backend) {
    return invalid_argument(file + " was built for the " + backend_kind_name(plan.metadata.backend) +
                            " backend, but the " + backend_kind_name(*expected_backend) +
                            " backend was asked for; rebuild the plan for it");
  }
  WeightBlob blob{data + sections[2].offset, static_cast<size_t>(sections[2].size),
                  static_cast<size_t>(sections[2].offset), std::move(owner)};
  plan.graph = std::make_unique<Graph>();
  ByteReader graph(data + sections[1].offset, sections[1].size, file + " graph", sections[1].offset);
  KILN_RETURN_IF_ERROR(read_graph(graph, blob, plan.graph.get()));
  KILN_RETURN_IF_ERROR(check_io_matches_graph(file, plan.metadata.inputs, plan.graph->inputs(), "input"));
  KILN_RETURN_IF_ERROR(check_io_matches_graph(file, plan.metadata.outputs, plan.graph->outputs(), "output"));
  return plan;
}

}  // namespace

Expected<LoadedPlan> load_plan(const std::string& path, std::optional<BackendKind> expected_backend) {
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> mapping, MappedFile::open(path));
  const uint8_t* data = mapping->data();
  const size_t size = mapping->size();
  static const uint8_t kNothing = 0;
  // The aliasing constructor: tensors point into the mapping and own all of it.
  std::shared_ptr<void> owner(mapping, const_cast<uint8_t*>(data ? data : &kNothing));
  return parse_plan(data ? data : &kNothing, size, std::move(owner), expected_backend, path);
}

Expected<LoadedPlan> load_plan_from_memory(const void* data, size_t size, std::optional<BackendKind> expected_backend,
                                           const std::string& display_name) {
  // Round up so aligned_alloc's size contract holds; at least one block so the pointer is real.
  const size_t capacity = (size / kPlanWeightAlignment + 1) * kPlanWeightAlignment;
  void* copy = std::aligned_alloc(kPlanWeightAlignment, capacity);
  if (!copy) return resource_exhausted("cannot allocate " + std::to_string(capacity) + " bytes for a plan");
  std::shared_ptr<void> owner(copy, [](void* p) { std::free(p); });
  if (size > 0) std::memcpy(copy, data, size);
  return parse_plan(static_cast<const uint8_t*>(copy), size, std::move(owner), expected_backend, display_name);
}

}  // namespace kiln
