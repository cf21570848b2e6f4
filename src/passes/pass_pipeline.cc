#include "passes/passes.h"

namespace kiln {

Status run_default_passes(Graph& graph) {
  KILN_ASSIGN_OR_RETURN(PassStats folded, fold_constants(graph));
  KILN_ASSIGN_OR_RETURN(PassStats noops, remove_noops(graph));
  KILN_ASSIGN_OR_RETURN(PassStats transposes, fold_reshaped_transposes(graph));
  KILN_ASSIGN_OR_RETURN(PassStats bn, fold_batchnorm(graph));
  KILN_ASSIGN_OR_RETURN(PassStats scales, fold_scale_into_matmul(graph));
  // Before the matmul fusion, which would otherwise take the attention mask's
  // Add as the score product's residual.
  KILN_ASSIGN_OR_RETURN(PassStats softmax, fuse_attention_softmax(graph));
  KILN_ASSIGN_OR_RETURN(PassStats attention, fuse_attention(graph));
  KILN_ASSIGN_OR_RETURN(PassStats fused, fuse_compute_with_pointwise(graph));
  KILN_ASSIGN_OR_RETURN(PassStats chains, fuse_pointwise_chains(graph));
  (void)folded; (void)noops; (void)transposes; (void)bn; (void)scales; (void)fused; (void)softmax; (void)attention; (void)chains;
  return eliminate_dead_nodes(graph);
}

}  // namespace kiln
