"""Train the texmesh recogniser on shards from scripts/datagen/build.ts.

Runs for a wall-clock budget (--minutes of training time, counted across
restarts), with a learning rate that follows that budget (warm-up, then
cosine), checkpoints every few minutes and resumes from the last checkpoint.
Uses a CUDA GPU when one is present. New shards that appear in the data
folder while training runs are picked up.

  OMP_NUM_THREADS=2 python3 scripts/train/train.py --data training/data/train \
      --vocab training/vocab.json --out training/run --minutes 120
"""
import argparse
import glob
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

from common import log, lr_at
from model import BOS, EOS, PAD, UNK, Recognizer, greedy

H, W = 64, 512
MAX_TOKENS = 150


class Shards:
    """All finished shards in a folder, memory-mapped; rescanned on demand."""

    def __init__(self, folder, vocab):
        self.folder = folder
        self.index = {t: i for i, t in enumerate(vocab)}
        self.images = []
        self.labels = []
        self.names = set()

    def scan(self):
        added = 0
        for jl in sorted(glob.glob(os.path.join(self.folder, "shard-*.jsonl"))):
            name = os.path.basename(jl)[: -len(".jsonl")]
            if name in self.names:
                continue
            rows = [json.loads(l) for l in open(jl) if l.strip()]
            imgs = np.memmap(jl[: -len(".jsonl")] + ".bin", dtype=np.uint8, mode="r").reshape(-1, H, W)
            assert imgs.shape[0] == len(rows), f"{name}: {imgs.shape[0]} images, {len(rows)} labels"
            for k, r in enumerate(rows):
                ids = [self.index.get(t, UNK) for t in r["tokens"].split(" ")]
                self.images.append((len(self.names), k))
                self.labels.append(ids[:MAX_TOKENS])
            self._maps = getattr(self, "_maps", []) + [imgs]
            self.names.add(name)
            added += len(rows)
        return added

    def __len__(self):
        return len(self.labels)

    def batch(self, idx, device):
        x = np.stack([self._maps[s][k] for s, k in (self.images[i] for i in idx)]).astype(np.float32) / 255.0
        seqs = [self.labels[i] for i in idx]
        t = max(len(s) for s in seqs) + 2
        tok = np.full((len(idx), t), PAD, dtype=np.int64)
        for j, s in enumerate(seqs):
            tok[j, : len(s) + 2] = [BOS] + s + [EOS]
        return torch.from_numpy(x)[:, None].to(device), torch.from_numpy(tok).to(device)


def batches(n, batch_size, lengths, rng, max_len=None):
    """Length-bucketed random batches: shuffle, sort within chunks of 50 batches, shuffle the batches.
    With max_len, only samples of at most that many tokens (the curriculum)."""
    order = [i for i in range(n) if max_len is None or lengths[i] <= max_len]
    n = len(order)
    rng.shuffle(order)
    chunk = batch_size * 50
    out = []
    for c in range(0, n, chunk):
        part = sorted(order[c : c + chunk], key=lambda i: lengths[i])
        out += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
    rng.shuffle(out)
    return out


def curriculum_len(frac, until, start=24):
    """The longest label trained on at this point of the budget: short formulas first, where
    the decoder learns to align with the image quickly, growing to all lengths at `until`."""
    if until <= 0 or frac >= until:
        return None
    return int(start + (MAX_TOKENS - start) * frac / until)


def evaluate(model, dev, device, vocab, n=128):
    if dev is None or len(dev) == 0:
        return None
    idx = list(range(min(n, len(dev))))
    exact = 0
    for b in range(0, len(idx), 64):
        x, _ = dev.batch(idx[b : b + 64], device)
        # An answer longer than the truth is wrong anyway: stop a little after it.
        longest = max(len(dev.labels[i]) for i in idx[b : b + 64])
        out = greedy(model, x, max_len=longest + 2)
        for j, seq in enumerate(out):
            exact += seq == dev.labels[idx[b + j]]
    model.train()
    return exact / len(idx)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--dev", help="a folder of shards for the greedy exact-match check")
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=120)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--curriculum", type=float, default=0.35,
                    help="fraction of the budget over which the longest label grows from 24 tokens to all (0: off)")
    ap.add_argument("--warmup", type=float, default=0.03, help="fraction of the budget over which the learning rate rises")
    ap.add_argument("--init", help="start a new run from these weights (a checkpoint, or from_onnx.py's recovery of a shipped model)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--checkpoint-minutes", type=float, default=5)
    ap.add_argument("--max-step-seconds", type=float, default=4.0,
                    help="the most one step counts against --minutes (a step slowed by other load counts less)")
    ap.add_argument("--dev-every", type=int, default=1500, help="steps between greedy exact-match checks on the dev set")
    args = ap.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 2)))
    os.makedirs(args.out, exist_ok=True)
    logf = os.path.join(args.out, "train.log")
    vocab = json.load(open(args.vocab))
    torch.manual_seed(args.seed)
    model = Recognizer(len(vocab)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=0.1)
    state = {"elapsed": 0.0, "step": 0, "samples": 0, "epoch": 0, "history": []}
    ckpt = os.path.join(args.out, "last.pt")
    if os.path.exists(ckpt):
        saved = torch.load(ckpt, map_location=device)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
        log(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min trained", logf)
        if args.init:
            if not state.get("prior"):
                raise SystemExit(f"{ckpt} is a run from scratch, and --init starts a new one from other weights: "
                                 f"move {args.out} away (or leave out --init to go on with it)")
            log(f"--init ignored: going on with the run in {args.out}, itself started from earlier weights", logf)
        # A run keeps the schedule it started with; only its budget may change.
        for name, key in (("batch", "batch"), ("lr", "peak_lr"), ("warmup", "warmup"), ("curriculum", "curriculum")):
            saved_value = state.get("recipe", {}).get(key)
            if saved_value is not None and saved_value != getattr(args, name):
                log(f"--{name} {getattr(args, name)} ignored: this run was started with {saved_value}", logf)
                setattr(args, name, saved_value)
    else:
        json.dump(vocab, open(os.path.join(args.out, "vocab.json"), "w"))
        log(f"new run: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters on {device}", logf)
        if args.init:
            init = torch.load(args.init, map_location=device)
            assert init["vocab"] == vocab, f"{args.init} has another vocabulary"
            model.load_state_dict(init["model"])
            # What the starting weights had behind them, for the model card's totals.
            if "init" in init:  # from_onnx.py: the shipped model's record
                state["prior"] = init["init"]["prior"]
            else:  # a checkpoint of this trainer
                st = init.get("state", {})
                state["prior"] = st.get("prior", []) + [{
                    "model": os.path.basename(args.init), "steps": st.get("step"), "samples_seen": st.get("samples"),
                    "minutes": round(st.get("elapsed", 0) / 60, 1), "hardware": st.get("hardware")}]
            log(f"weights from {args.init} ({state['prior'][-1].get('minutes')} min trained before)", logf)
    state["recipe"] = {"batch": args.batch, "peak_lr": args.lr, "warmup": args.warmup, "curriculum": args.curriculum,
                       "minutes": args.minutes, "label_smoothing": 0.1, "init": bool(state.get("prior"))}

    state["hardware"] = (torch.cuda.get_device_name(0) if device == "cuda" else
                         f"{platform.machine()} CPU, {torch.get_num_threads()} threads") + f", PyTorch {torch.__version__}"
    data = Shards(args.data, vocab)
    dev = None
    if args.dev:
        dev = Shards(args.dev, vocab)
        dev.scan()
    if state["step"] == 0 and state.get("prior"):
        em = evaluate(model, dev, device, vocab, n=256)
        if em is not None:
            state["history"].append({"step": 0, "minutes": 0.0, "dev_exact": em})
            log(f"starting weights: dev greedy exact match {em:.3f}", logf)
    rng = random.Random(args.seed * 1000 + state["epoch"])
    budget = args.minutes * 60
    last_ckpt = time.time()
    model.train()

    def save():
        tmp = ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "vocab": vocab}, tmp)
        os.replace(tmp, ckpt)

    stop = {"asked": False}

    def on_signal(signum, _frame):
        # Finish the current step, save, and exit: a later run resumes from here.
        stop["asked"] = True
        log(f"signal {signum}: saving and stopping", logf)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    while state["elapsed"] < budget and not stop["asked"]:
        added = data.scan()
        if added:
            log(f"{len(data)} training samples ({added} new)", logf)
        if len(data) == 0:
            time.sleep(10)
            continue
        lengths = [len(l) for l in data.labels]
        max_len = curriculum_len(state["elapsed"] / budget, args.curriculum)
        plan = batches(len(data), args.batch, lengths, rng, max_len)
        if max_len is not None:
            log(f"curriculum: labels of at most {max_len} tokens ({len(plan)} batches)", logf)
        # A pass over what exists now, until new shards arrive (checked every 200 steps), or
        # until the curriculum's length limit has grown (every 100 steps).
        for k, idx in enumerate(plan):
            if state["elapsed"] >= budget or stop["asked"]:
                break
            t0 = time.time()
            lr = lr_at(state["elapsed"] / budget, args.lr, args.warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            x, tok = data.batch(idx, device)
            logits = model(x, tok[:, :-1])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tok[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state["step"] += 1
            state["samples"] += len(idx)
            # A step slowed down by other work on the machine counts at most --max-step-seconds
            # against the budget: the schedule follows training progress, not the clock.
            state["elapsed"] += min(time.time() - t0, args.max_step_seconds)
            if state["step"] % 25 == 0:
                log(f"step {state['step']} loss {loss.item():.4f} lr {lr:.2e} {time.time() - t0:.2f}s/batch "
                    f"{state['elapsed'] / 60:.1f}/{args.minutes:.0f} min", logf)
            if state["step"] % args.dev_every == 0:
                em = evaluate(model, dev, device, vocab, n=64)
                if em is not None:
                    state["history"].append({"step": state["step"], "minutes": state["elapsed"] / 60, "dev_exact": em})
                    log(f"step {state['step']} dev greedy exact match {em:.3f}", logf)
            if time.time() - last_ckpt > args.checkpoint_minutes * 60:
                save()
                last_ckpt = time.time()
            if max_len is not None and k % 100 == 99:
                break
            if k % 200 == 199 and data.scan():
                log(f"{len(data)} training samples", logf)
                break
        else:
            state["epoch"] += 1
    if stop["asked"]:
        save()
        log(f"stopped at step {state['step']}, {state['elapsed'] / 60:.1f} min trained; run again to resume", logf)
        return
    em = evaluate(model, dev, device, vocab, n=256)
    state["final_dev_exact"] = em
    save()
    torch.save({"model": model.state_dict(), "vocab": vocab, "state": state}, os.path.join(args.out, "final.pt"))
    log(f"done: {state['step']} steps, {state['samples']} samples, {state['elapsed'] / 60:.1f} min, dev exact {em}", logf)


if __name__ == "__main__":
    main()
