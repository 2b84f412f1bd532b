"""Train the scanned-page word classifier (documents/word-classifier.ts): prose, mathematics or a number.

    python3 scripts/train/words.py --data training/words --out models/word-math [--minutes 8]

The data is datagen/words.ts's (grammar formulas only, never held-out C). The last tenth of the
words (the last documents) is kept apart to measure on; the epoch that measures best there is kept.
The learning rate decays (cosine) over the time budget. A small convolutional network: three
conv-pool stages, a max over the width, one linear layer; exported as ONNX (input "crop"
[N, 1, 32, 128], output "logit" [N, 3]: prose, mathematics, number) with a card of its figures.
"""
import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn


class WordNet(nn.Module):
    def __init__(self):
        super().__init__()

        def stage(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))
        self.features = nn.Sequential(stage(1, 16), stage(16, 32), stage(32, 48), nn.Conv2d(48, 64, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(64 * 4, 3)

    def forward(self, x):
        f = self.features(x)              # N, 64, 4, 16
        f = f.amax(dim=3)                 # max over the width: N, 64, 4
        return self.head(f.flatten(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--minutes', type=float, default=8)
    ap.add_argument('--seed', type=int, default=26)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    meta = json.load(open(os.path.join(a.data, 'meta.json')))
    h, w = meta['height'], meta['width']
    crops = np.fromfile(os.path.join(a.data, 'crops.u8'), dtype=np.uint8).reshape(-1, 1, h, w)
    labels = np.fromfile(os.path.join(a.data, 'labels.u8'), dtype=np.uint8).astype(np.int64)
    n = len(labels)
    cut = int(n * 0.9)
    x_train, y_train = torch.from_numpy(crops[:cut]), torch.from_numpy(labels[:cut])
    x_val, y_val = torch.from_numpy(crops[cut:]), torch.from_numpy(labels[cut:])
    model = WordNet()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.time()
    step = 0
    epoch = 0
    curve = []
    best = None

    def evaluate():
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(x_val[i:i + 512].float() / 255) for i in range(0, len(y_val), 512)])
        model.train()
        pred = logits.argmax(1)
        tp = float(((pred == 1) & (y_val == 1)).sum())
        return {
            'accuracy': float((pred == y_val).float().mean()),
            'math_precision': tp / max(1.0, float((pred == 1).sum())),
            'math_recall': tp / max(1.0, float((y_val == 1).sum())),
            'number_recall': float(((pred == 2) & (y_val == 2)).sum()) / max(1.0, float((y_val == 2).sum())),
        }

    while time.time() - t0 < a.minutes * 60:
        order = torch.randperm(cut)
        for i in range(0, cut, 64):
            idx = order[i:i + 64]
            x = x_train[idx].float() / 255
            # Contrast and a shift of a pixel or two: scans differ in both.
            x = x * (0.7 + 0.6 * torch.rand(len(idx), 1, 1, 1))
            x = torch.roll(x, shifts=(int(torch.randint(-2, 3, ())), int(torch.randint(-2, 3, ()))), dims=(2, 3)).clamp(0, 1)
            # Cosine decay over the time budget.
            for g in opt.param_groups:
                g['lr'] = 2e-3 * 0.5 * (1 + math.cos(math.pi * min(1.0, (time.time() - t0) / (a.minutes * 60))))
            loss = loss_fn(model(x), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if time.time() - t0 >= a.minutes * 60:
                break
        epoch += 1
        m = evaluate()
        curve.append({'epoch': epoch, 'minutes': round((time.time() - t0) / 60, 2), 'samples': step * 64, **{k: round(v, 4) for k, v in m.items()}})
        print(json.dumps(curve[-1]), flush=True)
        if best is None or m['accuracy'] > best[0]['accuracy']:
            best = (curve[-1], copy.deepcopy(model.state_dict()))
    # The epoch that measured best on the words kept apart.
    model.load_state_dict(best[1])
    os.makedirs(a.out, exist_ok=True)
    model.eval()
    torch.onnx.export(model, torch.zeros(2, 1, h, w), os.path.join(a.out, 'classifier.onnx'), input_names=['crop'], output_names=['logit'],
                      dynamic_axes={'crop': {0: 'n'}, 'logit': {0: 'n'}}, opset_version=13)
    card = {'words': n, 'mathematics': int((labels == 1).sum()), 'numbers': int((labels == 2).sum()), 'held_out': n - cut, 'data': {k: meta[k] for k in ('docs', 'seed')},
            'parameters': sum(p.numel() for p in model.parameters()), 'curve': curve, 'kept': best[0]}
    json.dump(card, open(os.path.join(a.out, 'card.json'), 'w'), indent=1)
    print('wrote', os.path.join(a.out, 'classifier.onnx'))


if __name__ == '__main__':
    main()
