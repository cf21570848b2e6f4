#include "ir/shape_inference.h"

namespace kiln {

TensorInfo info_of(const Value& value) {
  TensorInfo info;
  info.dtype = value.dtype;
  if (value.constant) {
    info.dtype = value.constant->dtype();
    info.dims = value.constant->dims();
    return info;
  }
  if (!value.shape.is_ranked()) {
    info.dims_known = false;
    return info;
  }
  info.dims = value.shape.known_dims();
  return info;
}

Shape shape_of(const TensorInfo& info) {
  if (!info.dims_known) return Shape::unranked();
  return Shape::from_dims(info.dims);
}

Status infer_graph_shapes(Graph& graph) {
  KILN_ASSIGN_OR_RETURN(auto order, graph.topological_order());
  const OpRegistry& registry = OpRegistry::global();
  for (Node* node : order) {
    InferContext context{*node, {}, {}};
    for (Value* in : node->inputs) {
      if (!in) {
        context.inputs.push_back(TensorInfo{});
        context.values.push_back(nullptr);
        continue;
      }
      context.inputs.push_back(info_of(*in));
      context.values.push_back(in->constant ? &*in->constant : nullptr);
    }
    KILN_ASSIGN_OR_RETURN(auto outputs, registry.infer(context));
    for (size_t i = 0; i < node->outputs.size() && i < outputs.size(); ++i) {
      Value* out = node->outputs[i];
      if (!out) continue;
      if (outputs[i].dtype != DataType::kUndefined) out->dtype = outputs[i].dtype;
      Shape inferred = shape_of(outputs[i]);
      // Keep symbolic names the model declared where inference knows nothing better.
      if (out->shape.is_ranked() && inferred.is_ranked() && out->shape.rank() == inferred.rank()) {
        for (size_t d = 0; d < inferred.rank(); ++d) {
          if (!inferred.dims()[d].is_known()) inferred.dims()[d] = out->shape.dims()[d];
        }
      }
      if (inferred.is_ranked() || !out->shape.is_ranked()) out->shape = inferred;
    }
  }
  return ok_status();
}

}  // namespace kiln
