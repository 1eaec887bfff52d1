//! The demo's two administrators on the host (issue 21): bootstrapped into the demo database, logged in with the
//! code an authenticator app would show, one requesting and the other approving each critical command. The same
//! steps as `verifier::operators::crew`, which xtask cannot use: xtask builds before `cargo xtask setup` installs anything.
//! Demo data only: a real election's TOTP secrets live only in each person's authenticator app.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::run::{cmd, describe};

/// An administrator's certificate, key and TOTP secret, as `verifier operators bootstrap` printed them.
struct Admin {
    cert: PathBuf,
    key: PathBuf,
}

/// The two administrators, logged in.
pub struct Crew {
    verifier: PathBuf,
    db: PathBuf,
    ca: PathBuf,
    admins: [Admin; 2],
}

impl Crew {
    /// Bootstraps two administrators into `db` (files in `dir`) and logs both in; prints their files and secrets.
    pub fn bootstrap(verifier: &Path, db: &Path, ca: &Path, dir: &Path) -> anyhow::Result<Crew> {
        let printed = run(cmd(verifier)
            .args(["operators", "bootstrap", "--admin", "Demo Admin A", "--admin", "Demo Admin B", "--ca"])
            .arg(ca)
            .arg("--db")
            .arg(db)
            .arg("--out")
            .arg(dir))?;
        println!("{printed}");
        let field = |block: &str, label: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(label))
                .and_then(|l| l.split_whitespace().next())
                .map(str::to_owned)
                .with_context(|| format!("no {label:?} printed"))
        };
        let mut admins = Vec::new();
        let mut secrets = Vec::new();
        for block in printed.split("operator issued and registered: ").skip(1) {
            admins.push(Admin {
                cert: field(block, "certificate: ")?.into(),
                key: field(block, "key:         ")?.into(),
            });
            secrets.push(field(block, "TOTP secret: ")?);
        }
        let admins: [Admin; 2] = admins.try_into().map_err(|_| anyhow::anyhow!("bootstrap printed no two admins"))?;
        let crew = Crew { verifier: verifier.to_path_buf(), db: db.to_path_buf(), ca: ca.to_path_buf(), admins };
        for (i, secret) in secrets.iter().enumerate() {
            run(crew.command(i).args(["login", "--totp", &totp_now(secret)?]))?;
        }
        Ok(crew)
    }

    /// A `verifier` command on the demo database as administrator `i` (0 or 1).
    pub fn command(&self, i: usize) -> Command {
        let mut c = cmd(&self.verifier);
        c.env("VERIFIER_DB", &self.db)
            .env("VERIFIER_OPERATOR_CA", &self.ca)
            .env("VERIFIER_OPERATOR_CERT", &self.admins[i].cert)
            .env("VERIFIER_OPERATOR_KEY", &self.admins[i].key);
        c
    }

    /// Administrator A requests a critical command and administrator B approves it; prints what it did.
    pub fn four_eyes(&self, args: &[&OsStr]) -> anyhow::Result<()> {
        let asked = run(self.command(0).args(args))?;
        let id = asked
            .lines()
            .find_map(|l| l.strip_prefix("four-eyes request "))
            .and_then(|l| l.split(':').next())
            .with_context(|| format!("no four-eyes request in: {asked}"))?;
        println!("{asked}");
        println!("{}", run(self.command(1).args(["approve", id]))?);
        Ok(())
    }
}

fn totp_now(secret: &str) -> anyhow::Result<String> {
    let secret = totp_rs::Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("bad TOTP secret: {e}"))?;
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(secret)
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    Ok(totp.generate(now).to_string())
}

fn run(c: &mut Command) -> anyhow::Result<String> {
    println!("$ {}", describe(c));
    let o = c.output().with_context(|| format!("could not start: {}", describe(c)))?;
    if !o.status.success() {
        bail!("command failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim_end().to_owned())
}
