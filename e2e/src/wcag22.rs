//! Two WCAG 2.2 AA criteria that neither rule engine measures, checked in the real page (issue 22 part 3):
//! - [`small_targets`]: 2.5.8 Target Size (Minimum), every pointer target at least 24 × 24 CSS px (a control
//!   inside a `<label>` counts with its label, which acts on it; a link inside a sentence is exempt);
//! - [`obscured_on_focus`]: 2.4.11 Focus Not Obscured (Minimum), every focusable element, focused in turn as Tab
//!   does (the browser scrolls it into view), is not covered by anything else, such as the sticky status bar.
//!
//! Each returns what fails, named by tag and id, for the caller to assert empty.

use serde_json::Value;

use crate::Browser;

/// The JavaScript that names an element: `tag#id.class`.
const NAME: &str = "const name = x => x ? x.tagName.toLowerCase() + (x.id ? '#' + x.id : '') +
    (typeof x.className === 'string' && x.className ? '.' + x.className.trim().split(/\\s+/).join('.') : '') : 'nothing';
  const shown = e => { if (e.disabled || e.closest('[hidden], .skip-link') || e.getClientRects().length === 0) return false;
    if (e.closest('details:not([open])') && !e.closest('summary')) return false;
    const s = getComputedStyle(e); return s.display !== 'none' && s.visibility !== 'hidden'; };";

async fn strings(b: &Browser, script: &str) -> anyhow::Result<Vec<String>> {
    let found: Value = b.client.execute(&format!("{NAME}\n{script}"), vec![]).await?;
    Ok(found.as_array().into_iter().flatten().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
}

/// The pointer targets smaller than 24 × 24 CSS px (WCAG 2.5.8).
pub async fn small_targets(b: &Browser) -> anyhow::Result<Vec<String>> {
    strings(
        b,
        "const out = [];
         for (const e of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
           if (!shown(e)) continue;
           if (e.tagName === 'A' && getComputedStyle(e).display === 'inline' && e.parentElement &&
               e.parentElement.textContent.trim().length > e.textContent.trim().length) continue;
           const r = (e.closest('label') || e).getBoundingClientRect();
           if (r.width < 23.99 || r.height < 23.99) out.push(`${name(e)} is ${r.width.toFixed(1)} × ${r.height.toFixed(1)} px`);
         }
         return out;",
    )
    .await
}

/// The focusable elements whose centre is covered by something else once focused (WCAG 2.4.11). Leaves the focus
/// on the last element and the page scrolled to it.
pub async fn obscured_on_focus(b: &Browser) -> anyhow::Result<Vec<String>> {
    strings(
        b,
        "const out = [];
         for (const e of document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex=\"-1\"])')) {
           if (!shown(e)) continue;
           e.focus();
           if (document.activeElement !== e) continue;
           const r = e.getBoundingClientRect();
           const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
           const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
           const hit = document.elementFromPoint(x, y);
           const label = e.closest('label');
           if (!hit || !(e.contains(hit) || hit.contains(e) || (label && label.contains(hit))))
             out.push(`${name(e)} under ${name(hit)} at ${r.top.toFixed(0)}..${r.bottom.toFixed(0)}`);
         }
         return out;",
    )
    .await
}
