// CPU kernels driven by index tensors: Gather, GatherElements, GatherND,
// Scatter/ScatterElements, ScatterND, OneHot. Negative indices count from the
// end; an index outside its axis is an out-of-range error naming the node.
#include <algorithm>

#include "backends/cpu/kernels/tensor_storage.h"

namespace kiln::cpu::tensor_kernels {
namespace {

Expected<int64_t> checked_index(const Node& node, int64_t index, int64_t extent) {
  const int64_t i = index < 0 ? index + extent : index;
  if (i < 0 || i >= extent) {
    return out_of_range(node.describe() + ": index " + std::to_string(index) + " is outside [-" +
                        std::to_string(extent) + ", " + std::to_string(extent) + ")");
  }
  return i;
}

Status run_gather(KernelArgs& args) {
  const Tensor& data = args.input(0);
  const std::vector<int64_t> indices = read_indices(args.input(1));
  const int64_t rank = static_cast<int64_t>(data.rank());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), rank, args.node));
  const int64_t outer = element_count(data.dims(), 0, axis);
  const int64_t extent = data.dim(axis);
  const int64_t inner = element_count(data.dims(), axis + 1, rank);
  std::vector<int64_t> resolved(indices.size());
  for (size_t j = 0; j < indices.size(); ++j) {
    KILN_ASSIGN_OR_RETURN(resolved[j], checked_index(args.node, indices[j], extent));
  }
  Tensor& out = args.output(0);
  const int64_t count = static_cast<int64_t>(resolved.size());
  bool ok = dispatch_storage(data.dtype(), [&]<typename E>() {
    const E* src = storage<E>(data);
    E* dst = storage<E>(out);
#pragma omp parallel for if (outer * count * inner > (1 << 16))
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < count; ++j) {
        const E* s = src + (o * extent + resolved[j]) * inner;
        std::copy(s, s + inner, dst + (o * count + j) * inner);
      }
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, data.dtype());
}

// Offset in `data` of each element of `indices` with its coordinate on `axis`
// replaced by the (checked) index value: the addressing GatherElements and
// ScatterElements share.
Expected<std::vector<int64_t>> element_offsets(const Node& node, const Dims& data_dims, const Tensor& indices_tensor,
                                               int64_t axis) {
  const std::vector<int64_t> indices = read_indices(indices_tensor);
  const Dims& index_dims = indices_tensor.dims();
  const Dims data_strides = strides_of(data_dims);
  const int64_t rank = static_cast<int64_t>(data_dims.size());
  if (static_cast<int64_t>(index_dims.size()) != rank) {
    return invalid_argument(node.describe() + ": indices " + dims_to_string(index_dims) + " and data " +
                            dims_to_string(data_dims) + " differ in rank");
  }
  std::vector<int64_t> offsets(indices.size());
  Dims coord(rank, 0);
  for (size_t i = 0; i < indices.size(); ++i) {
    int64_t offset = 0;
    for (int64_t a = 0; a < rank; ++a) {
      if (a == axis) continue;
      if (coord[a] >= data_dims[a]) {
        return invalid_argument(node.describe() + ": indices " + dims_to_string(index_dims) + " exceed data " +
                                dims_to_string(data_dims) + " outside the axis");
      }
      offset += coord[a] * data_strides[a];
    }
    KILN_ASSIGN_OR_RETURN(int64_t index, checked_index(node, indices[i], data_dims[axis]));
    offsets[i] = offset + index * data_strides[axis];
    for (int64_t a = rank - 1; a >= 0; --a) {
      if (++coord[a] < index_dims[a]) break;
      coord[a] = 0;
    }
  }
  return offsets;
}

Status run_gather_elements(KernelArgs& args) {
  const Tensor& data = args.input(0);
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), data.rank(), args.node));
  KILN_ASSIGN_OR_RETURN(auto offsets, element_offsets(args.node, data.dims(), args.input(1), axis));
  Tensor& out = args.output(0);
  bool ok = dispatch_storage(data.dtype(), [&]<typename E>() {
    const E* src = storage<E>(data);
    E* dst = storage<E>(out);
    for (size_t i = 0; i < offsets.size(); ++i) dst[i] = src[offsets[i]];
  });
  return ok ? ok_status() : unsupported_dtype(args.node, data.dtype());
}

// GatherND / ScatterND addressing: for each index tuple, the offset of the
// slice it selects in data, with `batch_dims` leading batch axes.
Expected<std::vector<int64_t>> tuple_offsets(const Node& node, const Dims& data_dims, const Tensor& indices_tensor,
                                             int64_t batch_dims, int64_t* slice_size) {
  const std::vector<int64_t> indices = read_indices(indices_tensor);
  const Dims& index_dims = indices_tensor.dims();
  if (index_dims.empty()) return invalid_argument(node.describe() + ": indices must have rank at least 1");
  const int64_t tuple = index_dims.back();
  const int64_t data_rank = static_cast<int64_t>(data_dims.size());
  if (batch_dims < 0 || batch_dims >= static_cast<int64_t>(index_dims.size()) || batch_dims + tuple > data_rank) {
    return invalid_argument(node.describe() + ": index tuples of length " + std::to_string(tuple) + " with " +
                            std::to_string(batch_dims) + " batch dims do not fit data " + dims_to_string(data_dims));
  }
  for (int64_t a = 0; a < batch_dims; ++a) {
    if (index_dims[a] != data_dims[a]) {
      return invalid_argument(node.describe() + ": batch dims of indices " + dims_to_string(index_dims) +
                              " and data " + dims_to_string(data_dims) + " differ");
    }
  }
  const Dims data_strides = strides_of(data_dims);
  *slice_size = element_count(data_dims, batch_dims + tuple, data_rank);
  const int64_t batch_count = element_count(index_dims, 0, batch_dims);
  const int64_t tuples_per_batch = element_count(index_dims, batch_dims, index_dims.size() - 1);
  const int64_t batch_stride = element_count(data_dims, batch_dims, data_rank);
  std::vector<int64_t> offsets(batch_count * tuples_per_batch);
  for (int64_t b = 0; b < batch_count; ++b) {
    for (int64_t t = 0; t < tuples_per_batch; ++t) {
      const int64_t* idx = indices.data() + (b * tuples_per_batch + t) * tuple;
      int64_t offset = b * batch_stride;
      for (int64_t k = 0; k < tuple; ++k) {
        KILN_ASSIGN_OR_RETURN(int64_t i, checked_index(node, idx[k], data_dims[batch_dims + k]));
        offset += i * data_strides[batch_dims + k];
      }
      offsets[b * tuples_per_batch + t] = offset;
    }
  }
  return offsets;
}

Status run_gather_nd(KernelArgs& args) {
  const Tensor& data = args.input(0);
  int64_t slice = 0;
  KILN_ASSIGN_OR_RETURN(
      auto offsets, tuple_offsets(args.node, data.dims(), args.input(1), args.node.attr_int("batch_dims", 0), &slice));
  Tensor& out = args.output(0);
  bool ok = dispatch_storage(data.dtype(), [&]<typename E>() {
    const E* src = storage<E>(data);
    E* dst = storage<E>(out);
    for (size_t i = 0; i < offsets.size(); ++i) std::copy(src + offsets[i], src + offsets[i] + slice, dst + i * slice);
  });
  return ok ? ok_status() : unsupported_dtype(args.node, data.dtype());
}

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction reduction_of(const Node& node) {
  const std::string r = node.attr_string("reduction", "none");
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  return Reduction::kNone;
}

template <typename T>
T combine(T current, T update, Reduction reduction) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (reduction) {
      case Reduction::kAdd:
      case Reduction::kMax:
        return current || update;
      case Reduction::kMul:
      case Reduction::kMin:
        return current && update;
      default:
        return update;
    }
  } else if constexpr (kIsHalf<T>) {
    return T(combine(static_cast<float>(current), static_cast<float>(update), reduction));
  } else {
    switch (reduction) {
      case Reduction::kAdd:
        return static_cast<T>(current + update);
      case Reduction::kMul:
        return static_cast<T>(current * update);
      case Reduction::kMax:
        return std::max(current, update);
      case Reduction::kMin:
        return std::min(current, update);
      default:
        return update;
    }
  }
}

// out = data, then out[offsets[i] + k] (combined with) updates[i * slice + k].
Status scatter(KernelArgs& args, const std::vector<int64_t>& offsets, int64_t slice) {
  const Tensor& data = args.input(0);
  const Tensor& updates = args.input(2);
  if (updates.element_count() != static_cast<int64_t>(offsets.size()) * slice) {
    return invalid_argument(args.node.describe() + ": updates " + updates.describe() + " do not match indices " +
                            args.input(1).describe());
  }
  if (updates.dtype() != data.dtype()) {
    return invalid_argument(args.node.describe() + ": updates " + updates.describe() + " and data " + data.describe() +
                            " differ in type");
  }
  Tensor& out = args.output(0);
  const Reduction reduction = reduction_of(args.node);
  if (reduction == Reduction::kNone) {
    bool ok = dispatch_storage(data.dtype(), [&]<typename E>() {
      const E* src = storage<E>(data);
      const E* upd = storage<E>(updates);
      E* dst = storage<E>(out);
      std::copy(src, src + data.element_count(), dst);
      for (size_t i = 0; i < offsets.size(); ++i) std::copy(upd + i * slice, upd + (i + 1) * slice, dst + offsets[i]);
    });
    return ok ? ok_status() : unsupported_dtype(args.node, data.dtype());
  }
  bool ok = dispatch_all_numeric(data.dtype(), [&]<typename T>() {
    const T* src = data.data<T>();
    const T* upd = updates.data<T>();
    T* dst = out.data<T>();
    std::copy(src, src + data.element_count(), dst);
    for (size_t i = 0; i < offsets.size(); ++i) {
      for (int64_t k = 0; k < slice; ++k)
        dst[offsets[i] + k] = combine(dst[offsets[i] + k], upd[i * slice + k], reduction);
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, data.dtype());
}

Status run_scatter_elements(KernelArgs& args) {
  const Tensor& data = args.input(0);
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), data.rank(), args.node));
  if (args.input(1).dims() != args.input(2).dims()) {
    return invalid_argument(args.node.describe() + ": indices " + args.input(1).describe() + " and updates " +
                            args.input(2).describe() + " differ in shape");
  }
  KILN_ASSIGN_OR_RETURN(auto offsets, element_offsets(args.node, data.dims(), args.input(1), axis));
  return scatter(args, offsets, 1);
}

Status run_scatter_nd(KernelArgs& args) {
  int64_t slice = 0;
  KILN_ASSIGN_OR_RETURN(auto offsets, tuple_offsets(args.node, args.input(0).dims(), args.input(1), 0, &slice));
  return scatter(args, offsets, slice);
}

Status run_one_hot(KernelArgs& args) {
  const Tensor& values = args.input(2);
  if (values.element_count() != 2) {
    return invalid_argument(args.node.describe() + ": values " + values.describe() + " must hold [off, on]");
  }
  const Tensor& indices_tensor = args.input(0);
  const std::vector<double> indices = indices_tensor.to_double_vector();
  const int64_t depth = static_cast<int64_t>(args.input(1).scalar_as_double(0));
  const int64_t rank = static_cast<int64_t>(indices_tensor.rank()) + 1;
  int64_t axis = args.node.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  const int64_t outer = element_count(indices_tensor.dims(), 0, axis);
  const int64_t inner = element_count(indices_tensor.dims(), axis, indices_tensor.rank());
  Tensor& out = args.output(0);
  bool ok = dispatch_storage(values.dtype(), [&]<typename E>() {
    const E off = storage<E>(values)[0];
    const E on = storage<E>(values)[1];
    E* dst = storage<E>(out);
    std::fill(dst, dst + out.element_count(), off);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t index = static_cast<int64_t>(indices[o * inner + i]);
        if (index < 0) index += depth;
        if (index < 0 || index >= depth) continue;
        dst[(o * depth + index) * inner + i] = on;
      }
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, values.dtype());
}

}  // namespace

void register_index_kernels(KernelTable& table) {
  table.add("Gather", {nullptr, run_gather});
  table.add("GatherElements", {nullptr, run_gather_elements});
  table.add("GatherND", {nullptr, run_gather_nd});
  table.add("ScatterElements", {nullptr, run_scatter_elements});
  table.add("Scatter", {nullptr, run_scatter_elements});
  table.add("ScatterND", {nullptr, run_scatter_nd});
  table.add("OneHot", {nullptr, run_one_hot});
}

}  // namespace kiln::cpu::tensor_kernels
