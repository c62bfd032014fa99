#!/usr/bin/env bash
# The prepared GPU check: run on a GPU machine that has no Node.js and no network, from the repository root, after
# scripts/gpu/prepare.sh built .gpu/ (a Node.js binary, one bundle of the lib and this check, Dawn's addon, the
# Vulkan loader) and .gpu/ was copied there with the working tree. Writes into the folder it is given (default
# /tmp/ncl-gpu-out):
#   results.jsonl   one JSON line per result (info, stepcheck, gradcheck, bench, torch, trainrun) and per step
#   log.txt         everything the steps printed on stderr, with the step headers
#   env.txt         nvidia-smi, the Vulkan ICDs, vulkaninfo --summary, the Dawn flag trials
#
#   bash scripts/gpu/run.sh /tmp/out                # NCL_GPU_BUDGET=seconds for all steps (default 420)
#   NCL_GPU_ALLOW_SOFTWARE=1 ...                    # no GPU: fall back to Dawn on Mesa llvmpipe (tests this script)
#   NCL_GPU_STEPS=stepcheck,bench,torch             # only these steps (default: all but baseline)
#   NCL_GPU_STEPS=baseline NCL_GPU_BUDGET=420 ...   # issue #43's baseline: ours and PyTorch's best modes, 3 rounds
#
# Every step runs under `timeout` and within the overall budget (the whole script within 8 minutes), so one that
# fails or hangs leaves the others their turn. Steps: unpack; Vulkan loader (from .gpu/gl when the machine has none);
# environment; the Dawn settings that give a hardware adapter (ICD file × Dawn flags, first that works); automatic
# backend choice; the compiled training step against cpu (stepcheck) and tfjs-webgpu's kernels' gradients
# (gradcheck); ResNet-32 batch 128 training steps, compiled and eager; NCL++ in the paper's setting (K = 2, T = 4,
# batch 64); PyTorch on CUDA, same model and step (where python3 has torch); 2 epochs of the `mini` protocol's NCL++.
# Or (NCL_GPU_STEPS=baseline) the fair baseline: our compiled step and every PyTorch mode in alternating rounds.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${1:-/tmp/ncl-gpu-out}
N=/tmp/ncl-gpu
mkdir -p "$OUT" "$N"
RES=$OUT/results.jsonl
LOG=$OUT/log.txt
ENVF=$OUT/env.txt
DEADLINE=$((SECONDS + ${NCL_GPU_BUDGET:-420}))
: >"$RES"
: >"$LOG"
: >"$ENVF"

note() { echo "[device $(date +%T) +${SECONDS}s] $*" | tee -a "$LOG" >&2; }
# Unpacking the payload (.gpu/).
unxz_to() { # unxz_to FILE.xz DEST: xz if there is one, else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else
    python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}
unpack_node() { # unpack_node DIR: .gpu/node.xz -> DIR/node, once
  [ -s .gpu/node.xz ] || return 1
  [ -x "$1/node" ] || { unxz_to .gpu/node.xz "$1/node.tmp" && chmod +x "$1/node.tmp" && mv "$1/node.tmp" "$1/node"; }
}
unpack_cli() { # unpack_cli DIR: .gpu/ncl.js.xz -> DIR/ncl.js (the `ncl` bundle)
  [ -s .gpu/ncl.js.xz ] || return 1
  unxz_to .gpu/ncl.js.xz "$1/ncl.js.tmp" && mv "$1/ncl.js.tmp" "$1/ncl.js"
}

# --- unpack -------------------------------------------------------------------------------------------------------
[ -s .gpu/ncl-gpu.js ] && unpack_node "$N" || { note "no .gpu payload: run scripts/gpu/prepare.sh and copy .gpu here"; exit 2; }
[ -s "$N/dawn.node" ] || unxz_to .gpu/dawn.node.xz "$N/dawn.node"
cp .gpu/ncl-gpu.js .gpu/*.wasm "$N/"
unpack_cli "$N" || note "no .gpu/ncl.js.xz: the ncl command line is not there"
NODE=$N/node
B=$N/ncl-gpu.js
export NCL_DAWN_NODE=$N/dawn.node NCL_DATA_DIR=$PWD/data
note "unpacked: $("$NODE" --version) bundle of $(cat .gpu/commit 2>/dev/null) ($(wc -c <"$B") bytes)"
[ -n "${NCL_UNPACK_ONLY:-}" ] && exit 0

# --- steps --------------------------------------------------------------------------------------------------------
# step NAME LIMIT CMD...: stdout (JSON lines) -> results.jsonl, stderr -> log.txt, then a {"kind":"step"} line.
step() {
  local name=$1 limit=$2 left start rc
  shift 2
  left=$((DEADLINE - SECONDS))
  if [ "$left" -lt 15 ]; then
    echo "{\"kind\":\"step\",\"step\":\"$name\",\"skipped\":\"out of time budget\"}" >>"$RES"
    note "skip $name: out of time"
    return 99
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  note "step $name (limit ${limit}s): $*"
  echo "===== $name: $*" >>"$LOG"
  start=$SECONDS
  timeout -k 5 "$limit" "$@" >"$N/$name.out" 2>>"$LOG"
  rc=$?
  cat "$N/$name.out" >>"$RES"
  echo "{\"kind\":\"step\",\"step\":\"$name\",\"rc\":$rc,\"seconds\":$((SECONDS - start))}" >>"$RES"
  note "step $name: rc $rc in $((SECONDS - start))s"
  return $rc
}

# --- Vulkan loader and environment --------------------------------------------------------------------------------
{
  echo "== date"; date -u +%FT%TZ
  echo "== uname"; uname -a
  echo "== os"; head -3 /etc/os-release 2>/dev/null
  echo "== nvidia-smi"; timeout 20 nvidia-smi 2>&1
  timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv 2>&1
  echo "== libvulkan before"; ldconfig -p | grep libvulkan
} >>"$ENVF" 2>&1
# The README's recipe: Vulkan loader + libglvnd (libGLX_nvidia, the NVIDIA Vulkan ICD, needs libGLdispatch).
for f in .gpu/gl/*.deb; do dpkg -x "$f" /; done
ldconfig
mkdir -p "$N/vt" && for f in .gpu/gl/tools/*.deb; do dpkg -x "$f" "$N/vt"; done
VULKANINFO=$(command -v vulkaninfo || echo "$N/vt/usr/bin/vulkaninfo")
LD_LIBRARY_PATH_VT=$N/vt/usr/lib/x86_64-linux-gnu
{
  echo "== libraries after unpacking .gpu/gl"
  ldconfig -p | grep -E 'libvulkan|GLX_nvidia|GLdispatch|libGLX\.|libEGL_nvidia|nvidia-glcore' 2>&1
  nv=$(ldconfig -p | grep -m1 'libGLX_nvidia.so.0' | awk '{print $NF}')
  [ -n "$nv" ] && { echo "== ldd $nv"; ldd "$nv" 2>&1 | grep -E 'not found|GLdispatch|nvidia' ; }
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
} >>"$ENVF" 2>&1
ICD_NV=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
{
  echo "== Vulkan ICD files"
  ls -la /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1
  cat "$ICD_NV" 2>&1
  echo "== vulkaninfo --summary (default ICD search)"
  LD_LIBRARY_PATH=$LD_LIBRARY_PATH_VT timeout 20 "$VULKANINFO" --summary 2>&1 | head -60
  if [ -f "$ICD_NV" ]; then
    echo "== vulkaninfo --summary (VK_DRIVER_FILES=$ICD_NV)"
    VK_DRIVER_FILES=$ICD_NV VK_ICD_FILENAMES=$ICD_NV LD_LIBRARY_PATH=$LD_LIBRARY_PATH_VT timeout 20 "$VULKANINFO" --summary 2>&1 | head -60
  fi
} >>"$ENVF" 2>&1
note "environment written ($(grep -m1 -o 'NVIDIA [A-Z0-9][^,|]*' "$ENVF" | head -1))"

# --- which Dawn settings give a hardware adapter --------------------------------------------------------------------
chosen=""
export NCL_BACKEND=webgpu
for icd in "" "$ICD_NV"; do
  for flags in "enable-dawn-features=allow_unsafe_apis" "" "backend=vulkan,enable-dawn-features=allow_unsafe_apis"; do
    [ -n "$chosen" ] && break 2
    if [ -n "$icd" ]; then
      [ -f "$icd" ] || continue
      export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
    else
      unset VK_DRIVER_FILES VK_ICD_FILENAMES
    fi
    export NCL_DAWN_FLAGS=$flags
    echo "== Dawn trial: icd='${icd:-default}' flags='$flags'" >>"$ENVF"
    step "info-try" 40 "$NODE" "$B" info
    cat "$N/info-try.out" >>"$ENVF"
    if grep -q '"backend":"webgpu"' "$N/info-try.out" && ! grep -qiE 'llvmpipe|swiftshader|lavapipe' "$N/info-try.out"; then
      chosen="icd='${icd:-default}' flags='$flags'"
    fi
  done
done
if [ -z "$chosen" ] && [ -n "${NCL_GPU_ALLOW_SOFTWARE:-}" ]; then
  # Testing this script on a machine without a GPU: Dawn's OpenGL ES backend on Mesa llvmpipe.
  export NCL_DAWN_FLAGS=backend=opengles NCL_WEBGPU_FEATURE_LEVEL=compatibility EGL_PLATFORM=surfaceless
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
  step "info-try" 40 "$NODE" "$B" info && chosen="software: flags='$NCL_DAWN_FLAGS' (NCL_GPU_ALLOW_SOFTWARE)"
fi
echo "{\"kind\":\"dawn-settings\",\"chosen\":\"${chosen:-none}\"}" >>"$RES"
note "Dawn settings: ${chosen:-none found}"

# NCL_GPU_STEPS picks steps (comma list); default: all.
want() { case ",${NCL_GPU_STEPS:-auto,stepcheck,gradcheck,bench,bench-nclpp,bench-eager,torch,mini}," in *",$1,"*) return 0 ;; esac; return 1; }
R32=(--model resnet32 --classes 100 --batch 128)
if [ -n "$chosen" ]; then
  # Without NCL_BACKEND: what initBackend picks by itself here (tensorflow-gpu is not in the bundle).
  want auto && (unset NCL_BACKEND; step auto 30 "$NODE" "$B" info)
  want stepcheck && step stepcheck 90 "$NODE" "$B" stepcheck
  want gradcheck && step gradcheck 30 "$NODE" "$B" gradcheck
  want bench && step bench 60 "$NODE" "$B" bench "${R32[@]}" --steps 20 --warmup 3
  want bench-nclpp && step bench-nclpp 50 "$NODE" "$B" bench --model resnet32 --classes 100 --batch 64 --experts 2 \
    --copies 4 --method nclpp --steps 10 --warmup 2
  want bench-eager && step bench-eager 30 "$NODE" "$B" bench "${R32[@]}" --compiled false --steps 5 --warmup 1 --profile false
fi
HAS_TORCH=$(python3 -c 'import torch' 2>/dev/null && echo 1)
if want torch; then
  if [ -n "$HAS_TORCH" ]; then
    PYTHONUNBUFFERED=1 step torch 80 python3 scripts/gpu/bench_torch_gpu.py "${R32[@]}" --budget 50 \
      --modes eager-fp32,eager-tf32,graph-tf32
  else
    echo '{"kind":"step","step":"torch","skipped":"python3 has no torch"}' >>"$RES"
  fi
fi
# The fair baseline (NCL_GPU_STEPS=baseline): NCL_GPU_ROUNDS rounds (3), ours and PyTorch's in turn, ours first in
# odd rounds. Ours: `gpubench` (ResNet-32 b128, then the NCL++ paper step), pipelined + synced + GPU ms per pass.
# PyTorch: bench_torch_gpu.py's modes, cheap ones first, the torch.compile ones last (their compile time is
# unknown until measured: the script starts no mode past its --budget, and what did not run is a "skipped" line).
# Each round gets an equal share of the time left; within it PyTorch ~55 %, ours ~45 %. NCL_TORCH_MODES replaces
# the list (e.g. only the compile modes, with NCL_GPU_ROUNDS=1, when they did not fit).
TORCH_MODES=eager-fp32,eager-tf32,eager-tf32-bench-cl,eager-bf16-bench-cl,graph-fp32,graph-tf32,graph-bf16-cl
TORCH_MODES=${NCL_TORCH_MODES:-$TORCH_MODES,nclpp-eager,nclpp-graph,compile-default,compile-reduce-overhead,compile-max-autotune}
ours_round() {
  local r=$1 per=$2
  step "gpubench-r$r" $((per / 5)) "$NODE" "$B" gpubench --round "$r" "${R32[@]}"
  step "gpubench-nclpp-r$r" $((per / 4)) "$NODE" "$B" gpubench --round "$r" --model resnet32 --classes 100 \
    --batch 64 --experts 2 --copies 4 --method nclpp
}
torch_round() {
  local r=$1 per=$2 budget=$(($2 * 11 / 20 - 25))
  [ "$budget" -lt 1 ] && budget=1 # 0 would be no limit
  PYTHONUNBUFFERED=1 step "torch-r$r" $((per * 11 / 20)) python3 scripts/gpu/bench_torch_gpu.py --round "$r" \
    "${R32[@]}" --modes "$TORCH_MODES" --budget "$budget"
}
if want baseline && [ -n "$chosen" ]; then
  rounds=${NCL_GPU_ROUNDS:-3}
  [ -n "$HAS_TORCH" ] || echo '{"kind":"step","step":"torch-rounds","skipped":"python3 has no torch"}' >>"$RES"
  for r in $(seq "$rounds"); do
    per=$(((DEADLINE - SECONDS) / (rounds - r + 1)))
    if [ $((r % 2)) -eq 1 ]; then
      ours_round "$r" "$per"
      [ -n "$HAS_TORCH" ] && torch_round "$r" "$per"
    else
      [ -n "$HAS_TORCH" ] && torch_round "$r" "$per"
      ours_round "$r" "$per"
    fi
  done
fi
if [ -n "$chosen" ]; then
  want mini && step mini 110 "$NODE" "$B" trainrun --protocol mini --method nclpp --epochs 2
else
  # No adapter: the loader's own account of why.
  VK_LOADER_DEBUG=error,warn,driver LD_LIBRARY_PATH=$LD_LIBRARY_PATH_VT timeout 20 "$VULKANINFO" --summary >>"$ENVF" 2>&1
fi
note "done in ${SECONDS}s"
grep -v '"kind":"step"' "$RES" | cut -c1-1500
