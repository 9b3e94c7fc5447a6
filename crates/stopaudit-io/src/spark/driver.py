#!/usr/bin/env python3
"""Counts stop registrations into a stopaudit count cube on Apache Spark.

Written by `stopaudit count --engine spark --emit DIR` (see README.md next to
this file). Run it with

    spark-submit driver.py --out CUBE_DIR

It reads job.json and count.sql next to it, the dimension tables in
dimensions/ (or --dimensions URI, for a cluster that cannot read the
driver's folder), checks every input's columns, runs the SQL in the session
time zone and writes CUBE_DIR (any Hadoop file system URI): the cube's
Parquet tables and manifest.json, as `stopaudit count` writes them. Nothing
is written when something fails (the cube is staged and renamed at the end).
Exit code 2 with a message for a problem with the inputs or the job.
"""

import argparse
import json
import os
import sys

JOB_FORMAT = "stopaudit spark job"
JOB_VERSION = 1


class JobError(Exception):
    """A problem with the inputs or the job, told to the user (exit code 2)."""


def spark_kind(data_type):
    """The kind of value a Spark column holds, as job.json names it."""
    from pyspark.sql import types as T

    if isinstance(data_type, T.StringType):
        return "text"
    if isinstance(data_type, T.BooleanType):
        return "bool"
    if isinstance(data_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return "int"
    if isinstance(data_type, (T.FloatType, T.DoubleType)):
        return "float"
    if isinstance(data_type, T.TimestampType):
        return "instant"
    return data_type.simpleString()


def quoted(name):
    return "`" + name.replace("`", "``") + "`"


class Files:
    """Hadoop file system access through the JVM (local paths, HDFS, S3, DBFS...)."""

    def __init__(self, spark):
        self.spark = spark
        self.jvm = spark._jvm
        self.conf = spark._jsc.hadoopConfiguration()

    def path(self, text):
        return self.jvm.org.apache.hadoop.fs.Path(text)

    def fs(self, path):
        return path.getFileSystem(self.conf)

    def sha256(self, path):
        """SHA-256 of a file's bytes, streamed in the JVM (commons-codec, on Spark's class path)."""
        stream = self.fs(path).open(path)
        try:
            return self.jvm.org.apache.commons.codec.digest.DigestUtils.sha256Hex(stream)
        finally:
            stream.close()

    def write_text(self, path, text):
        stream = self.fs(path).create(path, False)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()


def check_instant(files, path, source, name):
    """A timestamp column must say it holds instants (UTC-adjusted INT64), as
    stopaudit reads it: INT96 (Spark's, Hive's and Impala's old default) holds
    no zone, and stopaudit reads it as local time, which Spark would not."""
    footer = files.jvm.org.apache.parquet.hadoop.ParquetFileReader.readFooter(
        files.conf, path
    )
    column = footer.getFileMetaData().getSchema().getType(name)
    primitive = column.asPrimitiveType().getPrimitiveTypeName().name()
    annotation = column.getLogicalTypeAnnotation()
    adjusted = (
        annotation is not None
        and annotation.getClass().getSimpleName() == "TimestampLogicalTypeAnnotation"
        and annotation.isAdjustedToUTC()
    )
    if primitive != "INT64" or not adjusted:
        raise JobError(
            f'{source}: column "{name}" holds timestamps without a time zone ({primitive}, {annotation}), '
            "which stopaudit reads as local time and Spark would not; write it as a timestamp with a zone "
            "(spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS), or count this file natively"
        )


def read_inputs(spark, job):
    """The inputs as one view `raw`: the mapped columns renamed, file and row index added."""
    from pyspark.sql import functions as F

    files = Files(spark)
    frames = []
    for index, source in enumerate(job["inputs"]):
        path = files.path(source)
        if not files.fs(path).isFile(path):
            raise JobError(f"{source}: is not a file (give each Parquet file, in order)")
        try:
            df = spark.read.parquet(source)
        except Exception as e:  # the reader's own message names the problem
            raise JobError(f"{source}: cannot be read as Parquet: {e}") from None
        types = {f.name: f.dataType for f in df.schema.fields}
        columns = []
        for c in job["columns"]:
            name = c["source"]
            if name not in types:
                raise JobError(
                    f'{source}: has no column "{name}" (the job was made from a file that has it; '
                    "emit the job again from a file like these inputs)"
                )
            kind = spark_kind(types[name])
            if kind != c["kind"]:
                raise JobError(
                    f'{source}: column "{name}" holds {kind} values, the job expects {c["kind"]} '
                    "(emit the job again from a file like these inputs)"
                )
            if kind == "instant":
                check_instant(files, path, source, name)
            columns.append(F.col(quoted(name)).alias(c["name"]))
        frames.append(
            df.select(
                *columns,
                F.lit(index).alias("file_index"),
                F.col("_metadata.file_path").alias("file_path"),
                F.col("_metadata.row_index").alias("row_index"),
            )
        )
    raw = frames[0]
    for f in frames[1:]:
        raw = raw.unionByName(f)
    raw.createOrReplaceTempView("raw")


def read_dimensions(spark, job, folder):
    from pyspark.sql import functions as F

    names = ["codes", "group_values", "attributes", "params"]
    if job["darkness"]:
        names += ["unit_places", "sun", "calendar"]
    for name in names:
        df = spark.read.parquet(folder.rstrip("/") + "/" + name + ".parquet")
        for column in job["dates"].get(name, []):
            if column in df.columns:
                df = df.withColumn(column, F.to_date(F.col(column)))
        for column in job["doubles"].get(name, []):
            if column in df.columns:
                df = df.withColumn(column, F.col(column).cast("double"))
        if name != "params":
            df = F.broadcast(df)
        df.createOrReplaceTempView(name)


def run_sql(spark, text):
    for statement in text.split("\n;\n"):
        if statement.strip():
            spark.sql(statement)


def write_table(spark, files, staging, name):
    """One cube table as one Parquet file `name.parquet` in the staging folder."""
    parts = staging + "/_parts/" + name
    spark.table("table_" + name).coalesce(1).write.parquet(parts)
    found = [
        s.getPath()
        for s in files.fs(files.path(parts)).globStatus(files.path(parts + "/part-*"))
    ]
    if len(found) != 1:
        raise JobError(f"Spark wrote {len(found)} files for the table {name}, not one")
    target = files.path(staging + "/" + name + ".parquet")
    files.fs(target).rename(found[0], target)
    rows = spark.read.parquet(staging + "/" + name + ".parquet").count()
    return {
        "name": name,
        "file": name + ".parquet",
        "rows": rows,
        "sha256": files.sha256(target),
    }


def count(spark, job, here, dimensions, out):
    files = Files(spark)
    target = files.path(out)
    fs = files.fs(target)
    if fs.exists(target):
        raise JobError(f"{out}: exists already; remove it or choose another folder")
    staging = out.rstrip("/") + ".stopaudit-staging"
    if fs.exists(files.path(staging)):
        fs.delete(files.path(staging), True)

    read_inputs(spark, job)
    read_dimensions(spark, job, dimensions)
    with open(os.path.join(here, "count.sql"), encoding="utf-8") as f:
        run_sql(spark, f.read())
    spark.catalog.cacheTable("flagged")

    if job["darkness"]:
        gaps = spark.table("sun_gaps").collect()
        if gaps:
            years = ", ".join(f"{r['year']} ({r['stops']} stops)" for r in gaps)
            raise JobError(
                "stops lie outside the sun tables (years or area the job was made for): "
                f"{years}; emit the job again with --years or --sun-area"
            )

    accounting = spark.table("accounting").collect()
    totals = spark.table("totals").collect()[0]

    tables = [write_table(spark, files, staging, name) for name in job["tables"]]
    fs.delete(files.path(staging + "/_parts"), True)

    inputs = job["inputs"]
    per_file = [
        {"read": 0, "analysed": 0, "quarantined": 0, "out_of_scope": 0} for _ in inputs
    ]
    reasons = {}
    for r in accounting:
        f = per_file[r["file_index"]]
        f["read"] += r["rows"]
        if r["reason"] is not None:
            f["quarantined"] += r["rows"]
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + r["rows"]
        elif r["out_of_scope"]:
            f["out_of_scope"] += r["rows"]
        else:
            f["analysed"] += r["rows"]
    file_summaries = []
    for source, f in zip(inputs, per_file):
        path = files.path(source)
        notes = list(job["file"]["notes"])
        if f["read"] == 0:
            notes.append(job["file"]["no_rows_note"])
        if not job["summary"]["duplicates_checked"]:
            notes.append(job["file"]["no_stop_id_note"])
        file_summaries.append(
            {
                "path": source,
                "format": job["file"]["format"],
                "sha256": files.sha256(path),
                "bytes": files.fs(path).getFileStatus(path).getLen(),
                "rows_read": f["read"],
                "rows_analyzed": f["analysed"],
                "rows_quarantined": f["quarantined"],
                "rows_out_of_scope": f["out_of_scope"],
                "columns": job["file"]["columns"],
                "notes": notes,
            }
        )
    missing_all = {}
    for field, column in job["missing_fields"]:
        n = totals[column]
        if n:
            missing_all[field] = n
    mapped = set(job["file"]["columns"])
    attributes = job["summary"]["attributes"]
    published = {
        f: n for f, n in missing_all.items() if f in attributes or f in mapped
    }
    analysed = sum(f["analysed"] for f in per_file)
    if analysed != totals["analysed"]:
        raise JobError(
            f"the row accounting does not add up ({analysed} analysed by file, "
            f"{totals['analysed']} counted): please report this"
        )
    summary = {
        "files": file_summaries,
        "rows_read": sum(f["read"] for f in per_file),
        "rows_analyzed": analysed,
        "rows_quarantined": sum(f["quarantined"] for f in per_file),
        "rows_out_of_scope": sum(f["out_of_scope"] for f in per_file),
        "quarantine_reasons": dict(sorted(reasons.items())),
        "duplicates_checked": job["summary"]["duplicates_checked"],
        "attributes": attributes,
        "timezone": job["summary"]["timezone"],
        "timezone_assumed": job["summary"]["timezone_assumed"],
        "first_stop": totals["first_stop"],
        "last_stop": totals["last_stop"],
        "missing_values": dict(sorted(published.items())),
    }
    m = job["manifest"]
    manifest = {
        "format": m["format"],
        "cube_version": m["cube_version"],
        "notice": m["notice"],
        "engine": {
            "name": "spark",
            "version": f"{spark.version} (job of stopaudit {job['stopaudit_version']})",
        },
        "specification_sha256": m["specification_sha256"],
        "specification": m["specification"],
        "attributes": m["attributes"],
        "extra_fields": m["extra_fields"],
        "summary": summary,
        "missing_values_all": dict(sorted(missing_all.items())),
        "tables": tables,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    files.write_text(files.path(staging + "/manifest.json"), text)
    parent = target.getParent()
    if parent is not None and not fs.exists(parent):
        fs.mkdirs(parent)
    if not fs.rename(files.path(staging), target):
        raise JobError(f"{out}: could not move the finished cube into place")
    return summary


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(
        description="Count stop registrations into a stopaudit count cube on Apache Spark."
    )
    parser.add_argument("--out", required=True, help="the cube's folder (must not exist)")
    parser.add_argument(
        "--dimensions",
        default=None,
        help="where the cluster reads the dimension tables (default: dimensions/ next to this file)",
    )
    args = parser.parse_args()
    try:
        with open(os.path.join(here, "job.json"), encoding="utf-8") as f:
            job = json.load(f)
        if job.get("format") != JOB_FORMAT or job.get("job_version") != JOB_VERSION:
            raise JobError(
                "job.json is not a stopaudit Spark job of version "
                f"{JOB_VERSION}; emit it again with this stopaudit"
            )
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("stopaudit count").getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        # Local times (dates, months, minutes, clock changes) in the job's zone,
        # and the casts of the SQL as written (no ANSI errors).
        spark.conf.set("spark.sql.session.timeZone", job["timezone"])
        spark.conf.set("spark.sql.ansi.enabled", "false")
        # Dates as written (proleptic Gregorian, as Arrow and stopaudit read
        # them): a mistyped year 0204 is then an implausible date, not an error.
        spark.conf.set("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
        spark.conf.set("spark.sql.parquet.int96RebaseModeInRead", "CORRECTED")
        # Spark lower-cases non-ASCII text in the JVM's default locale: in
        # Turkish, Azeri and Lithuanian that is not the Unicode lower case
        # stopaudit matches labels with.
        language = spark._jvm.java.util.Locale.getDefault().getLanguage()
        if language in ("tr", "az", "lt"):
            spark.stop()
            raise JobError(
                f"the JVM's default locale is {language}, whose lower case differs from Unicode's; run with "
                "--conf spark.driver.extraJavaOptions=-Duser.language=en "
                "--conf spark.executor.extraJavaOptions=-Duser.language=en"
            )
        dimensions = args.dimensions or ("file://" + os.path.join(here, "dimensions"))
        try:
            summary = count(spark, job, here, dimensions, args.out)
        finally:
            spark.stop()
    except JobError as e:
        print(f"stopaudit spark job: {e}", file=sys.stderr)
        sys.exit(2)
    print(
        f"count cube written to {args.out}: rows read {summary['rows_read']} = analysed "
        f"{summary['rows_analyzed']} + quarantined {summary['rows_quarantined']} + out of scope "
        f"{summary['rows_out_of_scope']}\nA working file with exact counts: do not publish it "
        f"(analyse it with `stopaudit report --cube {args.out}`)."
    )


if __name__ == "__main__":
    main()
