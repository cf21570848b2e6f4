// The bodies of KServe v2 HTTP/REST inference requests and responses, with
// the binary tensor data extension:
//
//   JSON only:  {"id": ..., "parameters": {...}, "inputs": [{"name", "shape",
//               "datatype", "data": [...]}], "outputs": [{"name", "parameters":
//               {"binary_data": true}}]}
//   binary:     the JSON header (its length in the HTTP header
//               Inference-Header-Content-Length) followed by the raw bytes of
//               every input whose parameters give "binary_data_size", in the
//               order of "inputs". Responses put outputs asked for as binary
//               after their JSON header in the same way.
//
// Tensor data in JSON is a flat or nested array in row-major order; BYTES
// elements are JSON strings. Binary BYTES elements are each a 4-byte
// little-endian length followed by that many bytes. Every other datatype is
// little-endian, packed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/status.h"
#include "serve/inference_server.h"

namespace kiln::serve {

// Name of the HTTP header that carries the length of the JSON part of a body
// that also holds binary tensor data.
inline constexpr const char* kInferenceHeaderContentLength = "Inference-Header-Content-Length";

struct HttpInferRequest {
  InferRequest request;  // model and version are left for the caller (they come from the URL)
  // One per entry of request.requested_outputs: return that output as binary data.
  std::vector<bool> binary_outputs;
  // Request parameter "binary_data_output": outputs not listed in "outputs"
  // (all of them when the request lists none) are returned as binary data.
  bool binary_data_output = false;
};

// How binary tensor data gets into the request's tensors.
enum class BinaryInputs {
  kCopy,    // each tensor owns a copy
  kBorrow,  // each tensor views `body`: the caller keeps the body alive and
            // unchanged until the request's tensors are gone
};

// Parses a request body. `json_length` is the value of
// Inference-Header-Content-Length (nullopt: the whole body is JSON). Inputs
// and outputs whose parameters name a shared memory region
// (shared_memory_region, shared_memory_byte_size, shared_memory_offset) go to
// the request's shared_memory_inputs / shared_memory_outputs. Errors
// (kInvalidArgument) name the input, the field and what was wrong: malformed
// JSON, an unknown datatype, a data element count that does not match the
// shape, binary sizes that do not add up to the body, incomplete shared
// memory parameters.
Expected<HttpInferRequest> parse_infer_request(std::string_view body, std::optional<size_t> json_length,
                                               BinaryInputs binary_inputs = BinaryInputs::kCopy);

struct HttpBody {
  std::string content;
  // Length of the JSON part when binary data follows it (the value for
  // Inference-Header-Content-Length); nullopt for a JSON-only body.
  std::optional<size_t> json_length;
};

// Encodes a response; `binary[i]` chooses binary data for response.outputs[i].
// Outputs written into shared memory carry their region, byte size and
// offset as parameters and no data.
Expected<HttpBody> encode_infer_response(const InferResponse& response, const std::vector<bool>& binary);

// Which of a response's outputs go binary: those listed with binary_data, the
// rest by the request's binary_data_output.
std::vector<bool> binary_choice(const HttpInferRequest& request, const InferResponse& response);

// {"error": "<message>"}, the error body of every KServe endpoint.
std::string error_json(const std::string& message);

}  // namespace kiln::serve
