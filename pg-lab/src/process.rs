//! The lab's processes: who runs the servers, free ports, waiting, running a command with its log's tail in the
//! error, and finding or killing a node's processes.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::PATIENCE;

/// The system user the servers run as when this process is root.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owner {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// `None` unless this process is root; then the `postgres` user from `/etc/passwd`.
pub(crate) fn server_owner() -> anyhow::Result<Option<Owner>> {
    let me = std::fs::metadata("/proc/self").context("cannot read /proc/self to learn who this process is")?;
    if me.uid() != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").context("cannot read /etc/passwd")?;
    let owner = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            ["postgres", _, uid, gid, ..] => Some(Owner { uid: uid.parse().ok()?, gid: gid.parse().ok()? }),
            _ => None,
        }
    });
    owner.map(Some).context(
        "PostgreSQL refuses to run as root and there is no `postgres` user to run it as; \
         `cargo xtask setup` installs postgresql-15, which makes that user",
    )
}

/// A loopback port nothing listens on now (the kernel's choice for port 0).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr().context("no local address for a port-0 listener")?.port())
}

/// Whether nothing accepts connections on the loopback `port`.
pub(crate) fn refuses(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(500)).is_err()
}

/// Polls `check` until it says yes; the error names `what` and the last answer or error.
pub(crate) fn wait_until(what: &str, mut check: impl FnMut() -> anyhow::Result<Option<String>>) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let last = match check() {
            Ok(None) => return Ok(()),
            Ok(Some(not_yet)) => not_yet,
            Err(e) => format!("{e:#}"),
        };
        if start.elapsed() > PATIENCE {
            bail!("gave up after {PATIENCE:?} waiting for {what}; last: {last}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The command line as text, for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// The last lines of a server log, for error messages (empty when there is none).
pub(crate) fn log_tail(log: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(log) else { return String::new() };
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    format!("\n--- last lines of {} ---\n{tail}", log.display())
}

/// Runs `cmd` to its end; its standard output, or an error naming it with its stderr and `log`'s tail.
pub(crate) fn run(mut cmd: Command, log: Option<&Path>) -> anyhow::Result<String> {
    let shown = describe(&cmd);
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("cannot start `{shown}`"))?;
    if !out.status.success() {
        bail!(
            "`{shown}` failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            log.map(log_tail).unwrap_or_default()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Appends `lines` to a server configuration file (later settings win over earlier ones).
pub(crate) fn append(file: &Path, lines: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .with_context(|| format!("cannot open {} to append to it", file.display()))?;
    f.write_all(lines.as_bytes()).with_context(|| format!("cannot append to {}", file.display()))
}

/// Every process whose working directory is under one of `dirs` (PostgreSQL's processes work in their data
/// directory); zombies have none, so they do not count.
pub(crate) fn processes_in(dirs: &[PathBuf]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
            dirs.iter().any(|d| cwd.starts_with(d)).then_some(pid)
        })
        .collect()
}

/// Sends SIGKILL to `pid` with `kill -9`.
pub(crate) fn kill9(pid: u32) -> anyhow::Result<()> {
    let mut kill = Command::new("kill");
    kill.arg("-9").arg(pid.to_string());
    run(kill, None).map(drop)
}
