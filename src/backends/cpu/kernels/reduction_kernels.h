// The reduction group's CPU kernels, split by family; register_reduction_kernels
// calls them all.
#pragma once

#include "backends/cpu/cpu_kernels.h"

namespace kiln::cpu {

void register_reduce_kernels(KernelTable& table);         // Reduce*, ArgMax, ArgMin
void register_softmax_kernels(KernelTable& table);        // Softmax, LogSoftmax, Hardmax
void register_topk_kernels(KernelTable& table);           // TopK
void register_normalization_kernels(KernelTable& table);  // BatchNorm, InstanceNorm, LayerNorm, GroupNorm
void register_local_norm_kernels(KernelTable& table);     // LRN, MeanVarianceNormalization
void register_loss_kernels(KernelTable& table);           // NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
void register_einsum_kernels(KernelTable& table);         // Einsum
void register_det_kernels(KernelTable& table);            // Det

}  // namespace kiln::cpu
