// libFuzzer target for the plan loader.
//
// Each input is loaded twice: as given (exercises magic, version, size and
// checksum checks) and with its checksum recomputed, so that mutations reach
// the section readers instead of being stopped by the checksum. A plan that
// loads must re-save, re-load and then re-save to identical bytes, and every
// weight byte is read so AddressSanitizer sees any view outside the buffer.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kiln/plan.h"

namespace {

constexpr size_t kChecksumOffset = 16;
constexpr size_t kChecksummedFrom = 24;

uint64_t touch_tensor(const kiln::Tensor& tensor) {
  if (!tensor.defined()) return 0;
  uint64_t sum = 0;
  if (tensor.dtype() == kiln::DataType::kString) {
    for (const std::string& s : tensor.string_data()) sum += s.size();
    return sum;
  }
  const auto* bytes = static_cast<const uint8_t*>(tensor.raw_data());
  for (size_t i = 0; i < tensor.byte_size(); ++i) sum += bytes[i];
  return sum;
}

void exercise(const uint8_t* data, size_t size) {
  auto loaded = kiln::load_plan_from_memory(data, size, std::nullopt, "fuzz.kiln");
  if (!loaded.ok()) return;
  uint64_t sum = 0;
  for (const kiln::Value* v : loaded->graph->constant_values()) sum += touch_tensor(*v->constant);
  for (const auto& node : loaded->graph->nodes()) {
    for (const auto& [name, attribute] : node->attributes) sum += touch_tensor(attribute.t);
  }
  (void)loaded->graph->topological_order();
  auto again = kiln::serialize_plan(*loaded->graph, loaded->metadata);
  if (!again.ok()) __builtin_trap();
  auto reloaded = kiln::load_plan_from_memory(again->data(), again->size(), std::nullopt, "fuzz-resaved.kiln");
  if (!reloaded.ok()) __builtin_trap();
  if (reloaded->graph->nodes().size() != loaded->graph->nodes().size()) __builtin_trap();
  // Saving is deterministic: once normalised by a save, a plan re-saves to the same bytes.
  auto third = kiln::serialize_plan(*reloaded->graph, reloaded->metadata);
  if (!third.ok() || *third != *again) __builtin_trap();
  static volatile uint64_t sink;
  sink = sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  exercise(data, size);
  if (size >= kChecksummedFrom) {
    std::vector<uint8_t> sealed(data, data + size);
    const uint64_t checksum = kiln::plan_checksum(sealed.data() + kChecksummedFrom, size - kChecksummedFrom);
    for (int i = 0; i < 8; ++i) sealed[kChecksumOffset + i] = static_cast<uint8_t>(checksum >> (8 * i));
    exercise(sealed.data(), sealed.size());
  }
  return 0;
}
