//! IBM's Equal Access engine in the real page, beside axe-core (issue 22 part 2): the pinned `ace.js` of the npm
//! package `accessibility-checker-engine`, which `cargo xtask setup` vendors under
//! `.tools/npm/node_modules/accessibility-checker-engine/`, is injected into the page under test and run with its
//! `WCAG_2_2` policy (the A and AA success criteria). A result that is a `VIOLATION` and `FAIL`s is a violation;
//! the engine's "potential" findings and recommendations ask a person to look, so they are kept in the report for
//! reviewers and not counted. Neither is a finding inside a closed `<details>`: nothing there is rendered, so the
//! engine sees no label for a labelled control (`input_label_exists`, `fieldset_label_valid`); the tests check each
//! such panel again open, where the same controls pass. Nothing is downloaded at test time (the engine's wrapper, `accessibility-checker`,
//! would fetch its rules). Every run's report is saved under target/ace-reports/SCREEN.json.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::axe::{Violation, inject, save};
use crate::{Browser, root};

/// The engine's policy run: WCAG 2.2, levels A and AA.
pub const POLICY: &str = "WCAG_2_2";

/// Returns the vendored engine.
pub fn script_path() -> PathBuf {
    root().join(".tools/npm/node_modules/accessibility-checker-engine/ace.js")
}

/// Returns where the JSON reports are saved.
pub fn report_dir() -> PathBuf {
    crate::target_dir().join("ace-reports")
}

/// Returns the version of the vendored engine.
pub fn version() -> anyhow::Result<String> {
    let package = root().join(".tools/npm/node_modules/accessibility-checker-engine/package.json");
    let text = std::fs::read_to_string(&package)
        .with_context(|| format!("read {}: run `cargo xtask setup` to vendor the engine", package.display()))?;
    let json: Value = serde_json::from_str(&text)?;
    json["version"].as_str().map(str::to_string).context("the engine's package.json has no version")
}

/// Injects the engine into the current page (once per page load) and checks the whole document; saves the report
/// as target/ace-reports/SCREEN.json and returns the violations, one per rule with the elements it failed on.
pub async fn run(b: &Browser, screen: &str) -> anyhow::Result<Vec<Violation>> {
    inject(b, "ace", &script_path()).await?;
    let answer = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const closed = x => {
               const n = document.evaluate(x.path.dom, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
               return !!(n && n.closest && n.closest('details:not([open])') && !n.closest('summary'));
             };
             new ace.Checker().check(document, [arguments[0]])
               .then(r => done(JSON.stringify({
                        results: r.results.filter(x => x.value[1] !== 'PASS').map(x => Object.assign(x, { in_closed_details: closed(x) })),
                        counts: r.summary && r.summary.counts })),
                     e => done(JSON.stringify({ error: String(e) })));",
            vec![serde_json::json!(POLICY)],
        )
        .await?;
    let text = answer.as_str().context("the engine answered no JSON")?;
    let report: Value = serde_json::from_str(text)?;
    if let Some(e) = report.get("error") {
        bail!("the IBM engine failed on {screen}: {e}");
    }
    save(&report_dir(), screen, &report)?;
    let mut by_rule: BTreeMap<String, Violation> = BTreeMap::new();
    for r in report["results"].as_array().into_iter().flatten() {
        // Inside a closed <details> nothing is rendered, so the engine finds no label it can see for a labelled
        // control; each such panel is checked again open (the settings, the application form).
        if r["value"][0] != "VIOLATION" || r["value"][1] != "FAIL" || r["in_closed_details"] == true {
            continue;
        }
        let rule = r["ruleId"].as_str().unwrap_or_default().to_string();
        let entry = by_rule.entry(rule.clone()).or_insert_with(|| Violation {
            screen: screen.to_string(),
            rule,
            impact: "violation".into(),
            help: r["message"].as_str().unwrap_or_default().to_string(),
            nodes: Vec::new(),
        });
        let path = r["path"]["dom"].as_str().unwrap_or_default().to_string();
        entry.nodes.push((path, r["message"].as_str().unwrap_or_default().to_string()));
    }
    Ok(by_rule.into_values().collect())
}
