"""The v2 training checkpoint that lives in the repository, so that training resumes on a new machine.

`pack` writes the weights of a train2.py checkpoint in half precision, with the run's state (steps,
samples, minutes, recipe, learning curve), to a file small enough to commit (about 2 bytes a
parameter; the optimizer's moments stay behind). `unpack` turns it back into a train2.py
last.pt (float32 weights, a fresh optimizer) that train2.py resumes from with its schedule.
`ema` writes a checkpoint whose weights are the run's moving average of its weights (train2.py
--ema), to export (CHECKPOINT_PT=... scripts/train/run2.sh export); the packed checkpoint leaves the
average behind (it would double its size), and a run resumed from it starts the average afresh.

  python3 scripts/train/checkpoint.py pack training/v2/run/last.pt checkpoints/texmesh-v2.pt
  python3 scripts/train/checkpoint.py unpack checkpoints/texmesh-v2.pt training/v2/run/last.pt
  python3 scripts/train/checkpoint.py ema training/v2/run/last.pt /tmp/ema.pt
"""
import argparse
import os

import torch

from model2 import Recognizer2


def pack(src, dst):
    saved = torch.load(src, map_location="cpu")
    weights = {k: (v.half() if v.is_floating_point() else v) for k, v in saved["model"].items()}
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = dst + ".tmp"
    torch.save({"model_fp16": weights, "state": saved["state"], "vocab": saved["vocab"]}, tmp)
    os.replace(tmp, dst)
    st = saved["state"]
    print(f"{dst}: step {st['step']}, {st['samples']} samples, {st['elapsed'] / 60:.1f} min, "
          f"{os.path.getsize(dst) / 1e6:.1f} MB")


def unpack(src, dst):
    saved = torch.load(src, map_location="cpu")
    if os.path.exists(dst):
        raise SystemExit(f"{dst} exists: a run is under way there (move it away to start from {src})")
    st = saved["state"]
    recipe = st["recipe"]
    net = Recognizer2(len(saved["vocab"]), recipe["arch"], count_head=recipe.get("count_loss", 0) > 0)
    net.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in saved["model_fp16"].items()})
    opt = torch.optim.AdamW(net.parameters(), lr=recipe["lr"], weight_decay=0.01)
    st.setdefault("restarts", []).append({"step": st["step"], "from": os.path.basename(src)})
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "state": st, "vocab": saved["vocab"]}, dst)
    print(f"{dst}: step {st['step']}, {st['elapsed'] / 60:.1f} min trained; the optimizer starts afresh")


def ema(src, dst):
    saved = torch.load(src, map_location="cpu")
    if "ema" not in saved:
        raise SystemExit(f"{src} has no moving average of its weights (train2.py --ema; a run keeps one from its next save)")
    # What the model card says it is (the weights' own figures stay the weights').
    st = dict(saved["state"], weights=f"the moving average of the run's weights (decay {saved.get('ema_decay', 'unknown')})")
    tmp = dst + ".tmp"
    torch.save({"model": saved["ema"], "state": st, "vocab": saved["vocab"]}, tmp)
    os.replace(tmp, dst)
    print(f"{dst}: the moving average at step {st['step']}, {st['elapsed'] / 60:.1f} min")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["pack", "unpack", "ema"])
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()
    {"pack": pack, "unpack": unpack, "ema": ema}[a.action](a.src, a.dst)


if __name__ == "__main__":
    main()
