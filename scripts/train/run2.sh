#!/usr/bin/env bash
# The v2 model recipe, step by step; every step can be re-run and resumes.
#
#   scripts/train/run2.sh data      # clean renders (40 shards of 2,000) and the dev sets, in training/v2
#   scripts/train/run2.sh compare   # candidate designs, COMPARE_MINUTES (default 30) each from scratch, one after another
#   scripts/train/run2.sh train     # the long run in the background (nohup), log in training/v2/run/train.log
#   scripts/train/run2.sh export    # ONNX export, model.json, calibration, evaluation, model card
#
# Needs: Debian's python3-torch, python3-opencv, python3-onnx, libopenblas0-pthread; texlive + dvipng.
# MINUTES (default 600) is the long run's budget, counted across restarts. ARCH (default enc2dec2).
set -euo pipefail
cd "$(dirname "$0")/../.."

V2=${V2_DIR:-training/v2}
SHARDS=${SHARDS:-40}
PY=/usr/bin/python3
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
VOCAB=models/texmesh-v1/vocab.json
train2() { (cd scripts/train && nice -n 19 "$PY" train2.py --data "../../$V2/clean" --dev "../../$V2/dev" --vocab "../../$VOCAB" "$@"); }

case "${1:-}" in
  data)
    npm run --silent build
    node dist/scripts/datagen/build.js --format ink --profile train --out "$V2/dev" --seed 3 --count 600 --shards 0:1
    node dist/scripts/datagen/build.js --format ink --profile heldout-b --out "$V2/dev-b" --seed 5 --count 300 --shards 0:1
    node dist/scripts/datagen/build.js --format clean --profile clean --out "$V2/clean" --seed 1 --count 2000 --shards "0:$SHARDS"
    echo "data ready in $V2"
    ;;
  compare)
    m=${COMPARE_MINUTES:-30}
    for spec in "v1 squeeze 0" "v1like glyph 0" "enc2dec2 glyph 0" "enc2dec2 glyph 0.1"; do
      set -- $spec
      name="$1-$2$([ "$3" = 0 ] || echo "-count$3")"
      [ -f "$V2/compare/$name/final.pt" ] && continue
      train2 --out "../../$V2/compare/$name" --minutes "$m" --arch "$1" --geometry "$2" --count-loss "$3" \
        --clock cpu >/dev/null 2>&1
    done
    grep -h "done:" "$V2"/compare/*/train.log
    ;;
  train)
    mkdir -p "$V2/run"
    nohup bash -c "cd scripts/train && exec nice -n 19 $PY train2.py --data ../../$V2/clean --dev ../../$V2/dev \
      --vocab ../../$VOCAB --out ../../$V2/run --minutes ${MINUTES:-600} --arch ${ARCH:-enc2dec2} ${INIT:+--init ../../$INIT} \
      ${TRAIN_ARGS:-}" >>"$V2/run/stdout.log" 2>&1 &
    echo "training in the background (pid $!); follow it with: tail -f $V2/run/train.log"
    ;;
  *)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
