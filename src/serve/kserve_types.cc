// KServe v2 datatype names and the protocol status codes for Kiln errors.
// Both front ends use these, so a request fails the same way over HTTP and gRPC.
#include <array>
#include <utility>

#include "serve/inference_server.h"

namespace kiln::serve {
namespace {

// The one table of KServe datatype names (the protocol's tensor data types).
constexpr std::array<std::pair<DataType, const char*>, 14> kDatatypes = {{
    {DataType::kBool, "BOOL"},
    {DataType::kUint8, "UINT8"},
    {DataType::kUint16, "UINT16"},
    {DataType::kUint32, "UINT32"},
    {DataType::kUint64, "UINT64"},
    {DataType::kInt8, "INT8"},
    {DataType::kInt16, "INT16"},
    {DataType::kInt32, "INT32"},
    {DataType::kInt64, "INT64"},
    {DataType::kFloat16, "FP16"},
    {DataType::kFloat32, "FP32"},
    {DataType::kFloat64, "FP64"},
    {DataType::kString, "BYTES"},
    {DataType::kBFloat16, "BF16"},
}};

}  // namespace

const char* kserve_datatype(DataType dtype) {
  for (const auto& [type, name] : kDatatypes) {
    if (type == dtype) return name;
  }
  return "INVALID";
}

Expected<DataType> parse_kserve_datatype(const std::string& name) {
  for (const auto& [type, known] : kDatatypes) {
    if (name == known) return type;
  }
  return invalid_argument("unknown datatype '" + name +
                          "' (expected BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, "
                          "FP64, BF16 or BYTES)");
}

int http_status_for(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    // The request itself is wrong (or asks for something Kiln does not do).
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kFormatError:
    case StatusCode::kUnimplemented:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    // A full queue is reported the way Triton does (unavailable for now): clients
    // treat 503 as "retry later", which is what the caller should do.
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    // The client went away or gave up; nginx's 499 names exactly that.
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

int grpc_code_for(const Status& status) {
  // grpc::StatusCode numbering.
  switch (status.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kCancelled:
      return 1;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFormatError:
      return 3;
    case StatusCode::kDeadlineExceeded:
      return 4;
    case StatusCode::kNotFound:
      return 5;
    case StatusCode::kResourceExhausted:
      return 8;
    case StatusCode::kOutOfRange:
      return 11;
    case StatusCode::kUnimplemented:
      return 12;
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return 13;
    case StatusCode::kUnavailable:
      return 14;
  }
  return 2;  // UNKNOWN
}

}  // namespace kiln::serve
