//! The real `verifier serve` on loopback port 0 (over TLS with `--tls`), killed on drop, and its memory from /proc.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use crate::Args;

/// A running verifier.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` with `--tls`.
    pub base: String,
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    /// With `--tls`: its self-signed certificate (PEM), the only root the voters' clients trust.
    pub tls_root: Option<String>,
}

impl Server {
    /// Starts the verifier on a free loopback port with its log (at its default level) in `dir`/verifier.log.
    pub fn start(args: &Args, db: &Path, trust: &Path, dir: &Path) -> anyhow::Result<Server> {
        let log = std::fs::File::create(dir.join("verifier.log"))?;
        let mut command = Command::new(&args.verifier);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--public-origin", args.origin()])
            .arg("--db")
            .arg(db)
            .arg("--trust-dir")
            .arg(trust);
        let tls_root = if args.tls {
            let site = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
            let (cert, key) = (dir.join("site.pem"), dir.join("site.key"));
            std::fs::write(&cert, site.cert.pem())?;
            std::fs::write(&key, site.signing_key.serialize_pem())?;
            command.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
            Some(site.cert.pem())
        } else {
            None
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("could not start {}", args.verifier.display()))?;
        let stdout = child.stdout.take().context("the verifier's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr: std::net::SocketAddr = line
            .trim()
            .strip_prefix("verifier: listening on ")
            .and_then(|url| url.split("://").nth(1))
            .map(|a| a.trim_end_matches('/'))
            .with_context(|| format!("the verifier did not start: {line:?}"))?
            .parse()?;
        let base = if args.tls { format!("https://localhost:{}", addr.port()) } else { format!("http://{addr}") };
        Ok(Server { child, base, addr, tls_root })
    }

    /// A client for the voters: over TLS, trusting only the verifier's certificate (and `localhost` is the
    /// verifier's address); `pool` idle connections kept (0: a new connection for every request).
    pub fn client(&self, pool: usize) -> anyhow::Result<reqwest::Client> {
        let mut b =
            reqwest::Client::builder().pool_max_idle_per_host(pool).timeout(std::time::Duration::from_secs(120));
        if let Some(root) = &self.tls_root {
            b = b
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes())?)
                .resolve("localhost", self.addr);
        }
        Ok(b.build()?)
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
