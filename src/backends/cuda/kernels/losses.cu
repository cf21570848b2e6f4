// Device code of NegativeLogLikelihoodLoss (SoftmaxCrossEntropyLoss reuses it
// after a log-softmax).
#include "backends/cuda/kernels/device_math.cuh"
#include "backends/cuda/kernels/reduction_launch.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T, typename I>
__global__ void nll_elements_kernel(const T* log_prob, const I* target, const T* weight, T* out, float* loss,
                                    float* weights, NllParams p) {
  KILN_GRID_STRIDE_LOOP(i, p.n * p.d) {
    const int64_t n = i / p.d, d = i % p.d;
    const int64_t t = static_cast<int64_t>(target[i]);
    float l = 0.f, w = 0.f;
    if (!(p.has_ignore && t == p.ignore_index) && t >= 0 && t < p.classes) {
      w = weight ? to_float(weight[t]) : 1.f;
      l = -to_float(log_prob[(n * p.classes + t) * p.d + d]) * w;
    }
    if (p.mode == 0) {
      out[i] = from_float<T>(l);
    } else {
      loss[i] = l;
      weights[i] = w;
    }
  }
}

// One block sums the per-element losses (and weights for the mean).
template <typename T>
__global__ void nll_reduce_kernel(const float* loss, const float* weights, int64_t count, T* out, bool mean) {
  __shared__ float loss_sum[kThreads];
  __shared__ float weight_sum[kThreads];
  float l = 0.f, w = 0.f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    l += loss[i];
    w += weights[i];
  }
  loss_sum[threadIdx.x] = l;
  weight_sum[threadIdx.x] = w;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      loss_sum[threadIdx.x] += loss_sum[threadIdx.x + stride];
      weight_sum[threadIdx.x] += weight_sum[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = from_float<T>(mean ? loss_sum[0] / weight_sum[0] : loss_sum[0]);
}

}  // namespace

cudaError_t launch_nll_loss(DataType dtype, const void* log_prob, const void* target, size_t index_bytes,
                            const void* weight, void* out, float* scratch, const NllParams& params,
                            cudaStream_t stream) {
  const int64_t count = params.n * params.d;
  if (index_bytes != 4 && index_bytes != 8) return cudaErrorInvalidValue;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    float* loss = scratch;
    float* weights = scratch ? scratch + count : nullptr;
    if (count > 0) {
      if (index_bytes == 4) {
        nll_elements_kernel<T, int32_t><<<grid_for(count), kThreads, 0, stream>>>(
            static_cast<const T*>(log_prob), static_cast<const int32_t*>(target), static_cast<const T*>(weight),
            static_cast<T*>(out), loss, weights, params);
      } else {
        nll_elements_kernel<T, int64_t><<<grid_for(count), kThreads, 0, stream>>>(
            static_cast<const T*>(log_prob), static_cast<const int64_t*>(target), static_cast<const T*>(weight),
            static_cast<T*>(out), loss, weights, params);
      }
    }
    if (params.mode != 0) {
      nll_reduce_kernel<T><<<1, kThreads, 0, stream>>>(loss, weights, count, static_cast<T*>(out), params.mode == 2);
    }
  };
  switch (dtype) {
    case DataType::kFloat32: launch(float{}); break;
    case DataType::kFloat16: launch(__half{}); break;
    case DataType::kBFloat16: launch(__nv_bfloat16{}); break;
    case DataType::kFloat64: launch(double{}); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace kiln::cuda
