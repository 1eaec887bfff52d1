//! A round's voting phase: the zero-vote check before the open, then the window opens (the verifier restarted
//! with an INSECURE test clock offset) and every voter votes in every contest, each entry in the next
//! selection × display layout; a window that logged in before a vote tries again and is refused; a short session
//! ends on screen.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use anyhow::ensure;
use chrono::{TimeDelta, Utc};
use fantoccini::Locator;

use super::picks::{Pick, plan, record_vote, vote_in};
use super::serve::{Served, wait_for};
use super::{AUTH_PIN, Rehearsal, Round, SIGN_PASSWORD};
use crate::process::run_cmd;
use crate::{Browser, bin_dir, web_dist};

/// What the browsers cast in a round.
pub(super) struct Ballots {
    /// (contest, line) → ballots, in the count's terms.
    pub(super) voted: BTreeMap<(String, String), u64>,
    /// The receipts' trackers.
    pub(super) trackers: Vec<String>,
}

/// The zero-vote check before the open, signed with the export key: this build's hashes against the running
/// server and app.
pub(super) fn zero_vote_check(r: &mut Rehearsal<'_>, round: &Round, served: &Served) -> anyhow::Result<()> {
    let id = &round.id;
    r.say(&format!("[{id}] zero-vote check before the open: this build's hashes against the running server and app"));
    let hashes = r.lab.work.join(format!("{id}-build-hashes.json"));
    run_cmd(
        Command::new(bin_dir().join("verifier"))
            .arg("build-hashes")
            .arg("--web-dir")
            .arg(web_dist()?)
            .arg("--out")
            .arg(&hashes),
    )?;
    run_cmd(
        round
            .crew
            .command(&round.crew.admins[0])
            .args(["zero-check", "--db"])
            .arg(&round.db)
            .arg("--export-key")
            .arg(&r.lab.export_key)
            .arg("--out")
            .arg(r.lab.work.join(format!("{id}-zero-check.json")))
            .arg("--expected-hashes")
            .arg(&hashes)
            .args(["--server", &round.origin, "--server-pid", &served.pid.to_string()]),
    )?;
    Ok(())
}

/// Opens the window and has every voter vote; returns what they cast.
pub(super) async fn open_and_vote(r: &mut Rehearsal<'_>, round: &Round) -> anyhow::Result<Ballots> {
    let id = &round.id;
    let open_offset = (round.election.window().opens_at - Utc::now() + TimeDelta::minutes(5)).num_seconds();
    r.say(&format!("[{id}] the window opens: verifier restarted with an INSECURE test clock {open_offset:+} s"));
    let served = round.config.start(Some(open_offset), &[])?;
    if round.plan.by_browser {
        let expected = round.notices_before + r.lab.cards.len();
        ensure!(wait_for(|| r.lab.smtp.received().len() >= expected), "[{id}] the acceptance notices did not arrive");
        let arrived = r.lab.smtp.received().len() - round.notices_before;
        r.say(&format!("[{id}] {arrived} acceptance notices arrived by SMTP"));
    }

    let mut ballots = Ballots { voted: BTreeMap::new(), trackers: Vec::new() };
    let mut stale = None;
    for i in 0..r.lab.cards.len() {
        if let Some(other) = vote_as(r, round, &served, i, &mut ballots).await? {
            stale = Some(other);
        }
    }
    r.browser.screenshot(&format!("rehearsal-{id}-receipts")).await?;

    if let Some(stale) = stale {
        second_attempt(r, round, stale).await?;
    }
    drop(served);
    if round.plan.by_browser {
        short_session(r, round, open_offset).await?;
    }
    Ok(ballots)
}

/// Voter `i` logs in and votes in every contest. For the last voter of a browser round, another window logs in
/// first and is returned, to try again once the ballots are in.
async fn vote_as(
    r: &mut Rehearsal<'_>,
    round: &Round,
    served: &Served,
    i: usize,
    ballots: &mut Ballots,
) -> anyhow::Result<Option<Browser>> {
    r.lab.use_card(i, &round.origin)?;
    let mut stale = None;
    if round.plan.by_browser && i == r.lab.cards.len() - 1 {
        r.say(&format!("[{}] voter {} also logs in in a second window, which will go stale", round.id, i + 1));
        let other = Browser::start(None).await?;
        other.client.goto(&served.base_url).await?;
        other.wait_text("#election-h", |t| !t.is_empty()).await?;
        other.log_in(AUTH_PIN).await?;
        stale = Some(other);
    }
    let b = &r.browser;
    b.client.goto(&served.base_url).await?;
    b.wait_text("#election-h", |t| !t.is_empty()).await?;
    if i == 0 {
        b.wait_text("#test-clock", |t| !t.is_empty()).await?;
    }
    b.log_in(AUTH_PIN).await?;
    for contest in &round.election.contests {
        vote_in_contest(r, round, contest, i, ballots).await?;
    }
    Ok(stale)
}

/// Voter `i` casts their planned pick in one contest, an entry in the next layout not yet voted in.
async fn vote_in_contest(
    r: &mut Rehearsal<'_>,
    round: &Round,
    contest: &shared::election::Contest,
    i: usize,
    ballots: &mut Ballots,
) -> anyhow::Result<()> {
    let cid = contest.id.to_string();
    let pick = plan(contest, i)?;
    let layout = match pick {
        Pick::Review(_) => None,
        Pick::Blank => Some(("list".to_string(), "scroll".to_string())),
        Pick::Entry { .. } => r.layouts.pop().or_else(|| Some(("list".into(), "scroll".into()))),
    };
    let how = match (&pick, &layout) {
        (Pick::Blank, _) => " (白票)".to_string(),
        (Pick::Entry { words, .. }, Some((s, d))) => format!(" for {words} ({s} × {d})"),
        (Pick::Review(marks), _) => format!(" (dismiss marks on judges {marks:?}, 0-based)"),
        _ => String::new(),
    };
    r.say(&format!("[{}] voter {} votes in {cid}{how}", round.id, i + 1));
    let b = &r.browser;
    vote_in(b, &cid, layout.as_ref().map(|(s, d)| (s.as_str(), d.as_str())), &pick).await?;
    if let (Some(l), Pick::Entry { .. }) = (layout, &pick) {
        r.used.push(l);
    }
    record_vote(&mut ballots.voted, &cid, &pick);
    ballots.trackers.push(r.browser.wait_text(&format!("#contest-{cid} .tracker code"), |t| t.len() == 64).await?);
    Ok(())
}

/// The stale window tries to vote again in the first contest and is refused; its browser then closes.
async fn second_attempt(r: &mut Rehearsal<'_>, round: &Round, stale: Browser) -> anyhow::Result<()> {
    let first = &round.election.contests[0].id;
    r.say(&format!("[{}] the second window tries to vote again in {first}: refused", round.id));
    r.second_attempt = second_attempt_refused(&stale, first.as_str()).await?;
    stale
        .check_console(&[crate::Expected {
            contains: "/api/v1/ballots - Failed to load resource: the server responded with a status of 409",
            reason: "a second window of the same voter tries to vote again: the verifier says ALREADY_VOTED",
        }])
        .await?;
    stale.client.clone().close().await?;
    Ok(())
}

/// The verifier restarted with 15-second sessions: a voter logs in and the session ends on screen.
async fn short_session(r: &mut Rehearsal<'_>, round: &Round, open_offset: i64) -> anyhow::Result<()> {
    r.say(&format!("[{}] a short session (15 s) ends on screen", round.id));
    let served = round.config.start(Some(open_offset), &["--session-seconds", "15"])?;
    let b = &r.browser;
    b.client.goto(&served.base_url).await?;
    b.wait_text("#election-h", |t| !t.is_empty()).await?;
    b.log_in(AUTH_PIN).await?;
    let ended =
        b.client.wait().at_most(Duration::from_secs(40)).for_element(Locator::Css("#failure")).await?.text().await?;
    ensure!(ended.contains("ログアウトしました"), "the session end is said on screen: {ended}");
    b.screenshot("rehearsal-session-ended").await?;
    r.session_end = ended;
    drop(served);
    Ok(())
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

/// Casts a 白票 in `contest` as far as the helper's signature, expecting the verifier to refuse it.
async fn vote_in_expecting_refusal(b: &Browser, contest: &str) -> anyhow::Result<()> {
    b.client.find(Locator::Css(&format!("#contest-{contest} button"))).await?.click().await?;
    b.client.wait().for_element(Locator::Css("#blank")).await?.click().await?;
    b.client.find(Locator::Css("#to-confirm")).await?.click().await?;
    b.wait_text("#chosen", |t| t.contains("白票")).await?;
    b.client.find(Locator::Css("#cast")).await?.click().await?;
    b.confirm_on_helper_page(SIGN_PASSWORD).await?;
    Ok(())
}
