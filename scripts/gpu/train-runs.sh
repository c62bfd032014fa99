#!/usr/bin/env bash
# Train queued runs on another machine's CPU cores (the accelerator machine has 16 and no Node.js): one wasm worker
# per run in .gpu/queue/<run>/config.json (scripts/gpu/queue.js), each `ncl train --time-limit` so it stops at the last
# epoch boundary that fits; their checkpoints come back in $OUT/checkpoints-<i>.tar to be resumed here by
# `ncl reproduce` (a resumed run finishes exactly as an uninterrupted one; every epoch records the processor that
# trained it, metrics.json train.epochs[].host). Runs from the repository root after scripts/gpu/prepare.sh
# (and scripts/gpu/split.sh join, when the payload was split).
#
#   NCL_TRAIN_MINUTES=8 NCL_TRAIN_WORKERS=16 OUT=/tmp/out bash scripts/gpu/train-runs.sh
#   NCL_TRAIN_GPU_STEPS=auto,smoke ...     also run scripts/gpu/device.sh with these steps meanwhile (GPU check)
#
# $OUT: train-log.txt (each run's output), checkpoints-<i>.tar (≤ 8 runs each: <run>/checkpoint.bin, config.json),
# and device.sh's files when NCL_TRAIN_GPU_STEPS is set.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${OUT:-/tmp/ncl-train-out}
MINUTES=${NCL_TRAIN_MINUTES:-8}
WORKERS=${NCL_TRAIN_WORKERS:-$(nproc)}
N=/tmp/ncl-gpu
W=/tmp/ncl-train
mkdir -p "$OUT" "$W"
LOG=$OUT/train-log.txt
: >"$LOG"
note() { echo "[train-runs $(date +%T) +${SECONDS}s] $*" | tee -a "$LOG" >&2; }

[ -d .gpu/queue ] || { note "no .gpu/queue: run scripts/gpu/queue.js here first"; exit 2; }
# Unpack: Node.js (joined from .gpu-1/, .gpu-2/ when split), the CLI bundle (.gpu/ncl.js, or .gpu/ncl.js.xz from
# `split.sh split-cpu`, which leaves out what only the GPU check needs) and the wasm binaries beside it.
# shellcheck source=scripts/gpu/unpack.sh
. scripts/gpu/unpack.sh
mkdir -p "$N"
unpack_node "$N" 2>>"$LOG" || { note "unpack failed: no Node.js (node.xz, or its pieces)"; exit 2; }
if [ -s .gpu/ncl.js ]; then cp .gpu/ncl.js "$N/"; else unxz_to .gpu/ncl.js.xz "$N/ncl.js" || { note "no .gpu/ncl.js(.xz)"; exit 2; }; fi
cp .gpu/*.wasm "$N/"
NODE=$N/node
note "unpacked: $("$NODE" --version), CLI bundle of $(cat .gpu/commit 2>/dev/null)"
export NCL_DATA_DIR=$PWD/data
note "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-); $WORKERS worker(s), ${MINUTES} min each"

if [ -n "${NCL_TRAIN_GPU_STEPS:-}" ]; then
  (NCL_GPU_STEPS=$NCL_TRAIN_GPU_STEPS NCL_GPU_BUDGET=$(awk "BEGIN{print int($MINUTES*60)}") OUT=$OUT \
    bash scripts/gpu/device.sh >"$W/device.out" 2>&1) &
  gpu=$!
fi

# Workers: a pool over the queue, checks first; a run that waits for a free slot gets the time left until the common
# deadline (a check's own limit is .gpu/queue/<check>/minutes); none starts with under 90 s left.
DEADLINE=$((SECONDS + $(awk "BEGIN{print int($MINUTES*60)}")))
runs="$(ls .gpu/queue | grep '^check-') $(ls .gpu/queue | grep -v '^check-')"
active=0
for r in $runs; do
  while [ "$active" -ge "$WORKERS" ]; do wait -n; active=$((active - 1)); done
  left=$((DEADLINE - SECONDS))
  [ "$left" -lt 90 ] && { note "$r: not started (${left}s left)"; continue; }
  limit=$(cat ".gpu/queue/$r/minutes" 2>/dev/null || awk "BEGIN{print $left/60}")
  mkdir -p "$W/$r"
  note "start $r (--time-limit $limit min)"
  (
    NCL_BACKEND=wasm timeout -k 10 $((left + 60)) "$NODE" "$N/ncl.js" train --config ".gpu/queue/$r/config.json" \
      --out "$W/$r" --resume --results results --time-limit "$limit" >"$W/$r.log" 2>&1
    echo "exit $?" >>"$W/$r.log"
  ) &
  active=$((active + 1))
done
wait
for r in $runs; do
  { echo "===== $r"; grep -E '^epoch |stopped|error|exit ' "$W/$r.log"; } >>"$LOG"
done
[ -n "${gpu:-}" ] && { wait "$gpu"; cat "$W/device.out" >>"$LOG"; }

# Checkpoints, ≤ 8 runs per tar (the device tool brings back files of at most 16 MiB).
i=0
echo "$runs" | xargs -n 8 | while read -r group; do
  i=$((i + 1))
  files=()
  for r in $group; do
    for f in checkpoint.bin config.json; do [ -f "$W/$r/$f" ] && files+=("$r/$f"); done
  done
  [ ${#files[@]} -gt 0 ] && tar -cf "$OUT/checkpoints-$i.tar" -C "$W" "${files[@]}"
done
note "done: $(ls "$OUT"/checkpoints-*.tar 2>/dev/null | wc -l) tar(s); $(grep -c '^stopped\|stopped after' "$LOG") run(s) stopped at an epoch boundary"
