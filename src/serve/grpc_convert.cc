#include "serve/grpc_convert.h"

#include <bit>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

namespace kiln::serve {

// Raw tensor bytes are copied as they are: the wire is little-endian.
static_assert(std::endian::native == std::endian::little, "the KServe raw tensor layout is little-endian");

namespace {

using inference::InferParameter;
using inference::InferTensorContents;
using inference::ModelInferRequest;

std::string shape_text(const Dims& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(dims[i]);
  }
  text += ']';
  return text;
}

// Element count of a wire shape; negative extents and counts past 2^62 are
// rejected before anything is allocated for them.
Expected<int64_t> checked_element_count(const Dims& dims, const std::string& input) {
  constexpr int64_t kLimit = int64_t{1} << 62;
  int64_t count = 1;
  for (int64_t extent : dims) {
    if (extent < 0) {
      return invalid_argument("input '" + input + "': shape " + shape_text(dims) + " has a negative extent");
    }
    if (extent != 0 && count > kLimit / extent) {
      return invalid_argument("input '" + input + "': shape " + shape_text(dims) + " has too many elements");
    }
    count *= extent;
  }
  return count;
}

// Takes `raw` over (moved, not copied): the tensor views its bytes and owns
// the string. The string's heap buffer comes from malloc, so it is aligned
// for every element type.
Expected<Tensor> tensor_from_raw(std::string&& raw, DataType dtype, const Dims& dims, int64_t count,
                                 const std::string& name, const std::string& datatype) {
  if (dtype == DataType::kString) {
    KILN_ASSIGN_OR_RETURN(std::vector<std::string> elements, decode_bytes_elements(raw, count, name));
    return Tensor::strings(dims, std::move(elements));
  }
  size_t expected_bytes = static_cast<size_t>(count) * dtype_size(dtype);
  if (raw.size() != expected_bytes) {
    return invalid_argument("input '" + name + "': " + datatype + " shape " + shape_text(dims) + " needs " +
                            std::to_string(expected_bytes) + " bytes but raw_input_contents holds " +
                            std::to_string(raw.size()));
  }
  auto owned = std::make_shared<std::string>(std::move(raw));
  void* data = owned->data();
  return Tensor::view(dtype, dims, data, std::move(owned));
}

// Copies a repeated typed field into a tensor of element type T, refusing
// values that do not fit T (an INT8 input given 300 in int_contents).
template <typename T, typename Field>
Expected<Tensor> tensor_from_field(const Field& field, DataType dtype, const Dims& dims, int64_t count,
                                   const std::string& name, const std::string& datatype, const char* field_name) {
  if (static_cast<int64_t>(field.size()) != count) {
    return invalid_argument("input '" + name + "': " + datatype + " shape " + shape_text(dims) + " needs " +
                            std::to_string(count) + " elements but contents." + field_name + " holds " +
                            std::to_string(field.size()));
  }
  Tensor tensor = Tensor::empty(dtype, dims);
  T* out = tensor.data<T>();
  for (int64_t i = 0; i < count; ++i) {
    auto value = field.Get(static_cast<int>(i));
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> && sizeof(T) < sizeof(value)) {
      if (!std::in_range<T>(value)) {
        return invalid_argument("input '" + name + "': element " + std::to_string(i) + " (" + std::to_string(value) +
                                ") does not fit " + datatype);
      }
    }
    out[i] = static_cast<T>(value);
  }
  return tensor;
}

Expected<Tensor> tensor_from_contents(const InferTensorContents& contents, DataType dtype, const Dims& dims,
                                      int64_t count, const std::string& name, const std::string& datatype) {
  switch (dtype) {
    case DataType::kBool:
      return tensor_from_field<bool>(contents.bool_contents(), dtype, dims, count, name, datatype, "bool_contents");
    case DataType::kInt8:
      return tensor_from_field<int8_t>(contents.int_contents(), dtype, dims, count, name, datatype, "int_contents");
    case DataType::kInt16:
      return tensor_from_field<int16_t>(contents.int_contents(), dtype, dims, count, name, datatype, "int_contents");
    case DataType::kInt32:
      return tensor_from_field<int32_t>(contents.int_contents(), dtype, dims, count, name, datatype, "int_contents");
    case DataType::kInt64:
      return tensor_from_field<int64_t>(contents.int64_contents(), dtype, dims, count, name, datatype,
                                        "int64_contents");
    case DataType::kUint8:
      return tensor_from_field<uint8_t>(contents.uint_contents(), dtype, dims, count, name, datatype, "uint_contents");
    case DataType::kUint16:
      return tensor_from_field<uint16_t>(contents.uint_contents(), dtype, dims, count, name, datatype, "uint_contents");
    case DataType::kUint32:
      return tensor_from_field<uint32_t>(contents.uint_contents(), dtype, dims, count, name, datatype, "uint_contents");
    case DataType::kUint64:
      return tensor_from_field<uint64_t>(contents.uint64_contents(), dtype, dims, count, name, datatype,
                                         "uint64_contents");
    case DataType::kFloat32:
      return tensor_from_field<float>(contents.fp32_contents(), dtype, dims, count, name, datatype, "fp32_contents");
    case DataType::kFloat64:
      return tensor_from_field<double>(contents.fp64_contents(), dtype, dims, count, name, datatype, "fp64_contents");
    case DataType::kString: {
      if (contents.bytes_contents_size() != count) {
        return invalid_argument("input '" + name + "': BYTES shape " + shape_text(dims) + " needs " +
                                std::to_string(count) + " elements but contents.bytes_contents holds " +
                                std::to_string(contents.bytes_contents_size()));
      }
      return Tensor::strings(dims, {contents.bytes_contents().begin(), contents.bytes_contents().end()});
    }
    default:
      return invalid_argument("input '" + name + "': " + datatype +
                              " has no typed contents field; send it in raw_input_contents");
  }
}

// Parameters that ask for something Kiln does not do are refused rather than
// ignored, so a client never gets a silently different behaviour.
Status check_tensor_parameters(const google::protobuf::Map<std::string, InferParameter>& parameters,
                               const std::string& what) {
  if (parameters.count("classification")) return unimplemented(what + ": classification outputs are not supported");
  return ok_status();
}

Expected<int64_t> integer_parameter(const InferParameter& parameter, const std::string& key);

// The shared memory parameters of a tensor, or nullopt when it has none.
// shared_memory_region and shared_memory_byte_size go together; the offset
// defaults to 0.
Expected<std::optional<SharedMemoryReference>> shared_memory_reference(
    const google::protobuf::Map<std::string, InferParameter>& parameters, const std::string& what) {
  auto region = parameters.find("shared_memory_region");
  auto size = parameters.find("shared_memory_byte_size");
  auto offset = parameters.find("shared_memory_offset");
  if (region == parameters.end()) {
    if (size != parameters.end() || offset != parameters.end()) {
      return invalid_argument(what +
                              ": shared_memory_byte_size or shared_memory_offset given without "
                              "shared_memory_region");
    }
    return std::optional<SharedMemoryReference>();
  }
  if (region->second.parameter_choice_case() != InferParameter::kStringParam) {
    return invalid_argument(what + ": parameter 'shared_memory_region' must be a string");
  }
  if (size == parameters.end()) {
    return invalid_argument(what + ": shared memory region '" + region->second.string_param() +
                            "' needs parameter 'shared_memory_byte_size'");
  }
  SharedMemoryReference reference;
  reference.region = region->second.string_param();
  auto non_negative = [&](const InferParameter& parameter, const std::string& key) -> Expected<uint64_t> {
    Expected<int64_t> value = integer_parameter(parameter, key);
    if (!value.ok()) return value.status().with_context(what);
    if (*value < 0) return invalid_argument(what + ": parameter '" + key + "' is negative: " + std::to_string(*value));
    return static_cast<uint64_t>(*value);
  };
  KILN_ASSIGN_OR_RETURN(reference.byte_size, non_negative(size->second, "shared_memory_byte_size"));
  if (offset != parameters.end()) {
    KILN_ASSIGN_OR_RETURN(reference.offset, non_negative(offset->second, "shared_memory_offset"));
  }
  return std::optional<SharedMemoryReference>(std::move(reference));
}

Expected<int64_t> integer_parameter(const InferParameter& parameter, const std::string& key) {
  switch (parameter.parameter_choice_case()) {
    case InferParameter::kInt64Param:
      return parameter.int64_param();
    case InferParameter::kUint64Param:
      if (parameter.uint64_param() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return invalid_argument("request parameter '" + key +
                                "' is out of range: " + std::to_string(parameter.uint64_param()));
      }
      return static_cast<int64_t>(parameter.uint64_param());
    default:
      return invalid_argument("request parameter '" + key + "' must be an integer");
  }
}

Status read_request_parameters(const ModelInferRequest& message, InferRequest* request) {
  const auto& parameters = message.parameters();
  if (parameters.count("sequence_id") || parameters.count("sequence_start") || parameters.count("sequence_end")) {
    return unimplemented("model '" + message.model_name() + "': sequence batching is not supported");
  }
  if (auto it = parameters.find("priority"); it != parameters.end()) {
    KILN_ASSIGN_OR_RETURN(int64_t priority, integer_parameter(it->second, "priority"));
    if (priority < 0 || priority > std::numeric_limits<int>::max()) {
      return invalid_argument("request parameter 'priority' is out of range: " + std::to_string(priority));
    }
    request->priority = static_cast<int>(priority);
  }
  if (auto it = parameters.find("timeout"); it != parameters.end()) {
    KILN_ASSIGN_OR_RETURN(int64_t timeout, integer_parameter(it->second, "timeout"));
    if (timeout < 0) {
      return invalid_argument("request parameter 'timeout' must not be negative: " + std::to_string(timeout));
    }
    request->timeout_us = timeout;
  }
  return ok_status();
}

void set_duration(const DurationStat& stat, inference::StatisticDuration* message) {
  message->set_count(stat.count);
  message->set_ns(stat.ns);
}

}  // namespace

std::string encode_bytes_elements(const std::vector<std::string>& elements) {
  size_t total = 0;
  for (const std::string& element : elements) total += 4 + element.size();
  std::string out;
  out.reserve(total);
  for (const std::string& element : elements) {
    uint32_t length = static_cast<uint32_t>(element.size());
    char prefix[4];
    std::memcpy(prefix, &length, 4);
    out.append(prefix, 4);
    out.append(element);
  }
  return out;
}

Expected<std::vector<std::string>> decode_bytes_elements(const std::string& raw, int64_t element_count,
                                                         const std::string& tensor_name) {
  std::vector<std::string> elements;
  size_t offset = 0;
  while (offset < raw.size()) {
    if (raw.size() - offset < 4) {
      return invalid_argument("input '" + tensor_name + "': BYTES element " + std::to_string(elements.size()) +
                              " has a truncated 4-byte length prefix at byte " + std::to_string(offset));
    }
    uint32_t length = 0;
    std::memcpy(&length, raw.data() + offset, 4);
    offset += 4;
    if (raw.size() - offset < length) {
      return invalid_argument("input '" + tensor_name + "': BYTES element " + std::to_string(elements.size()) +
                              " claims " + std::to_string(length) + " bytes but only " +
                              std::to_string(raw.size() - offset) + " remain");
    }
    if (static_cast<int64_t>(elements.size()) == element_count) {
      return invalid_argument("input '" + tensor_name + "': BYTES data holds more than the " +
                              std::to_string(element_count) + " elements its shape needs");
    }
    elements.emplace_back(raw.data() + offset, length);
    offset += length;
  }
  if (static_cast<int64_t>(elements.size()) != element_count) {
    return invalid_argument("input '" + tensor_name + "': BYTES shape needs " + std::to_string(element_count) +
                            " elements but the data holds " + std::to_string(elements.size()));
  }
  return elements;
}

Expected<InferRequest> infer_request_from_proto(ModelInferRequest& message) {
  InferRequest request;
  request.model = message.model_name();
  request.version = message.model_version();
  request.id = message.id();
  KILN_RETURN_IF_ERROR(read_request_parameters(message, &request));

  // Inputs in shared memory have no raw entry: raw_input_contents holds one
  // entry per other input, in order (as tritonclient sends them).
  std::vector<std::optional<SharedMemoryReference>> shared(static_cast<size_t>(message.inputs_size()));
  int in_request = 0;
  for (int i = 0; i < message.inputs_size(); ++i) {
    const auto& input = message.inputs(i);
    KILN_ASSIGN_OR_RETURN(shared[i], shared_memory_reference(input.parameters(), "input '" + input.name() + "'"));
    if (!shared[i]) ++in_request;
  }
  const bool raw = message.raw_input_contents_size() > 0;
  if (raw && message.raw_input_contents_size() != in_request) {
    return invalid_argument("model '" + message.model_name() + "': the request has " + std::to_string(in_request) +
                            " inputs outside shared memory but " + std::to_string(message.raw_input_contents_size()) +
                            " raw_input_contents entries (raw contents need one entry per such input)");
  }
  int raw_index = 0;
  for (int i = 0; i < message.inputs_size(); ++i) {
    const auto& input = message.inputs(i);
    const std::string& name = input.name();
    KILN_RETURN_IF_ERROR(check_tensor_parameters(input.parameters(), "input '" + name + "'"));
    if (request.inputs.count(name) || request.shared_memory_inputs.count(name)) {
      return invalid_argument("input '" + name + "' appears twice in the request");
    }
    auto dtype = parse_kserve_datatype(input.datatype());
    if (!dtype.ok()) return dtype.status().with_context("input '" + name + "'");
    Dims dims(input.shape().begin(), input.shape().end());
    KILN_ASSIGN_OR_RETURN(int64_t count, checked_element_count(dims, name));
    if (shared[i]) {
      if (input.has_contents()) {
        return invalid_argument("input '" + name + "' has both typed contents and shared memory region '" +
                                shared[i]->region + "'; send one or the other");
      }
      request.shared_memory_inputs.emplace(name, SharedMemoryInput{*dtype, std::move(dims), std::move(*shared[i])});
      continue;
    }
    Expected<Tensor> tensor = Tensor();
    if (raw) {
      if (input.has_contents()) {
        return invalid_argument("input '" + name +
                                "' has both typed contents and raw_input_contents; send one or the other");
      }
      tensor = tensor_from_raw(std::move(*message.mutable_raw_input_contents(raw_index++)), *dtype, dims, count, name,
                               input.datatype());
    } else {
      tensor = tensor_from_contents(input.contents(), *dtype, dims, count, name, input.datatype());
    }
    if (!tensor.ok()) return tensor.status();
    request.inputs.emplace(name, std::move(tensor).value());
  }
  for (const auto& output : message.outputs()) {
    const std::string what = "output '" + output.name() + "'";
    KILN_RETURN_IF_ERROR(check_tensor_parameters(output.parameters(), what));
    KILN_ASSIGN_OR_RETURN(std::optional<SharedMemoryReference> reference,
                          shared_memory_reference(output.parameters(), what));
    if (reference) request.shared_memory_outputs.emplace(output.name(), std::move(*reference));
    request.requested_outputs.push_back(output.name());
  }
  return request;
}

Status infer_response_to_proto(const InferResponse& response, inference::ModelInferResponse* message) {
  message->set_model_name(response.model);
  message->set_model_version(response.version);
  message->set_id(response.id);
  for (const auto& [name, tensor] : response.outputs) {
    auto* output = message->add_outputs();
    output->set_name(name);
    output->set_datatype(kserve_datatype(tensor.dtype()));
    for (int64_t extent : tensor.dims()) output->add_shape(extent);
    if (auto shared = response.shared_memory_outputs.find(name); shared != response.shared_memory_outputs.end()) {
      auto& parameters = *output->mutable_parameters();
      parameters["shared_memory_region"].set_string_param(shared->second.region);
      parameters["shared_memory_byte_size"].set_int64_param(static_cast<int64_t>(shared->second.byte_size));
      if (shared->second.offset) {
        parameters["shared_memory_offset"].set_int64_param(static_cast<int64_t>(shared->second.offset));
      }
      // An empty entry keeps raw_output_contents[i] aligned with outputs[i],
      // which is how clients find an output's bytes.
      message->add_raw_output_contents();
    } else if (tensor.dtype() == DataType::kString) {
      message->add_raw_output_contents(encode_bytes_elements(tensor.string_data()));
    } else if (dtype_size(tensor.dtype()) == 0) {
      return internal_error("output '" + name + "' of model '" + response.model + "' has datatype " +
                            dtype_name(tensor.dtype()) + " that has no KServe encoding");
    } else {
      message->add_raw_output_contents(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
    }
  }
  return ok_status();
}

void server_metadata_to_proto(const ServerMetadata& metadata, inference::ServerMetadataResponse* message) {
  message->set_name(metadata.name);
  message->set_version(metadata.version);
  for (const std::string& extension : metadata.extensions) message->add_extensions(extension);
}

void model_metadata_to_proto(const ModelMetadata& metadata, inference::ModelMetadataResponse* message) {
  message->set_name(metadata.name);
  for (const std::string& version : metadata.versions) message->add_versions(version);
  message->set_platform(metadata.platform);
  auto fill = [](const TensorMetadata& tensor, inference::ModelMetadataResponse::TensorMetadata* out) {
    out->set_name(tensor.name);
    out->set_datatype(tensor.datatype);
    for (int64_t extent : tensor.shape) out->add_shape(extent);
  };
  for (const TensorMetadata& input : metadata.inputs) fill(input, message->add_inputs());
  for (const TensorMetadata& output : metadata.outputs) fill(output, message->add_outputs());
}

Status model_config_to_proto(const ModelConfig& config, const ModelMetadata& metadata,
                             inference::ModelConfig* message) {
  const BatcherOptions& batching = config.batching;
  const bool batched = batching.max_batch_size > 0;
  message->set_name(config.name);
  message->set_platform(config.platform);
  message->set_backend("kiln");
  message->set_max_batch_size(static_cast<int32_t>(batching.max_batch_size));

  // Triton names BYTES "TYPE_STRING" and every other type "TYPE_" + its KServe name.
  auto config_type = [&](const TensorMetadata& tensor) -> Expected<inference::DataType> {
    std::string name = tensor.datatype == "BYTES" ? "TYPE_STRING" : "TYPE_" + tensor.datatype;
    inference::DataType type;
    if (!inference::DataType_Parse(name, &type)) {
      return internal_error("model '" + config.name + "': tensor '" + tensor.name + "' has datatype " +
                            tensor.datatype + " with no model configuration type");
    }
    return type;
  };
  auto config_dims = [&](const TensorMetadata& tensor, google::protobuf::RepeatedField<int64_t>* dims) {
    size_t first = batched && !tensor.shape.empty() ? 1 : 0;
    for (size_t axis = first; axis < tensor.shape.size(); ++axis) dims->Add(tensor.shape[axis]);
  };
  for (const TensorMetadata& tensor : metadata.inputs) {
    auto* input = message->add_input();
    input->set_name(tensor.name);
    KILN_ASSIGN_OR_RETURN(inference::DataType type, config_type(tensor));
    input->set_data_type(type);
    config_dims(tensor, input->mutable_dims());
  }
  for (const TensorMetadata& tensor : metadata.outputs) {
    auto* output = message->add_output();
    output->set_name(tensor.name);
    KILN_ASSIGN_OR_RETURN(inference::DataType type, config_type(tensor));
    output->set_data_type(type);
    config_dims(tensor, output->mutable_dims());
  }

  auto* group = message->add_instance_group();
  group->set_name(config.name);
  group->set_count(batching.instances);
  group->set_kind(config.backend == BackendKind::kCuda ? inference::ModelInstanceGroup::KIND_GPU
                                                       : inference::ModelInstanceGroup::KIND_CPU);

  auto* dynamic = message->mutable_dynamic_batching();
  for (int64_t size : batching.preferred_batch_sizes) dynamic->add_preferred_batch_size(static_cast<int32_t>(size));
  dynamic->set_max_queue_delay_microseconds(static_cast<uint64_t>(batching.max_queue_delay_us));
  dynamic->set_preserve_ordering(batching.preserve_ordering);
  dynamic->set_priority_levels(static_cast<uint64_t>(batching.priority_levels));
  dynamic->set_default_priority_level(static_cast<uint64_t>(batching.default_priority));
  auto* queue = dynamic->mutable_default_queue_policy();
  queue->set_default_timeout_microseconds(static_cast<uint64_t>(batching.default_timeout_us));
  queue->set_allow_timeout_override(true);
  queue->set_max_queue_size(static_cast<uint32_t>(batching.max_queue_size));
  return ok_status();
}

void shared_memory_status_to_proto(const std::vector<SystemSharedMemoryRegionStatus>& regions,
                                   inference::SystemSharedMemoryStatusResponse* message) {
  for (const SystemSharedMemoryRegionStatus& region : regions) {
    auto& out = (*message->mutable_regions())[region.name];
    out.set_name(region.name);
    out.set_key(region.key);
    out.set_offset(region.offset);
    out.set_byte_size(region.byte_size);
  }
}

void statistics_to_proto(const std::vector<ModelStatistics>& statistics, inference::ModelStatisticsResponse* message) {
  for (const ModelStatistics& model : statistics) {
    auto* out = message->add_model_stats();
    out->set_name(model.name);
    out->set_version(model.version);
    out->set_last_inference(model.last_inference_ms);
    out->set_inference_count(model.inference_count);
    out->set_execution_count(model.execution_count);
    auto* infer = out->mutable_inference_stats();
    set_duration(model.success, infer->mutable_success());
    set_duration(model.fail, infer->mutable_fail());
    set_duration(model.queue, infer->mutable_queue());
    set_duration(model.compute_input, infer->mutable_compute_input());
    set_duration(model.compute_infer, infer->mutable_compute_infer());
    set_duration(model.compute_output, infer->mutable_compute_output());
    for (const ModelStatistics::BatchStat& batch : model.batch_stats) {
      auto* batch_out = out->add_batch_stats();
      batch_out->set_batch_size(static_cast<uint64_t>(batch.batch_size));
      set_duration(batch.compute_infer, batch_out->mutable_compute_infer());
      // Kiln times a batch as one step, so input and output stay zero but present.
      batch_out->mutable_compute_input();
      batch_out->mutable_compute_output();
    }
  }
}

}  // namespace kiln::serve
