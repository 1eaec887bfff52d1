//! Running commands: every command is printed before it runs, and a failure names the command.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The Rust toolchain name under which the wasm32-capable Debian compiler is linked into rustup.
pub const WEB_TOOLCHAIN: &str = "web-1.96";

/// Returns the repository root (the parent of xtask/).
pub fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Returns the workspace's target directory as cargo resolves it (`CARGO_TARGET_DIR`, `build.target-dir` in a
/// config file, or `target/`), from `cargo metadata`: every path to a built file starts here (issue 17).
pub fn target_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| target_dir_of(&mut cmd("cargo"))).clone()
}

/// Asks `cargo metadata`, run as `c`, for the target directory; falls back to `target/` if cargo cannot say.
pub(crate) fn target_dir_of(c: &mut Command) -> PathBuf {
    let out = output(c.args(["metadata", "--format-version", "1", "--no-deps", "--offline"]).current_dir(root()));
    out.and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
        .and_then(|v| v["target_directory"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| root().join("target"))
}

/// Returns the folder of project-local tools (npm packages), ignored by git.
pub fn tools_dir() -> PathBuf {
    root().join(".tools")
}

/// Returns a PATH with cargo's bin folder and the project-local npm tools in front.
pub fn tool_path() -> std::ffi::OsString {
    let mut dirs = vec![tools_dir().join("npm/node_modules/.bin")];
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(cargo_home).join("bin"));
    } else if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Creates a command with the project's tool PATH.
pub fn cmd(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env("PATH", tool_path());
    c
}

/// Creates a command that runs in web/ with the wasm-capable toolchain. `cargo xtask` itself runs under rustup's
/// stable, which sets RUSTUP_TOOLCHAIN for its children and would override web/rust-toolchain.toml.
pub fn web_cmd(program: impl AsRef<OsStr>) -> Command {
    let mut c = cmd(program);
    c.current_dir(root().join("web")).env("RUSTUP_TOOLCHAIN", WEB_TOOLCHAIN);
    c
}

/// Creates a Trunk command that runs at the repository's root (Trunk.toml, index.html) with the wasm-capable
/// toolchain. Trunk runs cargo in its own working directory with `--manifest-path web/Cargo.toml`, and rustup
/// picks the toolchain from the working directory, not from the manifest, so web/rust-toolchain.toml does not
/// apply there.
pub fn trunk_cmd() -> Command {
    let mut c = cmd("trunk");
    c.current_dir(root()).env("RUSTUP_TOOLCHAIN", WEB_TOOLCHAIN);
    c
}

/// Runs a command with inherited output, failing with the command line if it fails.
pub fn sh(c: &mut Command) -> anyhow::Result<()> {
    let line = describe(c);
    println!("$ {line}");
    let status = c.status().with_context(|| format!("could not start: {line}"))?;
    if !status.success() {
        bail!("command failed ({status}): {line}");
    }
    Ok(())
}

/// Runs a command and returns its standard output, or None if it cannot start or fails.
pub fn output(c: &mut Command) -> Option<String> {
    let out = c.stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub(crate) fn describe(c: &Command) -> String {
    let mut parts = vec![c.get_program().to_string_lossy().into_owned()];
    parts.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
    let line = parts.join(" ");
    match c.get_current_dir() {
        Some(dir) => format!("(cd {}) {line}", dir.display()),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_directory_follows_cargo_target_dir() {
        let elsewhere = std::env::temp_dir().join("ivote-target-elsewhere");
        let mut c = cmd("cargo");
        c.env("CARGO_TARGET_DIR", &elsewhere);
        assert_eq!(target_dir_of(&mut c), elsewhere);
        let mut c = cmd("cargo");
        c.env_remove("CARGO_TARGET_DIR");
        assert!(target_dir_of(&mut c).ends_with("target"));
    }
}
