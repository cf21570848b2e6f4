// Runs the ONNX backend test suite (model.onnx + test_data_set_*/{input,output}_*.pb)
// on one Kiln backend and checks the result against the backend's expectation file.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <cstring>

#include "core/dispatch.h"
#include "kiln/builder.h"
#include "kiln/onnx.h"
#include "runtime/backend.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

const char* kSuites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-5;
};

Tolerance tolerance_for(DataType t) {
  if (t == DataType::kFloat16) return {1e-3, 1e-3};
  if (t == DataType::kBFloat16) return {1e-2, 1e-2};
  return {};
}

// Compares one output; returns an empty string when equal within tolerance.
std::string compare(const Tensor& expected, const Tensor& actual, const std::string& name) {
  if (expected.dtype() != actual.dtype()) {
    return "output '" + name + "': type " + dtype_name(actual.dtype()) + ", expected " + dtype_name(expected.dtype());
  }
  if (expected.dims() != actual.dims()) {
    return "output '" + name + "': shape " + dims_to_string(actual.dims()) + ", expected " +
           dims_to_string(expected.dims());
  }
  const int64_t n = expected.element_count();
  if (expected.dtype() == DataType::kString) {
    for (int64_t i = 0; i < n; ++i) {
      if (expected.string_data()[i] != actual.string_data()[i]) {
        return "output '" + name + "'[" + std::to_string(i) + "] = '" + actual.string_data()[i] + "', expected '" +
               expected.string_data()[i] + "'";
      }
    }
    return "";
  }
  const bool exact = !dtype_is_float(expected.dtype());
  const Tolerance tol = tolerance_for(expected.dtype());
  std::string failure;
  dispatch_all_numeric(expected.dtype(), [&]<typename T>() {
    const T* e = expected.data<T>();
    const T* a = actual.data<T>();
    for (int64_t i = 0; i < n && failure.empty(); ++i) {
      double ev = to_double(e[i]);
      double av = to_double(a[i]);
      bool ok;
      if (exact) ok = ev == av;
      else if (std::isnan(ev)) ok = std::isnan(av);
      else if (std::isinf(ev)) ok = ev == av;
      else ok = std::fabs(ev - av) <= tol.atol + tol.rtol * std::fabs(ev);
      if (!ok) {
        std::ostringstream m;
        m.precision(8);
        m << "output '" << name << "'[" << i << "] = " << av << ", expected " << ev;
        failure = m.str();
      }
    }
  });
  return failure;
}

// The op named in an error ("node 'x' (Op)"), else the model's ops.
std::string failing_op(const std::string& message, const std::string& fallback) {
  static const std::regex node_re(R"(node '[^']*' \(([A-Za-z0-9_.]+)\))");
  std::smatch m;
  if (std::regex_search(message, m, node_re)) return m[1];
  return fallback;
}

struct TestResult {
  enum class Outcome { kPass, kFail, kSkip } outcome = Outcome::kPass;
  std::string reason;
  std::string op;
};

// Older ONNX test data stores bfloat16 tensors as uint16 bit patterns.
Tensor as_declared(Tensor t, DataType declared) {
  if (declared == DataType::kBFloat16 && t.dtype() == DataType::kUint16) {
    Tensor view = Tensor::empty(DataType::kBFloat16, t.dims());
    if (t.byte_size()) std::memcpy(view.raw_data(), t.raw_data(), t.byte_size());
    return view;
  }
  return t;
}

std::string model_ops(const Graph& g) {
  std::set<std::string> ops;
  for (const auto& n : g.nodes()) ops.insert(n->op_type);
  std::string out;
  for (const auto& o : ops) out += (out.empty() ? "" : "+") + o;
  return out.empty() ? "(no nodes)" : out;
}

// ONNX defines float32 ops in float32: unless `tf32` is set, CUDA contexts keep
// float32 convolutions and matmuls out of TF32 (and tactics are timed that way).
TestResult run_test(const fs::path& dir, BackendKind backend, bool optimize, bool tf32) {
  TestResult result;
  auto graph = import_onnx_file((dir / "model.onnx").string());
  if (!graph.ok()) {
    result.outcome = TestResult::Outcome::kFail;
    result.reason = graph.status().to_string();
    result.op = failing_op(result.reason, "import");
    return result;
  }
  std::vector<std::string> input_names;
  std::map<std::string, DataType> input_types;
  for (Value* v : (*graph)->inputs()) {
    input_names.push_back(v->name);
    input_types[v->name] = v->dtype;
  }
  std::vector<std::string> output_names;
  std::vector<DataType> output_types;
  for (Value* v : (*graph)->outputs()) {
    output_names.push_back(v->name);
    output_types.push_back(v->dtype);
  }
  std::string ops = model_ops(**graph);
  result.op = ops;
  BuildConfig config;
  config.backend = backend;
  config.optimize = optimize;
  config.allow_tf32 = tf32;
  auto engine = Builder::build(std::move(graph).value(), config);
  if (!engine.ok()) {
    result.outcome = TestResult::Outcome::kFail;
    result.reason = engine.status().to_string();
    result.op = failing_op(result.reason, ops);
    return result;
  }
  ExecutionOptions execution;
  execution.allow_tf32 = tf32;
  auto context = (*engine)->create_context(execution);
  if (!context.ok()) {
    result.outcome = TestResult::Outcome::kFail;
    result.reason = context.status().to_string();
    return result;
  }
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0) {
      sets.push_back(entry.path());
    }
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) {
    result.outcome = TestResult::Outcome::kSkip;
    result.reason = "no test data sets";
    return result;
  }
  for (const fs::path& set : sets) {
    TensorMap inputs;
    for (size_t i = 0;; ++i) {
      fs::path file = set / ("input_" + std::to_string(i) + ".pb");
      if (!fs::exists(file)) break;
      std::string name;
      auto t = load_onnx_tensor_file(file.string(), &name);
      if (!t.ok()) {
        result.outcome = TestResult::Outcome::kSkip;
        result.reason = "input data is not a plain tensor (sequence/optional): " + t.status().message();
        return result;
      }
      if (name.empty() && i < input_names.size()) name = input_names[i];
      if (i < input_names.size() && std::find(input_names.begin(), input_names.end(), name) == input_names.end()) {
        name = input_names[i];
      }
      inputs[name] = as_declared(std::move(t).value(), input_types[name]);
    }
    auto outputs = (*context)->execute(inputs);
    if (!outputs.ok()) {
      result.outcome = TestResult::Outcome::kFail;
      result.reason = outputs.status().to_string();
      result.op = failing_op(result.reason, ops);
      return result;
    }
    for (size_t i = 0; i < output_names.size(); ++i) {
      fs::path file = set / ("output_" + std::to_string(i) + ".pb");
      if (!fs::exists(file)) continue;
      auto expected = load_onnx_tensor_file(file.string());
      if (!expected.ok()) {
        result.outcome = TestResult::Outcome::kSkip;
        result.reason = "expected output is not a plain tensor (sequence/optional)";
        return result;
      }
      std::string diff = compare(as_declared(*expected, output_types[i]), (*outputs)[i], output_names[i]);
      if (!diff.empty()) {
        result.outcome = TestResult::Outcome::kFail;
        result.reason = "mismatch: " + diff + " (" + set.filename().string() + ")";
        return result;
      }
    }
  }
  return result;
}

// "suite/test: reason" per line; '#' starts a comment.
std::map<std::string, std::string> read_expectations(const std::string& path, bool* ok) {
  std::map<std::string, std::string> out;
  *ok = true;
  if (path.empty()) return out;
  std::ifstream in(path);
  if (!in) { *ok = false; return out; }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    std::string key = line.substr(0, colon);
    std::string reason = colon == std::string::npos ? "" : line.substr(colon + 1);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    while (!reason.empty() && reason.front() == ' ') reason.erase(reason.begin());
    out[key] = reason;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run the ONNX backend tests on a Kiln backend"};
  std::string backend_name = "cpu";
  std::string data_dir = "/usr/share/libonnx-testdata/data";
  std::string expectations_path;
  std::string write_expectations;
  std::string filter;
  bool verbose = false;
  bool no_optimize = false;
  bool tf32 = false;
  app.add_option("--backend", backend_name, "cpu or cuda");
  app.add_option("--data", data_dir, "directory holding node/, pytorch-converted/, pytorch-operator/, simple/");
  app.add_option("--expectations", expectations_path, "expected failures: 'suite/test: reason' per line");
  app.add_option("--write-expectations", write_expectations, "write the current failures as an expectation file");
  app.add_option("--filter", filter, "run only tests whose 'suite/name' contains this text");
  app.add_flag("-v,--verbose", verbose, "print every test's result");
  app.add_flag("--no-optimize", no_optimize, "build without the graph passes");
  app.add_flag("--tf32", tf32, "CUDA: let float32 convolutions and matmuls use TF32 (off: strict float32)");
  CLI11_PARSE(app, argc, argv);

  auto backend = parse_backend_kind(backend_name);
  if (!backend.ok()) {
    std::cerr << backend.status().to_string() << "\n";
    return 2;
  }
  if (auto available = get_backend(*backend); !available.ok()) {
    // GPU tests skip without a device and say why.
    std::cout << "conformance " << backend_name << ": 0 passed, 0 failed, 1072 skipped ("
              << available.status().message() << ")\n";
    return available.status().code() == StatusCode::kUnavailable ? 0 : 1;
  }
  bool expectations_ok = true;
  auto expected_failures = read_expectations(expectations_path, &expectations_ok);
  if (!expectations_ok) {
    std::cerr << "cannot read expectation file '" << expectations_path << "'\n";
    return 2;
  }
  if (!fs::is_directory(data_dir)) {
    std::cerr << "ONNX test data directory '" << data_dir << "' does not exist (install libonnx-testdata)\n";
    return 2;
  }

  int passed = 0, failed = 0, skipped = 0;
  std::vector<std::string> unexpected_failures, unexpected_passes;
  std::map<std::string, std::vector<std::string>> failures_by_op;
  std::vector<std::pair<std::string, std::string>> all_failures;
  const auto start = std::chrono::steady_clock::now();
  for (const char* suite : kSuites) {
    fs::path suite_dir = fs::path(data_dir) / suite;
    if (!fs::is_directory(suite_dir)) continue;
    std::vector<fs::path> tests;
    for (const auto& e : fs::directory_iterator(suite_dir)) {
      if (e.is_directory()) tests.push_back(e.path());
    }
    std::sort(tests.begin(), tests.end());
    for (const fs::path& dir : tests) {
      std::string key = std::string(suite) + "/" + dir.filename().string();
      if (!filter.empty() && key.find(filter) == std::string::npos) continue;
      TestResult r = run_test(dir, *backend, !no_optimize, tf32);
      const bool listed = expected_failures.count(key) != 0;
      switch (r.outcome) {
        case TestResult::Outcome::kPass:
          ++passed;
          if (listed) unexpected_passes.push_back(key);
          if (verbose) std::cout << "PASS " << key << "\n";
          break;
        case TestResult::Outcome::kFail:
          ++failed;
          failures_by_op[r.op].push_back(key);
          all_failures.emplace_back(key, r.reason);
          if (!listed) unexpected_failures.push_back(key + ": " + r.reason);
          if (verbose) std::cout << "FAIL " << key << ": " << r.reason << "\n";
          break;
        case TestResult::Outcome::kSkip:
          ++skipped;
          if (verbose) std::cout << "SKIP " << key << ": " << r.reason << "\n";
          break;
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!write_expectations.empty()) {
    std::ofstream out(write_expectations);
    out << "# Expected failures of kiln-conformance --backend " << backend_name << ".\n"
        << "# One line per test: suite/test: reason. An unexpected pass fails the run; remove the line.\n";
    for (const auto& [key, reason] : all_failures) {
      std::string one_line = reason;
      std::replace(one_line.begin(), one_line.end(), '\n', ' ');
      out << key << ": " << one_line << "\n";
    }
  }

  std::vector<std::pair<std::string, std::vector<std::string>>> groups(failures_by_op.begin(), failures_by_op.end());
  std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  if (!groups.empty()) {
    std::cout << "failures by op:\n";
    for (const auto& [op, tests] : groups) std::cout << "  " << tests.size() << "  " << op << "\n";
  }
  int status = 0;
  if (!expectations_path.empty()) {
    for (const auto& f : unexpected_failures) std::cout << "UNEXPECTED FAILURE " << f << "\n";
    for (const auto& p : unexpected_passes) {
      std::cout << "UNEXPECTED PASS " << p << " (remove it from " << expectations_path << ")\n";
    }
    if (!unexpected_failures.empty() || !unexpected_passes.empty()) status = 1;
  }
  std::cout << "time: " << seconds << " s\n";
  std::cout << "conformance " << backend_name << ": " << passed << " passed, " << failed << " failed, " << skipped
            << " skipped\n";
  return status;
}
