//! The rehearsal's verifier: `verifier serve` on the round's database with the operator API and the SMTP server,
//! started and restarted on the rehearsal's clock (an INSECURE test clock offset once the window is meant to be
//! open or closed).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::{ProcessGroup, bin_dir, web_dist};

/// A running `verifier serve`.
pub(super) struct Served {
    _process: ProcessGroup,
    /// The verifier's process id (the zero-vote check reads its binary).
    pub(super) pid: u32,
    pub(super) base_url: String,
    pub(super) operator_url: String,
}

/// How the rehearsal's verifier is started for one election.
pub(super) struct ServeConfig {
    pub(super) db: PathBuf,
    pub(super) pki: PathBuf,
    pub(super) opca: PathBuf,
    pub(super) smtp_port: u16,
    pub(super) helper_origin: String,
    pub(super) port: u16,
    pub(super) operator_port: u16,
}

impl ServeConfig {
    pub(super) fn start(&self, clock_offset: Option<i64>, extra: &[&str]) -> anyhow::Result<Served> {
        let origin = format!("http://127.0.0.1:{}", self.port);
        let mut v = Command::new(bin_dir().join("verifier"));
        v.args(["serve", "--listen", &format!("127.0.0.1:{}", self.port), "--public-origin", &origin])
            .args(["--card-helper-origin", &self.helper_origin])
            .arg("--db")
            .arg(&self.db)
            .arg("--trust-dir")
            .arg(&self.pki)
            .arg("--web-dir")
            .arg(web_dist()?)
            .args(["--operator-listen", &format!("127.0.0.1:{}", self.operator_port)])
            .arg("--operator-ca")
            .arg(&self.opca)
            .args(["--smtp-host", "127.0.0.1", "--smtp-port", &self.smtp_port.to_string(), "--smtp-tls", "none"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(s) = clock_offset {
            v.arg("--insecure-test-clock-offset-seconds").arg(s.to_string());
        }
        // The port is released by the previous run a moment after it stops.
        for _ in 0..50 {
            let mut process = ProcessGroup::spawn(clone_command(&v, &self.db.with_extension("log"))?)?;
            let mut line = String::new();
            let mut out = BufReader::new(process.child().stdout.take().context("no stdout")?);
            out.read_line(&mut line)?;
            // Keep reading: the verifier prints more (the operator API's address), and a closed pipe would fail it.
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            // Both ports must take connections before the browser or the operator tool is pointed at them.
            let voters = format!("127.0.0.1:{}", self.port);
            let operators = format!("127.0.0.1:{}", self.operator_port);
            if crate::process::listening_url(&line).is_ok()
                && wait_for(|| std::net::TcpStream::connect(&voters).is_ok())
                && wait_for(|| std::net::TcpStream::connect(&operators).is_ok())
            {
                let pid = process.child().id();
                return Ok(Served {
                    _process: process,
                    pid,
                    base_url: format!("{origin}/"),
                    operator_url: format!("https://127.0.0.1:{}", self.operator_port),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(self.db.with_extension("log")).unwrap_or_default();
        bail!(
            "the verifier did not start on port {}: {}",
            self.port,
            log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
        )
    }
}

fn clone_command(c: &Command, log: &Path) -> anyhow::Result<Command> {
    let mut n = Command::new(c.get_program());
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    n.args(c.get_args()).stdout(Stdio::piped()).stderr(log);
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            n.env(k, v);
        }
    }
    Ok(n)
}

pub(super) fn wait_for(mut ok: impl FnMut() -> bool) -> bool {
    // Notices are sent by the verifier's delivery loop, which runs at start and then every 30 seconds.
    for _ in 0..100 {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}
