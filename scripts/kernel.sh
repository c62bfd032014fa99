#!/usr/bin/env bash
# `npm run kernel`: register this checkout's TypeScript kernel (tslab) with Jupyter, for the current user, so that
# `jupyter notebook` started from any shell runs the notebooks in notebooks/.
#
#   - The kernel spec 'tslab' starts this checkout's tslab with this Node.js, both by absolute path (no tslab or
#     node on PATH needed). It goes to the user's Jupyter data folder ($JUPYTER_DATA_DIR, else
#     ~/.local/share/jupyter), never system-wide, and replaces an older 'tslab' spec there.
#   - It is installed with the Python that runs Jupyter (the one in the shebang of `jupyter-notebook`, else of
#     `jupyter`, else /usr/bin/python3), so it lands where that Jupyter looks.
#   - The Plotly bundle of the lib is linked as the nbextension ncl-lab/plotly.min.js: a notebook page loads it from
#     Jupyter once, also after a reload (lib/src/viz: PLOTLY_NBEXTENSION). The kernel is told so through
#     NCL_PLOTLY_SERVED=1 in its environment and sends no inline copy.
#   - Builds the lib first when lib/dist is missing or older than lib/src (notebooks import the compiled lib).
#
# Options: --prefix DIR writes to DIR/share/jupyter instead (for JUPYTER_PATH; scripts/run-notebooks.sh uses it).
# Needs: npm ci; Debian: apt-get install jupyter-notebook (gives `jupyter notebook` and its Python).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

die() {
  echo "kernel: $*" >&2
  exit 1
}

prefix=
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    *) die "unknown option $1 (usage: scripts/kernel.sh [--prefix DIR])" ;;
  esac
done

tslab="$root/node_modules/tslab/bin/tslab"
[ -f "$tslab" ] || die "$tslab missing: run npm ci first"
node=$(node -p process.execPath) || die "no node on PATH"

if [ ! -f lib/dist/index.js ] ||
  [ -n "$(find lib/src lib/tsconfig.json -newer lib/dist/index.js -print -quit)" ]; then
  echo "kernel: building lib (lib/dist missing or older than lib/src)" >&2
  npm run --silent build
fi
bundle=$(node -e "process.stdout.write(require('./lib/dist/viz').plotlyBundlePath())")

# The Python that runs Jupyter: it must import jupyter_client (to install the spec) and jupyter_core.
python=
for exe in jupyter-notebook jupyter; do
  if command -v "$exe" >/dev/null; then
    py=$(sed -n '1s/^#! *//p' "$(command -v "$exe")" | awk '{ print ($1 ~ /\/env$/ ? $NF : $0) }')
    if [ -n "$py" ] && $py -c 'import jupyter_client, jupyter_core' 2>/dev/null; then
      python=$py
      break
    fi
  fi
done
if [ -z "$python" ] && /usr/bin/python3 -c 'import jupyter_client, jupyter_core' 2>/dev/null; then
  python=/usr/bin/python3
fi
[ -n "$python" ] || die "no Jupyter found (a Python with jupyter_client): apt-get install jupyter-notebook"
if ! command -v jupyter-notebook >/dev/null && [ -z "$prefix" ]; then
  echo "kernel: note: no jupyter-notebook on PATH; for \`jupyter notebook\`: apt-get install jupyter-notebook" >&2
fi

spec=$(mktemp -d)
trap 'rm -rf "$spec"' EXIT
NODE_BIN=$node TSLAB_BIN=$tslab node -e '
const spec = {
  argv: [process.env.NODE_BIN, process.env.TSLAB_BIN, "kernel", "--config-path", "{connection_file}"],
  display_name: "TypeScript",
  language: "typescript",
  env: { NCL_PLOTLY_SERVED: "1" },
};
require("fs").writeFileSync(process.argv[1] + "/kernel.json", JSON.stringify(spec, null, 1) + "\n");
' "$spec"

# Installs the spec and prints the data folder it went to (the nbextension goes beside it).
data=$(SPEC=$spec PREFIX=$prefix "$python" -c '
import os, sys
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.paths import jupyter_data_dir
prefix = os.environ["PREFIX"]
dest = KernelSpecManager().install_kernel_spec(
    os.environ["SPEC"], "tslab", user=not prefix, prefix=prefix or None)
os.chmod(dest, 0o755)
print(os.path.join(prefix, "share", "jupyter") if prefix else jupyter_data_dir())
') || die "installing the kernel spec with $python failed"

nbext="$data/nbextensions/ncl-lab"
mkdir -p "$nbext"
ln -sfn "$bundle" "$nbext/plotly.min.js"

echo "kernel: 'tslab' (TypeScript) registered in $data/kernels/tslab for $python's Jupyter:" \
  "$node $tslab; Plotly for the notebook pages: $nbext/plotly.min.js -> $bundle" >&2
