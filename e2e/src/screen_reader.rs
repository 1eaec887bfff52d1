//! What a screen reader hears (issue 22 part 3), read from Chromium's own accessibility tree, the tree that NVDA,
//! JAWS, VoiceOver and Orca are given: DevTools' `Accessibility.getFullAXTree` through chromedriver's
//! `goog/cdp/execute`.
//!
//! - [`tree`]: the page's accessibility tree, in document order, without the nodes Chromium ignores;
//! - [`transcript`]: the tree as a screen reader's browse mode reads it, one line per thing it says: a control
//!   by its role, name and state (its content is its name), a heading with its level, a landmark, group or list
//!   with its name, and the text between them;
//! - [`live_announcements`]: what the page's live regions announce while it runs, watched with a
//!   `MutationObserver` (a region re-announces when its text changes);
//! - [`tab_order`]: the boxes of the elements Tab visits, to compare with the visual order.

use std::collections::HashMap;

use anyhow::Context;
use serde_json::{Value, json};

use crate::Browser;

/// One node of the accessibility tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The role (`radio`, `heading`, `StaticText`, …).
    pub role: String,
    /// The accessible name.
    pub name: String,
    /// Its properties as strings (`checked`, `level`, `expanded`, `disabled`, `focused`, …).
    pub properties: Vec<(String, String)>,
    /// How deep it sits.
    pub depth: usize,
    /// Whether a screen reader reads its content as its name (a control or a heading): its subtree is not read.
    pub atomic: bool,
}

impl Node {
    /// A property's value.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The roles whose content a screen reader reads as their name.
const ATOMIC: [&str; 12] = [
    "button",
    "checkbox",
    "radio",
    "link",
    "textbox",
    "searchbox",
    "combobox",
    "heading",
    "option",
    "menuitem",
    "switch",
    "timer",
];

/// The roles a browse mode passes over without a word.
const SILENT: [&str; 8] =
    ["generic", "none", "InlineTextBox", "LineBreak", "RootWebArea", "paragraph", "LabelText", "ruby"];

/// The roles whose name is their own text, which is read on the lines below them: the name is not said twice.
const NAMED_BY_CONTENT: [&str; 13] = [
    "term",
    "definition",
    "Legend",
    "listitem",
    "strong",
    "emphasis",
    "time",
    "cell",
    "columnheader",
    "rowheader",
    "row",
    "code",
    "paragraph",
];

/// The properties a screen reader says.
const SPOKEN: [&str; 8] = ["checked", "expanded", "disabled", "required", "invalid", "level", "pressed", "selected"];

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: one DevTools command.
#[derive(Debug)]
struct Cdp(&'static str, Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.0, "params": self.1 }).to_string()))
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The page's accessibility tree in document order, without ignored nodes.
pub async fn tree(b: &Browser) -> anyhow::Result<Vec<Node>> {
    let got = b.client.issue_cmd(Cdp("Accessibility.getFullAXTree", json!({}))).await.context("getFullAXTree")?;
    let nodes = got["nodes"].as_array().context("no nodes in the accessibility tree")?;
    let by_id: HashMap<&str, &Value> = nodes.iter().filter_map(|n| Some((n["nodeId"].as_str()?, n))).collect();
    let root = nodes.iter().find(|n| n.get("parentId").is_none()).context("no root")?;
    let mut out = Vec::new();
    let mut stack = vec![(root, 0usize, false)];
    while let Some((n, depth, inside_atomic)) = stack.pop() {
        let role = text(&n["role"]["value"]);
        let ignored = n["ignored"].as_bool().unwrap_or(false);
        let atomic = ATOMIC.contains(&role.as_str());
        if !ignored && !inside_atomic {
            let properties = n["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (text(&p["name"]), text(&p["value"]["value"])))
                .collect();
            out.push(Node { role, name: text(&n["name"]["value"]), properties, depth, atomic });
        }
        let children = n["childIds"].as_array().into_iter().flatten().rev();
        for c in children.filter_map(|c| by_id.get(c.as_str()?)) {
            stack.push((c, depth + usize::from(!ignored), inside_atomic || (atomic && !ignored)));
        }
    }
    Ok(out)
}

/// The tree as a browse mode reads it, one line per thing said, indented by depth.
pub fn transcript(nodes: &[Node]) -> String {
    let mut lines = Vec::new();
    for n in nodes {
        let role = n.role.as_str();
        if SILENT.contains(&role) && n.name.is_empty() || role == "InlineTextBox" || role == "RootWebArea" {
            continue;
        }
        let indent = "  ".repeat(n.depth.min(12));
        if role == "StaticText" {
            if !n.name.trim().is_empty() {
                lines.push(format!("{indent}{}", n.name.trim()));
            }
            continue;
        }
        let states: Vec<String> = SPOKEN
            .iter()
            .filter_map(|p| {
                let v = n.property(p)?;
                match (*p, v) {
                    (_, "false") | (_, "") => None,
                    ("level", v) if role == "heading" => Some(format!("level {v}")),
                    ("level", _) => None,
                    (p, "true") => Some(p.to_string()),
                    (p, v) => Some(format!("{p} {v}")),
                }
            })
            .collect();
        let mut line = format!("{indent}[{role}]");
        if !n.name.is_empty() && !NAMED_BY_CONTENT.contains(&role) {
            line.push_str(&format!(" {}", n.name));
        }
        if (role == "radio" || role == "checkbox") && !states.iter().any(|s| s == "checked") {
            line.push_str(" (not checked)");
        }
        if !states.is_empty() {
            line.push_str(&format!(" ({})", states.join(", ")));
        }
        if let Some(live) = n.property("live").filter(|l| *l != "off") {
            line.push_str(&format!(" <live: {live}>"));
        }
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

/// Starts recording what the live regions announce: each time a live region's text changes to something not
/// empty, its new text is one announcement. Read with [`live_announcements`].
pub async fn watch_live_regions(b: &Browser) -> anyhow::Result<()> {
    b.client
        .execute(
            "window.__announced = [];
             const live = e => e && e.closest && e.closest('[aria-live]:not([aria-live=off]), [role=alert], [role=status], [role=log]');
             const last = new Map();
             const seen = () => {
               for (const r of document.querySelectorAll('[aria-live]:not([aria-live=off]), [role=alert], [role=status], [role=log]')) {
                 const t = r.textContent.trim();
                 if (t && last.get(r) !== t) window.__announced.push(t);
                 last.set(r, t);
               }
             };
             for (const r of document.querySelectorAll('[aria-live]:not([aria-live=off]), [role=alert], [role=status], [role=log]'))
               last.set(r, r.textContent.trim());
             new MutationObserver(ms => { if (ms.some(m => live(m.target.nodeType === 1 ? m.target : m.target.parentElement))) seen(); })
               .observe(document.body, { subtree: true, childList: true, characterData: true });",
            vec![],
        )
        .await?;
    Ok(())
}

/// What the live regions announced since [`watch_live_regions`], in order.
pub async fn live_announcements(b: &Browser) -> anyhow::Result<Vec<String>> {
    let v = b.client.execute("return window.__announced || [];", vec![]).await?;
    Ok(v.as_array().into_iter().flatten().map(text).collect())
}

/// One stop of the Tab key: the element and its box.
#[derive(Clone, Debug, PartialEq)]
pub struct Stop {
    /// `tag#id`.
    pub name: String,
    /// Its box: left, top, right, bottom, in page coordinates.
    pub rect: [f64; 4],
}

/// Presses Tab from the start of `scope` up to `max` times while the focus stays inside it, and returns each
/// focused element's box in page coordinates.
pub async fn tab_order(b: &Browser, scope: &str, max: usize) -> anyhow::Result<Vec<Stop>> {
    b.client
        .execute(
            "const s = document.querySelector(arguments[0]); s.setAttribute('tabindex', '-1'); s.focus();",
            vec![json!(scope)],
        )
        .await?;
    let mut stops = Vec::new();
    for _ in 0..max {
        b.client.active_element().await?.send_keys(&fantoccini::key::Key::Tab.to_string()).await?;
        let v = b
            .client
            .execute(
                "const e = document.activeElement; const s = document.querySelector(arguments[0]);
                 if (!e || !s.contains(e) || e === s) return null;
                 const r = e.getBoundingClientRect();
                 return [e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''), r.left + scrollX, r.top + scrollY,
                         r.right + scrollX, r.bottom + scrollY];",
                vec![json!(scope)],
            )
            .await?;
        let Some(a) = v.as_array() else { break };
        let f = |i: usize| a[i].as_f64().unwrap_or_default();
        stops.push(Stop { name: text(&a[0]), rect: [f(1), f(2), f(3), f(4)] });
    }
    Ok(stops)
}

/// The pairs of successive Tab stops where the focus goes back up the page or, on the same line, to the left:
/// where the focus order leaves the visual (reading) order.
pub fn out_of_visual_order(stops: &[Stop]) -> Vec<String> {
    stops
        .windows(2)
        .filter_map(|w| {
            let ([l0, t0, _, b0], [l1, t1, _, b1]) = (w[0].rect, w[1].rect);
            // On the same line when the boxes overlap vertically by half the smaller one.
            let overlap = b0.min(b1) - t0.max(t1);
            let same_line = overlap >= 0.5 * (b0 - t0).min(b1 - t1);
            let backwards = if same_line { l1 < l0 - 1.0 } else { t1 < t0 - 1.0 };
            backwards.then(|| format!("{} at ({l0:.0}, {t0:.0}) then {} at ({l1:.0}, {t1:.0})", w[0].name, w[1].name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(name: &str, l: f64, t: f64) -> Stop {
        Stop { name: name.into(), rect: [l, t, l + 40.0, t + 40.0] }
    }

    #[test]
    fn the_visual_order_is_top_to_bottom_then_left_to_right() {
        let ok = [stop("a", 0.0, 0.0), stop("b", 50.0, 5.0), stop("c", 0.0, 60.0), stop("d", 0.0, 200.0)];
        assert!(out_of_visual_order(&ok).is_empty());
        let up = [stop("a", 0.0, 100.0), stop("b", 0.0, 0.0)];
        assert_eq!(out_of_visual_order(&up).len(), 1);
        let left = [stop("a", 100.0, 0.0), stop("b", 0.0, 0.0)];
        assert_eq!(out_of_visual_order(&left).len(), 1);
    }

    #[test]
    fn a_control_is_one_line_with_its_state_and_its_content_is_not_read_again() {
        let n = |role: &str, name: &str, props: &[(&str, &str)], depth| Node {
            role: role.into(),
            name: name.into(),
            properties: props.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            depth,
            atomic: ATOMIC.contains(&role),
        };
        let t = transcript(&[
            n("heading", "東京都選挙区", &[("level", "3")], 0),
            n("radio", "中村 翔太（なかむら しょうた） 未来党", &[("checked", "true")], 1),
            n("radio", "山田 太郎（やまだ たろう）", &[("checked", "false")], 1),
            n("StaticText", "候補", &[], 1),
            n("generic", "", &[], 1),
        ]);
        assert_eq!(
            t,
            "[heading] 東京都選挙区 (level 3)\n  [radio] 中村 翔太（なかむら しょうた） 未来党 (checked)\n  \
             [radio] 山田 太郎（やまだ たろう） (not checked)\n  候補\n"
        );
    }
}
