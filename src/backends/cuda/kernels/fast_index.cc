#include "backends/cuda/kernels/fast_index.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>

namespace kiln::cuda {

FastDivisor make_fast_divisor(uint32_t divisor) {
  FastDivisor d;
  d.divisor = divisor;
  while ((uint64_t{1} << d.shift) < divisor) ++d.shift;
  const uint64_t one = 1;
  d.multiplier = static_cast<uint32_t>(((one << 32) * ((one << d.shift) - divisor)) / divisor + 1);
  return d;
}

StridedIndex collapse_index(const StridedIndex& index, int operands) {
  StridedIndex out;
  out.offsets[0] = index.offsets[0];
  out.offsets[1] = index.offsets[1];
  out.offsets[2] = index.offsets[2];
  // Walk from the innermost axis outwards, growing the current merged axis.
  int kept = 0;
  int64_t dims[kMaxRank];
  int64_t strides[3][kMaxRank];
  for (int d = index.rank - 1; d >= 0; --d) {
    const int64_t extent = index.dims[d];
    if (extent == 1) continue;
    if (kept > 0) {
      bool mergeable = true;
      for (int k = 0; k < operands; ++k) {
        mergeable &= index.strides[k][d] == strides[k][kept - 1] * dims[kept - 1];
      }
      if (mergeable) {
        dims[kept - 1] *= extent;
        continue;
      }
    }
    dims[kept] = extent;
    for (int k = 0; k < operands; ++k) strides[k][kept] = index.strides[k][d];
    ++kept;
  }
  if (kept == 0) {  // all unit axes (or rank 0): one element
    out.rank = 1;
    out.dims[0] = 1;
    return out;
  }
  out.rank = kept;
  for (int d = 0; d < kept; ++d) {  // back to outermost-first
    out.dims[d] = dims[kept - 1 - d];
    for (int k = 0; k < operands; ++k) out.strides[k][d] = strides[k][kept - 1 - d];
  }
  return out;
}

bool make_fast_index(const StridedIndex& index, int operands, FastIndex* fast) {
  constexpr int64_t kLimit = int64_t{1} << 31;
  int64_t count = 1;
  for (int d = 0; d < index.rank; ++d) {
    if (index.dims[d] < 1) return false;
    count *= index.dims[d];
    if (count >= kLimit) return false;
  }
  fast->rank = index.rank;
  for (int d = 0; d < index.rank; ++d) fast->dims[d] = make_fast_divisor(static_cast<uint32_t>(index.dims[d]));
  for (int k = 0; k < operands; ++k) {
    int64_t last = index.offsets[k];
    if (last < 0) return false;
    for (int d = 0; d < index.rank; ++d) {
      if (index.strides[k][d] < 0) return false;
      last += (index.dims[d] - 1) * index.strides[k][d];
      if (last >= kLimit) return false;
      fast->strides[k][d] = static_cast<uint32_t>(index.strides[k][d]);
    }
    fast->offsets[k] = static_cast<uint32_t>(index.offsets[k]);
  }
  return true;
}

int vector_width(const FastIndex& index, const VectorOperand* operands, int count, const void* out,
                 size_t out_element_bytes, int max_width) {
  const int inner = index.rank - 1;
  auto aligned = [](const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  const uint32_t width = static_cast<uint32_t>(max_width);
  if (width <= 1 || index.dims[inner].divisor % width != 0) return 1;
  if (!aligned(out, out_element_bytes * width)) return 1;
  for (int k = 0; k < count; ++k) {
    const uint32_t stride = index.strides[k][inner];
    if (stride == 0) continue;
    if (stride != 1 || index.offsets[k] % width != 0) return 1;
    if (!aligned(operands[k].data, operands[k].element_bytes * width)) return 1;
    for (int d = 0; d < inner; ++d) {
      if (index.strides[k][d] % width != 0) return 1;
    }
  }
  return max_width;
}

unsigned grid_for_device(int64_t items, int threads) {
  // Per-device multiprocessor counts, read once (the attribute query is cheap,
  // but launches are frequent).
  static std::atomic<int> multiprocessors[16] = {};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0) device = 0;
  int sms = device < 16 ? multiprocessors[device].load(std::memory_order_relaxed) : 0;
  if (sms == 0) {
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) sms = 108;
    if (device < 16) multiprocessors[device].store(sms, std::memory_order_relaxed);
  }
  const int64_t needed = (items + threads - 1) / threads;
  const int64_t cap = int64_t{sms} * (2048 / threads) * 4;
  return static_cast<unsigned>(std::clamp<int64_t>(needed, 1, cap));
}

}  // namespace kiln::cuda
