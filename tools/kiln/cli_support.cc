#include "cli_support.h"

#include <cstdio>
#include <iostream>
#include <sstream>

#include "core/dispatch.h"
#include "kiln/builder.h"
#include "kiln/onnx.h"

namespace kiln::cli {

int report_error(const std::string& command, const Status& status) {
  std::cerr << "kiln " << command << ": error: " << status.to_string() << "\n";
  return kExitFailure;
}

Expected<std::shared_ptr<Engine>> load_engine(const std::string& path, const std::string& backend) {
  KILN_ASSIGN_OR_RETURN(BackendKind kind, parse_backend_kind(backend));
  KILN_ASSIGN_OR_RETURN(auto graph, import_onnx_file(path));
  BuildConfig config;
  config.backend = kind;
  auto engine = Builder::build(std::move(graph), config);
  if (!engine.ok()) return engine.status().with_context("cannot build '" + path + "' for the " + backend + " backend");
  return engine;
}

std::string describe_tensor(const std::string& name, const Tensor& tensor, int64_t max_values) {
  std::ostringstream out;
  out << name << ": " << dtype_name(tensor.dtype()) << "[" << dims_to_string(tensor.dims()) << "]";
  int64_t count = tensor.element_count();
  int64_t shown = std::min(count, max_values);
  out << " = [";
  if (tensor.dtype() == DataType::kString) {
    for (int64_t i = 0; i < shown; ++i) out << (i ? ", " : "") << '"' << tensor.string_data()[i] << '"';
  } else {
    dispatch_all_numeric(tensor.dtype(), [&]<typename T>() {
      for (int64_t i = 0; i < shown; ++i) {
        out << (i ? ", " : "");
        if constexpr (std::is_same_v<T, bool>) {
          out << (tensor.data<T>()[i] ? "true" : "false");
        } else if constexpr (std::is_unsigned_v<T>) {
          out << static_cast<unsigned long long>(tensor.data<T>()[i]);
        } else if constexpr (std::is_integral_v<T>) {
          out << static_cast<long long>(tensor.data<T>()[i]);
        } else {
          char buffer[32];
          std::snprintf(buffer, sizeof(buffer), "%.6g", to_double(tensor.data<T>()[i]));
          out << buffer;
        }
      }
    });
  }
  if (shown < count) out << ", ... (" << count << " values)";
  out << "]";
  return out.str();
}

std::string file_name_for(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                c == '-';
    out += keep ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "output" + out;
  return out;
}

}  // namespace kiln::cli
