//! `cargo xtask setup`: installs everything the build and the tests need, skipping what is present.
//!
//! The recipe is TOOLCHAIN.md's, checked on this kind of machine: Debian's wasm-capable rustc linked into rustup
//! with a prebuilt wasm32 standard library, Trunk and wasm-bindgen-cli at pinned versions, wasm-opt from npm's
//! binaryen (Debian's is too old), Chromium with its WebDriver, and the PKCS#11 tokens the tests use.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::run::{WEB_TOOLCHAIN, cmd, output, root, sh, tools_dir, web_cmd};

/// Debian packages, each with the reason it is needed.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("rustc-web", "a rustc that can target wasm32 (rustup cannot add the target here)"),
    ("cargo-web", "the matching cargo"),
    ("rust-web-src", "the standard library's source, built once for wasm32"),
    ("libstd-rust-web-dev", "the host standard library of that rustc"),
    ("rust-web-clippy", "clippy for the wasm32 build"),
    ("lld-22", "LLVM's linker, which links wasm32"),
    (
        "rust-web-llvm",
        "/usr/bin/rust-lld, the name rustc calls that linker by (a recommendation of rustc-web, so named here)",
    ),
    ("chromium", "headless browser for wasm tests and end-to-end tests"),
    ("chromium-driver", "WebDriver for Chromium"),
    ("softhsm2", "PKCS#11 token for the card helper and counting tests"),
    ("opensc", "PKCS#11 module with the JPKI (My Number card) driver"),
    ("libnss3-tools", "NSS softokn, a second PKCS#11 token with OAEP-SHA256"),
    ("openssl", "interoperability checks of signatures and ciphertexts"),
    (
        "postgresql-15",
        "the production voting store's tests start throwaway primary+standby clusters (pg-lab); brings postgresql-client-15",
    ),
    ("fonts-noto-cjk", "Japanese glyphs in headless Chromium (screenshots, layout tests)"),
    ("npm", "fetches binaryen's wasm-opt and axe-core from the npm registry"),
    ("python3-venv", "a Python virtual environment for schemathesis, the API contract tester (from PyPI)"),
];

/// Trunk's version: 0.22 needs rustc >= 1.96.1, which this machine cannot have (TOOLCHAIN.md).
const TRUNK_VERSION: &str = "0.21.14";
/// cargo-fuzz's version: `cargo xtask fuzz` and the brief fuzz step of `cargo xtask test` (issue 10).
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// binaryen's npm version whose wasm-opt reads today's wasm (Debian's 108 cannot).
const BINARYEN_VERSION: &str = "132.0.0";
/// axe-core's npm version, pinned exactly: the accessibility e2e tests inject its `axe.min.js` into the real page,
/// and the accessibility statement names this version as the tool its figures come from.
pub const AXE_CORE_VERSION: &str = "4.14.1";
/// IBM's Equal Access engine (npm `accessibility-checker-engine`), pinned exactly: the accessibility e2e tests
/// inject its `ace.js` into the real page beside axe-core (issue 22). Its wrapper, `accessibility-checker`, fetches
/// its rules at run time, which these machines cannot; the engine carries them.
pub const ACE_VERSION: &str = "4.0.34";

/// schemathesis's PyPI version: `cargo xtask test` runs it against each API on loopback (issue 17).
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Returns schemathesis in the project's virtual environment.
pub fn schemathesis() -> PathBuf {
    tools_dir().join("venv/bin/schemathesis")
}

/// Runs every setup step in order.
pub fn run() -> anyhow::Result<()> {
    step("Debian packages", apt_packages)?;
    step("wasm32 toolchain", wasm_toolchain)?;
    step("trunk", trunk)?;
    step("wasm-bindgen-cli", wasm_bindgen_cli)?;
    cargo_fuzz()?;
    step("wasm-opt (npm binaryen)", binaryen)?;
    step("axe-core (npm)", || npm_script("axe-core", AXE_CORE_VERSION, "axe.min.js"))?;
    step("IBM Equal Access engine (npm)", || npm_script("accessibility-checker-engine", ACE_VERSION, "ace.js"))?;
    step("schemathesis (PyPI, in .tools/venv)", schemathesis_venv)?;
    step("voter app dependencies", fetch_web)?;
    println!("setup: everything is in place");
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> anyhow::Result<Status>) -> anyhow::Result<()> {
    match f().with_context(|| format!("setup step '{name}' failed"))? {
        Status::Present(what) => println!("setup: {name}: present ({what})"),
        Status::Installed(what) => println!("setup: {name}: installed ({what})"),
    }
    Ok(())
}

enum Status {
    Present(String),
    Installed(String),
}

fn apt_packages() -> anyhow::Result<Status> {
    let missing: Vec<&str> = APT_PACKAGES.iter().filter(|(pkg, _)| !dpkg_installed(pkg)).map(|(pkg, _)| *pkg).collect();
    if missing.is_empty() {
        return Ok(Status::Present(format!("{} packages", APT_PACKAGES.len())));
    }
    for pkg in &missing {
        let why = APT_PACKAGES.iter().find(|(p, _)| p == pkg).map_or("", |(_, w)| w);
        println!("setup: missing Debian package {pkg}: {why}");
    }
    let sudo = !is_root();
    if sudo && output(cmd("sudo").arg("-n").arg("true")).is_none() {
        bail!(
            "missing Debian packages {}; run as root or install them with: apt-get install -y {}",
            missing.join(", "),
            missing.join(" ")
        );
    }
    let apt = |args: &[&str]| {
        let mut c = if sudo { cmd("sudo") } else { cmd("apt-get") };
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    sh(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(&missing);
    sh(&mut install)?;
    Ok(Status::Installed(missing.join(" ")))
}

fn dpkg_installed(pkg: &str) -> bool {
    output(cmd("dpkg-query").args(["-W", "-f=${Status}", pkg]))
        .is_some_and(|s| s.ends_with("installed") && s.contains("ok"))
}

fn is_root() -> bool {
    output(cmd("id").arg("-u")).as_deref() == Some("0")
}

fn toolchain_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    Ok(PathBuf::from(home).join(".local/share/rust-web-toolchain"))
}

fn wasm_toolchain() -> anyhow::Result<Status> {
    let tc = toolchain_dir()?;
    let want = output(cmd("/usr/bin/rustc").arg("-vV")).context("/usr/bin/rustc (rustc-web) does not run")?;
    let wasm_lib = tc.join("lib/rustlib/wasm32-unknown-unknown/lib");
    let have_std = fs::read_dir(&wasm_lib)
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        .unwrap_or(false);
    // Linked, and to this folder (a link left by another HOME would point elsewhere).
    let linked = output(cmd("rustup").args(["which", "rustc", "--toolchain", WEB_TOOLCHAIN]))
        .and_then(|p| fs::canonicalize(p).ok())
        .is_some_and(|p| fs::canonicalize(&tc).is_ok_and(|tc| p.starts_with(tc)));
    let stamp = fs::read_to_string(tc.join(".rustc-vV")).unwrap_or_default();
    if stamp.trim() == want && have_std && linked && tc.join("bin/clippy-driver").exists() {
        return Ok(Status::Present(format!("{WEB_TOOLCHAIN} at {}", tc.display())));
    }

    // Build the wasm32 standard library once from Debian's rust-web-src.
    let work = std::env::temp_dir().join(format!("rust-web-sysroot-{}", std::process::id()));
    fs::create_dir_all(work.join("src"))?;
    fs::write(work.join("src/lib.rs"), "#![no_std]\n")?;
    fs::write(
        work.join("Cargo.toml"),
        "[package]\nname=\"sysroot-dummy\"\nversion=\"0.0.0\"\nedition=\"2021\"\n[profile.release]\n\
         opt-level=3\ndebug=0\ncodegen-units=1\npanic=\"abort\"\n",
    )?;
    sh(cmd("/usr/bin/cargo")
        .args(["build", "--release", "-Zbuild-std=std,panic_abort,test"])
        .args(["--target", "wasm32-unknown-unknown"])
        .current_dir(&work)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", "-Cembed-bitcode=yes")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR"))?;

    if tc.exists() {
        fs::remove_dir_all(&tc)?;
    }
    fs::create_dir_all(tc.join("bin"))?;
    fs::create_dir_all(&wasm_lib)?;
    for entry in fs::read_dir(work.join("target/wasm32-unknown-unknown/release/deps"))? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.ends_with(".rlib") && !name.starts_with("libsysroot_dummy-") {
            fs::copy(&path, wasm_lib.join(&name))?;
        }
    }
    for d in ["x86_64-unknown-linux-gnu", "src", "etc"] {
        symlink(Path::new("/usr/lib/rustlib").join(d), tc.join("lib/rustlib").join(d))?;
    }
    // Debian's rustc finds its sysroot next to librustc_driver, so rustc and rustdoc are wrappers, not links.
    for t in ["rustc", "rustdoc"] {
        write_script(
            &tc.join("bin").join(t),
            &format!("#!/bin/sh\nexec /usr/bin/{t} --sysroot \"{}\" \"$@\"\n", tc.display()),
        )?;
    }
    symlink("/usr/bin/cargo", tc.join("bin/cargo"))?;
    let rustfmt = output(cmd("rustup").args(["+stable", "which", "rustfmt"]))
        .context("rustup's stable toolchain has no rustfmt")?;
    let stable_bin = Path::new(&rustfmt).parent().context("rustfmt has no folder")?;
    symlink(stable_bin.join("rustfmt"), tc.join("bin/rustfmt"))?;
    symlink(stable_bin.join("cargo-fmt"), tc.join("bin/cargo-fmt"))?;
    // cargo-clippy runs the clippy-driver found beside itself; that one keeps cargo's first argument (the rustc
    // path) first and adds the sysroot.
    fs::copy("/usr/bin/cargo-clippy", tc.join("bin/cargo-clippy"))?;
    write_script(
        &tc.join("bin/clippy-driver"),
        &format!(
            "#!/bin/sh\nfirst=\"$1\"; shift\nexec /usr/bin/clippy-driver \"$first\" --sysroot \"{}\" \"$@\"\n",
            tc.display()
        ),
    )?;
    fs::write(tc.join(".rustc-vV"), format!("{want}\n"))?;
    let _ = output(cmd("rustup").args(["toolchain", "uninstall", WEB_TOOLCHAIN]));
    sh(cmd("rustup").args(["toolchain", "link", WEB_TOOLCHAIN]).arg(&tc))?;
    fs::remove_dir_all(&work).ok();
    // Artifacts built against another copy of the wasm32 standard library (same rustc version, so cargo thinks
    // them fresh) no longer link: start the wasm target folders afresh.
    for stale in [root().join("web/target"), root().join("target/wasm32")] {
        if stale.exists() {
            println!("setup: removing {} (built against another wasm32 standard library)", stale.display());
            fs::remove_dir_all(&stale)?;
        }
    }
    Ok(Status::Installed(format!("{WEB_TOOLCHAIN} at {}", tc.display())))
}

fn symlink(from: impl AsRef<Path>, to: impl AsRef<Path>) -> anyhow::Result<()> {
    std::os::unix::fs::symlink(from.as_ref(), to.as_ref())
        .with_context(|| format!("link {} -> {}", to.as_ref().display(), from.as_ref().display()))
}

fn write_script(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Returns the installed version of a cargo-installed tool, read from `TOOL --version`.
fn tool_version(tool: &str) -> Option<String> {
    output(cmd(tool).arg("--version")).and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
}

fn cargo_install(tool: &str, krate: &str, version: &str, locked: bool) -> anyhow::Result<Status> {
    if tool_version(tool).as_deref() == Some(version) {
        return Ok(Status::Present(format!("{tool} {version}")));
    }
    let mut c = cmd("cargo");
    c.args(["+stable", "install", krate, "--version", version]);
    if locked {
        c.arg("--locked");
    }
    sh(&mut c)?;
    match tool_version(tool) {
        Some(v) if v == version => Ok(Status::Installed(format!("{tool} {version}"))),
        other => bail!("{tool} {version} was installed but `{tool} --version` says {other:?}"),
    }
}

/// Installs cargo-fuzz at its pinned version, the one setup step `cargo xtask fuzz` needs.
pub fn cargo_fuzz() -> anyhow::Result<()> {
    step("cargo-fuzz", || cargo_install("cargo-fuzz", "cargo-fuzz", CARGO_FUZZ_VERSION, true))
}

fn trunk() -> anyhow::Result<Status> {
    cargo_install("trunk", "trunk", TRUNK_VERSION, true)
}

/// The wasm-bindgen version the voter app's Cargo.lock pins; the CLI must equal it.
pub fn wasm_bindgen_version() -> anyhow::Result<String> {
    let lock = root().join("web/Cargo.lock");
    let text = fs::read_to_string(&lock).with_context(|| format!("read {}", lock.display()))?;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    bail!("{} names no wasm-bindgen version", lock.display())
}

fn wasm_bindgen_cli() -> anyhow::Result<Status> {
    // Not --locked: its lock pins a webpki-roots missing from the registry mirror (TOOLCHAIN.md).
    cargo_install("wasm-bindgen", "wasm-bindgen-cli", &wasm_bindgen_version()?, false)
}

fn binaryen() -> anyhow::Result<Status> {
    let npm_dir = tools_dir().join("npm");
    let wasm_opt = npm_dir.join("node_modules/.bin/wasm-opt");
    let want = format!("version {}", BINARYEN_VERSION.split('.').next().unwrap_or_default());
    if output(cmd(&wasm_opt).arg("--version")).is_some_and(|v| v.contains(&want)) {
        return Ok(Status::Present(format!("wasm-opt {want}")));
    }
    fs::create_dir_all(&npm_dir)?;
    sh(cmd("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&npm_dir)
        .arg(format!("binaryen@{BINARYEN_VERSION}")))?;
    Ok(Status::Installed(format!("wasm-opt {want}")))
}

/// Installs an npm package whose script the accessibility tests inject into the page (axe-core, IBM's engine)
/// beside binaryen, at its pinned version, so that the tests download nothing when they run.
fn npm_script(name: &str, version: &str, script: &str) -> anyhow::Result<Status> {
    let npm_dir = tools_dir().join("npm");
    let package = npm_dir.join("node_modules").join(name).join("package.json");
    let installed = || -> Option<String> {
        let text = fs::read_to_string(&package).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["version"].as_str().map(str::to_string)
    };
    let what = format!("{name} {version}");
    if installed().as_deref() == Some(version) && npm_dir.join("node_modules").join(name).join(script).exists() {
        return Ok(Status::Present(what));
    }
    fs::create_dir_all(&npm_dir)?;
    sh(cmd("npm")
        .args(["install", "--no-audit", "--no-fund", "--save-exact", "--prefix"])
        .arg(&npm_dir)
        .arg(format!("{name}@{version}")))?;
    match installed() {
        Some(v) if v == version => Ok(Status::Installed(what)),
        other => bail!("{name} {version} was installed but {} says {other:?}", package.display()),
    }
}

fn schemathesis_venv() -> anyhow::Result<Status> {
    let what = format!("schemathesis {SCHEMATHESIS_VERSION}");
    let installed = || output(cmd(schemathesis()).arg("--version"));
    if installed().is_some_and(|v| v.ends_with(SCHEMATHESIS_VERSION)) {
        return Ok(Status::Present(what));
    }
    let venv = tools_dir().join("venv");
    // Debian's Python, not whatever `python3` a developer's PATH finds first.
    let python = if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
    sh(cmd(python).args(["-m", "venv", "--clear"]).arg(&venv))?;
    sh(cmd(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}")))?;
    match installed() {
        Some(v) if v.ends_with(SCHEMATHESIS_VERSION) => Ok(Status::Installed(what)),
        other => bail!("schemathesis {SCHEMATHESIS_VERSION} was installed but says {other:?}"),
    }
}

fn fetch_web() -> anyhow::Result<Status> {
    // Trunk runs cargo offline, so the voter app's crates are fetched here.
    sh(web_cmd("cargo").args(["fetch", "--locked"]))?;
    Ok(Status::Present("web/Cargo.lock fetched".into()))
}
