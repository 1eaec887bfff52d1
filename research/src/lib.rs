//! `research`: what a UX researcher needs to run the studies that ballot-usability research runs (issue 22 part 6;
//! Rice University's ballot usability studies, NIST's usability performance benchmarks for the VVSG), as pure
//! computation for the lab's report (`verifier research report`).
//!
//! Map:
//! - [`design`]: within-subject designs, each participant's order of layouts from a balanced Latin square;
//! - [`sus`]: the System Usability Scale's score (0-100) from ten answers;
//! - [`nist`]: the summary measures of a layout: total completion score, perfect-ballot index, error rate;
//! - [`study`]: the analysis of an instructed study, per layout and across layouts, as CSV and as HTML with SVG
//!   plots;
//! - [`stats`]: confidence intervals (Wilson for rates, bootstrap for times) and the rank tests suited to the
//!   design (Friedman within subjects, Kruskal-Wallis between, pairwise Wilcoxon or Mann-Whitney with Holm's
//!   correction), each with its effect size.
//!
//! This crate must never see a person or a ballot: its inputs are numbers per anonymous participant and task.

pub mod design;
pub mod nist;
pub mod stats;
pub mod study;
pub mod sus;
