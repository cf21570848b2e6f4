// Shared by the CUDA tests: each test skips, saying why, on a machine without
// a usable CUDA device (CI builds and links the CUDA backend without one).
#pragma once

#if KILN_WITH_CUDA

#include <gtest/gtest.h>

#include "backends/cuda/cuda_resources.h"

#define SKIP_WITHOUT_DEVICE()                                                            \
  do {                                                                                   \
    ::kiln::Expected<int> devices = ::kiln::cuda::device_count();                        \
    if (!devices.ok()) GTEST_SKIP() << "no CUDA device: " << devices.status().message(); \
  } while (0)

#endif  // KILN_WITH_CUDA
