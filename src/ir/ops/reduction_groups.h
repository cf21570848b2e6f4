// The reduction group's op schemas, split by family. Each function adds its
// ops to the IR op table; register_reduction_ops calls them all.
#pragma once

#include "ir/op_registry.h"

namespace kiln {

// ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax, ArgMin.
void register_reduce_ops(OpRegistry& registry);
// Softmax, LogSoftmax, Hardmax, TopK.
void register_softmax_ops(OpRegistry& registry);
// BatchNormalization, InstanceNormalization, LayerNormalization,
// GroupNormalization, LRN, MeanVarianceNormalization.
void register_normalization_ops(OpRegistry& registry);
// NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss.
void register_loss_ops(OpRegistry& registry);
// Einsum, Det.
void register_linalg_ops(OpRegistry& registry);

}  // namespace kiln
