#!/usr/bin/env bash
# Scale benchmark: stopaudit against DuckDB and Polars (Python) on the same
# generated data, side by side in one run. Prints a table of wall-time
# medians, peak RSS and the ratio to stopaudit.
#
#   benches/scale.sh                 # 10M rows Parquet + 1M rows Dutch CSV, 3 runs each, with peers
#   benches/scale.sh --rows 100000000 --runs 5
#   benches/scale.sh --smoke         # seconds: 200k rows, one run, stopaudit only (CI)
#
# Rows: every analysis on a generated Parquet file (all threads and one
# thread, which must give the same bytes), the peers' bare group-by on it,
# DuckDB doing parts of the audit's work on it (read every column, the
# cube's group-by, the duplicate check) and the file's SHA-256,
# the same for a Dutch-style CSV export (with DuckDB reading every column
# and the hash), the generator (and the peers writing a file of its shape,
# benches/peer_generate.py), and the bundled
# sample's full report.
#
# Peers are installed from PyPI into benches/.venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=10000000
CSV_ROWS=1000000
RUNS=3
SMOKE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --csv-rows) CSV_ROWS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --smoke) SMOKE=1; ROWS=200000; CSV_ROWS=100000; RUNS=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stopaudit-target}"
cargo build --release --quiet
B="$CARGO_TARGET_DIR/release/stopaudit"
DATA=${BENCH_DATA:-$(mktemp -d)}
mkdir -p "$DATA"
[ -z "${BENCH_DATA:-}" ] && trap 'rm -rf "$DATA"' EXIT

PARQUET="$DATA/stops-$ROWS.parquet"
CSV="$DATA/stops-$CSV_ROWS.csv"
[ -f "$PARQUET" ] || "$B" generate -q --rows "$ROWS" --seed 1 --bias combined --format parquet --out "$PARQUET" >/dev/null
[ -f "$CSV" ] || "$B" generate -q --rows "$CSV_ROWS" --seed 1 --bias combined --format csv --out "$CSV" >/dev/null

if [ "$SMOKE" = 0 ]; then
  if [ ! -x benches/.venv/bin/python ]; then
    python3 -m venv benches/.venv
    benches/.venv/bin/pip install -q duckdb polars
  fi
  PY=benches/.venv/bin/python
fi

# measure NAME CMD... -> "median_seconds peak_rss_mib"
measure() {
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    local out
    /usr/bin/time -o "$DATA/time.txt" -f "%e %M" "$@" >/dev/null 2>/dev/null
    out=$(tail -1 "$DATA/time.txt")
    times+=("${out% *}")
    local r=${out#* }
    [ "$r" -gt "$rss" ] && rss=$r
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  echo "$median $((rss / 1024))"
}

printf '%-10s %-8s %-28s %10s %10s %8s\n' rows format tool "wall (s)" "RSS (MiB)" ratio
row() { # rows format tool median rss base
  local ratio
  ratio=$(awk -v a="$4" -v b="$6" 'BEGIN { printf (b > 0) ? "%.2f" : "-", a / b }')
  printf '%-10s %-8s %-28s %10s %10s %8s\n' "$1" "$2" "$3" "$4" "$5" "$ratio"
}

read -r t m < <(measure "$B" analyze -q --format json --out "$DATA/a.json" "$PARQUET")
row "$ROWS" parquet "stopaudit analyze (all)" "$t" "$m" "$t"
base=$t
tp=$t
read -r t1 m1 < <(measure "$B" --threads 1 analyze -q --format json --out "$DATA/a1.json" "$PARQUET")
row "$ROWS" parquet "stopaudit analyze, 1 thread" "$t1" "$m1" "$base"
cmp -s "$DATA/a.json" "$DATA/a1.json" || { echo "results differ between 1 thread and all threads" >&2; exit 1; }
# `--threads 1` still hashes the file and runs the ordered step on threads of
# their own, which borrow the other core: pinned to one core it is one core.
tc=0
if command -v taskset >/dev/null; then
  read -r tc mc < <(measure taskset -c 0 "$B" --threads 1 analyze -q --format json --out "$DATA/a1.json" "$PARQUET")
  row "$ROWS" parquet "stopaudit analyze, 1 core" "$tc" "$mc" "$base"
  cmp -s "$DATA/a.json" "$DATA/a1.json" || { echo "results differ on one core" >&2; exit 1; }
fi
if [ "$SMOKE" = 0 ]; then
  read -r t m < <(measure "$PY" -c "import duckdb; duckdb.sql(\"SELECT nationality, justification, outcome, count(*) FROM read_parquet('$PARQUET') GROUP BY ALL\").fetchall()")
  row "$ROWS" parquet "duckdb group-by" "$t" "$m" "$base"
  read -r t m < <(measure "$PY" -c "import polars as pl; pl.scan_parquet('$PARQUET').group_by(['nationality','justification','outcome']).len().collect(engine='streaming')")
  row "$ROWS" parquet "polars group-by" "$t" "$m" "$base"
  # What the audit has to do besides, done by DuckDB on its own: read every
  # column it reads (each value touched, so no answer from the file's
  # statistics), group by the cube's ten dimensions, count distinct stop ids
  # (the duplicate check), and hash the file (Python's hashlib, i.e. OpenSSL).
  touch_all=""
  for col in stop_id unit district basisteam area_code subject_type legal_basis justification outcome reason_explained officer_id team nationality gender age_band; do
    touch_all="$touch_all sum(length($col)),"
  done
  touch_all="$touch_all min(stopped_at), sum(latitude), sum(longitude), sum(search_conducted::INT), sum(contraband_found::INT)"
  sha256() { measure "$PY" -c "import hashlib, sys; h = hashlib.sha256(); f = open(sys.argv[1], 'rb'); [h.update(b) for b in iter(lambda: f.read(1 << 20), b'')]" "$1"; }
  duck() { measure "$PY" -c "import duckdb; duckdb.sql('SET enable_progress_bar = false'); duckdb.sql(\"$1\").fetchall()"; }
  read -r t m < <(duck "SELECT $touch_all FROM read_parquet('$PARQUET')")
  row "$ROWS" parquet "duckdb: read every column" "$t" "$m" "$base"
  read -r t m < <(duck "SELECT nationality, gender, age_band, justification, outcome, legal_basis, unit, subject_type, search_conducted, contraband_found, count(*) FROM read_parquet('$PARQUET') GROUP BY ALL")
  row "$ROWS" parquet "duckdb: 10-column group-by" "$t" "$m" "$base"
  read -r t m < <(duck "SELECT count(DISTINCT stop_id) FROM read_parquet('$PARQUET')")
  row "$ROWS" parquet "duckdb: distinct stop ids" "$t" "$m" "$base"
  read -r t m < <(sha256 "$PARQUET")
  row "$ROWS" parquet "sha256 of the file (hashlib)" "$t" "$m" "$base"
fi

read -r t m < <(measure "$B" analyze -q --format json --out "$DATA/c.json" "$CSV")
row "$CSV_ROWS" csv "stopaudit analyze (all)" "$t" "$m" "$t"
base=$t
if [ "$SMOKE" = 0 ]; then
  read -r t m < <(measure "$PY" -c "import duckdb; duckdb.sql(\"SELECT Nationaliteit, Aanleiding, Resultaat, count(*) FROM read_csv('$CSV', delim=';') GROUP BY ALL\").fetchall()")
  row "$CSV_ROWS" csv "duckdb read_csv + group-by" "$t" "$m" "$base"
  read -r t m < <(duck "SELECT sum(length(COLUMNS(*))) FROM read_csv('$CSV', delim=';', all_varchar=true)")
  row "$CSV_ROWS" csv "duckdb: read every column" "$t" "$m" "$base"
  read -r t m < <(sha256 "$CSV")
  row "$CSV_ROWS" csv "sha256 of the file (hashlib)" "$t" "$m" "$base"
fi

read -r t m < <(measure "$B" generate -q --rows "$ROWS" --seed 2 --format parquet --out "$DATA/g.parquet")
row "$ROWS" parquet "stopaudit generate" "$t" "$m" "$t"
tg=$t
rm -f "$DATA/g.parquet"
if [ "$SMOKE" = 0 ]; then
  # The peers writing a file of the same shape from hashed row numbers (no model).
  for peer in duckdb polars; do
    read -r t m < <(measure "$PY" benches/peer_generate.py "$peer" "$ROWS" "$DATA/peer.parquet")
    row "$ROWS" parquet "$peer: write such a file" "$t" "$m" "$tg"
  done
  rm -f "$DATA/peer.parquet"
fi

# Small data: the bundled sample's full report in every format.
read -r t m < <(measure "$B" demo --out "$DATA/demo")
row 20000 csv "stopaudit demo (all reports)" "$t" "$m" "$t"

awk -v one="$t1" -v core="$tc" -v all="$tp" -v rows="$ROWS" -v gen="$tg" 'BEGIN {
  printf "speed-up of all threads over 1 thread (parquet analyze): %.2fx\n", one / all
  if (core > 0) printf "speed-up of all threads over 1 thread pinned to one core: %.2fx\n", core / all
  if (gen > 0) printf "generator: %.2f million rows per second\n", rows / gen / 1e6
}'

# The smoke run also checks that the whole audit ran and accounted for every row.
python3 - "$DATA/a.json" "$ROWS" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
p = a["provenance"]
assert p["rows_read"] == int(sys.argv[2]), p["rows_read"]
assert p["rows_read"] == p["rows_analyzed"] + p["rows_quarantined"] + p["rows_out_of_scope"]
assert a["findings"], "the planted bias should give findings"
print(f"check: {p['rows_read']} rows read = analysed + quarantined + out of scope; {len(a['findings'])} findings")
PY
