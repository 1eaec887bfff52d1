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
//!
//! Map: this file (the run and its rounds, one per election), `lab` (what the rounds share: the test PKI and the
//! voters' cards, the token folder, the card helper, the SMTP server), `serve` (the verifier started and restarted on
//! the rehearsal's clock), then one file per phase of a round: `ceremony` (key ceremony, counting zero check, the
//! election and its operators), `registration` (the roll and the applications, or the import), `voting` (the zero-vote
//! check, the open window, the second attempt, the short session), `picks` (what each voter picks and how the candidate
//! screen casts it), `count` (the close, the record, the published ballot box, export and count in the token), and
//! `outcome` (the result table).

mod ceremony;
mod count;
mod lab;
mod outcome;
mod picks;
mod registration;
mod serve;
mod voting;

use std::path::PathBuf;

use anyhow::ensure;
use shared::election::Election;
use verifier::operators::crew::Crew;

use crate::Browser;
use crate::committee::Operator;
use lab::Lab;
pub use outcome::{ElectionOutcome, Outcome};
pub use picks::Pick;
use serve::ServeConfig;

/// The selection modes and display modes (R-SYS-4), as the app's radio ids name them.
pub const SELECTION: [&str; 4] = ["list", "free_word_search", "initial_letter_input", "initial_letter_select"];
/// See [`SELECTION`].
pub const DISPLAY: [&str; 3] = ["one_screen", "scroll", "drum_roll"];

const AUTH_PIN: &str = "1234";
const SIGN_PASSWORD: &str = "HANAKO1";
const MUNICIPALITY: &str = "13101";

/// One election of the rehearsal: its definition in verifier/elections/, and whether its voters apply in the
/// browser (accepted through the operator API, notified by SMTP) or are imported from the registration subsystem.
#[derive(Clone, Copy)]
struct RoundPlan {
    template: &'static str,
    by_browser: bool,
}

/// The House of Representatives general election (with its 国民審査), then a House of Councillors election.
const ROUNDS: [RoundPlan; 2] = [
    RoundPlan { template: "rehearsal-hor.toml", by_browser: true },
    RoundPlan { template: "rehearsal-hoc.toml", by_browser: false },
];

/// What the rounds share: the browser, the lab, and what the voting has used and seen so far.
struct Rehearsal<'s> {
    /// Declared before the lab: fields drop in order, so the browser stops before the card helper it talks to.
    browser: Browser,
    lab: Lab,
    /// The selection × display layouts not yet voted in, the next one last.
    layouts: Vec<(String, String)>,
    /// Every layout used in a real vote.
    used: Vec<(String, String)>,
    /// The second attempt's refusal code.
    second_attempt: String,
    /// The session-ended screen's text.
    session_end: String,
    say: &'s mut dyn FnMut(&str),
}

/// One election under way: what its phases share once it is created.
struct Round {
    plan: RoundPlan,
    /// The election's id, which every step's line starts with.
    id: String,
    election: Election,
    db: PathBuf,
    /// The election's districts, each exported and counted on its own.
    districts: Vec<String>,
    /// The key ceremony's folder: its record, the public key and the PIN shares.
    ceremony: PathBuf,
    /// The PKCS#11 module, as the counting tool is given it.
    module: String,
    crew: Crew,
    clerk: Operator,
    approver: Operator,
    config: ServeConfig,
    /// The verifier's public origin, `http://127.0.0.1:PORT`.
    origin: String,
    /// The notices the SMTP server had received before this election.
    notices_before: usize,
}

impl Rehearsal<'_> {
    /// Reports a step.
    fn say(&mut self, step: &str) {
        (self.say)(step);
    }
}

/// Runs the whole rehearsal with `voters` voters (at least 4: with fewer, not every layout gets a vote),
/// reporting each step through `say`.
pub async fn run(voters: usize, say: &mut dyn FnMut(&str)) -> anyhow::Result<Outcome> {
    ensure!(voters >= 4, "the rehearsal needs at least 4 voters");
    let dir = tempfile::tempdir()?;
    let lab = Lab::set_up(dir.path(), voters, say)?;
    let browser = Browser::start(None).await?;
    let mut layouts: Vec<(String, String)> =
        SELECTION.iter().flat_map(|s| DISPLAY.iter().map(move |d| (s.to_string(), d.to_string()))).collect();
    layouts.reverse();
    let mut r = Rehearsal {
        browser,
        lab,
        layouts,
        used: Vec::new(),
        second_attempt: String::new(),
        session_end: String::new(),
        say,
    };
    let mut outcomes = Vec::new();
    for plan in ROUNDS {
        match election_round(&mut r, plan).await {
            Ok(e) => outcomes.push(e),
            Err(err) => return Err(r.failure(err).await),
        }
    }
    r.browser.check_console(&[]).await?;
    r.browser.client.clone().close().await?;
    Ok(Outcome { elections: outcomes, layouts: r.used, second_attempt: r.second_attempt, session_end: r.session_end })
}

impl Rehearsal<'_> {
    /// Leaves the screen for whoever reads the failure: a screenshot, and the page's text in the error.
    async fn failure(&self, err: anyhow::Error) -> anyhow::Error {
        let _ = self.browser.screenshot("rehearsal-failure").await;
        let text = self.browser.client.execute("return document.body.innerText;", vec![]).await;
        let text = text.ok().and_then(|t| t.as_str().map(|s| s.chars().take(600).collect::<String>()));
        err.context(format!("the page showed: {}", text.unwrap_or_default()))
    }
}

/// One election from its key ceremony to its count, in the order of the phases.
async fn election_round(r: &mut Rehearsal<'_>, plan: RoundPlan) -> anyhow::Result<ElectionOutcome> {
    let mut round = ceremony::prepare(r, plan)?;
    let served = round.config.start(None, &[])?;
    registration::register(r, &round, &served).await?;
    voting::zero_vote_check(r, &round, &served)?;
    drop(served);
    let ballots = voting::open_and_vote(r, &round).await?;
    count::close_and_count(r, &mut round, ballots)
}
