"""The v2 training record: the design comparison, the long run's learning curve and a forecast.

Reads the comparison runs (training/v2/compare/*/last.pt) and the long run's checkpoint, and
writes checkpoints/texmesh-v2/comparison.json, curve.json and TRAINING.md (what the model card
of v2 takes over when v2 ships).

  python3 scripts/train/report2.py [--v2 training/v2] [--checkpoint checkpoints/texmesh-v2/weights.pt] \
      [--out checkpoints/texmesh-v2]

The forecast fits the dev error rate (1 - greedy exact match) against samples seen as a power
law, err = a * samples^-b, on the later half of the curve, and solves it for 10 % error (the 90 %
target); it says "never" when the error is not falling. Samples, not hours: a training hour holds
about 2.75 times the samples since the trainer runs in bfloat16 on both cores (DECISIONS 29). The
samples still to see are turned into hours at the run's present rate.
"""
import argparse
import glob
import json
import math
import os
import re

import torch

TARGET = 0.90


def load_state(path):
    s = torch.load(path, map_location="cpu")
    return s["state"]


def comparison(v2, folder="compare"):
    rows = []
    for ckpt in sorted(glob.glob(os.path.join(v2, folder, "*", "last.pt"))):
        st = load_state(ckpt)
        r = st["recipe"]
        dev = st.get("dev", [])
        final = dev[-1] if dev else {}
        rows.append({
            "name": os.path.basename(os.path.dirname(ckpt)),
            "arch": r["arch"], "geometry": r["geometry"], "count_loss": r.get("count_loss", 0),
            "glyph": r.get("glyph"), "lr": r.get("lr"),
            "cpu_minutes": round(st["elapsed"] / 60, 1), "threads": 1,
            "steps": st["step"], "samples": st["samples"],
            "samples_per_cpu_second": round(st["samples"] / max(1.0, st["elapsed"]), 2),
            "dev": dev,
            "final_dev_exact": final.get("dev_exact"), "final_dev_loss": final.get("dev_loss"),
            "final_bands": final.get("bands"),
            "loss": [{"minutes": h["minutes"], "loss": h["loss"]} for h in st.get("history", [])[::8]],
        })
    return rows


def same_dev(curve):
    """Marks each check `other_dev` when it was made on other dev pixels than most checks (train2.py
    records the dev set's fingerprint; checks from before it are taken to be on the usual set, and a
    check marked by hand with a note instead of a fingerprint is on another)."""
    ids = [c["dev_set"] for c in curve if re.fullmatch(r"[0-9a-f]{12}", c.get("dev_set") or "")]
    usual = max(set(ids), key=ids.count) if ids else None
    for c in curve:
        c["other_dev"] = bool(c.get("dev_set")) and c["dev_set"] != usual
    return curve


def present_rate(history, minutes=60):
    """Samples an hour of training over the run's last `minutes` (its history of every 25 steps)."""
    recent = [h for h in history if h["minutes"] >= history[-1]["minutes"] - minutes] if history else []
    if len(recent) < 2 or recent[-1]["minutes"] <= recent[0]["minutes"]:
        return None
    return (recent[-1]["samples"] - recent[0]["samples"]) / (recent[-1]["minutes"] - recent[0]["minutes"]) * 60


def forecast(curve, rate=None):
    """Samples seen (from the start of the first run) at which the fitted dev error reaches 1 - TARGET,
    and at `rate` samples an hour, the training hours (counted as the curve counts them) to get there."""
    pts = [(c["samples"], 1 - c["dev_exact"]) for c in curve
           if c["samples"] > 0 and 0 < 1 - c["dev_exact"] < 1 and not c.get("other_dev")]
    if len(pts) < 3:
        return {"hours": None, "note": "too few dev checks to fit"}
    pts = pts[len(pts) // 2:] if len(pts) >= 6 else pts
    xs = [math.log(h) for h, _ in pts]
    ys = [math.log(e) for _, e in pts]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return {"hours": None, "note": "no spread in samples to fit"}
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    if slope >= -1e-3:
        return {"hours": None, "slope": round(slope, 3), "note": "never at this rate: the dev error is not falling"}
    a = my - slope * mx
    samples = math.exp((math.log(1 - TARGET) - a) / slope)
    out = {"samples": round(samples), "slope": round(slope, 3), "fitted_on": len(pts)}
    if rate:
        last = curve[-1]
        out.update(rate=round(rate), hours=round(last["hours"] + max(0.0, samples - last["samples"]) / rate, 1))
    return out


def kept_comparison(v2, folder, path):
    """The comparison's runs on this machine, written to `path`; or, when they are gone from it, the record kept there."""
    rows = comparison(v2, folder)
    if rows:
        json.dump(rows, open(path, "w"), indent=1)
    elif os.path.exists(path):
        rows = json.load(open(path))
    return rows


def candidates_table(comp, label, key, with_loss):
    """The table of a comparison of candidates that went on from one checkpoint (compare2, compare3):
    what sets each apart (`key`, headed `label`), its samples and its dev checks; with_loss adds dev loss."""
    def loss(v):
        return "-" if v is None else f"{v:.4f}"
    rows = []
    for c in comp:
        b = c.get("final_bands") or {}
        checks = "; ".join(f"{d['minutes']:.0f} min: {100 * d['dev_exact']:.1f} %" + (f" / {loss(d.get('dev_loss'))}" if with_loss else "")
                           + f" ({d.get('n', 200)})" for d in c["dev"])
        final = f"{100 * (c['final_dev_exact'] or 0):.1f} %" + (f" / {loss(c['final_dev_loss'])}" if with_loss else "")
        rows.append([f"`{c['name']}`", c.get(key), c.get("lr"), c["cpu_minutes"], c["samples"], c["samples_per_cpu_second"], final,
                     " / ".join(f"{100 * b[k]:.0f}" for k in ("1-20", "21-40", "41-60", "61-90", "91+") if k in b), checks])
    return table(rows, ["candidate", label, "peak learning rate", "CPU minutes", "samples seen", "samples per CPU-second",
                        "dev exact match" + (" / loss" if with_loss else "") + " (600)",
                        "by length 1-20 / 21-40 / 41-60 / 61-90 / 91+ (%)", "dev checks"]) + [""]


def table(rows, header):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--v2", default="training/v2")
    ap.add_argument("--checkpoint", default="checkpoints/texmesh-v2/weights.pt")
    ap.add_argument("--out", default="checkpoints/texmesh-v2")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    comp = kept_comparison(args.v2, "compare", os.path.join(args.out, "comparison.json"))

    lines = ["# texmesh v2: training record", "",
             "Written by `scripts/train/report2.py`; the figures come from the runs' checkpoints.", ""]
    notes = os.path.join(args.out, "DECISIONS.md")
    if os.path.exists(notes):
        lines += [open(notes).read().strip(), ""]
    if comp:
        lines += ["## Design comparison", "",
                  f"Each candidate trained from scratch on the same data (40 shards of clean renders, seed 1, degraded on the fly),"
                  f" {comp[0]['cpu_minutes']:.0f} minutes of one core each (process CPU time, one thread), two at a time on cores of"
                  " their own (`scripts/train/run2.sh compare`). Dev: 600 images of the training recipe (seed 3), greedy decoding.", ""]
        rows = []
        for c in comp:
            b = c.get("final_bands") or {}
            rows.append([f"`{c['name']}`", c["arch"], c["geometry"], c["count_loss"], c["samples"], c["samples_per_cpu_second"],
                         c["final_dev_loss"], f"{100 * (c['final_dev_exact'] or 0):.1f} %",
                         " / ".join(f"{100 * b[k]:.0f}" for k in ("1-20", "21-40", "41-60", "61-90", "91+") if k in b)])
        lines += table(rows, ["candidate", "architecture", "geometry", "counting loss", "samples seen", "samples per CPU-second",
                              "dev loss", "dev exact match", "by length 1-20 / 21-40 / 41-60 / 61-90 / 91+ (%)"])
        if any(c["name"].endswith("-widthsorted") for c in comp):
            lines += ["", "`-widthsorted`: batches sorted by canvas width alone, before batches of one height (62 % of a batch's"
                      " pixels were canvas, against 94 % since): it paid for a third of padding, so it saw fewer samples."]
        lines += ["", "Dev loss and exact match over CPU minutes:", ""]
        rows = []
        for c in comp:
            rows.append([f"`{c['name']}`"] + [f"{d['minutes']:.0f} min: {d['dev_loss']:.3f} / {100 * d['dev_exact']:.1f} %" for d in c["dev"]])
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        lines += table(rows, ["candidate"] + [f"check {i + 1} (loss / exact)" for i in range(width - 1)]) + [""]

    # Candidates that went on from one trained checkpoint at equal CPU time: the second phase's
    # (run2.sh compare2) and the third's (compare3, from the long run's moving average, on its folders).
    later = [("compare2", "Second-phase comparison",
              "Each candidate went on from the first phase's last checkpoint (900 minutes) for the same CPU time on one core"
              " (`scripts/train/run2.sh compare2`), on the first phase's data (clean, clean2, clean3), with its own short cosine"
              " schedule. Dev: greedy exact match on 200 images during the run, on all 600 at the end, at each candidate's"
              " glyph size.", ("glyph (px)", "glyph", False)),
             ("compare3", "Third-phase comparison",
              "Each candidate went on from the same point of the third phase (the moving average of its weights) for the same"
              " CPU time on one core (`scripts/train/run2.sh compare3`), two at a time on cores of their own, on the long"
              " run's folders, in bfloat16 (where the CPU has it), in the same batch order, with its own short cosine"
              " schedule. Dev: greedy exact match and loss on 200 images during the run, on all 600 at the end.",
              ("architecture", "arch", True))]
    for folder, title, text, (label, key, with_loss) in later:
        comp_n = kept_comparison(args.v2, folder, os.path.join(args.out, f"comparison{folder[-1]}.json"))
        if comp_n:
            lines += [f"## {title}", "", text, ""] + candidates_table(comp_n, label, key, with_loss)

    if os.path.exists(args.checkpoint):
        st = load_state(args.checkpoint)
        # The runs this one continued first (their dev checks, where recorded), then its own: hours and
        # samples count from the start of the first.
        curve, minutes, samples = [], 0.0, 0
        for run in st.get("prior", []) + [{"dev": st.get("dev", []), "minutes": 0, "samples_seen": 0}]:
            curve += [{"step": d["step"], "samples": samples + d["samples"], "hours": round((minutes + d["minutes"]) / 60, 3),
                       "dev_exact": d["dev_exact"], "dev_loss": d.get("dev_loss"), "n": d.get("n"), "dev_set": d.get("dev_set")}
                      for d in run.get("dev", [])]
            minutes += run.get("minutes", 0) or 0
            samples += run.get("samples_seen", 0) or 0
        fc = forecast(same_dev(curve), present_rate(st.get("history", [])))
        json.dump({"recipe": st["recipe"], "curve": curve, "forecast": fc, "hardware": st.get("hardware"),
                   "ema_checks": st.get("dev_ema", [])},
                  open(os.path.join(args.out, "curve.json"), "w"), indent=1)
        r = st["recipe"]
        lines += ["## The long run", "",
                  f"Architecture `{r['arch']}`, {r['geometry']} geometry (glyph {r['glyph']} px, canvases up to {r['max_h']} x {r['max_w']}),"
                  f" peak learning rate {r['lr']}, {r['pixels']} canvas pixels a batch (at most {r['max_batch']} images),"
                  f" counting loss {r.get('count_loss', 0)}; budget {r['minutes']:.0f} minutes; {st.get('hardware')}.",
                  f"So far: {st['step']} steps, {st['samples']} samples, {st['elapsed'] / 3600:.2f} hours of training.", "",
                  "Learning curve (dev: greedy exact match on 200 or 600 images of the training recipe; training hours count"
                  " the runs this one started from, v1's included):", ""]
        lines += table([[c["step"], c["samples"], f"{c['hours']:.2f}", f"{100 * c['dev_exact']:.1f} %" + (" *" if c["other_dev"] else ""),
                         c["dev_loss"] if c["dev_loss"] is not None else "-"] for c in curve],
                       ["step", "samples seen", "training hours", "dev exact match", "dev loss"])
        if any(c["other_dev"] for c in curve):
            lines += ["", "\\* On other dev pixels than the rest (" + "; ".join(sorted({c["dev_set"] for c in curve if c["other_dev"]}))
                      + "), so left out of the forecast."]
        if st.get("dev_ema"):
            # The moving average of the weights (train2.py --ema), read at the same checks as the weights.
            mine = {d["step"]: d for d in st.get("dev", [])}
            lines += ["", "The moving average of the weights (`train2.py --ema`), read at the same dev checks as the weights"
                      " (200 images):", ""]
            lines += table([[e["step"], samples + e["samples"], f"{(minutes + e['minutes']) / 60:.2f}",
                             f"{100 * mine[e['step']]['dev_exact']:.1f} %" if e["step"] in mine else "-",
                             mine[e["step"]].get("dev_loss", "-") if e["step"] in mine else "-",
                             f"{100 * e['dev_exact']:.1f} %", e["dev_loss"], e.get("decay", "-")] for e in st["dev_ema"]],
                           ["step", "samples seen", "training hours", "weights: exact", "weights: loss", "average: exact",
                            "average: loss", "decay"])
        lines += ["", "## Forecast", ""]
        if fc.get("samples") is not None:
            at = (f"; at the run's present rate ({fc['rate']:,} samples an hour of training) that is about {fc['hours']:.0f}"
                  " training hours from the start of the first run" if fc.get("hours") is not None else "")
            lines.append(f"A power law fitted to the dev error against samples seen (slope {fc['slope']} in log-log,"
                         f" {fc['fitted_on']} checks) reaches 90 % dev exact match after about {fc['samples'] / 1e6:.1f} million"
                         f" samples{at}. Dev is easier than held-out C (real formulas), so the held-out targets come later than that.")
        else:
            lines.append(f"No forecast yet: {fc['note']}.")
        lines.append("")
    with open(os.path.join(args.out, "TRAINING.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}/TRAINING.md")


if __name__ == "__main__":
    main()
