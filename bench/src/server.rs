//! The real `verifier serve` on loopback port 0, killed on drop, and its memory from /proc.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use crate::ORIGIN;

/// A running verifier.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts the verifier on a free loopback port with its log (at its default level) in `dir`/verifier.log.
    pub fn start(verifier: &Path, db: &Path, trust: &Path, dir: &Path) -> anyhow::Result<Server> {
        let log = std::fs::File::create(dir.join("verifier.log"))?;
        let mut child = Command::new(verifier)
            .args(["serve", "--listen", "127.0.0.1:0", "--public-origin", ORIGIN])
            .arg("--db")
            .arg(db)
            .arg("--trust-dir")
            .arg(trust)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("could not start {}", verifier.display()))?;
        let stdout = child.stdout.take().context("the verifier's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let base = line
            .trim()
            .strip_prefix("verifier: listening on ")
            .with_context(|| format!("the verifier did not start: {line:?}"))?
            .trim_end_matches('/')
            .to_string();
        Ok(Server { child, base })
    }

    /// Returns the verifier's process id.
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Reads the verifier's peak and current resident set (VmHWM, VmRSS) in KiB.
    pub fn memory(&self) -> anyhow::Result<serde_json::Value> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse().ok()
        };
        Ok(serde_json::json!({ "vm_hwm_kib": field("VmHWM:"), "vm_rss_kib": field("VmRSS:") }))
    }
}

/// Returns the CPU time (user + system) a process has used so far, from /proc/PID/stat (`self` for this one).
pub fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').context("reading /proc/PID/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields.get(11).context("utime")?.parse::<f64>()? + fields.get(12).context("stime")?.parse::<f64>()?;
    // USER_HZ is 100 on every Linux this project runs on.
    Ok(ticks / 100.0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
