//! The report written out: two CSV tables for R or Python, and one self-contained HTML page with SVG plots for
//! people.

use std::fmt::Write as _;

use super::{Design, Report};

/// The report as two CSV tables: the estimates per layout, and the tests.
pub fn csv(r: &Report) -> (String, String) {
    let mut est = String::from(
        "layout,participants,cast,completion,completion_lo,completion_hi,perfect,perfect_ballot_index,\
         error_rate,error_rate_lo,error_rate_hi,time_median_s,time_lo_s,time_hi_s,sus_median,sus_lo,sus_hi\n",
    );
    for e in &r.layouts {
        let n = &e.nist;
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
        let (sus, (slo, shi)) = e.sus.map_or((None, (None, None)), |(m, (lo, hi))| (Some(m), (Some(lo), Some(hi))));
        let _ = writeln!(
            est,
            "{},{},{},{:.4},{:.4},{:.4},{},{},{:.4},{:.4},{:.4},{:.3},{:.3},{:.3},{},{},{}",
            e.layout,
            n.participants,
            n.cast,
            n.completion,
            n.completion_ci.0,
            n.completion_ci.1,
            n.perfect,
            opt(n.perfect_ballot_index),
            n.error_rate,
            n.error_rate_ci.0,
            n.error_rate_ci.1,
            e.time_s.0,
            e.time_s.1.0,
            e.time_s.1.1,
            opt(sus),
            opt(slo),
            opt(shi)
        );
    }
    let mut tests = String::from("measure,test,a,b,statistic,df,p,p_holm,effect\n");
    for c in &r.comparisons {
        match &c.omnibus {
            Ok(o) => {
                let _ = writeln!(
                    tests,
                    "{},{},all,all,{:.4},{},{:.6},,{:.4}",
                    c.measure, c.test, o.statistic, o.df, o.p, o.effect
                );
            }
            Err(e) => {
                let _ = writeln!(tests, "{},{},all,all,,,,,\"{}\"", c.measure, c.test, e.replace('"', "'"));
            }
        }
        let pair_test = if c.test == "Friedman" { "Wilcoxon signed-rank" } else { "Mann-Whitney" };
        for p in &c.pairs {
            let _ =
                writeln!(tests, "{},{pair_test},{},{},,,{:.6},{:.6},{:.4}", c.measure, p.a, p.b, p.p, p.p_holm, p.r);
        }
    }
    (est, tests)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A dot-and-interval plot of one estimate per layout, as SVG.
fn plot(title: &str, unit: &str, rows: &[(String, f64, (f64, f64))]) -> String {
    let max = rows.iter().map(|(_, _, (_, hi))| *hi).fold(0.0_f64, f64::max).max(1e-9) * 1.1;
    let (label_w, plot_w, row_h) = (280.0, 360.0, 22.0);
    let h = 40.0 + row_h * rows.len() as f64;
    let x = |v: f64| label_w + plot_w * v / max;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"sans-serif\" font-size=\"12\"><title>{t}</title>\n",
        w = label_w + plot_w + 80.0,
        t = esc(title)
    );
    let _ = writeln!(s, "<text x=\"{label_w}\" y=\"14\">{} ({}; 95 % interval)</text>", esc(title), esc(unit));
    for (i, (name, est, (lo, hi))) in rows.iter().enumerate() {
        let y = 32.0 + row_h * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#333\" stroke-width=\"2\"/>\
             <circle cx=\"{:.1}\" cy=\"{y}\" r=\"4\" fill=\"#0b5394\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"10\">{est:.1} [{lo:.1}, {hi:.1}]</text>",
            label_w - 8.0,
            y + 4.0,
            esc(name),
            x(*lo),
            x(*hi),
            x(*est),
            x(*hi) + 6.0,
            y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The report as one self-contained HTML page with SVG plots.
pub fn html(r: &Report, title: &str) -> String {
    let (est, tests) = csv(r);
    let table = |csv: &str| {
        let mut t = String::from("<table>");
        for (i, line) in csv.lines().enumerate() {
            let cell = if i == 0 { "th scope=\"col\"" } else { "td" };
            let end = if i == 0 { "th" } else { "td" };
            t.push_str("<tr>");
            for c in line.split(',') {
                let _ = write!(t, "<{cell}>{}</{end}>", esc(c.trim_matches('"')));
            }
            t.push_str("</tr>\n");
        }
        t.push_str("</table>\n");
        t
    };
    let time: Vec<(String, f64, (f64, f64))> =
        r.layouts.iter().map(|e| (e.layout.clone(), e.time_s.0, e.time_s.1)).collect();
    let sus: Vec<(String, f64, (f64, f64))> =
        r.layouts.iter().filter_map(|e| e.sus.map(|(m, ci)| (e.layout.clone(), m, ci))).collect();
    let errors: Vec<(String, f64, (f64, f64))> = r
        .layouts
        .iter()
        .map(|e| {
            (
                e.layout.clone(),
                100.0 * e.nist.error_rate,
                (100.0 * e.nist.error_rate_ci.0, 100.0 * e.nist.error_rate_ci.1),
            )
        })
        .collect();
    let design = match r.design {
        Design::Within => "within subjects (every participant in every layout, orders from a balanced Latin square)",
        Design::Between => "between subjects (each participant in one layout)",
    };
    let mut h = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font-family:sans-serif;max-width:72rem;margin:auto;padding:1rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #777;padding:.2rem .4rem;font-size:.85rem}}</style></head><body>\n<h1>{t}</h1>\n\
         <p>{} participants, {design}. Times are per ballot (all its tasks), SUS is the System Usability Scale \
         (0-100). Intervals: Wilson for rates, percentile bootstrap (2,000 resamples) for medians. Pairwise \
         p-values are adjusted by Holm's method; effect sizes are Kendall's W or ε² (omnibus) and r (pairs).</p>\n",
        r.participants,
        t = esc(title)
    );
    h.push_str("<h2>Per layout</h2>\n");
    h.push_str(&plot("Median time per ballot", "seconds", &time));
    if !sus.is_empty() {
        h.push_str(&plot("Median SUS score", "0-100", &sus));
    }
    h.push_str(&plot("Error rate", "% of contests", &errors));
    h.push_str(&table(&est));
    h.push_str("<h2>Across layouts</h2>\n");
    h.push_str(&table(&tests));
    h.push_str("</body></html>\n");
    h
}
