#include "onnx/tensor_proto.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace kiln {
namespace {

Expected<Tensor> read_external(const onnx::TensorProto& proto, const std::string& base_dir, DataType dtype,
                               const Dims& dims) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  const std::string what = "tensor '" + proto.name() + "'";
  auto parse_count = [&](const std::string& key, const std::string& text, int64_t* out) -> Status {
    if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
      return format_error(what + ": external data " + key + " '" + text + "' is not a non-negative integer");
    }
    *out = std::stoll(text);
    return ok_status();
  };
  for (const auto& kv : proto.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") KILN_RETURN_IF_ERROR(parse_count("offset", kv.value(), &offset));
    else if (kv.key() == "length") KILN_RETURN_IF_ERROR(parse_count("length", kv.value(), &length));
  }
  if (location.empty()) return format_error(what + ": external data has no location");
  std::filesystem::path rel(location);
  if (rel.is_absolute() || location.find("..") != std::string::npos) {
    return invalid_argument(what + ": external data location '" + location + "' must be relative to the model and stay in its directory");
  }
  std::filesystem::path full = std::filesystem::path(base_dir) / rel;
  std::ifstream in(full, std::ios::binary);
  if (!in) return not_found(what + ": external data file '" + full.string() + "' cannot be opened");
  in.seekg(0, std::ios::end);
  int64_t file_size = static_cast<int64_t>(in.tellg());
  int64_t need = element_count(dims) * static_cast<int64_t>(dtype_size(dtype));
  const std::string described = std::string(dtype_name(dtype)) + "[" + dims_to_string(dims) + "]";
  if (length >= 0 && length != need) {
    return format_error(what + ": external data length " + std::to_string(length) + " does not match " +
                        std::to_string(need) + " bytes of " + described);
  }
  if (offset < 0 || offset > file_size || need > file_size - offset) {
    return format_error(what + ": external data file '" + full.string() + "' has " + std::to_string(file_size) +
                        " bytes, needs " + std::to_string(offset + need));
  }
  // Sizes are checked against the file before memory is reserved.
  Tensor out = Tensor::empty(dtype, dims);
  in.seekg(offset);
  in.read(static_cast<char*>(out.raw_data()), need);
  if (!in) return io_error(what + ": reading '" + full.string() + "' failed");
  return out;
}

template <typename Dst, typename Field>
void copy_field(const Field& field, Tensor& out) {
  Dst* d = out.data<Dst>();
  for (int i = 0; i < field.size(); ++i) d[i] = static_cast<Dst>(field.Get(i));
}

}  // namespace

Expected<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir) {
  const std::string what = "tensor '" + proto.name() + "'";
  if (!dtype_is_valid(proto.data_type())) {
    return unimplemented(what + " has element type " + std::to_string(proto.data_type()) + ", which is not supported");
  }
  if (proto.has_segment()) return unimplemented(what + " is segmented, which is not supported");
  DataType dtype = static_cast<DataType>(proto.data_type());
  Dims dims(proto.dims().begin(), proto.dims().end());
  // Element count without overflow, bounded so a tiny file cannot ask for
  // an absurd allocation before its data is checked.
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return format_error(what + " has a negative dimension");
    if (d != 0 && n > kMaxElements / d) {
      return format_error(what + " has shape " + dims_to_string(dims) + ", more elements than Kiln accepts");
    }
    n *= d;
  }
  // Data stored inline must account for every element before memory is reserved.
  if (dtype != DataType::kString && proto.data_location() != onnx::TensorProto::EXTERNAL) {
    const uint64_t bytes = static_cast<uint64_t>(n) * dtype_size(dtype);
    if (proto.has_raw_data() && proto.raw_data().size() != bytes) {
      return format_error(what + ": raw_data has " + std::to_string(proto.raw_data().size()) + " bytes, " +
                          std::string(dtype_name(dtype)) + "[" + dims_to_string(dims) + "] needs " +
                          std::to_string(bytes));
    }
    if (!proto.has_raw_data()) {
      int64_t stored = proto.float_data_size() + proto.double_data_size() + proto.int64_data_size() +
                       proto.uint64_data_size() + proto.int32_data_size();
      if (stored != n) {
        return format_error(what + ": holds " + std::to_string(stored) + " values for shape " + dims_to_string(dims));
      }
    }
  }
  if (dtype == DataType::kString) {
    if (proto.string_data_size() != n) {
      return format_error(what + ": " + std::to_string(proto.string_data_size()) + " strings for shape " + dims_to_string(dims));
    }
    return Tensor::strings(dims, {proto.string_data().begin(), proto.string_data().end()});
  }
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) return read_external(proto, base_dir, dtype, dims);
  Tensor out = Tensor::empty(dtype, dims);
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != out.byte_size()) {
      return format_error(what + ": raw_data has " + std::to_string(proto.raw_data().size()) + " bytes, " +
                          out.describe() + " needs " + std::to_string(out.byte_size()));
    }
    if (out.byte_size()) std::memcpy(out.raw_data(), proto.raw_data().data(), out.byte_size());
    return out;
  }
  auto check = [&](int count) -> Status {
    if (count != n) {
      return format_error(what + ": holds " + std::to_string(count) + " values for shape " + dims_to_string(dims));
    }
    return ok_status();
  };
  switch (dtype) {
    case DataType::kFloat32: KILN_RETURN_IF_ERROR(check(proto.float_data_size())); copy_field<float>(proto.float_data(), out); break;
    case DataType::kFloat64: KILN_RETURN_IF_ERROR(check(proto.double_data_size())); copy_field<double>(proto.double_data(), out); break;
    case DataType::kInt64: KILN_RETURN_IF_ERROR(check(proto.int64_data_size())); copy_field<int64_t>(proto.int64_data(), out); break;
    case DataType::kUint32: KILN_RETURN_IF_ERROR(check(proto.uint64_data_size())); copy_field<uint32_t>(proto.uint64_data(), out); break;
    case DataType::kUint64: KILN_RETURN_IF_ERROR(check(proto.uint64_data_size())); copy_field<uint64_t>(proto.uint64_data(), out); break;
    case DataType::kInt32: KILN_RETURN_IF_ERROR(check(proto.int32_data_size())); copy_field<int32_t>(proto.int32_data(), out); break;
    case DataType::kInt16: KILN_RETURN_IF_ERROR(check(proto.int32_data_size())); copy_field<int16_t>(proto.int32_data(), out); break;
    case DataType::kInt8: KILN_RETURN_IF_ERROR(check(proto.int32_data_size())); copy_field<int8_t>(proto.int32_data(), out); break;
    case DataType::kUint16: KILN_RETURN_IF_ERROR(check(proto.int32_data_size())); copy_field<uint16_t>(proto.int32_data(), out); break;
    case DataType::kUint8: KILN_RETURN_IF_ERROR(check(proto.int32_data_size())); copy_field<uint8_t>(proto.int32_data(), out); break;
    case DataType::kBool: KILN_RETURN_IF_ERROR(check(proto.int32_data_size())); copy_field<bool>(proto.int32_data(), out); break;
    case DataType::kFloat16:
    case DataType::kBFloat16: {
      KILN_RETURN_IF_ERROR(check(proto.int32_data_size()));
      uint16_t* d = static_cast<uint16_t*>(out.raw_data());
      for (int i = 0; i < proto.int32_data_size(); ++i) d[i] = static_cast<uint16_t>(proto.int32_data(i));
      break;
    }
    default: return unimplemented(what + " has type " + dtype_name(dtype) + ", which is not supported");
  }
  return out;
}

}  // namespace kiln
