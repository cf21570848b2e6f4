#!/usr/bin/env python3
"""Exports models/bert_tiny.onnx: a transformers BertModel (2 layers, hidden
128, 2 heads of 64, FFN 256, vocabulary 500, random weights) through
torch.onnx.export (TorchScript exporter, opset 17), taking (input_ids,
attention_mask) int64 [batch, 128] and returning the last hidden state
[batch, 128, 128]. It is the exporter's own attention subgraph (head
reshapes and transposes, scaled_dot_product_attention with a boolean mask
expanded to [batch, 1, 128, 128], the NaN guard) at a size CI can run; the
test tests/models/test_bert_tiny.sh checks Kiln against onnxruntime on it.

With --dynamo the export goes through torch.export (opset 20), the default
exporter of recent PyTorch: models/bert_tiny_dynamo.onnx. That exporter
writes the key transpose as Reshape / Transpose / Reshape with the shapes
read back through Shape, Slice and Concat.

Needs torch and transformers (the GPU host has both).
Usage: bench/models/export_bert_tiny.py OUTPUT.onnx [--dynamo]
"""
import sys

import torch
from transformers import BertConfig, BertModel


class TinyBert(torch.nn.Module):
    def __init__(self):
        super().__init__()
        config = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
                            vocab_size=500)
        self.bert = BertModel(config, add_pooling_layer=False)

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def main():
    torch.manual_seed(0)
    model = TinyBert().eval()
    ids = torch.randint(0, 500, (1, 128))
    mask = torch.ones(1, 128, dtype=torch.int64)
    names = {"input_names": ["input_ids", "attention_mask"], "output_names": ["output"]}
    with torch.no_grad():
        if "--dynamo" in sys.argv[2:]:
            batch = torch.export.Dim("batch", min=1, max=1024)
            torch.onnx.export(model, (ids.expand(2, -1), mask.expand(2, -1)), sys.argv[1], **names,
                              dynamic_shapes=({0: batch}, {0: batch}), dynamo=True, external_data=False)
        else:
            dynamic = {"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "output": {0: "batch"}}
            torch.onnx.export(model, (ids, mask), sys.argv[1], **names, dynamic_axes=dynamic, opset_version=17,
                              dynamo=False)


if __name__ == "__main__":
    main()
