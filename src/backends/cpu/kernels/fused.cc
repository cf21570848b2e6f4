// CPU kernels of the fused ops: run the base kernel, then the pointwise
// program in place, block by block so each instruction runs as a tight loop.
#include <algorithm>
#include <cmath>

#include "backends/cpu/cpu_kernels.h"
#include "core/dispatch.h"
#include "ir/pointwise_program.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kBlock = 256;

void run_block(const PointwiseProgram& p, float* data, int64_t n, std::vector<float>& regs) {
  const size_t count = p.code.size() + 1;
  regs.resize(count * kBlock);
  std::copy(data, data + n, regs.data());
  for (size_t i = 0; i < p.code.size(); ++i) {
    const PointwiseInstruction& ins = p.code[i];
    float* out = regs.data() + (i + 1) * kBlock;
    const float* a = ins.a >= 0 ? regs.data() + ins.a * kBlock : nullptr;
    const float* b = ins.b >= 0 ? regs.data() + ins.b * kBlock : nullptr;
    const float ca = ins.a < 0 ? p.constants[-1 - ins.a] : 0.f;
    const float cb = ins.b < 0 ? p.constants[-1 - ins.b] : 0.f;
    const float p0 = ins.p0, p1 = ins.p1;
    auto A = [&](int64_t j) { return a ? a[j] : ca; };
    auto B = [&](int64_t j) { return b ? b[j] : cb; };
    switch (ins.op) {
      case PointwiseOp::kRelu: for (int64_t j = 0; j < n; ++j) out[j] = std::max(A(j), 0.f); break;
      case PointwiseOp::kSigmoid: for (int64_t j = 0; j < n; ++j) out[j] = 1.f / (1.f + std::exp(-A(j))); break;
      case PointwiseOp::kTanh: for (int64_t j = 0; j < n; ++j) out[j] = std::tanh(A(j)); break;
      case PointwiseOp::kErf: for (int64_t j = 0; j < n; ++j) out[j] = std::erf(A(j)); break;
      case PointwiseOp::kExp: for (int64_t j = 0; j < n; ++j) out[j] = std::exp(A(j)); break;
      case PointwiseOp::kLog: for (int64_t j = 0; j < n; ++j) out[j] = std::log(A(j)); break;
      case PointwiseOp::kSqrt: for (int64_t j = 0; j < n; ++j) out[j] = std::sqrt(A(j)); break;
      case PointwiseOp::kAbs: for (int64_t j = 0; j < n; ++j) out[j] = std::fabs(A(j)); break;
      case PointwiseOp::kNeg: for (int64_t j = 0; j < n; ++j) out[j] = -A(j); break;
      case PointwiseOp::kReciprocal: for (int64_t j = 0; j < n; ++j) out[j] = 1.f / A(j); break;
      case PointwiseOp::kFloor: for (int64_t j = 0; j < n; ++j) out[j] = std::floor(A(j)); break;
      case PointwiseOp::kCeil: for (int64_t j = 0; j < n; ++j) out[j] = std::ceil(A(j)); break;
      case PointwiseOp::kSoftplus: for (int64_t j = 0; j < n; ++j) out[j] = std::log1p(std::exp(A(j))); break;
      case PointwiseOp::kSoftsign: for (int64_t j = 0; j < n; ++j) out[j] = A(j) / (1.f + std::fabs(A(j))); break;
      case PointwiseOp::kHardSwish:
        for (int64_t j = 0; j < n; ++j) out[j] = A(j) * std::clamp(A(j) / 6.f + 0.5f, 0.f, 1.f);
        break;
      case PointwiseOp::kSign: for (int64_t j = 0; j < n; ++j) out[j] = A(j) > 0 ? 1.f : (A(j) < 0 ? -1.f : 0.f); break;
      case PointwiseOp::kLeakyRelu: for (int64_t j = 0; j < n; ++j) out[j] = A(j) >= 0 ? A(j) : p0 * A(j); break;
      case PointwiseOp::kElu: for (int64_t j = 0; j < n; ++j) out[j] = A(j) >= 0 ? A(j) : p0 * (std::exp(A(j)) - 1.f); break;
      case PointwiseOp::kSelu:
        for (int64_t j = 0; j < n; ++j) out[j] = A(j) > 0 ? p1 * A(j) : p1 * p0 * (std::exp(A(j)) - 1.f);
        break;
      case PointwiseOp::kHardSigmoid: for (int64_t j = 0; j < n; ++j) out[j] = std::clamp(p0 * A(j) + p1, 0.f, 1.f); break;
      case PointwiseOp::kClip: for (int64_t j = 0; j < n; ++j) out[j] = std::min(p1, std::max(p0, A(j))); break;
      case PointwiseOp::kCelu:
        for (int64_t j = 0; j < n; ++j) out[j] = std::max(0.f, A(j)) + std::min(0.f, p0 * (std::exp(A(j) / p0) - 1.f));
        break;
      case PointwiseOp::kThresholdedRelu: for (int64_t j = 0; j < n; ++j) out[j] = A(j) > p0 ? A(j) : 0.f; break;
      case PointwiseOp::kAdd: for (int64_t j = 0; j < n; ++j) out[j] = A(j) + B(j); break;
      case PointwiseOp::kSub: for (int64_t j = 0; j < n; ++j) out[j] = A(j) - B(j); break;
      case PointwiseOp::kMul: for (int64_t j = 0; j < n; ++j) out[j] = A(j) * B(j); break;
      case PointwiseOp::kDiv: for (int64_t j = 0; j < n; ++j) out[j] = A(j) / B(j); break;
      case PointwiseOp::kPow: for (int64_t j = 0; j < n; ++j) out[j] = std::pow(A(j), B(j)); break;
      case PointwiseOp::kMax: for (int64_t j = 0; j < n; ++j) out[j] = std::max(A(j), B(j)); break;
      case PointwiseOp::kMin: for (int64_t j = 0; j < n; ++j) out[j] = std::min(A(j), B(j)); break;
      case PointwiseOp::kCount: break;
    }
  }
  std::copy(regs.data() + (count - 1) * kBlock, regs.data() + (count - 1) * kBlock + n, data);
}

template <typename Half>
void run_half_block(const PointwiseProgram& p, Half* data, int64_t n, std::vector<float>& regs, float* scratch) {
  for (int64_t j = 0; j < n; ++j) scratch[j] = static_cast<float>(data[j]);
  run_block(p, scratch, n, regs);
  for (int64_t j = 0; j < n; ++j) data[j] = Half(scratch[j]);
}

// float32 runs in place; float16 and bfloat16 are widened to float per block.
Status apply_program(const Node& node, Tensor& tensor) {
  KILN_ASSIGN_OR_RETURN(PointwiseProgram program, PointwiseProgram::load(node));
  if (program.empty()) return ok_status();
  const DataType dtype = tensor.dtype();
  if (dtype != DataType::kFloat32 && dtype != DataType::kFloat16 && dtype != DataType::kBFloat16) {
    return unsupported_dtype(node, dtype, "output");
  }
  const int64_t n = tensor.element_count();
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel
  {
    std::vector<float> regs;
    float scratch[kBlock];
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      int64_t begin = b * kBlock;
      int64_t count = std::min(kBlock, n - begin);
      if (dtype == DataType::kFloat32) run_block(program, tensor.data<float>() + begin, count, regs);
      else if (dtype == DataType::kFloat16) run_half_block(program, tensor.data<Float16>() + begin, count, regs, scratch);
      else run_half_block(program, tensor.data<BFloat16>() + begin, count, regs, scratch);
    }
  }
  return ok_status();
}

// out += residual, broadcasting through the Add kernel when shapes differ (the
// sum may be larger than the product, as the Add it replaced could be).
Status add_residual(const Node& node, Tensor& out, const Tensor& residual) {
  if (residual.dims() == out.dims() && out.dtype() == DataType::kFloat32 && residual.dtype() == DataType::kFloat32) {
    float* o = out.data<float>();
    const float* r = residual.data<float>();
    const int64_t n = out.element_count();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) o[i] += r[i];
    return ok_status();
  }
  Node add;
  add.name = node.name + "_residual";
  add.op_type = "Add";
  add.opset = 14;
  add.inputs.resize(2, nullptr);
  add.outputs.resize(1, nullptr);
  auto sum = evaluate_node(add, {&out, &residual});
  if (!sum.ok()) return sum.status().with_context(node.describe() + ": adding the residual " + residual.describe());
  out = (*sum)[0];
  return ok_status();
}

CpuKernel fused_kernel(const std::string& base, bool matmul_bias) {
  CpuKernel k;
  k.run = [base, matmul_bias](KernelArgs& args) -> Status {
    const CpuKernel* kernel = KernelTable::global().find(base, "");
    if (!kernel) return unimplemented(args.node.describe() + ": base op " + base + " has no CPU kernel");
    std::vector<const Tensor*> base_inputs = args.inputs;
    const Tensor* bias = nullptr;
    const Tensor* residual = nullptr;
    if (matmul_bias && base_inputs.size() > 2) {
      bias = base_inputs[2];
      if (base_inputs.size() > 3) residual = base_inputs[3];
      base_inputs.resize(2);
    }
    if (base == "Conv" && base_inputs.size() > 3) {
      residual = base_inputs[3];
      base_inputs.resize(3);
    }
    KernelArgs base_args{args.node, base_inputs, args.outputs, args.output_info};
    KILN_RETURN_IF_ERROR(kernel->run(base_args));
    Tensor& out = args.outputs[0];
    if (bias && out.dtype() != DataType::kFloat32) {
      // Half types: add the bias through the broadcasting Add kernel.
      KILN_RETURN_IF_ERROR(add_residual(args.node, out, *bias));
      bias = nullptr;
    }
    if (bias) {
      if (bias->dtype() != DataType::kFloat32) return unsupported_dtype(args.node, bias->dtype(), "bias");
      const int64_t n = bias->element_count();
      const int64_t rows = out.element_count() / n;
      float* o = out.data<float>();
      const float* b = bias->data<float>();
#pragma omp parallel for if (rows > 64)
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < n; ++j) o[r * n + j] += b[j];
      }
    }
    if (residual) KILN_RETURN_IF_ERROR(add_residual(args.node, out, *residual));
    return apply_program(args.node, out);
  };
  return k;
}

// One step of a fused op, run through the CPU kernel of the op it replaced.
Node step_node(const Node& fused, const std::string& op, int inputs, const std::string& domain = "") {
  Node n;
  n.name = fused.name + "_" + op;
  n.op_type = op;
  n.domain = domain;
  n.opset = domain.empty() ? 14 : 1;
  n.inputs.resize(inputs, nullptr);
  n.outputs.resize(1, nullptr);
  if (op == "Softmax") n.attributes["axis"] = Attribute::of_int(-1);
  return n;
}

Node transpose_node(const Node& fused, std::vector<int64_t> perm) {
  Node n = step_node(fused, "Transpose", 1);
  n.attributes["perm"] = Attribute::of_ints(std::move(perm));
  return n;
}

// kiln.MaskedSoftmax as the ops it replaced: Add (broadcasting), Softmax over
// the last axis, then NaN -> 0.
CpuKernel masked_softmax_kernel() {
  CpuKernel k;
  k.run = [](KernelArgs& args) -> Status {
    auto helper = [&args](const char* op, int inputs) { return step_node(args.node, op, inputs); };
    const Tensor* scores = &args.input(0);
    std::vector<Tensor> sum;
    if (args.has_input(1)) {
      KILN_ASSIGN_OR_RETURN(sum, evaluate_node(helper("Add", 2), {scores, &args.input(1)}));
      scores = &sum[0];
    }
    KILN_ASSIGN_OR_RETURN(auto softmax, evaluate_node(helper("Softmax", 1), {scores}));
    Tensor out = std::move(softmax[0]);
    if (args.node.attr_int("nan_to_zero", 0) != 0) {
      const bool handled = dispatch_float(out.dtype(), [&out]<typename T>() {
        for (T& v : out.span<T>()) {
          if (std::isnan(static_cast<double>(static_cast<float>(v)))) v = T(0.f);
        }
      });
      if (!handled) return unsupported_dtype(args.node, out.dtype());
    }
    args.output(0) = std::move(out);
    return ok_status();
  };
  return k;
}

// kiln.Attention as the ops it replaced: the head transposes, the score
// product, its scale, the masked softmax, the product with V and the
// transpose back.
CpuKernel attention_kernel() {
  CpuKernel k;
  k.run = [](KernelArgs& args) -> Status {
    const Node& node = args.node;
    const std::vector<int64_t> heads_first = {0, 2, 1, 3};
    auto one = [&node](const Node& step, std::vector<const Tensor*> inputs) -> Expected<Tensor> {
      auto out = evaluate_node(step, inputs);
      if (!out.ok()) return out.status().with_context(node.describe());
      return std::move((*out)[0]);
    };
    KILN_ASSIGN_OR_RETURN(Tensor q, one(transpose_node(node, heads_first), {&args.input(0)}));
    KILN_ASSIGN_OR_RETURN(Tensor k, one(transpose_node(node, {0, 2, 3, 1}), {&args.input(1)}));
    KILN_ASSIGN_OR_RETURN(Tensor v, one(transpose_node(node, heads_first), {&args.input(2)}));
    KILN_ASSIGN_OR_RETURN(Tensor scores, one(step_node(node, "MatMul", 2), {&q, &k}));
    const float scale = static_cast<float>(node.attr_float("scale", 1.0));
    if (scale != 1.f) {
      const bool handled = dispatch_float(scores.dtype(), [&scores, scale]<typename T>() {
        for (T& x : scores.span<T>()) x = T(static_cast<float>(x) * scale);
      });
      if (!handled) return unsupported_dtype(node, scores.dtype());
    }
    Node softmax = step_node(node, "MaskedSoftmax", args.has_input(3) ? 2 : 1, "kiln");
    softmax.attributes["nan_to_zero"] = Attribute::of_int(node.attr_int("nan_to_zero", 0));
    std::vector<const Tensor*> softmax_inputs = {&scores};
    if (args.has_input(3)) softmax_inputs.push_back(&args.input(3));
    KILN_ASSIGN_OR_RETURN(Tensor p, one(softmax, softmax_inputs));
    KILN_ASSIGN_OR_RETURN(Tensor o, one(step_node(node, "MatMul", 2), {&p, &v}));
    KILN_ASSIGN_OR_RETURN(args.output(0), one(transpose_node(node, heads_first), {&o}));
    return ok_status();
  };
  return k;
}

}  // namespace

void register_fused_kernels(KernelTable& table) {
  table.add("MaskedSoftmax", masked_softmax_kernel(), "kiln");
  table.add("Attention", attention_kernel(), "kiln");
  table.add("FusedConv", fused_kernel("Conv", false), "kiln");
  table.add("FusedGemm", fused_kernel("Gemm", false), "kiln");
  table.add("FusedMatMul", fused_kernel("MatMul", true), "kiln");
  CpuKernel chain;
  chain.run = [](KernelArgs& args) -> Status {
    const Tensor& in = args.input(0);
    Tensor out = in.clone();
    KILN_RETURN_IF_ERROR(apply_program(args.node, out));
    args.output(0) = std::move(out);
    return ok_status();
  };
  table.add("PointwiseChain", chain, "kiln");
}

}  // namespace kiln::cpu
