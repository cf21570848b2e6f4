#include "backends/cuda/kernel_tactics.h"

#include <cstdio>
#include <mutex>
#include <set>

#include "build/tactic_record.h"

namespace kiln::cuda {
namespace {

// Says something about a node once per process (prepare runs once per shape
// set and context; a warning per call would repeat itself).
void warn_once(const std::string& key, const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> said;
  std::lock_guard<std::mutex> lock(mutex);
  if (!said.insert(key).second) return;
  std::fprintf(stderr, "kiln: warning: %s\n", message.c_str());
}

}  // namespace

std::optional<RequestedTactic> requested_tactic(const PrepareArgs& args, DataType dtype) {
  if (args.tactic) return RequestedTactic{*args.tactic, true};
  if (!args.node.has_attribute(kTacticsAttribute)) return std::nullopt;
  auto entries = stored_tactics(args.node);
  if (!entries.ok()) {
    warn_once(args.node.name + "\n" + entries.status().message(),
              entries.status().message() + "; its kernel chooses by heuristic");
    return std::nullopt;
  }
  std::vector<std::optional<Dims>> inputs;
  for (size_t i = 0; i < args.node.inputs.size(); ++i) {
    inputs.push_back(args.has_input(i) ? std::optional<Dims>(args.inputs[i].dims) : std::nullopt);
  }
  const StoredTactic* entry = find_stored_tactic(*entries, inputs, precision_mode(dtype, args.libraries.allow_tf32));
  if (!entry) return std::nullopt;
  return RequestedTactic{KernelTactic{entry->tactic, entry->label}, false};
}

Status reject_tactic(const Node& node, const RequestedTactic& requested, const std::string& why) {
  const std::string what = node.describe() + ": tactic '" + requested.tactic.id + "' (" + requested.tactic.label +
                           ") " + why;
  if (requested.forced) return unimplemented(what);
  warn_once(node.name + "\n" + requested.tactic.id, what + "; the heuristic chooses instead");
  return ok_status();
}

}  // namespace kiln::cuda
