// MatMul, Gemm, kiln.FusedMatMul and kiln.FusedGemm through cuBLASLt.
//
// Kiln tensors are row-major; cuBLASLt is column-major. A row-major Y[M,N] is a
// column-major Y^T[N,M], and Y^T = B^T A^T, so every call passes our B as
// cuBLASLt's first operand and our A as its second. A bias along Y's last axis
// is then a bias along the rows of cuBLASLt's D, which is what the BIAS
// epilogue adds. Batched MatMul uses strided batches (stride 0 for a broadcast
// operand, e.g. shared weights); other broadcast patterns issue one call per
// output matrix with offsets computed at shape time. The algorithm is the
// tactic the builder timed and stored in the node when it is valid for the
// actual shapes (cublasLtMatmulAlgoCheck), else the heuristic's first.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "backends/cuda/device_memory_pool.h"
#include "backends/cuda/kernel_tactics.h"
#include "backends/cuda/kernels/kernel_helpers.h"

namespace kiln::cuda {
namespace {

constexpr uint64_t kMaxMatmulWorkspace = uint64_t{32} << 20;

struct MatmulDescriptors {
  cublasLtMatmulDesc_t operation = nullptr;
  cublasLtMatrixLayout_t first = nullptr;   // our B
  cublasLtMatrixLayout_t second = nullptr;  // our A
  cublasLtMatrixLayout_t result = nullptr;  // C and D
  cublasLtMatmulPreference_t preference = nullptr;
  ~MatmulDescriptors() {
    if (operation) cublasLtMatmulDescDestroy(operation);
    if (first) cublasLtMatrixLayoutDestroy(first);
    if (second) cublasLtMatrixLayoutDestroy(second);
    if (result) cublasLtMatrixLayoutDestroy(result);
    if (preference) cublasLtMatmulPreferenceDestroy(preference);
  }
};

struct Offsets {
  int64_t a = 0, b = 0, y = 0;  // elements
};

struct MatmulPlan {
  std::shared_ptr<MatmulDescriptors> descriptors;
  cublasLtMatmulAlgo_t algorithm{};
  size_t workspace = 0;
  std::vector<Offsets> calls;  // one call per entry (a single entry for strided batches)
  size_t element_bytes = 4;
  float alpha = 1.f, beta = 0.f;
  int bias_input = -1;             // input index of the bias vector, or -1
  bool bias_in_epilogue = false;
  bool program_in_epilogue = false;  // Relu folded into the epilogue
  bool run_program = false;
  DeviceProgram program;
  int64_t n = 1;                    // columns of Y (bias length)
  int c_input = -1;                 // Gemm C broadcast into Y before the call (beta != 0)
  StridedIndex c_index;
  int residual_input = -1;          // FusedMatMul residual: read by cuBLASLt as C (beta = 1) when of Y's shape,
  bool residual_broadcast = false;  // else added by a broadcasting Add after the call
  StridedIndex residual_index;
};

struct MatmulShape {
  int64_t m = 1, k = 1, n = 1;
  bool trans_a = false, trans_b = false;
  int64_t batch = 1;
  std::vector<Offsets> calls;  // empty: strided batch with the strides below
  int64_t stride_a = 0, stride_b = 0;
};

Expected<cudaDataType_t> cublas_type(const Node& node, DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return CUDA_R_32F;
    case DataType::kFloat16: return CUDA_R_16F;
    case DataType::kBFloat16: return CUDA_R_16BF;
    default: return unsupported_cuda_dtype(node, dtype);
  }
}

// MatMul semantics (numpy matmul with batch broadcasting, 1-D operands promoted).
Expected<MatmulShape> matmul_shape(const Node& node, const Dims& a_dims, const Dims& b_dims) {
  MatmulShape s;
  if (a_dims.empty() || b_dims.empty()) return invalid_argument(node.describe() + ": MatMul of a scalar");
  Dims a = a_dims.size() == 1 ? Dims{1, a_dims[0]} : a_dims;
  Dims b = b_dims.size() == 1 ? Dims{b_dims[0], 1} : b_dims;
  s.m = a[a.size() - 2];
  s.k = a[a.size() - 1];
  s.n = b[b.size() - 1];
  if (b[b.size() - 2] != s.k) {
    return invalid_argument(node.describe() + ": MatMul inner dimensions differ: " + dims_to_string(a_dims) + " x " +
                            dims_to_string(b_dims));
  }
  Dims a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  const size_t rank = std::max(a_batch.size(), b_batch.size());
  a_batch.insert(a_batch.begin(), rank - a_batch.size(), 1);
  b_batch.insert(b_batch.begin(), rank - b_batch.size(), 1);
  Dims out_batch(rank);
  for (size_t i = 0; i < rank; ++i) {
    if (a_batch[i] != b_batch[i] && a_batch[i] != 1 && b_batch[i] != 1) {
      return invalid_argument(node.describe() + ": MatMul batch dimensions do not broadcast: " +
                              dims_to_string(a_dims) + " x " + dims_to_string(b_dims));
    }
    out_batch[i] = std::max(a_batch[i], b_batch[i]);
  }
  s.batch = element_count(out_batch);
  const int64_t a_count = element_count(a_batch), b_count = element_count(b_batch);
  auto simple = [&](const Dims& batch, int64_t count) { return count == 1 || batch == out_batch; };
  if (simple(a_batch, a_count) && simple(b_batch, b_count)) {
    s.stride_a = a_count == 1 ? 0 : s.m * s.k;
    s.stride_b = b_count == 1 ? 0 : s.k * s.n;
    return s;
  }
  // General broadcasting: one call per output matrix.
  Dims a_strides = contiguous_strides(a_batch), b_strides = contiguous_strides(b_batch);
  for (int64_t index = 0; index < s.batch; ++index) {
    int64_t rest = index, a_index = 0, b_index = 0;
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      int64_t coordinate = rest % out_batch[d];
      rest /= out_batch[d];
      if (a_batch[d] != 1) a_index += coordinate * a_strides[d];
      if (b_batch[d] != 1) b_index += coordinate * b_strides[d];
    }
    s.calls.push_back(Offsets{a_index * s.m * s.k, b_index * s.k * s.n, index * s.m * s.n});
  }
  return s;
}

Status set_layout_batch(cublasLtMatrixLayout_t layout, int64_t batch, int64_t stride) {
  int32_t count = static_cast<int32_t>(batch);
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                     sizeof(stride)));
  return ok_status();
}

// Descriptors for one epilogue; the preference caps the workspace (and, for
// per-call offsets, lowers the alignment cuBLASLt may assume).
Expected<std::shared_ptr<MatmulDescriptors>> create_descriptors(const PrepareArgs& args, const MatmulShape& s,
                                                                cublasLtEpilogue_t epilogue) {
  const DataType dtype = args.inputs[0].dtype;
  KILN_ASSIGN_OR_RETURN(cudaDataType_t type, cublas_type(args.node, dtype));
  auto descriptors = std::make_shared<MatmulDescriptors>();
  MatmulDescriptors& d = *descriptors;
  const cublasComputeType_t compute = dtype == DataType::kFloat32 && args.libraries.allow_tf32
                                          ? CUBLAS_COMPUTE_32F_FAST_TF32
                                          : CUBLAS_COMPUTE_32F;
  KILN_CUBLAS_CHECK(cublasLtMatmulDescCreate(&d.operation, compute, CUDA_R_32F));
  cublasOperation_t op_first = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_second = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.operation, CUBLASLT_MATMUL_DESC_TRANSA, &op_first,
                                                   sizeof(op_first)));
  KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.operation, CUBLASLT_MATMUL_DESC_TRANSB, &op_second,
                                                   sizeof(op_second)));
  KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.operation, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                                   sizeof(epilogue)));
  // Stored shapes (column-major view of row-major storage).
  const uint64_t first_rows = s.trans_b ? s.k : s.n, first_cols = s.trans_b ? s.n : s.k;
  const uint64_t second_rows = s.trans_a ? s.m : s.k, second_cols = s.trans_a ? s.k : s.m;
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.first, type, first_rows, first_cols, first_rows));
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.second, type, second_rows, second_cols, second_rows));
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.result, type, s.n, s.m, s.n));
  if (s.calls.empty() && s.batch > 1) {
    KILN_RETURN_IF_ERROR(set_layout_batch(d.first, s.batch, s.stride_b));
    KILN_RETURN_IF_ERROR(set_layout_batch(d.second, s.batch, s.stride_a));
    KILN_RETURN_IF_ERROR(set_layout_batch(d.result, s.batch, s.m * s.n));
  }
  KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&d.preference));
  uint64_t max_workspace = kMaxMatmulWorkspace;
  KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                         &max_workspace, sizeof(max_workspace)));
  if (!s.calls.empty()) {
    // Per-call offsets only guarantee element alignment.
    uint32_t alignment = static_cast<uint32_t>(dtype_size(dtype));
    for (auto attribute : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                           CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
      KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.preference, attribute, &alignment, sizeof(alignment)));
    }
  }
  return descriptors;
}

// Up to `count` algorithms in the heuristic's order; empty when it has none.
std::vector<cublasLtMatmulHeuristicResult_t> heuristic_algorithms(const PrepareArgs& args,
                                                                   const MatmulDescriptors& d, int count) {
  std::vector<cublasLtMatmulHeuristicResult_t> results(count);
  int returned = 0;
  cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(args.libraries.cublaslt, d.operation, d.first, d.second,
                                                         d.result, d.result, d.preference, count, results.data(),
                                                         &returned);
  if (status != CUBLAS_STATUS_SUCCESS) returned = 0;
  results.resize(returned);
  std::erase_if(results, [](const cublasLtMatmulHeuristicResult_t& r) { return r.state != CUBLAS_STATUS_SUCCESS; });
  return results;
}

const char* epilogue_name(cublasLtEpilogue_t epilogue) {
  switch (epilogue) {
    case CUBLASLT_EPILOGUE_BIAS: return "+bias";
    case CUBLASLT_EPILOGUE_RELU: return "+relu";
    case CUBLASLT_EPILOGUE_RELU_BIAS: return "+bias+relu";
    default: return "";
  }
}

// Tactic id "cublaslt:<epilogue>:<8 words of cublasLtMatmulAlgo_t in hex, '.'-separated>".
KernelTactic matmul_tactic(cublasLtEpilogue_t epilogue, const cublasLtMatmulAlgo_t& algo) {
  std::string id = "cublaslt:" + std::to_string(static_cast<int>(epilogue)) + ":";
  for (int i = 0; i < 8; ++i) {
    char word[20];
    std::snprintf(word, sizeof(word), "%s%016llx", i ? "." : "", static_cast<unsigned long long>(algo.data[i]));
    id += word;
  }
  // cuBLASLt wants the attribute's exact size: ask for it first (a zero-size
  // query), then read that many bytes of a little-endian integer.
  auto config = [&](cublasLtMatmulAlgoConfigAttributes_t attribute) -> long long {
    size_t size = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, nullptr, 0, &size) != CUBLAS_STATUS_SUCCESS ||
        size == 0 || size > sizeof(uint64_t)) {
      return -1;
    }
    uint64_t value = 0;
    size_t written = 0;
    if (cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, &value, size, &written) != CUBLAS_STATUS_SUCCESS) {
      return -1;
    }
    if (written < sizeof(uint64_t)) value &= (uint64_t{1} << (8 * written)) - 1;
    return static_cast<long long>(value);
  };
  std::string label = "cublaslt algo " + std::to_string(config(CUBLASLT_ALGO_CONFIG_ID)) + " tile " +
                      std::to_string(config(CUBLASLT_ALGO_CONFIG_TILE_ID)) + " stages " +
                      std::to_string(config(CUBLASLT_ALGO_CONFIG_STAGES_ID)) + " splitk " +
                      std::to_string(config(CUBLASLT_ALGO_CONFIG_SPLITK_NUM)) + " swizzle " +
                      std::to_string(config(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING));
  if (*epilogue_name(epilogue)) label += std::string(" ") + epilogue_name(epilogue);
  return KernelTactic{id, label};
}

bool parse_matmul_tactic(const std::string& id, cublasLtEpilogue_t* epilogue, cublasLtMatmulAlgo_t* algo) {
  int e = 0, consumed = 0;
  if (std::sscanf(id.c_str(), "cublaslt:%d:%n", &e, &consumed) != 1 || consumed == 0) return false;
  size_t at = static_cast<size_t>(consumed);
  for (int i = 0; i < 8; ++i) {
    if (i > 0) {
      if (at >= id.size() || id[at] != '.') return false;
      ++at;
    }
    if (at + 16 > id.size()) return false;
    const std::string word = id.substr(at, 16);
    if (word.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
    algo->data[i] = std::stoull(word, nullptr, 16);
    at += 16;
  }
  if (at != id.size()) return false;
  *epilogue = static_cast<cublasLtEpilogue_t>(e);
  return true;
}

constexpr int kMatmulCandidates = 8;

// Descriptors, algorithm and workspace in `plan`, and the epilogue they use:
// the requested tactic (forced by the builder, or stored in the node for these
// shapes) when cublasLtMatmulAlgoCheck accepts it here, else the heuristic's
// first algorithm with `preferred`, else with no epilogue. With
// args.candidates, lists the heuristic's top algorithms (with `preferred`, or
// with no epilogue when it has none). Calls with per-call offsets keep to the
// heuristic: a stored algorithm may assume an alignment they lack.
Expected<cublasLtEpilogue_t> choose_matmul_algorithm(const PrepareArgs& args, const MatmulShape& s,
                                                     cublasLtEpilogue_t preferred, MatmulPlan& plan) {
  const bool tactics = s.calls.empty();
  std::vector<cublasLtEpilogue_t> epilogues = {preferred};
  if (preferred != CUBLASLT_EPILOGUE_DEFAULT) epilogues.push_back(CUBLASLT_EPILOGUE_DEFAULT);
  if (args.candidates && tactics) {
    for (cublasLtEpilogue_t epilogue : epilogues) {
      KILN_ASSIGN_OR_RETURN(auto d, create_descriptors(args, s, epilogue));
      auto results = heuristic_algorithms(args, *d, kMatmulCandidates);
      for (const auto& r : results) args.candidates->push_back(matmul_tactic(epilogue, r.algo));
      if (!results.empty()) break;
    }
  }
  auto requested = tactics ? requested_tactic(args, args.inputs[0].dtype) : std::nullopt;
  if (!tactics && args.tactic) {
    return unimplemented(args.node.describe() + ": broadcast batches run with the heuristic's algorithm only");
  }
  if (requested) {
    cublasLtEpilogue_t epilogue;
    cublasLtMatmulAlgo_t algo{};
    std::string why;
    if (!parse_matmul_tactic(requested->tactic.id, &epilogue, &algo)) {
      why = "is not a cuBLASLt matmul tactic";
    } else if (std::find(epilogues.begin(), epilogues.end(), epilogue) == epilogues.end()) {
      why = "uses an epilogue this node cannot use";
    } else {
      KILN_ASSIGN_OR_RETURN(auto d, create_descriptors(args, s, epilogue));
      cublasLtMatmulHeuristicResult_t check{};
      cublasStatus_t status = cublasLtMatmulAlgoCheck(args.libraries.cublaslt, d->operation, d->first, d->second,
                                                      d->result, d->result, &algo, &check);
      if (status != CUBLAS_STATUS_SUCCESS) {
        why = std::string("is not valid for ") + dims_to_string(args.inputs[0].dims) + " x " +
              dims_to_string(args.inputs[1].dims) + " (cublasLtMatmulAlgoCheck: " + cublasLtGetStatusString(status) +
              ")";
      } else if (check.workspaceSize > kMaxMatmulWorkspace) {
        why = "needs " + std::to_string(check.workspaceSize) + " bytes of workspace, more than the limit of " +
              std::to_string(kMaxMatmulWorkspace);
      } else {
        plan.descriptors = std::move(d);
        plan.algorithm = algo;
        plan.workspace = check.workspaceSize;
        return epilogue;
      }
    }
    KILN_RETURN_IF_ERROR(reject_tactic(args.node, *requested, why));
  }
  // Try the richest epilogue first, then plain matmul with a separate kernel.
  for (cublasLtEpilogue_t epilogue : epilogues) {
    KILN_ASSIGN_OR_RETURN(auto d, create_descriptors(args, s, epilogue));
    auto results = heuristic_algorithms(args, *d, 1);
    if (results.empty()) continue;
    plan.descriptors = std::move(d);
    plan.algorithm = results[0].algo;
    plan.workspace = results[0].workspaceSize;
    return epilogue;
  }
  return unimplemented(args.node.describe() + ": cuBLASLt offers no algorithm for " +
                       dims_to_string(args.inputs[0].dims) + " x " + dims_to_string(args.inputs[1].dims));
}

Status float_operands(const Node& node, const std::vector<TensorInfo>& inputs) {
  if (inputs.size() < 2) return invalid_argument(node.describe() + ": needs two operands");
  KILN_RETURN_IF_ERROR(require_dtype(node, inputs[0].dtype, kFloatTypes));
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].dtype != DataType::kUndefined && inputs[i].dtype != inputs[0].dtype) {
      return unimplemented(node.describe() + ": input " + std::to_string(i) + " has type " +
                           dtype_name(inputs[i].dtype) + ", input 0 has " + dtype_name(inputs[0].dtype));
    }
  }
  return ok_status();
}

enum class MatmulKind { kMatMul, kGemm };

Expected<PreparedKernel> prepare_matmul(const PrepareArgs& args, MatmulKind kind, bool fused) {
  const Node& node = args.node;
  MatmulShape shape;
  MatmulPlan plan;
  plan.element_bytes = dtype_size(args.inputs[0].dtype);
  if (kind == MatmulKind::kGemm) {
    const Dims& a = args.inputs[0].dims;
    const Dims& b = args.inputs[1].dims;
    if (a.size() != 2 || b.size() != 2) {
      return invalid_argument(node.describe() + ": Gemm needs 2-D operands, got " + dims_to_string(a) + " and " +
                              dims_to_string(b));
    }
    shape.trans_a = node.attr_int("transA", 0) != 0;
    shape.trans_b = node.attr_int("transB", 0) != 0;
    shape.m = shape.trans_a ? a[1] : a[0];
    shape.k = shape.trans_a ? a[0] : a[1];
    shape.n = shape.trans_b ? b[0] : b[1];
    plan.alpha = static_cast<float>(node.attr_float("alpha", 1.0));
    const float beta = static_cast<float>(node.attr_float("beta", 1.0));
    if (args.has_input(2) && beta != 0.f) {
      const Dims& c = args.inputs[2].dims;
      const bool row_vector = (c.size() == 1 && c[0] == shape.n) || (c.size() == 2 && c[0] == 1 && c[1] == shape.n);
      if (row_vector && beta == 1.f && shape.n > 1) {
        plan.bias_input = 2;
      } else {
        plan.c_input = 2;
        plan.beta = beta;
        KILN_ASSIGN_OR_RETURN(plan.c_index, broadcast_index(node, Dims{shape.m, shape.n}, {c}));
      }
    }
  } else {
    KILN_ASSIGN_OR_RETURN(shape, matmul_shape(node, args.inputs[0].dims, args.inputs[1].dims));
    if (fused && args.has_input(2)) {
      if (element_count(args.inputs[2].dims) != shape.n) {
        return invalid_argument(node.describe() + ": bias of shape " + dims_to_string(args.inputs[2].dims) +
                                " does not match the last axis (" + std::to_string(shape.n) + ")");
      }
      plan.bias_input = 2;
    }
    if (fused && args.has_input(3)) {
      const Dims& out_dims = args.outputs[0].dims;
      if (element_count(out_dims) != shape.batch * shape.m * shape.n) {
        return unimplemented(node.describe() + ": residual of shape " + dims_to_string(args.inputs[3].dims) +
                             " makes the output " + dims_to_string(out_dims) +
                             " larger than the product; the CUDA backend adds such a residual only unfused "
                             "(kiln build --no-optimize)");
      }
      plan.residual_input = 3;
      if (args.inputs[3].dims == out_dims) {
        plan.beta = 1.f;
      } else {
        // The fusion accepted axes it could not compare; a residual that would
        // grow the product has no place in this node's output.
        auto index = broadcast_index(node, out_dims, {out_dims, args.inputs[3].dims});
        if (!index.ok()) {
          return invalid_argument(node.describe() + ": residual of shape " + dims_to_string(args.inputs[3].dims) +
                                  " does not broadcast into the product's shape " + dims_to_string(out_dims) +
                                  " (build without optimisation to keep the Add)");
        }
        plan.residual_broadcast = true;
        plan.residual_index = *index;
      }
    }
  }
  plan.n = shape.n;
  plan.calls = shape.calls.empty() ? std::vector<Offsets>{Offsets{}} : shape.calls;

  PointwiseProgram program;
  if (fused) {
    KILN_ASSIGN_OR_RETURN(program, PointwiseProgram::load(node));
  }
  const bool relu = program_is_relu(program);
  const bool has_bias = plan.bias_input >= 0;
  cublasLtEpilogue_t preferred = CUBLASLT_EPILOGUE_DEFAULT;
  if (has_bias) preferred = relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  else if (relu) preferred = CUBLASLT_EPILOGUE_RELU;
  KILN_ASSIGN_OR_RETURN(cublasLtEpilogue_t epilogue, choose_matmul_algorithm(args, shape, preferred, plan));
  if (epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    plan.bias_in_epilogue = has_bias;
    plan.program_in_epilogue = relu;
  }
  plan.run_program = (has_bias && !plan.bias_in_epilogue) || (!program.empty() && !plan.program_in_epilogue);
  if (plan.run_program) {
    KILN_ASSIGN_OR_RETURN(plan.program, to_device_program(node, plan.program_in_epilogue ? PointwiseProgram{} : program));
  }

  PreparedKernel prepared;
  prepared.workspace_bytes = plan.workspace;
  prepared.enqueue = [plan](const LaunchArgs& launch) -> Status {
    const MatmulDescriptors& d = *plan.descriptors;
    const CudaLibraries& lib = launch.libraries;
    const DeviceTensor& y = launch.outputs[0];
    if (y.element_count() == 0) return ok_status();
    const void* bias = plan.bias_input >= 0 ? launch.inputs[plan.bias_input].data : nullptr;
    if (plan.bias_in_epilogue) {
      KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.operation, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                                       sizeof(bias)));
    }
    if (plan.c_input >= 0) {
      KILN_CUDA_CHECK_LAUNCH(launch_strided_copy(plan.element_bytes, launch.inputs[plan.c_input].data, y.data,
                                                 y.element_count(), plan.c_index, lib.stream));
    }
    const char* a = static_cast<const char*>(launch.inputs[0].data);
    const char* b = static_cast<const char*>(launch.inputs[1].data);
    char* out = static_cast<char*>(y.data);
    const char* residual =
        plan.residual_input >= 0 ? static_cast<const char*>(launch.inputs[plan.residual_input].data) : nullptr;
    const size_t eb = plan.element_bytes;
    for (const Offsets& call : plan.calls) {
      void* d_ptr = out + call.y * eb;
      const void* c_ptr = residual && !plan.residual_broadcast ? residual + call.y * eb : d_ptr;
      KILN_CUBLAS_CHECK(cublasLtMatmul(lib.cublaslt, d.operation, &plan.alpha, b + call.b * eb, d.first,
                                       a + call.a * eb, d.second, &plan.beta, c_ptr, d.result, d_ptr, d.result,
                                       &plan.algorithm, launch.workspace, plan.workspace, lib.stream));
    }
    if (plan.residual_broadcast) {
      KILN_CUDA_CHECK_LAUNCH(launch_binary(y.dtype, BinaryOp::kAdd, y.data, residual, y.data, y.element_count(),
                                           plan.residual_index, lib.stream));
    }
    if (plan.run_program) {
      KILN_RETURN_IF_ERROR(enqueue_program(y, plan.bias_in_epilogue ? nullptr : bias, 1, plan.n, plan.program,
                                           lib.stream));
    }
    return ok_status();
  };
  return prepared;
}

CudaKernel matmul_kernel(MatmulKind kind, bool fused) {
  CudaKernel k;
  k.supports = float_operands;
  k.prepare = [kind, fused](const PrepareArgs& args) { return prepare_matmul(args, kind, fused); };
  k.has_tactics = true;
  return k;
}

}  // namespace

void register_cuda_matmul_kernels(CudaKernelTable& table) {
  table.add("MatMul", matmul_kernel(MatmulKind::kMatMul, false));
  table.add("Gemm", matmul_kernel(MatmulKind::kGemm, false));
  table.add("FusedMatMul", matmul_kernel(MatmulKind::kMatMul, true), "kiln");
  table.add("FusedGemm", matmul_kernel(MatmulKind::kGemm, true), "kiln");
}

}  // namespace kiln::cuda
