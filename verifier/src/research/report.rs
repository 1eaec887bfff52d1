//! `verifier research report`: the stored UX metrics (tracker issue 9) as a CSV of every task, SVG plots made with
//! `plotters` (time to confirm per mode pair, changes of mind per mode pair, time against the chosen position) and
//! an `index.html` that links them with a table of medians per mode pair.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;
use research::stats::median;

use crate::research::TaskRow;

/// The CSV of every task.
pub const CSV: &str = "tasks.csv";
/// Box plots of the time to confirm per mode pair.
pub const TIME_SVG: &str = "time_to_confirm.svg";
/// Mean changes of mind per mode pair.
pub const CHANGES_SVG: &str = "changes_of_mind.svg";
/// Time to confirm against the chosen entry's position.
pub const POSITION_SVG: &str = "time_vs_position.svg";
/// The summary page.
pub const INDEX: &str = "index.html";

/// The medians of one mode pair.
#[derive(Clone, Debug, PartialEq)]
pub struct PairSummary {
    /// `selection × display`.
    pub pair: String,
    /// Tasks.
    pub tasks: usize,
    /// Distinct participants.
    pub participants: usize,
    /// Median time to the first pick, seconds.
    pub median_first_s: Option<f64>,
    /// Median time to confirm, seconds.
    pub median_confirm_s: f64,
    /// Median changes of mind.
    pub median_changes: f64,
    /// Mean changes of mind.
    pub mean_changes: f64,
    /// Median scroll, wheel and drum steps.
    pub median_steps: f64,
    /// Median errors.
    pub median_errors: f64,
    /// Share of chosen entries off the first screen (of tasks with an entry chosen).
    pub off_first_screen: Option<f64>,
}

/// Groups tasks by mode pair and computes their medians.
pub fn summarize(tasks: &[TaskRow]) -> Vec<PairSummary> {
    let mut by_pair: BTreeMap<String, Vec<&TaskRow>> = BTreeMap::new();
    for t in tasks {
        by_pair.entry(t.pair()).or_default().push(t);
    }
    by_pair
        .into_iter()
        .map(|(pair, ts)| {
            let m = |f: &dyn Fn(&TaskRow) -> f64| median(&ts.iter().map(|t| f(t)).collect::<Vec<_>>()).unwrap_or(0.0);
            let firsts: Vec<f64> = ts
                .iter()
                .filter_map(|t| t.metrics.time_to_first_selection_ms)
                .map(|ms| f64::from(ms) / 1000.0)
                .collect();
            let off: Vec<bool> = ts.iter().filter_map(|t| t.metrics.off_first_screen).collect();
            let mut people: Vec<&str> = ts.iter().map(|t| t.metrics.participant.as_str()).collect();
            people.sort_unstable();
            people.dedup();
            PairSummary {
                tasks: ts.len(),
                participants: people.len(),
                median_first_s: median(&firsts),
                median_confirm_s: m(&|t| f64::from(t.metrics.time_to_confirm_ms) / 1000.0),
                median_changes: m(&|t| f64::from(t.metrics.changes_of_mind)),
                mean_changes: ts.iter().map(|t| f64::from(t.metrics.changes_of_mind)).sum::<f64>() / ts.len() as f64,
                median_steps: m(&|t| f64::from(t.metrics.steps)),
                median_errors: m(&|t| f64::from(t.metrics.errors)),
                off_first_screen: (!off.is_empty())
                    .then(|| off.iter().filter(|o| **o).count() as f64 / off.len() as f64),
                pair,
            }
        })
        .collect()
}

/// Writes the CSV, the plots and the summary page into `out` (created if missing); returns the summaries.
pub fn write_report(tasks: &[TaskRow], out: &Path) -> anyhow::Result<Vec<PairSummary>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join(CSV), csv(tasks))?;
    let summary = summarize(tasks);
    plot_times(tasks, &summary, &out.join(TIME_SVG))?;
    plot_changes(&summary, &out.join(CHANGES_SVG))?;
    plot_positions(tasks, &out.join(POSITION_SVG))?;
    std::fs::write(out.join(INDEX), index_html(tasks.len(), &summary))?;
    Ok(summary)
}

/// Returns every task as CSV, one row per task.
pub fn csv(tasks: &[TaskRow]) -> String {
    let mut s = String::from(
        "election_id,participant,contest_kind,assigned,selection,display,drum_start,candidates,\
         time_to_first_selection_ms,time_to_confirm_ms,changes_of_mind,steps,search_keystrokes,errors,\
         chosen_position,off_first_screen,challenges\n",
    );
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    for t in tasks {
        let field = |v: &str| {
            if v.contains([',', '"', '\n']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v.to_string() }
        };
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            field(&t.election_id),
            field(&t.metrics.participant),
            field(&crate::research::kind_code(t.metrics.contest_kind)),
            t.metrics.assigned,
            field(t.metrics.selection.code()),
            field(t.metrics.display.code()),
            field(t.metrics.drum_start.code()),
            t.metrics.candidates,
            opt(t.metrics.time_to_first_selection_ms),
            t.metrics.time_to_confirm_ms,
            t.metrics.changes_of_mind,
            t.metrics.steps,
            t.metrics.search_keystrokes,
            t.metrics.errors,
            opt(t.metrics.chosen_position),
            t.metrics.off_first_screen.map(|b| b.to_string()).unwrap_or_default(),
            t.metrics.challenges,
        );
    }
    s
}

fn short(pair: &str) -> String {
    pair.replace("free_word_search", "search")
        .replace("initial_letter_input", "initial-input")
        .replace("initial_letter_select", "initial-select")
        .replace("one_screen", "one")
        .replace("drum_roll", "drum")
        .replace(" × ", "/")
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plotting failed: {e:?}")
}

fn plot_times(tasks: &[TaskRow], summary: &[PairSummary], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let pairs: Vec<&str> = summary.iter().map(|s| s.pair.as_str()).collect();
    let times = |p: &str| -> Vec<f64> {
        tasks.iter().filter(|t| t.pair() == p).map(|t| f64::from(t.metrics.time_to_confirm_ms) / 1000.0).collect()
    };
    let top = tasks.iter().map(|t| f64::from(t.metrics.time_to_confirm_ms) / 1000.0).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Time to confirm per mode pair (s)", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d((0..pairs.len().max(1)).into_segmented(), 0f32..top as f32)
        .map_err(draw_err)?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => pairs.get(*i).map(|p| short(p)).unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(pairs.len().max(1))
        .x_label_formatter(&label)
        .x_desc("selection / display")
        .y_desc("seconds")
        .draw()
        .map_err(draw_err)?;
    chart
        .draw_series(pairs.iter().enumerate().map(|(i, p)| {
            let q = Quartiles::new(&times(p));
            Boxplot::new_vertical(SegmentValue::CenterOf(i), &q).width(28).style(BLUE)
        }))
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

fn plot_changes(summary: &[PairSummary], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let means: Vec<f64> = summary.iter().map(|s| s.mean_changes).collect();
    let top = means.iter().copied().fold(1.0, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption("Changes of mind per mode pair (mean per task)", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d((0..summary.len().max(1)).into_segmented(), 0f64..top)
        .map_err(draw_err)?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            summary.get(*i).map(|s| short(&s.pair)).unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(summary.len().max(1))
        .x_label_formatter(&label)
        .x_desc("selection / display")
        .y_desc("changes of mind")
        .draw()
        .map_err(draw_err)?;
    chart
        .draw_series(means.iter().enumerate().map(|(i, m)| {
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *m)],
                GREEN.mix(0.6).filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            bar
        }))
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

fn plot_positions(tasks: &[TaskRow], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let points: Vec<(&TaskRow, u32)> = tasks.iter().filter_map(|t| t.metrics.chosen_position.map(|p| (t, p))).collect();
    let right = points.iter().map(|(_, p)| f64::from(*p)).fold(5.0, f64::max) * 1.05;
    let top = points.iter().map(|(t, _)| f64::from(t.metrics.time_to_confirm_ms) / 1000.0).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Time to confirm against the chosen entry's position", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..right, 0f64..top)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("position of the chosen entry in the display order")
        .y_desc("seconds")
        .draw()
        .map_err(draw_err)?;
    for (display, color) in [("one_screen", RED), ("scroll", BLUE), ("drum_roll", GREEN)] {
        chart
            .draw_series(points.iter().filter(|(t, _)| t.metrics.display.code() == display).map(|(t, p)| {
                Circle::new((f64::from(*p), f64::from(t.metrics.time_to_confirm_ms) / 1000.0), 4, color.filled())
            }))
            .map_err(draw_err)?
            .label(display)
            .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

fn escape(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

fn index_html(tasks: usize, summary: &[PairSummary]) -> String {
    let f1 = |v: f64| format!("{v:.1}");
    let mut rows = String::new();
    for s in summary {
        let _ = writeln!(
            rows,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.pair),
            s.tasks,
            s.participants,
            s.median_first_s.map(f1).unwrap_or_else(|| "–".into()),
            f1(s.median_confirm_s),
            f1(s.median_changes),
            f1(s.median_steps),
            f1(s.median_errors),
            s.off_first_screen.map(|v| format!("{:.0}%", v * 100.0)).unwrap_or_else(|| "–".into()),
        );
    }
    format!(
        "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>UX research: candidate selection modes</title>
<style>body{{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.3rem .6rem;text-align:right}}th[scope=row]{{text-align:left}}img{{max-width:100%}}</style>
</head><body>
<h1>UX research: candidate selection modes (practice elections)</h1>
<p>{tasks} tasks. Anonymous metrics from practice elections only: no voter, session, ballot or time of day.
All tasks: <a href=\"{CSV}\">{CSV}</a>.</p>
<h2>Medians per mode pair</h2>
<table id=\"medians\">
<thead><tr><th scope=\"col\">selection × display</th><th scope=\"col\">tasks</th><th scope=\"col\">participants</th>
<th scope=\"col\">time to first selection (s)</th><th scope=\"col\">time to confirm (s)</th>
<th scope=\"col\">changes of mind</th><th scope=\"col\">steps</th><th scope=\"col\">errors</th>
<th scope=\"col\">chosen off the first screen</th></tr></thead>
<tbody>
{rows}</tbody></table>
<h2>Plots</h2>
<p><a href=\"{TIME_SVG}\">Time to confirm per mode pair</a></p><img src=\"{TIME_SVG}\" alt=\"Box plots of the time to confirm per mode pair\">
<p><a href=\"{CHANGES_SVG}\">Changes of mind per mode pair</a></p><img src=\"{CHANGES_SVG}\" alt=\"Changes of mind per mode pair\">
<p><a href=\"{POSITION_SVG}\">Time against the chosen position</a></p><img src=\"{POSITION_SVG}\" alt=\"Time to confirm against the chosen entry's position\">
</body></html>
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
