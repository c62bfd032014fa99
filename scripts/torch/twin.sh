#!/usr/bin/env bash
# The PyTorch twin of the mini protocol: trains runs of ncl-lab's configs with scripts/torch/mini_run.py on the same
# long-tailed subsets and writes one JSON per run to results/twin/<name>-seed<N>.json (a run already there is kept).
# Names (experiments.TWIN_RUNS): ce, bsce, nclpp (Table 1's; `ncl reproduce twin` builds ours vs twin) and
# nclpp-lambda0 (the decomposition's arm C; `ncl reproduce decomposition` reads the KL effect in the twin too).
#   bash scripts/torch/twin.sh ["0 1 2"] ["ce bsce nclpp"]
#   bash scripts/torch/twin.sh "0 1 2" nclpp-lambda0
# Needs: npm ci (the built lib), Debian's python3-torch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
seeds=${1:-0 1 2}
methods=${2:-ce bsce nclpp}
py=/usr/bin/python3
$py -c 'import torch' 2>/dev/null || { echo "twin.sh: no PyTorch: apt-get install python3-torch" >&2; exit 1; }
out=results/twin
work=.scratch/twin
mkdir -p "$out" "$work"
for seed in $seeds; do
  for m in $methods; do
    f=$out/$m-seed$seed.json
    [ -f "$f" ] && { echo "twin.sh: $f exists, kept" >&2; continue; }
    node -e "process.stdout.write(JSON.stringify(require('ncl-lab').experiments.twinConfig('mini', '$m', $seed)))" \
      > "$work/$m-seed$seed.config.json"
    node lib/bin/ncl.js data subset fashion-mnist --if 100 --seed "$seed" -o "$work/subset-seed$seed.json" >&2
    echo "twin.sh: $m seed $seed" >&2
    $py scripts/torch/mini_run.py --config "$work/$m-seed$seed.config.json" --subset "$work/subset-seed$seed.json" \
      --out "$f" > /dev/null
  done
done
