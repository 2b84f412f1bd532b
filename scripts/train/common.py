"""What both trainers (train.py for v1, train2.py for v2) share: the log line and the
learning-rate schedule."""
import math
import time


def log(msg, path):
    """One timestamped line, to stdout and appended to `path`."""
    line = f"{time.strftime('%H:%M:%S')} {msg}"
    print(line, flush=True)
    with open(path, "a") as f:
        f.write(line + "\n")


def lr_at(frac, peak, warmup_frac):
    """The learning rate at this fraction of the budget: a linear warm-up, then cosine to 2 % of the peak."""
    if frac < warmup_frac:
        return peak * frac / warmup_frac
    p = min(1.0, (frac - warmup_frac) / (1 - warmup_frac))
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))
