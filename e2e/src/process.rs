//! The processes the tests start: each in its own process group, killed with its group when its guard drops (also
//! when a test panics); the demo verifier, the card helper with a soft card, and one-shot commands.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::{bin_dir, web_dist};

/// Returns a free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process in its own process group, killed with its whole group on drop.
pub struct ProcessGroup(Child);

impl ProcessGroup {
    /// Starts a command in a new process group.
    pub fn spawn(mut cmd: Command) -> anyhow::Result<ProcessGroup> {
        cmd.process_group(0);
        let child = cmd.spawn().with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        Ok(ProcessGroup(child))
    }

    /// Returns the child.
    pub fn child(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl ProcessGroup {
    /// Kills the group now and waits for the child.
    pub fn stop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

impl ProcessGroup {
    /// Stops the process as an operator would (SIGTERM to its group) and waits for it to finish.
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pgid = i32::try_from(self.0.id())?;
        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGTERM)?;
        Ok(self.0.wait()?)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // The group was created by `process_group(0)` for this child alone, so only its processes are signalled
        // (chromedriver and the Chromium it started, which would otherwise outlive a failed test).
        if let Ok(pgid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// A running verifier on a free port.
pub struct Verifier {
    _process: ProcessGroup,
    /// `http://127.0.0.1:PORT/`.
    pub base_url: String,
}

impl Verifier {
    /// Starts `verifier serve --demo` with the built voter app.
    pub fn start_demo() -> anyhow::Result<Verifier> {
        let mut cmd = Command::new(bin_dir().join("verifier"));
        cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .arg("--web-dir")
            .arg(web_dist()?)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut process = ProcessGroup::spawn(cmd)?;
        let stdout = process.child().stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        Ok(Verifier { _process: process, base_url: listening_url(&line)? })
    }
}

/// The voter address from the first line `verifier serve` prints, `verifier: listening on http://ADDR/`.
pub(crate) fn listening_url(line: &str) -> anyhow::Result<String> {
    line.trim()
        .strip_prefix("verifier: listening on ")
        .filter(|url| url.starts_with("http://"))
        .map(str::to_string)
        .with_context(|| format!("the verifier did not start: {line:?}"))
}

/// Runs a command to completion, failing with its output.
pub(crate) fn run_cmd(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed: {}{}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts the card helper on `port` with a soft card, answering `origin`, once it says it listens.
pub(crate) fn start_helper(port: u16, origin: &str, card: &Path) -> anyhow::Result<ProcessGroup> {
    let mut h = Command::new(bin_dir().join("card-helper"));
    h.args(["serve", "--port", &port.to_string(), "--allowed-origin", origin, "--soft-card"])
        .arg(card)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut helper = ProcessGroup::spawn(h)?;
    let mut line = String::new();
    BufReader::new(helper.child().stdout.take().context("no stdout")?).read_line(&mut line)?;
    if !line.contains("listening") {
        bail!("the card helper did not start: {line:?}");
    }
    Ok(helper)
}

/// Stops a helper and starts another on the same port, retrying while the port is released.
pub(crate) fn start_helper_after(
    old: &mut ProcessGroup,
    port: u16,
    origin: &str,
    card: &Path,
) -> anyhow::Result<ProcessGroup> {
    old.stop();
    let mut last = None;
    for _ in 0..50 {
        match start_helper(port, origin, card) {
            Ok(h) => return Ok(h),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("the card helper did not restart")))
}
