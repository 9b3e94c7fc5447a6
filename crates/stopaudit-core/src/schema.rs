//! The canonical stop schema: one row per registered stop.
//!
//! Every input format is mapped onto these fields. Field names are matched
//! against input column names through built-in Dutch and English aliases, so
//! a typical ProCo export works without a mapping file; `[columns]` in the
//! mapping file overrides them. docs/schema.md is the human version of this
//! module; `stopaudit schema` prints it.

use crate::codes::{CodeLists, normalize_label};

/// What a field holds, which decides how raw values are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A local date-time (or an instant) of the stop.
    DateTime,
    /// Free text, kept as is after trimming (identifiers, unit names).
    Text,
    /// A value from a code list (see [`crate::codes`]).
    Code,
    /// Yes/no.
    Bool,
    /// A decimal number within a range.
    Latitude,
    /// A decimal number within a range.
    Longitude,
    /// A CBS area code: GMxxxx, WKxxxxxx or BUxxxxxxxx.
    AreaCode,
}

/// One field of the canonical schema.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Canonical field name, e.g. `stopped_at`.
    pub name: &'static str,
    /// Whether every input must have a column for the field.
    pub required: bool,
    /// What kind of value the field holds.
    pub kind: FieldKind,
    /// What the field means, as `stopaudit schema` prints it.
    pub description: &'static str,
    /// Column names (besides the field name) that are recognised without a mapping file.
    pub aliases: &'static [&'static str],
}

/// The canonical fields, in schema order. Group attributes come on top of these.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "stop_id",
        required: false,
        kind: FieldKind::Text,
        description: "Unique registration id. When the export has no id column, rows are identified by file and row number and duplicates cannot be checked.",
        aliases: &[
            "id",
            "registratie_id",
            "registratienummer",
            "controle_id",
            "proco_id",
            "meos_id",
            "volgnummer",
        ],
    },
    FieldSpec {
        name: "stopped_at",
        required: true,
        kind: FieldKind::DateTime,
        description: "Local date and time of the stop (Europe/Amsterdam unless configured), DST-correct. One column, or a date column plus a time column. Times in the repeated autumn hour take the earlier instant; times in the skipped spring hour are quarantined.",
        aliases: &[
            "datum_tijd",
            "datumtijd",
            "tijdstip",
            "datetime",
            "date_time",
            "timestamp",
            "moment",
            "controle_datum_tijd",
        ],
    },
    FieldSpec {
        name: "justification",
        required: true,
        kind: FieldKind::Code,
        description: "Why the person or vehicle was selected (aanleiding).",
        aliases: &["aanleiding", "reden", "selectiegrond", "reason", "grounds"],
    },
    FieldSpec {
        name: "outcome",
        required: true,
        kind: FieldKind::Code,
        description: "What came of the stop, ordered by severity (resultaat).",
        aliases: &["resultaat", "uitkomst", "afdoening", "result"],
    },
    FieldSpec {
        name: "unit",
        required: false,
        kind: FieldKind::Text,
        description: "Regional unit (eenheid).",
        aliases: &["eenheid", "regionale_eenheid", "politie_eenheid"],
    },
    FieldSpec {
        name: "district",
        required: false,
        kind: FieldKind::Text,
        description: "District within the unit.",
        aliases: &["districtsnaam"],
    },
    FieldSpec {
        name: "basisteam",
        required: false,
        kind: FieldKind::Text,
        description: "Basic team (basisteam).",
        aliases: &["basis_team", "bt", "base_team"],
    },
    FieldSpec {
        name: "area_code",
        required: false,
        kind: FieldKind::AreaCode,
        description: "CBS area code: municipality GMxxxx, district WKxxxxxx or neighbourhood BUxxxxxxxx.",
        aliases: &[
            "gebiedscode",
            "cbs_code",
            "buurtcode",
            "wijkcode",
            "gemeentecode",
            "area",
        ],
    },
    FieldSpec {
        name: "latitude",
        required: false,
        kind: FieldKind::Latitude,
        description: "WGS84 latitude in decimal degrees (-90 to 90).",
        aliases: &["lat", "breedtegraad"],
    },
    FieldSpec {
        name: "longitude",
        required: false,
        kind: FieldKind::Longitude,
        description: "WGS84 longitude in decimal degrees (-180 to 180).",
        aliases: &["lon", "lng", "long", "lengtegraad"],
    },
    FieldSpec {
        name: "subject_type",
        required: false,
        kind: FieldKind::Code,
        description: "What was stopped: person, vehicle, bicycle or other.",
        aliases: &[
            "soort_controle",
            "object",
            "type",
            "controletype",
            "subject",
        ],
    },
    FieldSpec {
        name: "legal_basis",
        required: false,
        kind: FieldKind::Code,
        description: "Legal basis of the stop (grondslag).",
        aliases: &["grondslag", "wettelijke_grondslag", "bevoegdheid"],
    },
    FieldSpec {
        name: "search_conducted",
        required: false,
        kind: FieldKind::Bool,
        description: "Whether the person or vehicle was searched (doorzocht/gefouilleerd).",
        aliases: &[
            "doorzoeking",
            "gefouilleerd",
            "fouillering",
            "searched",
            "search",
        ],
    },
    FieldSpec {
        name: "contraband_found",
        required: false,
        kind: FieldKind::Bool,
        description: "Whether something was found; only meaningful when searched (true without a search is quarantined).",
        aliases: &["iets_gevonden", "vondst", "aangetroffen", "found", "hit"],
    },
    FieldSpec {
        name: "reason_explained",
        required: false,
        kind: FieldKind::Code,
        description: "Whether the reason for the stop was explained to the person (uitleggen): yes, no or unknown.",
        aliases: &["uitgelegd", "uitleg", "reden_uitgelegd", "explained"],
    },
    FieldSpec {
        name: "officer_id",
        required: false,
        kind: FieldKind::Text,
        description: "Registering officer. Never shown in output unless pseudonymised.",
        aliases: &[
            "agent",
            "agent_id",
            "medewerker",
            "medewerker_id",
            "registrant",
            "officer",
        ],
    },
    FieldSpec {
        name: "team",
        required: false,
        kind: FieldKind::Text,
        description: "Team or shift of the registering officer.",
        aliases: &["ploeg", "dienst"],
    },
    FieldSpec {
        name: "registered_at",
        required: false,
        kind: FieldKind::DateTime,
        description: "When the stop was registered (MEOS), which can be later than the stop. Used only as the period of the trends when `[analysis.trends] period_column = \"registered_at\"`.",
        aliases: &[
            "registratiedatum",
            "registratie_datum",
            "geregistreerd_op",
            "invoerdatum",
            "registration_date",
        ],
    },
];

/// Aliases for the date and the time column when `stopped_at` is split in two.
pub const DATE_ALIASES: &[&str] = &["datum", "date", "controledatum", "datum_controle"];
/// See [`DATE_ALIASES`].
pub const TIME_ALIASES: &[&str] = &["tijd", "time", "tijdstip_controle", "controletijd", "uur"];

/// Well-known group attributes and the column names recognised for them.
/// Any other column can be declared as a group attribute in the mapping file.
pub const KNOWN_GROUP_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("nationality", &["nationaliteit"]),
    ("gender", &["geslacht", "sex"]),
    (
        "age_band",
        &[
            "leeftijdscategorie",
            "leeftijdsklasse",
            "leeftijdsgroep",
            "age_group",
        ],
    ),
    (
        "plate_country",
        &[
            "kenteken_land",
            "land_kenteken",
            "kentekenland",
            "registration_country",
        ],
    ),
    ("origin", &["herkomst", "migratieachtergrond", "background"]),
];

/// The category a missing group value becomes.
pub const UNKNOWN_GROUP: &str = "unknown";

/// Looks up a field by canonical name.
pub fn field(name: &str) -> Option<&'static FieldSpec> {
    FIELDS.iter().find(|f| f.name == name)
}

/// Normalises a column name for matching: like [`normalize_label`], with
/// spaces, dashes and underscores treated alike.
pub fn normalize_column(name: &str) -> String {
    normalize_label(name).replace(' ', "_")
}

/// The schema as plain text, for `stopaudit schema`.
pub fn describe(codes: &CodeLists) -> String {
    let mut out = String::new();
    out.push_str("Canonical stop schema (one row per registered stop)\n\n");
    for f in FIELDS {
        out.push_str(&format!(
            "{:<18} {:<9} {:<10} {}\n",
            f.name,
            if f.required { "required" } else { "optional" },
            kind_name(f.kind),
            f.description
        ));
        let mut names: Vec<&str> = f.aliases.to_vec();
        if f.name == "stopped_at" {
            names.push("or date + time columns");
        }
        out.push_str(&format!(
            "{:<40} also read from: {}\n",
            "",
            names.join(", ")
        ));
        if let Some(list) = codes.for_field(f.name) {
            for c in list.codes() {
                out.push_str(&format!(
                    "{:<40} {:<20} nl: {:<26} en: {}\n",
                    "", c.code, c.nl, c.en
                ));
            }
        }
    }
    out.push_str("\nGroup attributes: any column declared in [groups] attributes. Recognised without a mapping file:\n");
    for (name, aliases) in KNOWN_GROUP_ATTRIBUTES {
        out.push_str(&format!(
            "  {:<16} also read from: {}\n",
            name,
            aliases.join(", ")
        ));
    }
    out.push_str(&format!(
        "Empty or missing group values become the category `{UNKNOWN_GROUP}`.\n"
    ));
    out
}

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::DateTime => "datetime",
        FieldKind::Text => "text",
        FieldKind::Code => "code",
        FieldKind::Bool => "boolean",
        FieldKind::Latitude | FieldKind::Longitude => "decimal",
        FieldKind::AreaCode => "area code",
    }
}

/// A commented example mapping file, for `stopaudit schema --example-config`.
pub const EXAMPLE_CONFIG: &str = include_str!("../../../datasets/example-config.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_and_aliases_are_unique_after_normalisation() {
        let mut seen = std::collections::HashSet::new();
        for f in FIELDS {
            for name in std::iter::once(&f.name).chain(f.aliases.iter()) {
                assert!(seen.insert(normalize_column(name)), "duplicate {name}");
            }
        }
        for (name, aliases) in KNOWN_GROUP_ATTRIBUTES {
            for n in std::iter::once(name).chain(aliases.iter()) {
                assert!(seen.insert(normalize_column(n)), "duplicate {n}");
            }
        }
    }

    #[test]
    fn example_config_parses() {
        let cfg: crate::config::Config = toml::from_str(EXAMPLE_CONFIG).unwrap();
        cfg.check().unwrap();
        assert!(!cfg.groups.attributes.is_empty());
    }
}
