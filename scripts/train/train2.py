"""Train a texmesh v2 recogniser on clean renders (scripts/datagen/build.ts --format clean),
degraded and scaled on the fly (glyph.py), so that a sample costs a training step, not a TeX run.

Runs for a budget of training minutes (counted across restarts), with a learning rate that
follows it (warm-up, then cosine), checkpoints every few minutes and resumes from the last
checkpoint. A background process makes the batches: samples of about one canvas width go
together, as many as fit a pixel budget, so short formulas cost little (data2.py). Uses a CUDA
GPU when one is present. Matrix products run in bfloat16 under autocast where the hardware has it
(a GPU, or a CPU with AVX-512 BF16: about 1.6 times the samples a second of float32 here).
--ranks N trains on N cores at once (ranks.py). Shards that appear while it runs are picked up.

  OMP_NUM_THREADS=2 python3 scripts/train/train2.py --data training/v2/clean --dev training/v2/dev \\
      --vocab models/texmesh-v1/vocab.json --out training/v2/run --minutes 600
"""
import argparse
from contextlib import nullcontext
import copy
import json
import math
import os
import platform
import signal
import time

import torch
from torch import nn

from common import log, lr_at
from data2 import Batches
from devcheck import dev_set, evaluate, fingerprint
from model import PAD, Recognizer
from model2 import ARCHS, Recognizer2
import ranks

RESTART_WARMUP_STEPS = 300


def cpu_has_bf16():
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX); elsewhere it is emulated, and slower."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def symbol_counts(tok, vocab_size):
    """[B, V] how often each token appears in each label (the special tokens not counted)."""
    c = torch.zeros(tok.shape[0], vocab_size)
    c.scatter_add_(1, tok, torch.ones_like(tok, dtype=torch.float32))
    c[:, :4] = 0
    return c


# The canvases a run reads, unless told otherwise (train2.py --geometry, --glyph, --max-h, --max-w).
CANVAS = {"geometry": "glyph", "glyph": 16.0, "max_h": 128, "max_w": 2048}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder of clean-*.jsonl/.bin shards, or several, comma-separated")
    ap.add_argument("--dev", help="folder of ink-*.jsonl/.bin shards for the greedy exact-match check")
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=600)
    ap.add_argument("--arch", default="enc2dec2", help=f"one of {', '.join(ARCHS)}, or v1 (model.py, squeeze only)")
    # The canvas options default to the --init checkpoint's for a new run from one (CANVAS otherwise).
    ap.add_argument("--geometry", choices=["glyph", "squeeze"], help=f"default {CANVAS['geometry']}, or --init's")
    ap.add_argument("--glyph", type=float, help=f"typical glyph size on the canvas, px (default {CANVAS['glyph']:g}, or --init's)")
    ap.add_argument("--max-h", type=int, help=f"default {CANVAS['max_h']}, or --init's")
    ap.add_argument("--max-w", type=int, help=f"default {CANVAS['max_w']}, or --init's")
    ap.add_argument("--pixels", type=int, default=1 << 20, help="canvas pixels per batch")
    ap.add_argument("--max-batch", type=int, default=96)
    ap.add_argument("--pool", type=int, default=4096, help="samples sorted together into batches")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=float, default=0.03)
    ap.add_argument("--count-loss", type=float, default=0.0, help="weight of the symbol-counting loss (0: off)")
    ap.add_argument("--ema", type=float, default=0.999,
                    help="decay of an exponential moving average of the weights, kept beside them, checked on dev "
                         "and saved as the checkpoint's 'ema' (checkpoint.py ema exports it); 0: none")
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
    ap.add_argument("--ranks", type=int, default=1,
                    help="data-parallel processes, one a core of this process's affinity (taskset), each with its own "
                         "batches, gradients averaged every step")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="bf16: matrix products in bfloat16 under autocast, weights and optimizer in float32 "
                         "(auto: on a CUDA GPU that has bfloat16, or a CPU with avx512_bf16 or amx_bf16; about 1.6 times the samples a "
                         "second of fp32 on such a CPU)")
    args = ap.parse_args()
    canvas_options(args)
    if args.arch == "v1" and args.count_loss > 0:
        ap.error("--count-loss needs a v2 architecture (v1 has no counting head)")
    if args.arch == "v1" and args.geometry != "squeeze":
        ap.error("--arch v1 reads 64 x 512 canvases: use --geometry squeeze")
    if args.ranks < 1:
        ap.error("--ranks must be at least 1")
    if args.ranks > 1 and torch.cuda.is_available():
        ap.error("--ranks is for CPU cores; on a GPU train with one rank")
    ranks.start(args.ranks, lambda rank, world: train(args, rank, world))


def canvas_options(args):
    """Fills the canvas options not given: a new run from --init reads canvases as its checkpoint was
    trained on them (a branch of a glyph-20 run would otherwise train and check at 16 px), any other
    run the defaults. A resumed run takes its own recipe later (train)."""
    resuming = os.path.exists(os.path.join(args.out, "last.pt"))
    init = {}
    if args.init and not resuming:
        init = torch.load(args.init, map_location="cpu").get("state", {}).get("recipe", {})
    for k, default in CANVAS.items():
        if getattr(args, k) is None:
            setattr(args, k, type(default)(init.get(k, default)))


def train(args, rank, world):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bf16 = args.precision == "bf16" or (args.precision == "auto" and (
        torch.cuda.is_bf16_supported() if device == "cuda" else cpu_has_bf16()))
    if device == "cpu":
        # One thread a rank when there are several (each is pinned to its own core).
        torch.set_num_threads(len(os.sched_getaffinity(0)) if world > 1 else int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 2)))
    os.makedirs(args.out, exist_ok=True)
    logf = os.path.join(args.out, "train.log")

    def say(msg):
        if rank == 0:
            log(msg, logf)
    vocab = json.load(open(args.vocab))
    ckpt = os.path.join(args.out, "last.pt")
    saved = torch.load(ckpt, map_location=device) if os.path.exists(ckpt) else None
    if saved:
        # A run keeps the recipe it started with; only its budget may change.
        for k, v in saved["state"]["recipe"].items():
            if k != "minutes" and hasattr(args, k) and getattr(args, k) != v:
                say(f"--{k.replace('_', '-')} {getattr(args, k)} ignored: this run was started with {v}")
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
        say(f"resumed at step {state['step']}, {state['elapsed'] / 60:.1f} min trained")
    else:
        n = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("count."))
        say(f"new run: {args.arch}, {args.geometry} geometry (glyph {args.glyph:g} px, canvases up to {args.max_h} x {args.max_w}),"
            f" {n / 1e6:.2f}M parameters on {device}")
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
            say(f"weights from {args.init} ({len(weights)} tensors; missing {len(missing.missing_keys)})")
            if "init" in init:  # from_onnx.py: the shipped model's record (v1 and the runs it continued)
                state["prior"] = init["init"]["prior"]
            else:
                st = init.get("state", {})
                # The run it continues, with its dev checks, so the training record keeps the whole learning curve.
                state["prior"] = st.get("prior", []) + [{"run": os.path.dirname(os.path.abspath(args.init)), "steps": st.get("step"),
                                                         "samples_seen": st.get("samples"), "minutes": round(st.get("elapsed", 0) / 60, 1),
                                                         "dev": st.get("dev", []), "recipe": st.get("recipe"),
                                                         "hardware": st.get("hardware"), "starts": st.get("starts", [])}]
    # The moving average of the weights: from the checkpoint's, or from the weights as they are.
    ema = None
    if args.ema > 0:  # (on every rank, as the weights are: each reads its share of a dev check)
        ema = copy.deepcopy(model).eval()
        if saved and "ema" in saved:
            ema.load_state_dict(saved["ema"])
        for p in ema.parameters():
            p.requires_grad_(False)
    ema_avg = [t for t in ema.state_dict().values() if t.is_floating_point()] if ema is not None else []
    ema_src = [t for t in model.state_dict().values() if t.is_floating_point()] if ema is not None else []
    # What a dev check reads: the weights, and their average (its state key, record and log line).
    checked = [(model, "dev", {}, "")] + ([(ema, "dev_ema", {"decay": args.ema}, ", moving average of the weights")] if ema is not None else [])
    # The data folders the run has read (their shards can change between restarts; the export lists these).
    state["data_folders"] = sorted(set(state.get("data_folders", [])) | {os.path.basename(os.path.normpath(f)) for f in args.data.split(",") if f})
    state["recipe"] = {k: getattr(args, k) for k in ("arch", "geometry", "glyph", "max_h", "max_w", "pixels", "max_batch",
                                                      "lr", "warmup", "count_loss", "minutes", "clock")}
    state["hardware"] = (torch.cuda.get_device_name(0) if device == "cuda" else
                         f"{platform.machine()} CPU, {world} x {torch.get_num_threads()} threads") + \
        f", {'bfloat16 autocast' if bf16 else 'float32'}, PyTorch {torch.__version__}"
    # How each stretch of the run was trained (the hardware above is only the latest).
    state.setdefault("starts", []).append({"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
                                           "hardware": state["hardware"]})
    say(f"training on {state['hardware']}")
    dev = dev_set(args.dev, vocab, args.geometry, args)  # (every rank reads its share of a check)
    dev_id = fingerprint(dev) if dev else None
    say(f"dev set {dev_id}: {len(dev or [])} images")

    def save():
        if rank != 0:
            return
        tmp = ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "vocab": vocab,
                    **({"ema": ema.state_dict(), "ema_decay": args.ema} if ema is not None else {})}, tmp)
        os.replace(tmp, ckpt)

    stop = {"asked": False}

    def on_signal(signum, _frame):
        stop["asked"] = True

    def together(collective, *args):
        """A collective call; if another rank has died, save what this one holds before failing. No step
        is taken between exchanges, so the weights and the optimizer are whole."""
        try:
            return collective(*args)
        except RuntimeError:
            if world > 1:
                say("a rank failed: saving this rank's weights before stopping")
                save()
            raise

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    loader = torch.utils.data.DataLoader(Batches(args, vocab, args.seed * 7919 + state["step"] + 1000003 * rank), batch_size=None,
                                         num_workers=args.workers, **({"prefetch_factor": 4} if args.workers else {}),
                                         persistent_workers=False)
    budget = args.minutes * 60
    last_ckpt = time.time()
    next_dev = (math.floor(state["elapsed"] / 60 / args.dev_minutes) + 1) * args.dev_minutes
    model.train()
    losses = []
    t_cpu = time.process_time()
    t0 = time.time()
    params = list(model.parameters())
    halt = False
    for x, tok in loader:
        if state["elapsed"] >= budget or halt:
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
        with (torch.autocast(device_type=device, dtype=torch.bfloat16) if bf16 else nullcontext()):
            memory = model.encoder(x)
            logits = model.decoder(memory, tok[:, :-1])
            loss = loss_fn(logits.float().reshape(-1, logits.shape[-1]), tok[:, 1:].reshape(-1))
            total = loss
            if args.count_loss > 0:
                with torch.autocast(device_type=device, enabled=False):  # counts above 128 need float32
                    counts = model.count(memory.float())
                want = symbol_counts(tok.cpu(), counts.shape[1]).to(device)
                total = total + args.count_loss * nn.functional.smooth_l1_loss(counts, want)
        opt.zero_grad(set_to_none=True)
        total.backward()
        now, cpu = time.time(), time.process_time()
        # Rank 0's clock and checkpoint time, any rank's stop, and the sums, the same on every rank.
        spent = (cpu - t_cpu) / torch.get_num_threads() if args.clock == "cpu" else min(now - t0, args.max_step_seconds)
        mine = rank == 0
        spent, due, halt, samples, cpus, loss_sum = together(ranks.exchange, params, world, [
            spent if mine else 0.0, float(mine and now - last_ckpt > args.checkpoint_minutes * 60),
            float(stop["asked"]), x.shape[0], cpu - t_cpu, loss.item()])
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():  # (weights and float buffers, in place; BatchNorm's counter stays the model's)
                torch._foreach_mul_(ema_avg, args.ema)
                torch._foreach_add_(ema_avg, ema_src, alpha=1 - args.ema)
        state["step"] += 1
        state["samples"] += int(samples)
        state["elapsed"] += spent
        state["cpu"] += cpus
        t_cpu, t0 = cpu, now
        losses.append(loss_sum / world)
        if state["step"] % 25 == 0:
            mean = sum(losses) / len(losses)
            state["history"].append({"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
                                     "samples": state["samples"], "loss": round(mean, 4)})
            say(f"step {state['step']} loss {mean:.4f} lr {lr:.2e} batch {x.shape[0]}x{x.shape[2]}x{x.shape[3]} "
                f"{state['samples']} samples {state['elapsed'] / 60:.1f}/{args.minutes:.0f} min")
            losses = []
        if state["elapsed"] / 60 >= next_dev:
            for net, key, extra, note in checked:
                together(ranks.average_buffers, net, world)
                got = together(evaluate, net, dev, device, 200, rank, world)  # (None without a dev set)
                if not got:
                    break
                em, bands, dl = got
                state.setdefault(key, []).append({"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
                                                  "samples": state["samples"], "dev_exact": round(em, 4),
                                                  "dev_loss": round(dl, 4), "n": 200, "dev_set": dev_id, **extra})
                say(f"dev greedy exact match {em:.3f}, loss {dl:.4f} (200) {bands}{note}")
            next_dev += args.dev_minutes
            t0, t_cpu = time.time(), time.process_time()  # the check's time is not training time
        if due:
            for net, *_ in checked:
                together(ranks.average_buffers, net, world)
            save()
            last_ckpt = time.time()
            t0, t_cpu = time.time(), time.process_time()
    for net, *_ in checked:
        ranks.average_buffers(net, world)
    if halt:  # (shared by every rank; a signal after the last exchange is taken as the run ends anyway)
        save()
        say(f"stopped at step {state['step']}, {state['elapsed'] / 60:.1f} min trained; run again to resume")
        return
    # The last collectives: the whole dev set, each rank reading its share, of the weights and of their average.
    got = together(evaluate, model, dev, device, None, rank, world)
    got_ema = together(evaluate, ema, dev, device, None, rank, world) if got and ema is not None else None
    if rank != 0:
        return
    em, bands, dl = got or (None, {}, None)
    if got:
        state["dev"].append({"step": state["step"], "minutes": round(state["elapsed"] / 60, 2), "samples": state["samples"],
                             "dev_exact": round(em, 4), "dev_loss": round(dl, 4), "n": len(dev), "bands": bands,
                             "dev_set": dev_id})
    state["final_dev_exact"] = em
    if got_ema:
        ema_em, ema_bands, ema_dl = got_ema
        state["final_dev_exact_ema"] = ema_em
        say(f"moving average of the weights: dev exact {ema_em:.4f}, loss {ema_dl:.4f} {ema_bands}")
    save()
    torch.save({"model": model.state_dict(), "vocab": vocab, "state": state,
                **({"ema": ema.state_dict(), "ema_decay": args.ema} if ema is not None else {})}, os.path.join(args.out, "final.pt"))
    say(f"done: {state['step']} steps, {state['samples']} samples, {state['elapsed'] / 60:.1f} min, "
        + (f"dev exact {em:.4f}, loss {dl:.4f} {bands}" if got else "no dev set"))


if __name__ == "__main__":
    main()
