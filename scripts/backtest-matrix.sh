#!/usr/bin/env bash
# Every shipped strategy and the charge-lnd baselines on the four built-in scenarios, SEEDS
# seeds each: revenue and its share of the hindsight-best static fee, one line per pair.
# Usage: scripts/backtest-matrix.sh [DAYS] [SEEDS]   (run from the repository root)
set -euo pipefail
days="${1:-30}"
seeds="${2:-3}"
cargo build --release -p lnpolicy >&2
bin=target/release/lnpolicy
runs=(
  "static (current fees)|-c examples/backtest/static-current.config"
  "static 300 ppm|-c examples/backtest/static-300.config"
  "proportional 50-1500|-c examples/backtest/proportional.config"
  "balance_based|--strategy balance_based"
  "hill_climber|--strategy hill_climber"
  "flow_based|--strategy flow_based"
  "cost_recovery|--strategy cost_recovery"
  "revenue_max|--strategy revenue_max"
  "inbound_discount|--strategy inbound_discount"
)
printf '%-16s %-24s %14s %10s %9s\n' SCENARIO STRATEGY "REVENUE (sat)" "% OF BEST" SUCCESS
for scenario in balanced one-way-drains lnd-heavy cln-heavy; do
  for run in "${runs[@]}"; do
    label="${run%%|*}"
    # shellcheck disable=SC2086
    json=$("$bin" backtest ${run#*|} --scenario "$scenario" --days "$days" --seed 1 --seeds "$seeds" --json)
    python3 - "$scenario" "$label" <<PY "$json"
import json, sys
scenario, label = sys.argv[1], sys.argv[2]
total = json.loads(sys.argv[3])["total"]
best = total["best_static_revenue_msat"]
tried = total["forwards"] + total["failures"]
pct = f'{100 * total["revenue_msat"] / best:.1f}%' if best else "-"
ok = f'{100 * total["forwards"] / tried:.1f}%' if tried else "-"
print(f'{scenario:<16} {label:<24} {total["revenue_msat"] // 1000:>14} {pct:>10} {ok:>9}')
PY
  done
done
