//! `cargo xtask test`: every check, in order, each one named when it starts and timed when it ends:
//! fmt (workspace, voter app, fuzz targets), clippy for the host and for wasm32, the native tests (unit,
//! integration, end-to-end in headless Chromium, the API contracts by schemathesis), the accessibility report
//! written from their artifacts, one end-to-end test built with
//! `CARGO_TARGET_DIR` elsewhere, the release build made twice in different folders (the same bytes), every fuzz
//! target briefly, and the wasm tests in headless Chromium.

use std::process::Command;
use std::time::Instant;

use crate::run::{WEB_TOOLCHAIN, cmd, root, sh, web_cmd};
use crate::{a11y_report, app, fuzz, release, setup};

/// The steps run so far with their durations.
#[derive(Default)]
struct Steps(Vec<(String, f64)>);

impl Steps {
    fn time<T>(&mut self, name: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        println!("\n== test: {name}");
        let t = Instant::now();
        let out = f()?;
        self.0.push((name.to_string(), t.elapsed().as_secs_f64()));
        Ok(out)
    }

    fn sh(&mut self, name: &str, c: &mut Command) -> anyhow::Result<()> {
        self.time(name, || sh(c))
    }
}

/// Adds what the wasm tests need: wasm-bindgen's runner and Chromium's WebDriver.
pub(crate) fn wasm_runner(c: &mut Command) -> &mut Command {
    c.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
}

/// Runs every check; the first failure stops the run with its command.
pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    setup::run()?;
    let root = root();
    let wasm_target_dir = root.join("target/wasm32");
    let mut steps = Steps::default();

    steps.sh("rustfmt (workspace)", cmd("cargo").args(["fmt", "--all", "--check"]).current_dir(&root))?;
    steps.sh("rustfmt (voter app)", web_cmd("cargo").args(["fmt", "--check"]))?;
    steps.sh("rustfmt (fuzz targets)", cmd("cargo").args(["fmt", "--check"]).current_dir(root.join("fuzz")))?;
    steps.sh(
        "clippy (host)",
        cmd("cargo")
            .args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])
            .current_dir(&root),
    )?;
    steps.sh(
        "clippy (wasm32: shared)",
        cmd("cargo")
            .args(["clippy", "-p", "shared", "--all-targets", "--locked", "--target", "wasm32-unknown-unknown"])
            .arg("--target-dir")
            .arg(&wasm_target_dir)
            .args(["--", "-D", "warnings"])
            .env("RUSTUP_TOOLCHAIN", WEB_TOOLCHAIN)
            .current_dir(&root),
    )?;
    steps.sh(
        "clippy (wasm32: voter app)",
        web_cmd("cargo").args(["clippy", "--all-targets", "--locked", "--", "-D", "warnings"]),
    )?;
    let (dist, bin) = steps.time("build the voter app (release) and the binaries", || {
        Ok((app::build_voter_app()?, app::build_binaries()?))
    })?;
    steps.sh(
        "native tests (unit, integration, end-to-end)",
        cmd("cargo")
            .args(["test", "--workspace", "--locked"])
            .env("E2E_WEB_DIST", &dist)
            .env("E2E_BIN_DIR", &bin)
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("SCHEMATHESIS", setup::schemathesis())
            .current_dir(&root),
    )?;
    steps.time("accessibility report (from the end-to-end tests' artifacts)", || {
        let report = a11y_report::write(&root.join("target"))?;
        println!("written to {}", report.display());
        Ok(())
    })?;
    // With CARGO_TARGET_DIR set, as many developers and CI systems do, the tests must still find what cargo
    // built (issue 17): one end-to-end test, its binaries built into another target directory, and no
    // E2E_BIN_DIR to lean on.
    let elsewhere = crate::run::target_dir().join("elsewhere");
    steps.sh(
        "binaries built with CARGO_TARGET_DIR elsewhere",
        cmd("cargo")
            .args(["build", "--locked", "--bins", "-p", "verifier", "-p", "card-helper"])
            .env("CARGO_TARGET_DIR", &elsewhere)
            .current_dir(&root),
    )?;
    steps.sh(
        "an end-to-end test with CARGO_TARGET_DIR elsewhere",
        cmd("cargo")
            .args(["test", "--locked", "-p", "e2e", "--test", "target_dir", "--test", "start_page"])
            .env("CARGO_TARGET_DIR", &elsewhere)
            .env("E2E_WEB_DIST", &dist)
            .env_remove("E2E_BIN_DIR")
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .current_dir(&root),
    )?;
    // The hashes that the zero-vote check compares are worth publishing only if anyone can rebuild them (issue 21
    // part 4): the release build again from a copy of the source in other folders, with another cargo home.
    steps.time(
        "reproducible release build (two folders, two target directories, two cargo homes)",
        release::reproduce,
    )?;
    steps.time(&format!("fuzz (each target briefly, {} s)", fuzz::BRIEF_SECONDS), fuzz::brief)?;
    // The committed seeds must still pass the project's checks, or the fuzzers start from inputs that stop early
    // (this test did not compile for a while without anyone seeing it, because no step ran it).
    steps.sh(
        "fuzz seeds are real (fuzz/tests/seeds.rs)",
        cmd("cargo").args(["test", "--locked"]).env_remove("CARGO_TARGET_DIR").current_dir(root.join("fuzz")),
    )?;
    steps.sh(
        "wasm tests of shared in headless Chromium",
        wasm_runner(&mut cmd("cargo"))
            .args(["test", "-p", "shared", "--locked", "--target", "wasm32-unknown-unknown"])
            .arg("--target-dir")
            .arg(&wasm_target_dir)
            .env("RUSTUP_TOOLCHAIN", WEB_TOOLCHAIN)
            .current_dir(&root),
    )?;
    steps.sh(
        "wasm tests of the voter app in headless Chromium",
        wasm_runner(&mut web_cmd("cargo")).args(["test", "--locked"]),
    )?;

    println!("\n== test: all passed in {:.0} s", started.elapsed().as_secs_f64());
    for (name, secs) in &steps.0 {
        println!("   {secs:>7.1} s  {name}");
    }
    Ok(())
}
