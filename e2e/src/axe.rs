//! axe-core in the real page: the pinned `axe.min.js` that `cargo xtask setup` vendors under
//! `.tools/npm/node_modules/axe-core/` is injected into the page under test and run with the WCAG 2.0, 2.1 and 2.2
//! A/AA rules (JIS X 8341-3:2016 AA is WCAG 2.0 AA; 2.1 and 2.2 add to it). Nothing is downloaded at test time.
//! Every run's full JSON report is saved under target/axe-reports/SCREEN.json for reviewers.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::{Browser, root};

/// The rule tags run: every WCAG A and AA success criterion axe-core can test automatically.
pub const TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/// Returns the vendored axe-core script.
pub fn script_path() -> PathBuf {
    root().join(".tools/npm/node_modules/axe-core/axe.min.js")
}

/// Returns where the JSON reports are saved.
pub fn report_dir() -> PathBuf {
    crate::target_dir().join("axe-reports")
}

/// One rule that failed on a screen, with the elements it failed on.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The screen's name, as given to [`run`].
    pub screen: String,
    /// axe-core's rule id (e.g. `color-contrast`).
    pub rule: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    /// What the rule asks for.
    pub help: String,
    /// CSS selectors of the failing elements, each with axe-core's summary of what to fix.
    pub nodes: Vec<(String, String)>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "[{}] {} ({}): {}", self.screen, self.rule, self.impact, self.help)?;
        for (target, summary) in &self.nodes {
            writeln!(f, "    {target}: {}", summary.replace('\n', " / "))?;
        }
        Ok(())
    }
}

/// Returns the version of the vendored axe-core (for reports and the accessibility statement's figures).
pub fn version() -> anyhow::Result<String> {
    let package = root().join(".tools/npm/node_modules/axe-core/package.json");
    let text = std::fs::read_to_string(&package)
        .with_context(|| format!("read {}: run `cargo xtask setup` to vendor axe-core", package.display()))?;
    let json: Value = serde_json::from_str(&text)?;
    json["version"].as_str().map(str::to_string).context("axe-core's package.json has no version")
}

/// Injects a vendored script into the current page unless its global (`window.NAME`) is there already (once per
/// page load).
pub(crate) async fn inject(b: &Browser, global: &str, path: &std::path::Path) -> anyhow::Result<()> {
    let present = b.client.execute(&format!("return typeof window.{global} === 'object';"), vec![]).await?;
    if present != Value::Bool(true) {
        let source = std::fs::read_to_string(path)
            .with_context(|| format!("read {}: run `cargo xtask setup` to vendor it", path.display()))?;
        // WebDriver runs the script in a function: a `var` global of the script (IBM's `ace`) stays local
        // unless it is put on the window.
        b.client.execute(&format!("{source}\n;window.{global} = {global};return true;"), vec![]).await?;
    }
    Ok(())
}

/// Saves an engine's report for reviewers as target/DIR/SCREEN.json.
pub(crate) fn save(dir: &std::path::Path, screen: &str, report: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(format!("{screen}.json")), serde_json::to_string_pretty(report)?)?;
    Ok(())
}

/// Injects axe-core into the current page (once per page load) and runs it on the whole document; saves the
/// report as target/axe-reports/SCREEN.json and returns the violations.
pub async fn run(b: &Browser, screen: &str) -> anyhow::Result<Vec<Violation>> {
    inject(b, "axe", &script_path()).await?;
    let answer = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: arguments[0] }, resultTypes: ['violations'] })
               .then(r => done(JSON.stringify(r)), e => done(JSON.stringify({ error: String(e) })));",
            vec![serde_json::json!(TAGS)],
        )
        .await?;
    let text = answer.as_str().context("axe.run answered no JSON")?;
    let report: Value = serde_json::from_str(text)?;
    if let Some(e) = report.get("error") {
        bail!("axe.run failed on {screen}: {e}");
    }
    save(&report_dir(), screen, &report)?;
    let violations = report["violations"].as_array().cloned().unwrap_or_default();
    Ok(violations
        .iter()
        .map(|v| Violation {
            screen: screen.to_string(),
            rule: v["id"].as_str().unwrap_or_default().to_string(),
            impact: v["impact"].as_str().unwrap_or_default().to_string(),
            help: v["help"].as_str().unwrap_or_default().to_string(),
            nodes: v["nodes"]
                .as_array()
                .map(|nodes| {
                    nodes
                        .iter()
                        .map(|n| {
                            (n["target"].to_string(), n["failureSummary"].as_str().unwrap_or_default().to_string())
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
}
