#!/usr/bin/env bash
# Trains the run configs in .gpu/jobs/ (written by scripts/gpu/jobs.ts) on a GPU machine without Node.js or network,
# all at once, one `ncl train` process each on the webgpu backend (the compiled step, docs/gpu.md). Run from the
# repository root with .gpu/ (scripts/gpu/prepare.sh) beside it:
#
#   OUT=/tmp/out NCL_GPU_MINUTES=9 bash scripts/gpu/train.sh
#
# Every run stops at the last epoch boundary expected within NCL_GPU_MINUTES (`ncl train --time-limit`) with its
# checkpoint, in .gpu/runs/runs/<protocol>/<name>/; calling the script again resumes each unfinished run there (on a machine
# kept warm, or with .gpu/ carried back). At the end every run folder (config, checkpoint, and metrics once finished)
# is copied to $OUT/runs/<protocol>/<name>/ (and the lot into $OUT/runs.tar), each run's log to $OUT/logs/runs/<protocol>/<name>.log, and $OUT/gpu.txt samples nvidia-smi every 30 s. A finished
# folder goes into results/runs/ as it is: its metrics.json records backend "webgpu".
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${OUT:-/tmp/ncl-gpu-out}
MINUTES=${NCL_GPU_MINUTES:-8}
N=/tmp/ncl-gpu
RUNS=$PWD/.gpu/runs
mkdir -p "$OUT/logs" "$N" "$RUNS"
say() { echo "[gpu-train $(date +%T) +${SECONDS}s] $*" | tee -a "$OUT/logs/train.txt" >&2; }

# shellcheck source=scripts/gpu/unpack.sh
. scripts/gpu/unpack.sh
unpack_node "$N" && unpack_cli "$N" || { say "no .gpu payload: run scripts/gpu/prepare.sh and copy .gpu here"; exit 2; }
[ -s "$N/dawn.node" ] || unxz_to .gpu/dawn.node.xz "$N/dawn.node"
# The Vulkan loader and libglvnd that the NVIDIA Vulkan ICD needs (as run.sh), where the machine has none.
ldconfig -p | grep -q 'libvulkan.so.1' || { for f in .gpu/gl/*.deb; do dpkg -x "$f" /; done; ldconfig; }
export NCL_DAWN_NODE=$N/dawn.node NCL_DATA_DIR=$PWD/data NCL_BACKEND=webgpu
export NCL_DAWN_FLAGS=${NCL_DAWN_FLAGS-enable-dawn-features=allow_unsafe_apis}

jobs=$(cd .gpu/jobs 2>/dev/null && find . -name '*.json' | sed 's|^\./||' | sort)
[ -n "$jobs" ] || { say "no jobs in .gpu/jobs (npx tsx scripts/gpu/jobs.ts <figure ids>)"; exit 2; }
(while sleep 30; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>&1 |
  sed "s/^/$(date +%T) /"; uptime; done >>"$OUT/gpu.txt") &
mon=$!
pids=()
for rel in $jobs; do
  name=${rel%.json}
  mkdir -p "$RUNS/$name" "$OUT/logs/$(dirname "$name")"
  timeout -k 5 $((MINUTES * 60 + 45)) "$N/node" "$N/ncl.js" train --config ".gpu/jobs/$rel" --out "$RUNS/$name" \
    --resume --results "$PWD/.gpu" --time-limit "$MINUTES" >>"$OUT/logs/$name.log" 2>&1 &
  pids+=($!)
done
say "started ${#pids[@]} run(s), each stopping within $MINUTES min"
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
kill "$mon" 2>/dev/null
say "all stopped ($fails non-zero exits)"
for rel in $jobs; do
  name=${rel%.json}
  mkdir -p "$OUT/$name"
  (cd "$RUNS/$name" && find . -maxdepth 1 -type f ! -name train.lock ! -name subset.json -exec cp {} "$OUT/$name/" \;)
  if [ -f "$RUNS/$name/metrics.json" ]; then state=finished; else state="unfinished: $(tail -c 300 "$OUT/logs/$name.log" | tr '\n' ' ')"; fi
  say "$name: $state"
done
# The same folders as one file, for a transport that keeps only shallow paths.
tar -C "$OUT" -cf "$OUT/runs.tar" runs
