//! The committee's people on the operator API, played through the `operator` binary: a certificate and key from
//! `verifier operators issue`, and the TOTP code an authenticator app would show. Used by the rehearsal and by
//! the registration walk (`tests/registration_flow.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::Utc;

use crate::bin_dir;
use crate::process::run_cmd;

/// An operator of the municipal committee: certificate, key and TOTP secret, used through the `operator` binary.
pub struct Operator {
    member: verifier::operators::crew::Member,
    ca: PathBuf,
}

impl Operator {
    /// Issues an operator with `verifier operators issue`, requested by one of the crew's admins and approved by
    /// the other (four eyes).
    pub fn issue(
        crew: &verifier::operators::crew::Crew,
        opca: &Path,
        name: &str,
        role: &str,
        municipality: &str,
    ) -> anyhow::Result<Operator> {
        let member = crew.issue(name, role, Some(municipality))?;
        Ok(Operator { member, ca: opca.join("operator-ca.pem") })
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
                .arg(&self.member.cert)
                .arg("--key")
                .arg(&self.member.key)
                .args(args),
        )?;
        Ok(serde_json::from_str(&out).unwrap_or(serde_json::Value::Null))
    }

    /// Logs in with the code an authenticator app would show now; a code is single-use, so after a refusal
    /// (the same 30-second step as an earlier login) it waits for the next step.
    pub fn login(&self, server: &str) -> anyhow::Result<()> {
        let mut last = None;
        for _ in 0..3 {
            let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
            match self.call(server, &["login", "--totp", &self.member.totp_now()?]) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_secs(31 - now % 30));
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("operator login failed")))
    }
}
