#include "kiln/profile.h"

#include <algorithm>
#include <limits>
#include <set>

namespace kiln {

namespace {

std::string trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\n\r");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\n\r");
  return text.substr(begin, end - begin + 1);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : text) {
    if (c == separator) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

// "1x3x224x224" -> {1,3,224,224}. Only 'x' separates here because ',' separates
// min/opt/max in profile specs (parse_dims accepts both, so it cannot be used).
Expected<Dims> parse_extents(const std::string& raw, const std::string& where) {
  std::string text = trim(raw);
  Dims dims;
  if (text.empty() || text == "scalar") return dims;
  for (const std::string& token : split(text, text.find('X') != std::string::npos ? 'X' : 'x')) {
    if (token.empty()) return invalid_argument(where + ": malformed shape '" + text + "' (empty extent)");
    // 18 digits always fit in int64_t; longer is not a real extent.
    if (token.size() > 18) return invalid_argument(where + ": extent '" + token + "' in '" + text + "' is too large");
    int64_t value = 0;
    for (char c : token) {
      if (c < '0' || c > '9') {
        return invalid_argument(where + ": malformed shape '" + text + "' ('" + token +
                                "' is not a non-negative integer)");
      }
      value = value * 10 + (c - '0');
    }
    dims.push_back(value);
  }
  return dims;
}

// Splits "name:shape" at the last ':' so that names like "input:0" survive.
Status split_named(const std::string& entry, const std::string& where, std::string* name, std::string* rest) {
  size_t colon = entry.rfind(':');
  if (colon == std::string::npos) {
    return invalid_argument(where + ": '" + entry + "' is not of the form name:shape");
  }
  *name = trim(entry.substr(0, colon));
  *rest = entry.substr(colon + 1);
  if (name->empty()) return invalid_argument(where + ": '" + entry + "' has no input name before ':'");
  return ok_status();
}

std::string range_text(const ProfileRange& range) {
  return "min " + dims_to_string(range.min) + ", opt " + dims_to_string(range.opt) + ", max " +
         dims_to_string(range.max);
}

// Sum of max element counts, in double so that absurd profiles cannot overflow.
double max_volume(const OptimizationProfile& profile) {
  double volume = 0;
  for (const auto& [name, range] : profile.inputs) {
    double count = 1;
    for (int64_t extent : range.max) count *= static_cast<double>(extent);
    volume += count;
  }
  return volume;
}

// Why `profile` does not cover `shapes`; empty when it does.
std::string coverage_failure(const OptimizationProfile& profile, const InputShapes& shapes) {
  for (const auto& [name, range] : profile.inputs) {
    auto it = shapes.find(name);
    if (it == shapes.end()) return "needs input '" + name + "', which the request lacks";
    const Dims& dims = it->second;
    std::string bounds = "[" + dims_to_string(range.min) + ", " + dims_to_string(range.max) + "]";
    if (dims.size() != range.min.size() || dims.size() != range.max.size()) {
      return "input '" + name + "' has shape " + dims_to_string(dims) + ", outside " + bounds + " (rank differs)";
    }
    for (size_t axis = 0; axis < dims.size(); ++axis) {
      if (dims[axis] < range.min[axis] || dims[axis] > range.max[axis]) {
        return "input '" + name + "' has shape " + dims_to_string(dims) + ", outside " + bounds + " on axis " +
               std::to_string(axis);
      }
    }
  }
  return "";
}

Status check_same_rank(const std::string& name, const ProfileRange& range) {
  if (range.opt.size() == range.min.size() && range.max.size() == range.min.size()) return ok_status();
  return invalid_argument("profile for input '" + name + "': min, opt and max must have the same rank (" +
                          range_text(range) + ")");
}

struct SymbolUse {
  std::string input;
  size_t axis;
  ProfileRange extents;  // one-element dims: the symbol's min/opt/max
};

Status check_range_against_declaration(const std::string& name, const ProfileRange& range, const IoDesc& desc,
                                       std::map<std::string, SymbolUse>* symbols) {
  const std::string where = "profile for input '" + name + "'";
  KILN_RETURN_IF_ERROR(check_same_rank(name, range));
  if (desc.shape.is_ranked() && desc.shape.rank() != range.min.size()) {
    return invalid_argument(where + ": shapes have rank " + std::to_string(range.min.size()) + " (" +
                            range_text(range) + ") but the model declares rank " + std::to_string(desc.shape.rank()) +
                            " (" + desc.shape.to_string() + ")");
  }
  for (size_t axis = 0; axis < range.min.size(); ++axis) {
    const int64_t lo = range.min[axis], mid = range.opt[axis], hi = range.max[axis];
    const std::string at = where + ", axis " + std::to_string(axis) + ": ";
    if (lo < 0) return invalid_argument(at + "min " + std::to_string(lo) + " is negative (" + range_text(range) + ")");
    if (lo > mid) {
      return invalid_argument(at + "min " + std::to_string(lo) + " > opt " + std::to_string(mid) + " (" +
                              range_text(range) + ")");
    }
    if (mid > hi) {
      return invalid_argument(at + "opt " + std::to_string(mid) + " > max " + std::to_string(hi) + " (" +
                              range_text(range) + ")");
    }
    if (!desc.shape.is_ranked()) continue;
    const Dim& declared = desc.shape[axis];
    if (declared.is_known()) {
      if (lo != declared.value || mid != declared.value || hi != declared.value) {
        return invalid_argument(at + "the model fixes this axis to " + std::to_string(declared.value) + " (" +
                                desc.shape.to_string() + "), so min, opt and max must all be " +
                                std::to_string(declared.value) + "; got " + range_text(range));
      }
      continue;
    }
    if (declared.symbol.empty()) continue;
    ProfileRange extents{{lo}, {mid}, {hi}};
    auto [it, inserted] = symbols->emplace(declared.symbol, SymbolUse{name, axis, extents});
    if (!inserted && !(it->second.extents == extents)) {
      const SymbolUse& first = it->second;
      return invalid_argument("dimension '" + declared.symbol + "' is shared by input '" + first.input + "' axis " +
                              std::to_string(first.axis) + " (" + range_text(first.extents) + ") and input '" + name +
                              "' axis " + std::to_string(axis) + " (" + range_text(extents) +
                              "); the profile must give both the same range");
    }
  }
  return ok_status();
}

}  // namespace

std::string profile_to_string(const OptimizationProfile& profile) {
  std::string out;
  for (const auto& [name, range] : profile.inputs) {
    if (!out.empty()) out += ';';
    out += name + ":" + dims_to_string(range.min) + "," + dims_to_string(range.opt) + "," + dims_to_string(range.max);
  }
  return out;
}

Status validate_profile(const OptimizationProfile& profile, const std::vector<IoDesc>& graph_inputs) {
  std::map<std::string, const IoDesc*> by_name;
  for (const IoDesc& desc : graph_inputs) by_name[desc.name] = &desc;
  std::map<std::string, SymbolUse> symbols;
  for (const auto& [name, range] : profile.inputs) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      std::string known;
      for (const IoDesc& desc : graph_inputs) known += (known.empty() ? "" : ", ") + desc.name;
      return not_found("the profile names input '" + name +
                       "', which the model does not have (inputs: " + (known.empty() ? "none" : known) + ")");
    }
    KILN_RETURN_IF_ERROR(check_range_against_declaration(name, range, *it->second, &symbols));
  }
  for (const IoDesc& desc : graph_inputs) {
    if (desc.shape.is_static() || profile.inputs.count(desc.name)) continue;
    if (!desc.shape.is_ranked()) {
      return invalid_argument("input '" + desc.name + "' has no declared rank, so the profile must give its range");
    }
    for (size_t axis = 0; axis < desc.shape.rank(); ++axis) {
      if (desc.shape[axis].is_known()) continue;
      return invalid_argument("input '" + desc.name + "' has a dynamic axis " + std::to_string(axis) + " ('" +
                              desc.shape[axis].to_string() + "' in " + desc.shape.to_string() +
                              ") but the profile gives no range for it");
    }
  }
  return ok_status();
}

Expected<OptimizationProfile> parse_profile_spec(const std::string& spec) {
  OptimizationProfile profile;
  for (const std::string& raw_entry : split(spec, ';')) {
    std::string entry = trim(raw_entry);
    if (entry.empty()) continue;
    std::string name, shapes;
    KILN_RETURN_IF_ERROR(split_named(entry, "profile '" + spec + "'", &name, &shapes));
    const std::string where = "profile entry '" + entry + "'";
    std::vector<std::string> parts = split(shapes, ',');
    if (parts.size() != 1 && parts.size() != 3) {
      return invalid_argument(where + ": expected one shape or three (min,opt,max), got " +
                              std::to_string(parts.size()));
    }
    ProfileRange range;
    KILN_ASSIGN_OR_RETURN(range.min, parse_extents(parts[0], where));
    KILN_ASSIGN_OR_RETURN(range.opt, parse_extents(parts[parts.size() == 3 ? 1 : 0], where));
    KILN_ASSIGN_OR_RETURN(range.max, parse_extents(parts[parts.size() == 3 ? 2 : 0], where));
    KILN_RETURN_IF_ERROR(check_same_rank(name, range));
    if (!profile.inputs.emplace(name, range).second) {
      return invalid_argument("profile '" + spec + "' names input '" + name + "' twice");
    }
  }
  if (profile.inputs.empty()) return invalid_argument("profile '" + spec + "' names no input");
  return profile;
}

namespace {
Expected<InputShapes> parse_shape_list(const std::string& list, const std::string& flag) {
  InputShapes shapes;
  for (const std::string& raw_entry : split(list, ',')) {
    std::string entry = trim(raw_entry);
    if (entry.empty()) continue;
    std::string name, shape_text;
    KILN_RETURN_IF_ERROR(split_named(entry, flag, &name, &shape_text));
    KILN_ASSIGN_OR_RETURN(Dims dims, parse_extents(shape_text, flag + " entry '" + entry + "'"));
    if (!shapes.emplace(name, dims).second) return invalid_argument(flag + " names input '" + name + "' twice");
  }
  if (shapes.empty()) return invalid_argument(flag + " is empty");
  return shapes;
}
}  // namespace

Expected<OptimizationProfile> parse_trtexec_shapes(const std::string& min_shapes, const std::string& opt_shapes,
                                                   const std::string& max_shapes) {
  KILN_ASSIGN_OR_RETURN(InputShapes mins, parse_shape_list(min_shapes, "--minShapes"));
  KILN_ASSIGN_OR_RETURN(InputShapes opts, parse_shape_list(opt_shapes, "--optShapes"));
  KILN_ASSIGN_OR_RETURN(InputShapes maxs, parse_shape_list(max_shapes, "--maxShapes"));
  auto require_same_names = [](const InputShapes& a, const char* a_flag, const InputShapes& b,
                               const char* b_flag) -> Status {
    for (const auto& [name, dims] : a) {
      if (!b.count(name)) {
        return invalid_argument(std::string(a_flag) + " gives input '" + name + "' but " + b_flag + " does not");
      }
    }
    return ok_status();
  };
  KILN_RETURN_IF_ERROR(require_same_names(mins, "--minShapes", opts, "--optShapes"));
  KILN_RETURN_IF_ERROR(require_same_names(mins, "--minShapes", maxs, "--maxShapes"));
  KILN_RETURN_IF_ERROR(require_same_names(opts, "--optShapes", mins, "--minShapes"));
  KILN_RETURN_IF_ERROR(require_same_names(maxs, "--maxShapes", mins, "--minShapes"));
  OptimizationProfile profile;
  for (const auto& [name, dims] : mins) {
    ProfileRange range{dims, opts[name], maxs[name]};
    KILN_RETURN_IF_ERROR(check_same_rank(name, range));
    profile.inputs[name] = range;
  }
  return profile;
}

bool profile_covers(const OptimizationProfile& profile, const InputShapes& shapes) {
  return coverage_failure(profile, shapes).empty();
}

Expected<size_t> select_profile(const std::vector<OptimizationProfile>& profiles, const InputShapes& shapes) {
  if (profiles.empty()) return invalid_argument("the engine has no optimization profile to choose from");
  size_t best = profiles.size();
  double best_volume = std::numeric_limits<double>::infinity();
  std::string reasons;
  for (size_t i = 0; i < profiles.size(); ++i) {
    std::string failure = coverage_failure(profiles[i], shapes);
    if (!failure.empty()) {
      reasons += "; profile " + std::to_string(i) + ": " + failure;
      continue;
    }
    double volume = max_volume(profiles[i]);
    if (best == profiles.size() || volume < best_volume) {
      best = i;
      best_volume = volume;
    }
  }
  if (best != profiles.size()) return best;
  std::string request;
  for (const auto& [name, dims] : shapes) request += (request.empty() ? "" : ", ") + name + " " + dims_to_string(dims);
  return out_of_range("no optimization profile covers the request (" + request + ")" + reasons);
}

Expected<std::vector<OptimizationProfile>> profiles_for_batch_buckets(const std::vector<IoDesc>& graph_inputs,
                                                                      const std::vector<int64_t>& buckets) {
  if (buckets.empty()) return invalid_argument("no batch buckets given");
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] <= 0 || (i > 0 && buckets[i] <= buckets[i - 1])) {
      std::string list;
      for (int64_t b : buckets) list += (list.empty() ? "" : ",") + std::to_string(b);
      return invalid_argument("batch buckets must be positive and strictly ascending, got " + list);
    }
  }
  std::vector<const IoDesc*> batched;
  for (const IoDesc& desc : graph_inputs) {
    if (!desc.shape.is_ranked()) {
      return invalid_argument("input '" + desc.name + "' has no declared rank; give explicit profiles");
    }
    for (size_t axis = 1; axis < desc.shape.rank(); ++axis) {
      if (!desc.shape[axis].is_known()) {
        return invalid_argument("input '" + desc.name + "' (" + desc.shape.to_string() + ") has dynamic axis " +
                                std::to_string(axis) + " besides the batch axis; give explicit profiles");
      }
    }
    if (desc.shape.rank() > 0 && !desc.shape[0].is_known()) batched.push_back(&desc);
  }
  if (batched.empty())
    return invalid_argument("no input has a dynamic batch axis (axis 0); batch buckets do not apply");
  std::vector<OptimizationProfile> profiles;
  int64_t previous = 0;
  for (int64_t bucket : buckets) {
    OptimizationProfile profile;
    for (const IoDesc* desc : batched) {
      Dims fixed = desc->shape.known_dims();
      ProfileRange range{fixed, fixed, fixed};
      range.min[0] = previous + 1;
      range.opt[0] = bucket;
      range.max[0] = bucket;
      profile.inputs[desc->name] = range;
    }
    profiles.push_back(std::move(profile));
    previous = bucket;
  }
  return profiles;
}

InputShapes input_shapes_of(const TensorMap& inputs) {
  InputShapes shapes;
  for (const auto& [name, tensor] : inputs) shapes[name] = tensor.dims();
  return shapes;
}

}  // namespace kiln
