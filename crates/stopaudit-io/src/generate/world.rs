//! The synthetic world: units, teams, places, people and the habits of
//! officers, with shares loosely modelled on published ProCo figures.
//! Municipality codes and coordinates are real; everything else is invented.

/// A municipality a unit works in.
pub(crate) struct Municipality {
    pub code: &'static str,
    pub name: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub weight: f64,
}

/// A regional unit (eenheid).
pub struct Unit {
    pub name: &'static str,
    /// Short code used in officer ids.
    pub code: &'static str,
    pub weight: f64,
    pub municipalities: &'static [Municipality],
    /// Border region (more immigration checks, more German/Belgian nationals).
    pub border: bool,
    /// Big-city unit (preventive search areas, more diverse population).
    pub city: bool,
}

macro_rules! m {
    ($code:expr, $name:expr, $lat:expr, $lon:expr, $w:expr) => {
        Municipality {
            code: $code,
            name: $name,
            lat: $lat,
            lon: $lon,
            weight: $w,
        }
    };
}

pub(crate) const UNITS: &[Unit] = &[
    Unit {
        name: "Noord-Nederland",
        code: "NN",
        weight: 0.08,
        border: true,
        city: false,
        municipalities: &[
            m!("GM0014", "Groningen", 53.2194, 6.5665, 0.5),
            m!("GM0080", "Leeuwarden", 53.2012, 5.7999, 0.3),
            m!("GM0106", "Assen", 52.9925, 6.5649, 0.2),
        ],
    },
    Unit {
        name: "Oost-Nederland",
        code: "ON",
        weight: 0.14,
        border: true,
        city: false,
        municipalities: &[
            m!("GM0193", "Zwolle", 52.5168, 6.0830, 0.2),
            m!("GM0202", "Arnhem", 51.9851, 5.8987, 0.3),
            m!("GM0268", "Nijmegen", 51.8126, 5.8372, 0.3),
            m!("GM0153", "Enschede", 52.2215, 6.8937, 0.2),
        ],
    },
    Unit {
        name: "Midden-Nederland",
        code: "MN",
        weight: 0.09,
        border: false,
        city: false,
        municipalities: &[
            m!("GM0344", "Utrecht", 52.0907, 5.1214, 0.7),
            m!("GM0307", "Amersfoort", 52.1561, 5.3878, 0.3),
        ],
    },
    Unit {
        name: "Noord-Holland",
        code: "NH",
        weight: 0.09,
        border: false,
        city: false,
        municipalities: &[
            m!("GM0392", "Haarlem", 52.3874, 4.6462, 0.4),
            m!("GM0361", "Alkmaar", 52.6324, 4.7534, 0.35),
            m!("GM0402", "Hilversum", 52.2292, 5.1669, 0.25),
        ],
    },
    Unit {
        name: "Amsterdam",
        code: "AM",
        weight: 0.13,
        border: false,
        city: true,
        municipalities: &[m!("GM0363", "Amsterdam", 52.3676, 4.9041, 1.0)],
    },
    Unit {
        name: "Den Haag",
        code: "DH",
        weight: 0.11,
        border: false,
        city: true,
        municipalities: &[
            m!("GM0518", "'s-Gravenhage", 52.0705, 4.3007, 0.75),
            m!("GM0546", "Leiden", 52.1601, 4.4970, 0.25),
        ],
    },
    Unit {
        name: "Rotterdam",
        code: "RT",
        weight: 0.13,
        border: false,
        city: true,
        municipalities: &[
            m!("GM0599", "Rotterdam", 51.9244, 4.4777, 0.8),
            m!("GM0505", "Dordrecht", 51.8133, 4.6901, 0.2),
        ],
    },
    Unit {
        name: "Zeeland-West-Brabant",
        code: "ZW",
        weight: 0.09,
        border: true,
        city: false,
        municipalities: &[
            m!("GM0758", "Breda", 51.5719, 4.7683, 0.4),
            m!("GM0855", "Tilburg", 51.5555, 5.0913, 0.4),
            m!("GM0687", "Middelburg", 51.4988, 3.6136, 0.2),
        ],
    },
    Unit {
        name: "Oost-Brabant",
        code: "OB",
        weight: 0.08,
        border: false,
        city: false,
        municipalities: &[
            m!("GM0772", "Eindhoven", 51.4416, 5.4697, 0.6),
            m!("GM0796", "'s-Hertogenbosch", 51.6978, 5.3037, 0.4),
        ],
    },
    Unit {
        name: "Limburg",
        code: "LB",
        weight: 0.06,
        border: true,
        city: false,
        municipalities: &[
            m!("GM0935", "Maastricht", 50.8514, 5.6910, 0.4),
            m!("GM0983", "Venlo", 51.3704, 6.1724, 0.3),
            m!("GM0917", "Heerlen", 50.8882, 5.9795, 0.3),
        ],
    },
];

/// Basic teams per municipality.
pub(crate) const BASISTEAM_SUFFIXES: &[&str] = &["Noord", "Zuid", "Oost", "West"];
/// Officers per basic team.
pub(crate) const OFFICERS_PER_TEAM: u32 = 24;
/// Shifts.
pub(crate) const TEAMS: &[&str] = &["Ploeg A", "Ploeg B", "Ploeg C", "Ploeg D"];

/// A group attribute with its categories and baseline shares among stops.
pub struct Attribute {
    pub name: &'static str,
    pub groups: &'static [&'static str],
    pub weights: &'static [f64],
    /// Share of stops where the value is not registered.
    pub missing: f64,
}

pub(crate) const NATIONALITY: usize = 0;

pub(crate) const ATTRIBUTES: &[Attribute] = &[
    Attribute {
        name: "nationality",
        groups: &[
            "Nederlands",
            "Marokkaans",
            "Turks",
            "Surinaams",
            "Pools",
            "Roemeens",
            "Bulgaars",
            "Duits",
            "Belgisch",
            "Overig",
        ],
        weights: &[
            0.80, 0.035, 0.035, 0.02, 0.03, 0.015, 0.01, 0.015, 0.01, 0.03,
        ],
        missing: 0.005,
    },
    Attribute {
        name: "gender",
        groups: &["man", "vrouw"],
        weights: &[0.79, 0.21],
        missing: 0.01,
    },
    Attribute {
        name: "age_band",
        groups: &["12-17", "18-24", "25-34", "35-44", "45-64", "65+"],
        weights: &[0.07, 0.24, 0.25, 0.18, 0.22, 0.04],
        missing: 0.0,
    },
];

/// How a unit's population differs from the national mix: a multiplier on
/// each nationality's weight.
pub(crate) fn nationality_multipliers(unit: &Unit) -> [f64; 10] {
    if unit.city {
        [0.85, 3.0, 2.5, 2.5, 1.0, 1.2, 1.0, 0.6, 0.6, 1.5]
    } else if unit.border && (unit.name == "Limburg" || unit.name == "Zeeland-West-Brabant") {
        [1.0, 0.6, 0.8, 0.4, 1.3, 1.0, 1.0, 2.5, 4.0, 1.0]
    } else if unit.border {
        [1.0, 0.6, 0.9, 0.4, 1.5, 1.2, 1.2, 3.0, 0.6, 1.0]
    } else {
        [1.0, 0.9, 1.0, 0.8, 1.0, 1.0, 1.0, 0.8, 0.8, 1.0]
    }
}

/// Indices into the code lists (see [`stopaudit_core::codes`]), every code
/// of each list so the table reads whole; a test holds them to the lists.
#[cfg_attr(not(test), allow(dead_code))]
pub mod code {
    pub(crate) const BEHAVIOUR: u8 = 0;
    pub(crate) const CIRCUMSTANCES: u8 = 1;
    pub(crate) const INFORMATION: u8 = 2;
    pub(crate) const OBSERVED_VIOLATION: u8 = 3;
    pub(crate) const NONE_RECORDED: u8 = 4;

    pub(crate) const NO_ACTION: u8 = 0;
    pub const WARNING: u8 = 1;
    pub(crate) const FINE: u8 = 2;
    pub(crate) const REPORT: u8 = 3;
    pub(crate) const ARREST: u8 = 4;
    pub(crate) const OTHER_OUTCOME: u8 = 5;

    pub(crate) const TRAFFIC_ACT: u8 = 0;
    pub(crate) const POLICE_ACT: u8 = 1;
    pub(crate) const IMMIGRATION: u8 = 2;
    pub(crate) const WEAPONS_ACT: u8 = 3;
    pub(crate) const PREVENTIVE_SEARCH: u8 = 4;
    pub(crate) const OTHER_BASIS: u8 = 5;

    pub(crate) const PERSON: u8 = 0;
    pub(crate) const VEHICLE: u8 = 1;
    pub(crate) const BICYCLE: u8 = 2;
    pub(crate) const OTHER_SUBJECT: u8 = 3;
}

/// Share of stops per subject type (person, vehicle, bicycle, other).
pub(crate) const SUBJECT_WEIGHTS: [f64; 4] = [0.45, 0.43, 0.10, 0.02];

/// Justification mix per subject type (behaviour, circumstances, information, observed violation, none).
pub(crate) fn justification_weights(subject: u8) -> [f64; 5] {
    match subject {
        code::VEHICLE => [0.20, 0.16, 0.14, 0.45, 0.05],
        code::BICYCLE => [0.25, 0.20, 0.08, 0.42, 0.05],
        _ => [0.34, 0.24, 0.15, 0.22, 0.05],
    }
}

/// Legal-basis mix per subject type (traffic, police, immigration, weapons, preventive search, other).
pub(crate) fn legal_basis_weights(subject: u8, unit: &Unit) -> [f64; 6] {
    match subject {
        code::VEHICLE => [
            0.85,
            0.11,
            if unit.border { 0.02 } else { 0.0 },
            0.0,
            0.0,
            0.02,
        ],
        code::BICYCLE => [0.60, 0.38, 0.0, 0.0, 0.0, 0.02],
        code::PERSON => [
            0.0,
            0.80,
            if unit.border { 0.06 } else { 0.01 },
            0.05,
            if unit.city { 0.06 } else { 0.0 },
            0.03,
        ],
        _ => [0.0, 0.70, 0.0, 0.0, 0.0, 0.30],
    }
}

/// Probability that a stop with this justification leads to a result (fine, report, arrest).
pub(crate) const HIT_PROBABILITY: [f64; 5] = [0.22, 0.18, 0.38, 0.62, 0.12];

/// Probability of a search per justification (for person stops; halved for vehicles and bicycles).
pub(crate) const SEARCH_PROBABILITY: [f64; 5] = [0.14, 0.10, 0.26, 0.05, 0.06];

/// Probability that a search finds something.
pub(crate) const CONTRABAND_PROBABILITY: f64 = 0.30;

/// Relative number of stops per hour of the day (0–23).
pub(crate) const HOUR_WEIGHTS: [f64; 24] = [
    3.0, 2.5, 2.0, 1.2, 0.8, 0.6, 0.8, 1.5, 2.5, 3.0, 3.2, 3.4, 3.5, 3.6, 3.8, 4.2, 4.6, 4.8, 4.8,
    4.6, 4.4, 4.2, 3.8, 3.4,
];

/// Relative number of stops per month (January first).
pub(crate) const MONTH_WEIGHTS: [f64; 12] = [
    0.85, 0.85, 0.95, 1.0, 1.05, 1.1, 1.15, 1.1, 1.05, 1.0, 0.95, 0.9,
];

/// Relative number of stops per weekday (Monday first).
pub(crate) const WEEKDAY_WEIGHTS: [f64; 7] = [0.9, 0.9, 0.95, 1.0, 1.2, 1.25, 0.95];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_indices_are_the_code_lists() {
        use stopaudit_core::codes::CodeList;
        let check = |list: CodeList, table: &[(&str, u8)]| {
            assert_eq!(list.codes().len(), table.len(), "{table:?}");
            for (name, index) in table {
                assert_eq!(list.index_of(name), Some(*index), "{name}");
            }
        };
        check(
            CodeList::justification(),
            &[
                ("behaviour", code::BEHAVIOUR),
                ("circumstances", code::CIRCUMSTANCES),
                ("information", code::INFORMATION),
                ("observed_violation", code::OBSERVED_VIOLATION),
                ("none_recorded", code::NONE_RECORDED),
            ],
        );
        check(
            CodeList::outcome(),
            &[
                ("no_action", code::NO_ACTION),
                ("warning", code::WARNING),
                ("fine", code::FINE),
                ("report", code::REPORT),
                ("arrest", code::ARREST),
                ("other", code::OTHER_OUTCOME),
            ],
        );
        check(
            CodeList::legal_basis(),
            &[
                ("traffic_act", code::TRAFFIC_ACT),
                ("police_act", code::POLICE_ACT),
                ("immigration", code::IMMIGRATION),
                ("weapons_act", code::WEAPONS_ACT),
                ("preventive_search", code::PREVENTIVE_SEARCH),
                ("other", code::OTHER_BASIS),
            ],
        );
        check(
            CodeList::subject_type(),
            &[
                ("person", code::PERSON),
                ("vehicle", code::VEHICLE),
                ("bicycle", code::BICYCLE),
                ("other", code::OTHER_SUBJECT),
            ],
        );
    }
}
