#!/usr/bin/env python3
"""PyTorch peers for the GPU benchmark, and the ONNX exports Kiln builds from.

Exports ResNet-50 and BERT-base (random weights) to ONNX with a dynamic batch
axis, then times PyTorch on the same shapes in FP16 with the data already on
the device: eager, eager replayed in a CUDA graph, and (with --compile)
torch.compile(mode="max-autotune-no-cudagraphs") replayed in a CUDA graph.
With --channels-last, ResNet-50 weights and input use torch.channels_last
(NHWC), the layout PyTorch's FP16 convolutions are fastest in.
Timing: CUDA events around N back-to-back iterations after warm-up; the figure
is items/s = batch * N / elapsed and ms per iteration.

Writes one JSON object per configuration to --json (a list).
"""
import argparse
import json
import os
import time

import torch


def resnet50():
    import torchvision
    return torchvision.models.resnet50(weights=None)


class BertEncoder(torch.nn.Module):
    """BERT-base taking (input_ids, attention_mask) by position and returning
    the last hidden state, so that export and timing call it the same way."""

    def __init__(self):
        super().__init__()
        from transformers import BertConfig, BertModel
        config = BertConfig()  # bert-base: 12 layers, hidden 768, 12 heads
        config.attn_implementation = "eager"
        self.bert = BertModel(config, add_pooling_layer=False)

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def bert_base():
    return BertEncoder()


def make_inputs(model_name, batch, device, dtype=None):
    if model_name == "resnet50":
        x = torch.randn(batch, 3, 224, 224, device=device)
        return (x.to(dtype) if dtype else x,)
    ids = torch.randint(0, 30522, (batch, 128), device=device)
    mask = torch.ones(batch, 128, dtype=torch.int64, device=device)
    return (ids, mask)


def export_onnx(model_name, model, path):
    model = model.float().cpu().eval()
    inputs = make_inputs(model_name, 1, "cpu")
    if model_name == "resnet50":
        names, dyn = ["input"], {"input": {0: "batch"}, "output": {0: "batch"}}
    else:
        names = ["input_ids", "attention_mask"]
        dyn = {"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "output": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(model, inputs, path, input_names=names, output_names=["output"],
                          dynamic_axes=dyn, opset_version=17, dynamo=False)


def time_callable(fn, iterations, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        fn()
    stop.record()
    torch.cuda.synchronize()
    return start.elapsed_time(stop) / iterations  # ms per iteration


def graphed(fn):
    """Captures fn() into a CUDA graph and returns a replay function."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def bench(model_name, batch, modes, iterations, warmup, channels_last=False):
    model = (resnet50() if model_name == "resnet50" else bert_base()).cuda().half().eval()
    inputs = make_inputs(model_name, batch, "cuda", torch.float16 if model_name == "resnet50" else None)
    layout = ""
    if channels_last and model_name == "resnet50":
        model = model.to(memory_format=torch.channels_last)
        inputs = tuple(x.contiguous(memory_format=torch.channels_last) for x in inputs)
        layout = " (channels_last)"
    rows = []
    with torch.inference_mode():
        runners = {}
        if "eager" in modes:
            runners["torch eager"] = lambda: model(*inputs)
        if "cudagraph" in modes:
            runners["torch eager + CUDA graph"] = graphed(lambda: model(*inputs))
        if "compile" in modes:
            t0 = time.time()
            compiled = torch.compile(model, mode="max-autotune-no-cudagraphs")
            compiled(*inputs)
            compile_s = time.time() - t0
            runners["torch.compile max-autotune + CUDA graph"] = graphed(lambda: compiled(*inputs))
        for name, fn in runners.items():
            ms = time_callable(fn, iterations, warmup)
            name += layout
            row = {"model": model_name, "batch": batch, "runner": name, "ms_per_iter": ms,
                   "items_per_s": batch * 1000.0 / ms, "device": torch.cuda.get_device_name()}
            if "compile" in name:
                row["compile_s"] = compile_s
            rows.append(row)
            print(f"{model_name:9s} b{batch:<4d} {name:42s} {ms:8.3f} ms  {row['items_per_s']:10.1f} items/s", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--export-dir", default="")
    parser.add_argument("--models", default="resnet50,bert")
    parser.add_argument("--resnet-batches", default="1,128")
    parser.add_argument("--bert-batches", default="128")
    parser.add_argument("--modes", default="eager,cudagraph")
    parser.add_argument("--channels-last", action="store_true", help="ResNet-50 in torch.channels_last")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    models = args.models.split(",")
    if args.export_dir:
        os.makedirs(args.export_dir, exist_ok=True)
        for m in models:
            path = os.path.join(args.export_dir, f"{m}.onnx")
            export_onnx(m, resnet50() if m == "resnet50" else bert_base(), path)
            print("exported", path, flush=True)
    rows = []
    modes = args.modes.split(",")
    for m in models:
        batches = args.resnet_batches if m == "resnet50" else args.bert_batches
        for b in [int(x) for x in batches.split(",") if x]:
            rows += bench(m, b, modes, args.iterations, args.warmup, args.channels_last)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
