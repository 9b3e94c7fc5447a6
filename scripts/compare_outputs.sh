#!/usr/bin/env bash
# Runs two stopaudit binaries on the same inputs and compares every output
# byte for byte: the check that a change meant to keep behaviour (a
# restructuring, a speed-up) did keep it.
#
#   scripts/compare_outputs.sh OLD_BINARY NEW_BINARY [ROWS]
#
# Cases: the demo in English and Dutch (report, tables, charts, quarantine);
# a generated export of ROWS rows (default 1,000,000; combined bias, 2% spoilt
# rows) as Parquet and CSV, through validate, analyze (JSON, table, CSV
# folder) and report; the threshold test on the Stanford fixture; every test
# fixture through analyze, including the files that must fail (their
# messages and exit codes are compared too). The generated files themselves
# must be identical as well. Exits 1 and lists the differences when any.
set -euo pipefail
rows=${3:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
# Both binaries under the same name, so that usage texts match.
mkdir -p "$work/bin-old" "$work/bin-new"
cp "$1" "$work/bin-old/stopaudit"
cp "$2" "$work/bin-new/stopaudit"
old=$work/bin-old/stopaudit
new=$work/bin-new/stopaudit
cd "$root"

# run SIDE NAME ARGS...: runs one side's binary, keeping stdout, stderr and
# the exit code under $work/SIDE/NAME.*
run() {
  local side=$1 name=$2
  shift 2
  local bin=$old
  [ "$side" = new ] && bin=$new
  local status=0
  "$bin" "$@" >"$work/$side/$name.stdout" 2>"$work/$side/$name.stderr" || status=$?
  echo "$status" >"$work/$side/$name.status"
}

for side in old new; do
  out=$work/$side
  mkdir -p "$out"
  bin=$old
  [ "$side" = new ] && bin=$new
  run "$side" demo-en demo --quiet --out "$out/demo-en"
  run "$side" demo-nl demo --quiet --lang nl --out "$out/demo-nl"
  run "$side" gen-parquet generate --quiet --rows "$rows" --seed 7 --bias combined --dirty 0.02 \
    --format parquet --out "$out/export.parquet" --truth "$out/export.truth.json"
  run "$side" gen-csv generate --quiet --rows $((rows / 10)) --seed 8 --bias combined --dirty 0.02 \
    --format csv --out "$out/export.csv"
  # Both sides read the old side's files, so the analyses compare on equal inputs.
  for fmt in parquet csv; do
    input=$work/old/export.$fmt
    run "$side" "validate-$fmt" validate --quiet "$input" --quarantine "$out/quarantine-$fmt.csv"
    run "$side" "analyze-json-$fmt" analyze --quiet "$input" --format json
    run "$side" "analyze-table-$fmt" analyze --quiet "$input"
    run "$side" "analyze-csv-$fmt" analyze --quiet "$input" --format csv --out "$out/tables-$fmt"
    run "$side" "report-$fmt" report --quiet "$input" --out "$out/report-$fmt"
  done
  # Every analysis on, findings of every kind: the threshold test (short
  # chains), internal benchmarking of teams and officers (pseudonyms), the
  # veil of darkness on a planted daylight bias.
  if [ "$side" = old ]; then
    printf '[analysis.threshold_test]\nenabled = true\nwarmup = 300\ndraws = 300\n[analysis.benchmarking]\nenabled = true\nentities = ["unit", "team", "officer"]\n' \
      >"$work/everything.toml"
  fi
  run "$side" gen-daylight generate --quiet --rows $((rows / 4)) --seed 9 --bias daylight \
    --format parquet --out "$out/daylight.parquet"
  STOPAUDIT_PSEUDONYM_KEY=compare-outputs-key-0123456789 \
    run "$side" everything analyze --quiet "$work/old/daylight.parquet" --config "$work/everything.toml" --format json
  STOPAUDIT_PSEUDONYM_KEY=compare-outputs-key-0123456789 \
    run "$side" everything-report report --quiet "$work/old/daylight.parquet" \
    --config "$work/everything.toml" --lang nl --out "$out/report-everything"
  run "$side" threshold threshold-test tests/fixtures/opp/fig4b_threshold_test_5states.csv \
    --location location_variable --group driver_race --stops num_stops --searches num_searches \
    --hits num_hits --reference "White drivers" --where state=RI --warmup 300 --draws 300 --format json
  for f in tests/fixtures/*.csv tests/fixtures/*.jsonl tests/fixtures/*.xlsx tests/fixtures/*.tsv \
    tests/fixtures/*.docx tests/fixtures/veil/stops.csv datasets/sample/proco_2025_sample.csv; do
    run "$side" "fixture-$(echo "$f" | tr '/' '_')" analyze --quiet "$f" --format json
  done
done

rm -r "$work/bin-old" "$work/bin-new"
# Paths differ only by the side's folder name (text files only).
grep -rlI -F "$work/new" "$work/new" | while read -r f; do sed -i "s#$work/new#$work/old#g" "$f"; done
files=$(cd "$work/old" && find . -type f | wc -l)
if diff -r "$work/old" "$work/new" >"$work/diff.txt"; then
  runs=$(find "$work/old" -name '*.status' | wc -l)
  failed=$(grep -Lx 0 "$work"/old/*.status | wc -l)
  echo "identical: $files files from $runs runs ($failed of them exit non-zero on purpose or not: same on both sides); rows: $rows"
else
  head -50 "$work/diff.txt"
  echo "DIFFERENT (see above)" >&2
  exit 1
fi
