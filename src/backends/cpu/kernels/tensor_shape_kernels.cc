// CPU kernels for the ops that rearrange or view a tensor: Identity, Dropout,
// Reshape, Flatten, Squeeze, Unsqueeze (views sharing the input's buffer),
// Shape, Size, Transpose, Expand, Tile, DepthToSpace, SpaceToDepth.
#include <algorithm>

#include "backends/cpu/kernels/tensor_storage.h"

namespace kiln::cpu::tensor_kernels {
namespace {

// Views never copy: the output shares the input's buffer with new dims (the
// executor's inferred dims). Kernels only ever write their own outputs, so
// sharing is safe.
Status run_view(KernelArgs& args) {
  const Tensor& in = args.input(0);
  const Dims dims = args.output(0).defined() ? args.output(0).dims() : args.output_info[0].dims;
  KILN_ASSIGN_OR_RETURN(Tensor view, in.reshaped(dims));
  args.output(0) = std::move(view);
  return ok_status();
}

Status run_identity(KernelArgs& args) {
  args.output(0) = args.input(0);
  return ok_status();
}

Status run_dropout(KernelArgs& args) {
  const Node& node = args.node;
  const bool training =
      args.has_input(2) && args.input(2).element_count() > 0 && args.input(2).scalar_as_double(0) != 0;
  if (training) {
    double ratio = args.has_input(1) ? args.input(1).scalar_as_double(0) : node.attr_float("ratio", 0.5);
    // With ratio 0 training mode keeps every element: output = input exactly.
    if (ratio != 0) {
      return unimplemented(node.describe() + ": training mode (random dropout, ratio " + std::to_string(ratio) +
                           ") is not supported; only inference");
    }
  }
  args.output(0) = args.input(0);
  if (node.has_output(1)) {
    const DataType mask_type = node.opset >= 10 ? DataType::kBool : args.input(0).dtype();
    Tensor& mask = output_with(args, 1, mask_type, args.input(0).dims());
    dispatch_all_numeric(mask_type, [&]<typename T>() {
      std::fill(mask.data<T>(), mask.data<T>() + mask.element_count(), from_double<T>(1.0));
    });
  }
  return ok_status();
}

Status run_shape(KernelArgs& args) {
  const Dims& dims = args.input(0).dims();
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = args.node.attr_int("start", 0);
  int64_t end = args.node.attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  const int64_t count = std::max<int64_t>(end - start, 0);
  Tensor& out = output_with(args, 0, DataType::kInt64, {count});
  for (int64_t i = 0; i < count; ++i) out.data<int64_t>()[i] = dims[start + i];
  return ok_status();
}

Status run_size(KernelArgs& args) {
  Tensor& out = output_with(args, 0, DataType::kInt64, {});
  out.data<int64_t>()[0] = args.input(0).element_count();
  return ok_status();
}

// Copies `in` viewed as `view_dims` into the output through permutation `perm`.
Status permute_into(KernelArgs& args, const Dims& view_dims, const std::vector<int64_t>& perm) {
  const Tensor& in = args.input(0);
  const Dims strides = strides_of(view_dims);
  Dims out_dims, src_strides;
  for (int64_t p : perm) {
    out_dims.push_back(view_dims[p]);
    src_strides.push_back(strides[p]);
  }
  Tensor& out = args.output(0);
  if (!strided_copy_tensor(in, out, out_dims, src_strides, 0)) return unsupported_dtype(args.node, in.dtype());
  return ok_status();
}

Status run_transpose(KernelArgs& args) {
  const Dims& dims = args.input(0).dims();
  std::vector<int64_t> perm = args.node.attr_ints("perm");
  if (perm.empty()) {
    for (size_t i = 0; i < dims.size(); ++i) perm.push_back(static_cast<int64_t>(dims.size() - 1 - i));
  }
  return permute_into(args, dims, perm);
}

Status run_expand(KernelArgs& args) {
  const Tensor& in = args.input(0);
  Tensor& out = args.output(0);
  const Dims& out_dims = out.dims();
  const Dims in_strides = strides_of(in.dims());
  const size_t offset = out_dims.size() - in.rank();
  Dims src_strides(out_dims.size(), 0);
  for (size_t a = 0; a < in.rank(); ++a) src_strides[offset + a] = in.dim(a) == 1 ? 0 : in_strides[a];
  if (!strided_copy_tensor(in, out, out_dims, src_strides, 0)) return unsupported_dtype(args.node, in.dtype());
  return ok_status();
}

Status run_tile(KernelArgs& args) {
  const Tensor& in = args.input(0);
  Tensor& out = args.output(0);
  const Dims& in_dims = in.dims();
  const Dims& out_dims = out.dims();
  const int64_t rank = static_cast<int64_t>(in_dims.size());
  if (out.element_count() == 0) return ok_status();
  if (rank == 0)
    return strided_copy_tensor(in, out, {}, {}, 0) ? ok_status() : unsupported_dtype(args.node, in.dtype());
  const Dims in_strides = strides_of(in_dims);
  const int64_t inner_in = in_dims.back();
  const int64_t inner_out = out_dims.back();
  const int64_t rows = element_count(out_dims, 0, rank - 1);
  bool ok = dispatch_storage(in.dtype(), [&]<typename E>() {
    const E* src = storage<E>(in);
    E* dst = storage<E>(out);
#pragma omp parallel for if (rows * inner_out > (1 << 16))
    for (int64_t row = 0; row < rows; ++row) {
      int64_t rest = row;
      int64_t offset = 0;
      for (int64_t a = rank - 2; a >= 0; --a) {
        offset += ((rest % out_dims[a]) % in_dims[a]) * in_strides[a];
        rest /= out_dims[a];
      }
      E* d = dst + row * inner_out;
      for (int64_t i = 0; i < inner_out; i += inner_in) std::copy(src + offset, src + offset + inner_in, d + i);
    }
  });
  return ok ? ok_status() : unsupported_dtype(args.node, in.dtype());
}

Status run_depth_to_space(KernelArgs& args) {
  const Dims& d = args.input(0).dims();
  const int64_t b = args.node.attr_int("blocksize", 1);
  const int64_t c = d[1] / (b * b);
  if (args.node.attr_string("mode", "DCR") == "CRD") {
    return permute_into(args, {d[0], c, b, b, d[2], d[3]}, {0, 1, 4, 2, 5, 3});
  }
  return permute_into(args, {d[0], b, b, c, d[2], d[3]}, {0, 3, 4, 1, 5, 2});
}

Status run_space_to_depth(KernelArgs& args) {
  const Dims& d = args.input(0).dims();
  const int64_t b = args.node.attr_int("blocksize", 1);
  // The inverses of DepthToSpace's two orders (the mode attribute is newer; DCR is the default).
  if (args.node.attr_string("mode", "DCR") == "CRD") {
    return permute_into(args, {d[0], d[1], d[2] / b, b, d[3] / b, b}, {0, 1, 3, 5, 2, 4});
  }
  return permute_into(args, {d[0], d[1], d[2] / b, b, d[3] / b, b}, {0, 3, 5, 1, 2, 4});
}

Status check_mode(const Node& node, const std::vector<TensorInfo>&) {
  const std::string mode = node.attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") return unimplemented(node.describe() + ": mode '" + mode + "' is not DCR or CRD");
  return ok_status();
}

}  // namespace

void register_shape_kernels(KernelTable& table) {
  table.add("Identity", {nullptr, run_identity});
  table.add("Dropout", {nullptr, run_dropout});
  table.add("Reshape", {nullptr, run_view});
  table.add("Flatten", {nullptr, run_view});
  table.add("Squeeze", {nullptr, run_view});
  table.add("Unsqueeze", {nullptr, run_view});
  table.add("Shape", {nullptr, run_shape});
  table.add("Size", {nullptr, run_size});
  table.add("Transpose", {nullptr, run_transpose});
  table.add("Expand", {nullptr, run_expand});
  table.add("Tile", {nullptr, run_tile});
  table.add("DepthToSpace", {check_mode, run_depth_to_space});
  table.add("SpaceToDepth", {check_mode, run_space_to_depth});
}

}  // namespace kiln::cpu::tensor_kernels
