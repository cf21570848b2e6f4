#include "build/tactic_record.h"

#include <charconv>
#include <cstdio>
#include <limits>

namespace kiln {
namespace {

std::string encode_dims_list(const std::vector<std::optional<Dims>>& list) {
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) out += '/';
    out += list[i] ? dims_to_string(*list[i]) : "-";
  }
  return out;
}

Expected<std::vector<std::optional<Dims>>> decode_dims_list(const std::string& text) {
  std::vector<std::optional<Dims>> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t end = text.find('/', start);
    std::string item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (item == "-") {
      out.push_back(std::nullopt);
    } else {
      KILN_ASSIGN_OR_RETURN(Dims dims, parse_dims(item));
      out.push_back(std::move(dims));
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// Keeps the entry parseable: ';' separates fields and the list lives in one line.
std::string clean_field(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == ';' || c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

bool within(const Dims& dims, const Dims& lo, const Dims& hi) {
  if (dims.size() != lo.size() || dims.size() != hi.size()) return false;
  for (size_t a = 0; a < dims.size(); ++a) {
    if (dims[a] < lo[a] || dims[a] > hi[a]) return false;
  }
  return true;
}

}  // namespace

std::string encode_stored_tactic(const StoredTactic& entry) {
  char ms[32];
  std::snprintf(ms, sizeof(ms), "%.6g", entry.time_ms);
  // label last: it is the only field that may hold spaces.
  return "profile=" + std::to_string(entry.profile) + ";mode=" + clean_field(entry.mode) + ";ms=" + ms +
         ";min=" + encode_dims_list(entry.min_inputs) + ";max=" + encode_dims_list(entry.max_inputs) +
         ";tactic=" + clean_field(entry.tactic) + ";label=" + clean_field(entry.label);
}

Expected<StoredTactic> decode_stored_tactic(const std::string& text) {
  StoredTactic entry;
  bool seen[7] = {};
  static const char* kFields[] = {"profile", "mode", "ms", "min", "max", "tactic", "label"};
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    std::string field = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    size_t eq = field.find('=');
    if (eq == std::string::npos) return invalid_argument("tactic entry '" + text + "': field '" + field + "' has no '='");
    std::string key = field.substr(0, eq), value = field.substr(eq + 1);
    int index = -1;
    for (int i = 0; i < 7; ++i) {
      if (key == kFields[i]) index = i;
    }
    if (index < 0) return invalid_argument("tactic entry '" + text + "': unknown field '" + key + "'");
    seen[index] = true;
    switch (index) {
      case 0: {
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), entry.profile);
        if (ec != std::errc() || ptr != value.data() + value.size()) {
          return invalid_argument("tactic entry '" + text + "': profile '" + value + "' is not an index");
        }
        break;
      }
      case 1: entry.mode = value; break;
      case 2: {
        char* parse_end = nullptr;
        entry.time_ms = std::strtod(value.c_str(), &parse_end);
        if (value.empty() || *parse_end != '\0') {
          return invalid_argument("tactic entry '" + text + "': time '" + value + "' is not a number");
        }
        break;
      }
      case 3: {
        auto dims = decode_dims_list(value);
        if (!dims.ok()) return dims.status().with_context("tactic entry '" + text + "'");
        entry.min_inputs = std::move(dims).value();
        break;
      }
      case 4: {
        auto dims = decode_dims_list(value);
        if (!dims.ok()) return dims.status().with_context("tactic entry '" + text + "'");
        entry.max_inputs = std::move(dims).value();
        break;
      }
      case 5: entry.tactic = value; break;
      case 6: entry.label = value; break;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  for (int i = 0; i < 6; ++i) {  // the label may be left out
    if (!seen[i]) return invalid_argument("tactic entry '" + text + "' has no '" + kFields[i] + "'");
  }
  if (entry.min_inputs.size() != entry.max_inputs.size()) {
    return invalid_argument("tactic entry '" + text + "': min and max list different numbers of inputs");
  }
  for (size_t i = 0; i < entry.min_inputs.size(); ++i) {
    if (entry.min_inputs[i].has_value() != entry.max_inputs[i].has_value()) {
      return invalid_argument("tactic entry '" + text + "': input " + std::to_string(i) +
                              " is omitted in only one of min and max");
    }
  }
  return entry;
}

Expected<std::vector<StoredTactic>> stored_tactics(const Node& node) {
  std::vector<StoredTactic> out;
  const Attribute* attribute = node.attr(kTacticsAttribute);
  if (!attribute) return out;
  if (attribute->kind != Attribute::Kind::kStrings) {
    return invalid_argument(node.describe() + ": attribute '" + kTacticsAttribute + "' is " +
                            attribute_kind_name(attribute->kind) + ", expected strings");
  }
  for (const std::string& text : attribute->strings) {
    auto entry = decode_stored_tactic(text);
    if (!entry.ok()) return entry.status().with_context(node.describe());
    out.push_back(std::move(entry).value());
  }
  return out;
}

void set_stored_tactics(Node& node, const std::vector<StoredTactic>& entries) {
  if (entries.empty()) {
    node.attributes.erase(kTacticsAttribute);
    return;
  }
  std::vector<std::string> strings;
  for (const StoredTactic& entry : entries) strings.push_back(encode_stored_tactic(entry));
  node.attributes[kTacticsAttribute] = Attribute::of_strings(std::move(strings));
}

const StoredTactic* find_stored_tactic(const std::vector<StoredTactic>& entries,
                                       const std::vector<std::optional<Dims>>& inputs, const std::string& mode) {
  const StoredTactic* best = nullptr;
  int64_t best_volume = std::numeric_limits<int64_t>::max();
  for (const StoredTactic& entry : entries) {
    if (entry.mode != mode || entry.min_inputs.size() != inputs.size()) continue;
    bool covers = true;
    int64_t volume = 0;
    for (size_t i = 0; i < inputs.size() && covers; ++i) {
      if (inputs[i].has_value() != entry.min_inputs[i].has_value()) covers = false;
      else if (inputs[i]) {
        covers = within(*inputs[i], *entry.min_inputs[i], *entry.max_inputs[i]);
        volume += element_count(*entry.max_inputs[i]);
      }
    }
    if (covers && volume < best_volume) {
      best = &entry;
      best_volume = volume;
    }
  }
  return best;
}

std::string precision_mode(DataType dtype, bool allow_tf32) {
  switch (dtype) {
    case DataType::kFloat32: return allow_tf32 ? "tf32" : "fp32";
    case DataType::kFloat16: return "fp16";
    case DataType::kBFloat16: return "bf16";
    default: return dtype_name(dtype);
  }
}

}  // namespace kiln
