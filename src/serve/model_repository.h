// The model repository on disk: which model directories there are, which model
// file each holds, and its config.json (layout and keys: inference_server.h).
// Nothing here builds or loads an engine; InferenceServer does that with the
// ModelConfig read here.
#pragma once

#include <string>
#include <vector>

#include "kiln/engine.h"
#include "kiln/status.h"
#include "serve/inference_server.h"

namespace kiln::serve {

// ONNX models whose config.json gives no max_batch_size are built for batches
// up to this size (profiles for 1 and this). Plans keep the batch range they
// were built for.
constexpr int64_t kDefaultOnnxMaxBatchSize = 8;

// Names of the model directories of `repository` (sorted; hidden entries and
// plain files are skipped). With `only` non-empty, exactly those, each of which
// must exist. Errors name the repository and the missing model.
Expected<std::vector<std::string>> list_models(const std::string& repository, const std::vector<std::string>& only);

// Reads <repository>/<name>/: finds model.kiln or model.onnx and applies
// config.json when present. Errors name the directory or the file and the key.
Expected<ModelConfig> read_model_config(const std::string& repository, const std::string& name,
                                        BackendKind default_backend);

// Applies the text of a config.json to `config` (whose name, platform and
// model_file are already set). `file_name` names the file in errors. Unknown
// keys, wrong types and out-of-range values are errors naming the key.
Status parse_model_config(const std::string& json_text, const std::string& file_name, ModelConfig& config);

// The configuration a loaded model runs with, as served by the config endpoint:
// Triton's field names (max_batch_size, input/output with data_type and dims
// after the batch axis, dynamic_batching, instance_group) plus Kiln's own
// (backend, precision, batch_buckets, instances). `resolved` are the batcher's
// options with its defaults filled in.
std::string effective_config_json(const ModelConfig& config, const BatcherOptions& resolved, const Engine& engine);

}  // namespace kiln::serve
