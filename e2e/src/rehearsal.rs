//! The whole-election rehearsal (R-SYS-6): real binaries, a real SMTP server, a SoftHSM2 token and real headless
//! Chromium, all on loopback, in the order an election commission runs an election:
//!
//! key ceremony (`tally`, SoftHSM2) → election created with the public key → voters apply in the browser
//! (House of Representatives) or are imported (House of Councillors) → committee operators accept them through
//! the operator API (client certificate + TOTP, the `operator` binary) → notices arrive by SMTP → zero-vote check
//! → the window opens (the verifier restarted with an INSECURE test clock offset) → voters vote in the browser in
//! every selection × display layout, with 白票, an HoC PR candidate and a 国民審査 → a second attempt from another
//! window is refused → a short session ends on screen → the window closes → the record (調書) → export →
//! `tally import` and `tally count` in the token → the totals equal what was voted, and every tracker is in the
//! published ballot-box digest or, for ballots the restarted verifier could not open, in the count's result.
//!
//! [`run`] reports each step through a callback: the test asserts on the outcome, `cargo xtask rehearsal` prints.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use chrono::{TimeDelta, Utc};
use fantoccini::Locator;
use shared::election::Election;

use crate::committee::Operator;
use crate::smtp::SmtpSink;
use crate::{Browser, ProcessGroup, bin_dir, free_port, root, start_helper, start_helper_after, web_dist};
use verifier::operators::crew::Crew;

/// The selection modes and display modes (R-SYS-4), as the app's radio ids name them.
pub const SELECTION: [&str; 4] = ["list", "free_word_search", "initial_letter_input", "initial_letter_select"];
/// See [`SELECTION`].
pub const DISPLAY: [&str; 3] = ["one_screen", "scroll", "drum_roll"];

const AUTH_PIN: &str = "1234";
const SIGN_PASSWORD: &str = "HANAKO1";
const MUNICIPALITY: &str = "13101";

/// What a voter picks in one contest.
#[derive(Clone, Debug)]
pub enum Pick {
    /// A candidate or party entry: its element id, its reading (to find it by search or initial) and the words
    /// the confirmation must show.
    Entry {
        /// `cand-N` or `party-N`.
        id: String,
        /// The reading in kana.
        reading: String,
        /// The confirmation's words.
        words: String,
        /// The tally's line: `candidate:N` or `party:N`.
        line: String,
    },
    /// 白票.
    Blank,
    /// 国民審査: dismiss marks on these judges (0-based).
    Review(Vec<usize>),
}

/// One election's outcome.
#[derive(Debug)]
pub struct ElectionOutcome {
    /// The election's id.
    pub election_id: String,
    /// What the rehearsal voted: (contest, line) → ballots, lines `candidate:N`, `party:N`, `blank`, `judge:P`.
    pub voted: BTreeMap<(String, String), u64>,
    /// What the count found, in the same terms (lines with zero left out).
    pub counted: BTreeMap<(String, String), u64>,
    /// Ballots the count could not read.
    pub invalid: u64,
    /// The receipts' trackers.
    pub trackers: Vec<String>,
    /// How many of them the published ballot box holds.
    pub trackers_published: usize,
    /// The notices the SMTP server received.
    pub notices: usize,
    /// The record's (調書) voters per contest.
    pub record: BTreeMap<String, i64>,
}

/// The rehearsal's outcome.
#[derive(Debug)]
pub struct Outcome {
    /// One per election.
    pub elections: Vec<ElectionOutcome>,
    /// Every selection × display pair used in a real vote.
    pub layouts: Vec<(String, String)>,
    /// The second attempt's refusal code.
    pub second_attempt: String,
    /// The session-ended screen's text.
    pub session_end: String,
}

impl Outcome {
    /// The result table, as `cargo xtask rehearsal` prints it.
    pub fn table(&self) -> String {
        let mut out = String::from("election        contest       line          voted  counted\n");
        for e in &self.elections {
            let keys: std::collections::BTreeSet<_> = e.voted.keys().chain(e.counted.keys()).collect();
            for k in keys {
                let v = e.voted.get(k).copied().unwrap_or(0);
                let c = e.counted.get(k).copied().unwrap_or(0);
                let mark = if v == c { "" } else { "  <- DIFFERS" };
                out.push_str(&format!("{:<15} {:<13} {:<13} {v:>5}  {c:>7}{mark}\n", e.election_id, k.0, k.1));
            }
            out.push_str(&format!(
                "{:<15} trackers published {}/{}, invalid ballots {}, notices by SMTP {}\n",
                e.election_id,
                e.trackers_published,
                e.trackers.len(),
                e.invalid,
                e.notices
            ));
        }
        out
    }

    /// Whether the counts equal the votes and every tracker was published.
    pub fn passed(&self) -> bool {
        self.elections
            .iter()
            .all(|e| e.voted == e.counted && e.invalid == 0 && e.trackers_published == e.trackers.len())
    }
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

/// A running `verifier serve`.
struct Served {
    _process: ProcessGroup,
    /// The verifier's process id (the zero-vote check reads its binary).
    pid: u32,
    base_url: String,
    operator_url: String,
}

/// How the rehearsal's verifier is started for one election.
struct ServeConfig {
    db: PathBuf,
    pki: PathBuf,
    opca: PathBuf,
    smtp_port: u16,
    helper_origin: String,
    port: u16,
    operator_port: u16,
}

impl ServeConfig {
    fn start(&self, clock_offset: Option<i64>, extra: &[&str]) -> anyhow::Result<Served> {
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
            if crate::listening_url(&line).is_ok()
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

/// Picks in a contest's candidate screen with a selection × display layout, confirms in words, and casts.
async fn vote_in(b: &Browser, contest: &str, layout: Option<(&str, &str)>, pick: &Pick) -> anyhow::Result<()> {
    b.client.find(Locator::Css(&format!("#contest-{contest} button"))).await?.click().await?;
    match pick {
        Pick::Review(judges) => {
            b.client.wait().for_element(Locator::Css("#review-none")).await?;
            if judges.is_empty() {
                b.client.find(Locator::Css("#review-none")).await?.click().await?;
            }
            for j in judges {
                b.client.find(Locator::Css(&format!("#judge-{j}"))).await?.click().await?;
            }
        }
        Pick::Blank | Pick::Entry { .. } => {
            let (selection, display) = layout.unwrap_or(("list", "scroll"));
            b.client.wait().for_element(Locator::Css(&format!("#mode-{selection}"))).await?.click().await?;
            b.client.find(Locator::Css(&format!("#display-{display}"))).await?.click().await?;
            if let Pick::Entry { id, reading, .. } = pick {
                let family: String = reading.split(' ').next().unwrap_or(reading).chars().take(3).collect();
                let first = reading.chars().next().unwrap_or('あ');
                match selection {
                    "free_word_search" => b.client.find(Locator::Css("#search")).await?.send_keys(&family).await?,
                    "initial_letter_input" => {
                        b.client.find(Locator::Css("#initial")).await?.send_keys(&first.to_string()).await?
                    }
                    "initial_letter_select" => {
                        let row = shared::kana::initial_row(reading).context("a reading without kana")?;
                        let i = shared::kana::ROWS.iter().position(|r| *r == row).unwrap_or(0);
                        b.client.find(Locator::Css(&format!("#row-{i}"))).await?.click().await?;
                    }
                    _ => {}
                }
                let css = format!("#{id}");
                for _ in 0..60 {
                    if b.client.find(Locator::Css(&css)).await.is_ok() {
                        break;
                    }
                    b.client.find(Locator::Css("#drum-next")).await?.click().await?;
                }
                b.client.find(Locator::Css(&css)).await?.click().await?;
                b.screenshot(&format!("rehearsal-{contest}-{selection}-{display}")).await?;
            } else {
                b.client.find(Locator::Css("#blank")).await?.click().await?;
            }
        }
    }
    b.client.find(Locator::Css("#to-confirm")).await?.click().await?;
    let chosen = b.wait_text("#chosen", |t| !t.is_empty()).await?;
    match pick {
        Pick::Entry { words, .. } => ensure!(&chosen == words, "{contest}: the confirmation shows {chosen:?}"),
        Pick::Blank => ensure!(chosen.contains("白票"), "{contest}: the confirmation shows {chosen:?}"),
        Pick::Review(_) => {}
    }
    b.client.find(Locator::Css("#cast")).await?.click().await?;
    b.confirm_on_helper_page(SIGN_PASSWORD).await?;
    b.wait_text(&format!("#contest-{contest} .tracker code"), |t| t.len() == 64).await?;
    Ok(())
}

fn entry(contest: &shared::election::Contest, number: u16, party: bool) -> anyhow::Result<Pick> {
    if party {
        let p = contest.parties().iter().find(|p| p.number == number).context("no such party")?;
        return Ok(Pick::Entry {
            id: format!("party-{number}"),
            reading: p.reading.clone(),
            words: p.name.clone(),
            line: format!("party:{number}"),
        });
    }
    let c = contest.selectable_candidates().into_iter().find(|c| c.number == number).context("no such candidate")?;
    Ok(Pick::Entry {
        id: format!("cand-{number}"),
        reading: c.reading.clone(),
        words: format!("{}（{}）", c.name, c.reading),
        line: format!("candidate:{number}"),
    })
}

fn record_vote(voted: &mut BTreeMap<(String, String), u64>, contest: &str, pick: &Pick) {
    let mut add = |line: String| *voted.entry((contest.to_string(), line)).or_default() += 1;
    match pick {
        Pick::Entry { line, .. } => add(line.clone()),
        Pick::Blank => add("blank".into()),
        Pick::Review(judges) => {
            for j in judges {
                add(format!("judge:{}", j + 1));
            }
            // Every review ballot counts as a voter of the contest.
            add("ballots".into());
        }
    }
}

fn counted_lines(report: &tally::count::TallyReport) -> (BTreeMap<(String, String), u64>, u64) {
    let mut out = BTreeMap::new();
    let mut invalid = 0;
    for c in &report.contests {
        let mut put = |line: String, n: u64| {
            if n > 0 {
                out.insert((c.contest_id.clone(), line), n);
            }
        };
        for cand in &c.candidates {
            put(format!("candidate:{}", cand.number), cand.votes);
        }
        for p in &c.parties {
            put(format!("party:{}", p.number), p.party_votes);
        }
        for j in &c.judges {
            put(format!("judge:{}", j.position), j.dismiss);
        }
        put("blank".into(), c.blank);
        if c.kind == shared::election::ContestKind::JudicialReview {
            put("ballots".into(), c.voters);
        }
        invalid += c.invalid;
    }
    (out, invalid)
}

/// Writes the election definition with its dates set so that the notice is today (JST): the window opens
/// tomorrow at 08:30 JST (R-VOTE-2), so the zero-vote check can run now, before the open.
fn dated_election(template: &Path, out: &Path) -> anyhow::Result<Election> {
    let today = shared::jst::to_jst(Utc::now()).date_naive();
    let text = std::fs::read_to_string(template)?;
    let dated: String = text
        .lines()
        .map(|l| {
            if l.starts_with("notice_date = ") {
                format!("notice_date = \"{today}\"")
            } else if l.starts_with("election_day = ") {
                format!("election_day = \"{}\"", today + chrono::Days::new(12))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(out, &dated)?;
    let election: Election = toml::from_str(&dated)?;
    election.validate()?;
    Ok(election)
}

/// Shared pieces: the test PKI with the voters' soft cards, the card helper, the SMTP server, the token.
struct Lab {
    work: PathBuf,
    pki: PathBuf,
    cards: Vec<PathBuf>,
    names: Vec<String>,
    softhsm_conf: PathBuf,
    module: PathBuf,
    export_key: PathBuf,
    export_public: String,
    smtp: SmtpSink,
    helper: ProcessGroup,
    helper_port: u16,
}

impl Lab {
    fn use_card(&mut self, i: usize, origin: &str) -> anyhow::Result<()> {
        self.helper = start_helper_after(&mut self.helper, self.helper_port, origin, &self.cards[i])?;
        Ok(())
    }

    fn tally(&self, args: &[&str]) -> anyhow::Result<String> {
        run_cmd(Command::new(bin_dir().join("tally")).args(args).env(hsm_lab::CONF_ENV, &self.softhsm_conf))
    }
}

/// Runs the whole rehearsal with `voters` voters (at least 4: with fewer, not every layout gets a vote),
/// reporting each step through `say`.
pub async fn run(voters: usize, say: &mut dyn FnMut(&str)) -> anyhow::Result<Outcome> {
    ensure!(voters >= 4, "the rehearsal needs at least 4 voters");
    let dir = tempfile::tempdir()?;
    let work = dir.path().to_path_buf();
    let test_pki = bin_dir().join("test-pki");
    let verifier_bin = bin_dir().join("verifier");

    say("test PKI (a JPKI-like authority) and the voters' soft My Number cards");
    let pki = work.join("pki");
    run_cmd(Command::new(&test_pki).args(["init", "--dir"]).arg(&pki))?;
    let mut cards = Vec::new();
    let mut names = Vec::new();
    for i in 0..voters {
        let card = work.join(format!("card{i}.json"));
        let name = format!("在外 投票者{}", i + 1);
        run_cmd(
            Command::new(&test_pki)
                .args(["issue", "--dir"])
                .arg(&pki)
                .args(["--name", &name, "--address", "ロンドン", "--birth-date", "1985-05-05", "--sex", "male"])
                .args(["--auth-pin", AUTH_PIN, "--sign-password", SIGN_PASSWORD, "--out"])
                .arg(&card),
        )?;
        cards.push(card);
        names.push(name);
    }

    say("SoftHSM2 token folder, the verifier's export key, the operators' CA, an SMTP server on loopback");
    let lab = hsm_lab::Lab::new(&work)?;
    let softhsm_conf = lab.conf.clone();
    let export_key = work.join("export.key");
    let out = run_cmd(Command::new(&verifier_bin).args(["export-key", "generate", "--out"]).arg(&export_key))?;
    let export_public = out.split("public key ").nth(1).context("no export public key printed")?.trim().to_string();
    let opca = work.join("operator-ca");
    run_cmd(Command::new(&verifier_bin).args(["operators", "init-ca", "--ca"]).arg(&opca))?;
    run_cmd(Command::new(&verifier_bin).args(["operators", "server-cert", "--host", "127.0.0.1", "--ca"]).arg(&opca))?;
    let smtp = SmtpSink::start(0);
    let helper_port = free_port()?;
    let helper_origin = format!("http://127.0.0.1:{helper_port}");

    let mut lab = Lab {
        work: work.clone(),
        pki,
        cards,
        names,
        softhsm_conf,
        module: hsm_lab::module()?,
        export_key,
        export_public,
        smtp,
        helper: start_helper(helper_port, "http://127.0.0.1:1", &work.join("card0.json"))?,
        helper_port,
    };

    let browser = Browser::start(None).await?;
    let mut layouts: Vec<(String, String)> =
        SELECTION.iter().flat_map(|s| DISPLAY.iter().map(move |d| (s.to_string(), d.to_string()))).collect();
    layouts.reverse();
    let mut used = Vec::new();
    let mut outcomes = Vec::new();
    let mut second_attempt = String::new();
    let mut session_end = String::new();

    for (template, by_browser) in [("rehearsal-hor.toml", true), ("rehearsal-hoc.toml", false)] {
        let e = election_round(
            &mut lab,
            &browser,
            &helper_origin,
            &opca,
            template,
            by_browser,
            &mut layouts,
            &mut used,
            &mut second_attempt,
            &mut session_end,
            say,
        )
        .await;
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                // Leave the screen for whoever reads the failure.
                let _ = browser.screenshot("rehearsal-failure").await;
                let text = browser.client.execute("return document.body.innerText;", vec![]).await;
                let text = text.ok().and_then(|t| t.as_str().map(|s| s.chars().take(600).collect::<String>()));
                return Err(err.context(format!("the page showed: {}", text.unwrap_or_default())));
            }
        };
        outcomes.push(e);
    }
    browser.check_console(&[]).await?;
    browser.client.clone().close().await?;
    Ok(Outcome { elections: outcomes, layouts: used, second_attempt, session_end })
}

#[allow(clippy::too_many_arguments)]
async fn election_round(
    lab: &mut Lab,
    b: &Browser,
    helper_origin: &str,
    opca: &Path,
    template: &str,
    by_browser: bool,
    layouts: &mut Vec<(String, String)>,
    used: &mut Vec<(String, String)>,
    second_attempt: &mut String,
    session_end: &mut String,
    say: &mut dyn FnMut(&str),
) -> anyhow::Result<ElectionOutcome> {
    let verifier_bin = bin_dir().join("verifier");
    let election_file = lab.work.join(template);
    let election = dated_election(&root().join("verifier/elections").join(template), &election_file)?;
    let id = election.id.to_string();
    let window = election.window();
    let db = lab.work.join(format!("{id}.sqlite"));
    let mut districts: Vec<String> = election.contests.iter().map(|c| c.district.clone()).collect();
    districts.dedup();

    say(&format!("[{id}] key ceremony: RSA-3072 generated inside a SoftHSM2 token, PIN split 3 of 5"));
    let ceremony = lab.work.join(format!("ceremony-{id}"));
    let module = lab.module.to_string_lossy().to_string();
    lab.tally(&[
        "key-ceremony",
        "--module",
        &module,
        "--election-id",
        &id,
        "--official",
        "Counting officer A",
        "--official",
        "Auditor B",
        "--token-label",
        &format!("{id} election key"),
        "--so-pin-custody",
        "split",
        "--out",
        &ceremony.to_string_lossy(),
    ])?;
    say(&format!("[{id}] counting zero check: an empty import folder, the token holds exactly the ceremony's key"));
    let imports = lab.work.join(format!("{id}-imports"));
    std::fs::create_dir_all(&imports)?;
    let shares: Vec<String> = [2, 4, 5]
        .iter()
        .map(|i| ceremony.join(format!("pin-share-{i}-of-5.json")).to_string_lossy().into_owned())
        .collect();
    lab.tally(&[
        "zero-check",
        "--import-dir",
        &imports.to_string_lossy(),
        "--ceremony",
        &ceremony.join("ceremony.json").to_string_lossy(),
        "--module",
        &module,
        "--share",
        &shares[0],
        "--share",
        &shares[1],
        "--share",
        &shares[2],
        "--out",
        &lab.work.join(format!("{id}-count-zero-check.json")).to_string_lossy(),
    ])?;

    say(&format!("[{id}] election created with the ceremony's public key; operators issued"));
    // The host's named operators: two admins (four eyes), and the counting officer who approves the export.
    let mut crew = Crew::bootstrap(&verifier_bin, &db, opca, &lab.work.join(format!("{id}-operators")))?;
    let public_key = ceremony.join("election-public-key.pem");
    crew.four_eyes(&[
        OsStr::new("election"),
        OsStr::new("create"),
        election_file.as_os_str(),
        OsStr::new("--public-key"),
        public_key.as_os_str(),
    ])?;
    let clerk = Operator::issue(&crew, opca, "Rehearsal Clerk", "clerk", MUNICIPALITY)?;
    let approver = Operator::issue(&crew, opca, "Rehearsal Approver", "approver", MUNICIPALITY)?;
    let config = ServeConfig {
        db: db.clone(),
        pki: lab.pki.clone(),
        opca: opca.to_path_buf(),
        smtp_port: lab.smtp.port,
        helper_origin: helper_origin.to_string(),
        port: free_port()?,
        operator_port: free_port()?,
    };
    let origin = format!("http://127.0.0.1:{}", config.port);
    let notices_before = lab.smtp.received().len();

    let served = config.start(None, &[])?;
    let person = |i: usize| format!("{MUNICIPALITY}:E-{}", i + 1);
    let district_list = districts.join("|");
    if by_browser {
        say(&format!("[{id}] the roll (clerk, operator API with client certificate + TOTP)"));
        clerk.login(&served.operator_url)?;
        approver.login(&served.operator_url)?;
        let csv: String = (0..lab.cards.len())
            .map(|i| format!("{MUNICIPALITY},E-{},{},1985-05-05,{district_list},registered\n", i + 1, lab.names[i]))
            .collect();
        clerk.call(&served.operator_url, &["call", "POST", "roll-changes", "--json", &serde_json::to_string(&csv)?])?;
        for i in 0..lab.cards.len() {
            say(&format!(
                "[{id}] voter {} applies in the browser (auth PIN, then signing password on the helper)",
                i + 1
            ));
            lab.use_card(i, &origin)?;
            b.client.goto(&served.base_url).await?;
            b.wait_text("#election-h", |t| !t.is_empty()).await?;
            b.client.find(Locator::Css("#apply-section summary")).await?.click().await?;
            for (field, text) in [
                ("apply-municipality", MUNICIPALITY.to_string()),
                ("apply-roll", format!("E-{}", i + 1)),
                ("apply-name", lab.names[i].clone()),
                ("apply-address", "London".to_string()),
                ("apply-email", format!("voter{}@example.org", i + 1)),
            ] {
                b.client.find(Locator::Id(field)).await?.send_keys(&text).await?;
            }
            b.client.execute("document.getElementById('apply-birth').value = '1985-05-05';", vec![]).await?;
            b.client.find(Locator::Css("#apply-submit")).await?.click().await?;
            b.confirm_on_helper_page(AUTH_PIN).await?;
            b.confirm_on_helper_page(SIGN_PASSWORD).await?;
            let receipt = b.wait_text("#apply-receipt", |t| t.contains("R-13101-")).await?;
            if i == 0 {
                b.screenshot("rehearsal-applied").await?;
            }
            let no = receipt
                .split_whitespace()
                .find(|w| w.contains("R-13101-"))
                .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-'))
                .context("no receipt number")?
                .to_string();
            say(&format!("[{id}] the overseas voter card arrives (clerk); the approver accepts {no}"));
            clerk.call(&served.operator_url, &["call", "POST", &format!("applications/{no}/card-arrived")])?;
            approver.call(&served.operator_url, &["call", "POST", &format!("applications/{no}/accept")])?;
        }
    } else {
        say(&format!("[{id}] the accepted internet voters imported from the registration subsystem"));
        let mut lines = String::new();
        for (i, card) in lab.cards.iter().enumerate() {
            let card: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(card)?)?;
            let v = serde_json::json!({
                "person_id": person(i), "municipality": MUNICIPALITY, "districts": districts,
                "auth_certificates": [card["auth"]["certificate"]], "sign_certificates": [card["sign"]["certificate"]],
            });
            lines.push_str(&format!("{v}\n"));
        }
        let file = lab.work.join(format!("{id}-voters.jsonl"));
        std::fs::write(&file, lines)?;
        crew.run(&[
            OsStr::new("voters"),
            OsStr::new("import"),
            file.as_os_str(),
            OsStr::new("--trust-dir"),
            lab.pki.as_os_str(),
        ])?;
    }

    say(&format!("[{id}] zero-vote check before the open: this build's hashes against the running server and app"));
    let hashes = lab.work.join(format!("{id}-build-hashes.json"));
    run_cmd(
        Command::new(&verifier_bin).arg("build-hashes").arg("--web-dir").arg(web_dist()?).arg("--out").arg(&hashes),
    )?;
    run_cmd(
        crew.command(&crew.admins[0])
            .args(["zero-check", "--db"])
            .arg(&db)
            .arg("--export-key")
            .arg(&lab.export_key)
            .arg("--out")
            .arg(lab.work.join(format!("{id}-zero-check.json")))
            .arg("--expected-hashes")
            .arg(&hashes)
            .args(["--server", &origin, "--server-pid", &served.pid.to_string()]),
    )?;
    drop(served);

    let open_offset = (window.opens_at - Utc::now() + TimeDelta::minutes(5)).num_seconds();
    say(&format!("[{id}] the window opens: verifier restarted with an INSECURE test clock {open_offset:+} s"));
    let served = config.start(Some(open_offset), &[])?;
    if by_browser {
        let expected = notices_before + lab.cards.len();
        ensure!(wait_for(|| lab.smtp.received().len() >= expected), "[{id}] the acceptance notices did not arrive");
        say(&format!("[{id}] {} acceptance notices arrived by SMTP", lab.smtp.received().len() - notices_before));
    }

    let mut voted = BTreeMap::new();
    let mut trackers = Vec::new();
    let last = lab.cards.len() - 1;
    let mut stale = None;
    for i in 0..lab.cards.len() {
        lab.use_card(i, &origin)?;
        if by_browser && i == last {
            say(&format!("[{id}] voter {} also logs in in a second window, which will go stale", i + 1));
            let other = Browser::start(None).await?;
            other.client.goto(&served.base_url).await?;
            other.wait_text("#election-h", |t| !t.is_empty()).await?;
            other.log_in(AUTH_PIN).await?;
            stale = Some(other);
        }
        b.client.goto(&served.base_url).await?;
        b.wait_text("#election-h", |t| !t.is_empty()).await?;
        if i == 0 {
            b.wait_text("#test-clock", |t| !t.is_empty()).await?;
        }
        b.log_in(AUTH_PIN).await?;
        for contest in &election.contests {
            let cid = contest.id.to_string();
            let pick = plan(contest, i)?;
            let layout = match pick {
                Pick::Review(_) => None,
                Pick::Blank => Some(("list".to_string(), "scroll".to_string())),
                Pick::Entry { .. } => layouts.pop().or_else(|| Some(("list".into(), "scroll".into()))),
            };
            let how = match (&pick, &layout) {
                (Pick::Blank, _) => " (白票)".to_string(),
                (Pick::Entry { words, .. }, Some((s, d))) => format!(" for {words} ({s} × {d})"),
                (Pick::Review(marks), _) => format!(" (dismiss marks on judges {marks:?}, 0-based)"),
                _ => String::new(),
            };
            say(&format!("[{id}] voter {} votes in {cid}{how}", i + 1));
            vote_in(b, &cid, layout.as_ref().map(|(s, d)| (s.as_str(), d.as_str())), &pick).await?;
            if let (Some(l), Pick::Entry { .. }) = (layout, &pick) {
                used.push(l);
            }
            record_vote(&mut voted, &cid, &pick);
            trackers.push(b.wait_text(&format!("#contest-{cid} .tracker code"), |t| t.len() == 64).await?);
        }
    }
    b.screenshot(&format!("rehearsal-{id}-receipts")).await?;

    if let Some(stale) = stale {
        say(&format!("[{id}] the second window tries to vote again in {}: refused", election.contests[0].id));
        *second_attempt = second_attempt_refused(&stale, election.contests[0].id.as_str()).await?;
        stale
            .check_console(&[crate::Expected {
                contains: "/api/v1/ballots - Failed to load resource: the server responded with a status of 409",
                reason: "a second window of the same voter tries to vote again: the verifier says ALREADY_VOTED",
            }])
            .await?;
        stale.client.clone().close().await?;
    }
    if by_browser {
        drop(served);
        say(&format!("[{id}] a short session (15 s) ends on screen"));
        let served = config.start(Some(open_offset), &["--session-seconds", "15"])?;
        b.client.goto(&served.base_url).await?;
        b.wait_text("#election-h", |t| !t.is_empty()).await?;
        b.log_in(AUTH_PIN).await?;
        let ended = b
            .client
            .wait()
            .at_most(Duration::from_secs(40))
            .for_element(Locator::Css("#failure"))
            .await?
            .text()
            .await?;
        ensure!(ended.contains("ログアウトしました"), "the session end is said on screen: {ended}");
        b.screenshot("rehearsal-session-ended").await?;
        *session_end = ended;
        drop(served);
    } else {
        drop(served);
    }

    let close_offset = (window.closes_at - Utc::now() + TimeDelta::minutes(5)).num_seconds();
    say(&format!("[{id}] the window closes: verifier restarted with the clock {close_offset:+} s"));
    let served = config.start(Some(close_offset), &[])?;
    // Operator sessions are in memory: a restart ends them.
    clerk.login(&served.operator_url)?;
    say(&format!("[{id}] the record (調書) of municipality {MUNICIPALITY}"));
    let record_json =
        clerk.call(&served.operator_url, &["call", "GET", &format!("record?municipality={MUNICIPALITY}")])?;
    let record: BTreeMap<String, i64> = record_json["voters_per_contest"]
        .as_array()
        .context("no voters_per_contest in the record")?
        .iter()
        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_i64()?)))
        .collect();

    say(&format!("[{id}] the published ballot box (trackers and Merkle roots), once the verifier has sealed it"));
    let url = format!("{}api/v1/elections/current/ballot-box", served.base_url);
    let mut sealed = http_get(&url);
    for _ in 0..50 {
        if sealed.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        sealed = http_get(&url);
    }
    let published: shared::export::PublishedBallotBox = serde_json::from_str(&sealed?)?;
    let mut all_published: Vec<String> = published.contests.iter().flat_map(|c| c.trackers.clone()).collect();
    let held: u64 = published.contests.iter().map(|c| c.unopened).sum();
    say(&format!(
        "[{id}] {} trackers in the box; {held} ballots in batches the restarted verifier could not open (the count \
         opens them and publishes their trackers)",
        all_published.len()
    ));

    let mut counted = BTreeMap::new();
    let mut invalid = 0;
    let election_json = lab.work.join(format!("{id}.json"));
    std::fs::write(&election_json, serde_json::to_vec(&election)?)?;
    for district in &districts {
        say(&format!("[{id}] export of district {district}, import and count in the token (3 of 5 shares)"));
        let export = lab.work.join(format!("{id}-{district}-export.json"));
        // Requested by an admin, approved (and so carried out) by the counting officer, on the rehearsal's clock.
        crew.set_env("VERIFIER_INSECURE_TEST_CLOCK_OFFSET_SECONDS", &close_offset.to_string());
        crew.four_eyes(&[
            OsStr::new("export"),
            OsStr::new("--district"),
            OsStr::new(district),
            OsStr::new("--export-key"),
            lab.export_key.as_os_str(),
            OsStr::new("--out"),
            export.as_os_str(),
        ])?;
        let file: shared::export::ExportFile = serde_json::from_slice(&std::fs::read(&export)?)?;
        let manifest: shared::export::Manifest = serde_json::from_str(&file.manifest)?;
        for c in &manifest.contests {
            let root = published.contests.iter().find(|p| p.contest_id == c.contest_id).map(|p| p.root.as_str());
            ensure!(
                root == Some(c.tracker_root.as_str()),
                "[{id}] {}: the export's tracker root is the published one",
                c.contest_id
            );
        }
        let mut import = vec![
            export.to_string_lossy().to_string(),
            "--election".into(),
            election_json.to_string_lossy().to_string(),
            "--ceremony".into(),
            ceremony.join("ceremony.json").to_string_lossy().to_string(),
            "--export-key-public".into(),
            lab.export_public.clone(),
        ];
        for c in election.contests.iter().filter(|c| &c.district == district) {
            let n = record.get(c.id.as_str()).copied().unwrap_or(0);
            import.extend(["--expected-count-per-contest".into(), format!("{}={n}", c.id)]);
        }
        import.extend(["--expected-count".into(), "0".into()]);
        let mut args = vec!["import".to_string()];
        args.extend(import.clone());
        lab.tally(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        let results = lab.work.join(format!("{id}-{district}-results"));
        let mut args = vec!["count".to_string()];
        args.extend(import);
        args.extend(["--module".into(), module.clone(), "--allow-raw-rsa-with-host-oaep".into()]);
        args.extend(["--out".into(), results.to_string_lossy().to_string()]);
        for share in [1, 3, 5] {
            args.extend([
                "--share".into(),
                ceremony.join(format!("pin-share-{share}-of-5.json")).to_string_lossy().to_string(),
            ]);
        }
        lab.tally(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        let report: tally::count::TallyReport = serde_json::from_slice(&std::fs::read(results.join("result.json"))?)?;
        let (lines, bad) = counted_lines(&report);
        counted.extend(lines);
        invalid += bad;
        all_published.extend(report.contests.iter().flat_map(|c| c.unopened_trackers.clone()));
    }
    let trackers_published = trackers.iter().filter(|t| all_published.contains(t)).count();
    drop(served);
    let notices = lab.smtp.received().len() - notices_before;
    Ok(ElectionOutcome { election_id: id, voted, counted, invalid, trackers, trackers_published, notices, record })
}

/// What voter `i` picks in a contest: different candidates and parties, a 白票, an HoC PR listed candidate and
/// dismiss marks, so that the count has something to tell apart.
fn plan(contest: &shared::election::Contest, i: usize) -> anyhow::Result<Pick> {
    use shared::election::Rules;
    Ok(match (&contest.rules, i % 3) {
        (Rules::JudicialReview { .. }, 0) => Pick::Review(vec![1]),
        (Rules::JudicialReview { .. }, 1) => Pick::Review(vec![0, 2]),
        (Rules::JudicialReview { .. }, _) => Pick::Review(vec![]),
        (_, 2) => Pick::Blank,
        (Rules::HorDistrict { .. }, n) => entry(contest, [3, 2][n], false)?,
        (Rules::HocDistrict { .. }, n) => entry(contest, [5, 9][n], false)?,
        (Rules::HorPr { .. }, n) => entry(contest, [2, 3][n], true)?,
        (Rules::HocPr { .. }, 0) => entry(contest, 202, false)?,
        (Rules::HocPr { .. }, _) => entry(contest, 1, true)?,
    })
}

/// In a window that logged in before the voter's ballots were cast elsewhere (it still shows the contest as
/// open), the voter tries again: the helper signs, and the verifier refuses. Returns the code shown on screen.
async fn second_attempt_refused(stale: &Browser, contest: &str) -> anyhow::Result<String> {
    vote_in_expecting_refusal(stale, contest).await?;
    let failure = stale.wait_text("#failure", |t| !t.is_empty()).await?;
    ensure!(failure.contains("すでに投票を受け付けています"), "the refusal says why: {failure}");
    stale.screenshot("rehearsal-second-attempt-refused").await?;
    let code = stale.wait_text("#failure + .en", |t| !t.is_empty()).await?;
    Ok(code.trim_matches(|c| c == '(' || c == ')').to_string())
}

async fn vote_in_expecting_refusal(b: &Browser, contest: &str) -> anyhow::Result<()> {
    b.client.find(Locator::Css(&format!("#contest-{contest} button"))).await?.click().await?;
    b.client.wait().for_element(Locator::Css("#blank")).await?.click().await?;
    b.client.find(Locator::Css("#to-confirm")).await?.click().await?;
    b.wait_text("#chosen", |t| t.contains("白票")).await?;
    b.client.find(Locator::Css("#cast")).await?.click().await?;
    b.confirm_on_helper_page(SIGN_PASSWORD).await?;
    Ok(())
}

fn wait_for(mut ok: impl FnMut() -> bool) -> bool {
    // Notices are sent by the verifier's delivery loop, which runs at start and then every 30 seconds.
    for _ in 0..100 {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// A plain HTTP GET on loopback (the published ballot box is public).
fn http_get(url: &str) -> anyhow::Result<String> {
    let rest = url.strip_prefix("http://").context("http only")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).context("no path")?;
    let mut stream = std::net::TcpStream::connect(host)?;
    use std::io::{Read, Write};
    // HTTP/1.0: the whole body, never chunked.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("no HTTP body")?;
    ensure!(head.split_whitespace().nth(1) == Some("200"), "GET {path}: {head}");
    Ok(body.to_string())
}
