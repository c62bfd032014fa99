#!/usr/bin/env bash
# Regenerate the paper's figures on the mini protocol, in groups ordered so that each group's figures are written
# as soon as its runs exist (every run is cached in results/runs/, so a re-run trains only what is missing).
#   bash scripts/reproduce-mini.sh [--seeds 3] [--workers 2]
set -euo pipefail
cd "$(dirname "$0")/.."
ncl() { node lib/bin/ncl.js "$@"; }
args=(--protocol mini "$@")
ncl reproduce fig1 table5 fig2a fig2b "${args[@]}"          # BSCE (K = 2, no collaboration)
ncl reproduce fig8 fig10 fig11a "${args[@]}"                # + CE, NCL++
ncl reproduce fig9a fig9b fig11b "${args[@]}"               # + NCL
ncl reproduce table1 "${args[@]}"                           # + IF 50
ncl reproduce fig6b fig12a fig5b fig7 fig6a fig5a "${args[@]}"
ncl reproduce fig12b table7 table6 table4 table9 table8 "${args[@]}"
