//! The committee's people on the operator API, played through the `operator` binary: a certificate and key from
//! `verifier operators issue`, and the TOTP code an authenticator app would show. Used by the rehearsal and by
//! the registration walk (`tests/registration_flow.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;

use crate::bin_dir;
use crate::rehearsal::run_cmd;

/// An operator of the municipal committee: certificate, key and TOTP secret, used through the `operator` binary.
pub struct Operator {
    dir: PathBuf,
    secret: String,
    ca: PathBuf,
}

impl Operator {
    /// Issues an operator with `verifier operators issue` into a folder under `work`.
    pub fn issue(
        work: &Path,
        db: &Path,
        opca: &Path,
        name: &str,
        role: &str,
        municipality: &str,
    ) -> anyhow::Result<Operator> {
        let dir = work.join(format!("operator-{role}-{}", db.file_stem().and_then(|s| s.to_str()).unwrap_or("db")));
        let out = run_cmd(
            Command::new(bin_dir().join("verifier"))
                .args(["operators", "issue", "--name", name, "--role", role, "--municipality", municipality])
                .arg("--ca")
                .arg(opca)
                .arg("--db")
                .arg(db)
                .arg("--out")
                .arg(&dir),
        )?;
        let secret = out
            .lines()
            .find_map(|l| l.strip_prefix("TOTP secret: "))
            .and_then(|l| l.split_whitespace().next())
            .context("no TOTP secret printed")?
            .to_string();
        Ok(Operator { dir, secret, ca: opca.join("operator-ca.pem") })
    }

    fn file(&self, ext: &str) -> anyhow::Result<PathBuf> {
        std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
            .with_context(|| format!("no .{ext} in {}", self.dir.display()))
    }

    /// Runs the `operator` binary as this person; returns its JSON answer (null when it is not JSON).
    pub fn call(&self, server: &str, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let out = run_cmd(
            Command::new(bin_dir().join("operator"))
                .arg("--server")
                .arg(server)
                .arg("--ca")
                .arg(&self.ca)
                .arg("--cert")
                .arg(self.file("pem")?)
                .arg("--key")
                .arg(self.file("key")?)
                .args(args),
        )?;
        Ok(serde_json::from_str(&out).unwrap_or(serde_json::Value::Null))
    }

    /// Logs in with the code an authenticator app would show now; a code is single-use, so after a refusal
    /// (the same 30-second step as an earlier login) it waits for the next step.
    pub fn login(&self, server: &str) -> anyhow::Result<()> {
        let totp = totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_secret(totp_rs::Secret::try_from_base32(&self.secret).map_err(|e| anyhow::anyhow!("{e}"))?)
            .build()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut last = None;
        for _ in 0..3 {
            let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
            match self.call(server, &["login", "--totp", &totp.generate(now).to_string()]) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_secs(31 - now % 30));
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("operator login failed")))
    }
}
