// Loop helpers shared by the reduction group's kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "core/dispatch.h"
#include "kiln/tensor.h"

namespace kiln::cpu {

// Element count above which loops are split across OpenMP threads.
constexpr int64_t kParallelThreshold = int64_t{1} << 15;

// Whether the reduced axes form one block first..last (the common cases: last
// axes, spatial axes, one middle axis), so the tensor is [outer, block, inner].
inline bool reduced_axes_are_contiguous(const std::vector<bool>& reduced, int64_t* first, int64_t* last) {
  *first = -1;
  *last = -1;
  for (int64_t d = 0; d < static_cast<int64_t>(reduced.size()); ++d) {
    if (!reduced[d]) continue;
    if (*first < 0) *first = d;
    else if (*last != d - 1) return false;
    *last = d;
  }
  return *first >= 0;
}

// Calls fn(input_index, output_index) for every element of a row-major tensor
// of `dims`, where output_index is the element's position in the keepdims
// result of reducing the flagged axes. Calls for one output index always come
// from one thread, in input order; different output indices may run in
// parallel, so fn may only touch state owned by its output index (or by its
// input index).
template <typename Fn>
void for_each_with_reduced_index(const Dims& dims, const std::vector<bool>& reduced, Fn&& fn) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  const int64_t total = element_count(dims);
  if (total == 0) return;
  if (rank == 0) {
    fn(int64_t{0}, int64_t{0});
    return;
  }
  int64_t first = 0, last = 0;
  if (reduced_axes_are_contiguous(reduced, &first, &last)) {
    int64_t outer = 1, extent = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) (d < first ? outer : d <= last ? extent : inner) *= dims[d];
#pragma omp parallel for if (total >= kParallelThreshold && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t in_base = o * extent * inner;
      const int64_t out_base = o * inner;
      for (int64_t r = 0; r < extent; ++r) {
        for (int64_t i = 0; i < inner; ++i) fn(in_base + r * inner + i, out_base + i);
      }
    }
    return;
  }
  std::vector<int64_t> out_strides(static_cast<size_t>(rank), 0);
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (!reduced[d]) {
      out_strides[d] = stride;
      stride *= dims[d];
    }
  }
  const int64_t inner = dims[rank - 1];
  const int64_t inner_step = out_strides[rank - 1];
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  int64_t out_base = 0;
  for (int64_t row = 0; row < total; row += inner) {
    for (int64_t i = 0; i < inner; ++i) fn(row + i, out_base + i * inner_step);
    for (int64_t d = rank - 2; d >= 0; --d) {
      out_base += out_strides[d];
      if (++index[d] < dims[d]) break;
      out_base -= out_strides[d] * dims[d];
      index[d] = 0;
    }
  }
}

// A tensor viewed as [outer, extent, inner] around one axis.
struct AxisSplit {
  int64_t outer = 1;
  int64_t extent = 1;
  int64_t inner = 1;
};

inline AxisSplit split_at_axis(const Dims& dims, int64_t axis) {
  AxisSplit s;
  for (int64_t i = 0; i < static_cast<int64_t>(dims.size()); ++i) {
    if (i < axis) s.outer *= dims[i];
    else if (i == axis) s.extent = dims[i];
    else s.inner *= dims[i];
  }
  return s;
}

// Makes sure output i exists with these dims (the executor leaves outputs with
// data-dependent or unknown extents unallocated).
inline Tensor& ensure_output(KernelArgs& args, size_t i, DataType dtype, const Dims& dims) {
  Tensor& out = args.output(i);
  if (!out.defined() || out.dtype() != dtype || out.dims() != dims) out = Tensor::empty(dtype, dims);
  return out;
}

// Input i's elements as doubles (parameters such as scale, bias, weights).
inline std::vector<double> input_as_doubles(const KernelArgs& args, size_t i) {
  return args.input(i).to_double_vector();
}

// Writes doubles into a float tensor of any float type (statistics outputs).
inline bool write_doubles(Tensor& out, const std::vector<double>& values) {
  return dispatch_float(out.dtype(), [&]<typename T>() {
    T* y = out.data<T>();
    for (size_t i = 0; i < values.size(); ++i) y[i] = from_double<T>(values[i]);
  });
}

}  // namespace kiln::cpu
