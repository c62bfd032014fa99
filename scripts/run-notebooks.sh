#!/usr/bin/env bash
# Execute notebooks headless with the tslab (TypeScript) kernel: `npm run notebooks [-- notebooks/NAME.ipynb ...]`.
#
#   - Runs every notebooks/*.ipynb (or the ones given) through Debian's `jupyter nbconvert --execute`, with the
#     notebook's folder as working directory; executed copies go to .scratch/notebooks/, never over the committed
#     notebooks. A failed notebook's partial copy is saved there as NAME.failed.ipynb.
#   - NCL_PROTOCOL=smoke unless set (tiny runs). NCL_NB_TIMEOUT: seconds per cell (default 1200).
#     NCL_NB_STARTUP: seconds the tslab kernel may take to start (default 300: it compiles TypeScript as it starts,
#     slow on a loaded machine). A notebook whose kernel did not start at all is run once more, saying so; a cell
#     error is never retried.
#   - Stops at the first cell error (or timeout, or dead kernel) and exits non-zero, naming notebook and cell.
#   - Builds the lib first when lib/dist is missing or older than lib/src, and registers the tslab kernel into
#     .scratch/jupyter with scripts/kernel.sh (found through JUPYTER_PATH; nothing is written to the user's Jupyter
#     folders).
#   - NCL_NB_OUT: where the executed copies go (default .scratch/notebooks; scripts/render-notebooks.sh sets it).
#   - A notebook committed with its outputs (metadata.ncl.outputs = { protocol, backend }: notebooks 00-03) runs on
#     that backend (NCL_BACKEND, unless set) when NCL_PROTOCOL is its protocol; afterwards test/notebooks.test.ts
#     compares each such executed copy cell by cell with the committed notebook and fails when the committed outputs
#     are not what the code prints now (`npm run notebooks:render` rewrites them). NCL_NB_CHECK=0 skips that check
#     (the render does: it is about to replace them).
# Needs: apt-get install jupyter-nbconvert python3-ipykernel (and chromium for PNG export).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
caller=$PWD
cd "$root"
export NCL_PROTOCOL=${NCL_PROTOCOL:-smoke}
timeout=${NCL_NB_TIMEOUT:-1200}
startup=${NCL_NB_STARTUP:-300}
out=${NCL_NB_OUT:-"$root/.scratch/notebooks"}
prefix="$root/.scratch/jupyter"

die() {
  echo "run-notebooks: $*" >&2
  exit 1
}

# 1. The lib the notebooks import as 'ncl-lab' must be built and current.
[ -x node_modules/.bin/tslab ] || die "node_modules/.bin/tslab missing: run npm ci first"
if [ ! -f lib/dist/index.js ] ||
  [ -n "$(find lib/src lib/tsconfig.json -newer lib/dist/index.js -print -quit)" ]; then
  echo "run-notebooks: building lib (lib/dist missing or older than lib/src)" >&2
  npm run --silent build
fi

# 2. Jupyter with nbconvert, and this checkout's tslab kernel registered under .scratch/jupyter (scripts/kernel.sh).
command -v jupyter >/dev/null || die "no jupyter: apt-get install jupyter-nbconvert python3-ipykernel"
jupyter nbconvert --version >/dev/null 2>&1 || die "jupyter has no nbconvert: apt-get install jupyter-nbconvert"
kernel_log=$(bash "$root/scripts/kernel.sh" --prefix "$prefix" 2>&1) || die "registering the kernel failed: $kernel_log"
export JUPYTER_PATH="$prefix/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

# 3. Execute.
if [ $# -gt 0 ]; then
  notebooks=()
  for nb in "$@"; do
    case $nb in
      /*) notebooks+=("$nb") ;;
      *) notebooks+=("$caller/$nb") ;; # relative to where the script was called from
    esac
  done
else
  shopt -s nullglob
  notebooks=(notebooks/*.ipynb)
  shopt -u nullglob
fi
[ ${#notebooks[@]} -gt 0 ] || die "no notebooks to run"
mkdir -p "$out"
export NCL_NB_PROGRESS="$out/.cell"
echo "run-notebooks: ${#notebooks[@]} notebook(s), NCL_PROTOCOL=$NCL_PROTOCOL, outputs in ${out#"$root"/}" >&2
# execute NOTEBOOK NAME: run it into $out. The hooks in nbconvert_config.py report progress and the failing cell on
# stdout; nbconvert's own log (a Python traceback on failure) goes to $out/NAME.log and only its last lines are shown.
execute() {
  env "${backend_env[@]}" jupyter nbconvert --to notebook --execute --log-level=WARN \
    --config="$root/scripts/nbconvert_config.py" \
    --ExecutePreprocessor.record_timing=False \
    --ExecutePreprocessor.kernel_name=tslab \
    --ExecutePreprocessor.timeout="$timeout" \
    --ExecutePreprocessor.startup_timeout="$startup" \
    --output-dir="$out" "$1" 2>"$out/$2.log"
}
# recorded NOTEBOOK: "PROTOCOL BACKEND" its committed outputs were executed with (metadata.ncl.outputs), or nothing.
recorded() {
  python3 -c '
import json, sys
o = json.load(open(sys.argv[1])).get("metadata", {}).get("ncl", {}).get("outputs")
if o: print(o["protocol"], o["backend"])
' "$1"
}
checked=() # executed copies of notebooks with recorded outputs, run under the recorded settings
total_start=$SECONDS
for nb in "${notebooks[@]}"; do
  [ -f "$nb" ] || die "no such notebook: $nb"
  name=$(basename "$nb" .ipynb)
  read -r want_protocol want_backend < <(recorded "$nb") || true
  backend_env=()
  if [ -n "${want_protocol:-}" ] && [ "$want_protocol" = "$NCL_PROTOCOL" ] &&
    [ "${NCL_BACKEND:-$want_backend}" = "$want_backend" ]; then
    backend_env=(NCL_BACKEND="$want_backend")
    checked+=("$out/$name.ipynb")
  fi
  export NCL_NB_SOURCE="$nb" NCL_NB_FAILED_OUT="$out/$name.failed.ipynb"
  rm -f "$NCL_NB_FAILED_OUT" "$NCL_NB_PROGRESS"
  echo "== $nb" >&2
  start=$SECONDS
  ok=true
  execute "$nb" "$name" || ok=false
  # A kernel that never answered (no cell ran: the progress file is absent) is a start-up failure, not the
  # notebook's: one more try.
  if ! $ok && [ ! -f "$NCL_NB_PROGRESS" ] && grep -q "Kernel didn't respond" "$out/$name.log"; then
    echo "run-notebooks: the tslab kernel did not start within ${startup}s; running $name once more" >&2
    ok=true
    execute "$nb" "$name" || ok=false
  fi
  if ! $ok; then
    # From the last exception line of nbconvert's log on (the Python traceback above it is noise).
    awk '/^[[:alnum:]_.]+(Error|Exception)/ { buf = ""; keep = 1 } keep { buf = buf $0 "\n" }
      END { printf "%s", buf }' "$out/$name.log" | head -n 20 >&2
    cell=$(cat "$NCL_NB_PROGRESS" 2>/dev/null || echo '?')
    echo "run-notebooks: FAILED: $nb, cell $cell (index from 0, markdown cells counted)" >&2
    echo "run-notebooks: nbconvert log in ${out#"$root"/}/$name.log" >&2
    if [ -f "$NCL_NB_FAILED_OUT" ]; then
      echo "run-notebooks: outputs up to the failure in ${NCL_NB_FAILED_OUT#"$root"/}" >&2
    fi
    exit 1
  fi
  echo "   ok in $((SECONDS - start))s -> ${out#"$root"/}/$name.ipynb" >&2
done
rm -f "$NCL_NB_PROGRESS"
echo "run-notebooks: all ${#notebooks[@]} passed in $((SECONDS - total_start))s" >&2

# 4. Committed outputs (notebooks 00-03) against what the code printed now.
if [ ${#checked[@]} -gt 0 ] && [ "${NCL_NB_CHECK:-1}" != 0 ]; then
  echo "run-notebooks: comparing the committed outputs of ${#checked[@]} notebook(s) with this run" >&2
  if ! log=$(NCL_NB_EXECUTED=$(IFS=:; echo "${checked[*]}") node --import tsx --test --test-reporter=dot \
    --test-name-pattern='committed outputs are what its code prints now' test/notebooks.test.ts 2>&1); then
    printf '%s\n' "$log" | sed -n '/^Failed tests:/,$p' >&2
    die "committed outputs differ from this run (above); if the change is meant, \`npm run notebooks:render\` rewrites them"
  fi
  echo "run-notebooks: committed outputs match" >&2
fi
