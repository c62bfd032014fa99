#!/usr/bin/env bash
# The device tool carries at most 64 MiB per call (tracked files + carried paths), and this repository's tracked
# files (data set, results, ~52 MiB) leave too little for .gpu's large files (node.xz ~21 MB; dawn.node.xz ~5 MB).
# Split them over several calls on one warm machine:
#
#   bash scripts/gpu/split.sh split        # here, after prepare.sh: node.xz + dawn.node.xz -> pieces in .gpu-1/, ...
#   bash scripts/gpu/split.sh split-cpu    # the same for scripts/gpu/train-runs.sh alone: node.xz only, and .gpu/
#                                          # keeps only the CLI bundle (xz), the wasm binaries, MANIFEST and commit
#   bash scripts/gpu/split.sh stash        # there, in every call but the last (carrying .gpu-<i>): pieces -> /tmp
#   bash scripts/gpu/split.sh join         # there, in the last call (carrying .gpu): pieces -> .gpu/ (device.sh and
#                                          # train-runs.sh call it)
#   bash scripts/gpu/split.sh sizes        # here: what each call carries, against the limit
#
# The machine removes the ignored paths that a call does not carry (seen 2026-11-27: .gpu-1 carried in one call was
# gone in the next), but keeps /tmp while it stays warm (30 s after a call), so each call but the last copies its
# piece to /tmp/ncl-pieces and the last one joins them. The tool counts a little more than `du -b` (a call of
# 63.5 MiB by `du -b` was refused), so the pieces leave a 2.5 MiB margin.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
LIMIT=$((64 * 1048576))    # the device tool's limit per call
MARGIN=$((5 * 524288))     # what the tool counts beyond `du -b`, and results committed before the calls
STASH=/tmp/ncl-pieces
base() { # bytes that travel in every call: tracked + untracked-not-ignored files
  local t u
  t=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
  u=$(git ls-files --others --exclude-standard -z | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
  echo $((t + ${u:-0}))
}
exclude() { grep -qx "/$1/" .git/info/exclude 2>/dev/null || echo "/$1/" >>.git/info/exclude; }

# split_into FILES...: tar the large files, cut the tar into pieces that fit one call each, one piece per .gpu-<i>/;
# the large files leave .gpu/.
split_into() {
  local b room
  b=$(base)
  room=$((LIMIT - b - MARGIN - 65536)) # 64 KiB for the folders themselves
  [ "$room" -gt 1048576 ] || { echo "split: the tracked tree ($b bytes) leaves no room under the limit" >&2; exit 1; }
  rm -rf .gpu-[0-9]*
  tar -cf .gpu/big.tar -C .gpu "$@"
  mkdir -p .gpu-pieces
  split -b "$room" -d -a 2 .gpu/big.tar .gpu-pieces/big.tar.part
  rm .gpu/big.tar
  local i=0
  for p in .gpu-pieces/big.tar.part*; do
    i=$((i + 1))
    exclude ".gpu-$i"
    mkdir -p ".gpu-$i" && mv "$p" ".gpu-$i/"
  done
  rmdir .gpu-pieces
  (cd .gpu && rm -f "$@")
  # The last piece travels with .gpu itself when both fit in one call.
  if [ "$i" -gt 1 ] && [ $(($(du -sb ".gpu-$i" | cut -f1) + $(du -sb .gpu | cut -f1))) -le "$room" ]; then
    mv ".gpu-$i"/big.tar.part* .gpu/ && rmdir ".gpu-$i"
    i=$((i - 1))
  fi
  echo "split: $i piece(s) of at most $((room / 1048576)) MiB; calls: carry .gpu-1 … .gpu-$i, each running" \
    "'bash scripts/gpu/split.sh stash', then carry .gpu and run" >&2
}

case "${1:-}" in
  split)
    [ -s .gpu/node.xz ] || { echo "split: .gpu/node.xz missing (run prepare.sh)" >&2; exit 1; }
    files=(node.xz)
    [ -f .gpu/dawn.node.xz ] && files+=(dawn.node.xz)
    split_into "${files[@]}"
    "$0" sizes
    ;;
  split-cpu)
    # .gpu (the full payload) moves aside to .gpu-full; a new .gpu holds what train-runs.sh needs.
    [ -s .gpu/node.xz ] && [ -s .gpu/ncl.js ] || { echo "split-cpu: .gpu/node.xz or ncl.js missing (run prepare.sh)" >&2; exit 1; }
    exclude .gpu-full
    rm -rf .gpu-full && mv .gpu .gpu-full && mkdir -p .gpu
    cp .gpu-full/node.xz .gpu-full/*.wasm .gpu-full/MANIFEST .gpu-full/commit .gpu/
    [ -d .gpu-full/queue ] && cp -r .gpu-full/queue .gpu/
    xz -9 -c .gpu-full/ncl.js >.gpu/ncl.js.xz
    split_into node.xz
    "$0" sizes
    ;;
  stash)
    mkdir -p "$STASH"
    shopt -s nullglob
    for p in .gpu-[0-9]*/big.tar.part*; do cp "$p" "$STASH/"; done
    ls -l "$STASH"
    ;;
  join)
    shopt -s nullglob
    parts=("$STASH"/big.tar.part* .gpu-[0-9]*/big.tar.part* .gpu/big.tar.part*)
    [ ${#parts[@]} -gt 0 ] || { echo "join: no pieces in $STASH or .gpu-<i>/: carry .gpu-1 … first, each with 'split.sh stash'" >&2; exit 1; }
    # Each piece once (a stashed piece may also be carried), in order.
    mapfile -t ordered < <(for p in "${parts[@]}"; do echo "$(basename "$p") $p"; done | sort -u -k1,1 | cut -d' ' -f2)
    cat "${ordered[@]}" >.gpu/big.tar
    tar -xf .gpu/big.tar -C .gpu || { echo "join: the pieces do not make a whole tar (${#ordered[@]} piece(s)): carry every .gpu-<i> first" >&2; rm -f .gpu/big.tar; exit 1; }
    rm -f .gpu/big.tar .gpu/big.tar.part*
    for f in node.xz dawn.node.xz; do
      [ -f ".gpu/$f" ] || continue
      want=$(awk -v f="./$f" '$3 == f {print $2}' .gpu/MANIFEST)
      got=$(sha256sum ".gpu/$f" | cut -c1-16)
      [ "$want" = "$got" ] || { echo "join: .gpu/$f differs from MANIFEST (sha256 $got, want $want)" >&2; exit 1; }
    done
    ;;
  sizes)
    b=$(base)
    shopt -s nullglob
    for d in .gpu-[0-9]* .gpu; do
      [ -d "$d" ] || continue
      s=$(du -sb "$d" | cut -f1)
      echo "call carrying $d: $(((b + s) / 1048576)) MiB ($b + $s bytes; limit $LIMIT less a $MARGIN-byte margin)"
      [ $((b + s + MARGIN)) -le "$LIMIT" ] || { echo "split: $d does not fit" >&2; exit 1; }
    done
    ;;
  *) echo "usage: split.sh split|split-cpu|stash|join|sizes" >&2; exit 2 ;;
esac
