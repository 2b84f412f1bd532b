#!/usr/bin/env bash
# The model recipe, step by step; every step can be re-run and resumes.
#
#   scripts/train/run.sh data     # vocabulary, 32 + 8 high-resolution training shards (80,000 images), dev shard
#   scripts/train/run.sh train    # train in the background (nohup), log in training/run/train.log
#   scripts/train/run.sh resume   # the same, starting from the shipped model's weights (from_onnx.py)
#   scripts/train/run.sh export   # ONNX export, model.json, calibration curve, evaluation on both held-out sets
#
# Needs: Debian's python3-torch, python3-onnx, libopenblas0-pthread; texlive + dvipng for data.
# MINUTES (default 120) is the training budget, counted across restarts.
# CHECKPOINT (default training/run/final.pt) is what `export` exports.
# LR, WARMUP, CURRICULUM and BATCH override train.py's defaults (`resume` uses LR 1e-3, WARMUP 0.02, CURRICULUM 0).
# WEIGHTS (resume): the final.pt of the run that made the shipped model, when this machine still has it
# (move that run's folder away first): its float weights, checked against the ONNX files, are the start.
set -euo pipefail
cd "$(dirname "$0")/../.."

TRAIN_DIR=${TRAIN_DIR:-training}
MODEL_DIR=${MODEL_DIR:-models/texmesh-v1}
MINUTES=${MINUTES:-120}
SHARDS=${SHARDS:-32}
HIRES=${HIRES:-8}
PY=/usr/bin/python3
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

case "${1:-}" in
  data)
    npm run --silent build
    mkdir -p "$TRAIN_DIR/data/train"
    [ -f "$TRAIN_DIR/vocab.json" ] || node dist/scripts/datagen/vocab.js "$TRAIN_DIR/vocab.json"
    half=$((SHARDS / 2))
    # Two processes, one per core; each shard has its own seed, so the split does not matter.
    node dist/scripts/datagen/build.js --out "$TRAIN_DIR/data/train" --seed 1 --count 2000 --shards "0:$half" &
    node dist/scripts/datagen/build.js --out "$TRAIN_DIR/data/train" --seed 1 --count 2000 --shards "$half:$SHARDS" &
    wait
    # Then HIRES shards rendered at high resolution (thin, sharp strokes on the canvas), numbered after those.
    end=$((SHARDS + HIRES)); mid=$((SHARDS + HIRES / 2))
    node dist/scripts/datagen/build.js --out "$TRAIN_DIR/data/train" --profile train-hires --seed 1 --count 2000 --shards "$SHARDS:$mid" &
    node dist/scripts/datagen/build.js --out "$TRAIN_DIR/data/train" --profile train-hires --seed 1 --count 2000 --shards "$mid:$end" &
    wait
    node dist/scripts/datagen/build.js --out "$TRAIN_DIR/data/dev" --seed 3 --count 512 --shards 0:1
    echo "data ready in $TRAIN_DIR/data"
    ;;
  train|resume)
    mkdir -p "$TRAIN_DIR/run"
    init=()
    if [ "$1" = resume ]; then
      # Training checkpoints stay on the machine that made them; the shipped ONNX files travel.
      # A run already under way here goes on (train.py keeps its schedule).
      if [ ! -f "$TRAIN_DIR/run/last.pt" ]; then
        "$PY" scripts/train/from_onnx.py --model "$MODEL_DIR" --calibrate "$TRAIN_DIR/data/dev" --out "$TRAIN_DIR/run/init.pt" \
          ${WEIGHTS:+--weights "$WEIGHTS"}
      fi
      init=(--init "$TRAIN_DIR/run/init.pt")
      LR=${LR:-1e-3} WARMUP=${WARMUP:-0.02} CURRICULUM=${CURRICULUM:-0}
    fi
    nohup "$PY" scripts/train/train.py --data "$TRAIN_DIR/data/train" --dev "$TRAIN_DIR/data/dev" \
      --vocab "$TRAIN_DIR/vocab.json" --out "$TRAIN_DIR/run" --minutes "$MINUTES" --batch "${BATCH:-32}" \
      ${LR:+--lr "$LR"} ${WARMUP:+--warmup "$WARMUP"} ${CURRICULUM:+--curriculum "$CURRICULUM"} "${init[@]}" \
      >>"$TRAIN_DIR/run/stdout.log" 2>&1 &
    echo "training in the background (pid $!); follow it with: tail -f $TRAIN_DIR/run/train.log"
    ;;
  export)
    ckpt=${CHECKPOINT:-$TRAIN_DIR/run/final.pt}
    [ -f "$ckpt" ] || ckpt="$TRAIN_DIR/run/last.pt"
    grammar_commit=$(git log -1 --follow --format=%h -- formulas/grammar.ts 2>/dev/null || echo unknown)
    recipe='{"grammar": "formulas/grammar.ts at commit '"$grammar_commit"'", "train": {"seed": 1, "shards": '"$SHARDS"', "per_shard": 2000, "profile": "train"},
      "train_hires": {"seed": 1, "shards": "'"$SHARDS:$((SHARDS + HIRES))"'", "per_shard": 2000, "profile": "train-hires"},
      "dev": {"seed": 3, "count": 512}, "heldout_a": {"seed": 1001, "count": 400, "profile": "heldout-a"},
      "heldout_b": {"seed": 2002, "count": 300, "profile": "heldout-b"},
      "calibration": {"seed": 4004, "count": 400, "profile": "train"}}'
    (cd scripts/train && "$PY" export.py --checkpoint "../../$ckpt" --dev "../../$TRAIN_DIR/data/dev" \
      --out "../../$MODEL_DIR" --recipe "$recipe" ${HARDWARE:+--hardware "$HARDWARE"})
    npm run --silent build
    node dist/scripts/model-manifest.js "$MODEL_DIR"
    # The confidence curve for this version, before the evaluations that measure it.
    node dist/scripts/calibrate.js datasets/calibration --model "$MODEL_DIR"
    for set in heldout-a heldout-b; do
      node dist/scripts/eval.js "datasets/$set" --model "$MODEL_DIR" --report "$MODEL_DIR/eval-$set.json"
    done
    node dist/scripts/model-card.js "$MODEL_DIR"
    echo "model card: $MODEL_DIR/MODEL_CARD.md"
    ;;
  *)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
