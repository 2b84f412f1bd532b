"""Export a trained recogniser to ONNX for onnxruntime-node: a v1 checkpoint (train.py, 64 x 512
canvases) or a v2 one (train2.py, glyph-normalised canvases of any size: the encoder's height and
width are dynamic, and its memory has as many positions as the canvas gives).

Writes to OUT (models/NAME): encoder.onnx, decoder.onnx, vocab.json,
training.json (recipe, steps, time, hardware), and parity.json: sample
canvases with PyTorch's outputs, which test/model.test.ts compares with
onnxruntime-node's.

  python3 scripts/train/export.py --checkpoint training/run/final.pt \
      --dev training/data/dev --out models/texmesh-v1
"""
import argparse
import base64
import json
import os
import platform

import numpy as np
import onnx
import torch

import model as M
import model2 as M2
from quantize import quantize

H, W = 64, 512


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--dev", required=True, help="a shard folder to take parity samples from")
    ap.add_argument("--out", required=True)
    ap.add_argument("--recipe", default="{}", help="JSON: how the data was made (seeds, counts, profiles)")
    ap.add_argument("--hardware", help="what the model was trained on (default: what the checkpoint says, else this machine)")
    args = ap.parse_args()

    saved = torch.load(args.checkpoint, map_location="cpu")
    vocab = saved["vocab"]
    recipe = saved.get("state", {}).get("recipe", {})
    v2 = recipe.get("arch", "v1") != "v1"
    if v2:
        net = M2.Recognizer2(len(vocab), recipe["arch"])
        # The counting head is a training-only loss: not part of the model.
        net.load_state_dict({k: v for k, v in saved["model"].items() if not k.startswith("count.")})
    else:
        net = M.Recognizer(len(vocab))
        net.load_state_dict(saved["model"])
    net.eval()
    M.EXPORTING = True
    os.makedirs(args.out, exist_ok=True)

    image = torch.zeros(1, 1, H, W)
    enc_path = os.path.join(args.out, "encoder.onnx")
    cross = M.CrossMemory(net).eval()
    layers, heads = len(net.decoder.blocks), net.decoder.blocks[0].self_att.h
    hd = net.decoder.d // heads
    ks = [f"cross_k{i}" for i in range(layers)]
    vs = [f"cross_v{i}" for i in range(layers)]
    if v2:
        # One image per run, of the canvas's own size.
        dyn_enc = {"image": {2: "height", 3: "width"}, "memory": {1: "positions"}}
        dyn_enc.update({k: {3: "positions"} for k in ks})
        dyn_enc.update({v: {2: "positions"} for v in vs})
        torch.onnx.export(cross, (torch.zeros(1, 1, 48, 320),), enc_path, input_names=["image"],
                          output_names=["memory", *ks, *vs], dynamic_axes=dyn_enc, opset_version=17)
    else:
        # One image per run, every shape fixed: the shape arithmetic folds away at export, and
        # batching regions bought nothing on a CPU (four images took four times as long as one).
        torch.onnx.export(cross, (image,), enc_path, input_names=["image"], output_names=["memory", *ks, *vs], opset_version=17)
    # The decoder step with a key/value cache per block; traced at position 2, with three rows
    # attending to slots of a cache of six.
    step = M.CachedDecoderStep(net.decoder).eval()
    crossed = cross(image)[1:]
    past = [torch.zeros(6, net.decoder.d) for _ in range(2 * layers)]
    pk = [f"past_k{i}" for i in range(layers)]
    pv = [f"past_v{i}" for i in range(layers)]
    nk = [f"new_k{i}" for i in range(layers)]
    nv = [f"new_v{i}" for i in range(layers)]
    dyn = {"token": {0: "rows"}, "history": {0: "rows", 1: "position"}, "logprobs": {0: "rows"}}
    dyn.update({name: {0: "slots"} for name in pk + pv})
    dyn.update({name: {0: "rows"} for name in nk + nv})
    if v2:
        # The image's positions vary with the canvas.
        dyn.update({k: {3: "positions"} for k in ks})
        dyn.update({v: {2: "positions"} for v in vs})
    dec_path = os.path.join(args.out, "decoder.onnx")
    torch.onnx.export(
        step, (torch.tensor([5, 6, 7]), torch.tensor([2]), torch.tensor([[0, 3], [0, 4], [0, 3]]), *crossed, *past), dec_path,
        input_names=["token", "position", "history", *ks, *vs, *pk, *pv], output_names=["logprobs", *nk, *nv],
        dynamic_axes=dyn, opset_version=17,
    )
    # The decoder runs once per token, so its linear layers go to int8 (quantize.py says why);
    # the encoder is convolutions, which int8 did not make faster, and stays float32.
    dec = onnx.load(dec_path)
    quantized = quantize(dec)
    onnx.save(dec, dec_path)
    for p in (enc_path, dec_path):
        onnx.checker.check_model(onnx.load(p))

    with open(os.path.join(args.out, "vocab.json"), "w") as f:
        json.dump(vocab, f)

    # Parity samples: PyTorch's greedy tokens and first-step log-probabilities.
    import glob
    shapes = None
    if v2:
        import glyph as G
        from data2 import Crops
        dev = Crops(args.dev, vocab, "ink")
        dev.scan()
        imgs = [G.glyph_canvas(*dev.crop(i), recipe["glyph"], recipe["max_h"], recipe["max_w"]) for i in range(3)]
        shapes = [list(i.shape) for i in imgs]
    else:
        shard = sorted(glob.glob(os.path.join(args.dev, "shard-*.bin")))[0]
        imgs = list(np.memmap(shard, dtype=np.uint8, mode="r").reshape(-1, H, W)[:3])
    with torch.no_grad():
        mems, seqs, firsts = [], [], []
        for img in imgs:
            x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None, None]
            mem = net.encoder(x)
            mems.append(mem[0])
            seqs += M.greedy(net, x)
            # Without the cache, so the test also checks the cached step against the plain one.
            firsts.append(M.DecoderStep(net.decoder)(mem, torch.full((1, 1), M.BOS, dtype=torch.long))[0])
        first = torch.stack(firsts)
        # The log-probability of each greedy token (and the end token) at its step, from one
        # uncached teacher-forced pass: the test follows the same path with the cached step.
        path_logprobs = []
        for i, seq in enumerate(seqs):
            ids = [M.BOS] + seq + ([M.EOS] if len(seq) < 159 else [])
            lp = torch.log_softmax(net.decoder(mems[i][None], torch.tensor([ids[:-1]])), dim=-1)[0]
            path_logprobs.append([round(float(lp[k, t]), 5) for k, t in enumerate(ids[1:])])
    parity = {
        "images": [base64.b64encode(np.ascontiguousarray(i).tobytes()).decode() for i in imgs],
        "greedy": seqs,
        "memory_sum": [float(m.sum()) for m in mems],
        **({"shapes": shapes} if shapes else {}),
        "first_logprobs": first.numpy().round(5).tolist(),
        "greedy_path_logprobs": path_logprobs,
        # PyTorch runs in float32 and the shipped decoder in int8: log-probabilities may differ by
        # this much (measured on these samples: up to 0.1 nats, 0.05 on the likely tokens).
        "first_logprobs_tolerance": 0.25,
    }
    with open(os.path.join(args.out, "parity.json"), "w") as f:
        json.dump(parity, f)

    st = saved.get("state", {})
    if v2:
        a = net.arch
        deep = list(a.get("deep", (0, 0)))
        cnn = ("v1's CNN (4 conv stages, widths [32, 48, 96, 128]" + (f", residual blocks {deep} at 1/8 and after the row pooling"
                                                                        if any(deep) else "")
               if a.get("layout") == "v1" else
               f"CNN (strided stem to 1/4, residual blocks {list(a['blocks'])[1:]} at 1/4 and 1/8, widths {list(a['widths'])}")
        arch_text = (f"{cnn}, rows of 16 px and columns of 8 px) + fixed and learned 2-D position code + "
                     f"{a['enc_layers']} transformer encoder block{'s' if a['enc_layers'] != 1 else ''} over the feature grid; {a['dec_layers']}-block transformer "
                     f"decoder; d={a['d']}, {a['heads']} heads; glyph-normalised canvases of any width; exported decoder step "
                     "with a key/value cache, its linear layers in int8 (per-column weight scales, activations quantized "
                     "at run time)")
        input_info = {"geometry": "glyph", "glyph": recipe["glyph"], "max_height": recipe["max_h"],
                      "max_width": recipe["max_w"], "dtype": "float32", "ink": 1.0, "paper": 0.0}
    else:
        arch_text = ("CNN (4 strided conv stages) + fixed and learned 2-D position code + 1 transformer "
                     "encoder block over a 4x64 grid; 3-block transformer decoder; d=192, 4 heads; "
                     "exported decoder step with a key/value cache, its linear layers in int8 "
                     "(per-column weight scales, activations quantized at run time)")
        input_info = {"shape": [1, 1, H, W], "dtype": "float32", "ink": 1.0, "paper": 0.0}
    info = {
        "architecture": arch_text,
        "decoder_interface": {"layers": layers, "heads": heads, "head_dim": hd, "int8_linear_layers": quantized},
        "parameters": sum(p.numel() for p in net.parameters()),
        "input": input_info,
        "special_tokens": {"pad": M.PAD, "bos": M.BOS, "eos": M.EOS, "unk": M.UNK},
        "max_length": 160,
        "training": {
            "steps": st.get("step"),
            "samples_seen": st.get("samples"),
            "minutes": round(st.get("elapsed", 0) / 60, 1),
            "dev_history": st.get("dev", []) if v2 else st.get("history", []),
            **({"loss_history": st.get("history", [])[::10]} if v2 else {}),
            "final_dev_greedy_exact": st.get("final_dev_exact"),
            # checkpoint.py ema: the moving average of the weights, with its own dev checks.
            **({"weights": st["weights"], "dev_history_moving_average": st.get("dev_ema", []),
                "final_dev_greedy_exact_moving_average": st.get("final_dev_exact_ema")} if st.get("weights") else {}),
            # Hyperparameters of this run, and the runs whose weights it started from (oldest first).
            "run": st.get("recipe"),
            "prior": st.get("prior", []),
            # Where this run's stretches ran (float32 on one core, bfloat16 on two, ...), from each start.
            "starts": st.get("starts", []),
            "hardware": args.hardware or st.get("hardware") or f"{platform.processor() or platform.machine()}, "
                        f"{torch.get_num_threads()} threads, PyTorch {torch.__version__}",
        },
        "recipe": json.loads(args.recipe),
    }
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(f"exported to {args.out}")


if __name__ == "__main__":
    main()
