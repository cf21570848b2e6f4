#include "serve/model_repository.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace kiln::serve {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kPlanFile = "model.kiln";
constexpr const char* kOnnxFile = "model.onnx";
constexpr const char* kConfigFile = "config.json";

// Reads the keys of one JSON object, each with its type and range, and names
// the file and the full key ("dynamic_batching.max_queue_size") in every error.
class ConfigReader {
 public:
  ConfigReader(const std::string& file_name, std::string prefix) : file_(file_name), prefix_(std::move(prefix)) {}

  Status error(const std::string& key, const std::string& message) const {
    return invalid_argument(file_ + ": '" + prefix_ + key + "' " + message);
  }

  Status check_keys(const json& object, const std::set<std::string>& known) const {
    for (const auto& [key, value] : object.items()) {
      if (known.count(key) == 0) {
        std::string list;
        for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
        return invalid_argument(file_ + ": unknown key '" + prefix_ + key + "' (known: " + list + ")");
      }
    }
    return ok_status();
  }

  Expected<int64_t> integer(const json& value, const std::string& key, int64_t min,
                            int64_t max = std::numeric_limits<int64_t>::max()) const {
    // Non-negative integers are stored unsigned and may exceed int64.
    bool in_range = value.is_number_integer() &&
                    (value.is_number_unsigned() ? value.get<uint64_t>() <= static_cast<uint64_t>(max) &&
                                                      (min <= 0 || value.get<uint64_t>() >= static_cast<uint64_t>(min))
                                                : value.get<int64_t>() >= min && value.get<int64_t>() <= max);
    if (!in_range) {
      std::string range = max == std::numeric_limits<int64_t>::max()
                              ? ">= " + std::to_string(min)
                              : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
      return error(key, "must be an integer " + range + ", got " + value.dump());
    }
    return value.get<int64_t>();
  }

  // A non-empty, strictly ascending list of positive integers.
  Expected<std::vector<int64_t>> batch_sizes(const json& value, const std::string& key) const {
    if (!value.is_array() || value.empty())
      return error(key, "must be a non-empty array of integers, got " + value.dump());
    std::vector<int64_t> sizes;
    for (const json& element : value) {
      KILN_ASSIGN_OR_RETURN(int64_t size, integer(element, key, 1));
      if (!sizes.empty() && size <= sizes.back()) {
        return error(key, "must be strictly ascending, got " + value.dump());
      }
      sizes.push_back(size);
    }
    return sizes;
  }

  Expected<std::string> string(const json& value, const std::string& key) const {
    if (!value.is_string()) return error(key, "must be a string, got " + value.dump());
    return value.get<std::string>();
  }

  Expected<bool> boolean(const json& value, const std::string& key) const {
    if (!value.is_boolean()) return error(key, "must be true or false, got " + value.dump());
    return value.get<bool>();
  }

 private:
  const std::string& file_;
  std::string prefix_;
};

Expected<DataType> parse_precision(const std::string& text) {
  if (text == "fp32") return DataType::kFloat32;
  if (text == "fp16") return DataType::kFloat16;
  if (text == "bf16") return DataType::kBFloat16;
  return invalid_argument("must be fp32, fp16 or bf16, got '" + text + "'");
}

const char* precision_name(DataType precision) {
  switch (precision) {
    case DataType::kFloat16:
      return "fp16";
    case DataType::kBFloat16:
      return "bf16";
    default:
      return "fp32";
  }
}

Status parse_dynamic_batching(const json& object, const std::string& file_name, BatcherOptions& options) {
  ConfigReader reader(file_name, "dynamic_batching.");
  if (!object.is_object()) return reader.error("", "must be an object, got " + object.dump());
  KILN_RETURN_IF_ERROR(reader.check_keys(
      object, {"preferred_batch_size", "max_queue_delay_microseconds", "priority_levels", "default_priority_level",
               "max_queue_size", "default_timeout_microseconds", "preserve_ordering", "join_ahead"}));
  for (const auto& [key, value] : object.items()) {
    if (key == "preferred_batch_size") {
      KILN_ASSIGN_OR_RETURN(options.preferred_batch_sizes, reader.batch_sizes(value, key));
    } else if (key == "max_queue_delay_microseconds") {
      KILN_ASSIGN_OR_RETURN(options.max_queue_delay_us, reader.integer(value, key, 0));
    } else if (key == "priority_levels") {
      KILN_ASSIGN_OR_RETURN(int64_t levels, reader.integer(value, key, 1, 1 << 16));
      options.priority_levels = static_cast<int>(levels);
    } else if (key == "max_queue_size") {
      KILN_ASSIGN_OR_RETURN(int64_t size, reader.integer(value, key, 1));
      options.max_queue_size = static_cast<size_t>(size);
    } else if (key == "default_timeout_microseconds") {
      KILN_ASSIGN_OR_RETURN(options.default_timeout_us, reader.integer(value, key, 0));
    } else if (key == "preserve_ordering") {
      KILN_ASSIGN_OR_RETURN(options.preserve_ordering, reader.boolean(value, key));
    } else if (key == "join_ahead") {
      KILN_ASSIGN_OR_RETURN(bool join_ahead, reader.boolean(value, key));
      options.join_ahead = join_ahead;
    }
  }
  // The default level is checked against the level count whatever the key order.
  if (object.contains("default_priority_level")) {
    KILN_ASSIGN_OR_RETURN(int64_t level, reader.integer(object["default_priority_level"], "default_priority_level", 1,
                                                        options.priority_levels));
    options.default_priority = static_cast<int>(level);
  } else {
    options.default_priority = std::min(options.default_priority, options.priority_levels);
  }
  return ok_status();
}

// Dims of a declared shape after the batch axis, -1 where not known.
json dims_after_batch(const Shape& shape) {
  json dims = json::array();
  if (!shape.is_ranked()) return dims;
  Dims known = shape.known_dims();
  for (size_t axis = 1; axis < known.size(); ++axis) dims.push_back(known[axis]);
  return dims;
}

json describe_io(const std::vector<IoDesc>& descs) {
  json list = json::array();
  for (const IoDesc& desc : descs) {
    std::string type = desc.dtype == DataType::kString ? "STRING" : kserve_datatype(desc.dtype);
    list.push_back({{"name", desc.name}, {"data_type", "TYPE_" + type}, {"dims", dims_after_batch(desc.shape)}});
  }
  return list;
}

}  // namespace

Expected<std::vector<std::string>> list_models(const std::string& repository, const std::vector<std::string>& only) {
  std::error_code ec;
  if (!fs::is_directory(repository, ec)) {
    return not_found("model repository '" + repository + "' is not a directory");
  }
  if (!only.empty()) {
    std::vector<std::string> names;
    for (const std::string& name : only) {
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        return invalid_argument("model name '" + name + "' is not a directory name");
      }
      if (!fs::is_directory(fs::path(repository) / name, ec)) {
        return not_found("model '" + name + "' has no directory in repository '" + repository + "'");
      }
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    return names;
  }
  std::vector<std::string> names;
  fs::directory_iterator it(repository, ec);
  if (ec) return io_error("cannot list model repository '" + repository + "': " + ec.message());
  for (const fs::directory_entry& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_directory(ec)) continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Expected<ModelConfig> read_model_config(const std::string& repository, const std::string& name,
                                        BackendKind default_backend) {
  fs::path directory = fs::absolute(fs::path(repository) / name);
  std::error_code ec;
  bool has_plan = fs::is_regular_file(directory / kPlanFile, ec);
  bool has_onnx = fs::is_regular_file(directory / kOnnxFile, ec);
  if (has_plan && has_onnx) {
    return invalid_argument("model directory '" + directory.string() + "' holds both " + kPlanFile + " and " +
                            kOnnxFile + "; keep one");
  }
  if (!has_plan && !has_onnx) {
    return not_found("model directory '" + directory.string() + "' holds neither " + kPlanFile + " nor " + kOnnxFile);
  }
  ModelConfig config;
  config.name = name;
  config.platform = has_plan ? "kiln_plan" : "onnx";
  config.model_file = (directory / (has_plan ? kPlanFile : kOnnxFile)).string();
  config.backend = default_backend;

  fs::path config_path = directory / kConfigFile;
  std::string text = "{}";
  if (fs::exists(config_path, ec)) {
    std::ifstream file(config_path, std::ios::binary);
    if (!file) return io_error("cannot read '" + config_path.string() + "'");
    std::ostringstream contents;
    contents << file.rdbuf();
    text = contents.str();
  }
  KILN_RETURN_IF_ERROR(parse_model_config(text, config_path.string(), config));
  return config;
}

Status parse_model_config(const std::string& json_text, const std::string& file_name, ModelConfig& config) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    return format_error(file_name + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) return format_error(file_name + ": expected a JSON object, got " + root.dump());
  ConfigReader reader(file_name, "");
  KILN_RETURN_IF_ERROR(reader.check_keys(
      root, {"name", "max_batch_size", "instances", "backend", "precision", "batch_buckets", "dynamic_batching"}));
  const bool onnx = config.platform == "onnx";
  BatcherOptions& batching = config.batching;
  for (const auto& [key, value] : root.items()) {
    if (key == "name") {
      KILN_ASSIGN_OR_RETURN(std::string name, reader.string(value, key));
      if (name != config.name) return reader.error(key, "is '" + name + "' but the directory is '" + config.name + "'");
    } else if (key == "max_batch_size") {
      // Kiln batches every model on axis 0, so Triton's 0 ("no batching") has no meaning here.
      KILN_ASSIGN_OR_RETURN(batching.max_batch_size, reader.integer(value, key, 1));
    } else if (key == "instances") {
      KILN_ASSIGN_OR_RETURN(int64_t instances, reader.integer(value, key, 1, 1024));
      batching.instances = static_cast<int>(instances);
    } else if (key == "backend") {
      KILN_ASSIGN_OR_RETURN(std::string text, reader.string(value, key));
      auto backend = parse_backend_kind(text);
      if (!backend.ok()) return reader.error(key, backend.status().message());
      config.backend = *backend;
    } else if (key == "precision") {
      if (!onnx) return reader.error(key, "applies to ONNX models only (a plan keeps the precision it was built with)");
      KILN_ASSIGN_OR_RETURN(std::string text, reader.string(value, key));
      auto precision = parse_precision(text);
      if (!precision.ok()) return reader.error(key, precision.status().message());
      config.precision = *precision;
    } else if (key == "batch_buckets") {
      if (!onnx) return reader.error(key, "applies to ONNX models only (a plan keeps the profiles it was built with)");
      KILN_ASSIGN_OR_RETURN(config.batch_buckets, reader.batch_sizes(value, key));
    } else if (key == "dynamic_batching") {
      KILN_RETURN_IF_ERROR(parse_dynamic_batching(value, file_name, batching));
    }
  }

  if (onnx) {
    // An ONNX model is built here, so its batch range comes from the config.
    if (batching.max_batch_size == 0) {
      batching.max_batch_size = config.batch_buckets.empty() ? kDefaultOnnxMaxBatchSize : config.batch_buckets.back();
    }
    if (config.batch_buckets.empty()) {
      config.batch_buckets = {1};
      if (batching.max_batch_size > 1) config.batch_buckets.push_back(batching.max_batch_size);
    }
    if (config.batch_buckets.back() < batching.max_batch_size) {
      return reader.error("max_batch_size", "is " + std::to_string(batching.max_batch_size) +
                                                " but the largest of batch_buckets is " +
                                                std::to_string(config.batch_buckets.back()));
    }
  }
  if (batching.max_batch_size > 0) {
    for (int64_t size : batching.preferred_batch_sizes) {
      if (size > batching.max_batch_size) {
        return invalid_argument(file_name + ": 'dynamic_batching.preferred_batch_size' " + std::to_string(size) +
                                " exceeds max_batch_size " + std::to_string(batching.max_batch_size));
      }
    }
  }
  return ok_status();
}

std::string effective_config_json(const ModelConfig& config, const BatcherOptions& resolved, const Engine& engine) {
  const bool cuda = config.backend == BackendKind::kCuda;
  json preferred = json::array();
  for (int64_t size : resolved.preferred_batch_sizes) preferred.push_back(size);
  json out = {
      {"name", config.name},
      {"platform", config.platform},
      {"backend", backend_kind_name(config.backend)},
      {"max_batch_size", resolved.max_batch_size},
      {"instances", resolved.instances},
      {"input", describe_io(engine.inputs())},
      {"output", describe_io(engine.outputs())},
      {"dynamic_batching",
       {{"preferred_batch_size", preferred},
        {"max_queue_delay_microseconds", resolved.max_queue_delay_us},
        {"priority_levels", resolved.priority_levels},
        {"default_priority_level", resolved.default_priority},
        {"max_queue_size", resolved.max_queue_size},
        {"default_timeout_microseconds", resolved.default_timeout_us},
        {"preserve_ordering", resolved.preserve_ordering},
        {"join_ahead", resolved.join_ahead.value_or(false)}}},
      {"instance_group", json::array({{{"count", resolved.instances}, {"kind", cuda ? "KIND_GPU" : "KIND_CPU"}}})},
  };
  if (config.platform == "onnx") {
    out["precision"] = precision_name(config.precision);
    out["batch_buckets"] = config.batch_buckets;
  }
  return out.dump(2);
}

}  // namespace kiln::serve
