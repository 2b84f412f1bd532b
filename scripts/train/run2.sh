#!/usr/bin/env bash
# The v2 model recipe, step by step; every step can be re-run and resumes.
#
#   scripts/train/run2.sh data      # clean renders (40 + 60 shards of 2,000) and the dev sets, in training/v2
#   scripts/train/run2.sh data3     # grammar v3's topic formulas (SHARDS3, default 40 shards of 2,000), in training/v2/clean3
#   scripts/train/run2.sh data4     # fresh formulas of the same grammar, another seed (SHARDS4, default 40), in training/v2/clean4
#   scripts/train/run2.sh data5     # the third phase's fresh formulas: grammar v3 (SHARDS5, default 40) in clean5, v2 (SHARDS6, default 20) in clean6
#   scripts/train/run2.sh data6     # more for the third phase at the two-core rate: v3 (SHARDS7, default 40) in clean7, v2 (SHARDS8, default 20) in clean8
#   scripts/train/run2.sh data7     # grammar v4's notation formulas besides v3's (SHARDS9, default 30) in clean9
#   scripts/train/run2.sh data8     # fresh grammar v4 formulas, another seed (SHARDS10, default 60), in clean10
#   scripts/train/run2.sh compare   # candidate designs, COMPARE_MINUTES (default 30) of one core each from scratch
#   scripts/train/run2.sh compare2  # second-phase candidates from one checkpoint (INIT), COMPARE_MINUTES of one core each
#   scripts/train/run2.sh compare3  # the same on the long run's folders, in bfloat16 where the CPU has it (the third phase's candidates)
#   scripts/train/run2.sh candidate # a candidate to ship: the run's average decayed to zero over CANDIDATE_MINUTES of one core, in candidates/
#   scripts/train/run2.sh init      # v1's weights recovered from its ONNX files, to start v2 from
#   scripts/train/run2.sh train     # the long run in the background (nohup), log in training/v2/run/train.log
#   scripts/train/run2.sh pause     # pause the long run's processes (tests, benchmarks); `resume` goes on, `stop` saves and ends them
#   scripts/train/run2.sh pack      # the checkpoint and training record to commit (checkpoints/texmesh-v2)
#   scripts/train/run2.sh export    # ONNX, model.json, calibration, held-out A/B/C evaluations, model card (MODEL_DIR, default models/texmesh-v2)
#                                   # of CHECKPOINT_PT (default the run's last.pt; checkpoint.py ema writes its moving average, the candidate to ship)
#   scripts/train/run2.sh finetune DIR  # a short run on people's corrections (texmesh corrections export DIR), in training/v2/finetune, float32 unless FT_PRECISION=bf16
#
# Needs: Debian's python3-torch, python3-opencv, python3-pil, python3-onnx, libopenblas0-pthread; texlive + dvipng.
# MINUTES (default: the resumed run's own, else 600) is the long run's budget, counted across restarts. ARCH (default v1net), INIT (weights to
# start a new run from), CORE (the core it runs on), RANKS (processes, one a core: 2 uses both; CORES picks them),
# TRAIN_ARGS (more train2.py options).
set -euo pipefail
cd "$(dirname "$0")/../.."

# V2_DIR: the folder of data and runs, relative to the checkout (default training/v2).
V2=${V2_DIR:-training/v2}
case $V2 in /*) echo "V2_DIR must be relative to the checkout, not $V2" >&2; exit 2 ;; esac
SHARDS=${SHARDS:-40}
PY=/usr/bin/python3
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
VOCAB=models/texmesh-v1/vocab.json
# Clean renders of grammar v3 (profile clean3) in $V2/FOLDER: v3_shards FOLDER SEED SHARDS [PROFILE].
v3_shards() {
  npm run --silent build
  mkdir -p "$V2/$1"
  nice -n 10 node dist/scripts/datagen/build.js --format clean --profile "${4:-clean3}" --out "$V2/$1" --seed "$2" --count 2000 --shards "0:$3"
  echo "data ready in $V2/$1"
}
# The clean folders there are, as train2.py's --data list for the long run.
data_list() { for d in clean clean2 clean3 clean4 clean5 clean6 clean7 clean8 clean9 clean10; do if [ -d "$V2/$d" ]; then echo -n ",../../$V2/$d"; fi; done | cut -c2-; }
train2() { (cd scripts/train && nice -n 19 "$PY" train2.py --data "../../$V2/clean" --dev "../../$V2/dev" --vocab "../../$VOCAB" "$@"); }
# A run that goes on from a checkpoint for MINUTES of one core (process CPU time), without the moving
# average, dev checked on all 600 images half-way and at the end:
# branch CORE MINUTES DATA INIT(absolute) OUT [TRAIN2_OPTIONS...]
branch() {
  local core=$1 m=$2 data=$3 init=$4 out=$5
  shift 5
  OMP_NUM_THREADS=1 taskset -c "$core" bash -c "cd scripts/train && exec nice -n 19 $PY train2.py --data $data --dev ../../$V2/dev \
    --vocab ../../$VOCAB --out ../../$out --minutes $m --arch ${ARCH:-v1net} --clock cpu --init $init \
    --dev-count 600 --dev-minutes $(( m / 2 )) --ema 0 $*" >/dev/null 2>&1
}
# The long run's processes (ranks and batch makers) of this checkout: its command line names the run's
# folder, and it runs in this checkout's scripts/train (the bracket keeps the pattern off the shell running it).
trainers() {
  local here p
  here=$(realpath scripts/train)
  for p in $(pgrep -f "[t]rain2\.py --data.* --out \.\./\.\./$V2/run " || true); do
    [ "$(readlink -f "/proc/$p/cwd" 2>/dev/null)" = "$here" ] && echo "$p"
  done
  return 0
}

case "${1:-}" in
  data)
    npm run --silent build
    node dist/scripts/datagen/build.js --format ink --profile train --out "$V2/dev" --seed 3 --count 600 --shards 0:1
    node dist/scripts/datagen/build.js --format ink --profile heldout-b --out "$V2/dev-b" --seed 5 --count 300 --shards 0:1
    node dist/scripts/datagen/build.js --format clean --profile clean --out "$V2/clean" --seed 1 --count 2000 --shards "0:$SHARDS"
    # v2's grammar (random and long formulas) and MathJax 4's fonts: 60 more shards.
    node dist/scripts/datagen/build.js --format clean --profile clean2 --out "$V2/clean2" --seed 2 --count 2000 --shards "0:${SHARDS2:-60}"
    echo "data ready in $V2"
    ;;
  data3)
    # Grammar v3 (formulas of the topics people scan: inner products, multiple integrals, inline
    # fractions, brackets, ...), MathJax 4's fonts. A running training picks up each shard as it lands
    # when started with the folder there (train adds it to --data once it exists).
    v3_shards clean3 6 "${SHARDS3:-40}"
    ;;
  data4)
    # Grammar v3 again, seed 7: new formulas of the same kinds for the second phase (decision 20).
    v3_shards clean4 7 "${SHARDS4:-40}"
    ;;
  data5)
    # The third phase's fresh formulas (decision 28): grammar v3 again, seed 8, and v2's random and long
    # formulas again, seed 9.
    v3_shards clean5 8 "${SHARDS5:-40}"
    v3_shards clean6 9 "${SHARDS6:-20}" clean2
    ;;
  data6)
    # The third phase reads nearly three times the samples an hour since it runs in bfloat16 on both cores
    # (decision 29): fresh formulas for it, grammar v3 with seed 10 and v2's mix with seed 11.
    v3_shards clean7 10 "${SHARDS7:-40}"
    v3_shards clean8 11 "${SHARDS8:-20}" clean2
    ;;
  data7)
    # Grammar v4: v3's formulas and notation formulas besides (bare contour integrals, the bold zero,
    # inverse trigonometric names, fractions side by side, word subscripts, ...: decision 31), seed 12.
    v3_shards clean9 12 "${SHARDS9:-30}" clean-v4
    ;;
  data8)
    # Grammar v4 again, seed 13 (decision 34): the held-out C misreadings that repeat in every font and
    # density are its notation (braces, floors, angle brackets, hats on bold letters, word subscripts),
    # which only clean9's 30 shards of 350 had.
    v3_shards clean10 13 "${SHARDS10:-60}" clean-v4
    ;;
  compare)
    # Candidate designs from scratch at equal compute: COMPARE_MINUTES (default 30) of one core each
    # (process CPU time, one thread: on this model PyTorch's second thread bought almost nothing),
    # one after another on core CORE (default 0), so that two queues can run side by side. In float32,
    # as the recorded comparisons ran (bfloat16 came later, decision 29).
    # CANDIDATES: "ARCH GEOMETRY COUNT_LOSS[ NAME]" separated by ";".
    m=${COMPARE_MINUTES:-30}
    IFS=';' read -ra specs <<< "${CANDIDATES:-v1 squeeze 0;v1like glyph 0;enc2dec2 glyph 0;enc2dec2 glyph 0.1}"
    for spec in "${specs[@]}"; do
      set -- $spec
      name=${4:-$1-$2$([ "$3" = 0 ] || echo "-count$3")}
      [ -f "$V2/compare/$name/final.pt" ] && continue
      OMP_NUM_THREADS=1 taskset -c "${CORE:-0}" bash -c "$(declare -f train2); V2=$V2 VOCAB=$VOCAB PY=$PY; train2 \
        --out ../../$V2/compare/$name --minutes $m --arch $1 --geometry $2 --count-loss $3 --clock cpu --precision fp32 --ema 0" >/dev/null 2>&1
    done
    grep -h "done:" "$V2"/compare/*/train.log
    ;;
  compare2|compare3)
    # Candidates for going on from a trained checkpoint (INIT), at equal compute: COMPARE_MINUTES (default
    # 30) of one core each (process CPU time), one after another on core CORE (default 0), in $V2/compare2
    # on the data the first phase saw (clean, clean2, clean3: the same for every candidate, whatever lands
    # meanwhile), or in $V2/compare3 on the long run's folders, in bfloat16 where the CPU has it as the
    # long run trains (the third phase's comparisons). CANDIDATES: "NAME TRAIN2_OPTIONS..." separated by
    # ";". Dev checks on all 600 images. Two queues can run side by side, on CORE=0 and CORE=1.
    m=${COMPARE_MINUTES:-30}
    init=$(realpath "${INIT:?INIT: the checkpoint to go on from}")
    if [ "$1" = compare2 ]; then
      data=../../$V2/clean,../../$V2/clean2,../../$V2/clean3 precision=fp32
    else
      data=$(data_list) precision=auto
      [ -n "$data" ] || { echo "no training data in $V2 (clean, clean2, ...): make it with scripts/train/run2.sh data first" >&2; exit 2; }
    fi
    dir=$1
    IFS=';' read -ra specs <<< "${CANDIDATES:?CANDIDATES: NAME OPTIONS;...}"
    for spec in "${specs[@]}"; do
      set -- $spec
      name=$1; shift
      [ -f "$V2/$dir/$name/final.pt" ] && continue
      branch "${CORE:-0}" "$m" "$data" "$init" "$V2/$dir/$name" --precision "$precision" "$@"
    done
    grep -h "done:" "$V2/$dir"/*/train.log
    ;;
  candidate)
    # A candidate to ship (decision 36): the long run's moving average as it is now, trained on for
    # CANDIDATE_MINUTES (default 30) of one core (process CPU time, on core CORE, default 1) with the
    # learning rate going from the run's present one down to zero, on the run's folders, in bfloat16
    # where the CPU has it; in $V2/candidates/at-MINUTES (the run's minutes). Then export it:
    # CHECKPOINT_PT=$V2/candidates/at-MINUTES/final.pt MODEL_DIR=/tmp/NAME/texmesh-v2 run2.sh export.
    [ -f "$V2/run/last.pt" ] || { echo "no long run in $V2/run to take a candidate from" >&2; exit 2; }
    lr=$(grep -o ' lr [0-9.e+-]*' "$V2/run/train.log" | tail -1 | cut -d' ' -f3)
    at=$("$PY" -c "import sys, torch; print(round(torch.load(sys.argv[1], map_location='cpu')['state']['elapsed'] / 60))" "$V2/run/last.pt")
    out=$V2/candidates/at-$at
    mkdir -p "$out"
    (cd scripts/train && "$PY" checkpoint.py ema "../../$V2/run/last.pt" "../../$out/start.pt")
    branch "${CORE:-1}" "${CANDIDATE_MINUTES:-30}" "$(data_list)" "$(realpath "$out/start.pt")" "$out" --lr "${lr:-1.25e-4}" --warmup 0.02
    grep -h "done:" "$out/train.log"
    echo "candidate: $out/final.pt"
    ;;
  init)
    # v1's float weights, recovered from its ONNX files (BatchNorm set up again on v1-format dev canvases),
    # for a v2 run that starts from them (ARCH=v1net INIT=training/v2/v1-init.pt).
    [ -f training/data/dev/shard-0000.jsonl ] || node dist/scripts/datagen/build.js --out training/data/dev --seed 3 --count 512 --shards 0:1
    (cd scripts/train && "$PY" from_onnx.py --model ../../models/texmesh-v1 --calibrate ../../training/data/dev --out "../../$V2/v1-init.pt")
    ;;
  train)
    # The long run, one thread pinned to core CORE (default 0), leaving the other core to everything else;
    # or RANKS processes, one a core, when the machine has nothing else to do (run2.sh pause and resume them).
    mkdir -p "$V2/run"
    if [ -n "$(trainers)" ]; then
      echo "a trainer is already running in $V2/run (scripts/train/run2.sh stop ends it)" >&2; exit 1
    fi
    if [ ! -f "$V2/run/last.pt" ] && [ -f "${CHECKPOINT:-checkpoints/texmesh-v2/weights.pt}" ] && [ -z "${INIT:-}" ]; then
      # A new machine: go on from the committed checkpoint.
      (cd scripts/train && "$PY" checkpoint.py unpack "../../${CHECKPOINT:-checkpoints/texmesh-v2/weights.pt}" "../../$V2/run/last.pt")
    fi
    # A run resumed without MINUTES keeps its own budget (the third phase's is 600 minutes since decision 29).
    minutes=${MINUTES:-$([ -f "$V2/run/last.pt" ] && "$PY" -c "import sys, torch; print(torch.load(sys.argv[1], map_location='cpu')['state']['recipe']['minutes'])" "$V2/run/last.pt" || echo 600)}
    # RANKS=2: one process a core (cores 0 and 1, or CORES), gradients averaged every step.
    ranks=${RANKS:-1}
    # What would only fail in the background log, said here.
    [[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "RANKS must be a whole number of at least 1, not '$ranks'" >&2; exit 2; }
    [ "$ranks" -le "$(nproc)" ] || { echo "RANKS=$ranks needs $ranks cores; this machine lets it use $(nproc)" >&2; exit 2; }
    [ -n "$(data_list)" ] || { echo "no training data in $V2 (clean, clean2, ...): make it with scripts/train/run2.sh data first" >&2; exit 2; }
    cores=${CORES:-$([ "$ranks" -gt 1 ] && echo "0-$((ranks - 1))" || echo "${CORE:-0}")}
    nohup env OMP_NUM_THREADS=1 taskset -c "$cores" bash -c "cd scripts/train && exec nice -n 19 $PY train2.py \
      --data $(data_list) --dev ../../$V2/dev --vocab ../../$VOCAB --out ../../$V2/run --ranks $ranks \
      --minutes $minutes --arch ${ARCH:-v1net} ${INIT:+--init ../../$INIT} ${TRAIN_ARGS:-}" >>"$V2/run/stdout.log" 2>&1 &
    echo "training in the background (pid $!); follow it with: tail -f $V2/run/train.log"
    ;;
  pause|resume|stop)
    # The long run's processes in this checkout (trainers above), not compare or fine-tune runs.
    # stop: the trainer saves first (SIGTERM), and resumes later with run2.sh train.
    sig=$(case $1 in pause) echo STOP ;; resume) echo CONT ;; stop) echo TERM ;; esac)
    pids=$(trainers)
    if [ -z "$pids" ]; then echo "no trainer is running in $V2/run"; exit 0; fi
    # shellcheck disable=SC2086  # one pid a word
    { [ "$1" = stop ] && kill -CONT $pids 2>/dev/null; kill "-$sig" $pids 2>/dev/null; } || true
    echo "$1: sent SIG$sig"
    if [ "$1" = stop ]; then
      # It finishes its step and saves; wait for that, so that train may follow at once.
      for _ in $(seq 600); do [ -n "$(trainers)" ] || { echo "stopped"; exit 0; }; sleep 0.5; done
      echo "still running after 5 minutes" >&2; exit 1
    fi
    ;;
  pack)
    # The checkpoint to commit: half-precision weights and the run's record, and the training record beside it.
    (cd scripts/train && "$PY" checkpoint.py pack "../../$V2/run/last.pt" ../../checkpoints/texmesh-v2/weights.pt)
    "$PY" scripts/train/report2.py --v2 "$V2"
    ;;
  export)
    # ONNX, model.json, calibration, the three held-out evaluations and the model card, in MODEL_DIR
    # (default models/texmesh-v2; its folder name is the model's name), from CHECKPOINT_PT (default the long run's
    # last.pt; checkpoint.py ema writes the run's moving average of its weights, the candidate to ship).
    # Absolute paths: export.py runs in scripts/train, the rest here.
    out=$(realpath -m "${MODEL_DIR:-models/texmesh-v2}")
    ckpt=$(realpath -m "${CHECKPOINT_PT:-$V2/run/last.pt}")
    grammar_commit=$(git log -1 --format=%h -- formulas/ 2>/dev/null || echo unknown)
    clean3=$(ls "$V2"/clean3/clean-*.jsonl 2>/dev/null | wc -l || true)
    # Only the folders the checkpoint's run read (runs before data4 read clean, clean2 and clean3).
    read_by_run() { "$PY" -c "import sys, torch; s = torch.load(sys.argv[1], map_location='cpu')['state']; sys.exit(0 if sys.argv[2] in s.get('data_folders', []) else 1)" "$ckpt" "$1"; }
    shards_of() { if read_by_run "$1"; then ls "$V2/$1"/clean-*.jsonl 2>/dev/null | wc -l; else echo 0; fi; }
    clean4=$(shards_of clean4); clean5=$(shards_of clean5); clean6=$(shards_of clean6)
    clean7=$(shards_of clean7); clean8=$(shards_of clean8); clean9=$(shards_of clean9)
    clean10=$(shards_of clean10)
    recipe='{"grammar": "formulas/ at commit '"$grammar_commit"'",
      "clean": {"seed": 1, "shards": '"$SHARDS"', "per_shard": 2000, "profile": "clean"},
      "clean2": {"seed": 2, "shards": '"${SHARDS2:-60}"', "per_shard": 2000, "profile": "clean2"},
      "clean3": {"seed": 6, "shards": '"$clean3"', "per_shard": 2000, "profile": "clean3"},
      "clean4": {"seed": 7, "shards": '"$clean4"', "per_shard": 2000, "profile": "clean3"},
      "clean5": {"seed": 8, "shards": '"$clean5"', "per_shard": 2000, "profile": "clean3"},
      "clean6": {"seed": 9, "shards": '"$clean6"', "per_shard": 2000, "profile": "clean2"},
      "clean7": {"seed": 10, "shards": '"$clean7"', "per_shard": 2000, "profile": "clean3"},
      "clean8": {"seed": 11, "shards": '"$clean8"', "per_shard": 2000, "profile": "clean2"},
      "clean9": {"seed": 12, "shards": '"$clean9"', "per_shard": 2000, "profile": "clean-v4"},
      "clean10": {"seed": 13, "shards": '"$clean10"', "per_shard": 2000, "profile": "clean-v4"},
      "dev": {"seed": 3, "count": 600, "profile": "train", "format": "ink"},
      "heldout_a": {"seed": 1001, "count": 400, "profile": "heldout-a"}, "heldout_b": {"seed": 2002, "count": 300, "profile": "heldout-b"},
      "heldout_c": {"source": "datasets/heldout-c/source.jsonl", "formulas": 287, "images": 2870},
      "calibration": {"seed": 4004, "count": 400, "profile": "train"}}'
    (cd scripts/train && OMP_NUM_THREADS=1 "$PY" export.py --checkpoint "$ckpt" --dev "../../$V2/dev" --out "$out" --recipe "$recipe")
    npm run --silent build
    node dist/scripts/model-manifest.js "$out"
    node dist/scripts/calibrate.js datasets/calibration --model "$out"
    for set in heldout-a heldout-b heldout-c; do
      node dist/scripts/eval.js "datasets/$set" --model "$out" --report "$out/eval-$set.json"
    done
    # The training record of the checkpoint exported (not of the committed one), with the committed
    # decisions and comparisons, written aside so that checkpoints/texmesh-v2 is left as it is.
    record=$(mktemp -d)
    cp checkpoints/texmesh-v2/DECISIONS.md checkpoints/texmesh-v2/comparison*.json "$record/"
    "$PY" scripts/train/report2.py --v2 "$V2" --checkpoint "$ckpt" --out "$record"
    cp "$record/TRAINING.md" "$out/TRAINING.md"
    rm -rf "$record"
    node dist/scripts/model-card.js "$out"
    echo "model card: $out/MODEL_CARD.md"
    ;;
  finetune)
    # A short run from FT_INIT (default the long run's last.pt) on a labelled folder (texmesh corrections
    # export DIR) beside FT_REPLAY shards of the usual data (so the model keeps what it knew), the
    # corrections repeated FT_REPEAT times; FT_MINUTES (default 15) on core CORE (default 1), then
    # ONNX, model.json and the shipped curve in $V2/finetune/model. FT_ALLOW_HELDOUT_C=1 only for
    # npm run bench:learning's measurement (that model must never ship).
    corrections=${2:?usage: run2.sh finetune LABELLED_DIR}
    ft=$V2/finetune
    rm -rf "$ft/data" "$ft/run" "$ft/model"
    mkdir -p "$ft/data/replay"
    allow=""; [ "${FT_ALLOW_HELDOUT_C:-0}" = 1 ] && allow=--allow-heldout-c
    npm run --silent build
    node dist/scripts/datagen/from-labelled.js "$corrections" --out "$ft/corrections" $allow
    for k in $(seq 1 "${FT_REPEAT:-3}"); do
      mkdir -p "$ft/data/corrections-$k"
      ln -s "$(realpath "$ft/corrections/clean-0000.bin")" "$ft/data/corrections-$k/clean-0000.bin"
      ln -s "$(realpath "$ft/corrections/clean-0000.jsonl")" "$ft/data/corrections-$k/clean-0000.jsonl"
    done
    for f in $(ls "$V2"/clean3/clean-*.jsonl "$V2"/clean2/clean-*.jsonl | shuf -n "${FT_REPLAY:-2}" --random-source=<(yes)); do
      n=clean-$(basename "$(dirname "$f")")-$(basename "$f" .jsonl | sed 's/^clean-//')
      ln -s "$(realpath "$f")" "$ft/data/replay/$n.jsonl"; ln -s "$(realpath "${f%.jsonl}.bin")" "$ft/data/replay/$n.bin"
    done
    data=$(ls -d "$ft"/data/*/ | sed 's|^|../../|; s|/$||' | paste -sd,)
    OMP_NUM_THREADS=1 taskset -c "${CORE:-1}" bash -c "cd scripts/train && exec nice -n 10 $PY train2.py --data $data --dev ../../$V2/dev \
      --vocab ../../$VOCAB --out ../../$ft/run --minutes ${FT_MINUTES:-15} --arch ${ARCH:-v1net} --lr ${FT_LR:-3e-4} --warmup 0.05 \
      --dev-minutes 5 --checkpoint-minutes 5 --precision ${FT_PRECISION:-fp32} --ema 0 --init $(realpath "${FT_INIT:-$V2/run/last.pt}")" >"$ft/stdout.log" 2>&1 \
      || { echo "the fine-tune failed: $ft/stdout.log says why" >&2; tail -5 "$ft/stdout.log" >&2; exit 1; }
    (cd scripts/train && OMP_NUM_THREADS=1 "$PY" export.py --checkpoint "../../$ft/run/last.pt" --dev "../../$V2/dev" --out "../../$ft/model" \
      --recipe "$("$PY" -c 'import json, sys; print(json.dumps({"finetune": {"corrections": sys.argv[1], "repeat": int(sys.argv[2]), "replay_shards": int(sys.argv[3]), "heldout_c_allowed": sys.argv[4] == "1"}}))' \
        "$corrections" "${FT_REPEAT:-3}" "${FT_REPLAY:-2}" "${FT_ALLOW_HELDOUT_C:-0}")")
    node dist/scripts/model-manifest.js "$ft/model"
    node dist/scripts/calibrate.js datasets/calibration --model "$ft/model"
    echo "fine-tuned model: $ft/model"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | grep '^#'
    exit 2
    ;;
esac
