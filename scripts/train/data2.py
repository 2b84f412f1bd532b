"""The v2 trainer's data: clean crop shards memory-mapped (Crops), degraded and scaled on the fly
into glyph canvases (glyph.py), grouped into batches of one canvas height under a pixel budget
(Batches, run in a DataLoader worker)."""
import glob
import json
import os
import random
import signal
import time

import numpy as np
import torch

import glyph as G
from model import BOS, EOS, PAD, UNK

MAX_TOKENS = 150


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
        if torch.utils.data.get_worker_info() is not None:  # a worker process (not the trainer, with --workers 0)
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
