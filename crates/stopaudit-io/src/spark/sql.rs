//! The SQL of the Spark job: every check of [`crate::validate`] as a
//! `CASE` that names the first problem of a row, the duplicate check as a
//! window over the valid rows in file order, and every `GROUP BY` of the
//! count cube.
//!
//! The SQL holds no text from the configuration or the data: input columns
//! are renamed by the driver to fixed names (`c_<field>`, `g<k>` for the
//! group attributes), and code lists, value maps, unit locations, sun
//! tables and settings are joined from dimension tables (so a hostile
//! label cannot change the query).

use stopaudit_core::canonical::TEXT_FIELDS;

/// What a column of the input holds, as the driver checks it in every file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Int,
    Float,
    Bool,
    Instant,
}

/// What the SQL is made from.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Mapped canonical fields (besides `stopped_at`) and their kinds.
    pub fields: Vec<(&'static str, Kind)>,
    /// Kind of each group attribute's column, in order.
    pub groups: Vec<Kind>,
    /// Whether each group attribute has a value map (`[values.<attribute>]`).
    pub group_maps: Vec<bool>,
    /// Extra strata of the `cells` table.
    pub extra_fields: Vec<String>,
    /// Count the darkness table (the veil of darkness is on).
    pub darkness: bool,
    /// Periods by the month of `registered_at` (else of the stop).
    pub registration_periods: bool,
    /// `[period]` quarantines stops outside it.
    pub config_period: bool,
    /// `--period` leaves stops outside it out of scope.
    pub scope_period: bool,
}

impl Plan {
    fn kind(&self, field: &str) -> Option<Kind> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, k)| *k)
    }
}

/// The Unicode white space characters (Rust's `char::is_whitespace`, Java's
/// `\p{IsWhite_Space}`), as a SQL string literal.
const WHITE_SPACE: &str = "'\\u0009\\u000A\\u000B\\u000C\\u000D\\u0020\\u0085\\u00A0\\u1680\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006\\u2007\\u2008\\u2009\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000'";

/// Unicode white space at either end removed (Rust's `str::trim`): the
/// regular expression only for values that start or end with white space
/// (or are empty), a character test for the rest.
fn trimmed(x: &str) -> String {
    format!(
        "CASE WHEN locate(left({x}, 1), {WHITE_SPACE}) = 0 AND locate(right({x}, 1), {WHITE_SPACE}) = 0 THEN {x} ELSE regexp_replace({x}, '^\\\\p{{IsWhite_Space}}+|\\\\p{{IsWhite_Space}}+$', '') END"
    )
}

/// [`stopaudit_core::codes::normalize_label`] in SQL.
fn normalized(x: &str) -> String {
    format!(
        "trim(BOTH '.' FROM lower(trim(BOTH ' ' FROM regexp_replace({x}, '[\\\\p{{IsWhite_Space}}_-]+', ' '))))"
    )
}

/// A column as the text stopaudit reads from it (`Cell::display`).
fn text_of(c: &str, kind: Kind) -> String {
    match kind {
        Kind::Text => c.to_string(),
        Kind::Int => format!("CAST({c} AS STRING)"),
        Kind::Bool => format!("CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END"),
        // Refused by the emitter for text and coded fields.
        Kind::Float | Kind::Instant => format!("CAST({c} AS STRING)"),
    }
}

/// True where input column `c_<name>` has no value (`Cell::is_missing`).
fn missing(name: &str, kind: Kind) -> String {
    let c = format!("r.c_{name}");
    match kind {
        Kind::Text => format!("({c} IS NULL OR r.x_{name} = '')"),
        Kind::Float => format!("({c} IS NULL OR isnan({c}))"),
        _ => format!("{c} IS NULL"),
    }
}

/// The input columns whose text is read trimmed, each trimmed once (in the
/// view `prepared`, as `x_<name>`): `(name, kind)`.
fn trimmed_columns(plan: &Plan) -> Vec<(String, Kind)> {
    let mut out: Vec<(String, Kind)> = plan
        .fields
        .iter()
        .filter(|(_, k)| matches!(k, Kind::Text | Kind::Int | Kind::Bool))
        .map(|(f, k)| (f.to_string(), *k))
        .collect();
    out.extend(
        plan.groups
            .iter()
            .enumerate()
            .map(|(g, k)| (format!("g{g}"), *k)),
    );
    out
}

const TRUE_WORDS: &str = "'ja', 'j', 'yes', 'y', 'true', 't', 'waar', '1', 'x'";
const FALSE_WORDS: &str = "'nee', 'n', 'no', 'false', 'f', 'onwaar', '0'";

/// The checked values of one row: `(column, expression)` and, for fields
/// that can fail, `(reason, condition)` in the order the checks run.
struct Checks {
    values: Vec<(String, String)>,
    failures: Vec<(&'static str, String)>,
    /// Columns of the one-row view `maps`: spelling -> code per code list,
    /// normalised value -> group per attribute with a value map.
    maps: Vec<String>,
}

/// A coded field: its code from the code list's spellings, and its failures.
fn code(plan: &Plan, field: &'static str, required: bool, out: &mut Checks) {
    let Some(kind) = plan.kind(field) else {
        // The emitter refuses a mapping without required fields.
        assert!(!required, "{field} is mapped");
        out.values
            .push((field.into(), "CAST(NULL AS STRING)".into()));
        return;
    };
    let c = format!("r.c_{field}");
    let raw = match kind {
        Kind::Bool => format!("CASE WHEN {c} THEN 'yes' ELSE 'no' END"),
        k => text_of(&c, k),
    };
    // As `CodeList::lookup`: the spelling as it is, then normalised.
    let found = format!(
        "coalesce(element_at(m.codes_{field}, {raw}), element_at(m.codes_{field}, {}))",
        normalized(&raw)
    );
    let absent = missing(field, kind);
    out.values.push((
        field.into(),
        format!("CASE WHEN {absent} THEN NULL ELSE {found} END"),
    ));
    out.maps.push(format!(
        "(SELECT map_from_entries(collect_list(struct(spelling, code))) FROM codes WHERE field = '{field}') AS codes_{field}"
    ));
    out.values.push((format!("a_{field}"), absent));
    if required {
        out.failures
            .push(("missing_required", format!("a_{field}")));
    }
    out.failures.push((
        "unknown_category",
        format!("NOT a_{field} AND {field} IS NULL"),
    ));
}

fn checks(plan: &Plan) -> Checks {
    let mut out = Checks {
        values: Vec::new(),
        failures: Vec::new(),
        maps: Vec::new(),
    };
    out.values.push((
        "stopped_at".into(),
        "CAST(r.c_stopped_at AS TIMESTAMP)".into(),
    ));
    out.failures
        .push(("missing_required", "stopped_at IS NULL".into()));

    code(plan, "justification", true, &mut out);
    code(plan, "outcome", true, &mut out);

    // Text fields in schema order; only the area code is checked.
    let mut text_failures = Vec::new();
    for field in TEXT_FIELDS {
        let name = format!("t_{field}");
        match plan.kind(field) {
            None => out.values.push((name, "CAST(NULL AS STRING)".into())),
            Some(kind) => {
                let value = format!("r.x_{field}");
                if field == "area_code" {
                    let ok =
                        format!("{value} RLIKE '^(?i:GM[0-9]{{4}}|WK[0-9]{{6}}|BU[0-9]{{8}})$'");
                    out.values.push((
                        name,
                        format!(
                            "CASE WHEN {} THEN NULL WHEN {ok} THEN upper({value}) END",
                            missing(field, kind)
                        ),
                    ));
                    out.values
                        .push(("a_area_code".into(), missing(field, kind)));
                    text_failures.push((
                        "invalid_value",
                        "NOT a_area_code AND t_area_code IS NULL".to_string(),
                    ));
                } else {
                    out.values.push((
                        name,
                        format!(
                            "CASE WHEN {} THEN NULL ELSE {value} END",
                            missing(field, kind)
                        ),
                    ));
                }
            }
        }
    }
    out.failures.extend(text_failures);

    for (field, limit) in [("latitude", 90), ("longitude", 180)] {
        let Some(kind) = plan.kind(field) else {
            out.values
                .push((field.into(), "CAST(NULL AS DOUBLE)".into()));
            continue;
        };
        let c = format!("r.c_{field}");
        let number = match kind {
            Kind::Float | Kind::Int => format!("CAST({c} AS DOUBLE)"),
            Kind::Text => {
                let t = format!("replace(r.x_{field}, ',', '.')");
                format!(
                    "CASE WHEN {t} RLIKE '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$' THEN CAST({t} AS DOUBLE) END"
                )
            }
            Kind::Bool | Kind::Instant => "CAST(NULL AS DOUBLE)".into(),
        };
        let ok =
            format!("({number} IS NOT NULL AND NOT isnan({number}) AND abs({number}) <= {limit})");
        let absent = missing(field, kind);
        out.values.push((
            field.into(),
            format!("CASE WHEN {absent} THEN NULL WHEN {ok} THEN {number} END"),
        ));
        out.values.push((format!("a_{field}"), absent));
        out.failures.push((
            "invalid_value",
            format!("NOT a_{field} AND {field} IS NULL"),
        ));
    }

    code(plan, "subject_type", false, &mut out);
    code(plan, "legal_basis", false, &mut out);

    for field in ["search_conducted", "contraband_found"] {
        let Some(kind) = plan.kind(field) else {
            out.values
                .push((field.into(), "CAST(NULL AS BOOLEAN)".into()));
            continue;
        };
        let c = format!("r.c_{field}");
        let parsed = match kind {
            Kind::Bool => c.clone(),
            Kind::Int => format!("CASE {c} WHEN 0 THEN false WHEN 1 THEN true END"),
            // The words are their own normal form: as they are first.
            Kind::Text => {
                let n = normalized(&c);
                format!(
                    "CASE WHEN {c} IN ({TRUE_WORDS}) THEN true WHEN {c} IN ({FALSE_WORDS}) THEN false WHEN {n} IN ({TRUE_WORDS}) THEN true WHEN {n} IN ({FALSE_WORDS}) THEN false END"
                )
            }
            Kind::Float | Kind::Instant => "CAST(NULL AS BOOLEAN)".into(),
        };
        let absent = missing(field, kind);
        out.values.push((
            field.into(),
            format!("CASE WHEN {absent} THEN NULL ELSE {parsed} END"),
        ));
        out.values.push((format!("a_{field}"), absent));
        out.failures.push((
            "invalid_value",
            format!("NOT a_{field} AND {field} IS NULL"),
        ));
    }

    code(plan, "reason_explained", false, &mut out);

    match plan.kind("registered_at") {
        Some(_) => out.values.push((
            "registered_at".into(),
            "CAST(r.c_registered_at AS TIMESTAMP)".into(),
        )),
        None => out
            .values
            .push(("registered_at".into(), "CAST(NULL AS TIMESTAMP)".into())),
    }

    for (k, kind) in plan.groups.iter().enumerate() {
        let name = format!("g{k}");
        let value = if plan.group_maps[k] {
            // As validation: the value map by the normalised value, else the value.
            out.maps.push(format!(
                "(SELECT map_from_entries(collect_list(struct(spelling, label))) FROM group_values WHERE attribute = {k}) AS groups_{k}"
            ));
            format!(
                "coalesce(element_at(m.groups_{k}, {}), r.x_{name})",
                normalized(&text_of(&format!("r.c_{name}"), *kind))
            )
        } else {
            format!("r.x_{name}")
        };
        out.values.push((
            name.clone(),
            format!(
                "CASE WHEN {} THEN 'unknown' ELSE {value} END",
                missing(&name, *kind)
            ),
        ));
    }

    out.values.push((
        "stop_id".into(),
        match plan.kind("stop_id") {
            Some(_) => {
                "CASE WHEN r.c_stop_id IS NULL OR r.x_stop_id = '' THEN NULL ELSE r.x_stop_id END"
                    .into()
            }
            None => "CAST(NULL AS STRING)".into(),
        },
    ));
    out
}

/// One statement: a temporary view.
fn view(name: &str, body: &str) -> String {
    format!("-- {name}\nCREATE OR REPLACE TEMPORARY VIEW {name} AS\n{body}\n;\n")
}

/// The job's SQL: statements separated by lines holding only `;`. The
/// driver runs them in order, then reads the views named in
/// [`OUTPUT_VIEWS`].
pub fn job_sql(plan: &Plan) -> String {
    let Checks {
        values,
        failures,
        maps,
    } = checks(plan);
    let mut out = String::from(
        "-- stopaudit count on Apache Spark: the SQL the driver runs (driver.py).\n\
         -- Views read by the driver: raw (the inputs, columns renamed), params,\n\
         -- codes, group_values, attributes, unit_places, sun, calendar\n\
         -- (dimension tables computed by stopaudit).\n\n",
    );

    // 1. Each row's values and the first problem, in the order of stopaudit's checks.
    let mut prepared = vec!["r.*".to_string()];
    for (name, kind) in trimmed_columns(plan) {
        let text = text_of(&format!("r.c_{name}"), kind);
        prepared.push(match kind {
            Kind::Text => format!("{} AS x_{name}", trimmed(&text)),
            _ => format!("{text} AS x_{name}"),
        });
    }
    out += &view(
        "prepared",
        &format!("SELECT {}\nFROM raw r", prepared.join(",\n  ")),
    );
    out.push('\n');
    let maps = if maps.is_empty() {
        "SELECT 1 AS one".to_string()
    } else {
        format!("SELECT\n  {}", maps.join(",\n  "))
    };
    out += &view("maps", &maps);
    out.push('\n');
    // Values (each check's result computed once), then the first failure
    // over those values.
    let select: Vec<String> = values
        .iter()
        .map(|(name, e)| format!("  {e} AS {name}"))
        .collect();
    out += &view(
        "checked_values",
        &format!(
            "SELECT r.file_index, r.file_path, r.row_index,\n{}\nFROM prepared r CROSS JOIN maps m",
            select.join(",\n")
        ),
    );
    out.push('\n');
    let mut first = String::from("  CASE\n");
    for (reason, condition) in &failures {
        first += &format!("    WHEN {condition} THEN '{reason}'\n");
    }
    first += "  END AS field_reason";
    out += &view(
        "checked_fields",
        &format!("SELECT v.*,\n{first}\nFROM checked_values v"),
    );
    out.push('\n');
    let mut case = String::from("CASE\n    WHEN field_reason IS NOT NULL THEN field_reason\n");
    case += "    WHEN contraband_found AND NOT search_conducted THEN 'contraband_without_search'\n";
    case += "    WHEN to_date(stopped_at) < p.earliest OR to_date(stopped_at) > p.latest THEN 'implausible_date'\n";
    if plan.config_period {
        case += "    WHEN to_date(stopped_at) < coalesce(p.period_start, DATE '0001-01-01') OR to_date(stopped_at) > coalesce(p.period_end, DATE '9999-12-31') THEN 'outside_period'\n";
    }
    case += "  END";
    out += &view(
        "checked",
        &format!("SELECT f.*, {case} AS reason\nFROM checked_fields f CROSS JOIN params p"),
    );
    out.push('\n');

    // 2. Duplicates: the first valid occurrence of a stop id is kept (in file order).
    let scope = if plan.scope_period {
        "to_date(stopped_at) BETWEEN p.scope_start AND p.scope_end"
    } else {
        "true"
    };
    out += &view(
        "flagged",
        &format!(
            "SELECT c.*,\n  CASE WHEN reason IS NULL AND stop_id IS NOT NULL\n    AND row_number() OVER (PARTITION BY CASE WHEN reason IS NULL THEN stop_id END ORDER BY file_index, file_path, row_index) > 1\n    THEN 'duplicate_stop_id' ELSE reason END AS final_reason,\n  reason IS NULL AND {scope} AS kept\nFROM checked c CROSS JOIN params p"
        ),
    );
    out.push('\n');

    // 3. The analysed stops with their local times (and light, for the veil).
    let mut stop_columns = vec![
        "s.*".to_string(),
        "to_date(s.stopped_at) AS day".into(),
        "date_format(s.stopped_at, 'yyyy-MM') AS month".into(),
        "year(s.stopped_at) AS year".into(),
        "hour(s.stopped_at) * 3600 + minute(s.stopped_at) * 60 + second(s.stopped_at) AS second_of_day".into(),
        "minute(s.stopped_at) AS minute_of_hour".into(),
    ];
    stop_columns.push(if plan.registration_periods {
        "date_format(s.registered_at, 'yyyy-MM') AS period".into()
    } else {
        "date_format(s.stopped_at, 'yyyy-MM') AS period".into()
    });
    out += &view(
        "kept",
        &format!(
            "SELECT {}\nFROM flagged s\nWHERE s.kept",
            stop_columns.join(",\n  ")
        ),
    );
    out.push('\n');
    out += &view("analysed", "SELECT * FROM kept WHERE final_reason IS NULL");
    out.push('\n');
    if plan.darkness {
        out += &view(
            "lit",
            &format!(
                "SELECT a.*,\n  CASE\n    WHEN a.place_lat IS NULL THEN 'no_place'\n    WHEN sun.day IS NULL THEN 'no_sun_table'\n    WHEN sun.window_first IS NULL OR second_of_day < sun.window_first OR second_of_day > sun.window_last THEN 'outside_window'\n    WHEN sun.sunset IS NULL OR sun.dusk IS NULL THEN 'outside_window'\n    WHEN second_of_day >= sun.dusk THEN 'dark'\n    WHEN second_of_day >= sun.sunset THEN 'twilight'\n    ELSE 'daylight'\n  END AS light,\n  cal.clock_change_window\nFROM (\n  SELECT a.*,\n    CASE WHEN a.latitude IS NOT NULL AND a.longitude IS NOT NULL THEN CAST(round(a.latitude / p.grid) AS INT) ELSE coalesce(u.place_lat, p.default_lat) END AS place_lat,\n    CASE WHEN a.latitude IS NOT NULL AND a.longitude IS NOT NULL THEN CAST(round(a.longitude / p.grid) AS INT) ELSE coalesce(u.place_lon, p.default_lon) END AS place_lon\n  FROM analysed a CROSS JOIN params p\n  LEFT JOIN unit_places u ON u.unit = {}\n) a\nLEFT JOIN sun ON sun.place_lat = a.place_lat AND sun.place_lon = a.place_lon AND sun.day = a.day\nLEFT JOIN calendar cal ON cal.day = a.day",
                normalized("a.t_unit")
            ),
        );
        out.push('\n');
    }

    // 4. The cube's tables.
    let attrs = (0..plan.groups.len())
        .map(|k| format!("{k}, g{k}"))
        .collect::<Vec<_>>()
        .join(", ");
    // `from` is `FROM view [WHERE …]`.
    let per_attribute = |from: &str| {
        format!(
            "FROM (SELECT * {from} LATERAL VIEW stack({}, {attrs}) x AS attribute_index, group_label) s\nJOIN attributes at ON at.attribute_index = s.attribute_index",
            plan.groups.len()
        )
    };
    let mut cell_columns = vec![
        "at.name AS attribute".to_string(),
        "group_label AS `group`".into(),
        "justification".into(),
        "outcome".into(),
        "legal_basis".into(),
        "t_unit AS unit".into(),
        "search_conducted AS search".into(),
        "contraband_found AS contraband".into(),
    ];
    for f in &plan.extra_fields {
        cell_columns.push(match f.as_str() {
            "subject_type" | "reason_explained" => format!("{f} AS {f}"),
            text => format!("t_{text} AS {text}"),
        });
    }
    out += &grouped("cells", &cell_columns, &per_attribute("FROM analysed"));
    if plan.darkness {
        out += &view(
            "table_light_classes",
            "SELECT k.class, coalesce(n.stops, 0) AS stops\nFROM (SELECT explode(array('no_place', 'outside_window', 'twilight', 'daylight', 'dark')) AS class) k\nLEFT JOIN (SELECT light AS class, count(*) AS stops FROM lit GROUP BY light) n ON n.class = k.class",
        );
        out.push('\n');
        out += &grouped(
            "darkness",
            &[
                "at.name AS attribute".into(),
                "group_label AS `group`".into(),
                "t_unit AS unit".into(),
                "year".into(),
                "CAST(second_of_day / 60 AS INT) AS minute".into(),
                "light = 'dark' AS dark".into(),
                "clock_change_window".into(),
            ],
            &format!(
                "{}\nWHERE light IN ('daylight', 'dark')",
                per_attribute("FROM lit")
            ),
        );
    } else {
        out += &view(
            "table_light_classes",
            "SELECT explode(array('no_place', 'outside_window', 'twilight', 'daylight', 'dark')) AS class, CAST(0 AS BIGINT) AS stops",
        );
        out.push('\n');
        out += &view(
            "table_darkness",
            "SELECT CAST(NULL AS STRING) AS attribute, CAST(NULL AS STRING) AS `group`, CAST(NULL AS STRING) AS unit, CAST(NULL AS INT) AS year, CAST(NULL AS INT) AS minute, CAST(NULL AS BOOLEAN) AS dark, CAST(NULL AS BOOLEAN) AS clock_change_window, CAST(NULL AS BIGINT) AS stops WHERE false",
        );
        out.push('\n');
    }
    out += &grouped(
        "periods",
        &[
            "at.name AS attribute".into(),
            "group_label AS `group`".into(),
            "period AS month".into(),
            "justification".into(),
            "outcome".into(),
        ],
        &per_attribute("FROM analysed"),
    );
    out += &grouped(
        "unit_months",
        &["t_unit AS unit".into(), "month".into()],
        "FROM analysed",
    );
    out += &grouped(
        "unit_minutes",
        &["t_unit AS unit".into(), "minute_of_hour AS minute".into()],
        "FROM analysed",
    );
    out += &grouped(
        "officer_months",
        &["t_officer_id AS officer_id".into(), "month".into()],
        "FROM analysed WHERE t_officer_id IS NOT NULL",
    );
    out += &view(
        "table_benchmark",
        "SELECT CAST(NULL AS STRING) AS entity_field, CAST(NULL AS STRING) AS entity, CAST(NULL AS STRING) AS area, CAST(NULL AS INT) AS band, CAST(NULL AS BOOLEAN) AS weekend, CAST(NULL AS STRING) AS month, CAST(NULL AS STRING) AS attribute, CAST(NULL AS STRING) AS `group`, CAST(NULL AS BIGINT) AS stops WHERE false",
    );
    out.push('\n');
    // Dictionaries: the values of the valid stops in scope (duplicates
    // included: stopaudit codes them before it knows they are duplicates).
    let mut dict = Vec::new();
    for field in TEXT_FIELDS {
        dict.push(format!(
            "SELECT DISTINCT 'text' AS kind, '{field}' AS field, t_{field} AS value FROM kept WHERE t_{field} IS NOT NULL"
        ));
    }
    for k in 0..plan.groups.len() {
        dict.push(format!(
            "SELECT DISTINCT 'group' AS kind, at.name AS field, g{k} AS value FROM kept JOIN attributes at ON at.attribute_index = {k}"
        ));
    }
    out += &view("table_dictionaries", &dict.join("\nUNION ALL\n"));
    out.push('\n');

    // 5. The row accounting.
    out += &view(
        "accounting",
        "SELECT file_index, final_reason AS reason, final_reason IS NULL AND NOT kept AS out_of_scope, count(*) AS rows\nFROM flagged GROUP BY file_index, final_reason, final_reason IS NULL AND NOT kept",
    );
    out.push('\n');
    let mut span = vec![
        "count(*) AS analysed".to_string(),
        "date_format(min(stopped_at), \"yyyy-MM-dd'T'HH:mm:ssxxx\") AS first_stop".into(),
        "date_format(max(stopped_at), \"yyyy-MM-dd'T'HH:mm:ssxxx\") AS last_stop".into(),
    ];
    // Every field the scan counts missing values of (`scan::missing_fields`).
    for field in crate::scan::missing_fields() {
        span.push(match field {
            // As `StopFields::missing`: no contraband value after no search
            // is not missing (nothing can have been found).
            "contraband_found" => "count_if(contraband_found IS NULL AND (search_conducted IS NULL OR search_conducted)) AS missing_contraband_found".to_string(),
            "stop_id" => "count_if(stop_id IS NULL) AS missing_stop_id".to_string(),
            f if TEXT_FIELDS.contains(&f) => format!("count_if(t_{f} IS NULL) AS missing_{f}"),
            f => format!("count_if({f} IS NULL) AS missing_{f}"),
        });
    }
    for k in 0..plan.groups.len() {
        span.push(format!("count_if(g{k} = 'unknown') AS missing_g{k}"));
    }
    out += &view(
        "totals",
        &format!("SELECT {}\nFROM analysed", span.join(",\n  ")),
    );
    if plan.darkness {
        out.push('\n');
        out += &view(
            "sun_gaps",
            "SELECT year, count(*) AS stops FROM lit WHERE light = 'no_sun_table' GROUP BY year",
        );
    }
    out
}

/// A counted table: `SELECT columns, count(*) AS stops … GROUP BY columns`.
fn grouped(name: &str, columns: &[String], from: &str) -> String {
    let keys: Vec<String> = columns
        .iter()
        .map(|c| match c.rsplit_once(" AS ") {
            Some((e, _)) => e.to_string(),
            None => c.clone(),
        })
        .collect();
    let mut s = view(
        &format!("table_{name}"),
        &format!(
            "SELECT {}, count(*) AS stops\n{from}\nGROUP BY {}",
            columns.join(", "),
            keys.join(", ")
        ),
    );
    s.push('\n');
    s
}
