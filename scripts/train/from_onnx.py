"""Recover a PyTorch recogniser from a shipped model's ONNX files, so training can go on
from the model in the repository rather than from nothing.

Training checkpoints live in training/ and do not outlive the machine they were made on;
the ONNX files do. Every weight comes back by name, through the bias that follows it in
the graph:

- encoder.onnx is float32. Its convolutions carry their batch normalisation folded in
  (W' = W * g / s, b' = beta - g * m / s); each BatchNorm is set so that, in eval mode, it
  adds b' exactly. Its statistics are then measured on sample canvases (--calibrate), so
  that in training mode, which normalises by the batch's own statistics, the network
  computes nearly the same function.
- decoder.onnx holds its linear layers in int8 with a float32 scale per output column
  (quantize.py): they come back as int8 * scale, within half a step (1/126 of a column's
  largest weight) of the trained values. A few minutes of training make up the difference.

The checkpoint records where it came from and how long its source had trained, so the
model card can say how much training the next model had in all.

On the machine that trained the shipped model, its float weights are still at hand: with
--weights CHECKPOINT (that run's final.pt) they are used instead of the recovered ones,
once checked to be the ones the ONNX files were exported from.

  python3 scripts/train/from_onnx.py --model models/texmesh-v1 --calibrate training/data/dev \
      --out training/run/init.pt
"""
import argparse
import glob
import hashlib
import json
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper

import model as M

H, W = 64, 512


def _consumers(graph):
    out = {}
    for n in graph.node:
        for name in n.input:
            out.setdefault(name, []).append(n)
    return out


def _bias_after(output, consumers, inits, hops=6):
    """The name of the bias initializer added to `output` a few nodes on (MatMul -> Add,
    or the int8 pattern MatMulInteger -> Cast -> Mul -> Add)."""
    frontier = [output]
    for _ in range(hops):
        nxt = []
        for name in frontier:
            for n in consumers.get(name, []):
                if n.op_type == "Add":
                    other = [i for i in n.input if i != name]
                    if other and other[0] in inits:
                        return other[0]
                if n.op_type in ("Cast", "Mul", "Add"):
                    nxt += list(n.output)
        frontier = nxt
    return None


def _param_name(bias_name):
    """ONNX bias name -> the recogniser's weight name."""
    name = bias_name[: -len(".bias")] + ".weight"
    if name.startswith("dec."):
        return "decoder." + name[len("dec."):]
    if name.startswith("blocks."):  # the decoder's cross-attention keys/values, run in the encoder graph
        return "decoder." + name
    return name


def linear_weights(graph):
    """{parameter name: torch weight [out, in]} for every linear layer of a graph, float or int8."""
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers = _consumers(graph)
    found = {}
    for n in graph.node:
        if n.op_type == "MatMul" and n.input[1] in inits and inits[n.input[1]].ndim == 2:
            w = inits[n.input[1]].astype(np.float32)  # [in, out]
        elif n.op_type == "MatMulInteger" and n.input[1] in inits:
            scale = inits[n.input[1] + "_scale"] if n.input[1] + "_scale" in inits else None
            assert scale is not None, f"{n.name}: no scale for {n.input[1]}"
            w = inits[n.input[1]].astype(np.float32) * scale[None, :]
        elif n.op_type == "Gemm" and n.input[1] in inits:
            w = inits[n.input[1]].astype(np.float32)
            transposed = any(a.name == "transB" and a.i for a in n.attribute)
            w = w.T if transposed else w
        else:
            continue
        bias = n.input[2] if n.op_type == "Gemm" and len(n.input) > 2 else _bias_after(n.output[0], consumers, inits)
        assert bias and bias.endswith(".bias"), f"{n.name}: no named bias follows this linear layer"
        found[_param_name(bias)] = torch.from_numpy(np.ascontiguousarray(w.T))
    return found, inits


def conv_weights(graph, inits):
    """The encoder's convolutions in graph order: [(weight, bias)]."""
    return [(inits[n.input[1]], inits[n.input[2]] if len(n.input) > 2 else None)
            for n in graph.node if n.op_type == "Conv"]


def recover(model_dir, vocab):
    net = M.Recognizer(len(vocab))
    sd = net.state_dict()
    enc = onnx.load(os.path.join(model_dir, "encoder.onnx")).graph
    dec = onnx.load(os.path.join(model_dir, "decoder.onnx")).graph
    loaded = set()

    def put(name, value):
        value = torch.as_tensor(np.asarray(value, dtype=np.float32))
        assert name in sd, f"{name}: not a parameter of the recogniser"
        assert sd[name].shape == value.shape, f"{name}: {tuple(value.shape)} in ONNX, {tuple(sd[name].shape)} here"
        sd[name] = value.clone()
        loaded.add(name)

    for graph, prefix in ((enc, ""), (dec, "decoder.")):
        weights, inits = linear_weights(graph)
        for name, w in weights.items():
            put(name, w)
        for name, value in inits.items():
            key = prefix + name[len("dec."):] if name.startswith("dec.") else name
            if key in sd and key not in loaded and (name.endswith((".bias", ".weight", ".row", ".col"))):
                put(key, value)
        if graph is enc:
            for name in ("blocks.0.cross_att.kv.bias", "blocks.1.cross_att.kv.bias", "blocks.2.cross_att.kv.bias"):
                put("decoder." + name, inits[name])
            convs = conv_weights(graph, inits)
            # cnn.0-3 are conv + BatchNorm + ReLU (folded at export), cnn.5 a plain 1x1 convolution.
            assert len(convs) == 5, f"expected 5 convolutions in the encoder, found {len(convs)}"
            for i, (w, b) in enumerate(convs[:4]):
                put(f"encoder.cnn.{i}.0.weight", w)
                eps = net.encoder.cnn[i][1].eps
                put(f"encoder.cnn.{i}.1.running_mean", np.zeros_like(b))
                put(f"encoder.cnn.{i}.1.running_var", np.ones_like(b))
                put(f"encoder.cnn.{i}.1.weight", np.full_like(b, np.sqrt(1 + eps)))
                put(f"encoder.cnn.{i}.1.bias", b)
            put("encoder.cnn.5.weight", convs[4][0])
            put("encoder.cnn.5.bias", convs[4][1])
    missing = [k for k in sd if k not in loaded and not k.endswith("num_batches_tracked")]
    assert not missing, f"not found in the ONNX files: {missing}"
    net.load_state_dict(sd)
    return net


@torch.no_grad()
def calibrate(net, images):
    """Give each BatchNorm the mean and variance its convolution's output has on real canvases,
    keeping what it computes in eval mode: y + b' becomes (y - m) / s * s + (m + b')."""
    net.eval()
    stats = {}
    hooks = []
    for i in range(4):
        conv, bn = net.encoder.cnn[i][0], net.encoder.cnn[i][1]

        def hook(_mod, _inp, out, i=i):
            y = out.transpose(0, 1).reshape(out.shape[1], -1).double()
            s = stats.setdefault(i, [0, 0.0, 0.0])
            s[0] += y.shape[1]
            s[1] = s[1] + y.sum(1)
            s[2] = s[2] + (y * y).sum(1)

        hooks.append(conv.register_forward_hook(hook))
    for b in range(0, len(images), 32):
        net.encoder(images[b:b + 32])
    for h in hooks:
        h.remove()
    for i, (n, s1, s2) in stats.items():
        bn = net.encoder.cnn[i][1]
        mean = s1 / n
        var = (s2 / n - mean * mean).clamp_min(1e-6)
        shift = bn.bias - bn.weight * bn.running_mean / torch.sqrt(bn.running_var + bn.eps)  # = b'
        bn.running_mean.copy_(mean.float())
        bn.running_var.copy_(var.float())
        bn.weight.copy_(torch.sqrt(var.float() + bn.eps))
        bn.bias.copy_(mean.float() + shift)


def sample_canvases(folder, n):
    shard = sorted(glob.glob(os.path.join(folder, "shard-*.bin")))[0]
    imgs = np.memmap(shard, dtype=np.uint8, mode="r").reshape(-1, H, W)[:n]
    return torch.from_numpy(imgs.astype(np.float32) / 255.0)[:, None]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a shipped model folder (encoder.onnx, decoder.onnx, vocab.json, training.json)")
    ap.add_argument("--calibrate", required=True, help="a shard folder whose canvases set the BatchNorm statistics")
    ap.add_argument("--out", required=True, help="the checkpoint to write (train.py --init takes it)")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--weights", help="the trainer checkpoint the model was exported from (its final.pt): "
                                      "its float weights, checked against the ONNX files, replace the recovered ones")
    args = ap.parse_args()

    vocab = json.load(open(os.path.join(args.model, "vocab.json")))
    net = recover(args.model, vocab)
    x = sample_canvases(args.calibrate, args.samples)
    before = net.encoder.eval()(x[:8])
    calibrate(net, x)
    after = net.encoder.eval()(x[:8])
    drift = float((after - before).abs().max())
    assert drift < 1e-3, f"calibration changed the encoder's output by {drift}"
    if args.weights:
        net = exported_from(net, args.weights, vocab, x)

    # What the source model had behind it, for the next model card.
    info = json.load(open(os.path.join(args.model, "training.json"))).get("training", {})
    prior = info.get("prior") or []
    digest = hashlib.sha256()
    for f in ("encoder.onnx", "decoder.onnx", "vocab.json"):
        digest.update(open(os.path.join(args.model, f), "rb").read())
    version = json.load(open(os.path.join(args.model, "model.json"))).get("version")
    source = {"model": version or os.path.basename(os.path.normpath(args.model)), "sha256": digest.hexdigest()[:16],
              "steps": info.get("steps"), "samples_seen": info.get("samples_seen"), "minutes": info.get("minutes"),
              "hardware": info.get("hardware")}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save({"model": net.state_dict(), "vocab": vocab, "init": {"from": source, "prior": prior + [source]}}, args.out)
    with torch.no_grad():
        seqs = M.greedy(net, x[:3])
    parity = json.load(open(os.path.join(args.model, "parity.json")))
    print(f"recovered {sum(p.numel() for p in net.parameters()) / 1e6:.2f}M parameters from {args.model} -> {args.out}")
    print(f"greedy readings of the parity canvases that match the exported model's (parity.json): "
          f"{sum(a == b for a, b in zip(_parity_greedy(net, parity), parity['greedy']))} of {len(parity['greedy'])}")


@torch.no_grad()
def exported_from(recovered, path, vocab, x):
    """The checkpoint's network, if the ONNX files are its export: the encoder computes the same
    (eval mode), and every decoder weight is within the int8 step of the recovered one."""
    saved = torch.load(path, map_location="cpu")
    assert saved.get("vocab") == vocab, f"{path} has another vocabulary than the model"
    net = M.Recognizer(len(vocab))
    net.load_state_dict(saved["model"])
    net.eval()
    enc = float((net.encoder(x[:8]) - recovered.encoder.eval()(x[:8])).abs().max())
    mine = dict(net.named_parameters())
    dec = max(float(((p - mine[name]).abs().amax(dim=1) / mine[name].abs().amax(dim=1).clamp_min(1e-12)).max())
              for name, p in recovered.named_parameters() if name.startswith("decoder.") and p.ndim == 2)
    if enc > 1e-3 or dec > 1 / 100:
        raise SystemExit(f"{path} is not the checkpoint these ONNX files were exported from "
                         f"(encoder output differs by {enc:.2g}, a decoder weight by {dec:.2%} of its column)")
    print(f"float weights from {path} (encoder within {enc:.1g}, decoder within {dec:.2%} of the ONNX files)")
    return net


def _parity_greedy(net, parity):
    imgs = [np.frombuffer(__import__("base64").b64decode(s), dtype=np.uint8).reshape(H, W) for s in parity["images"]]
    x = torch.from_numpy(np.stack(imgs).astype(np.float32) / 255.0)[:, None]
    return M.greedy(net, x)


if __name__ == "__main__":
    main()
