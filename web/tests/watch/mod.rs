//! Fails a test on any console error, uncaught exception, unhandled promise rejection or wasm panic in the page
//! while it ran (issue 17): a panic in an event handler or a MutationObserver callback does not fail the test that
//! caused it by itself, it only logs `RuntimeError: unreachable`. Each test holds a [`Watch`]; when it ends, the
//! watch asserts that nothing was seen beyond the expected messages it was given, each with its reason.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function watch_start() {
  if (globalThis.__ivoteWatch) { globalThis.__ivoteWatch.length = 0; return; }
  const seen = [];
  globalThis.__ivoteWatch = seen;
  const original = console.error;
  console.error = function (...args) {
    seen.push("console.error: " + args.map((a) => (a && a.stack) || String(a)).join(" "));
    return original.apply(console, args);
  };
  addEventListener("error", (e) => seen.push("uncaught: " + ((e.error && e.error.stack) || e.message)));
  addEventListener("unhandledrejection", (e) => seen.push("unhandled rejection: " + String(e.reason)));
}
export function watch_take() {
  const seen = globalThis.__ivoteWatch || [];
  return seen.splice(0, seen.length).join("\n\u0000");
}
"#)]
extern "C" {
    fn watch_start();
    fn watch_take() -> String;
}

/// A message a test expects, and why.
pub struct Expected {
    /// A part of the message.
    pub contains: &'static str,
    /// Why it is expected.
    pub reason: &'static str,
}

/// Watches the page from [`Watch::start`] until it drops.
pub struct Watch {
    expected: &'static [Expected],
}

impl Watch {
    /// Starts watching with nothing expected.
    pub fn start() -> Watch {
        Watch::expecting(&[])
    }

    /// Starts watching; messages containing one of `expected` are allowed.
    pub fn expecting(expected: &'static [Expected]) -> Watch {
        watch_start();
        Watch { expected }
    }

    /// The unexpected messages seen so far (and forgets them).
    pub fn unexpected(&self) -> Vec<String> {
        watch_take()
            .split("\n\u{0}")
            .filter(|m| !m.is_empty())
            .filter(|m| !self.expected.iter().any(|e| m.contains(e.contains)))
            .map(String::from)
            .collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let seen = self.unexpected();
        let allowed: Vec<String> = self.expected.iter().map(|e| format!("{:?} ({})", e.contains, e.reason)).collect();
        assert!(
            seen.is_empty(),
            "the page logged errors while the test ran:\n{}\n(expected ones: {})",
            seen.join("\n"),
            allowed.join("; ")
        );
    }
}
