//! The analysis of an instructed study (issue 22 part 6), as ballot-usability research reports one: each
//! participant is told which entry to choose in each task, votes in one layout (between subjects) or in several in
//! a counterbalanced order (within subjects), and answers the System Usability Scale after each layout.
//!
//! [`analyse`] gives, per layout, the NIST summary measures with Wilson intervals ([`crate::nist`]), the median
//! time per ballot with its bootstrap interval, and the median SUS score with its bootstrap interval; and, across
//! layouts, for time, SUS and errors, the omnibus test the design calls for (Friedman within subjects,
//! Kruskal-Wallis between) with its effect size, then every pair (Wilcoxon signed-rank or Mann-Whitney) with
//! Holm's adjustment and r. [`csv`] and [`html`] write it for R or Python and for people (with SVG plots).
//!
//! Its inputs are anonymous: a participant is a label the lab made up, never a person, and a task's target is a
//! position on the practice ballot, never a vote.
//!
//! The report is written out as CSV and as HTML with SVG plots in `study/render.rs`.

mod render;

use std::collections::{BTreeMap, BTreeSet};

use crate::nist::{self, Ballot};
use crate::stats::{self, Omnibus, StatsError};
use crate::sus;

pub use render::{csv, html};

/// How participants met the layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Design {
    /// Every participant voted in every layout (Friedman, Wilcoxon signed-rank).
    Within,
    /// Each participant voted in one layout (Kruskal-Wallis, Mann-Whitney).
    Between,
}

/// One instructed task: a contest on the practice ballot, with the entry the participant was told to choose.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// The participant's label.
    pub participant: String,
    /// The layout (`selection/display/drum start`).
    pub layout: String,
    /// The task.
    pub task: String,
    /// The participant confirmed a choice.
    pub completed: bool,
    /// The confirmed choice was the target.
    pub on_target: bool,
    /// Milliseconds from the candidate screen to the confirmation.
    pub time_ms: f64,
}

/// One questionnaire: a participant's ten SUS answers after a layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Questionnaire {
    /// The participant's label.
    pub participant: String,
    /// The layout.
    pub layout: String,
    /// The ten answers, 1 to 5.
    pub answers: Vec<u8>,
}

/// Why a study cannot be analysed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StudyError {
    /// A questionnaire cannot be scored.
    #[error("{0} (participant {1}, layout {2})")]
    Sus(sus::SusError, String, String),
    /// A test cannot be computed.
    #[error("{0} ({1})")]
    Stats(StatsError, &'static str),
    /// No layout has a ballot.
    #[error("NO_DATA: the study has no trials")]
    Empty,
}

/// One layout's estimates.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutEstimate {
    /// The layout.
    pub layout: String,
    /// NIST's summary measures (completion, perfect-ballot index, error rate) with their intervals.
    pub nist: nist::Summary,
    /// The median time per ballot (all its tasks), seconds, and its 95 % bootstrap interval.
    pub time_s: (f64, (f64, f64)),
    /// The median SUS score and its 95 % bootstrap interval; none without questionnaires.
    pub sus: Option<(f64, (f64, f64))>,
}

/// One pair of layouts.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// The first layout.
    pub a: String,
    /// The second.
    pub b: String,
    /// The test's p-value.
    pub p: f64,
    /// Holm's adjusted p-value over every pair of this measure.
    pub p_holm: f64,
    /// The effect size r = |z| / √N.
    pub r: f64,
}

/// One measure compared across layouts.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// `time`, `sus` or `errors`.
    pub measure: &'static str,
    /// `Friedman` or `Kruskal-Wallis`.
    pub test: &'static str,
    /// The omnibus test; none when it cannot be computed (with the reason).
    pub omnibus: Result<Omnibus, String>,
    /// Every pair of layouts.
    pub pairs: Vec<Pair>,
}

/// The whole analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The design.
    pub design: Design,
    /// Participants.
    pub participants: usize,
    /// Per layout, in name order.
    pub layouts: Vec<LayoutEstimate>,
    /// Time, SUS and errors across layouts.
    pub comparisons: Vec<Comparison>,
}

/// One participant's ballot in one layout: its tasks summed.
#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    tasks: u32,
    completed: u32,
    errors: u32,
    time_ms: f64,
    sus: Option<f64>,
}

/// Analyses a study. Bootstrap intervals use `seed`, so that the same data give the same report.
pub fn analyse(
    design: Design,
    trials: &[Trial],
    questionnaires: &[Questionnaire],
    seed: u64,
) -> Result<Report, StudyError> {
    let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
    for t in trials {
        let c = cells.entry((t.layout.clone(), t.participant.clone())).or_default();
        c.tasks += 1;
        if t.completed {
            c.completed += 1;
            c.errors += u32::from(!t.on_target);
            c.time_ms += t.time_ms;
        }
    }
    for q in questionnaires {
        let score = sus::score(&q.answers).map_err(|e| StudyError::Sus(e, q.participant.clone(), q.layout.clone()))?;
        cells.entry((q.layout.clone(), q.participant.clone())).or_default().sus = Some(score);
    }
    if cells.is_empty() {
        return Err(StudyError::Empty);
    }
    let layouts: BTreeSet<String> = cells.keys().map(|(l, _)| l.clone()).collect();
    let participants: BTreeSet<String> = cells.keys().map(|(_, p)| p.clone()).collect();
    let of = |layout: &str| {
        let rows: Vec<(String, Cell)> =
            cells.iter().filter(|((l, _), _)| l == layout).map(|((_, p), c)| (p.clone(), *c)).collect();
        rows.into_iter()
    };

    let mut estimates = Vec::new();
    for (i, layout) in layouts.iter().enumerate() {
        let ballots: Vec<Ballot> = of(layout)
            .filter(|(_, c)| c.tasks > 0)
            .map(|(_, c)| Ballot { cast: c.completed == c.tasks, contests: c.tasks, errors: c.errors })
            .collect();
        let Some(summary) = nist::summary(&ballots) else { continue };
        let times: Vec<f64> = of(layout)
            .filter(|(_, c)| c.tasks > 0 && c.completed == c.tasks)
            .map(|(_, c)| c.time_ms / 1000.0)
            .collect();
        let seed = seed.wrapping_add(i as u64);
        let time = stats::median(&times).zip(stats::bootstrap_median(&times, 2000, 0.05, seed));
        let Some(time_s) = time else { continue };
        let scores: Vec<f64> = of(layout).filter_map(|(_, c)| c.sus).collect();
        let sus = stats::median(&scores).zip(stats::bootstrap_median(&scores, 2000, 0.05, seed ^ 0x5u64));
        estimates.push(LayoutEstimate { layout: layout.clone(), nist: summary, time_s, sus });
    }
    if estimates.is_empty() {
        return Err(StudyError::Empty);
    }

    let names: Vec<String> = estimates.iter().map(|e| e.layout.clone()).collect();
    let value = |c: &Cell, measure: &str| match measure {
        "time" => (c.tasks > 0 && c.completed == c.tasks).then_some(c.time_ms / 1000.0),
        "sus" => c.sus,
        _ => (c.tasks > 0).then_some(f64::from(c.errors + (c.tasks - c.completed))),
    };
    let mut comparisons = Vec::new();
    for measure in ["time", "sus", "errors"] {
        comparisons.push(match design {
            Design::Within => {
                // Participants with a value in every layout.
                let table: Vec<Vec<f64>> = participants
                    .iter()
                    .filter_map(|p| {
                        names
                            .iter()
                            .map(|l| cells.get(&(l.clone(), p.clone())).and_then(|c| value(c, measure)))
                            .collect::<Option<Vec<f64>>>()
                    })
                    .collect();
                let omnibus = stats::friedman(&table).map_err(|e| e.to_string());
                let column = |j: usize| table.iter().map(|r| r[j]).collect::<Vec<f64>>();
                let pairs = pairs(&names, |a, b| stats::wilcoxon_signed_rank(&column(a), &column(b)).ok());
                Comparison { measure, test: "Friedman", omnibus, pairs }
            }
            Design::Between => {
                let groups: Vec<Vec<f64>> =
                    names.iter().map(|l| of(l).filter_map(|(_, c)| value(&c, measure)).collect()).collect();
                let omnibus = stats::kruskal_wallis(&groups).map_err(|e| e.to_string());
                let pairs = pairs(&names, |a, b| stats::mann_whitney(&groups[a], &groups[b]).ok());
                Comparison { measure, test: "Kruskal-Wallis", omnibus, pairs }
            }
        });
    }
    Ok(Report { design, participants: participants.len(), layouts: estimates, comparisons })
}

/// Every pair of layouts through `test`, with Holm's adjustment over the pairs it could compute.
fn pairs(names: &[String], test: impl Fn(usize, usize) -> Option<stats::Pairwise>) -> Vec<Pair> {
    let mut raw = Vec::new();
    for a in 0..names.len() {
        for b in a + 1..names.len() {
            if let Some(t) = test(a, b) {
                raw.push((a, b, t));
            }
        }
    }
    let adjusted = stats::holm(&raw.iter().map(|(_, _, t)| t.p).collect::<Vec<_>>());
    raw.into_iter()
        .zip(adjusted)
        .map(|((a, b, t), p_holm)| Pair { a: names[a].clone(), b: names[b].clone(), p: t.p, p_holm, r: t.r })
        .collect()
}

impl Report {
    /// The comparison of one measure.
    pub fn comparison(&self, measure: &str) -> Option<&Comparison> {
        self.comparisons.iter().find(|c| c.measure == measure)
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha8Rng;
    use rand_core::{Rng, SeedableRng};

    use super::*;
    use crate::design;

    /// A standard normal draw (Box-Muller).
    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        let u1 = (f64::from(rng.next_u32()) + 1.0) / (f64::from(u32::MAX) + 2.0);
        let u2 = f64::from(rng.next_u32()) / f64::from(u32::MAX);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A simulated within-subject study: 3 layouts, 2 tasks each, orders from the Latin square. Layout `slow`
    /// takes `slower` times as long and lowers the SUS answers by `sus_drop`.
    fn simulate(participants: usize, slower: f64, sus_drop: u8, seed: u64) -> (Vec<Trial>, Vec<Questionnaire>) {
        let layouts = ["list/one_screen/first", "list/scroll/first", "free_word_search/one_screen/first"];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut trials, mut qs) = (Vec::new(), Vec::new());
        for p in 0..participants {
            let person = 1.0 + 0.3 * normal(&mut rng).abs();
            for (slot, &l) in design::order(p, layouts.len()).iter().enumerate() {
                let layout = layouts[l];
                let factor = if l == 1 { slower } else { 1.0 };
                for task in ["tokyo", "national-pr"] {
                    // Log-normal times around 8 s, a little faster in later slots (learning).
                    let t = 8000.0 * person * factor * (0.25 * normal(&mut rng)).exp() * (1.0 - 0.03 * slot as f64);
                    let wrong = rng.next_u32() % 40 == 0;
                    trials.push(Trial {
                        participant: format!("P{p:02}"),
                        layout: layout.into(),
                        task: task.into(),
                        completed: true,
                        on_target: !wrong,
                        time_ms: t,
                    });
                }
                let answers = (0..10)
                    .map(|i| {
                        let base: u8 = if i % 2 == 0 { 4 } else { 2 };
                        let noise = (rng.next_u32() % 3) as i16 - 1;
                        let drop = if l == 1 { i16::from(sus_drop) } else { 0 };
                        let v =
                            if i % 2 == 0 { i16::from(base) + noise - drop } else { i16::from(base) + noise + drop };
                        v.clamp(1, 5) as u8
                    })
                    .collect();
                qs.push(Questionnaire { participant: format!("P{p:02}"), layout: layout.into(), answers });
            }
        }
        (trials, qs)
    }

    #[test]
    fn an_injected_difference_is_found_and_named() {
        let (trials, qs) = simulate(48, 1.4, 1, 7);
        let r = analyse(Design::Within, &trials, &qs, 1).unwrap();
        assert_eq!((r.participants, r.layouts.len()), (48, 3));
        for measure in ["time", "sus"] {
            let c = r.comparison(measure).unwrap();
            let o = c.omnibus.as_ref().unwrap();
            assert!(o.p < 0.001, "{measure}: Friedman p = {}", o.p);
            // The slow layout differs from both others after Holm; the two others do not differ.
            for p in &c.pairs {
                let involves_slow = p.a == "list/scroll/first" || p.b == "list/scroll/first";
                assert_eq!(p.p_holm < 0.05, involves_slow, "{measure} {} vs {}: {p:?}", p.a, p.b);
            }
        }
        let slow = r.layouts.iter().find(|e| e.layout == "list/scroll/first").unwrap();
        let fast = r.layouts.iter().find(|e| e.layout == "list/one_screen/first").unwrap();
        assert!(slow.time_s.1.0 > fast.time_s.1.1, "the intervals separate: {:?} {:?}", slow.time_s, fast.time_s);
        let (est, tests) = csv(&r);
        assert_eq!(est.lines().count(), 4);
        assert!(tests.contains("time,Friedman,all,all,") && tests.contains("Wilcoxon signed-rank"));
        let page = html(&r, "Simulated study");
        assert!(page.contains("<svg") && page.contains("Median SUS score"));
    }

    #[test]
    fn no_difference_is_found_where_none_was_injected_and_the_tests_hold_their_level() {
        let (trials, qs) = simulate(48, 1.0, 0, 11);
        let r = analyse(Design::Within, &trials, &qs, 1).unwrap();
        assert!(r.comparison("time").unwrap().omnibus.as_ref().unwrap().p > 0.05);
        // Over many studies with no difference, Friedman's test at 5 % rejects about 5 % of them (the table built
        // as `analyse` builds it, without its bootstrap intervals, which this does not need).
        let p = |trials: &[Trial]| {
            let mut cells: BTreeMap<(String, String), f64> = BTreeMap::new();
            for t in trials {
                *cells.entry((t.participant.clone(), t.layout.clone())).or_default() += t.time_ms;
            }
            let mut rows: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for ((person, _), v) in &cells {
                rows.entry(person.as_str()).or_default().push(*v);
            }
            stats::friedman(&rows.into_values().collect::<Vec<_>>()).unwrap().p
        };
        assert!((p(&trials) - r.comparison("time").unwrap().omnibus.as_ref().unwrap().p).abs() < 1e-12);
        let runs = 300;
        let rejected = (0..runs).filter(|s| p(&simulate(48, 1.0, 0, 1000 + s).0) < 0.05).count();
        let rate = rejected as f64 / runs as f64;
        assert!((0.02..=0.09).contains(&rate), "false-positive rate {rate}");
        // And it has the power to see a 40 % slower layout nearly every time.
        let found = (0..50).filter(|s| p(&simulate(48, 1.4, 0, 5000 + s).0) < 0.05).count();
        assert!(found >= 48, "power: {found} of 50");
    }

    #[test]
    fn a_between_subject_study_uses_kruskal_wallis_and_mann_whitney() {
        let (trials, qs) = simulate(48, 1.6, 1, 3);
        // Keep only each participant's first layout: between subjects.
        let first: BTreeSet<(String, String)> = {
            let mut seen = BTreeSet::new();
            let mut keep = BTreeSet::new();
            for t in &trials {
                if seen.insert(t.participant.clone()) {
                    keep.insert((t.participant.clone(), t.layout.clone()));
                }
            }
            keep
        };
        let keep = |p: &str, l: &str| first.contains(&(p.to_string(), l.to_string()));
        let trials: Vec<Trial> = trials.into_iter().filter(|t| keep(&t.participant, &t.layout)).collect();
        let qs: Vec<Questionnaire> = qs.into_iter().filter(|q| keep(&q.participant, &q.layout)).collect();
        let r = analyse(Design::Between, &trials, &qs, 1).unwrap();
        let c = r.comparison("time").unwrap();
        assert_eq!(c.test, "Kruskal-Wallis");
        assert!(c.omnibus.as_ref().unwrap().p < 0.01, "{:?}", c.omnibus);
        assert!(csv(&r).1.contains("Mann-Whitney"));
    }

    #[test]
    fn a_bad_questionnaire_is_named() {
        let q = Questionnaire { participant: "P01".into(), layout: "list".into(), answers: vec![3; 9] };
        let t = Trial {
            participant: "P01".into(),
            layout: "list".into(),
            task: "tokyo".into(),
            completed: true,
            on_target: true,
            time_ms: 1.0,
        };
        let e = analyse(Design::Within, &[t], &[q], 1).unwrap_err();
        assert!(e.to_string().starts_with("SUS_ANSWERS") && e.to_string().contains("P01"), "{e}");
        assert_eq!(analyse(Design::Within, &[], &[], 1).unwrap_err(), StudyError::Empty);
    }
}
