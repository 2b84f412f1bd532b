"""The trainer's dev check: greedy exact match and loss on dev canvases, by length band.

Dev canvases are the pipeline's crops, scaled as inference scales them, sorted by width and read
in batches of 32. With several ranks each reads every world-th batch and the sums are added up,
so a check takes a rank's share of the time, and the batches (and so the padding each canvas
gets) are the ones a single rank would read.
"""
import hashlib
import json

import numpy as np
import torch
from torch import nn
import torch.distributed as dist

from data2 import Crops, canvas_for, collate
from model import PAD
from model2 import greedy_cached

BANDS = ("1-20", "21-40", "41-60", "61-90", "91+")
BATCH = 32


def dev_set(folder, vocab, geometry, args):
    """Dev canvases and labels, sorted by width (None without a folder)."""
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


def band(length):
    return 0 if length <= 20 else 1 if length <= 40 else 2 if length <= 60 else 3 if length <= 90 else 4


@torch.no_grad()
def sums(model, items, device, rank=0, world=1):
    """[right, images, nll, tokens, then right and images per band] over this rank's batches."""
    out = torch.zeros(4 + 2 * len(BANDS), dtype=torch.float64)
    model.eval()
    for k, b in enumerate(range(0, len(items), BATCH)):
        if k % world != rank:
            continue
        part = items[b: b + BATCH]
        x, tok = collate([m[0] for m in part], [m[1] for m in part])
        x, tok = x.to(device).float() / 255.0, tok.to(device)
        logits = model(x, tok[:, :-1])
        out[2] += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tok[:, 1:].reshape(-1),
                                              ignore_index=PAD, reduction="sum").item()
        out[3] += int((tok[:, 1:] != PAD).sum())
        seqs = greedy_cached(model, x, max_len=max(len(m[1]) for m in part) + 2)
        for m, seq in zip(part, seqs):
            ok = seq == m[1]
            j = 4 + 2 * band(len(m[1]))
            out[0] += ok
            out[1] += 1
            out[j] += ok
            out[j + 1] += 1
    model.train()
    return out


def evaluate(model, dev, device, n=None, rank=0, world=1):
    """Greedy exact match, bands {band: exact match} and loss per token, on n of the dev items
    (evenly spaced; all without n); every rank must call it when world > 1. None without dev."""
    if not dev:
        return None
    items = dev if n is None else dev[:: max(1, len(dev) // n)]
    s = sums(model, items, device, rank, world)
    if world > 1:
        dist.all_reduce(s)
    bands = {BANDS[i]: round(s[4 + 2 * i].item() / s[5 + 2 * i].item(), 3) for i in range(len(BANDS)) if s[5 + 2 * i] > 0}
    return s[0].item() / s[1].item(), bands, s[2].item() / s[3].item()
