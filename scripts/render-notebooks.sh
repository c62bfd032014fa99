#!/usr/bin/env bash
# `npm run notebooks:render [-- notebooks/NAME.ipynb ...]`: execute the figure notebooks (those that call
# showFigure('<id>')) against the committed results, and the tutorials 00-03, and write them back into notebooks/
# with their outputs, so that GitHub, nbviewer and any preview show the figures and what each cell prints. Run it again whenever results/ changes: test/notebooks.test.ts
# fails while a committed notebook shows other numbers than results/manifest.json and results/<id>.json.
#
#   - Protocol mini (the committed runs in results/runs/mini; nothing is trained). Strict: a figure whose runs are
#     missing, or whose runs give other numbers than results/ holds, stops the render (NCL_NB_STRICT=1).
#   - Each figure is written twice: a PNG (rendered by headless Chromium, NCL_NB_STATIC=png) for viewers that run no
#     scripts, and the interactive Plotly figure, which hides the PNG once drawn. The Plotly bundle itself is not
#     in the notebooks: a Jupyter page loads it from the nbextension `npm run kernel` installs.
#   - Notebooks committed with their outputs (metadata.ncl.outputs = { protocol, backend }: the tutorials 00-03) are
#     executed under that protocol and backend (smoke on the pure-JS cpu backend: the same digits on every machine),
#     also with a PNG before each interactive figure. `npm run notebooks` runs them the same way and fails while a
#     committed output differs from what the code prints (test/notebooks.test.ts): run this after editing them.
#   - Executes into .scratch/render/ through scripts/run-notebooks.sh; the notebooks in notebooks/ are replaced only
#     when every one of them ran without error.
# Needs: apt-get install jupyter-nbconvert python3-ipykernel chromium.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
caller=$PWD
cd "$root"

die() {
  echo "render-notebooks: $*" >&2
  exit 1
}

notebooks=()
if [ $# -gt 0 ]; then
  for nb in "$@"; do
    case $nb in
      /*) notebooks+=("$nb") ;;
      *) notebooks+=("$caller/$nb") ;;
    esac
  done
else
  for nb in notebooks/*.ipynb; do notebooks+=("$root/$nb"); done
fi
# kind NOTEBOOK: 'figure' (a code cell calls showFigure('<id>'), as test/notebooks.test.ts tells them apart),
# 'recorded PROTOCOL BACKEND' (metadata.ncl.outputs), or 'tutorial' (committed without outputs).
kind() {
  python3 -c '
import json, re, sys
nb = json.load(open(sys.argv[1]))
o = nb.get("metadata", {}).get("ncl", {}).get("outputs")
if any(c["cell_type"] == "code" and re.search(r"showFigure\(\x27\w+", "".join(c["source"])) for c in nb["cells"]):
    print("figure")
elif o:
    print("recorded", o["protocol"], o["backend"])
else:
    print("tutorial")
' "$1"
}
figures=()
recorded=()
for nb in "${notebooks[@]}"; do
  [ -f "$nb" ] || die "no such notebook: $nb"
  case $(cd "$(dirname "$nb")" && pwd) in
    "$root/notebooks") ;;
    *) die "$nb is not in notebooks/" ;;
  esac
  read -r what protocol backend < <(kind "$nb")
  case $what in
    figure) figures+=("$nb") ;;
    recorded)
      [ "$protocol $backend" = "smoke cpu" ] || die "$nb: metadata.ncl.outputs is $protocol, $backend; renders know smoke, cpu"
      recorded+=("$nb")
      ;;
    *) [ $# -eq 0 ] || die "$nb has no outputs to render (no showFigure('<id>'), no metadata.ncl.outputs)" ;;
  esac
done
notebooks=("${figures[@]}" "${recorded[@]}")
[ ${#notebooks[@]} -gt 0 ] || die "no notebooks to render in notebooks/"

out="$root/.scratch/render"
rm -rf "$out"
mkdir -p "$out"
if [ ${#figures[@]} -gt 0 ]; then
  NCL_PROTOCOL=mini NCL_NB_STATIC=png NCL_NB_STRICT=1 NCL_NB_OUT="$out" \
    bash "$root/scripts/run-notebooks.sh" "${figures[@]}"
fi
if [ ${#recorded[@]} -gt 0 ]; then
  NCL_PROTOCOL=smoke NCL_BACKEND=cpu NCL_NB_STATIC=png NCL_NB_CHECK=0 NCL_NB_OUT="$out" \
    bash "$root/scripts/run-notebooks.sh" "${recorded[@]}"
fi

# Back into notebooks/: outputs kept, nbconvert's per-cell execution metadata dropped, written as nbformat writes
# (sorted keys, one-space indent), each through a temporary file.
python3 - "$out" "${notebooks[@]}" <<'EOF'
import json, os, sys

out, notebooks = sys.argv[1], sys.argv[2:]
for src in notebooks:
    with open(os.path.join(out, os.path.basename(src))) as f:
        nb = json.load(f)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
    tmp = src + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, src)
    print(f"render-notebooks: {os.path.relpath(src)} ({os.path.getsize(src) // 1024} KiB)", file=sys.stderr)
EOF
