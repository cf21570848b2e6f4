// Helpers for the tensor kernels, which move elements without looking at
// them: a copying kernel is written once over a *storage* type (an unsigned
// integer of the element's size, or std::string for string tensors) and so
// serves every dtype.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "core/dispatch.h"

namespace kiln::cpu::tensor_kernels {

// fn.template operator()<E>() with E = uint8_t/uint16_t/uint32_t/uint64_t by
// element size, or std::string; false for kUndefined.
template <typename Fn>
bool dispatch_storage(DataType type, Fn&& fn) {
  if (type == DataType::kString) {
    fn.template operator()<std::string>();
    return true;
  }
  switch (dtype_size(type)) {
    case 1:
      fn.template operator()<uint8_t>();
      return true;
    case 2:
      fn.template operator()<uint16_t>();
      return true;
    case 4:
      fn.template operator()<uint32_t>();
      return true;
    case 8:
      fn.template operator()<uint64_t>();
      return true;
    default:
      return false;
  }
}

template <typename E>
const E* storage(const Tensor& t) {
  if constexpr (std::is_same_v<E, std::string>)
    return t.string_data().data();
  else
    return t.data<E>();
}
template <typename E>
E* storage(Tensor& t) {
  if constexpr (std::is_same_v<E, std::string>)
    return t.string_data().data();
  else
    return t.data<E>();
}

// Row-major strides in elements.
inline Dims strides_of(const Dims& dims) {
  Dims strides(dims.size(), 1);
  for (int64_t a = static_cast<int64_t>(dims.size()) - 2; a >= 0; --a) strides[a] = strides[a + 1] * dims[a + 1];
  return strides;
}

// Output i with this dtype and dims: the one the executor allocated when it
// matches, else a fresh allocation (outputs whose extents depend on data).
inline Tensor& output_with(KernelArgs& args, size_t i, DataType dtype, const Dims& dims) {
  Tensor& out = args.output(i);
  if (!out.defined() || out.dtype() != dtype || out.dims() != dims) out = Tensor::empty(dtype, dims);
  return out;
}

// All elements of an integer (or float) index tensor as int64, dispatching once.
inline std::vector<int64_t> read_indices(const Tensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.element_count()));
  dispatch_all_numeric(t.dtype(), [&]<typename T>() {
    const T* p = t.data<T>();
    for (size_t i = 0; i < out.size(); ++i) {
      if constexpr (std::is_integral_v<T>)
        out[i] = static_cast<int64_t>(p[i]);
      else
        out[i] = static_cast<int64_t>(to_double(p[i]));
    }
  });
  return out;
}

// strided_copy for the case where the input's contiguous axis lands on output
// axis q (not the last): cache-blocked 2-D transposes of (q, last) tiles, one
// per combination of the other axes.
template <typename E>
void strided_copy_tiled(const E* src, E* dst, const Dims& out_dims, const Dims& src_strides, int64_t src_base,
                        int64_t q) {
  constexpr int64_t kTile = 32;
  const int64_t rank = static_cast<int64_t>(out_dims.size());
  const Dims dst_strides = strides_of(out_dims);
  const int64_t rows = out_dims[q];
  const int64_t cols = out_dims[rank - 1];
  const int64_t col_stride = src_strides[rank - 1];
  const int64_t row_stride = dst_strides[q];
  int64_t combos = 1;
  for (int64_t a = 0; a < rank - 1; ++a) {
    if (a != q) combos *= out_dims[a];
  }
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
#pragma omp parallel for collapse(2) if (combos * rows * cols > (1 << 16))
  for (int64_t c = 0; c < combos; ++c) {
    for (int64_t tile = 0; tile < row_tiles; ++tile) {
      int64_t rest = c;
      int64_t src_offset = src_base;
      int64_t dst_offset = 0;
      for (int64_t a = rank - 2; a >= 0; --a) {
        if (a == q) continue;
        const int64_t index = rest % out_dims[a];
        rest /= out_dims[a];
        src_offset += index * src_strides[a];
        dst_offset += index * dst_strides[a];
      }
      const int64_t i0 = tile * kTile;
      const int64_t i1 = std::min(i0 + kTile, rows);
      for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
        const int64_t j1 = std::min(j0 + kTile, cols);
        for (int64_t i = i0; i < i1; ++i) {
          E* d = dst + dst_offset + i * row_stride;
          const E* s = src + src_offset + i;
          for (int64_t j = j0; j < j1; ++j) d[j] = s[j * col_stride];
        }
      }
    }
  }
}

// dst[i] = src[base + sum_a index_a(i) * src_strides[a]] for every i of the
// row-major `out_dims`. Serves Transpose (permuted strides), Slice (scaled
// strides and a base), Expand (zero strides), DepthToSpace/SpaceToDepth.
template <typename E>
void strided_copy(const E* src, E* dst, const Dims& out_dims, const Dims& src_strides, int64_t src_base) {
  const int64_t rank = static_cast<int64_t>(out_dims.size());
  if (rank == 0) {
    dst[0] = src[src_base];
    return;
  }
  const int64_t inner = out_dims.back();
  const int64_t inner_stride = src_strides.back();
  const int64_t rows = element_count(out_dims, 0, rank - 1);
  if (inner == 0 || rows == 0) return;
  if (inner_stride != 1 && inner > 1) {
    for (int64_t q = rank - 2; q >= 0; --q) {
      if (src_strides[q] == 1 && out_dims[q] > 1) {
        strided_copy_tiled(src, dst, out_dims, src_strides, src_base, q);
        return;
      }
    }
  }
#pragma omp parallel for if (rows * inner > (1 << 16))
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rest = row;
    int64_t offset = src_base;
    for (int64_t a = rank - 2; a >= 0; --a) {
      offset += (rest % out_dims[a]) * src_strides[a];
      rest /= out_dims[a];
    }
    E* d = dst + row * inner;
    const E* s = src + offset;
    if (inner_stride == 1) {
      std::copy(s, s + inner, d);
    } else {
      for (int64_t i = 0; i < inner; ++i) d[i] = s[i * inner_stride];
    }
  }
}

// strided_copy for any dtype; false when the dtype has no storage.
inline bool strided_copy_tensor(const Tensor& src, Tensor& dst, const Dims& out_dims, const Dims& src_strides,
                                int64_t src_base) {
  return dispatch_storage(src.dtype(), [&]<typename E>() {
    strided_copy<E>(storage<E>(src), storage<E>(dst), out_dims, src_strides, src_base);
  });
}

// Registration parts, one per kernels file.
void register_shape_kernels(KernelTable& table);
void register_slice_kernels(KernelTable& table);
void register_index_kernels(KernelTable& table);
void register_generator_kernels(KernelTable& table);
void register_unique_kernel(KernelTable& table);

}  // namespace kiln::cpu::tensor_kernels
