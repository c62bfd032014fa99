#!/usr/bin/env bash
# Build the payload that scripts/gpu/run.sh runs on a GPU machine with no Node.js, no node_modules and no network:
#
#   .gpu/node.xz          this machine's Node.js binary, stripped and xz-compressed (linux-x64)
#   .gpu/ncl-gpu.js       scripts/gpu/entry.ts and the lib (tfjs, wasm and webgpu backends) bundled by esbuild
#   .gpu/ncl.js.xz        the `ncl` command line bundled the same way, with danfojs-node (its CSV reports: a run
#                         finishes there), xz-compressed (`node ncl.js train ...` there, once run.sh unpacked it)
#   .gpu/*.wasm           tfjs-backend-wasm's binaries, next to the bundles (loaded only if wasm is selected)
#   .gpu/dawn.node.xz     Dawn's Node addon from npm `webgpu` (node_modules/webgpu/dist/linux-x64/dawn.node)
#   .gpu/gl/*.deb         the Vulkan loader (libvulkan1) and libglvnd (libegl1 libglvnd0 libopengl0 libgl1 libglx0
#                         libgles2), amd64, from Debian; .gpu/gl/tools/: vulkaninfo and libwayland-client0
#   .gpu/MANIFEST         sizes and sha256 of the above
#
# Copy the working tree with .gpu/ (git-ignored) to the GPU machine;
# the data set the `mini` step trains on (data/fashion-mnist) is tracked, so it travels with the tree.
#
#   bash scripts/gpu/prepare.sh            # build (node.xz and dawn.node.xz are reused when up to date)
#   bash scripts/gpu/prepare.sh --check    # build, then unpack into a clean /tmp/gpucheck and run it there on the
#                                          # CPU (wasm, and WebGPU on Mesa llvmpipe when Dawn finds it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
P=.gpu
mkdir -p "$P/gl"

say() { echo "[prepare] $*" >&2; }

# 1. Node.js: strip the debug info (99 MB -> 86 MB), xz with the x86 branch filter (-> ~21 MB; ~1 minute).
#    Reused while the binary is the same.
NODE_BIN=$(command -v node)
node_id="$(node --version) $(sha256sum "$NODE_BIN" | cut -c1-16) x86"
if [ ! -s "$P/node.xz" ] || [ "$(cat "$P/node.id" 2>/dev/null)" != "$node_id" ]; then
  say "compressing $NODE_BIN ($(node --version)); takes ~1 minute"
  tmp=$(mktemp)
  cp "$NODE_BIN" "$tmp"
  strip --strip-all "$tmp" 2>/dev/null || true
  xz --x86 --lzma2=preset=9e -T1 -c "$tmp" >"$P/node.xz.tmp"
  rm -f "$tmp"
  mv "$P/node.xz.tmp" "$P/node.xz"
  echo "$node_id" >"$P/node.id"
fi

# 2. Dawn's addon.
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || { echo "prepare: $DAWN missing (npm install webgpu)" >&2; exit 1; }
dawn_id="$(sha256sum "$DAWN" | cut -c1-16)"
if [ ! -s "$P/dawn.node.xz" ] || [ "$(cat "$P/dawn.id" 2>/dev/null)" != "$dawn_id" ]; then
  say "compressing $DAWN"
  xz -9 -T0 -c "$DAWN" >"$P/dawn.node.xz"
  echo "$dawn_id" >"$P/dawn.id"
fi

# 3. The bundles, ncl-kernels from its sources (one copy for the lib and the check). Native tfjs packages stay
#    external (initBackend requires them by a computed name and moves on),
#    and so do the heavy packages loaded only on demand (danfojs for CSV reports, t-SNE, plots), except that the
#    `ncl` bundle carries danfojs-node (a finished run writes per_class.csv with it; its tfjs-node dependency is
#    tfjs itself, as package.json's override makes it);
#    `webgpu` is loaded from NCL_DAWN_NODE. `require.main` is defined away: the lib's CLI modules run themselves when
#    they are the main module, which every module of a bundle is.
say "bundling scripts/gpu/entry.ts"
node_modules/.bin/esbuild scripts/gpu/entry.ts --bundle --platform=node --target=node20 --format=cjs \
  --alias:ncl-kernels=./packages/kernels/src/index.ts --define:require.main=null --outfile="$P/ncl-gpu.js" --minify-whitespace --minify-syntax --legal-comments=none --log-level=warning \
  --external:webgpu --external:@tensorflow/tfjs-node-gpu --external:@tensorflow/tfjs-node --external:tfjs-node-cpu \
  --external:danfojs-node --external:tsne-js --external:plotly.js-dist --external:plotly.js-dist-min --external:tslab
say "bundling scripts/gpu/cli.ts (ncl, with danfojs-node)"
node_modules/.bin/esbuild scripts/gpu/cli.ts --bundle --platform=node --target=node20 --format=cjs \
  --alias:ncl-kernels=./packages/kernels/src/index.ts --define:require.main=null --outfile="$P/ncl.js" --minify-whitespace --minify-syntax --legal-comments=none --log-level=warning \
  --external:webgpu --external:@tensorflow/tfjs-node-gpu --alias:@tensorflow/tfjs-node=@tensorflow/tfjs --external:tfjs-node-cpu \
  --external:tsne-js --external:plotly.js-dist --external:plotly.js-dist-min --external:tslab
xz -6 -T0 -f "$P/ncl.js"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$P/"
git rev-parse HEAD >"$P/commit" 2>/dev/null || true
git status --porcelain -- lib scripts/gpu >"$P/dirty" 2>/dev/null || true

# 4. The Vulkan loader and libglvnd, as the device's README lists them (the NVIDIA Vulkan ICD is libGLX_nvidia,
#    which needs libglvnd's dispatch library), unpacked to / there; vulkaninfo (+ libwayland-client) for the log,
#    unpacked elsewhere.
GL_DEBS="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"
TOOL_DEBS="vulkan-tools libwayland-client0"
mkdir -p "$P/gl/tools"
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
fetch() { # fetch DIR PKG...: download the amd64 .debs that DIR lacks
  local dir=$1 missing=()
  shift
  for p in "$@"; do ls "$dir/${p}"_*_amd64.deb >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "downloading ${missing[*]} (amd64)"
  mkdir -p /tmp/amd64/partial
  [ -s /tmp/amd64/lock ] || apt-get "${o[@]}" update -qq
  (cd "$dir" && apt-get "${o[@]}" download "${missing[@]}" 2>&1 | grep -v unsandboxed >&2 || true)
}
# shellcheck disable=SC2086
fetch "$P/gl" $GL_DEBS
# shellcheck disable=SC2086
fetch "$P/gl/tools" $TOOL_DEBS

# 5. Manifest and size.
(cd "$P" && find . -type f ! -name MANIFEST -printf '%s %p\n' | sort -k2 | while read -r s f; do
  echo "$s $(sha256sum "$f" | cut -c1-16) $f"
done) >"$P/MANIFEST"
say "payload $(($(du -sb "$P" | cut -f1) / 1048576)) MiB in $P"

# 6. --check: unpack into a clean folder and run the bundle with the carried node (no node on PATH): the CLI, a
#    wasm bench and smoke training, and run.sh itself on Dawn's software adapter (Mesa llvmpipe; no GPU here).
if [ "${1:-}" = "--check" ]; then
  C=/tmp/gpucheck
  rm -rf "$C"
  mkdir -p "$C"
  cp -r "$P" "$C/.gpu"
  cp -r data scripts "$C/"
  say "checking from a clean copy in $C (PATH without node)"
  (
    cd "$C"
    export PATH=/usr/local/sbin:/usr/sbin:/sbin:/bin
    export NCL_BACKEND=wasm NCL_UNPACK_ONLY=1
    bash scripts/gpu/run.sh "$C/out"
    N=/tmp/ncl-gpu
    export NCL_DATA_DIR=$C/data NCL_DAWN_NODE=$N/dawn.node
    "$N/node" --version
    "$N/node" "$N/ncl.js" --help >/dev/null
    "$N/node" "$N/ncl-gpu.js" info
    "$N/node" "$N/ncl-gpu.js" bench --model resnet8 --batch 32 --steps 2 --warmup 1 --profile false
    "$N/node" "$N/ncl-gpu.js" trainrun --protocol smoke
    unset NCL_BACKEND NCL_UNPACK_ONLY
    NCL_GPU_ALLOW_SOFTWARE=1 NCL_GPU_STEPS=stepcheck bash scripts/gpu/run.sh "$C/out" >/dev/null
    grep '"kind":"stepcheck"' "$C/out/results.jsonl"
  ) | tee "$C/check.jsonl"
  grep -q '"kind":"trainrun"' "$C/check.jsonl" && grep -q '"kind":"bench"' "$C/check.jsonl" &&
    [ "$(grep -c '"kind":"stepcheck"' "$C/check.jsonl")" -eq 4 ] ||
    { echo "prepare: the clean-copy check failed" >&2; exit 1; }
  say "clean-copy check passed"
fi
say "done: copy the tree with $P to the GPU machine and run there: bash scripts/gpu/run.sh /tmp/out"
