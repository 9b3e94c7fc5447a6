//! Verdicts: for every comparison that could become a finding, what the
//! data say, so that "no finding" is never read as "no difference"
//! (docs/methods.md, "Verdicts").
//!
//! Each published comparison row (outcome test, weak justifications,
//! search funnel, stratified comparison, population benchmark) gets
//!
//! - a verdict: `finding` when a high or medium finding covers it,
//!   `explained_by_mix` when an overall difference is explained by the mix
//!   of strata, else from its interval: `no_difference` (inside the
//!   practical band), `favourable` (wholly on the group's favourable side of
//!   1, reaching outside the band) or `inconclusive` (reaching outside the
//!   band otherwise);
//! - its minimum detectable ratio: the ratio closest to 1 on the adverse
//!   side that its counts detect with the run's power (`[analysis] power`,
//!   0.8) in a one-sided test at the run's FDR level, before the correction
//!   for multiple testing (so a lower bound on what the run can find);
//! - for an inconclusive row, about how many more quarters of data at the
//!   current rate would make the edge of the practical band detectable.
//!
//! Rows that suppression hides get no verdict (they are counted as
//! withheld); the group `unknown` is not tested and gets none.

use std::collections::BTreeMap;

use statrs::distribution::{ContinuousCDF, Normal};

use crate::analysis::compare::{Adverse, ComparisonRow, Verdict, VerdictCount};
use crate::analysis::{AnalysisSettings, Results};
use crate::findings::{Fact, Finding, Severity};
use crate::schema::UNKNOWN_GROUP;
use crate::stats::proportion::{min_detectable_rate_ratio, min_detectable_ratio};

/// The detection arithmetic of one run: level, power and the time the data cover.
struct Detect {
    /// One-sided level (the run's FDR level).
    alpha: f64,
    /// Power asked for.
    power: f64,
    /// z₁₋α + z_power.
    z: f64,
    /// The practical band.
    band: [f64; 2],
    /// Quarters of data the run covers; `None` when unknown.
    quarters: Option<f64>,
}

impl Detect {
    fn new(settings: &AnalysisSettings, quarters: Option<f64>) -> Self {
        let normal = Normal::new(0.0, 1.0).expect("standard normal");
        Detect {
            alpha: settings.fdr,
            power: settings.power,
            z: normal.inverse_cdf(1.0 - settings.fdr) + normal.inverse_cdf(settings.power),
            band: settings.practical_band,
            quarters,
        }
    }

    /// The verdict of an interval on the side `adverse`.
    fn by_interval(&self, adverse: Adverse, ci: Option<[f64; 2]>) -> Verdict {
        let Some([lo, hi]) = ci else {
            return Verdict::Inconclusive;
        };
        if lo >= self.band[0] && hi <= self.band[1] {
            Verdict::NoDifference
        } else if match adverse {
            Adverse::Lower => lo > 1.0,
            Adverse::Higher => hi < 1.0,
        } {
            Verdict::Favourable
        } else {
            Verdict::Inconclusive
        }
    }

    /// The band's edge on the adverse side.
    fn edge(&self, adverse: Adverse) -> f64 {
        match adverse {
            Adverse::Lower => self.band[0],
            Adverse::Higher => self.band[1],
        }
    }

    /// More quarters of data (at the current rate) until the band's edge is
    /// detectable, given the standard error of the log ratio at the edge
    /// with the current counts: the counts must grow by
    /// (z · se / |ln edge|)², and the standard error falls with their root.
    fn more_quarters(&self, adverse: Adverse, se_at_edge: f64) -> Option<f64> {
        let quarters = self.quarters?;
        let edge = self.edge(adverse);
        if !se_at_edge.is_finite() {
            return None;
        }
        let scale = (self.z * se_at_edge / edge.ln().abs()).powi(2);
        Some(((scale - 1.0) * quarters).max(0.0))
    }
}

/// Katz's standard error of the log rate ratio when the true ratio is
/// `theta`: n1 trials at θ p0 against n0 at p0.
fn rate_se(theta: f64, p0: f64, n1: u64, n0: u64) -> f64 {
    let p1 = theta * p0;
    ((1.0 - p1).max(0.0) / (n1 as f64 * p1) + (1.0 - p0) / (n0 as f64 * p0)).sqrt()
}

/// Detection figures of a rate comparison from its published counts:
/// (minimum detectable ratio, standard error at the band's edge).
fn rate_detection(
    d: &Detect,
    adverse: Adverse,
    counts: (Option<u64>, Option<u64>, Option<u64>),
) -> (Option<f64>, f64) {
    let (Some(n1), Some(ref_hits), Some(n0)) = counts else {
        return (None, f64::NAN);
    };
    if n0 == 0 || n1 == 0 {
        return (None, f64::NAN);
    }
    let p0 = ref_hits as f64 / n0 as f64;
    let higher = adverse == Adverse::Higher;
    let mdr = min_detectable_rate_ratio(p0, n1, n0, d.alpha, d.power, higher);
    let edge = d.edge(adverse);
    let se = if p0 > 0.0 && p0 < 1.0 && edge * p0 <= 1.0 {
        rate_se(edge, p0, n1, n0)
    } else {
        f64::NAN
    };
    (mdr, se)
}

/// Whether finding `f` is about the row of `analysis` with these labels
/// and stratum (directly, or as one of the strata folded into it).
fn covers(f: &Finding, analysis: &str, r: &ComparisonRow) -> bool {
    // An outcome-test stratum can be folded into a stratified finding.
    let same = f.analysis == analysis || (analysis == "outcome_test" && f.analysis == "stratified");
    same && f.attribute == r.attribute
        && f.group == r.group
        && f.stage == r.stage
        && (f.stratum == r.stratum || f.also_within.contains(&r.stratum))
}

/// The verdict of a rate-comparison row.
fn comparison_verdict(
    d: &Detect,
    analysis: &str,
    adverse: Adverse,
    r: &ComparisonRow,
    findings: &[Finding],
) -> Verdict {
    for f in findings.iter().filter(|f| covers(f, analysis, r)) {
        match (&f.severity, &f.fact) {
            (Severity::High | Severity::Medium, _) => return Verdict::Finding,
            (_, Fact::ExplainedByMix { .. }) => return Verdict::ExplainedByMix,
            _ => {}
        }
    }
    d.by_interval(adverse, r.rate_ratio_ci)
}

/// Fills the verdict, minimum detectable ratio and quarters needed of
/// every published comparison row and returns the counts per analysis and
/// attribute. `quarters` is how many quarters of data the run covers.
pub fn assign(
    results: &mut Results,
    findings: &[Finding],
    settings: &AnalysisSettings,
    quarters: Option<f64>,
) {
    let d = Detect::new(settings, quarters);
    let mut counts: Vec<VerdictCount> = Vec::new();
    let mut tally = |analysis: &str, attribute: &str, verdict: Option<Verdict>| {
        let i = match counts
            .iter()
            .position(|c| c.analysis == analysis && c.attribute == attribute)
        {
            Some(i) => i,
            None => {
                counts.push(VerdictCount {
                    analysis: analysis.to_string(),
                    attribute: attribute.to_string(),
                    ..VerdictCount::default()
                });
                counts.len() - 1
            }
        };
        let c = &mut counts[i];
        match verdict {
            Some(Verdict::Finding) => c.finding += 1,
            Some(Verdict::ExplainedByMix) => c.explained_by_mix += 1,
            Some(Verdict::NoDifference) => c.no_difference += 1,
            Some(Verdict::Favourable) => c.favourable += 1,
            Some(Verdict::Inconclusive) => c.inconclusive += 1,
            None => c.withheld += 1,
        }
    };

    let mut rate_rows = |analysis: &str, rows: &mut dyn Iterator<Item = &mut ComparisonRow>| {
        for r in rows {
            if r.group == UNKNOWN_GROUP {
                continue;
            }
            if r.suppressed {
                tally(analysis, &r.attribute, None);
                continue;
            }
            let adverse = Adverse::of(r.measure(analysis));
            let verdict = comparison_verdict(&d, analysis, adverse, r, findings);
            let (mdr, se) = rate_detection(&d, adverse, (r.stops, r.ref_hits, r.ref_stops));
            r.verdict = Some(verdict);
            r.min_detectable_ratio = mdr;
            r.more_quarters_needed = (verdict == Verdict::Inconclusive)
                .then(|| d.more_quarters(adverse, se))
                .flatten();
            tally(analysis, &r.attribute, Some(verdict));
        }
    };
    rate_rows("outcome_test", &mut results.outcome_test.iter_mut());
    rate_rows(
        "justification_mix",
        &mut results
            .justification_mix
            .iter_mut()
            .flat_map(|m| m.weak_justification.iter_mut()),
    );
    rate_rows("search_funnel", &mut results.search_funnel.iter_mut());

    for s in &mut results.stratified {
        if s.group == UNKNOWN_GROUP {
            continue;
        }
        if s.suppressed {
            tally("stratified", &s.attribute, None);
            continue;
        }
        let is_finding = findings.iter().any(|f| {
            matches!(f.severity, Severity::High | Severity::Medium)
                && f.attribute == s.attribute
                && f.group == s.group
                && f.stage == s.stage
                && (f.analysis == "stratified"
                    || (f.stratum.is_empty() && f.mh_rate_ratio.is_some()))
        });
        let split = crate::analysis::stratified::heterogeneous(s.breslow_day_p_value);
        let verdict = match d.by_interval(Adverse::Lower, s.mh_rate_ratio_ci) {
            _ if is_finding => Verdict::Finding,
            // A pooled ratio inside the band says nothing of strata that
            // disagree: one of them can be a finding on its own.
            Verdict::NoDifference if split => Verdict::Inconclusive,
            v => v,
        };
        // Approximated from the totals over the strata used.
        let (mdr, se) = rate_detection(&d, Adverse::Lower, (s.stops, s.ref_hits, s.ref_stops));
        s.verdict = Some(verdict);
        s.min_detectable_ratio = mdr;
        // More of the same stops narrow the interval; they do not make
        // disagreeing strata agree.
        s.more_quarters_needed = (verdict == Verdict::Inconclusive && !split)
            .then(|| d.more_quarters(Adverse::Lower, se))
            .flatten();
        tally("stratified", &s.attribute, Some(verdict));
    }

    for p in &mut results.population_benchmark {
        if p.group == UNKNOWN_GROUP {
            continue;
        }
        let (Some(ref_stops), false) = (p.ref_stops, p.suppressed) else {
            tally("population_benchmark", &p.attribute, None);
            continue;
        };
        let is_finding = findings.iter().any(|f| {
            matches!(f.severity, Severity::High | Severity::Medium)
                && f.analysis == "population_benchmark"
                && f.attribute == p.attribute
                && f.group == p.group
                && f.stratum == p.stratum
        });
        let verdict = if is_finding {
            Verdict::Finding
        } else {
            d.by_interval(Adverse::Higher, p.rate_ratio_ci)
        };
        // Poisson counts: the group's stops at θ times the reference's rate
        // per resident, against the reference's stops.
        let r0 = ref_stops as f64 / p.ref_population;
        let se = |theta: f64| (1.0 / (theta * r0 * p.population) + 1.0 / ref_stops as f64).sqrt();
        let defined = ref_stops > 0 && p.population > 0.0;
        p.verdict = Some(verdict);
        p.min_detectable_ratio = defined
            .then(|| min_detectable_ratio(d.alpha, d.power, true, 1e6, se))
            .flatten();
        p.more_quarters_needed = (defined && verdict == Verdict::Inconclusive)
            .then(|| d.more_quarters(Adverse::Higher, se(d.band[1])))
            .flatten();
        tally("population_benchmark", &p.attribute, Some(verdict));
    }

    results.verdicts = counts;
}

/// Quarters of data between the first and the last stop (local ISO
/// times, as the ingest summary gives them); `None` without stops.
pub fn quarters_covered(first: Option<&str>, last: Option<&str>) -> Option<f64> {
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok();
    let (a, b) = (date(first?)?, date(last?)?);
    let days = (b - a).num_days() as f64 + 1.0;
    Some(days / (365.25 / 4.0))
}

/// The verdict counts of one attribute, summed over its analyses.
pub fn per_attribute(counts: &[VerdictCount]) -> BTreeMap<String, VerdictCount> {
    let mut out: BTreeMap<String, VerdictCount> = BTreeMap::new();
    for c in counts {
        let t = out
            .entry(c.attribute.clone())
            .or_insert_with(|| VerdictCount {
                attribute: c.attribute.clone(),
                ..VerdictCount::default()
            });
        t.finding += c.finding;
        t.explained_by_mix += c.explained_by_mix;
        t.no_difference += c.no_difference;
        t.favourable += c.favourable;
        t.inconclusive += c.inconclusive;
        t.withheld += c.withheld;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_decide_the_verdict_on_the_adverse_side() {
        let d = Detect::new(&AnalysisSettings::default(), Some(4.0));
        let v = |a, lo, hi| d.by_interval(a, Some([lo, hi]));
        assert_eq!(v(Adverse::Lower, 0.85, 1.2), Verdict::NoDifference);
        assert_eq!(v(Adverse::Lower, 0.6, 1.1), Verdict::Inconclusive);
        assert_eq!(v(Adverse::Lower, 1.1, 1.9), Verdict::Favourable);
        assert_eq!(v(Adverse::Higher, 0.3, 0.6), Verdict::Favourable);
        assert_eq!(v(Adverse::Higher, 0.9, 1.6), Verdict::Inconclusive);
        assert_eq!(d.by_interval(Adverse::Lower, None), Verdict::Inconclusive);
    }

    #[test]
    fn quarters_needed_grow_as_the_counts_shrink() {
        let d = Detect::new(&AnalysisSettings::default(), Some(1.0));
        let few = d
            .more_quarters(Adverse::Lower, rate_se(0.8, 0.3, 100, 1000))
            .unwrap();
        let many = d
            .more_quarters(Adverse::Lower, rate_se(0.8, 0.3, 2000, 20000))
            .unwrap();
        assert!(few > 3.0, "{few}");
        assert_eq!(many, 0.0);
        // At the edge the minimum detectable ratio is reached after exactly
        // the quarters needed: scale the counts and check.
        let (n1, n0) = (100.0f64, 1000.0f64);
        let scale = 1.0 + few;
        let mdr = min_detectable_rate_ratio(
            0.3,
            (n1 * scale).round() as u64,
            (n0 * scale).round() as u64,
            0.05,
            0.8,
            false,
        )
        .unwrap();
        assert!((mdr - 0.8).abs() < 0.01, "{mdr}");
    }

    #[test]
    fn a_year_is_four_quarters() {
        let q = quarters_covered(Some("2025-01-01T00:10:00"), Some("2025-12-31T23:00:00")).unwrap();
        assert!((q - 4.0).abs() < 0.01, "{q}");
        assert_eq!(quarters_covered(None, Some("2025-01-01")), None);
    }
}
