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

// Inputs come from shared memory when their parameters name a region
// (shared_memory_region, shared_memory_byte_size, shared_memory_offset: they
// land in InferRequest::shared_memory_inputs), else from raw_input_contents
// when the request has any (then every other input has exactly one entry, in
// order), else from each input's typed `contents`. Raw contents are moved
// out of `message` into the tensors, not copied: the gRPC front end owns the
// message until the RPC finishes and never reads it again. Outputs whose
// parameters name a region go to InferRequest::shared_memory_outputs.
// Request parameters: "priority" and "timeout" (microseconds). Errors are
// kInvalidArgument naming the input, its datatype, shape and byte or element
// counts; unsupported features (sequences, classification outputs) are
// kUnimplemented.
Expected<InferRequest> infer_request_from_proto(inference::ModelInferRequest& message);

// Every output goes to raw_output_contents in the response's order; outputs
// written into shared memory get an empty entry and their region, byte size
// and offset as parameters.
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
void shared_memory_status_to_proto(const std::vector<SystemSharedMemoryRegionStatus>& regions,
                                   inference::SystemSharedMemoryStatusResponse* message);
void statistics_to_proto(const std::vector<ModelStatistics>& statistics, inference::ModelStatisticsResponse* message);

}  // namespace kiln::serve
