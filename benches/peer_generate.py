"""The peers writing a stop file of the generator's shape, for the scale bench.

    python peer_generate.py duckdb|polars ROWS OUT

Twenty columns as `stopaudit generate --format parquet` writes them (stop id,
UTC timestamp, fifteen text columns of a few to 5,000 values, coordinates,
two flags), zstd-compressed Parquet. The values are hashes of the row number
mapped onto label lists: no model, no planted bias, no clock rules, so this
is less work per row than the generator does. It is the peers' speed at
writing such a file, the reference for the generator's rows per second.
"""

import sys

LABELS = {
    "unit": ["Amsterdam", "Rotterdam", "Den Haag", "Midden-Nederland", "Noord-Holland",
             "Oost-Nederland", "Limburg", "Zeeland-West-Brabant", "Oost-Brabant",
             "Noord-Nederland", "Landelijke Eenheid"],
    "district": ["District A", "District B", "District C", "District D"],
    "basisteam": ["Noord", "Zuid", "Oost", "West"],
    "area_code": [f"GM{i:04d}" for i in range(400)],
    "subject_type": ["person", "vehicle", "bicycle", "other"],
    "legal_basis": ["traffic_act", "police_act", "immigration", "weapons_act",
                    "preventive_search", "other"],
    "justification": ["behaviour", "circumstances", "information", "observed_violation",
                      "none_recorded"],
    "outcome": ["no_action", "warning", "fine", "report", "arrest", "other"],
    "reason_explained": ["yes", "no", "unknown"],
    "officer_id": [f"AM-{i:05d}" for i in range(5000)],
    "team": ["Ploeg A", "Ploeg B", "Ploeg C", "Ploeg D"],
    "nationality": ["Nederlands", "Marokkaans", "Turks", "Surinaams", "Pools", "Roemeens",
                    "Bulgaars", "Duits", "Belgisch", "Overig"],
    "gender": ["man", "vrouw"],
    "age_band": ["<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"],
}
TEXT_BEFORE = ["unit", "district", "basisteam", "area_code"]
TEXT_AFTER = ["subject_type", "legal_basis", "justification", "outcome"]
TEXT_LAST = ["reason_explained", "officer_id", "team", "nationality", "gender", "age_band"]
MINUTES_IN_YEAR = 525_600


def duckdb_file(rows, out):
    import duckdb

    duckdb.sql("SET enable_progress_bar = false")

    def text(name, seed):
        labels = "', '".join(LABELS[name])
        return f"(['{labels}'])[1 + (hash(i, {seed}) % {len(LABELS[name])})::INT] AS {name}"

    seeds = iter(range(2, 100))
    columns = [
        "'R' || lpad(i::VARCHAR, 9, '0') AS stop_id",
        f"TIMESTAMPTZ '2025-01-01' + to_minutes((hash(i, 1) % {MINUTES_IN_YEAR})::BIGINT) AS stopped_at",
        *(text(n, next(seeds)) for n in TEXT_BEFORE),
        f"52.0 + (hash(i, {next(seeds)}) % 100000) / 100000.0 AS latitude",
        f"4.5 + (hash(i, {next(seeds)}) % 100000) / 100000.0 AS longitude",
        *(text(n, next(seeds)) for n in TEXT_AFTER),
        f"hash(i, {next(seeds)}) % 10 = 0 AS search_conducted",
        f"hash(i, {next(seeds)}) % 30 = 0 AS contraband_found",
        *(text(n, next(seeds)) for n in TEXT_LAST),
    ]
    duckdb.sql(
        f"COPY (SELECT {', '.join(columns)} FROM range({rows}) t(i)) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
    )


def polars_file(rows, out):
    import polars as pl

    seeds = iter(range(2, 100))
    row = pl.int_range(0, rows, eager=True)

    def hashed(seed, modulus):
        return row.hash(seed) % modulus

    def text(name):
        labels = LABELS[name]
        codes = hashed(next(seeds), len(labels)).cast(pl.UInt32)
        return name, codes.replace_strict(
            list(range(len(labels))), labels, return_dtype=pl.Categorical
        )

    columns = [
        ("stop_id", "R" + row.cast(pl.String).str.zfill(9)),
        ("stopped_at", (hashed(1, MINUTES_IN_YEAR).cast(pl.Int64) * 60_000_000)
         .cast(pl.Datetime("us", "UTC"))),
        *(text(n) for n in TEXT_BEFORE),
        ("latitude", 52.0 + hashed(next(seeds), 100_000) / 100_000.0),
        ("longitude", 4.5 + hashed(next(seeds), 100_000) / 100_000.0),
        *(text(n) for n in TEXT_AFTER),
        ("search_conducted", hashed(next(seeds), 10) == 0),
        ("contraband_found", hashed(next(seeds), 30) == 0),
        *(text(n) for n in TEXT_LAST),
    ]
    pl.DataFrame(dict(columns)).write_parquet(out, compression="zstd")


if __name__ == "__main__":
    tool, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    {"duckdb": duckdb_file, "polars": polars_file}[tool](rows, out)
