// Einsum by direct index loops: every combination of label values is visited
// once, the operands' elements multiplied and added into the output element.
// Repeated labels in one operand (diagonals, traces) fall out of summing the
// strides of the axes sharing a label.
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/cpu/kernels/reduction_iteration.h"
#include "backends/cpu/kernels/reduction_kernels.h"
#include "core/dispatch.h"
#include "ir/ops/reduction_einsum_equation.h"

namespace kiln::cpu {
namespace {

// Per-label element strides of a tensor whose axes carry `labels`; an axis of
// extent 1 against a longer label broadcasts (stride 0).
std::vector<int64_t> label_strides(const Dims& dims, const std::vector<int>& labels,
                                   const std::vector<int64_t>& extents) {
  std::vector<int64_t> strides(extents.size(), 0);
  int64_t stride = 1;
  for (size_t axis = dims.size(); axis-- > 0;) {
    if (dims[axis] != 1) strides[static_cast<size_t>(labels[axis])] += stride;
    stride *= dims[axis];
  }
  return strides;
}

Status run_einsum(KernelArgs& args) {
  const Node& node = args.node;
  std::vector<size_t> ranks;
  std::vector<Dims> dims;
  for (const Tensor* t : args.inputs) {
    if (!t) return invalid_argument(node.describe() + ": einsum operands cannot be omitted");
    if (t->dtype() != args.input(0).dtype()) {
      return invalid_argument(node.describe() + ": einsum operands must share one type");
    }
    ranks.push_back(t->rank());
    dims.push_back(t->dims());
  }
  KILN_ASSIGN_OR_RETURN(EinsumEquation equation, parse_einsum_equation(node.attr_string("equation", ""), ranks, node));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> extents, einsum_label_extents(equation, dims, node));
  Dims out_dims;
  for (int label : equation.output_labels) out_dims.push_back(extents[static_cast<size_t>(label)]);
  const DataType dtype = args.input(0).dtype();
  Tensor& output = ensure_output(args, 0, dtype, out_dims);

  // Visit output labels first (outer loops), then the summed labels.
  std::vector<int> order = equation.output_labels;
  std::vector<bool> in_output(static_cast<size_t>(equation.label_count), false);
  for (int label : order) in_output[static_cast<size_t>(label)] = true;
  for (int label = 0; label < equation.label_count; ++label) {
    if (!in_output[static_cast<size_t>(label)]) order.push_back(label);
  }
  // The first loop is the one split across threads: give it the longest output label.
  for (size_t j = 1; j < equation.output_labels.size(); ++j) {
    if (extents[static_cast<size_t>(order[j])] > extents[static_cast<size_t>(order[0])]) std::swap(order[0], order[j]);
  }
  const size_t operands = args.inputs.size();
  const size_t depth = order.size();
  // strides[k][j]: stride of operand k (k == operands: the output) for loop j.
  std::vector<std::vector<int64_t>> strides(operands + 1, std::vector<int64_t>(depth, 0));
  for (size_t k = 0; k <= operands; ++k) {
    const std::vector<int64_t> by_label =
        k < operands ? label_strides(dims[k], equation.operand_labels[k], extents)
                     : label_strides(out_dims, equation.output_labels, extents);
    for (size_t j = 0; j < depth; ++j) strides[k][j] = by_label[static_cast<size_t>(order[j])];
  }
  std::vector<int64_t> sizes(depth);
  int64_t iterations = 1;
  for (size_t j = 0; j < depth; ++j) {
    sizes[j] = extents[static_cast<size_t>(order[j])];
    iterations *= sizes[j];
  }

  const bool handled = dispatch_all_numeric(dtype, [&]<typename T>() {
    using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
    std::vector<Acc> acc(static_cast<size_t>(output.element_count()), Acc(0));
    std::vector<const T*> data(operands);
    for (size_t k = 0; k < operands; ++k) data[k] = args.input(k).data<T>();
    auto value = [](T v) -> Acc {
      if constexpr (std::is_integral_v<T>) return static_cast<Acc>(v);
      else return to_double(v);
    };
    // Distinct values of the first output label write distinct output
    // elements, so the loop over it can run in parallel. The last label is
    // the innermost loop, run as a tight loop (a dot product when it is summed).
    const bool split = !equation.output_labels.empty();
    const int64_t outer = split ? sizes[0] : 1;
    const size_t first_loop = split ? 1 : 0;
    const bool has_inner = depth > first_loop;
    const size_t inner_level = has_inner ? depth - 1 : 0;
    const int64_t inner_size = has_inner ? sizes[inner_level] : 1;
    const int64_t middle_iterations = outer == 0 || inner_size == 0 ? 0 : iterations / outer / inner_size;
    std::vector<int64_t> inner_stride(operands + 1, 0);
    if (has_inner) {
      for (size_t k = 0; k <= operands; ++k) inner_stride[k] = strides[k][inner_level];
    }
    const int64_t out_inner_stride = inner_stride[operands];
#pragma omp parallel for if (split && outer > 1 && iterations >= kParallelThreshold)
    for (int64_t head = 0; head < outer; ++head) {
      std::vector<int64_t> index(depth, 0), offset(operands + 1, 0);
      if (split) {
        for (size_t k = 0; k <= operands; ++k) offset[k] = head * strides[k][0];
      }
      auto product_at = [&](int64_t r) {
        Acc product = value(data[0][offset[0] + r * inner_stride[0]]);
        for (size_t k = 1; k < operands; ++k) product *= value(data[k][offset[k] + r * inner_stride[k]]);
        return product;
      };
      for (int64_t it = 0; it < middle_iterations; ++it) {
        Acc* out = acc.data() + offset[operands];
        if (out_inner_stride == 0) {
          Acc sum = Acc(0);
          for (int64_t r = 0; r < inner_size; ++r) sum += product_at(r);
          *out += sum;
        } else {
          for (int64_t r = 0; r < inner_size; ++r) out[r * out_inner_stride] += product_at(r);
        }
        for (size_t j = inner_level; j-- > first_loop;) {
          for (size_t k = 0; k <= operands; ++k) offset[k] += strides[k][j];
          if (++index[j] < sizes[j]) break;
          for (size_t k = 0; k <= operands; ++k) offset[k] -= strides[k][j] * sizes[j];
          index[j] = 0;
        }
      }
    }
    T* y = output.data<T>();
    for (size_t i = 0; i < acc.size(); ++i) {
      if constexpr (std::is_integral_v<T>) y[i] = static_cast<T>(acc[i]);
      else y[i] = from_double<T>(acc[i]);
    }
  });
  return handled ? ok_status() : unsupported_dtype(node, dtype);
}

}  // namespace

void register_einsum_kernels(KernelTable& table) { table.add("Einsum", {nullptr, run_einsum}); }

}  // namespace kiln::cpu
