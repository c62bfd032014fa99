#!/usr/bin/env bash
# Regenerate the paper's figures on the mini protocol. `ncl reproduce` queues the runs figure by figure in the order
# given and writes each figure as soon as its last run is finished; the order puts figures that share runs together,
# cheapest first (every run is cached in results/runs/, so a re-run trains only what is missing).
#   bash scripts/reproduce-mini.sh [--seeds 3] [--workers 2]
set -euo pipefail
cd "$(dirname "$0")/.."
ids=(
  fig1 table5 fig2a fig2b    # BSCE (K = 2, no collaboration)
  fig8 fig10 fig11a          # + CE, NCL++
  fig9a fig9b fig11b         # + NCL
  table1                     # + IF 50
  fig6b fig12a fig5b fig7 fig6a fig5a
  fig12b table7 table6 table4 table9 table8
)
node lib/bin/ncl.js reproduce "${ids[@]}" --protocol mini "$@"
