//! `cargo xtask a11y-report` (issue 22 part 5): one self-contained HTML page for accessibility reviewers, made
//! from a fresh run of the accessibility tests against the real app: a screenshot of every layout of the
//! candidate screen (Japanese and English), both rule engines' results per screen (axe-core and IBM Equal
//! Access, WCAG 2.2 AA), what a screen reader hears on each layout (Chromium's accessibility tree as a
//! transcript), and the cost of each layout in key presses, clicks, pointer travel and scrolling, as a table and a
//! plot. It is written to `target/a11y/report.html`.
//!
//! `cargo xtask test` writes the same page from the artifacts of its own run ([`write`]), so the report cannot rot.
//! It must never report a screen it did not find an engine's result for as clean: a missing report is an error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use base64::Engine as _;
use serde_json::Value;

use crate::run::{cmd, root, sh};
use crate::{app, setup};

/// The e2e tests whose artifacts the report shows.
const TESTS: [&str; 4] = ["accessibility", "screen_reader", "cost", "gallery"];

/// Sets up, builds, runs the accessibility tests afresh and writes the report.
pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    let dist = app::build_voter_app()?;
    let bin = app::build_binaries()?;
    let target = root().join("target");
    for old in ["a11y", "axe-reports", "ace-reports"] {
        let dir = target.join(old);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    let mut c = cmd("cargo");
    c.args(["test", "--locked", "-p", "e2e"]);
    for t in TESTS {
        c.args(["--test", t]);
    }
    sh(c.env("E2E_WEB_DIST", &dist)
        .env("E2E_BIN_DIR", &bin)
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .current_dir(root()))?;
    let report = write(&target)?;
    println!("a11y-report: written to {}", report.display());
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The files in `dir` with this extension, sorted by name.
fn files(dir: &Path, ext: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{} is missing: run the accessibility tests first", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    Ok(out)
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// One screen's results from both engines: (screen, axe violations, axe "needs review", IBM violations).
fn engine_rows(target: &Path) -> anyhow::Result<Vec<(String, usize, usize, usize)>> {
    let mut rows = Vec::new();
    for axe in files(&target.join("axe-reports"), "json")? {
        let screen = stem(&axe);
        // The harness's self-check adds an unlabelled field on purpose, to see both engines catch it.
        if screen.starts_with("harness-") {
            continue;
        }
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&axe)?)?;
        let count = |k: &str| report[k].as_array().map_or(0, Vec::len);
        let ibm_file = target.join("ace-reports").join(format!("{screen}.json"));
        let ibm: Value = serde_json::from_str(
            &std::fs::read_to_string(&ibm_file)
                .with_context(|| format!("IBM Equal Access has no result for {screen}: {}", ibm_file.display()))?,
        )?;
        let ibm_violations = ibm["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                // As e2e::ace counts: a failed violation, not inside a closed <details> (checked open).
                let v = &r["value"];
                v[0] == "VIOLATION" && v[1] == "FAIL" && r["in_closed_details"] != true
            })
            .count();
        rows.push((screen, count("violations"), count("incomplete"), ibm_violations));
    }
    ensure!(!rows.is_empty(), "no axe-core result in {}", target.join("axe-reports").display());
    Ok(rows)
}

/// Writes `target/a11y/report.html` from the artifacts of the accessibility tests under `target`.
pub fn write(target: &Path) -> anyhow::Result<PathBuf> {
    let a11y = target.join("a11y");
    let transcripts = files(&a11y.join("transcripts"), "txt")?;
    let shots: Vec<PathBuf> =
        files(&target.join("e2e-screenshots"), "png")?.into_iter().filter(|p| stem(p).starts_with("a11y-")).collect();
    let cost_csv = std::fs::read_to_string(a11y.join("cost.csv")).context("target/a11y/cost.csv is missing")?;
    let cost_svg = std::fs::read_to_string(a11y.join("cost.svg")).context("target/a11y/cost.svg is missing")?;
    let engines = engine_rows(target)?;
    let layouts = transcripts.iter().filter(|t| stem(t) != "ja-session-warning").count();
    if layouts < 32 || shots.len() < 32 {
        bail!("the report needs the 16 layouts in both languages: {layouts} transcripts, {} screenshots", shots.len());
    }

    let mut h = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Accessibility report: the candidate screen</title>\n<style>\
         body{font-family:sans-serif;max-width:72rem;margin:auto;padding:1rem;line-height:1.5}\
         table{border-collapse:collapse}td,th{border:1px solid #777;padding:.2rem .5rem;text-align:left}\
         td.n{text-align:right}pre{background:#f4f4f4;padding:.5rem;overflow-x:auto;font-size:.85rem}\
         img{max-width:100%;border:1px solid #777}.fail{color:#b00020;font-weight:bold}\
         </style></head><body>\n<h1>Accessibility report: 在外選挙インターネット投票</h1>\n",
    );
    let total_axe: usize = engines.iter().map(|r| r.1).sum();
    let total_ibm: usize = engines.iter().map(|r| r.3).sum();
    let _ = write!(
        h,
        "<p>Made by <code>cargo xtask a11y-report</code> from the accessibility tests run against the real app in \
         headless Chromium. Target: JIS X 8341-3:2016 AA and WCAG 2.2 AA.</p>\n<ul>\
         <li><a href=\"#engines\">Rule engines</a>: {} screens, axe-core violations {total_axe}, IBM Equal Access \
         violations {total_ibm}</li><li><a href=\"#layouts\">Layouts</a>: {layouts} screenshots with what a screen \
         reader hears</li><li><a href=\"#cost\">Cost of each layout</a></li></ul>\n",
        engines.len()
    );

    h.push_str(
        "<h2 id=\"engines\">Rule engines per screen</h2>\n<p>axe-core (WCAG 2.0, 2.1, 2.2 A and AA rules) and IBM \
         Equal Access (WCAG 2.2 A and AA). \"Needs review\" is what axe-core could not decide, for a person to \
         check. The raw reports are in <code>target/axe-reports</code> and <code>target/ace-reports</code>.</p>\n\
         <table><thead><tr><th scope=\"col\">Screen</th><th scope=\"col\">axe-core violations</th>\
         <th scope=\"col\">axe-core needs review</th><th scope=\"col\">IBM violations</th></tr></thead><tbody>\n",
    );
    for (screen, axe, review, ibm) in &engines {
        let cell = |n: usize| {
            if n == 0 { format!("<td class=\"n\">{n}</td>") } else { format!("<td class=\"n fail\">{n}</td>") }
        };
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th>{}<td class=\"n\">{review}</td>{}</tr>",
            esc(screen),
            cell(*axe),
            cell(*ibm)
        );
    }
    h.push_str("</tbody></table>\n");

    h.push_str(
        "<h2 id=\"layouts\">Layouts and what a screen reader hears</h2>\n<p>Each layout of the candidate screen \
         from the reviewer's gallery, after 中村 翔太 is found and picked as a voter would in that mode, and the \
         page as a screen reader's browse mode reads it (Chromium's accessibility tree: a control by its role, \
         name and state; a heading with its level).</p>\n",
    );
    for t in &transcripts {
        let name = stem(t);
        let _ = writeln!(h, "<section><h3 id=\"{0}\">{0}</h3>", esc(&name));
        if let Some(shot) = shots.iter().find(|s| stem(s) == format!("a11y-{name}")) {
            let png = base64::engine::general_purpose::STANDARD.encode(std::fs::read(shot)?);
            let _ = writeln!(h, "<img alt=\"The {} layout\" src=\"data:image/png;base64,{png}\">", esc(&name));
        }
        let _ = writeln!(
            h,
            "<details><summary>What a screen reader hears</summary><pre>{}</pre></details></section>",
            esc(&std::fs::read_to_string(t)?)
        );
    }

    h.push_str(
        "<h2 id=\"cost\">Cost of each layout</h2>\n<p>Key presses (typing included, one per kana), clicks, pointer \
         travel and scrolling (CSS px at 1280 × 900) to choose the k-th of N entries, measured by driving the app. \
         The drum roll's rotated start differs per participant, so its figures differ between runs.</p>\n<figure>",
    );
    h.push_str(&cost_svg);
    h.push_str("<figcaption>Key presses to choose the middle entry.</figcaption></figure>\n<table>");
    for (i, line) in cost_csv.lines().enumerate() {
        let cells: Vec<String> = line.split(',').map(esc).collect();
        let row = if i == 0 {
            cells.iter().map(|c| format!("<th scope=\"col\">{c}</th>")).collect::<String>()
        } else {
            cells.iter().map(|c| format!("<td>{c}</td>")).collect::<String>()
        };
        let _ = writeln!(h, "<tr>{row}</tr>");
    }
    h.push_str("</table>\n</body></html>\n");

    std::fs::create_dir_all(&a11y)?;
    let out = a11y.join("report.html");
    std::fs::write(&out, h)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path, layouts: usize, ibm_for_every_screen: bool) {
        let t = dir.join("a11y/transcripts");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::create_dir_all(dir.join("e2e-screenshots")).unwrap();
        for i in 0..layouts {
            std::fs::write(t.join(format!("ja-layout{i}.txt")), "[radio] <script>alert(1)</script> (checked)\n")
                .unwrap();
            std::fs::write(dir.join(format!("e2e-screenshots/a11y-ja-layout{i}.png")), [0x89, b'P', b'N', b'G'])
                .unwrap();
        }
        std::fs::write(dir.join("a11y/cost.csv"), "layout,n\nlist/one_screen/first,10\n").unwrap();
        std::fs::write(dir.join("a11y/cost.svg"), "<svg></svg>").unwrap();
        for engine in ["axe-reports", "ace-reports"] {
            std::fs::create_dir_all(dir.join(engine)).unwrap();
        }
        std::fs::write(dir.join("axe-reports/start.json"), r#"{"violations":[{"id":"x"}],"incomplete":[]}"#).unwrap();
        std::fs::write(dir.join("axe-reports/harness-self-check.json"), r#"{"violations":[{"id":"x"}]}"#).unwrap();
        if ibm_for_every_screen {
            std::fs::write(
                dir.join("ace-reports/start.json"),
                r#"{"results":[{"value":["VIOLATION","FAIL"]},{"value":["RECOMMENDATION","FAIL"]}]}"#,
            )
            .unwrap();
        }
    }

    #[test]
    fn the_report_shows_every_part_and_escapes_what_it_quotes() {
        let dir = tempfile_dir("full");
        fixture(&dir, 32, true);
        let html = std::fs::read_to_string(write(&dir).unwrap()).unwrap();
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>alert"));
        assert!(html.contains("data:image/png;base64,iVBORw"), "screenshots are embedded");
        assert!(html.contains("<td class=\"n fail\">1</td>"), "a violation is shown as one");
        assert!(html.contains("<svg></svg>") && html.contains("<td>list/one_screen/first</td>"));
        assert!(!html.contains("harness-self-check"), "the harness's own check is not a screen of the app");
    }

    #[test]
    fn a_missing_engine_result_or_layout_is_an_error_not_a_clean_report() {
        let dir = tempfile_dir("no-ibm");
        fixture(&dir, 32, false);
        assert!(write(&dir).unwrap_err().to_string().contains("IBM Equal Access has no result for start"));
        let dir = tempfile_dir("few");
        fixture(&dir, 3, true);
        assert!(write(&dir).unwrap_err().to_string().contains("3 transcripts"));
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-a11y-report-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
