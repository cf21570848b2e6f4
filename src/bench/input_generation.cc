// Concrete input shapes and random input data for `kiln run` and `kiln bench`.
#include <cctype>
#include <random>

#include "core/dispatch.h"
#include "kiln/bench.h"

namespace kiln {

Expected<std::map<std::string, Dims>> parse_shape_list(const std::string& text) {
  std::map<std::string, Dims> shapes;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    // A ',' followed by a digit continues a "1,3,224,224" style shape.
    while (end != std::string::npos && end + 1 < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[end + 1]))) {
      end = text.find(',', end + 1);
    }
    std::string item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!item.empty()) {
      size_t colon = item.rfind(':');
      if (colon == std::string::npos || colon == 0) {
        return invalid_argument("malformed shape '" + item + "': expected NAME:DIMS, e.g. input:1x3x224x224");
      }
      std::string name = item.substr(0, colon);
      KILN_ASSIGN_OR_RETURN(Dims dims, parse_dims(item.substr(colon + 1)));
      if (shapes.count(name)) return invalid_argument("shape for input '" + name + "' is given twice");
      shapes[name] = std::move(dims);
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return shapes;
}

Expected<std::map<std::string, Dims>> resolve_input_dims(const std::vector<IoDesc>& inputs,
                                                         const ShapeRequest& request) {
  for (const auto& [name, dims] : request.shapes) {
    bool found = false;
    for (const IoDesc& d : inputs) found |= d.name == name;
    if (!found) {
      std::string known;
      for (const IoDesc& d : inputs) known += (known.empty() ? "" : ", ") + d.name;
      return not_found("a shape was given for '" + name + "', but the model has no such input (inputs: " + known + ")");
    }
  }
  // Named symbols are bound first by explicit values, then by the shapes given.
  std::map<std::string, int64_t> symbols = request.symbols;
  std::map<std::string, Dims> resolved;
  for (const IoDesc& input : inputs) {
    auto given = request.shapes.find(input.name);
    if (given == request.shapes.end()) continue;
    if (input.shape.is_ranked() && !input.shape.accepts(given->second)) {
      return invalid_argument("shape " + dims_to_string(given->second) + " given for input '" + input.name +
                              "' does not fit its declared shape " + input.shape.to_string());
    }
    for (size_t axis = 0; input.shape.is_ranked() && axis < input.shape.rank(); ++axis) {
      const std::string& symbol = input.shape[axis].symbol;
      if (symbol.empty()) continue;
      auto [it, inserted] = symbols.emplace(symbol, given->second[axis]);
      if (!inserted && it->second != given->second[axis]) {
        return invalid_argument("shape " + dims_to_string(given->second) + " given for input '" + input.name +
                                "' sets axis '" + symbol + "' to " + std::to_string(given->second[axis]) +
                                ", but it is " + std::to_string(it->second) + " elsewhere");
      }
    }
    resolved[input.name] = given->second;
  }
  for (const IoDesc& input : inputs) {
    if (resolved.count(input.name)) continue;
    if (!input.shape.is_ranked()) {
      return invalid_argument("input '" + input.name + "' has no declared rank; give its shape with --shapes " +
                              input.name + ":DIMS");
    }
    Dims dims;
    for (size_t axis = 0; axis < input.shape.rank(); ++axis) {
      const Dim& dim = input.shape[axis];
      bool batch_axis = axis == 0 && request.batch > 0;
      if (dim.is_known()) {
        if (batch_axis && dim.value != request.batch) {
          return invalid_argument("--batch " + std::to_string(request.batch) + " does not fit input '" + input.name +
                                  "': its first axis is fixed at " + std::to_string(dim.value) + " (shape " +
                                  input.shape.to_string() + ")");
        }
        dims.push_back(dim.value);
      } else if (!dim.symbol.empty()) {
        auto [it, inserted] = symbols.emplace(dim.symbol, batch_axis ? request.batch : 1);
        if (batch_axis && it->second != request.batch) {
          return invalid_argument("--batch " + std::to_string(request.batch) + " does not fit input '" + input.name +
                                  "': its first axis '" + dim.symbol + "' is " + std::to_string(it->second) +
                                  " elsewhere");
        }
        dims.push_back(it->second);
      } else {
        dims.push_back(batch_axis ? request.batch : 1);
      }
    }
    resolved[input.name] = std::move(dims);
  }
  return resolved;
}

Expected<Tensor> random_tensor(DataType dtype, const Dims& dims, uint64_t seed) {
  if (dtype == DataType::kString || dtype == DataType::kUndefined) {
    return unimplemented(std::string("cannot make random data of type ") + dtype_name(dtype));
  }
  uint64_t bytes = dtype_size(dtype);
  for (int64_t extent : dims) {
    if (extent < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(extent), &bytes)) {
      return out_of_range("shape " + dims_to_string(dims) + " is too large to allocate");
    }
  }
  Tensor tensor = Tensor::empty(dtype, dims);
  if (bytes > 0 && tensor.raw_data() == nullptr) {
    return resource_exhausted("cannot allocate " + std::to_string(bytes) + " bytes for shape " + dims_to_string(dims));
  }
  std::mt19937_64 rng(seed);
  if (dtype == DataType::kBool) {
    std::bernoulli_distribution coin(0.5);
    for (bool& b : tensor.span<bool>()) b = coin(rng);
    return tensor;
  }
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::uniform_int_distribution<int> small(0, 3);
  bool is_float = dtype_is_float(dtype);
  dispatch_all_numeric(dtype, [&]<typename T>() {
    for (T& v : tensor.span<T>()) {
      v = is_float ? from_double<T>(uniform(rng)) : from_double<T>(static_cast<double>(small(rng)));
    }
  });
  return tensor;
}

Expected<TensorMap> make_random_inputs(const std::vector<IoDesc>& inputs, const std::map<std::string, Dims>& dims,
                                       uint64_t seed) {
  TensorMap map;
  uint64_t stream = 0;
  for (const IoDesc& input : inputs) {
    auto it = dims.find(input.name);
    if (it == dims.end()) return invalid_argument("no shape was resolved for input '" + input.name + "'");
    DataType dtype = input.dtype == DataType::kUndefined ? DataType::kFloat32 : input.dtype;
    // Each input gets its own stream so that adding an input leaves the others' data unchanged.
    auto tensor = random_tensor(dtype, it->second, seed * 1000003u + stream++);
    if (!tensor.ok()) return tensor.status().with_context("input '" + input.name + "'");
    map[input.name] = std::move(tensor).value();
  }
  return map;
}

int64_t batch_size_of(const std::vector<IoDesc>& inputs, const std::map<std::string, Dims>& dims) {
  for (const IoDesc& input : inputs) {
    auto it = dims.find(input.name);
    if (it != dims.end() && !it->second.empty()) return it->second[0];
  }
  return 1;
}

}  // namespace kiln
