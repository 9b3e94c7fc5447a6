//! Bias profiles: what the generator plants, read from documented TOML files
//! (see datasets/bias/). `none` plants nothing.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::world::{ATTRIBUTES, UNITS};
use stopaudit_core::codes::CodeList;
use stopaudit_core::error::{Error, Result};

/// A bias profile: a name, a description and the effects it plants.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BiasProfile {
    pub name: String,
    pub description: String,
    #[serde(default, rename = "effect")]
    pub effects: Vec<Effect>,
}

/// One planted effect.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// More stops of a group, recorded under one justification, with a lower hit rate.
    LowerStopThreshold {
        attribute: String,
        group: String,
        /// Units where it happens (empty: all).
        #[serde(default)]
        units: Vec<String>,
        justification: String,
        /// Extra stops as a share of the group's stops without the bias (0.6 = 60% more).
        extra_stop_share: f64,
        /// Hit probability of the extra stops relative to the justification's normal one.
        hit_rate_factor: f64,
    },
    /// More searches of a group, finding contraband less often.
    LowerSearchThreshold {
        attribute: String,
        group: String,
        #[serde(default)]
        units: Vec<String>,
        /// Search probability multiplier for the group.
        search_rate_factor: f64,
        /// Contraband probability of the extra searches relative to a normal search.
        contraband_rate_factor: f64,
    },
    /// More stops of a group while it is light (from noon to sunset at the
    /// stop's place), none extra after dark: selection on appearance, which
    /// the veil-of-darkness test looks for.
    DaylightVisibility {
        attribute: String,
        group: String,
        #[serde(default)]
        units: Vec<String>,
        /// Extra daylight stops as a share of the group's daylight stops without the bias.
        extra_daylight_share: f64,
    },
}

const BUILT_IN: &[(&str, &str)] = &[
    (
        "lower-threshold",
        include_str!("../../../../datasets/bias/lower-threshold.toml"),
    ),
    (
        "search-threshold",
        include_str!("../../../../datasets/bias/search-threshold.toml"),
    ),
    (
        "combined",
        include_str!("../../../../datasets/bias/combined.toml"),
    ),
    (
        "daylight",
        include_str!("../../../../datasets/bias/daylight.toml"),
    ),
];

impl BiasProfile {
    /// No planted bias.
    pub fn none() -> Self {
        BiasProfile {
            name: "none".into(),
            description: "no planted bias".into(),
            effects: Vec::new(),
        }
    }

    /// `none`, a built-in profile name, or a path to a TOML file.
    pub fn load(spec: &str) -> Result<Self> {
        if spec == "none" {
            return Ok(Self::none());
        }
        let (origin, text) = match BUILT_IN.iter().find(|(n, _)| *n == spec) {
            Some((_, text)) => (spec.to_string(), text.to_string()),
            None => {
                let path = Path::new(spec);
                if !path.exists() {
                    let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
                    return Err(Error::Usage(format!(
                        "--bias {spec}: not a file, and not a built-in profile (none, {})",
                        names.join(", ")
                    )));
                }
                (
                    path.display().to_string(),
                    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?,
                )
            }
        };
        let profile: BiasProfile = toml::from_str(&text).map_err(|e| {
            Error::Config(format!(
                "bias profile {origin}: {}",
                e.to_string().trim_end()
            ))
        })?;
        profile
            .check()
            .map_err(|m| Error::Config(format!("bias profile {origin}: {m}")))?;
        Ok(profile)
    }

    fn check(&self) -> std::result::Result<(), String> {
        for e in &self.effects {
            let (attribute, group, units) = match e {
                Effect::LowerStopThreshold {
                    attribute,
                    group,
                    units,
                    justification,
                    extra_stop_share,
                    hit_rate_factor,
                } => {
                    if CodeList::justification().index_of(justification).is_none() {
                        return Err(format!("unknown justification `{justification}`"));
                    }
                    if !(0.0..=10.0).contains(extra_stop_share) {
                        return Err("extra_stop_share must be between 0 and 10".into());
                    }
                    if !(0.0..=1.0).contains(hit_rate_factor) {
                        return Err("hit_rate_factor must be between 0 and 1".into());
                    }
                    (attribute, group, units)
                }
                Effect::LowerSearchThreshold {
                    attribute,
                    group,
                    units,
                    search_rate_factor,
                    contraband_rate_factor,
                } => {
                    if !(1.0..=10.0).contains(search_rate_factor) {
                        return Err("search_rate_factor must be between 1 and 10".into());
                    }
                    if !(0.0..=1.0).contains(contraband_rate_factor) {
                        return Err("contraband_rate_factor must be between 0 and 1".into());
                    }
                    (attribute, group, units)
                }
                Effect::DaylightVisibility {
                    attribute,
                    group,
                    units,
                    extra_daylight_share,
                } => {
                    if !(0.0..=10.0).contains(extra_daylight_share) {
                        return Err("extra_daylight_share must be between 0 and 10".into());
                    }
                    (attribute, group, units)
                }
            };
            let attr = ATTRIBUTES
                .iter()
                .find(|a| a.name == attribute)
                .ok_or_else(|| format!("unknown attribute `{attribute}`; the generator has nationality, gender, age_band"))?;
            if !attr.groups.contains(&group.as_str()) {
                return Err(format!(
                    "`{attribute}` has no group `{group}`; groups: {}",
                    attr.groups.join(", ")
                ));
            }
            for u in units {
                if !UNITS.iter().any(|x| x.name == u) {
                    return Err(format!(
                        "unknown unit `{u}`; units: {}",
                        UNITS.iter().map(|x| x.name).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_profiles_load() {
        for (name, _) in BUILT_IN {
            let p = BiasProfile::load(name).unwrap();
            assert_eq!(&p.name, name);
            assert!(!p.effects.is_empty());
        }
        assert!(BiasProfile::load("none").unwrap().effects.is_empty());
    }

    #[test]
    fn bad_profiles_are_refused() {
        assert!(BiasProfile::load("no-such-profile").is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.toml");
        std::fs::write(
            &p,
            "name='x'\ndescription='y'\n[[effect]]\nkind='lower_stop_threshold'\nattribute='nationality'\ngroup='Martian'\njustification='behaviour'\nextra_stop_share=0.5\nhit_rate_factor=0.5\n",
        )
        .unwrap();
        let e = BiasProfile::load(p.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no group `Martian`"), "{e}");
    }
}
