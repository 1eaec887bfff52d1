//! A crew of named operators driving the `verifier` binary on the host, for the demo, rehearsals and tests: two
//! administrators from `verifier operators bootstrap`, each logged in with the code an authenticator app would
//! show, and a counting officer issued under four eyes when an export needs one (issue 21).
//!
//! It holds the TOTP secrets that, in an election, only each person's authenticator app holds: it must never be
//! used for a real election's operators.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use crate::operators::auth;

/// One operator's files and TOTP secret.
#[derive(Clone, Debug)]
pub struct Member {
    /// The person's name.
    pub name: String,
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// The key (PKCS#8 PEM); the host session is kept beside it.
    pub key: PathBuf,
    /// The TOTP secret (base32), as the authenticator app holds it.
    pub totp_secret: String,
}

impl Member {
    /// Reads a member from what `verifier operators issue`/`bootstrap` printed for one person.
    fn from_printed(block: &str) -> anyhow::Result<Member> {
        let field = |label: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(label))
                .and_then(|l| l.split_whitespace().next())
                .map(str::to_owned)
                .with_context(|| format!("no {label:?} in {block}"))
        };
        let name = block
            .lines()
            .find_map(|l| l.strip_prefix("operator issued and registered: "))
            .and_then(|l| l.rsplit_once(" ("))
            .map(|(n, _)| n.to_owned())
            .with_context(|| format!("no operator in {block}"))?;
        Ok(Member {
            name,
            cert: PathBuf::from(field("certificate: ")?),
            key: PathBuf::from(field("key:         ")?),
            totp_secret: field("TOTP secret: ")?,
        })
    }

    /// Puts this person's credentials on a command of the `verifier` binary.
    pub fn on<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.env("VERIFIER_OPERATOR_CERT", &self.cert).env("VERIFIER_OPERATOR_KEY", &self.key)
    }

    /// The code the authenticator app shows now.
    pub fn totp_now(&self) -> anyhow::Result<String> {
        auth::totp_code(&self.totp_secret, chrono::Utc::now())
    }
}

/// Two administrators and, once needed, a counting officer, all logged in on the host.
#[derive(Debug)]
pub struct Crew {
    bin: PathBuf,
    db: PathBuf,
    ca: PathBuf,
    dir: PathBuf,
    /// The two administrators: the first requests, the second approves.
    pub admins: [Member; 2],
    counting_officer: OnceLock<Member>,
    env: Vec<(String, String)>,
}

impl Crew {
    /// Makes the operator CA in `ca` if it is missing, bootstraps two administrators into `db` (their files in
    /// `dir`) and logs both in on the host.
    pub fn bootstrap(bin: &Path, db: &Path, ca: &Path, dir: &Path) -> anyhow::Result<Crew> {
        if !ca.join(auth::CA_CERT_FILE).exists() {
            output(Command::new(bin).args(["operators", "init-ca", "--ca"]).arg(ca))?;
        }
        let printed = output(
            Command::new(bin)
                .args(["operators", "bootstrap", "--admin", "Ren Admin", "--admin", "Mei Admin", "--ca"])
                .arg(ca)
                .arg("--db")
                .arg(db)
                .arg("--out")
                .arg(dir),
        )?;
        let mut members = printed
            .split("operator issued and registered: ")
            .skip(1)
            .map(|block| Member::from_printed(&format!("operator issued and registered: {block}")));
        let (Some(first), Some(second)) = (members.next().transpose()?, members.next().transpose()?) else {
            bail!("bootstrap printed no two administrators: {printed}");
        };
        let crew = Crew {
            bin: bin.to_path_buf(),
            db: db.to_path_buf(),
            ca: ca.to_path_buf(),
            dir: dir.to_path_buf(),
            admins: [first, second],
            counting_officer: OnceLock::new(),
            env: Vec::new(),
        };
        for m in &crew.admins {
            crew.login(m)?;
        }
        Ok(crew)
    }

    /// A command of the `verifier` binary on this crew's database and CA, as `member`.
    pub fn command(&self, member: &Member) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("VERIFIER_DB", &self.db).env("VERIFIER_OPERATOR_CA", &self.ca);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        member.on(&mut c);
        c
    }

    /// Sets an environment variable on every later command (a rehearsal's insecure test clock).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Logs a member in on the host; a code already used (the same 30-second step as an earlier login) waits for
    /// the next one.
    pub fn login(&self, member: &Member) -> anyhow::Result<()> {
        let mut last = String::new();
        for _ in 0..3 {
            let o = self.command(member).args(["login", "--totp", &member.totp_now()?]).output()?;
            if o.status.success() {
                return Ok(());
            }
            last = String::from_utf8_lossy(&o.stderr).into_owned();
            if !last.contains("TOTP_INVALID") {
                break;
            }
            let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
            std::thread::sleep(Duration::from_secs(31 - now % 30));
        }
        bail!("{} cannot log in: {last}", member.name)
    }

    /// Runs a host command as the first administrator; returns what it printed.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> anyhow::Result<String> {
        output(self.command(&self.admins[0]).args(args))
    }

    /// Runs a critical host command under four eyes: the first administrator requests it, and the second (or,
    /// for an export, the counting officer) approves it. Returns what the approval printed.
    pub fn four_eyes<S: AsRef<OsStr>>(&self, args: &[S]) -> anyhow::Result<String> {
        let o = self.requested_and_approved(args)?;
        if !o.status.success() {
            bail!("the approval of {:?} failed: {}", command_line(args), String::from_utf8_lossy(&o.stderr));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// As [`Crew::four_eyes`], returning the approval's own output, failed or not (the request must pass).
    pub fn requested_and_approved<S: AsRef<OsStr>>(&self, args: &[S]) -> anyhow::Result<std::process::Output> {
        let asked = self.run(args)?;
        let id = request_id(&asked)?;
        let approver = if args.first().is_some_and(|a| a.as_ref() == "export") {
            self.counting_officer()?
        } else {
            self.admins[1].clone()
        };
        Ok(self.command(&approver).args(["approve", &id]).output()?)
    }

    /// Issues an operator under four eyes (files in this crew's folder) and returns them, not logged in.
    pub fn issue(&self, name: &str, role: &str, municipality: Option<&str>) -> anyhow::Result<Member> {
        let out = self.dir.join(name.replace(' ', "-"));
        let out = out.to_str().context("the crew's folder is not UTF-8")?;
        let mut args = vec!["operators", "issue", "--name", name, "--role", role, "--out", out];
        if let Some(m) = municipality {
            args.extend(["--municipality", m]);
        }
        Member::from_printed(&self.four_eyes(&args)?)
    }

    /// The counting officer (issued and logged in at first use).
    pub fn counting_officer(&self) -> anyhow::Result<Member> {
        if let Some(m) = self.counting_officer.get() {
            return Ok(m.clone());
        }
        let m = self.issue("Kazu Counting", "counting_officer", None)?;
        self.login(&m)?;
        Ok(self.counting_officer.get_or_init(|| m).clone())
    }
}

/// The request id printed by a command that asked for four eyes ("four-eyes request ID: …").
pub fn request_id(printed: &str) -> anyhow::Result<String> {
    printed
        .lines()
        .find_map(|l| l.strip_prefix("four-eyes request "))
        .and_then(|l| l.split(':').next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no four-eyes request in: {printed}"))
}

fn command_line<S: AsRef<OsStr>>(args: &[S]) -> Vec<String> {
    args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect()
}

fn output(command: &mut Command) -> anyhow::Result<String> {
    let o = command.output().with_context(|| format!("cannot run {command:?}"))?;
    if !o.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}
