#!/usr/bin/python3
# tests/zoo/gen_zoo.py: generates the model-zoo test fixtures.
#
# Owns: the list of zoo models and how each is built, exported and fed.
# Every model is built by torch/torchvision with random weights from a fixed
# seed (derived from the model name, so --only gives the same bytes as a full
# run), put in eval mode and exported to ONNX at batch 1.  torch's own output
# on the same input is the reference the lagrange executor is tested against
# (see DESIGN.md, "Oracles").  For each model it writes OUTDIR/<model>/:
#   model.onnx           the exported model (onnx.checker-clean)
#   in_<name>.npy        one per graph input (float32; token ids int64)
#   ref_<name>.npy       one per graph output, computed by torch
#   meta.json            {"inputs":[{"name","file"}], "outputs":[{"name","file"}],
#                         "opset":N, "params":N, ...}
# Inputs are deterministic (same bytes across runs); the .onnx bytes need not
# be.  Run with /usr/bin/python3 (Debian's torch 1.13), never the python3 on
# PATH.  tests/zoo/zoo.sh caches the output keyed on this file's hash, so any
# edit here regenerates the zoo.
#
# usage: gen_zoo.py OUTDIR [--only a,b,...]
#        gen_zoo.py --list

import argparse
import json
import os
import sys
import time
import zlib

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision.models as tvm


# ---------------------------------------------------------------- models


def vision(ctor, **kw):
    """A torchvision classifier with random weights, 1x3x224x224 input."""
    def build():
        return ctor(weights=None, **kw)
    return build


class CausalBlock(nn.Module):
    """Pre-LN GPT block: x + attn(ln(x)); x + mlp(ln(x))."""

    def __init__(self, d, nhead, dff):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, nhead, dropout=0.0)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, dff)
        self.act = nn.GELU()          # exact (erf) GELU
        self.fc2 = nn.Linear(dff, d)

    def forward(self, x, mask):
        # x: [seq, batch, d] (MultiheadAttention's batch_first=False layout)
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, attn_mask=mask, need_weights=False)
        x = x + a
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


class CausalDecoder(nn.Module):
    """A small GPT-style decoder: tokens [1, T] int64 -> logits [1, T, vocab]."""

    def __init__(self, vocab=256, d=128, nhead=4, layers=2, dff=512, ctx=64):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.nhead = nhead
        self.blocks = nn.ModuleList(
            [CausalBlock(d, nhead, dff) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        b, t = ids.shape
        pos = torch.arange(t, device=ids.device).unsqueeze(0)
        x = self.tok(ids) + self.pos(pos)                    # [b, t, d]
        # The causal mask is built here, from a tensor that depends on the
        # input's values, so that the exporter's constant folding cannot
        # fold it away: the graph keeps Trilu, Where and Expand for the
        # executor to run.  (ids * 0 + 1) is all ones, shape [b, t].
        ones = (ids[0] * 0 + 1).to(torch.float32)            # [t]
        square = ones.unsqueeze(0) * ones.unsqueeze(1)       # [t, t]
        upper = torch.triu(square, diagonal=1) > 0           # Trilu
        zero = torch.zeros_like(square)
        mask = zero.masked_fill(upper, float("-inf"))        # Where
        mask = mask.unsqueeze(0).expand(b * self.nhead, t, t)  # Expand
        x = x.transpose(0, 1)                                # [t, b, d]
        for blk in self.blocks:
            x = blk(x, mask)
        x = self.ln_f(x).transpose(0, 1)                     # [b, t, d]
        return self.head(x)


def transformer_enc():
    layer = nn.TransformerEncoderLayer(
        d_model=128, nhead=4, dim_feedforward=256, dropout=0.0,
        activation="gelu", batch_first=False)
    return nn.TransformerEncoder(layer, num_layers=2,
                                 enable_nested_tensor=False)


IMG = ("input", (1, 3, 224, 224), "float32")

# name -> (builder, opset, [(input name, shape, dtype)], [output names])
MODELS = {
    "resnet18": (vision(tvm.resnet18), 13, [IMG], ["output"]),
    "mobilenet_v2": (vision(tvm.mobilenet_v2), 13, [IMG], ["output"]),
    "mobilenet_v3_small": (vision(tvm.mobilenet_v3_small), 13, [IMG],
                           ["output"]),
    "efficientnet_b0": (vision(tvm.efficientnet_b0), 13, [IMG], ["output"]),
    # init_weights=True uses torch.nn.init.trunc_normal_ (no scipy needed);
    # aux heads off so eval returns one tensor.
    "googlenet": (vision(tvm.googlenet, aux_logits=False, init_weights=True),
                  13, [IMG], ["output"]),
    "densenet121": (vision(tvm.densenet121), 13, [IMG], ["output"]),
    "squeezenet1_1": (vision(tvm.squeezenet1_1), 13, [IMG], ["output"]),
    "shufflenet_v2_x1_0": (vision(tvm.shufflenet_v2_x1_0), 13, [IMG],
                           ["output"]),
    "mnasnet0_5": (vision(tvm.mnasnet0_5), 13, [IMG], ["output"]),
    "regnet_y_400mf": (vision(tvm.regnet_y_400mf), 13, [IMG], ["output"]),
    "alexnet": (vision(tvm.alexnet), 13, [IMG], ["output"]),
    # opset 13: LayerNorm is written out (ReduceMean/Sub/Pow/Sqrt/Div).
    "transformer_enc": (transformer_enc, 13,
                        [("input", (16, 1, 128), "float32")], ["output"]),
    # opset 17: LayerNorm becomes the LayerNormalization op.
    "transformer_enc_op17": (transformer_enc, 17,
                             [("input", (16, 1, 128), "float32")], ["output"]),
    "causal_decoder": (CausalDecoder, 14,
                       [("tokens", (1, 16), "int64")], ["logits"]),
}


# ---------------------------------------------------------------- export


def seed_of(name):
    # Per-model seed, independent of which other models are generated.
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def calibrate_bn(model, gen, shape):
    """Set every BatchNorm's running stats from a batch of random inputs.

    Freshly initialised torchvision models have running mean 0 / var 1 in
    every BatchNorm, and with their init the activations of deep nets shrink
    layer by layer: efficientnet_b0's logits come out near 1e-14, which would
    make the fixture test nothing but the final bias.  Recomputing the stats
    (only the BN layers in train mode; dropout and stochastic depth stay in
    eval) keeps every layer's output near unit scale, as a trained net's is.
    """
    bns = [m for m in model.modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None            # cumulative average over the batch
        m.train()
    x = torch.randn((4,) + tuple(shape[1:]), generator=gen)
    with torch.no_grad():
        model(x)
    model.eval()


def make_input(gen, shape, dtype):
    if dtype == "int64":
        return torch.randint(0, 256, shape, generator=gen, dtype=torch.int64)
    return torch.randn(shape, generator=gen, dtype=torch.float32)


def safe(name):
    return "".join(c if (c.isalnum() or c in "._-") else "_" for c in name)


def generate(name, outdir):
    build, opset, ins, outs = MODELS[name]
    seed = seed_of(name)
    torch.manual_seed(seed)
    model = build().eval()
    gen = torch.Generator().manual_seed(seed ^ 0x5EED)
    if ins[0][2] == "float32":
        calibrate_bn(model, torch.Generator().manual_seed(seed ^ 0xCA1B),
                     ins[0][1])
    tensors = [make_input(gen, shape, dt) for (_, shape, dt) in ins]

    with torch.no_grad():
        ref = model(*tensors)
    if isinstance(ref, torch.Tensor):
        ref = (ref,)
    assert len(ref) == len(outs), (name, len(ref))

    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(
            model, tuple(tensors), path,
            input_names=[n for (n, _, _) in ins], output_names=outs,
            opset_version=opset, do_constant_folding=True,
            training=torch.onnx.TrainingMode.EVAL)

    m = onnx.load(path)
    onnx.checker.check_model(m)
    onnx_params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)

    meta = {"inputs": [], "outputs": [], "opset": opset,
            "params": sum(p.numel() for p in model.parameters()),
            "onnx_params": onnx_params, "seed": seed,
            "torch": torch.__version__}
    for (n, _, _), t in zip(ins, tensors):
        f = "in_%s.npy" % safe(n)
        np.save(os.path.join(d, f), t.numpy())
        meta["inputs"].append({"name": n, "file": f,
                               "shape": list(t.shape),
                               "dtype": str(t.numpy().dtype)})
    for n, t in zip(outs, ref):
        f = "ref_%s.npy" % safe(n)
        a = t.detach().numpy().astype(np.float32)
        if not np.all(np.isfinite(a)):
            raise RuntimeError("%s: reference output %s not finite" % (name, n))
        np.save(os.path.join(d, f), a)
        meta["outputs"].append({"name": n, "file": f, "shape": list(a.shape),
                                "dtype": str(a.dtype)})
    with open(os.path.join(d, "meta.json"), "w") as fp:
        json.dump(meta, fp, indent=1, sort_keys=True)
        fp.write("\n")
    ops = sorted({n.op_type for n in m.graph.node})
    return meta, ops


def main():
    ap = argparse.ArgumentParser(description="generate the lagrange model-zoo fixtures")
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--list", action="store_true", help="print model names")
    a = ap.parse_args()
    if a.list:
        print("\n".join(MODELS))
        return 0
    if not a.outdir:
        ap.error("OUTDIR is required")
    names = list(MODELS)
    if a.only:
        names = [n for n in a.only.split(",") if n]
        bad = [n for n in names if n not in MODELS]
        if bad:
            ap.error("unknown model(s): %s" % ",".join(bad))
    torch.set_grad_enabled(False)
    os.makedirs(a.outdir, exist_ok=True)
    for n in names:
        t0 = time.time()
        meta, ops = generate(n, a.outdir)
        print("%-22s opset %2d  params %9d  %5.1fs  ops %s" % (
            n, meta["opset"], meta["params"], time.time() - t0, " ".join(ops)),
            file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
