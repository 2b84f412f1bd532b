"""Train a texmesh v2 recogniser on clean renders (scripts/datagen/build.ts --format clean),
degraded and scaled on the fly (glyph.py), so that a sample costs a training step, not a TeX run.

Runs for a budget of training minutes (counted across restarts), with a learning rate that
follows it (warm-up, then cosine), checkpoints every few minutes and resumes from the last
checkpoint. A background process makes the batches: samples of about one canvas width go
together, as many as fit a pixel budget, so short formulas cost little. Uses a CUDA GPU (with
mixed precision) when one is present. Shards that appear while it runs are picked up.

  OMP_NUM_THREADS=2 python3 scripts/train/train2.py --data training/v2/clean --dev training/v2/dev \\
      --vocab models/texmesh-v1/vocab.json --out training/v2/run --minutes 600
"""
import argparse
from contextlib import nullcontext
import glob
import hashlib
import json
import math
import os
import platform
import random
import signal
import time

import numpy as np
import torch
from torch import nn

import glyph as G
from common import log, lr_at
from model import BOS, EOS, PAD, UNK, Recognizer, greedy
from model2 import ARCHS, Recognizer2, greedy_cached

MAX_TOKENS = 150
RESTART_WARMUP_STEPS = 300


class Crops:
    """All finished crop shards (clean-*.jsonl or ink-*.jsonl + .bin) in a folder, or in several
    (comma-separated), memory-mapped."""

    def __init__(self, folder, vocab, prefix):
        self.folders, self.prefix = [f for f in folder.split(",") if f], prefix
        self.index = {t: i for i, t in enumerate(vocab)}
        self.rows, self.labels, self.maps, self.names = [], [], [], set()

    def scan(self):
        added = 0
        for jl in sorted(j for f in self.folders for j in glob.glob(os.path.join(f, f"{self.prefix}-*.jsonl"))):
            name = os.path.abspath(jl)
            if name in self.names:
                continue
            rows = [json.loads(l) for l in open(jl) if l.strip()]
            data = np.memmap(jl[: -len(".jsonl")] + ".bin", dtype=np.uint8, mode="r")
            s = len(self.maps)
            self.maps.append(data)
            for r in rows:
                ids = [self.index.get(t, UNK) for t in r["tokens"].split(" ")]
                if len(ids) > MAX_TOKENS:
                    continue
                self.rows.append((s, r["offset"], r["h"], r["w"], r["glyph"]))
                self.labels.append(ids)
            self.names.add(name)
            added += len(rows)
        return added

    def __len__(self):
        return len(self.labels)

    def crop(self, i):
        s, off, h, w, g = self.rows[i]
        return np.asarray(self.maps[s][off: off + h * w]).reshape(h, w), g


def canvas_for(geometry, crop, glyph, args):
    if geometry == "squeeze":
        return G.squeeze_canvas(crop)
    return G.glyph_canvas(crop, glyph, args.glyph, args.max_h, args.max_w)


def collate(canvases, seqs):
    hmax = max(c.shape[0] for c in canvases)
    wmax = max(c.shape[1] for c in canvases)
    x = np.zeros((len(canvases), 1, hmax, wmax), np.uint8)
    for j, c in enumerate(canvases):
        x[j, 0, : c.shape[0], : c.shape[1]] = c
    t = max(len(s) for s in seqs) + 2
    tok = np.full((len(seqs), t), PAD, dtype=np.int64)
    for j, s in enumerate(seqs):
        tok[j, : len(s) + 2] = [BOS] + s + [EOS]
    return torch.from_numpy(x), torch.from_numpy(tok)


class Batches(torch.utils.data.IterableDataset):
    """Endless batches: shuffled samples, degraded and scaled, grouped by canvas size under a pixel budget."""

    def __init__(self, args, vocab, seed):
        self.args, self.vocab, self.seed = args, vocab, seed

    def __iter__(self):
        import cv2
        cv2.setNumThreads(1)
        torch.set_num_threads(1)
        # A stop signal sent to the whole process group is the trainer's to handle (it saves first):
        # the batch maker goes on until the trainer is done with it.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        a = self.args
        data = Crops(a.data, self.vocab, "clean")
        rng = random.Random(self.seed)
        while True:
            if data.scan() == 0 and len(data) == 0:
                time.sleep(10)
                continue
            order = list(range(len(data)))
            rng.shuffle(order)
            for c in range(0, len(order), a.pool):
                made = []
                for i in order[c: c + a.pool]:
                    crop, g = data.crop(i)
                    page = G.degrade(crop, g, rng)
                    got = G.pipeline_crop(page)
                    if got is None:
                        continue
                    canvas = canvas_for(a.geometry, got[0], got[1], a)
                    made.append((canvas, data.labels[i]))
                # Canvases of one height together, by width: a batch pads little (94 % of its pixels are
                # canvas with a pool of 4,096, against 62 % sorting by width alone).
                made.sort(key=lambda m: (m[0].shape[0], m[0].shape[1]))
                groups, cur = [], []
                for m in made:
                    h = max([m[0].shape[0]] + [q[0].shape[0] for q in cur])
                    if cur and (m[0].shape[0] != cur[0][0].shape[0] or (len(cur) + 1) * h * m[0].shape[1] > a.pixels
                                or len(cur) >= a.max_batch):
                        groups.append(cur)
                        cur = []
                    cur.append(m)
                if cur:
                    groups.append(cur)
                rng.shuffle(groups)
                for grp in groups:
                    yield collate([m[0] for m in grp], [m[1] for m in grp])
            data.scan()


def dev_set(folder, vocab, geometry, args):
    """Dev canvases (the pipeline's crops, scaled as inference scales them), sorted by width."""
    if not folder:
        return None
    d = Crops(folder, vocab, "ink")
    d.scan()
    items = []
    for i in range(min(len(d), args.dev_count)):
        crop, g = d.crop(i)
        items.append((canvas_for(geometry, crop, g, args), d.labels[i]))
    items.sort(key=lambda m: m[0].shape[1])
    return items


def fingerprint(dev):
    """A short hash of the dev canvases and labels. Dev is rendered again from its seed on every
    new machine; a check on other pixels (TeX missing, say) is not a point on the same curve."""
    h = hashlib.sha256()
    for canvas, label in dev:
        h.update(np.ascontiguousarray(canvas).tobytes())
        h.update(json.dumps(label).encode())
    return h.hexdigest()[:12]


@torch.no_grad()
def evaluate(model, dev, device, n=None):
    """Greedy exact match, and by length band (1-20, 21-40, 41-60, 61-90, 91+)."""
    if not dev:
        return None
    items = dev if n is None else dev[:: max(1, len(dev) // n)]
    model.eval()
    right, bands = 0, {}
    nll, ntok = 0.0, 0
    for b in range(0, len(items), 32):
        part = items[b: b + 32]
        x, tok = collate([m[0] for m in part], [m[1] for m in part])
        x, tok = x.to(device).float() / 255.0, tok.to(device)
        logits = model(x, tok[:, :-1])
        nll += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tok[:, 1:].reshape(-1),
                                           ignore_index=PAD, reduction="sum").item()
        ntok += int((tok[:, 1:] != PAD).sum())
        out = greedy_cached(model, x, max_len=max(len(m[1]) for m in part) + 2)
        for m, seq in zip(part, out):
            ok = seq == m[1]
            right += ok
            L = len(m[1])
            band = "1-20" if L <= 20 else "21-40" if L <= 40 else "41-60" if L <= 60 else "61-90" if L <= 90 else "91+"
            t = bands.setdefault(band, [0, 0])
            t[0] += ok
            t[1] += 1
    model.train()
    return right / len(items), {k: round(v[0] / v[1], 3) for k, v in sorted(bands.items())}, nll / ntok


def symbol_counts(tok, vocab_size):
    """[B, V] how often each token appears in each label (the special tokens not counted)."""
    c = torch.zeros(tok.shape[0], vocab_size)
    c.scatter_add_(1, tok, torch.ones_like(tok, dtype=torch.float32))
    c[:, :4] = 0
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder of clean-*.jsonl/.bin shards, or several, comma-separated")
    ap.add_argument("--dev", help="folder of ink-*.jsonl/.bin shards for the greedy exact-match check")
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=600)
    ap.add_argument("--arch", default="enc2dec2", help=f"one of {', '.join(ARCHS)}, or v1 (model.py, squeeze only)")
    ap.add_argument("--geometry", default="glyph", choices=["glyph", "squeeze"])
    ap.add_argument("--glyph", type=float, default=16, help="typical glyph size on the canvas, px")
    ap.add_argument("--max-h", type=int, default=128)
    ap.add_argument("--max-w", type=int, default=2048)
    ap.add_argument("--pixels", type=int, default=1 << 20, help="canvas pixels per batch")
    ap.add_argument("--max-batch", type=int, default=96)
    ap.add_argument("--pool", type=int, default=4096, help="samples sorted together into batches")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=float, default=0.03)
    ap.add_argument("--count-loss", type=float, default=0.0, help="weight of the symbol-counting loss (0: off)")
    ap.add_argument("--init", help="start from this checkpoint's weights")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--checkpoint-minutes", type=float, default=5)
    ap.add_argument("--max-step-seconds", type=float, default=8.0,
                    help="the most one step counts against --minutes (a step slowed by other load counts less)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="count --minutes as wall time of steps, or as this process's CPU time over its threads "
                         "(for comparisons at equal compute while the machine does other work)")
    ap.add_argument("--dev-minutes", type=float, default=10, help="training minutes between dev checks")
    ap.add_argument("--dev-count", type=int, default=600)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    if args.arch == "v1" and args.count_loss > 0:
        ap.error("--count-loss needs a v2 architecture (v1 has no counting head)")
    if args.arch == "v1" and args.geometry != "squeeze":
        ap.error("--arch v1 reads 64 x 512 canvases: use --geometry squeeze")

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 2)))
    os.makedirs(args.out, exist_ok=True)
    logf = os.path.join(args.out, "train.log")
    vocab = json.load(open(args.vocab))
    ckpt = os.path.join(args.out, "last.pt")
    saved = torch.load(ckpt, map_location=device) if os.path.exists(ckpt) else None
    if saved:
        # A run keeps the recipe it started with; only its budget may change.
        for k, v in saved["state"]["recipe"].items():
            if k != "minutes" and hasattr(args, k) and getattr(args, k) != v:
                log(f"--{k.replace('_', '-')} {getattr(args, k)} ignored: this run was started with {v}", logf)
                setattr(args, k, v)
    torch.manual_seed(args.seed)
    if args.arch == "v1":
        model = Recognizer(len(vocab)).to(device)
    else:
        model = Recognizer2(len(vocab), args.arch, count_head=args.count_loss > 0).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=0.1)
    state = {"elapsed": 0.0, "cpu": 0.0, "step": 0, "samples": 0, "history": [], "dev": []}
    if saved:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
        log(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min trained", logf)
    else:
        n = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("count."))
        log(f"new run: {args.arch}, {args.geometry} geometry, {n / 1e6:.2f}M parameters on {device}", logf)
        if args.init:
            init = torch.load(args.init, map_location=device)
            own = model.state_dict()
            weights = {}
            for k, v in init["model"].items():
                if k not in own:
                    continue
                if v.shape != own[k].shape and v.dim() == own[k].dim() and all(a <= b for a, b in zip(v.shape, own[k].shape)):
                    # A smaller table (v1's 4 x 64 learned position code) fills the start of a larger one.
                    grown = own[k].clone()
                    grown[tuple(slice(0, n) for n in v.shape)] = v
                    v = grown
                weights[k] = v
            missing = model.load_state_dict(weights, strict=False)
            log(f"weights from {args.init} ({len(weights)} tensors; missing {len(missing.missing_keys)})", logf)
            if "init" in init:  # from_onnx.py: the shipped model's record (v1 and the runs it continued)
                state["prior"] = init["init"]["prior"]
            else:
                st = init.get("state", {})
                # The run it continues, with its dev checks, so the training record keeps the whole learning curve.
                state["prior"] = st.get("prior", []) + [{"run": os.path.dirname(os.path.abspath(args.init)), "steps": st.get("step"),
                                                         "samples_seen": st.get("samples"), "minutes": round(st.get("elapsed", 0) / 60, 1),
                                                         "dev": st.get("dev", []), "recipe": st.get("recipe")}]
    # The data folders the run has read (their shards can change between restarts; the export lists these).
    state["data_folders"] = sorted(set(state.get("data_folders", [])) | {os.path.basename(os.path.normpath(f)) for f in args.data.split(",") if f})
    state["recipe"] = {k: getattr(args, k) for k in ("arch", "geometry", "glyph", "max_h", "max_w", "pixels", "max_batch",
                                                      "lr", "warmup", "count_loss", "minutes", "clock")}
    state["hardware"] = (torch.cuda.get_device_name(0) if device == "cuda" else
                         f"{platform.machine()} CPU, {torch.get_num_threads()} threads") + f", PyTorch {torch.__version__}"
    dev = dev_set(args.dev, vocab, args.geometry, args)
    dev_id = fingerprint(dev) if dev else None
    log(f"dev set {dev_id}: {len(dev or [])} images", logf)

    def save():
        tmp = ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "vocab": vocab}, tmp)
        os.replace(tmp, ckpt)

    stop = {"asked": False}

    def on_signal(signum, _frame):
        stop["asked"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    loader = torch.utils.data.DataLoader(Batches(args, vocab, args.seed * 7919 + state["step"]), batch_size=None,
                                         num_workers=args.workers, prefetch_factor=4 if args.workers else None,
                                         persistent_workers=False)
    budget = args.minutes * 60
    last_ckpt = time.time()
    next_dev = (math.floor(state["elapsed"] / 60 / args.dev_minutes) + 1) * args.dev_minutes
    model.train()
    losses = []
    t_cpu = time.process_time()
    t0 = time.time()
    for x, tok in loader:
        if state["elapsed"] >= budget or stop["asked"]:
            break
        lr = lr_at(state["elapsed"] / budget, args.lr, args.warmup)
        if state.get("restarts"):
            # After checkpoint.py unpack the optimizer's moments start from nothing: ease back in.
            since = state["step"] - state["restarts"][-1]["step"]
            if since < RESTART_WARMUP_STEPS:
                lr *= (since + 1) / RESTART_WARMUP_STEPS
        for g in opt.param_groups:
            g["lr"] = lr
        x = x.to(device, non_blocking=True).float() / 255.0
        tok = tok.to(device, non_blocking=True)
        with (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device == "cuda" else nullcontext()):
            memory = model.encoder(x)
            logits = model.decoder(memory, tok[:, :-1])
            loss = loss_fn(logits.float().reshape(-1, logits.shape[-1]), tok[:, 1:].reshape(-1))
            total = loss
            if args.count_loss > 0:
                counts = model.count(memory.float())
                want = symbol_counts(tok.cpu(), counts.shape[1]).to(device)
                total = total + args.count_loss * nn.functional.smooth_l1_loss(counts, want)
        opt.zero_grad(set_to_none=True)
        total.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        now = time.time()
        state["step"] += 1
        state["samples"] += x.shape[0]
        cpu = time.process_time()
        if args.clock == "cpu":
            state["elapsed"] += (cpu - t_cpu) / torch.get_num_threads()
        else:
            state["elapsed"] += min(now - t0, args.max_step_seconds)
        state["cpu"] += cpu - t_cpu
        t_cpu, t0 = cpu, now
        losses.append(loss.item())
        if state["step"] % 25 == 0:
            mean = sum(losses) / len(losses)
            state["history"].append({"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
                                     "samples": state["samples"], "loss": round(mean, 4)})
            log(f"step {state['step']} loss {mean:.4f} lr {lr:.2e} batch {x.shape[0]}x{x.shape[2]}x{x.shape[3]} "
                f"{state['samples']} samples {state['elapsed'] / 60:.1f}/{args.minutes:.0f} min", logf)
            losses = []
        if state["elapsed"] / 60 >= next_dev:
            em, bands, dl = evaluate(model, dev, device, n=200)
            state["dev"].append({"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
                                 "samples": state["samples"], "dev_exact": round(em, 4), "dev_loss": round(dl, 4), "n": 200, "dev_set": dev_id})
            log(f"dev greedy exact match {em:.3f}, loss {dl:.4f} (200) {bands}", logf)
            next_dev += args.dev_minutes
            t0, t_cpu = time.time(), time.process_time()  # the check's time is not training time
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            save()
            last_ckpt = time.time()
            t0, t_cpu = time.time(), time.process_time()
    if stop["asked"]:
        save()
        log(f"stopped at step {state['step']}, {state['elapsed'] / 60:.1f} min trained; run again to resume", logf)
        return
    em, bands, dl = evaluate(model, dev, device)
    state["dev"].append({"step": state["step"], "minutes": round(state["elapsed"] / 60, 2), "samples": state["samples"],
                         "dev_exact": round(em, 4), "dev_loss": round(dl, 4), "n": len(dev), "bands": bands,
                         "dev_set": dev_id})
    state["final_dev_exact"] = em
    save()
    torch.save({"model": model.state_dict(), "vocab": vocab, "state": state}, os.path.join(args.out, "final.pt"))
    log(f"done: {state['step']} steps, {state['samples']} samples, {state['elapsed'] / 60:.1f} min, "
        f"dev exact {em:.4f}, loss {dl:.4f} {bands}", logf)


if __name__ == "__main__":
    main()
