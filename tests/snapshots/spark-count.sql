-- stopaudit count on Apache Spark: the SQL the driver runs (driver.py).
-- Views read by the driver: raw (the inputs, columns renamed), params,
-- codes, group_values, attributes, unit_places, sun, calendar
-- (dimension tables computed by stopaudit).

-- prepared
CREATE OR REPLACE TEMPORARY VIEW prepared AS
SELECT r.*,
  CASE WHEN locate(left(r.c_area_code, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_area_code, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_area_code ELSE regexp_replace(r.c_area_code, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_area_code,
  CASE WHEN locate(left(r.c_basisteam, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_basisteam, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_basisteam ELSE regexp_replace(r.c_basisteam, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_basisteam,
  CASE WHEN r.c_contraband_found THEN 'true' WHEN NOT r.c_contraband_found THEN 'false' END AS x_contraband_found,
  CASE WHEN locate(left(r.c_district, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_district, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_district ELSE regexp_replace(r.c_district, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_district,
  CASE WHEN locate(left(r.c_justification, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_justification, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_justification ELSE regexp_replace(r.c_justification, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_justification,
  CASE WHEN locate(left(r.c_legal_basis, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_legal_basis, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_legal_basis ELSE regexp_replace(r.c_legal_basis, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_legal_basis,
  CASE WHEN locate(left(r.c_officer_id, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_officer_id, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_officer_id ELSE regexp_replace(r.c_officer_id, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_officer_id,
  CASE WHEN locate(left(r.c_outcome, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_outcome, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_outcome ELSE regexp_replace(r.c_outcome, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_outcome,
  CASE WHEN locate(left(r.c_reason_explained, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_reason_explained, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_reason_explained ELSE regexp_replace(r.c_reason_explained, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_reason_explained,
  CASE WHEN r.c_search_conducted THEN 'true' WHEN NOT r.c_search_conducted THEN 'false' END AS x_search_conducted,
  CASE WHEN locate(left(r.c_stop_id, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_stop_id, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_stop_id ELSE regexp_replace(r.c_stop_id, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_stop_id,
  CASE WHEN locate(left(r.c_subject_type, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_subject_type, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_subject_type ELSE regexp_replace(r.c_subject_type, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_subject_type,
  CASE WHEN locate(left(r.c_team, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_team, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_team ELSE regexp_replace(r.c_team, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_team,
  CASE WHEN locate(left(r.c_unit, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_unit, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_unit ELSE regexp_replace(r.c_unit, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_unit,
  CASE WHEN locate(left(r.c_g0, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_g0, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_g0 ELSE regexp_replace(r.c_g0, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_g0,
  CASE WHEN locate(left(r.c_g1, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_g1, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_g1 ELSE regexp_replace(r.c_g1, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_g1,
  CASE WHEN locate(left(r.c_g2, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 AND locate(right(r.c_g2, 1), '\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000') = 0 THEN r.c_g2 ELSE regexp_replace(r.c_g2, '^\\p{IsWhite_Space}+|\\p{IsWhite_Space}+$', '') END AS x_g2
FROM raw r
;

-- maps
CREATE OR REPLACE TEMPORARY VIEW maps AS
SELECT
  (SELECT map_from_entries(collect_list(struct(spelling, code))) FROM codes WHERE field = 'justification') AS codes_justification,
  (SELECT map_from_entries(collect_list(struct(spelling, code))) FROM codes WHERE field = 'outcome') AS codes_outcome,
  (SELECT map_from_entries(collect_list(struct(spelling, code))) FROM codes WHERE field = 'subject_type') AS codes_subject_type,
  (SELECT map_from_entries(collect_list(struct(spelling, code))) FROM codes WHERE field = 'legal_basis') AS codes_legal_basis,
  (SELECT map_from_entries(collect_list(struct(spelling, code))) FROM codes WHERE field = 'reason_explained') AS codes_reason_explained
;

-- checked_values
CREATE OR REPLACE TEMPORARY VIEW checked_values AS
SELECT r.file_index, r.file_path, r.row_index,
  CAST(r.c_stopped_at AS TIMESTAMP) AS stopped_at,
  CASE WHEN (r.c_justification IS NULL OR r.x_justification = '') THEN NULL ELSE coalesce(element_at(m.codes_justification, r.c_justification), element_at(m.codes_justification, trim(BOTH '.' FROM lower(trim(BOTH ' ' FROM regexp_replace(r.c_justification, '[\\p{IsWhite_Space}_-]+', ' ')))))) END AS justification,
  (r.c_justification IS NULL OR r.x_justification = '') AS a_justification,
  CASE WHEN (r.c_outcome IS NULL OR r.x_outcome = '') THEN NULL ELSE coalesce(element_at(m.codes_outcome, r.c_outcome), element_at(m.codes_outcome, trim(BOTH '.' FROM lower(trim(BOTH ' ' FROM regexp_replace(r.c_outcome, '[\\p{IsWhite_Space}_-]+', ' ')))))) END AS outcome,
  (r.c_outcome IS NULL OR r.x_outcome = '') AS a_outcome,
  CASE WHEN (r.c_unit IS NULL OR r.x_unit = '') THEN NULL ELSE r.x_unit END AS t_unit,
  CASE WHEN (r.c_district IS NULL OR r.x_district = '') THEN NULL ELSE r.x_district END AS t_district,
  CASE WHEN (r.c_basisteam IS NULL OR r.x_basisteam = '') THEN NULL ELSE r.x_basisteam END AS t_basisteam,
  CASE WHEN (r.c_area_code IS NULL OR r.x_area_code = '') THEN NULL WHEN r.x_area_code RLIKE '^(?i:GM[0-9]{4}|WK[0-9]{6}|BU[0-9]{8})$' THEN upper(r.x_area_code) END AS t_area_code,
  (r.c_area_code IS NULL OR r.x_area_code = '') AS a_area_code,
  CASE WHEN (r.c_officer_id IS NULL OR r.x_officer_id = '') THEN NULL ELSE r.x_officer_id END AS t_officer_id,
  CASE WHEN (r.c_team IS NULL OR r.x_team = '') THEN NULL ELSE r.x_team END AS t_team,
  CASE WHEN (r.c_latitude IS NULL OR isnan(r.c_latitude)) THEN NULL WHEN (CAST(r.c_latitude AS DOUBLE) IS NOT NULL AND NOT isnan(CAST(r.c_latitude AS DOUBLE)) AND abs(CAST(r.c_latitude AS DOUBLE)) <= 90) THEN CAST(r.c_latitude AS DOUBLE) END AS latitude,
  (r.c_latitude IS NULL OR isnan(r.c_latitude)) AS a_latitude,
  CASE WHEN (r.c_longitude IS NULL OR isnan(r.c_longitude)) THEN NULL WHEN (CAST(r.c_longitude AS DOUBLE) IS NOT NULL AND NOT isnan(CAST(r.c_longitude AS DOUBLE)) AND abs(CAST(r.c_longitude AS DOUBLE)) <= 180) THEN CAST(r.c_longitude AS DOUBLE) END AS longitude,
  (r.c_longitude IS NULL OR isnan(r.c_longitude)) AS a_longitude,
  CASE WHEN (r.c_subject_type IS NULL OR r.x_subject_type = '') THEN NULL ELSE coalesce(element_at(m.codes_subject_type, r.c_subject_type), element_at(m.codes_subject_type, trim(BOTH '.' FROM lower(trim(BOTH ' ' FROM regexp_replace(r.c_subject_type, '[\\p{IsWhite_Space}_-]+', ' ')))))) END AS subject_type,
  (r.c_subject_type IS NULL OR r.x_subject_type = '') AS a_subject_type,
  CASE WHEN (r.c_legal_basis IS NULL OR r.x_legal_basis = '') THEN NULL ELSE coalesce(element_at(m.codes_legal_basis, r.c_legal_basis), element_at(m.codes_legal_basis, trim(BOTH '.' FROM lower(trim(BOTH ' ' FROM regexp_replace(r.c_legal_basis, '[\\p{IsWhite_Space}_-]+', ' ')))))) END AS legal_basis,
  (r.c_legal_basis IS NULL OR r.x_legal_basis = '') AS a_legal_basis,
  CASE WHEN r.c_search_conducted IS NULL THEN NULL ELSE r.c_search_conducted END AS search_conducted,
  r.c_search_conducted IS NULL AS a_search_conducted,
  CASE WHEN r.c_contraband_found IS NULL THEN NULL ELSE r.c_contraband_found END AS contraband_found,
  r.c_contraband_found IS NULL AS a_contraband_found,
  CASE WHEN (r.c_reason_explained IS NULL OR r.x_reason_explained = '') THEN NULL ELSE coalesce(element_at(m.codes_reason_explained, r.c_reason_explained), element_at(m.codes_reason_explained, trim(BOTH '.' FROM lower(trim(BOTH ' ' FROM regexp_replace(r.c_reason_explained, '[\\p{IsWhite_Space}_-]+', ' ')))))) END AS reason_explained,
  (r.c_reason_explained IS NULL OR r.x_reason_explained = '') AS a_reason_explained,
  CAST(NULL AS TIMESTAMP) AS registered_at,
  CASE WHEN (r.c_g0 IS NULL OR r.x_g0 = '') THEN 'unknown' ELSE r.x_g0 END AS g0,
  CASE WHEN (r.c_g1 IS NULL OR r.x_g1 = '') THEN 'unknown' ELSE r.x_g1 END AS g1,
  CASE WHEN (r.c_g2 IS NULL OR r.x_g2 = '') THEN 'unknown' ELSE r.x_g2 END AS g2,
  CASE WHEN r.c_stop_id IS NULL OR r.x_stop_id = '' THEN NULL ELSE r.x_stop_id END AS stop_id
FROM prepared r CROSS JOIN maps m
;

-- checked_fields
CREATE OR REPLACE TEMPORARY VIEW checked_fields AS
SELECT v.*,
  CASE
    WHEN stopped_at IS NULL THEN 'missing_required'
    WHEN a_justification THEN 'missing_required'
    WHEN NOT a_justification AND justification IS NULL THEN 'unknown_category'
    WHEN a_outcome THEN 'missing_required'
    WHEN NOT a_outcome AND outcome IS NULL THEN 'unknown_category'
    WHEN NOT a_area_code AND t_area_code IS NULL THEN 'invalid_value'
    WHEN NOT a_latitude AND latitude IS NULL THEN 'invalid_value'
    WHEN NOT a_longitude AND longitude IS NULL THEN 'invalid_value'
    WHEN NOT a_subject_type AND subject_type IS NULL THEN 'unknown_category'
    WHEN NOT a_legal_basis AND legal_basis IS NULL THEN 'unknown_category'
    WHEN NOT a_search_conducted AND search_conducted IS NULL THEN 'invalid_value'
    WHEN NOT a_contraband_found AND contraband_found IS NULL THEN 'invalid_value'
    WHEN NOT a_reason_explained AND reason_explained IS NULL THEN 'unknown_category'
  END AS field_reason
FROM checked_values v
;

-- checked
CREATE OR REPLACE TEMPORARY VIEW checked AS
SELECT f.*, CASE
    WHEN field_reason IS NOT NULL THEN field_reason
    WHEN contraband_found AND NOT search_conducted THEN 'contraband_without_search'
    WHEN to_date(stopped_at) < p.earliest OR to_date(stopped_at) > p.latest THEN 'implausible_date'
    WHEN to_date(stopped_at) < coalesce(p.period_start, DATE '0001-01-01') OR to_date(stopped_at) > coalesce(p.period_end, DATE '9999-12-31') THEN 'outside_period'
  END AS reason
FROM checked_fields f CROSS JOIN params p
;

-- flagged
CREATE OR REPLACE TEMPORARY VIEW flagged AS
SELECT c.*,
  CASE WHEN reason IS NULL AND stop_id IS NOT NULL
    AND row_number() OVER (PARTITION BY CASE WHEN reason IS NULL THEN stop_id END ORDER BY file_index, file_path, row_index) > 1
    THEN 'duplicate_stop_id' ELSE reason END AS final_reason,
  reason IS NULL AND true AS kept
FROM checked c CROSS JOIN params p
;

-- kept
CREATE OR REPLACE TEMPORARY VIEW kept AS
SELECT s.*,
  to_date(s.stopped_at) AS day,
  date_format(s.stopped_at, 'yyyy-MM') AS month,
  year(s.stopped_at) AS year,
  hour(s.stopped_at) * 3600 + minute(s.stopped_at) * 60 + second(s.stopped_at) AS second_of_day,
  minute(s.stopped_at) AS minute_of_hour,
  date_format(s.stopped_at, 'yyyy-MM') AS period
FROM flagged s
WHERE s.kept
;

-- analysed
CREATE OR REPLACE TEMPORARY VIEW analysed AS
SELECT * FROM kept WHERE final_reason IS NULL
;

-- lit
CREATE OR REPLACE TEMPORARY VIEW lit AS
SELECT a.*,
  CASE
    WHEN a.place_lat IS NULL THEN 'no_place'
    WHEN sun.day IS NULL THEN 'no_sun_table'
    WHEN sun.window_first IS NULL OR second_of_day < sun.window_first OR second_of_day > sun.window_last THEN 'outside_window'
    WHEN sun.sunset IS NULL OR sun.dusk IS NULL THEN 'outside_window'
    WHEN second_of_day >= sun.dusk THEN 'dark'
    WHEN second_of_day >= sun.sunset THEN 'twilight'
    ELSE 'daylight'
  END AS light,
  cal.clock_change_window
FROM (
  SELECT a.*,
    CASE WHEN a.latitude IS NOT NULL AND a.longitude IS NOT NULL THEN CAST(round(a.latitude / p.grid) AS INT) ELSE coalesce(u.place_lat, p.default_lat) END AS place_lat,
    CASE WHEN a.latitude IS NOT NULL AND a.longitude IS NOT NULL THEN CAST(round(a.longitude / p.grid) AS INT) ELSE coalesce(u.place_lon, p.default_lon) END AS place_lon
  FROM analysed a CROSS JOIN params p
  LEFT JOIN unit_places u ON u.unit = trim(BOTH '.' FROM lower(trim(BOTH ' ' FROM regexp_replace(a.t_unit, '[\\p{IsWhite_Space}_-]+', ' '))))
) a
LEFT JOIN sun ON sun.place_lat = a.place_lat AND sun.place_lon = a.place_lon AND sun.day = a.day
LEFT JOIN calendar cal ON cal.day = a.day
;

-- table_cells
CREATE OR REPLACE TEMPORARY VIEW table_cells AS
SELECT at.name AS attribute, group_label AS `group`, justification, outcome, legal_basis, t_unit AS unit, search_conducted AS search, contraband_found AS contraband, t_district AS district, reason_explained AS reason_explained, count(*) AS stops
FROM (SELECT * FROM analysed LATERAL VIEW stack(3, 0, g0, 1, g1, 2, g2) x AS attribute_index, group_label) s
JOIN attributes at ON at.attribute_index = s.attribute_index
GROUP BY at.name, group_label, justification, outcome, legal_basis, t_unit, search_conducted, contraband_found, t_district, reason_explained
;

-- table_light_classes
CREATE OR REPLACE TEMPORARY VIEW table_light_classes AS
SELECT k.class, coalesce(n.stops, 0) AS stops
FROM (SELECT explode(array('no_place', 'outside_window', 'twilight', 'daylight', 'dark')) AS class) k
LEFT JOIN (SELECT light AS class, count(*) AS stops FROM lit GROUP BY light) n ON n.class = k.class
;

-- table_darkness
CREATE OR REPLACE TEMPORARY VIEW table_darkness AS
SELECT at.name AS attribute, group_label AS `group`, t_unit AS unit, year, CAST(second_of_day / 60 AS INT) AS minute, light = 'dark' AS dark, clock_change_window, count(*) AS stops
FROM (SELECT * FROM lit LATERAL VIEW stack(3, 0, g0, 1, g1, 2, g2) x AS attribute_index, group_label) s
JOIN attributes at ON at.attribute_index = s.attribute_index
WHERE light IN ('daylight', 'dark')
GROUP BY at.name, group_label, t_unit, year, CAST(second_of_day / 60 AS INT), light = 'dark', clock_change_window
;

-- table_periods
CREATE OR REPLACE TEMPORARY VIEW table_periods AS
SELECT at.name AS attribute, group_label AS `group`, period AS month, justification, outcome, count(*) AS stops
FROM (SELECT * FROM analysed LATERAL VIEW stack(3, 0, g0, 1, g1, 2, g2) x AS attribute_index, group_label) s
JOIN attributes at ON at.attribute_index = s.attribute_index
GROUP BY at.name, group_label, period, justification, outcome
;

-- table_unit_months
CREATE OR REPLACE TEMPORARY VIEW table_unit_months AS
SELECT t_unit AS unit, month, count(*) AS stops
FROM analysed
GROUP BY t_unit, month
;

-- table_unit_minutes
CREATE OR REPLACE TEMPORARY VIEW table_unit_minutes AS
SELECT t_unit AS unit, minute_of_hour AS minute, count(*) AS stops
FROM analysed
GROUP BY t_unit, minute_of_hour
;

-- table_officer_months
CREATE OR REPLACE TEMPORARY VIEW table_officer_months AS
SELECT t_officer_id AS officer_id, month, count(*) AS stops
FROM analysed WHERE t_officer_id IS NOT NULL
GROUP BY t_officer_id, month
;

-- table_benchmark
CREATE OR REPLACE TEMPORARY VIEW table_benchmark AS
SELECT CAST(NULL AS STRING) AS entity_field, CAST(NULL AS STRING) AS entity, CAST(NULL AS STRING) AS area, CAST(NULL AS INT) AS band, CAST(NULL AS BOOLEAN) AS weekend, CAST(NULL AS STRING) AS month, CAST(NULL AS STRING) AS attribute, CAST(NULL AS STRING) AS `group`, CAST(NULL AS BIGINT) AS stops WHERE false
;

-- table_dictionaries
CREATE OR REPLACE TEMPORARY VIEW table_dictionaries AS
SELECT DISTINCT 'text' AS kind, 'unit' AS field, t_unit AS value FROM kept WHERE t_unit IS NOT NULL
UNION ALL
SELECT DISTINCT 'text' AS kind, 'district' AS field, t_district AS value FROM kept WHERE t_district IS NOT NULL
UNION ALL
SELECT DISTINCT 'text' AS kind, 'basisteam' AS field, t_basisteam AS value FROM kept WHERE t_basisteam IS NOT NULL
UNION ALL
SELECT DISTINCT 'text' AS kind, 'area_code' AS field, t_area_code AS value FROM kept WHERE t_area_code IS NOT NULL
UNION ALL
SELECT DISTINCT 'text' AS kind, 'officer_id' AS field, t_officer_id AS value FROM kept WHERE t_officer_id IS NOT NULL
UNION ALL
SELECT DISTINCT 'text' AS kind, 'team' AS field, t_team AS value FROM kept WHERE t_team IS NOT NULL
UNION ALL
SELECT DISTINCT 'group' AS kind, at.name AS field, g0 AS value FROM kept JOIN attributes at ON at.attribute_index = 0
UNION ALL
SELECT DISTINCT 'group' AS kind, at.name AS field, g1 AS value FROM kept JOIN attributes at ON at.attribute_index = 1
UNION ALL
SELECT DISTINCT 'group' AS kind, at.name AS field, g2 AS value FROM kept JOIN attributes at ON at.attribute_index = 2
;

-- accounting
CREATE OR REPLACE TEMPORARY VIEW accounting AS
SELECT file_index, final_reason AS reason, final_reason IS NULL AND NOT kept AS out_of_scope, count(*) AS rows
FROM flagged GROUP BY file_index, final_reason, final_reason IS NULL AND NOT kept
;

-- totals
CREATE OR REPLACE TEMPORARY VIEW totals AS
SELECT count(*) AS analysed,
  date_format(min(stopped_at), "yyyy-MM-dd'T'HH:mm:ssxxx") AS first_stop,
  date_format(max(stopped_at), "yyyy-MM-dd'T'HH:mm:ssxxx") AS last_stop,
  count_if(stop_id IS NULL) AS missing_stop_id,
  count_if(t_unit IS NULL) AS missing_unit,
  count_if(t_district IS NULL) AS missing_district,
  count_if(t_basisteam IS NULL) AS missing_basisteam,
  count_if(t_area_code IS NULL) AS missing_area_code,
  count_if(t_officer_id IS NULL) AS missing_officer_id,
  count_if(t_team IS NULL) AS missing_team,
  count_if(latitude IS NULL) AS missing_latitude,
  count_if(longitude IS NULL) AS missing_longitude,
  count_if(subject_type IS NULL) AS missing_subject_type,
  count_if(legal_basis IS NULL) AS missing_legal_basis,
  count_if(search_conducted IS NULL) AS missing_search_conducted,
  count_if(contraband_found IS NULL AND (search_conducted IS NULL OR search_conducted)) AS missing_contraband_found,
  count_if(reason_explained IS NULL) AS missing_reason_explained,
  count_if(registered_at IS NULL) AS missing_registered_at,
  count_if(g0 = 'unknown') AS missing_g0,
  count_if(g1 = 'unknown') AS missing_g1,
  count_if(g2 = 'unknown') AS missing_g2
FROM analysed
;

-- sun_gaps
CREATE OR REPLACE TEMPORARY VIEW sun_gaps AS
SELECT year, count(*) AS stops FROM lit WHERE light = 'no_sun_table' GROUP BY year
;
