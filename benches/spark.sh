#!/usr/bin/env bash
# The count cube counted by Apache Spark (the job of `count --engine spark`)
# against the native count, on the same Parquet file, on this machine.
#
#   benches/spark.sh [--rows N]        # default 1,000,000 rows
#   SPARK_SUBMIT=/path/to/spark-submit benches/spark.sh --rows 10000000
#
# Generates the file (`stopaudit generate --format parquet --dirty 0.03`),
# counts it natively (`stopaudit count`) and with Spark on local[2]
# (spark-submit with an event log), prints wall time, CPU time and peak RSS
# (GNU time) of both, and from Spark's event log how the job would scale
# with more cores (benches/spark_scaling.py). Needs Java and PySpark
# (`pip install pyspark==3.5.3`); .ci/run installs them for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stopaudit-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/stopaudit"
submit="${SPARK_SUBMIT:-${STOPAUDIT_SPARK_SUBMIT:-spark-submit}}"
# A virtual environment's spark-submit finds Spark through its own Python.
beside="$(dirname "$(command -v "$submit")")/python3"
[ -x "$beside" ] && export PYSPARK_PYTHON="$beside"
work="${BENCH_DATA:-$(mktemp -d)}"
mkdir -p "$work"
data="$work/spark-$rows.parquet"
[ -f "$data" ] || "$bin" generate --quiet --rows "$rows" --seed 7 --format parquet \
  --dirty 0.03 --bias combined --out "$data" >/dev/null
printf '[period]\nstart = 2025-01-01\nend = 2025-12-31\n' > "$work/spark.toml"
rm -rf "$work/native-cube" "$work/spark-job" "$work/spark-cube" "$work/events"
mkdir -p "$work/events"
echo "rows: $rows ($(du -h "$data" | cut -f1) Parquet)"
/usr/bin/time -f "native count: %e s wall, %U+%S s CPU, %M KB peak" \
  "$bin" count "$data" --config "$work/spark.toml" --quiet --out "$work/native-cube" >/dev/null
"$bin" count "$data" --config "$work/spark.toml" --quiet --engine spark --emit "$work/spark-job" >/dev/null
/usr/bin/time -f "spark local[2]: %e s wall, %U+%S s CPU, %M KB peak" \
  "$submit" --master 'local[2]' --driver-memory 4g \
  --conf spark.ui.enabled=false --conf spark.driver.host=127.0.0.1 \
  --conf spark.driver.bindAddress=127.0.0.1 --conf spark.sql.shuffle.partitions=8 \
  --conf spark.driver.extraJavaOptions=-XX:-DontCompileHugeMethods \
  --conf spark.eventLog.enabled=true --conf "spark.eventLog.dir=file://$work/events" \
  "$work/spark-job/driver.py" --out "$work/spark-cube" > "$work/spark.log" 2>&1 \
  || { tail -20 "$work/spark.log"; exit 1; }
grep "^spark local" "$work/spark.log"
python3 benches/spark_scaling.py "$work/events"
