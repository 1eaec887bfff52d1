//! Building the voter app with Trunk (release mode, no downloads) and the native binaries.

use std::path::PathBuf;

use crate::run::{cmd, root, sh, target_dir, web_cmd};

/// Builds the voter app into web/dist and returns that folder.
pub fn build_voter_app() -> anyhow::Result<PathBuf> {
    sh(web_cmd("trunk").args(["build", "--release"]).env("NO_COLOR", "true"))?;
    Ok(root().join("web/dist"))
}

/// Builds the workspace's binaries (verifier, …) in the given profile.
pub fn build_binaries(release: bool) -> anyhow::Result<PathBuf> {
    let mut c = cmd("cargo");
    c.args(["build", "--workspace", "--bins", "--locked"]).current_dir(root());
    if release {
        c.arg("--release");
    }
    sh(&mut c)?;
    Ok(target_dir().join(if release { "release" } else { "debug" }))
}
