//! `cargo xtask release`: the build an election commission publishes and an auditor rebuilds (issue 21 part 4,
//! R-SYS-2/3). The same source gives the same bytes whatever folder it sits in, whichever target directories and
//! cargo home it builds with, and whatever the clock or time zone says, so that the hashes the zero-vote check
//! compares (`verifier zero-check --expected-hashes`) can be published and checked by anyone.
//!
//! - [`STAGE`]: every release is built from a copy of the tracked files at this one fixed folder. Cargo hashes the
//!   absolute path of a path dependency outside the workspace into its symbols, and the voter app's `shared` is
//!   one (web/ is its own workspace): from two folders, every `web` and `shared` symbol of the `.wasm` differed,
//!   and so did its data layout (issue 21's evidence). The copy also keeps untracked files out of a release.
//! - [`Places`]: the folders that differ from one machine to another (the checkout, the target directories, the
//!   cargo home). Each is remapped to a fixed name (`--remap-path-prefix`), so none of them reaches a binary, a
//!   `.wasm` or a panic message.
//! - [`build`]: the shipped native programs (`cargo build --release --bins -p …`) and the voter app (Trunk), then
//!   `SHA256SUMS`, the verifier's `build-hashes.json` and `BUILDINFO` (what must be the same to get the same
//!   bytes: the toolchains, the C compiler and the linker).
//! - [`reproduce`]: the test run by `cargo xtask test`: a second build from a copy of the source in another
//!   folder, with its own target directories and another cargo home, must give every file the same hash.
//!
//! This must never: let a path of the build machine into a shipped file, or call a build reproducible without a
//! second build in other folders showing it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::run::{WEB_TOOLCHAIN, cmd, output, root, sh};

/// The programs that are shipped: the server, the voter's helper and check, the operators' tool, the counting
/// tool. Each is its package's name too; they are built together, always the same set, so always with the same
/// features.
pub const SHIPPED: [&str; 5] = ["verifier", "card-helper", "ballot-check", "operator", "tally"];

/// The test tools built with them and put beside them in `bin/`, because `cargo xtask demo` runs this build:
/// `test-pki`, the JPKI-like TEST authority that issues the demo voters' cards. Never given to voters, never used
/// in a real election; hashed like every other file. Each is its package's name too.
pub const TEST_TOOLS: [&str; 1] = ["test-pki"];

/// Options of `cargo xtask release`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to put the programs, the voter app and the hashes [default: TARGET/release-build].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Instead, build it twice, here and from a copy of the source in other folders with another cargo home, and
    /// compare every file's hash (the test `cargo xtask test` runs).
    #[arg(long, conflicts_with = "out")]
    reproduce: bool,
}

/// The folder every release build copies the tracked source to and builds in (see the module's map). One build
/// at a time uses it: [`build`] holds a lock on `STAGE.lock` meanwhile.
pub const STAGE: &str = "/tmp/jp-ivote-release/src";

/// The folders a build uses that may differ between two machines, each remapped to a fixed name.
pub struct Places {
    /// The checkout the source is copied from (the repository's root).
    pub checkout: PathBuf,
    /// The workspace's target directory.
    pub target: PathBuf,
    /// The voter app's target directory (web/ is its own workspace).
    pub web_target: PathBuf,
    /// Cargo's home, where the registry's sources are unpacked.
    pub cargo_home: PathBuf,
}

impl Places {
    /// This checkout, with target directories of its own under cargo's (the bench's release build, of other
    /// packages and so other features, would otherwise rebuild over them each time).
    pub fn here() -> Places {
        let target = crate::run::target_dir();
        Places {
            checkout: root(),
            target: target.join("reproducible"),
            web_target: target.join("reproducible-web"),
            cargo_home: cargo_home(),
        }
    }

    /// The `--remap-path-prefix` flags of the native build or of the voter app's: the cargo home, the staged source,
    /// then the target directory (rustc applies the last prefix that matches).
    pub fn remap_flags(&self, web: bool) -> Vec<String> {
        let target = if web { (&self.web_target, "/build/web-target") } else { (&self.target, "/build/target") };
        let stage = PathBuf::from(STAGE);
        [(&self.cargo_home, "/build/cargo"), (&stage, "/build/src"), target]
            .iter()
            .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
            .collect()
    }

    /// Sets what a release build needs on a cargo (or Trunk) command: the target directory, the cargo home, the
    /// remapped paths, the date and a neutral locale and time zone.
    fn apply(&self, c: &mut Command, web: bool, epoch: u64) {
        let flags = self.remap_flags(web);
        if web {
            // Added to the wasm32 flags of .cargo/config.toml (cargo joins the two lists), not in their place.
            c.env("CARGO_TARGET_DIR", &self.web_target)
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", flags.join(" "))
                .env("RUSTUP_TOOLCHAIN", WEB_TOOLCHAIN);
        } else {
            c.env("CARGO_TARGET_DIR", &self.target).env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
        }
        c.env("CARGO_HOME", &self.cargo_home)
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .env_remove("RUSTFLAGS")
            .env_remove("RUSTC_WRAPPER");
    }
}

/// Cargo's home as cargo finds it: `CARGO_HOME`, else `~/.cargo`.
fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"))
}

/// The source's date for tools that stamp one (`SOURCE_DATE_EPOCH`): the last commit's, or 0 outside git.
pub fn source_epoch() -> u64 {
    output(cmd("git").args(["log", "-1", "--format=%ct"]).current_dir(root())).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// `cargo xtask release`: sets up, builds into the output folder and prints where the hashes are.
pub fn run(args: Args) -> anyhow::Result<()> {
    crate::setup::run()?;
    if args.reproduce {
        return reproduce();
    }
    let out = args.out.unwrap_or_else(|| crate::run::target_dir().join("release-build"));
    build(&Places::here(), &out, source_epoch())?;
    println!("\nrelease: {} (publish SHA256SUMS, build-hashes.json and BUILDINFO beside the programs)", out.display());
    Ok(())
}

/// Builds the release from `places.src` into `out` (emptied first): `bin/`, `web/`, `SHA256SUMS`,
/// `build-hashes.json` and `BUILDINFO`. Returns the hashes, by path under `out`.
pub fn build(places: &Places, out: &Path, epoch: u64) -> anyhow::Result<BTreeMap<String, String>> {
    let folders = [&places.checkout, &places.target, &places.web_target, &places.cargo_home];
    if let Some(spaced) = folders.iter().find(|p| p.to_string_lossy().contains(char::is_whitespace)) {
        // Cargo splits CARGO_TARGET_<triple>_RUSTFLAGS at spaces.
        bail!(
            "RELEASE_FOLDER_HAS_SPACE: {} has a space in its path; build the release from folders without one",
            spaced.display()
        );
    }
    let stage = PathBuf::from(STAGE);
    std::fs::create_dir_all(&stage)?;
    let lock = std::fs::File::create(stage.with_extension("lock"))?;
    println!("release: waiting for {STAGE}.lock (one release build at a time)");
    lock.lock()?;
    sync_tracked(&places.checkout, &stage)?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot empty {}", out.display()))?;
    }
    std::fs::create_dir_all(out.join("bin"))?;
    let mut native = cmd("cargo");
    native.args(["build", "--release", "--locked", "--offline", "--bins"]).current_dir(&stage);
    for package in SHIPPED.iter().chain(&TEST_TOOLS) {
        native.args(["-p", package]);
    }
    places.apply(&mut native, false, epoch);
    sh(&mut native)?;
    for name in SHIPPED.iter().chain(&TEST_TOOLS) {
        let from = places.target.join("release").join(name);
        std::fs::copy(&from, out.join("bin").join(name)).with_context(|| format!("no {}", from.display()))?;
    }
    let web_out = out.join("web");
    // From the stage's root, where Trunk.toml is; `apply` picks the wasm-capable toolchain (see `run::trunk_cmd`).
    let mut web = cmd("trunk");
    web.args(["build", "--release", "--dist"]).arg(&web_out).env("NO_COLOR", "true").current_dir(&stage);
    places.apply(&mut web, true, epoch);
    sh(&mut web)?;

    let verifier = out.join("bin/verifier");
    sh(cmd(&verifier)
        .arg("build-hashes")
        .arg("--web-dir")
        .arg(&web_out)
        .arg("--binary")
        .arg(&verifier)
        .arg("--out")
        .arg(out.join("build-hashes.json")))?;
    let hashes = hash_tree(out)?;
    let sums: String = hashes.iter().map(|(path, hash)| format!("{hash}  {path}\n")).collect();
    std::fs::write(out.join("SHA256SUMS"), sums)?;
    std::fs::write(out.join("BUILDINFO"), buildinfo(places, epoch))?;
    Ok(hashes)
}

/// The SHA-256 of every file under `dir`, by its path relative to `dir` (with `/`), in order.
fn hash_tree(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let out = output(cmd("find").arg(".").args(["-type", "f", "-exec", "sha256sum", "{}", "+"]).current_dir(dir))
        .with_context(|| format!("cannot hash the files of {}", dir.display()))?;
    let mut hashes = BTreeMap::new();
    for line in out.lines() {
        let (hash, path) = line.split_once("  ").context("sha256sum printed an odd line")?;
        hashes.insert(path.trim_start_matches("./").to_string(), hash.to_string());
    }
    Ok(hashes)
}

/// What a second builder must have to get the same bytes: every tool's version, and the source's date. No path,
/// user or clock of this machine is written.
fn buildinfo(places: &Places, epoch: u64) -> String {
    let version = |c: &mut Command| output(c).unwrap_or_else(|| "(not found)".into());
    let mut lines = vec![
        "jp-ivote release build: the same source and the tools below give the same SHA256SUMS".to_string(),
        format!("SOURCE_DATE_EPOCH={epoch}"),
        format!("rustc (native):\n{}", version(cmd("rustc").arg("-vV").current_dir(&places.checkout))),
        format!(
            "rustc (voter app, {WEB_TOOLCHAIN}):\n{}",
            version(cmd("rustc").arg("-vV").env("RUSTUP_TOOLCHAIN", WEB_TOOLCHAIN))
        ),
    ];
    for tool in ["trunk", "wasm-bindgen", "wasm-opt", "cc", "ld"] {
        let v = version(cmd(tool).arg("--version"));
        lines.push(format!("{tool}: {}", v.lines().next().unwrap_or_default()));
    }
    lines.join("\n") + "\n"
}

/// The test: builds the release twice, here and from a copy of the tracked source in another folder with its own
/// target directories and another cargo home, and fails naming every file whose hash differs.
pub fn reproduce() -> anyhow::Result<()> {
    let here = Places::here();
    let epoch = source_epoch();
    let scratch = crate::run::target_dir().join("reproduce");
    let first = build(&here, &scratch.join("first"), epoch)?;

    // The second machine: other folders, at another depth and outside this checkout (cargo would read this
    // checkout's .cargo/config.toml too from a folder inside it), and a cargo home by another name (its registry
    // is this one's, linked: nothing may be downloaded, and the unpacked sources are found under the new name).
    let other = std::env::temp_dir().join("jp-ivote-reproduce/another-builder");
    if other.exists() {
        std::fs::remove_dir_all(&other)?;
    }
    // Its checkout holds the same tracked files, under git as a clone would be.
    let checkout = other.join("jp-ivote");
    sync_tracked(&here.checkout, &checkout)?;
    sh(cmd("git").args(["init", "--quiet"]).current_dir(&checkout))?;
    sh(cmd("git").args(["add", "--all"]).current_dir(&checkout))?;
    let cargo_home = other.join("cargo-home");
    std::fs::create_dir_all(&cargo_home)?;
    std::os::unix::fs::symlink(here.cargo_home.join("registry"), cargo_home.join("registry"))?;
    std::os::unix::fs::symlink(here.cargo_home.join("bin"), cargo_home.join("bin"))?;
    let there = Places { web_target: other.join("web-target"), target: other.join("target"), checkout, cargo_home };
    let second = build(&there, &scratch.join("second"), epoch)?;

    let differ: Vec<&String> = first.keys().chain(second.keys()).filter(|p| first.get(*p) != second.get(*p)).collect();
    if !differ.is_empty() {
        let mut names: Vec<&String> = differ;
        names.sort();
        names.dedup();
        bail!(
            "REPRODUCIBLE_BUILD_BROKEN: the same source built in two folders gave different bytes for {} file(s): {}. \
             Compare {} with {} to find the path or stamp that differs.",
            names.len(),
            names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            scratch.join("first").display(),
            scratch.join("second").display()
        );
    }
    std::fs::remove_dir_all(&other)?;
    println!("release build reproduced: {} files, the same SHA-256 from two folders", first.len());
    Ok(())
}

/// Makes `to` hold exactly the files git tracks in `from` (as they are in the working tree, edits included): a
/// file whose bytes are already there is left alone, so that cargo does not rebuild what did not change, and a
/// file git does not track is removed.
fn sync_tracked(from: &Path, to: &Path) -> anyhow::Result<()> {
    let list = output(cmd("git").args(["ls-files", "-z"]).current_dir(from)).context("git ls-files failed")?;
    let mut tracked = std::collections::BTreeSet::new();
    for rel in list.split('\0').filter(|s| !s.is_empty()) {
        let source = from.join(rel);
        if !source.is_file() {
            continue; // deleted in the working tree
        }
        let dest = to.join(rel);
        tracked.insert(dest.clone());
        let bytes = std::fs::read(&source).with_context(|| format!("cannot read {rel}"))?;
        if std::fs::read(&dest).ok().as_deref() == Some(&bytes[..]) {
            continue;
        }
        std::fs::create_dir_all(dest.parent().unwrap_or(to))?;
        std::fs::write(&dest, &bytes).with_context(|| format!("cannot copy {rel}"))?;
        let mode = std::fs::metadata(&source)?.permissions();
        std::fs::set_permissions(&dest, mode)?;
    }
    let stale = output(cmd("find").arg(to).args(["-type", "f", "-print0"])).unwrap_or_default();
    for path in stale.split('\0').filter(|s| !s.is_empty()).map(PathBuf::from) {
        if !tracked.contains(&path) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
