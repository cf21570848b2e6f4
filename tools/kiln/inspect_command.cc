// kiln inspect: what a model declares and contains, without building it
// (so it works for models with ops Kiln does not run yet).
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "build/tactic_record.h"
#include "cli_support.h"
#include "commands.h"
#include "kiln/graph.h"
#include "kiln/builder.h"
#include "kiln/onnx.h"

namespace kiln::cli {
namespace {

struct InspectOptions {
  std::string model;
};

std::string type_string(const Value& value) {
  std::string dtype = value.dtype == DataType::kUndefined ? "?" : dtype_name(value.dtype);
  return dtype + "[" + value.shape.to_string() + "]";
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 3) {
    bytes /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), unit == 0 ? "%.0f %s" : "%.2f %s", bytes, units[unit]);
  return buffer;
}

// The tactic the builder chose for each node and profile (CUDA plans).
void print_tactics(const Graph& g) {
  bool header = false;
  auto print_header = [&header] {
    if (!header) std::cout << "\nTactics (timed at each profile's opt shapes):\n";
    header = true;
  };
  for (const auto& node : g.nodes()) {
    auto entries = stored_tactics(*node);
    if (!entries.ok()) {
      print_header();
      std::cout << "  " << entries.status().message() << "\n";
      continue;
    }
    for (const StoredTactic& entry : *entries) {
      print_header();
      char time[32];
      std::snprintf(time, sizeof(time), "%.4f ms", entry.time_ms);
      std::cout << "  " << node->name << " (" << (node->domain.empty() ? "" : node->domain + ".") << node->op_type
                << "), profile " << entry.profile << ", " << entry.mode << ": "
                << (entry.label.empty() ? entry.tactic : entry.label) << ", " << time << "\n";
    }
  }
}

int inspect_model(const InspectOptions& options) {
  // A plan is shown as built (optimised graph, profiles, activation memory);
  // an ONNX model as imported, without building it.
  std::shared_ptr<Engine> engine;
  std::unique_ptr<Graph> imported;
  if (!looks_like_onnx(options.model)) {
    auto loaded = load_engine(options.model);
    if (!loaded.ok()) return report_error("inspect", loaded.status());
    engine = *loaded;
  } else {
    auto graph = import_onnx_file(options.model);
    if (!graph.ok()) return report_error("inspect", graph.status());
    imported = std::move(graph).value();
  }
  const Graph& g = engine ? engine->graph() : *imported;
  std::cout << (engine ? "Plan: " : "Model: ") << options.model << "\n";
  if (engine) std::cout << "Backend: " << backend_kind_name(engine->backend_kind()) << "\n";
  if (!g.name.empty()) std::cout << "Graph: " << g.name << "\n";
  std::cout << "Opsets:";
  for (const auto& [domain, version] : g.opsets)
    std::cout << " " << (domain.empty() ? "ai.onnx" : domain) << "=" << version;
  std::cout << "\n\nInputs (" << g.inputs().size() << "):\n";
  for (const Value* v : g.inputs()) std::cout << "  " << v->name << ": " << type_string(*v) << "\n";
  std::cout << "Outputs (" << g.outputs().size() << "):\n";
  for (const Value* v : g.outputs()) std::cout << "  " << v->name << ": " << type_string(*v) << "\n";

  std::map<std::string, int64_t> histogram;
  for (const auto& node : g.nodes()) {
    histogram[node->domain.empty() ? node->op_type : node->domain + "." + node->op_type]++;
  }
  std::cout << "\nNodes: " << g.nodes().size() << "\n";
  for (const auto& [op, count] : histogram) std::cout << "  " << op << ": " << count << "\n";
  if (engine) std::cout << "Layer precisions: " << describe_layer_precisions(g) << "\n";

  // Parameters are every constant value: initializers and folded Constant nodes.
  int64_t parameters = 0;
  int64_t bytes = 0;
  auto constants = g.constant_values();
  for (const Value* v : constants) {
    parameters += v->constant->element_count();
    if (v->constant->dtype() != DataType::kString) bytes += static_cast<int64_t>(v->constant->byte_size());
  }
  std::cout << "\nParameters: " << parameters << " in " << constants.size() << " constant tensors, " << bytes
            << " bytes (" << human_bytes(static_cast<double>(bytes)) << ")\n";
  if (engine) {
    for (size_t i = 0; i < engine->profiles().size(); ++i) {
      std::cout << "Profile " << i << ": " << profile_to_string(engine->profiles()[i]) << "\n";
    }
    for (size_t i = 0; i < engine->profile_memory().size(); ++i) {
      const ProfileMemory& m = engine->profile_memory()[i];
      std::cout << "Activation memory" << (engine->profiles().empty() ? "" : " (profile " + std::to_string(i) + ", max shapes)")
                << ": arena " << m.arena_bytes << " bytes (" << human_bytes(static_cast<double>(m.arena_bytes))
                << "), sum of activations " << m.total_bytes << " bytes ("
                << human_bytes(static_cast<double>(m.total_bytes)) << ")";
      if (m.total_bytes) {
        std::cout << ", " << static_cast<int>(100.0 * (1.0 - static_cast<double>(m.arena_bytes) / m.total_bytes))
                  << "% saved";
      }
      std::cout << "\n";
    }
  }
  print_tactics(g);
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, CommandAction& action) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand("inspect", "Show a model's inputs, outputs, ops, parameters and opsets");
  sub->add_option("model", options->model, "ONNX model or plan file")->required();
  sub->callback([&action, options] { action = [options] { return inspect_model(*options); }; });
}

}  // namespace kiln::cli
