#!/usr/bin/env bash
# Validity experiment (docs/methods.md, "Validity on synthetic data"): how
# often do data sets WITHOUT planted bias produce a finding against a group
# (high or medium), and is the planted bias found when there is one?
#
#   scripts/validity_experiment.sh [DATASETS] [ROWS...]
#
# For each size in ROWS (default: 5000 15000 40000 200000), DATASETS data
# sets (default 100, seeds 1..DATASETS) are generated without bias and
# analysed; then 20 with the `lower-threshold` profile, counting those where
# the planted difference (Moroccan nationals' hit rate, lower in behaviour
# stops) is a high or medium finding. Prints one line per size with the
# share of unbiased data sets with a finding and its Wilson 95% interval.
set -euo pipefail
N=${1:-100}
shift || true
SIZES=("${@:-5000 15000 40000 200000}")
read -r -a SIZES <<< "${SIZES[*]}"
B=${STOPAUDIT:-${CARGO_TARGET_DIR:-target}/release/stopaudit}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
verdict() { # FILE -> "any_against_group planted_found"
  python3 - "$1" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["findings"]
against = [x for x in f if x["severity"] in ("high", "medium")]
planted = any(x["group"] == "Marokkaans" and x["analysis"] in ("outcome_test", "stratified")
              for x in against)
print(len(against) > 0, planted)
PY
}
printf '%-8s %-34s %s\n' rows "unbiased with a finding (95% CI)" "planted bias found"
for rows in "${SIZES[@]}"; do
  any=0
  for seed in $(seq 1 "$N"); do
    "$B" generate -q --rows "$rows" --seed "$seed" --bias none --format parquet --out "$DIR/s.parquet" >/dev/null
    "$B" analyze -q --format json --out "$DIR/a.json" "$DIR/s.parquet"
    read -r a _ < <(verdict "$DIR/a.json")
    [ "$a" = True ] && any=$((any+1))
  done
  found=0
  for seed in $(seq 1 20); do
    "$B" generate -q --rows "$rows" --seed "$seed" --bias lower-threshold --format parquet --out "$DIR/b.parquet" >/dev/null
    "$B" analyze -q --format json --out "$DIR/b.json" "$DIR/b.parquet"
    read -r _ p < <(verdict "$DIR/b.json")
    [ "$p" = True ] && found=$((found+1))
  done
  ci=$(python3 -c "
from math import sqrt
k,n,z=$any,$N,1.959964
p=k/n; d=1+z*z/n; c=(p+z*z/(2*n))/d; h=z*sqrt(p*(1-p)/n+z*z/(4*n*n))/d
print(f'{k}/{n} = {100*p:.1f}% ({100*max(0,c-h):.1f}-{100*min(1,c+h):.1f}%)')")
  printf '%-8s %-34s %s\n' "$rows" "$ci" "$found/20"
done
