// libFuzzer target for the ONNX importer: arbitrary bytes must give a graph or
// an error, never a crash. External data is resolved against an empty
// directory so a fuzzed model cannot make the importer read real files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kiln/onnx.h"

namespace {
const std::string& empty_directory() {
  static const std::string path = [] {
    char pattern[] = "/tmp/kiln_onnx_fuzz_XXXXXX";
    const char* made = ::mkdtemp(pattern);
    return std::string(made ? made : "/nonexistent");
  }();
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto graph = kiln::import_onnx_bytes(data, size, "fuzz.onnx", empty_directory());
  if (graph.ok()) {
    (void)(*graph)->topological_order();
    auto copy = (*graph)->clone();
    (void)copy;
  }
  return 0;
}
