// The JSON object behind bench_result_to_json, for reports that embed a run
// (the sweep report) instead of printing it alone.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "kiln/bench.h"

namespace kiln {

nlohmann::ordered_json bench_result_json(const BenchResult& result, const std::string& model,
                                         const std::string& backend);

}  // namespace kiln
