//! `e2e`: the harness for end-to-end tests: the real `verifier` binary and the built voter app, driven in real
//! headless Chromium over WebDriver (chromedriver from Debian, fantoccini). Every process is started on a free
//! loopback port and killed when its guard drops, also when a test panics.
//!
//! The tests read `E2E_BIN_DIR` (the built binaries) and `E2E_WEB_DIST` (Trunk's dist/), which
//! `cargo xtask test` sets; without them they use the folder cargo built them into (so `CARGO_TARGET_DIR` is
//! followed) and web/dist, and say what to build when those are missing.
//!
//! Map: this file (where things are: the repository, the binaries, the app, the screenshots), `process`
//! ([`ProcessGroup`], [`Verifier`], the card helper), `browser` ([`Browser`] and the log it must end clean of), `line`
//! (a slow [`Line`] for the browser), `live` ([`LiveElection`], a live election on loopback), [`axe`] (axe-core
//! injected into the real page, its reports saved), [`smtp`] (a real SMTP server on loopback), [`rehearsal`] (the whole
//! election, R-SYS-6, run by tests/rehearsal.rs and `cargo xtask rehearsal`), [`first_render`] (the voter app's time to
//! first render, run by `cargo xtask bench`), [`ace`] (IBM's engine), [`wcag22`] (target size and focus not obscured),
//! [`cost`] (key presses and pointer travel per layout), [`screen_reader`] (what a screen reader hears: Chromium's
//! accessibility tree as a transcript, the live regions' announcements, the Tab order against the visual order).
#![allow(clippy::expect_used)]

pub mod ace;
pub mod axe;
pub mod committee;
pub mod cost;
pub mod first_render;
pub mod rehearsal;
pub mod screen_reader;
pub mod smtp;
pub mod wcag22;

mod browser;
mod line;
mod live;
mod process;

pub use browser::{Browser, Expected, NO_HELPER};
pub use line::Line;
pub use live::{Committee, LiveElection};
pub use process::{ProcessGroup, Verifier, free_port};

use std::path::{Path, PathBuf};

use anyhow::bail;

/// Returns the repository root.
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Returns the folder of the built binaries: `E2E_BIN_DIR`, or else the folder cargo built this program into
/// (a test runs from `<target>/<profile>/deps`, a binary from `<target>/<profile>`), so that it follows
/// `CARGO_TARGET_DIR` and build profiles (issue 17).
pub fn bin_dir() -> PathBuf {
    std::env::var_os("E2E_BIN_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().ok();
        let dir =
            exe.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| root().join("target/debug"));
        if dir.ends_with("deps") { dir.parent().map(Path::to_path_buf).unwrap_or(dir) } else { dir }
    })
}

/// The 16 layouts of the candidate screen, as the reviewer's gallery names them: (selection, display, drum start),
/// each selection mode with one screen, scroll, and the drum roll from the first entry and from a rotated one.
pub fn gallery_layouts() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out = Vec::new();
    for sel in ["list", "free_word_search", "initial_letter_input", "initial_letter_select"] {
        for (disp, drum) in
            [("one_screen", "first"), ("scroll", "first"), ("drum_roll", "first"), ("drum_roll", "rotated")]
        {
            out.push((sel, disp, drum));
        }
    }
    out
}

/// Returns the target directory the binaries were built in (the parent of [`bin_dir`]).
pub fn target_dir() -> PathBuf {
    let bin = bin_dir();
    bin.parent().map(Path::to_path_buf).unwrap_or(bin)
}

/// Returns the built voter app.
pub fn web_dist() -> anyhow::Result<PathBuf> {
    let dist = std::env::var_os("E2E_WEB_DIST").map(PathBuf::from).unwrap_or_else(|| root().join("web/dist"));
    if !dist.join("index.html").exists() {
        bail!("{} has no index.html: build the voter app first (cargo xtask test does)", dist.display());
    }
    Ok(dist)
}

/// Returns where screenshots for reviewers are saved.
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("e2e-screenshots")
}
