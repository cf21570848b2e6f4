#include "serve/http_infer_codec.h"

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace kiln::serve {
namespace {

using nlohmann::json;

// Deeper nesting than any tensor rank a model has is refused before recursion can hurt.
constexpr int kMaxNesting = 64;

std::string single_quoted(const std::string& name) { return "'" + name + "'"; }

Status input_error(const std::string& input, const std::string& message) {
  return invalid_argument("input " + single_quoted(input) + ": " + message);
}

// Appends the leaves of a flat or nested array in row-major order.
Status flatten(const json& value, int depth, const std::string& input, std::vector<const json*>& leaves) {
  if (!value.is_array()) {
    leaves.push_back(&value);
    return ok_status();
  }
  if (depth > kMaxNesting)
    return input_error(input, "'data' is nested more than " + std::to_string(kMaxNesting) + " deep");
  for (const json& element : value) KILN_RETURN_IF_ERROR(flatten(element, depth + 1, input, leaves));
  return ok_status();
}

std::string describe_leaf(const json& leaf) {
  std::string text = leaf.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

template <typename T>
Status store_integer(const json& leaf, T* out) {
  if (!leaf.is_number_integer()) return invalid_argument("not an integer");
  if (leaf.is_number_unsigned()) {
    uint64_t value = leaf.get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<T>::max())) return invalid_argument("out of range");
    *out = static_cast<T>(value);
    return ok_status();
  }
  int64_t value = leaf.get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (value < 0) return invalid_argument("out of range");
  } else {
    if (value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max()) {
      return invalid_argument("out of range");
    }
  }
  *out = static_cast<T>(value);
  return ok_status();
}

// Writes element `index` of `tensor` from a JSON leaf of the tensor's datatype.
Status store_element(const json& leaf, Tensor& tensor, int64_t index) {
  auto number = [&]() -> Expected<double> {
    if (!leaf.is_number()) return invalid_argument("not a number");
    return leaf.get<double>();
  };
  switch (tensor.dtype()) {
    case DataType::kBool:
      if (!leaf.is_boolean()) return invalid_argument("not true or false");
      tensor.data<bool>()[index] = leaf.get<bool>();
      return ok_status();
    case DataType::kUint8:
      return store_integer(leaf, tensor.data<uint8_t>() + index);
    case DataType::kUint16:
      return store_integer(leaf, tensor.data<uint16_t>() + index);
    case DataType::kUint32:
      return store_integer(leaf, tensor.data<uint32_t>() + index);
    case DataType::kUint64:
      return store_integer(leaf, tensor.data<uint64_t>() + index);
    case DataType::kInt8:
      return store_integer(leaf, tensor.data<int8_t>() + index);
    case DataType::kInt16:
      return store_integer(leaf, tensor.data<int16_t>() + index);
    case DataType::kInt32:
      return store_integer(leaf, tensor.data<int32_t>() + index);
    case DataType::kInt64:
      return store_integer(leaf, tensor.data<int64_t>() + index);
    case DataType::kFloat16: {
      KILN_ASSIGN_OR_RETURN(double value, number());
      tensor.data<Float16>()[index] = Float16(static_cast<float>(value));
      return ok_status();
    }
    case DataType::kBFloat16: {
      KILN_ASSIGN_OR_RETURN(double value, number());
      tensor.data<BFloat16>()[index] = BFloat16(static_cast<float>(value));
      return ok_status();
    }
    case DataType::kFloat32: {
      KILN_ASSIGN_OR_RETURN(double value, number());
      tensor.data<float>()[index] = static_cast<float>(value);
      return ok_status();
    }
    case DataType::kFloat64: {
      KILN_ASSIGN_OR_RETURN(double value, number());
      tensor.data<double>()[index] = value;
      return ok_status();
    }
    case DataType::kString:
      if (!leaf.is_string()) return invalid_argument("not a string");
      tensor.string_data()[index] = leaf.get<std::string>();
      return ok_status();
    default:
      return internal_error("no JSON form for " + std::string(dtype_name(tensor.dtype())));
  }
}

Tensor allocate(DataType dtype, const Dims& dims) {
  if (dtype == DataType::kString) {
    return Tensor::strings(dims, std::vector<std::string>(static_cast<size_t>(element_count(dims))));
  }
  return Tensor::empty(dtype, dims);
}

Expected<Tensor> tensor_from_json(const std::string& input, DataType dtype, const Dims& dims, const json& data) {
  std::vector<const json*> leaves;
  KILN_RETURN_IF_ERROR(flatten(data, 0, input, leaves));
  int64_t count = element_count(dims);
  if (static_cast<int64_t>(leaves.size()) != count) {
    return input_error(input, "'data' has " + std::to_string(leaves.size()) + " elements but shape [" +
                                  dims_to_string(dims) + "] needs " + std::to_string(count));
  }
  Tensor tensor = allocate(dtype, dims);
  for (int64_t i = 0; i < count; ++i) {
    Status stored = store_element(*leaves[i], tensor, i);
    if (!stored.ok()) {
      return input_error(input, "element " + std::to_string(i) + " of 'data' (" + describe_leaf(*leaves[i]) + ") is " +
                                    stored.message() + " for datatype " + kserve_datatype(dtype));
    }
  }
  return tensor;
}

Expected<Tensor> tensor_from_binary(const std::string& input, DataType dtype, const Dims& dims, std::string_view bytes,
                                    BinaryInputs binary_inputs) {
  int64_t count = element_count(dims);
  if (dtype != DataType::kString) {
    size_t expected = static_cast<size_t>(count) * dtype_size(dtype);
    if (bytes.size() != expected) {
      return input_error(input, "binary_data_size is " + std::to_string(bytes.size()) + " bytes but shape [" +
                                    dims_to_string(dims) + "] of " + kserve_datatype(dtype) + " needs " +
                                    std::to_string(expected));
    }
    // A borrowed view needs its elements at their natural alignment; the
    // JSON header's length decides where binary data starts, so a misaligned
    // tensor is copied instead.
    const bool aligned = reinterpret_cast<uintptr_t>(bytes.data()) % dtype_size(dtype) == 0;
    if (binary_inputs == BinaryInputs::kBorrow && aligned) {
      // The engine only reads its inputs, so viewing the const body is safe.
      return Tensor::view(dtype, dims, const_cast<char*>(bytes.data()), nullptr);
    }
    Tensor tensor = Tensor::empty(dtype, dims);
    if (expected > 0) std::memcpy(tensor.raw_data(), bytes.data(), expected);
    return tensor;
  }
  std::vector<std::string> values;
  size_t offset = 0;
  while (offset < bytes.size()) {
    if (bytes.size() - offset < 4) return input_error(input, "binary BYTES data ends inside an element's length");
    uint32_t length = 0;
    for (int b = 0; b < 4; ++b)
      length |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + b])) << (8 * b);
    offset += 4;
    if (bytes.size() - offset < length) {
      return input_error(input, "binary BYTES element " + std::to_string(values.size()) + " has length " +
                                    std::to_string(length) + " but only " + std::to_string(bytes.size() - offset) +
                                    " bytes remain");
    }
    values.emplace_back(bytes.substr(offset, length));
    offset += length;
  }
  if (static_cast<int64_t>(values.size()) != count) {
    return input_error(input, "binary BYTES data holds " + std::to_string(values.size()) + " elements but shape [" +
                                  dims_to_string(dims) + "] needs " + std::to_string(count));
  }
  return Tensor::strings(dims, std::move(values));
}

Expected<Dims> parse_shape(const std::string& input, const json& shape) {
  if (!shape.is_array()) return input_error(input, "'shape' must be an array of integers, got " + describe_leaf(shape));
  Dims dims;
  int64_t count = 1;
  for (const json& dim : shape) {
    if (!dim.is_number_integer() || (!dim.is_number_unsigned() && dim.get<int64_t>() < 0)) {
      return input_error(input, "'shape' must hold integers >= 0, got " + describe_leaf(shape));
    }
    uint64_t extent = dim.get<uint64_t>();
    if (extent > (uint64_t{1} << 40) || __builtin_mul_overflow(count, static_cast<int64_t>(extent), &count) ||
        count > (int64_t{1} << 48)) {
      return input_error(input, "'shape' " + describe_leaf(shape) + " is too large");
    }
    dims.push_back(static_cast<int64_t>(extent));
  }
  return dims;
}

// The shared memory parameters of an input or output, or nullopt when it has
// none. `what` is "input 'x'" or "output 'y'".
Expected<std::optional<SharedMemoryReference>> shared_memory_reference(const std::string& what,
                                                                       const json& parameters) {
  const bool has_region = parameters.contains("shared_memory_region");
  if (!has_region) {
    if (parameters.contains("shared_memory_byte_size") || parameters.contains("shared_memory_offset")) {
      return invalid_argument(what +
                              ": shared_memory_byte_size or shared_memory_offset given without "
                              "shared_memory_region");
    }
    return std::optional<SharedMemoryReference>();
  }
  const json& region = parameters["shared_memory_region"];
  if (!region.is_string()) {
    return invalid_argument(what + ": 'shared_memory_region' must be a string, got " + describe_leaf(region));
  }
  SharedMemoryReference reference;
  reference.region = region.get<std::string>();
  if (!parameters.contains("shared_memory_byte_size")) {
    return invalid_argument(what + ": shared memory region '" + reference.region +
                            "' needs parameter 'shared_memory_byte_size'");
  }
  auto size_parameter = [&](const char* key, uint64_t& out) -> Status {
    if (!parameters.contains(key)) return ok_status();  // only the offset may be left out
    const json& value = parameters[key];
    if (!value.is_number_unsigned()) {
      return invalid_argument(what + ": '" + key + "' must be an integer >= 0, got " + describe_leaf(value));
    }
    out = value.get<uint64_t>();
    return ok_status();
  };
  KILN_RETURN_IF_ERROR(size_parameter("shared_memory_byte_size", reference.byte_size));
  KILN_RETURN_IF_ERROR(size_parameter("shared_memory_offset", reference.offset));
  return std::optional<SharedMemoryReference>(std::move(reference));
}

// A binary_data_size parameter, or nullopt when the input's data is JSON.
Expected<std::optional<size_t>> binary_size_of(const std::string& input, const json& entry) {
  if (!entry.contains("parameters")) return std::optional<size_t>();
  const json& parameters = entry["parameters"];
  if (!parameters.is_object()) return input_error(input, "'parameters' must be an object");
  if (!parameters.contains("binary_data_size")) return std::optional<size_t>();
  const json& size = parameters["binary_data_size"];
  if (!size.is_number_unsigned()) {
    return input_error(input, "'binary_data_size' must be an integer >= 0, got " + describe_leaf(size));
  }
  return std::optional<size_t>(size.get<uint64_t>());
}

Expected<bool> bool_parameter(const json& parameters, const std::string& key, const std::string& where) {
  const json& value = parameters[key];
  if (!value.is_boolean()) return invalid_argument(where + "parameter '" + key + "' must be true or false");
  return value.get<bool>();
}

Status parse_request_parameters(const json& parameters, HttpInferRequest& out) {
  if (!parameters.is_object()) return invalid_argument("request 'parameters' must be an object");
  for (const auto& [key, value] : parameters.items()) {
    if (key == "binary_data_output") {
      KILN_ASSIGN_OR_RETURN(out.binary_data_output, bool_parameter(parameters, key, "request "));
    } else if (key == "priority") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() > (1u << 16)) {
        return invalid_argument("request parameter 'priority' must be an integer in [0, 65536], got " +
                                describe_leaf(value));
      }
      out.request.priority = static_cast<int>(value.get<uint64_t>());
    } else if (key == "timeout") {
      if (!value.is_number_unsigned() ||
          value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return invalid_argument("request parameter 'timeout' (microseconds) must be an integer >= 0, got " +
                                describe_leaf(value));
      }
      out.request.timeout_us = static_cast<int64_t>(value.get<uint64_t>());
    } else if (key == "sequence_id" || key == "sequence_start" || key == "sequence_end") {
      bool unset = value.is_null() || (value.is_boolean() && !value.get<bool>()) ||
                   (value.is_number_integer() && value.get<int64_t>() == 0) ||
                   (value.is_string() && value.get<std::string>().empty());
      if (!unset) return unimplemented("request parameter '" + key + "': sequence batching is not supported");
    }
    // Other parameters are extensions this server does not know; KServe lets servers ignore them.
  }
  return ok_status();
}

Status parse_outputs(const json& outputs, HttpInferRequest& out) {
  if (!outputs.is_array()) return invalid_argument("'outputs' must be an array");
  for (const json& entry : outputs) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
      return invalid_argument("every entry of 'outputs' needs a string 'name'");
    }
    std::string name = entry["name"].get<std::string>();
    bool binary = out.binary_data_output;
    if (entry.contains("parameters")) {
      const json& parameters = entry["parameters"];
      if (!parameters.is_object())
        return invalid_argument("output " + single_quoted(name) + ": 'parameters' must be an object");
      if (parameters.contains("binary_data")) {
        KILN_ASSIGN_OR_RETURN(binary,
                              bool_parameter(parameters, "binary_data", "output " + single_quoted(name) + ": "));
      }
      if (parameters.contains("classification")) {
        return unimplemented("output " + single_quoted(name) + ": the classification extension is not supported");
      }
      KILN_ASSIGN_OR_RETURN(std::optional<SharedMemoryReference> reference,
                            shared_memory_reference("output " + single_quoted(name), parameters));
      if (reference) out.request.shared_memory_outputs.emplace(name, std::move(*reference));
    }
    out.request.requested_outputs.push_back(name);
    out.binary_outputs.push_back(binary);
  }
  return ok_status();
}

Expected<HttpInferRequest> parse_request_json(const json& root, std::string_view binary, BinaryInputs binary_inputs) {
  if (!root.is_object()) return invalid_argument("the request body must be a JSON object");
  HttpInferRequest out;
  if (root.contains("id")) {
    if (!root["id"].is_string()) return invalid_argument("request 'id' must be a string");
    out.request.id = root["id"].get<std::string>();
  }
  // Parameters first: binary_data_output is the default of every listed output.
  if (root.contains("parameters")) KILN_RETURN_IF_ERROR(parse_request_parameters(root["parameters"], out));
  if (!root.contains("inputs") || !root["inputs"].is_array()) {
    return invalid_argument("the request needs an 'inputs' array");
  }
  size_t binary_offset = 0;
  for (const json& entry : root["inputs"]) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
      return invalid_argument("every entry of 'inputs' needs a string 'name'");
    }
    std::string name = entry["name"].get<std::string>();
    if (out.request.inputs.count(name) != 0 || out.request.shared_memory_inputs.count(name) != 0) {
      return input_error(name, "given more than once");
    }
    if (!entry.contains("datatype") || !entry["datatype"].is_string())
      return input_error(name, "needs a string 'datatype'");
    auto dtype = parse_kserve_datatype(entry["datatype"].get<std::string>());
    if (!dtype.ok()) return input_error(name, dtype.status().message());
    if (!entry.contains("shape")) return input_error(name, "needs a 'shape'");
    KILN_ASSIGN_OR_RETURN(Dims dims, parse_shape(name, entry["shape"]));
    KILN_ASSIGN_OR_RETURN(std::optional<size_t> binary_size, binary_size_of(name, entry));
    if (entry.contains("parameters")) {
      KILN_ASSIGN_OR_RETURN(std::optional<SharedMemoryReference> reference,
                            shared_memory_reference("input " + single_quoted(name), entry["parameters"]));
      if (reference) {
        if (binary_size || entry.contains("data")) {
          return input_error(name, "names shared memory region '" + reference->region +
                                       "' and also carries 'data' or binary_data_size; send one or the other");
        }
        out.request.shared_memory_inputs.emplace(name, SharedMemoryInput{*dtype, std::move(dims), *reference});
        continue;
      }
    }
    Tensor tensor;
    if (binary_size) {
      if (entry.contains("data")) return input_error(name, "has both 'data' and binary_data_size");
      if (binary_size.value() > binary.size() - binary_offset) {
        return input_error(name, "binary_data_size " + std::to_string(binary_size.value()) +
                                     " runs past the end of the body (" +
                                     std::to_string(binary.size() - binary_offset) + " binary bytes left; is " +
                                     kInferenceHeaderContentLength + " right?)");
      }
      KILN_ASSIGN_OR_RETURN(
          tensor,
          tensor_from_binary(name, *dtype, dims, binary.substr(binary_offset, binary_size.value()), binary_inputs));
      binary_offset += binary_size.value();
    } else {
      if (!entry.contains("data")) return input_error(name, "has neither 'data' nor binary_data_size");
      KILN_ASSIGN_OR_RETURN(tensor, tensor_from_json(name, *dtype, dims, entry["data"]));
    }
    out.request.inputs.emplace(name, std::move(tensor));
  }
  if (binary_offset != binary.size()) {
    return invalid_argument("the body holds " + std::to_string(binary.size()) +
                            " bytes after the JSON header but the inputs' binary_data_size add up to " +
                            std::to_string(binary_offset));
  }
  if (root.contains("outputs")) KILN_RETURN_IF_ERROR(parse_outputs(root["outputs"], out));
  return out;
}

// Appends `tensor`'s elements to a JSON array.
json json_data(const Tensor& tensor) {
  json data = json::array();
  const int64_t count = tensor.element_count();
  auto append = [&](auto element_of) {
    for (int64_t i = 0; i < count; ++i) data.push_back(element_of(i));
  };
  switch (tensor.dtype()) {
    case DataType::kBool:
      append([&](int64_t i) { return tensor.data<bool>()[i]; });
      break;
    case DataType::kUint8:
      append([&](int64_t i) { return tensor.data<uint8_t>()[i]; });
      break;
    case DataType::kUint16:
      append([&](int64_t i) { return tensor.data<uint16_t>()[i]; });
      break;
    case DataType::kUint32:
      append([&](int64_t i) { return tensor.data<uint32_t>()[i]; });
      break;
    case DataType::kUint64:
      append([&](int64_t i) { return tensor.data<uint64_t>()[i]; });
      break;
    case DataType::kInt8:
      append([&](int64_t i) { return tensor.data<int8_t>()[i]; });
      break;
    case DataType::kInt16:
      append([&](int64_t i) { return tensor.data<int16_t>()[i]; });
      break;
    case DataType::kInt32:
      append([&](int64_t i) { return tensor.data<int32_t>()[i]; });
      break;
    case DataType::kInt64:
      append([&](int64_t i) { return tensor.data<int64_t>()[i]; });
      break;
    case DataType::kFloat16:
      append([&](int64_t i) { return static_cast<float>(tensor.data<Float16>()[i]); });
      break;
    case DataType::kBFloat16:
      append([&](int64_t i) { return static_cast<float>(tensor.data<BFloat16>()[i]); });
      break;
    case DataType::kFloat32:
      append([&](int64_t i) { return tensor.data<float>()[i]; });
      break;
    case DataType::kFloat64:
      append([&](int64_t i) { return tensor.data<double>()[i]; });
      break;
    case DataType::kString:
      append([&](int64_t i) { return tensor.string_data()[i]; });
      break;
    default:
      break;
  }
  return data;
}

void append_binary(const Tensor& tensor, std::string& out) {
  if (tensor.dtype() != DataType::kString) {
    out.append(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
    return;
  }
  for (const std::string& value : tensor.string_data()) {
    uint32_t length = static_cast<uint32_t>(value.size());
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((length >> (8 * b)) & 0xff));
    out.append(value);
  }
}

size_t binary_size(const Tensor& tensor) {
  if (tensor.dtype() != DataType::kString) return tensor.byte_size();
  size_t size = 0;
  for (const std::string& value : tensor.string_data()) size += 4 + value.size();
  return size;
}

}  // namespace

Expected<HttpInferRequest> parse_infer_request(std::string_view body, std::optional<size_t> json_length,
                                               BinaryInputs binary_inputs) {
  if (json_length && *json_length > body.size()) {
    return invalid_argument(std::string(kInferenceHeaderContentLength) + " is " + std::to_string(*json_length) +
                            " but the body has only " + std::to_string(body.size()) + " bytes");
  }
  std::string_view header = json_length ? body.substr(0, *json_length) : body;
  std::string_view binary = json_length ? body.substr(*json_length) : std::string_view();
  // nlohmann reports malformed text by exception; it stops here and becomes a value.
  try {
    json root = json::parse(header.begin(), header.end());
    return parse_request_json(root, binary, binary_inputs);
  } catch (const json::exception& e) {
    return invalid_argument(std::string("malformed JSON in the request: ") + e.what());
  }
}

Expected<HttpBody> encode_infer_response(const InferResponse& response, const std::vector<bool>& binary) {
  if (binary.size() != response.outputs.size()) {
    return internal_error("binary choice for " + std::to_string(binary.size()) + " outputs but the response has " +
                          std::to_string(response.outputs.size()));
  }
  json outputs = json::array();
  std::string binary_data;
  for (size_t i = 0; i < response.outputs.size(); ++i) {
    const auto& [name, tensor] = response.outputs[i];
    json entry = {{"name", name}, {"datatype", kserve_datatype(tensor.dtype())}, {"shape", tensor.dims()}};
    if (auto shared = response.shared_memory_outputs.find(name); shared != response.shared_memory_outputs.end()) {
      entry["parameters"] = {{"shared_memory_region", shared->second.region},
                             {"shared_memory_byte_size", shared->second.byte_size}};
      if (shared->second.offset) entry["parameters"]["shared_memory_offset"] = shared->second.offset;
    } else if (binary[i]) {
      size_t size = binary_size(tensor);
      binary_data.reserve(binary_data.size() + size);
      append_binary(tensor, binary_data);
      entry["parameters"] = {{"binary_data_size", size}};
    } else {
      entry["data"] = json_data(tensor);
    }
    outputs.push_back(std::move(entry));
  }
  json root = {{"model_name", response.model}, {"model_version", response.version}, {"outputs", std::move(outputs)}};
  if (!response.id.empty()) root["id"] = response.id;
  HttpBody body;
  // BYTES outputs need not be UTF-8; invalid sequences are replaced rather than thrown on.
  body.content = root.dump(-1, ' ', false, json::error_handler_t::replace);
  // Outputs in shared memory add nothing to the body, whatever `binary` says.
  bool any_binary = false;
  for (size_t i = 0; i < binary.size(); ++i) {
    any_binary |= binary[i] && !response.shared_memory_outputs.count(response.outputs[i].first);
  }
  if (any_binary) {
    body.json_length = body.content.size();
    body.content += binary_data;
  }
  return body;
}

std::vector<bool> binary_choice(const HttpInferRequest& request, const InferResponse& response) {
  std::vector<bool> binary;
  for (const auto& [name, tensor] : response.outputs) {
    bool choice = request.binary_data_output;
    const auto& requested = request.request.requested_outputs;
    for (size_t i = 0; i < requested.size(); ++i) {
      if (requested[i] == name) choice = request.binary_outputs[i];
    }
    binary.push_back(choice);
  }
  return binary;
}

std::string error_json(const std::string& message) {
  return json({{"error", message}}).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace kiln::serve
