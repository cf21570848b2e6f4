// CPU kernels that select, join or pad parts of tensors: Concat, Split,
// Slice, Pad, Compress, NonZero, ReverseSequence.
#include <algorithm>

#include "backends/cpu/kernels/tensor_storage.h"
#include "ir/ops/tensor_params.h"

namespace kiln::cpu::tensor_kernels {
namespace {

Status run_concat(KernelArgs& args) {
  Tensor& out = args.output(0);
  const int64_t rank = static_cast<int64_t>(out.rank());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 1), rank, args.node));
  const int64_t outer = element_count(out.dims(), 0, axis);
  const int64_t out_block = element_count(out.dims(), axis, rank);
  bool ok = dispatch_storage(out.dtype(), [&]<typename E>() {
    E* dst = storage<E>(out);
    int64_t column = 0;
    for (size_t i = 0; i < args.inputs.size(); ++i) {
      if (!args.has_input(i)) continue;
      const Tensor& in = args.input(i);
      const int64_t block = element_count(in.dims(), axis, rank);
      const E* src = storage<E>(in);
      if (block > 0) {
        for (int64_t o = 0; o < outer; ++o)
          std::copy(src + o * block, src + (o + 1) * block, dst + o * out_block + column);
      }
      column += block;
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, out.dtype());
}

Status run_split(KernelArgs& args) {
  const Tensor& in = args.input(0);
  const int64_t rank = static_cast<int64_t>(in.rank());
  KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), rank, args.node));
  KILN_ASSIGN_OR_RETURN(auto sizes,
                        tensor_params::split_sizes(args.node, in.dim(axis), args.outputs.size(), args.inputs));
  if (!sizes) return internal_error(args.node.describe() + ": split sizes are not known at execution");
  const int64_t outer = element_count(in.dims(), 0, axis);
  const int64_t inner = element_count(in.dims(), axis + 1, rank);
  const int64_t in_block = in.dim(axis) * inner;
  bool ok = dispatch_storage(in.dtype(), [&]<typename E>() {
    const E* src = storage<E>(in);
    int64_t column = 0;
    for (size_t i = 0; i < args.outputs.size(); ++i) {
      Dims dims = in.dims();
      dims[axis] = (*sizes)[i];
      const int64_t block = dims[axis] * inner;
      if (args.node.has_output(i)) {
        E* dst = storage<E>(output_with(args, i, in.dtype(), dims));
        for (int64_t o = 0; o < outer && block > 0; ++o) {
          std::copy(src + o * in_block + column, src + o * in_block + column + block, dst + o * block);
        }
      }
      column += block;
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, in.dtype());
}

Status run_slice(KernelArgs& args) {
  const Tensor& in = args.input(0);
  KILN_ASSIGN_OR_RETURN(auto slice, tensor_params::slice_from_node(args.node, in.dims(), args.inputs));
  if (!slice) return internal_error(args.node.describe() + ": slice parameters are not known at execution");
  const Dims strides = strides_of(in.dims());
  Dims out_dims, src_strides;
  int64_t base = 0;
  for (size_t a = 0; a < slice->size(); ++a) {
    const auto& s = (*slice)[a];
    out_dims.push_back(s.count);
    src_strides.push_back(strides[a] * s.step);
    if (s.count > 0) base += s.start * strides[a];
  }
  Tensor& out = output_with(args, 0, in.dtype(), out_dims);
  if (!strided_copy_tensor(in, out, out_dims, src_strides, base)) return unsupported_dtype(args.node, in.dtype());
  return ok_status();
}

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// Input coordinate for padded coordinate x (already shifted by the leading
// pad) on an axis of extent n; -1 means "the constant".
inline int64_t pad_source(int64_t x, int64_t n, PadMode mode) {
  if (x >= 0 && x < n) return x;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return x < 0 ? 0 : n - 1;
    case PadMode::kWrap:
      return ((x % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      int64_t m = ((x % period) + period) % period;
      return m >= n ? period - m : m;
    }
  }
  return -1;
}

Status run_pad(KernelArgs& args) {
  const Tensor& in = args.input(0);
  const Node& node = args.node;
  const size_t rank = in.rank();
  KILN_ASSIGN_OR_RETURN(auto pads, tensor_params::pads_from_node(node, rank, args.inputs));
  if (!pads) return internal_error(node.describe() + ": pads are not known at execution");
  const std::string mode_name = node.attr_string("mode", "constant");
  PadMode mode = mode_name == "reflect" ? PadMode::kReflect
                 : mode_name == "edge"  ? PadMode::kEdge
                 : mode_name == "wrap"  ? PadMode::kWrap
                                        : PadMode::kConstant;
  Dims out_dims(rank);
  for (size_t a = 0; a < rank; ++a) {
    out_dims[a] = in.dim(a) + (*pads)[a] + (*pads)[rank + a];
    if (mode != PadMode::kConstant && in.dim(a) == 0 && out_dims[a] > 0) {
      return invalid_argument(node.describe() + ": cannot " + mode_name + "-pad axis " + std::to_string(a) +
                              " of extent 0 in " + in.describe());
    }
  }
  Tensor& out = output_with(args, 0, in.dtype(), out_dims);
  if (out.element_count() == 0) return ok_status();
  // The fill value as one element of the input's dtype.
  Tensor fill = Tensor::zeros(in.dtype(), {});
  if (args.has_input(2) && args.input(2).element_count() > 0) {
    const Tensor& value = args.input(2);
    KILN_ASSIGN_OR_RETURN(Tensor converted, cast_tensor(value, in.dtype()));
    dispatch_storage(in.dtype(), [&]<typename E>() { storage<E>(fill)[0] = storage<E>(converted)[0]; });
  } else if (node.has_attribute("value") && in.dtype() != DataType::kString) {
    const double v = node.attr_float("value", 0.0);
    dispatch_all_numeric(in.dtype(), [&]<typename T>() { fill.data<T>()[0] = from_double<T>(v); });
  }
  if (rank == 0) return strided_copy_tensor(in, out, {}, {}, 0) ? ok_status() : unsupported_dtype(node, in.dtype());
  const Dims in_strides = strides_of(in.dims());
  const int64_t inner = out_dims.back();
  const int64_t rows = element_count(out_dims, 0, rank - 1);
  const int64_t last_n = in.dims().back();
  const int64_t last_pad = (*pads)[rank - 1];
  bool ok = dispatch_storage(in.dtype(), [&]<typename E>() {
    const E* src = storage<E>(in);
    E* dst = storage<E>(out);
    const E fill_value = storage<E>(fill)[0];
#pragma omp parallel for if (rows * inner > (1 << 16))
    for (int64_t row = 0; row < rows; ++row) {
      int64_t rest = row;
      int64_t offset = 0;
      bool constant_row = false;
      for (int64_t a = static_cast<int64_t>(rank) - 2; a >= 0; --a) {
        const int64_t o = rest % out_dims[a];
        rest /= out_dims[a];
        const int64_t s = pad_source(o - (*pads)[a], in.dim(a), mode);
        if (s < 0)
          constant_row = true;
        else
          offset += s * in_strides[a];
      }
      E* d = dst + row * inner;
      if (constant_row) {
        std::fill(d, d + inner, fill_value);
        continue;
      }
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t s = pad_source(i - last_pad, last_n, mode);
        d[i] = s < 0 ? fill_value : src[offset + s];
      }
    }
  });
  return ok ? ok_status() : unsupported_dtype(node, in.dtype());
}

Status run_compress(KernelArgs& args) {
  const Tensor& in = args.input(0);
  const std::vector<int64_t> condition = read_indices(args.input(1));
  const bool has_axis = args.node.has_attribute("axis");
  int64_t outer = 1, extent = in.element_count(), inner = 1;
  Dims out_dims;
  if (has_axis) {
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), in.rank(), args.node));
    outer = element_count(in.dims(), 0, axis);
    extent = in.dim(axis);
    inner = element_count(in.dims(), axis + 1, in.rank());
    out_dims = in.dims();
  }
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < std::min<int64_t>(extent, condition.size()); ++i) {
    if (condition[i] != 0) kept.push_back(i);
  }
  if (has_axis) {
    out_dims[normalize_axis(args.node.attr_int("axis", 0), in.rank(), args.node).value()] = kept.size();
  } else {
    out_dims = {static_cast<int64_t>(kept.size())};
  }
  Tensor& out = output_with(args, 0, in.dtype(), out_dims);
  bool ok = dispatch_storage(in.dtype(), [&]<typename E>() {
    const E* src = storage<E>(in);
    E* dst = storage<E>(out);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k : kept) {
        const E* s = src + (o * extent + k) * inner;
        dst = std::copy(s, s + inner, dst);
      }
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, in.dtype());
}

Status run_non_zero(KernelArgs& args) {
  const Tensor& in = args.input(0);
  std::vector<int64_t> positions;
  bool ok = dispatch_all_numeric(in.dtype(), [&]<typename T>() {
    const T* p = in.data<T>();
    for (int64_t i = 0; i < in.element_count(); ++i) {
      if (to_double(p[i]) != 0) positions.push_back(i);
    }
  });
  if (!ok) return unsupported_dtype(args.node, in.dtype());
  const int64_t rank = static_cast<int64_t>(in.rank());
  const int64_t count = static_cast<int64_t>(positions.size());
  Tensor& out = output_with(args, 0, DataType::kInt64, {rank, count});
  int64_t* dst = out.data<int64_t>();
  for (int64_t j = 0; j < count; ++j) {
    int64_t rest = positions[j];
    for (int64_t a = rank - 1; a >= 0; --a) {
      dst[a * count + j] = rest % in.dim(a);
      rest /= in.dim(a);
    }
  }
  return ok_status();
}

Status run_reverse_sequence(KernelArgs& args) {
  const Tensor& in = args.input(0);
  const std::vector<int64_t> lengths = read_indices(args.input(1));
  const int64_t batch_axis = args.node.attr_int("batch_axis", 1);
  const int64_t time_axis = args.node.attr_int("time_axis", 0);
  const int64_t batch = in.dim(batch_axis);
  const int64_t time = in.dim(time_axis);
  if (static_cast<int64_t>(lengths.size()) != batch) {
    return invalid_argument(args.node.describe() + ": sequence_lens has " + std::to_string(lengths.size()) +
                            " entries for batch " + std::to_string(batch));
  }
  const int64_t inner = element_count(in.dims(), 2, in.rank());
  auto offset = [&](int64_t t, int64_t b) { return (time_axis == 0 ? t * batch + b : b * time + t) * inner; };
  Tensor& out = args.output(0);
  bool ok = dispatch_storage(in.dtype(), [&]<typename E>() {
    const E* src = storage<E>(in);
    E* dst = storage<E>(out);
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t length = std::clamp<int64_t>(lengths[b], 0, time);
      for (int64_t t = 0; t < time; ++t) {
        const int64_t from = t < length ? length - 1 - t : t;
        std::copy(src + offset(from, b), src + offset(from, b) + inner, dst + offset(t, b));
      }
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, in.dtype());
}

}  // namespace

void register_slice_kernels(KernelTable& table) {
  table.add("Concat", {nullptr, run_concat});
  table.add("Split", {nullptr, run_split});
  table.add("Slice", {nullptr, run_slice});
  table.add("Pad", {nullptr, run_pad});
  table.add("Compress", {nullptr, run_compress});
  table.add("NonZero", {nullptr, run_non_zero});
  table.add("ReverseSequence", {nullptr, run_reverse_sequence});
}

}  // namespace kiln::cpu::tensor_kernels
