#!/usr/bin/env bash
# Every shipped strategy and the charge-lnd baselines on the four built-in scenarios, SEEDS
# seeds each: revenue and its share of the hindsight-best static fee, one line per pair.
# One backtest per scenario compares them all, so the hindsight grid is searched once.
# Usage: scripts/backtest-matrix.sh [DAYS] [SEEDS] [FIRST_SEED] [BACKTEST OPTION...]
# (run from the repository root), e.g. `scripts/backtest-matrix.sh 30 3 1 --grid-max-ppm 2500`
# for the reference within a 2500 ppm ceiling.
set -euo pipefail
days="${1:-30}"
seeds="${2:-3}"
first="${3:-1}"
extra=("${@:4}")
cargo build --release -p lnpolicy >&2
bin=target/release/lnpolicy
policies=(
  -c examples/backtest/static-current.config
  -c examples/backtest/static-300.config
  -c examples/backtest/proportional.config
  --strategy balance_based
  --strategy hill_climber
  --strategy flow_based
  --strategy cost_recovery
  --strategy revenue_max
  --strategy inbound_discount
)
# Reads one backtest's JSON on stdin (too large for an argument once it lists every channel).
tabulate=$(cat <<'PY'
import json, sys
scenario = sys.argv[1]
for report in json.load(sys.stdin):
    total = report["total"]
    best = total["best_static_revenue_msat"]
    tried = total["forwards"] + total["failures"]
    pct = f'{100 * total["revenue_msat"] / best:.1f}%' if best else "-"
    ok = f'{100 * total["forwards"] / tried:.1f}%' if tried else "-"
    label = report["policy"].removeprefix("examples/backtest/")
    print(f'{scenario:<16} {label:<40} {total["revenue_msat"] // 1000:>14} {pct:>10} {ok:>9}')
PY
)
printf '%-16s %-40s %14s %10s %9s\n' SCENARIO POLICY "REVENUE (sat)" "% OF BEST" SUCCESS
for scenario in balanced one-way-drains lnd-heavy cln-heavy; do
  "$bin" backtest "${policies[@]}" --scenario "$scenario" --days "$days" \
    --seed "$first" --seeds "$seeds" --json "${extra[@]}" | python3 -c "$tabulate" "$scenario"
done
