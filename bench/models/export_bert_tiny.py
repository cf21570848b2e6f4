#!/usr/bin/env python3
"""Exports models/bert_tiny.onnx: a transformers BertModel (2 layers, hidden
128, 2 heads of 64, FFN 256, vocabulary 500, random weights) through
torch.onnx.export (TorchScript exporter, opset 17), taking (input_ids,
attention_mask) int64 [batch, 128] and returning the last hidden state
[batch, 128, 128]. It is the exporter's own attention subgraph (head
reshapes and transposes, scaled_dot_product_attention with a boolean mask
expanded to [batch, 1, 128, 128], the NaN guard) at a size CI can run; the
test tests/models/test_bert_tiny.sh checks Kiln against onnxruntime on it.

Needs torch and transformers (the GPU host has both).
Usage: bench/models/export_bert_tiny.py OUTPUT.onnx
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
    dynamic = {"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "output": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), sys.argv[1], input_names=["input_ids", "attention_mask"],
                          output_names=["output"], dynamic_axes=dynamic, opset_version=17, dynamo=False)


if __name__ == "__main__":
    main()
