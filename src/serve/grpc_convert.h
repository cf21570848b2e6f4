// Translation between the KServe v2 gRPC messages and the protocol-independent
// structures of inference_server.h. Pure functions, no I/O, so the wire rules
// (raw vs typed contents, BYTES length prefixes, parameters) are tested without
// a running server.
#pragma once

#include <string>
#include <vector>

#include "kiln/status.h"
#include "serve/inference_server.h"
#include "serve/proto/kserve_v2.pb.h"

namespace kiln::serve {

// Inputs come from raw_input_contents when the request has any (then every
// input must have exactly one entry, in order), else from each input's typed
// `contents`. Request parameters: "priority" and "timeout" (microseconds).
// Errors are kInvalidArgument naming the input, its datatype, shape and byte
// or element counts; unsupported features (shared memory, sequences,
// classification outputs) are kUnimplemented.
Expected<InferRequest> infer_request_from_proto(const inference::ModelInferRequest& message);

// Every output goes to raw_output_contents in the response's order.
Status infer_response_to_proto(const InferResponse& response, inference::ModelInferResponse* message);

// BYTES tensors on the wire: each element as a 4-byte little-endian length
// followed by its bytes. decode checks that exactly `element_count` elements
// fill `raw` (the error names `tensor_name`).
std::string encode_bytes_elements(const std::vector<std::string>& elements);
Expected<std::vector<std::string>> decode_bytes_elements(const std::string& raw, int64_t element_count,
                                                         const std::string& tensor_name);

void server_metadata_to_proto(const ServerMetadata& metadata, inference::ServerMetadataResponse* message);
void model_metadata_to_proto(const ModelMetadata& metadata, inference::ModelMetadataResponse* message);
// Triton's config layout: with max_batch_size > 0 the dims leave out the batch axis.
Status model_config_to_proto(const ModelConfig& config, const ModelMetadata& metadata, inference::ModelConfig* message);
void statistics_to_proto(const std::vector<ModelStatistics>& statistics, inference::ModelStatisticsResponse* message);

}  // namespace kiln::serve
