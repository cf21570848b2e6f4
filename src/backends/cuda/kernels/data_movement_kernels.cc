// CUDA data-movement ops: the copy family (Reshape, Flatten, Squeeze,
// Unsqueeze, Identity, Dropout), Transpose, Expand and Slice (strided copies),
// Concat and Split (2-D memcpys), Gather and Pad (own kernels).
#include <algorithm>
#include <cstring>

#include "backends/cuda/kernels/data_movement_launch.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

Status fixed_size_input(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (inputs.empty()) return invalid_argument(node.describe() + ": no input");
  size_t bytes = dtype_size(inputs[0].dtype);
  if (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8) return unsupported_cuda_dtype(node, inputs[0].dtype);
  return ok_status();
}

CudaKernel copy_kernel() {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> { return device_copy_kernel(); };
  return k;
}

// Inference Dropout is Identity; its optional mask output is all true.
CudaKernel dropout_kernel() {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    if (args.has_input(2)) {
      const Tensor* training = args.host_value(2);
      if (!training || training->scalar_as_double() != 0) {
        return unimplemented(args.node.describe() + ": Dropout in training mode is not supported by the CUDA backend");
      }
    }
    PreparedKernel copy = device_copy_kernel();
    PreparedKernel prepared;
    prepared.enqueue = [copy](const LaunchArgs& launch) -> Status {
      KILN_RETURN_IF_ERROR(copy.enqueue(launch));
      if (launch.outputs.size() > 1 && launch.outputs[1].present() && launch.outputs[1].byte_size() > 0) {
        KILN_CUDA_CHECK(cudaMemsetAsync(launch.outputs[1].data, 1, launch.outputs[1].byte_size(),
                                        launch.libraries.stream));
      }
      return ok_status();
    };
    return prepared;
  };
  return k;
}

PreparedKernel strided_copy_kernel(const StridedIndex& index) {
  PreparedKernel prepared;
  prepared.enqueue = [index](const LaunchArgs& launch) -> Status {
    const DeviceTensor& out = launch.outputs[0];
    KILN_CUDA_CHECK_LAUNCH(launch_strided_copy(dtype_size(out.dtype), launch.inputs[0].data, out.data,
                                               out.element_count(), index, launch.libraries.stream));
    return ok_status();
  };
  return prepared;
}

Status check_rank(const Node& node, size_t rank) {
  if (rank > static_cast<size_t>(kMaxRank)) {
    return unimplemented(node.describe() + ": rank " + std::to_string(rank) + " exceeds the CUDA backend's limit of " +
                         std::to_string(kMaxRank));
  }
  return ok_status();
}

CudaKernel transpose_kernel() {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& in = args.inputs[0].dims;
    const int64_t rank = static_cast<int64_t>(in.size());
    KILN_RETURN_IF_ERROR(check_rank(args.node, in.size()));
    std::vector<int64_t> perm = args.node.attr_ints("perm");
    if (perm.empty()) {
      for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
    }
    if (static_cast<int64_t>(perm.size()) != rank) {
      return invalid_argument(args.node.describe() + ": perm has " + std::to_string(perm.size()) +
                              " entries for rank " + std::to_string(rank));
    }
    Dims strides = contiguous_strides(in);
    StridedIndex index;
    index.rank = static_cast<int>(std::max<int64_t>(rank, 1));
    index.dims[0] = 1;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t axis = perm[d] < 0 ? perm[d] + rank : perm[d];
      if (axis < 0 || axis >= rank) return invalid_argument(args.node.describe() + ": perm entry out of range");
      index.dims[d] = in[axis];
      index.strides[0][d] = strides[axis];
    }
    return strided_copy_kernel(index);
  };
  return k;
}

CudaKernel expand_kernel() {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    KILN_ASSIGN_OR_RETURN(StridedIndex index, broadcast_index(args.node, args.outputs[0].dims, {args.inputs[0].dims}));
    return strided_copy_kernel(index);
  };
  return k;
}

Expected<std::vector<int64_t>> int_input_or_attribute(const PrepareArgs& args, size_t input, const char* attribute,
                                                      bool* present) {
  *present = false;
  if (args.node.opset >= 10 || !args.node.has_attribute(attribute)) {
    if (!args.has_input(input)) return std::vector<int64_t>{};
    const Tensor* value = args.host_value(input);
    if (!value) {
      return unimplemented(args.node.describe() + ": input " + std::to_string(input) +
                           " must be a constant (or computed from shapes) on the CUDA backend");
    }
    *present = true;
    return value->to_int64_vector();
  }
  *present = true;
  return args.node.attr_ints(attribute);
}

CudaKernel slice_kernel() {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& in = args.inputs[0].dims;
    const int64_t rank = static_cast<int64_t>(in.size());
    KILN_RETURN_IF_ERROR(check_rank(args.node, in.size()));
    bool has_starts, has_ends, has_axes, has_steps;
    KILN_ASSIGN_OR_RETURN(auto starts, int_input_or_attribute(args, 1, "starts", &has_starts));
    KILN_ASSIGN_OR_RETURN(auto ends, int_input_or_attribute(args, 2, "ends", &has_ends));
    KILN_ASSIGN_OR_RETURN(auto axes, int_input_or_attribute(args, 3, "axes", &has_axes));
    std::vector<int64_t> steps;
    if (args.node.opset >= 10) {
      KILN_ASSIGN_OR_RETURN(steps, int_input_or_attribute(args, 4, "steps", &has_steps));
    }
    if (!has_axes) {
      axes.clear();
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (starts.size() != ends.size() || axes.size() != starts.size() || (!steps.empty() && steps.size() != starts.size())) {
      return invalid_argument(args.node.describe() + ": starts, ends, axes and steps differ in length");
    }
    std::vector<int64_t> begin(rank, 0), step(rank, 1);
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t axis = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (axis < 0 || axis >= rank) return invalid_argument(args.node.describe() + ": slice axis out of range");
      const int64_t extent = in[axis];
      int64_t s = steps.empty() ? 1 : steps[i];
      if (s == 0) return invalid_argument(args.node.describe() + ": slice step is 0");
      int64_t start = starts[i];
      if (start < 0) start += extent;
      start = s > 0 ? std::clamp<int64_t>(start, 0, extent) : std::clamp<int64_t>(start, 0, extent - 1);
      begin[axis] = start;
      step[axis] = s;
    }
    const Dims& out = args.outputs[0].dims;
    Dims strides = contiguous_strides(in);
    StridedIndex index;
    index.rank = static_cast<int>(std::max<int64_t>(rank, 1));
    index.dims[0] = 1;
    for (int64_t d = 0; d < rank; ++d) {
      index.dims[d] = out[d];
      index.strides[0][d] = strides[d] * step[d];
      index.offsets[0] += begin[d] * strides[d];
    }
    return strided_copy_kernel(index);
  };
  return k;
}

// Views a tensor as [outer, axis extent * inner] around `axis`.
// Concat (gather = false) copies each input into its column band of the output;
// Split (gather = true) copies each column band of the input into an output.
CudaKernel band_copy_kernel(bool split) {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [split](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& whole = split ? args.inputs[0].dims : args.outputs[0].dims;
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", split ? 0 : 1), whole.size(),
                                                       args.node));
    const int64_t outer = element_count(whole, 0, axis);
    const int64_t inner = element_count(whole, axis + 1, whole.size());
    const size_t element_bytes = dtype_size(split ? args.inputs[0].dtype : args.outputs[0].dtype);
    const size_t whole_row = static_cast<size_t>(whole[axis] * inner) * element_bytes;
    std::vector<size_t> band_bytes;
    const std::vector<TensorInfo>& parts = split ? args.outputs : args.inputs;
    for (const TensorInfo& part : parts) {
      band_bytes.push_back(part.dtype == DataType::kUndefined || part.dims.empty()
                               ? 0
                               : static_cast<size_t>(part.dims[axis] * inner) * element_bytes);
    }
    PreparedKernel prepared;
    prepared.enqueue = [split, outer, whole_row, band_bytes](const LaunchArgs& launch) -> Status {
      char* whole_data = static_cast<char*>(split ? launch.inputs[0].data : launch.outputs[0].data);
      const std::vector<DeviceTensor>& parts = split ? launch.outputs : launch.inputs;
      size_t column = 0;
      for (size_t i = 0; i < parts.size(); ++i) {
        const size_t width = band_bytes[i];
        if (width > 0 && outer > 0 && parts[i].present()) {
          if (split) {
            KILN_CUDA_CHECK(cudaMemcpy2DAsync(parts[i].data, width, whole_data + column, whole_row, width, outer,
                                              cudaMemcpyDeviceToDevice, launch.libraries.stream));
          } else {
            KILN_CUDA_CHECK(cudaMemcpy2DAsync(whole_data + column, whole_row, parts[i].data, width, width, outer,
                                              cudaMemcpyDeviceToDevice, launch.libraries.stream));
          }
        }
        column += width;
      }
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel gather_kernel() {
  CudaKernel k;
  k.supports = [](const Node& node, const std::vector<TensorInfo>& inputs) -> Status {
    KILN_RETURN_IF_ERROR(fixed_size_input(node, inputs));
    if (inputs.size() < 2) return invalid_argument(node.describe() + ": Gather needs indices");
    return require_dtype(node, inputs[1].dtype, {DataType::kInt32, DataType::kInt64}, "indices");
  };
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Dims& data = args.inputs[0].dims;
    KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(args.node.attr_int("axis", 0), data.size(), args.node));
    const int64_t outer = element_count(data, 0, axis);
    const int64_t extent = data[axis];
    const int64_t inner = element_count(data, axis + 1, data.size());
    const int64_t index_count = element_count(args.inputs[1].dims);
    PreparedKernel prepared;
    prepared.enqueue = [outer, extent, inner, index_count](const LaunchArgs& launch) -> Status {
      const DeviceTensor& indices = launch.inputs[1];
      KILN_CUDA_CHECK_LAUNCH(launch_gather(dtype_size(launch.inputs[0].dtype), launch.inputs[0].data, indices.data,
                                           dtype_size(indices.dtype), launch.outputs[0].data, outer, extent,
                                           index_count, inner, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

CudaKernel pad_kernel() {
  CudaKernel k;
  k.supports = fixed_size_input;
  k.prepare = [](const PrepareArgs& args) -> Expected<PreparedKernel> {
    const Node& node = args.node;
    const Dims& in = args.inputs[0].dims;
    const int64_t rank = static_cast<int64_t>(in.size());
    KILN_RETURN_IF_ERROR(check_rank(node, in.size()));
    std::vector<int64_t> pads;
    double value = 0;
    std::vector<int64_t> axes;
    if (node.opset < 11) {
      pads = node.attr_ints("pads");
      value = node.attr_float("value", 0.0);
    } else {
      const Tensor* p = args.host_value(1);
      if (!p) return unimplemented(node.describe() + ": pads must be a constant (or computed from shapes) on CUDA");
      pads = p->to_int64_vector();
      if (args.has_input(2)) {
        const Tensor* v = args.host_value(2);
        if (!v) return unimplemented(node.describe() + ": the pad value must be a constant on the CUDA backend");
        if (v->element_count() > 0) value = v->scalar_as_double();
      }
      if (args.has_input(3)) {
        const Tensor* a = args.host_value(3);
        if (!a) return unimplemented(node.describe() + ": pad axes must be a constant on the CUDA backend");
        axes = a->to_int64_vector();
      }
    }
    if (axes.empty()) {
      for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
    }
    if (pads.size() != 2 * axes.size()) {
      return invalid_argument(node.describe() + ": " + std::to_string(pads.size()) + " pads for " +
                              std::to_string(axes.size()) + " axes");
    }
    PadParams params;
    params.rank = static_cast<int>(std::max<int64_t>(rank, 1));
    params.out_dims[0] = params.in_dims[0] = 1;
    Dims strides = contiguous_strides(in);
    const Dims& out = args.outputs[0].dims;
    for (int64_t d = 0; d < rank; ++d) {
      params.out_dims[d] = out[d];
      params.in_dims[d] = in[d];
      params.in_strides[d] = strides[d];
    }
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t axis = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (axis < 0 || axis >= rank) return invalid_argument(node.describe() + ": pad axis out of range");
      params.pad_begin[axis] = pads[i];
    }
    std::string mode = node.attr_string("mode", "constant");
    if (mode == "constant") params.mode = PadMode::kConstant;
    else if (mode == "reflect") params.mode = PadMode::kReflect;
    else if (mode == "edge") params.mode = PadMode::kEdge;
    else if (mode == "wrap") params.mode = PadMode::kWrap;
    else return unimplemented(node.describe() + ": pad mode '" + mode + "' is not supported");
    for (int64_t d = 0; d < rank; ++d) {
      if (params.mode != PadMode::kConstant && in[d] == 0 && out[d] > 0) {
        return invalid_argument(node.describe() + ": cannot " + mode + "-pad an empty axis");
      }
    }
    KILN_ASSIGN_OR_RETURN(Tensor typed, cast_tensor(Tensor::from_vector<double>(DataType::kFloat64, {}, {value}),
                                                    args.inputs[0].dtype));
    std::memcpy(&params.value_bits, typed.raw_data(), dtype_size(typed.dtype()));
    PreparedKernel prepared;
    prepared.enqueue = [params](const LaunchArgs& launch) -> Status {
      const DeviceTensor& out = launch.outputs[0];
      KILN_CUDA_CHECK_LAUNCH(launch_pad(dtype_size(out.dtype), launch.inputs[0].data, out.data, out.element_count(),
                                        params, launch.libraries.stream));
      return ok_status();
    };
    return prepared;
  };
  return k;
}

}  // namespace

void register_cuda_data_movement_kernels(CudaKernelTable& table) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}) table.add(op, copy_kernel());
  table.add("Dropout", dropout_kernel());
  table.add("Transpose", transpose_kernel());
  table.add("Expand", expand_kernel());
  table.add("Slice", slice_kernel());
  table.add("Concat", band_copy_kernel(false));
  table.add("Split", band_copy_kernel(true));
  table.add("Gather", gather_kernel());
  table.add("Pad", pad_kernel());
}

}  // namespace kiln::cuda
