//! A whole small election on loopback for the end-to-end tests: a JPKI-like test authority with the voters' soft
//! cards, the card helper holding one, and the verifier (with the built voter app) on a database with an election
//! open now, optionally with the committee on the operator API. Set up through the binaries' own commands, as an
//! operator would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process::{listening_url, start_helper, start_helper_after};
use crate::{ProcessGroup, bin_dir, committee, free_port, root, web_dist};

/// A whole small election on loopback: a JPKI-like test authority with one registered voter's soft card, the
/// card helper holding it, and the verifier (with the built voter app) on a database with the demo election open
/// now. Everything is set up through the binaries' own commands, as an operator would.
pub struct LiveElection {
    /// The verifier's base URL, `http://127.0.0.1:PORT/`.
    pub base_url: String,
    /// The voter's authentication PIN.
    pub auth_pin: &'static str,
    /// The voter's signing password.
    pub sign_password: &'static str,
    /// The verifier's database (operator commands run against it).
    pub db: PathBuf,
    /// The committee of municipality 13101 on the operator API, when started with one.
    pub committee: Option<Committee>,
    /// The host's named operators (two admins, and a counting officer once needed), logged in.
    pub crew: verifier::operators::crew::Crew,
    verifier: ProcessGroup,
    helper: ProcessGroup,
    helper_port: u16,
    origin: String,
    cards: Vec<PathBuf>,
    _dir: tempfile::TempDir,
}

/// A municipal committee's clerk and approver on the running verifier's operator API.
pub struct Committee {
    /// The operator API, `https://127.0.0.1:PORT`.
    pub url: String,
    /// The clerk (事務担当).
    pub clerk: committee::Operator,
    /// The approver (決裁者).
    pub approver: committee::Operator,
}

impl LiveElection {
    /// Stops the verifier gracefully (SIGTERM), as at the end of a lab session: it writes what it still holds.
    pub fn stop_verifier(&mut self) -> anyhow::Result<()> {
        let status = self.verifier.terminate()?;
        anyhow::ensure!(status.success(), "the verifier stopped with {status}");
        Ok(())
    }

    /// The card helper's origin, `http://127.0.0.1:PORT`.
    pub fn helper_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.helper_port)
    }

    /// Runs a `verifier` operator command against this election's database (e.g. `pause --reason …`) as the crew's
    /// first admin; pause, resume and export are approved by a second person (four eyes).
    pub fn verifier_command(&self, args: &[&str]) -> anyhow::Result<()> {
        if ["pause", "resume", "export"].contains(&args[0]) {
            self.crew.four_eyes(args)?;
        } else {
            self.crew.run(args)?;
        }
        Ok(())
    }

    /// Puts voter `i`'s card in the reader: the helper restarts on the same port with that card.
    pub fn use_card(&mut self, i: usize) -> anyhow::Result<()> {
        let card = self.cards.get(i).context("no such voter")?.clone();
        // Stop the old helper first: the port is reused.
        self.helper = start_helper_after(&mut self.helper, self.helper_port, &self.origin, &card)?;
        Ok(())
    }

    /// Sets up and starts everything with one registered voter.
    pub fn start() -> anyhow::Result<LiveElection> {
        LiveElection::start_with_voters(1)
    }

    /// Sets up and starts everything with `n` registered voters (the helper holds voter 0's card).
    pub fn start_with_voters(n: usize) -> anyhow::Result<LiveElection> {
        LiveElection::start_with(n, &[])
    }

    /// As [`LiveElection::start_with_voters`], with extra `verifier serve` arguments (e.g. a short session).
    pub fn start_with(n: usize, serve_args: &[&str]) -> anyhow::Result<LiveElection> {
        LiveElection::start_election(n, serve_args, "verifier/elections/demo.toml", &["tokyo", "national"], 0)
    }

    /// The demo election filed as a real one (`practice = false`), with one voter: what a practice-only feature
    /// must refuse.
    pub fn start_real() -> anyhow::Result<LiveElection> {
        let demo = std::fs::read_to_string(root().join("verifier/elections/demo.toml"))?;
        anyhow::ensure!(demo.contains("practice = true"), "demo.toml no longer says practice = true");
        LiveElection::start_toml(&demo.replace("practice = true", "practice = false"), &["tokyo", "national"])
    }

    /// An election written as TOML (e.g. `e2e::cost::election_toml`), re-dated to be open now, with one voter of
    /// these districts.
    pub fn start_toml(election: &str, districts: &[&str]) -> anyhow::Result<LiveElection> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("election.toml");
        std::fs::write(&file, election)?;
        LiveElection::start_election(1, &[], file.to_str().context("path")?, districts, 0)
    }

    /// As [`LiveElection::start_with_voters`], with `applicants` more cards that are not registered (voters
    /// `n..n + applicants`) and the committee of municipality 13101 on the operator API (a clerk and an approver
    /// with client certificates and TOTP secrets).
    pub fn start_with_committee(n: usize, applicants: usize) -> anyhow::Result<LiveElection> {
        LiveElection::start_election(n, &[], "verifier/elections/demo.toml", &["tokyo", "national"], applicants)
    }

    /// As [`LiveElection::start_with_voters`] for the rehearsal's House of Representatives general election
    /// (`verifier/elections/rehearsal-hor.toml`, open now): Tokyo 1st district, the Tokyo PR block and the Supreme
    /// Court review, which only a House of Representatives general election holds.
    pub fn start_hor(n: usize) -> anyhow::Result<LiveElection> {
        LiveElection::start_election(
            n,
            &[],
            "verifier/elections/rehearsal-hor.toml",
            &["tokyo-1", "tokyo-block", "national"],
            0,
        )
    }

    /// Starts an election file (of the repository, or an absolute path), re-dated to be open now, with `n` voters of
    /// these districts.
    fn start_election(
        n: usize,
        serve_args: &[&str],
        election_file: &str,
        districts: &[&str],
        applicants: usize,
    ) -> anyhow::Result<LiveElection> {
        let dir = tempfile::tempdir()?;
        let verifier_bin = bin_dir().join("verifier");
        let (auth_pin, sign_password) = ("1234", "HANAKO1");
        let files = Files {
            pki: dir.path().join("pki"),
            db: dir.path().join("verifier.sqlite"),
            committee_dir: dir.path().join("operator-ca"),
        };
        let cards = issue_cards(dir.path(), &files.pki, n.max(1) + applicants, auth_pin, sign_password)?;
        // The host's named operators (issue 21): two admins, who create the election under four eyes.
        let crew = verifier::operators::crew::Crew::bootstrap(
            &verifier_bin,
            &files.db,
            &files.committee_dir,
            &dir.path().join("crew"),
        )?;
        create_and_register(&crew, dir.path(), election_file, districts, &cards[..n.max(1)], &files.pki)?;

        let operator_port = free_port()?;
        let committee =
            if applicants > 0 { Some(Committee::issue(&crew, &files.committee_dir, operator_port)?) } else { None };
        let helper_port = free_port()?;
        let verifier_port = free_port()?;
        let origin = format!("http://127.0.0.1:{verifier_port}");
        let operator_port_if_committee = committee.as_ref().map(|_| operator_port);
        let verifier = serve(&files, serve_args, verifier_port, helper_port, operator_port_if_committee)?;
        let helper = start_helper(helper_port, &origin, &cards[0])?;
        if committee.is_some() {
            let operators = format!("127.0.0.1:{operator_port}");
            let up = (0..100).any(|_| {
                std::thread::sleep(Duration::from_millis(50));
                std::net::TcpStream::connect(&operators).is_ok()
            });
            anyhow::ensure!(up, "the operator API did not start on {operators}");
        }
        Ok(LiveElection {
            base_url: format!("{origin}/"),
            auth_pin,
            sign_password,
            db: files.db,
            committee,
            crew,
            verifier,
            helper,
            helper_port,
            origin,
            cards,
            _dir: dir,
        })
    }
}

impl Committee {
    /// The operator API's server certificate, then the committee's clerk and approver issued by the crew (four
    /// eyes), for the operator API on `port`.
    fn issue(crew: &verifier::operators::crew::Crew, ca: &Path, port: u16) -> anyhow::Result<Committee> {
        run(Command::new(bin_dir().join("verifier"))
            .args(["operators", "server-cert", "--host", "127.0.0.1", "--ca"])
            .arg(ca))?;
        let issue = |name: &str, role: &str| committee::Operator::issue(crew, ca, name, role, "13101");
        Ok(Committee {
            url: format!("https://127.0.0.1:{port}"),
            clerk: issue("Kei Clerk", "clerk")?,
            approver: issue("Aya Approver", "approver")?,
        })
    }
}

/// Where a live election keeps its state, in its temporary folder.
struct Files {
    /// The test authority's folder, the verifier's trust directory.
    pki: PathBuf,
    db: PathBuf,
    /// The operators' CA.
    committee_dir: PathBuf,
}

/// Runs a one-shot command to completion, failing with what it wrote on stderr.
fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!("{:?} failed: {}", cmd.get_program(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// The test authority in `pki` and `count` soft cards in `dir` (card 0 is 在外 花子's); returns the cards' files.
fn issue_cards(
    dir: &Path,
    pki: &Path,
    count: usize,
    auth_pin: &str,
    sign_password: &str,
) -> anyhow::Result<Vec<PathBuf>> {
    let test_pki = bin_dir().join("test-pki");
    run(Command::new(&test_pki).args(["init", "--dir"]).arg(pki))?;
    let mut cards = Vec::new();
    for i in 0..count {
        let card = dir.join(format!("card{i}.json"));
        let name = if i == 0 { "在外 花子".to_string() } else { format!("在外 利用者{i}") };
        run(Command::new(&test_pki)
            .args(["issue", "--dir"])
            .arg(pki)
            .args(["--name", &name, "--address", "ニューヨーク", "--birth-date", "1990-04-01", "--sex", "female"])
            .args(["--auth-pin", auth_pin, "--sign-password", sign_password, "--out"])
            .arg(&card))?;
        cards.push(card);
    }
    Ok(cards)
}

/// The crew creates the election (re-dated to be open now, with the test election key) and imports the holders of
/// `cards` as accepted internet voters of `districts`.
fn create_and_register(
    crew: &verifier::operators::crew::Crew,
    dir: &Path,
    election_file: &str,
    districts: &[&str],
    cards: &[PathBuf],
    pki: &Path,
) -> anyhow::Result<()> {
    let (file, key) = (root().join(election_file), root().join("shared/tests/data/test-election-key.pub.pem"));
    let (file, key) = (file.to_str().context("path")?, key.to_str().context("path")?);
    crew.four_eyes(&["election", "create", file, "--public-key", key, "--redate-for-demo"])?;
    let mut lines = String::new();
    for (i, card) in cards.iter().enumerate() {
        let card_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(card)?)?;
        let voter = serde_json::json!({
            "person_id": format!("13101:E-{}", i + 1), "municipality": "13101", "districts": districts,
            "auth_certificates": [card_json["auth"]["certificate"]],
            "sign_certificates": [card_json["sign"]["certificate"]],
        });
        lines.push_str(&format!("{voter}\n"));
    }
    let voters = dir.join("voters.jsonl");
    std::fs::write(&voters, lines)?;
    crew.run(&["voters", "import", voters.to_str().context("path")?, "--trust-dir", pki.to_str().context("path")?])?;
    Ok(())
}

/// Starts `verifier serve` on `port` with the built app, for the card helper on `helper_port`, and with the
/// operator API on `operator_port` when there is a committee; returns once it says where it listens.
fn serve(
    files: &Files,
    serve_args: &[&str],
    port: u16,
    helper_port: u16,
    operator_port: Option<u16>,
) -> anyhow::Result<ProcessGroup> {
    let origin = format!("http://127.0.0.1:{port}");
    let mut v = Command::new(bin_dir().join("verifier"));
    v.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--public-origin", &origin])
        .arg("--card-helper-origin")
        .arg(format!("http://127.0.0.1:{helper_port}"))
        .arg("--db")
        .arg(&files.db)
        .arg("--trust-dir")
        .arg(&files.pki)
        .arg("--web-dir")
        .arg(web_dist()?)
        .args(serve_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(operator_port) = operator_port {
        v.args(["--operator-listen", &format!("127.0.0.1:{operator_port}")])
            .arg("--operator-ca")
            .arg(&files.committee_dir);
    }
    let mut verifier = ProcessGroup::spawn(v)?;
    let mut line = String::new();
    let mut out = BufReader::new(verifier.child().stdout.take().context("no stdout")?);
    out.read_line(&mut line)?;
    listening_url(&line)?;
    // Keep reading: the verifier prints more (the operator API's address), and a closed pipe would stop it.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Ok(verifier)
}
