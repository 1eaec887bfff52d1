//! `verifier research election | report | study-report`: practice elections for UX research and the reports of
//! the anonymous metrics (tracker issues 9 and 22).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use super::DbArg;

#[derive(Subcommand)]
pub(super) enum ResearchCommand {
    /// Write a practice election (TOML for `election create`) with one mock contest of 5 to 200 entries, made
    /// deterministically from the seed with common Japanese names and fictional parties.
    Election {
        /// hor_district, hor_pr, hoc_district, hoc_pr or judicial_review.
        #[arg(long)]
        kind: String,
        /// How many candidates (listed candidates in PR, judges in a review): 5 to 200 (at most 32 judges).
        #[arg(long)]
        candidates: usize,
        /// The seed: the same seed gives the same names and order.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The TOML file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write tasks.csv, SVG plots and index.html (medians per mode pair) from the stored metrics.
    Report {
        #[command(flatten)]
        db: DbArg,
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Analyse an instructed study (issue 22 part 6): per layout, NIST's summary measures with Wilson intervals,
    /// time and SUS with bootstrap intervals; across layouts, Friedman (within) or Kruskal-Wallis (between) with
    /// Holm-corrected pairs and effect sizes. Writes study-trials.csv, study-estimates.csv, study-tests.csv and
    /// study.html.
    StudyReport {
        #[command(flatten)]
        db: DbArg,
        /// The study file the verifier served (its id selects the rows; its design selects the tests).
        #[arg(long)]
        study: PathBuf,
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// The bootstrap's seed: the same rows and seed give the same report.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Runs a `research` subcommand.
pub(super) fn run(command: ResearchCommand) -> anyhow::Result<()> {
    match command {
        ResearchCommand::Election { kind, candidates, seed, out } => {
            let contest_kind = shared::practice::parse_kind(&kind).with_context(|| {
                format!("--kind {kind:?}: use hor_district, hor_pr, hoc_district, hoc_pr or judicial_review")
            })?;
            let election = shared::practice::generate(contest_kind, candidates, seed)?;
            let text = format!(
                "# A practice election for UX research (tracker issue 9), made by `verifier research election --kind \
                 {kind} --candidates {candidates} --seed {seed}`.\n# Names are common Japanese names; every person and \
                 party is fictional.\n{}",
                toml::to_string(&election)?
            );
            std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
            println!("practice election {} ({candidates} entries, {kind}) written to {}", election.id, out.display());
        }
        ResearchCommand::Report { db, out } => {
            let tasks = crate::research::tasks(&db.open()?)?;
            let summary = crate::research::report::write_report(&tasks, &out)?;
            println!(
                "{} tasks in {} mode pairs; report written to {}",
                tasks.len(),
                summary.len(),
                out.join(crate::research::report::INDEX).display()
            );
        }
        ResearchCommand::StudyReport { db, study, out, seed } => {
            let db = db.open()?;
            let (election, _) = db.election()?.context("the database has no election")?;
            let study = crate::research::study::load(&study, &election)?;
            let report = crate::research::study::write_report(&db, &study, &out, seed)?;
            println!(
                "study {}: {} participants, {} layouts; report written to {}",
                study.id,
                report.participants,
                report.layouts.len(),
                out.join(crate::research::study::FILES[3]).display()
            );
        }
    }
    Ok(())
}
