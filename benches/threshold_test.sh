#!/usr/bin/env bash
# Threshold-test timing: fits each state of the Stanford Open Policing
# Project's published counts (tests/fixtures/opp) with `stopaudit
# threshold-test` (counties as locations, White drivers as reference,
# default settings: 4 chains, 1,000 warmup + 1,000 draws) and prints wall
# time (median), peak RSS and the sampler's diagnostics per state: R-hat over
# the thresholds and over all parameters, the smallest bulk or tail ESS,
# divergent transitions and leapfrog steps (all chains, warmup included).
#
#   benches/threshold_test.sh            # every state, 1 run each
#   benches/threshold_test.sh --runs 3   # median of 3
#   benches/threshold_test.sh CT NC      # some states
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=1
STATES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    *) STATES+=("$1"); shift ;;
  esac
done
FIXTURE=tests/fixtures/opp/fig4b_threshold_test_5states.csv
if [ ${#STATES[@]} -eq 0 ]; then
  mapfile -t STATES < <(tail -n +2 "$FIXTURE" | awk -F, '{print $NF}' | sort -u)
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stopaudit-target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/stopaudit"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

printf '%-6s %6s %8s %8s %10s %10s %8s %12s %10s\n' state cells wall_s rss_mib rhat_thr rhat_par min_ess divergences leapfrogs
for state in "${STATES[@]}"; do
  times=()
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$TMP/time" "$BIN" threshold-test "$FIXTURE" \
      --location location_variable --group driver_race --stops num_stops \
      --searches num_searches --hits num_hits --reference 'White drivers' \
      --where "state=$state" --format json --out "$TMP/$state.json"
    times+=("$(cat "$TMP/time")")
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
  python3 - "$TMP/$state.json" "$state" "$median" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
wall, rss = sys.argv[3].split()
d = doc["diagnostics"]
print(f"{sys.argv[2]:<6} {len(doc['cells']):>6} {float(wall):>8.1f} {int(rss)/1024:>8.0f} "
      f"{d['max_rhat']:>10.4f} {d['max_rhat_parameters']:>10.4f} "
      f"{min(d['min_ess_bulk'], d['min_ess_tail']):>8.0f} {d['divergences']:>12} {d['leapfrog_steps']:>10}")
EOF
done
