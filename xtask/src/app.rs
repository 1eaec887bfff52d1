//! Building the voter app with Trunk (release mode, no downloads) and the native binaries for the tests.

use std::path::PathBuf;

use crate::run::{cmd, root, sh, target_dir, trunk_cmd};

/// Builds the voter app into web/dist for the tests (release mode; the published build is `release::build`), and
/// returns that folder.
pub fn build_voter_app() -> anyhow::Result<PathBuf> {
    sh(trunk_cmd().args(["build", "--release"]).env("NO_COLOR", "true"))?;
    Ok(root().join("web/dist"))
}

/// Builds the workspace's binaries (verifier, …) for the tests (debug; the release build is `release::build`).
pub fn build_binaries() -> anyhow::Result<PathBuf> {
    sh(cmd("cargo").args(["build", "--workspace", "--bins", "--locked"]).current_dir(root()))?;
    Ok(target_dir().join("debug"))
}
