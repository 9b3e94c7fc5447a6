#!/usr/bin/env bash
# Validity experiment (docs/methods.md): how often do data sets WITHOUT planted
# bias produce findings, and is the planted bias found when there is one?
# Usage: scripts/validity_experiment.sh [DATASETS] [ROWS]
set -euo pipefail
N=${1:-100}
ROWS=${2:-40000}
B=${STOPAUDIT:-${CARGO_TARGET_DIR:-target}/release/stopaudit}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
high=0; medium=0
for seed in $(seq 1 "$N"); do
  "$B" generate -q --rows "$ROWS" --seed "$seed" --bias none --format parquet --out "$DIR/s.parquet" >/dev/null
  "$B" analyze -q --format json --out "$DIR/a.json" "$DIR/s.parquet"
  read -r h m < <(python3 -c "
import json; f=json.load(open('$DIR/a.json'))['findings']
print(sum(x['severity']=='high' for x in f) > 0, sum(x['severity']=='medium' for x in f) > 0)")
  [ "$h" = True ] && high=$((high+1))
  [ "$m" = True ] && medium=$((medium+1))
done
found=0
for seed in $(seq 1 20); do
  "$B" generate -q --rows "$ROWS" --seed "$seed" --bias lower-threshold --format parquet --out "$DIR/b.parquet" >/dev/null
  "$B" analyze -q --format json --out "$DIR/b.json" "$DIR/b.parquet"
  ok=$(python3 -c "
import json; f=json.load(open('$DIR/b.json'))['findings']
print(any(x['analysis']=='outcome_test' and x['group']=='Marokkaans' and x['stratum'].get('justification')=='behaviour' and x['severity'] in ('high','medium') for x in f))")
  [ "$ok" = True ] && found=$((found+1))
done
echo "no planted bias: $N data sets of $ROWS rows; with a high-severity finding: $high; with a medium one: $medium"
echo "planted lower-threshold bias: found in $found of 20 data sets of $ROWS rows"
