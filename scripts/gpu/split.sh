#!/usr/bin/env bash
# The device tool carries at most 64 MiB per call (tracked files + carried paths), and this repository's tracked
# files (data set, results) leave less than .gpu needs. Split .gpu's two large files into .gpu-1/ and .gpu-2/, carry
# each in its own call on the same warm machine (ignored paths stay there between calls), then carry .gpu in the call
# that runs, which joins them first:
#
#   bash scripts/gpu/split.sh split     # here, after prepare.sh: .gpu/node.xz, dawn.node.xz -> .gpu-1/, .gpu-2/
#   bash scripts/gpu/split.sh join      # there (train-runs.sh and device.sh call it): .gpu-1/ + .gpu-2/ -> .gpu/
#   bash scripts/gpu/split.sh sizes     # here: what each call carries, against the limit
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
LIMIT=$((64 * 1048576)) # the device tool's limit per call
base() { # bytes that travel in every call: tracked + untracked-not-ignored files
  local t u
  t=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
  u=$(git ls-files --others --exclude-standard -z | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
  echo $((t + ${u:-0}))
}
case "${1:-}" in
  split)
    for d in .gpu-1 .gpu-2; do grep -qx "/$d/" .git/info/exclude || echo "/$d/" >>.git/info/exclude; done
    [ -s .gpu/node.xz ] || { echo "split: .gpu/node.xz missing (run prepare.sh)" >&2; exit 1; }
    b=$(base)
    room=$((LIMIT - b - 524288)) # 512 KiB for results committed before the calls
    rm -rf .gpu-1 .gpu-2 && mkdir -p .gpu-1 .gpu-2
    # Piece 1 of node.xz fills call 1; the rest of node.xz and dawn.node.xz go in call 2.
    split -b "$room" -d -a 2 .gpu/node.xz .gpu-1/node.xz.part
    mv .gpu-1/node.xz.part0[1-9] .gpu-2/ 2>/dev/null || true
    [ -f .gpu/dawn.node.xz ] && mv .gpu/dawn.node.xz .gpu-2/
    rm .gpu/node.xz
    "$0" sizes
    ;;
  join)
    shopt -s nullglob
    parts=(.gpu-1/node.xz.part* .gpu-2/node.xz.part*)
    [ -s .gpu/node.xz ] || { [ ${#parts[@]} -gt 0 ] && cat "${parts[@]}" >.gpu/node.xz; } || true
    [ -s .gpu/dawn.node.xz ] || { [ -f .gpu-2/dawn.node.xz ] && cp .gpu-2/dawn.node.xz .gpu/; } || true
    [ -s .gpu/node.xz ] || { echo "join: no .gpu/node.xz and no pieces of it in .gpu-1/, .gpu-2/: carry them first" >&2; exit 1; }
    want=$(awk '$3 == "./node.xz" {print $2}' .gpu/MANIFEST)
    got=$(sha256sum .gpu/node.xz | cut -c1-16)
    [ "$want" = "$got" ] || { echo "join: .gpu/node.xz is incomplete (sha256 $got, MANIFEST $want): carry .gpu-1 and .gpu-2 first" >&2; exit 1; }
    ;;
  sizes)
    b=$(base)
    for d in .gpu-1 .gpu-2 .gpu; do
      [ -d "$d" ] || continue
      s=$(du -sb "$d" | cut -f1)
      echo "call carrying $d: $(((b + s) / 1048576)) MiB ($b + $s bytes; limit $LIMIT)"
      [ $((b + s)) -lt "$LIMIT" ] || { echo "split: $d does not fit" >&2; exit 1; }
    done
    ;;
  *) echo "usage: split.sh split|join|sizes" >&2; exit 2 ;;
esac
