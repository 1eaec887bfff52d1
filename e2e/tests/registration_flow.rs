//! A voter whose roll registration is pending (R-REG-4), walked end to end as the voter and the committee walk it
//! (issue 20): the voter applies in the browser with "my roll registration is pending", the committee's clerk
//! and approver take the card and accept on the operator API (the `operator` binary, client certificate + TOTP),
//! the voter's login is refused while no roll entry exists, the clerk's roll change completes the registration,
//! the voter votes, and then switches back to paper in the browser (R-REG-9), after which the card no longer
//! logs in to vote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Browser, Expected, LiveElection};
use fantoccini::Locator;

/// The applicant's card is voter 1 of the election (not registered): its certificates carry this name and birth
/// date (`LiveElection`).
const NAME: &str = "在外 利用者1";
const BIRTH: &str = "1990-04-01";

/// Fills and sends the application form; returns the receipt number.
async fn apply_in_browser(b: &Browser, election: &LiveElection, switch: bool, roll_entry: Option<&str>) -> String {
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.client.find(Locator::Css("#apply-section summary")).await.unwrap().click().await.unwrap();
    if switch {
        b.client.find(Locator::Css("#apply-kind-switch")).await.unwrap().click().await.unwrap();
    }
    let mut fields = vec![("apply-municipality", "13101"), ("apply-name", NAME), ("apply-address", "Paris")];
    fields.push(("apply-email", "riyosha1@example.org"));
    match roll_entry {
        Some(entry) => fields.push(("apply-roll", entry)),
        None => b.client.find(Locator::Css("#apply-pending")).await.unwrap().click().await.unwrap(),
    }
    for (id, text) in fields {
        b.client.find(Locator::Id(id)).await.unwrap().send_keys(text).await.unwrap();
    }
    b.client.execute(&format!("document.getElementById('apply-birth').value = '{BIRTH}';"), vec![]).await.unwrap();
    b.client.find(Locator::Css("#apply-submit")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.auth_pin).await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    let receipt = b.wait_text("#apply-receipt", |t| t.contains("R-13101-")).await.unwrap();
    receipt
        .split_whitespace()
        .find(|w| w.contains("R-13101-"))
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-').to_string())
        .unwrap()
}

/// Logs in to vote and waits for the refusal the page shows.
async fn login_refused(b: &Browser, election: &LiveElection) -> String {
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.client.wait().for_element(Locator::Css("#login")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.auth_pin).await.unwrap();
    b.wait_text("[role=alert]", |t| t.contains("登録がありません")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_applicant_is_accepted_completed_by_the_roll_votes_and_switches_back_to_paper() {
    let mut election = LiveElection::start_with_committee(1, 1).unwrap();
    let committee = election.committee.take().unwrap();
    let (clerk, approver, url) = (&committee.clerk, &committee.approver, committee.url.as_str());
    clerk.login(url).unwrap();
    approver.login(url).unwrap();
    election.use_card(1).unwrap();
    let b = Browser::start(None).await.unwrap();

    // The application, with the roll registration pending: accepted as a pending person without districts.
    let receipt = apply_in_browser(&b, &election, false, None).await;
    clerk.call(url, &["call", "POST", &format!("applications/{receipt}/card-arrived")]).unwrap();
    let accepted = approver.call(url, &["call", "POST", &format!("applications/{receipt}/accept")]).unwrap();
    let pending = accepted["person_id"].as_str().unwrap().to_string();
    assert!(pending.starts_with("13101:pending:"), "{accepted}");
    let refused = login_refused(&b, &election).await;
    b.screenshot("registration-pending-refused").await.unwrap();
    assert!(refused.contains("申出"), "the page says what to do: {refused}");

    // The roll entry arrives: the clerk's roll change completes the registration, and the voter votes.
    let csv = format!(
        "municipality,roll_entry,name,birth_date,districts,change\n13101,E-9,{NAME},{BIRTH},tokyo|national,registered\n"
    );
    let applied = clerk.call(url, &["call", "POST", "roll-changes", "--json", &serde_json::to_string(&csv).unwrap()]);
    assert_eq!(applied.unwrap()["applied"], 1);
    let history = clerk.call(url, &["call", "GET", "persons/13101:E-9/history"]).unwrap();
    assert!(history.as_array().unwrap().iter().any(|e| e["event"] == "registration_completed"), "{history}");
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.log_in(election.auth_pin).await.unwrap();
    b.client.find(Locator::Css("#contest-tokyo button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#blank")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    b.wait_text("#contest-tokyo .tracker code", |t| t.len() == 64).await.unwrap();

    // Back to paper (切替申出) in the browser: accepted for the voter whose card signed it; the card no longer
    // logs in to vote, and the cross-channel check says so.
    let receipt = apply_in_browser(&b, &election, true, Some("E-9")).await;
    clerk.call(url, &["call", "POST", &format!("applications/{receipt}/card-arrived")]).unwrap();
    let switched = approver.call(url, &["call", "POST", &format!("applications/{receipt}/accept")]).unwrap();
    assert_eq!(switched["person_id"], "13101:E-9", "{switched}");
    let cc = clerk.call(url, &["call", "GET", "persons/13101:E-9/cross-channel"]).unwrap();
    assert_eq!((cc["internet_voter"].as_bool(), cc["voted_online"].as_array().map(Vec::len)), (Some(false), Some(1)));
    login_refused(&b, &election).await;
    b.screenshot("registration-switched-refused").await.unwrap();
    b.finish(&[Expected {
        contains: "/api/v1/session - Failed to load resource: the server responded with a status of 403",
        reason: "the voter logs in while not registered (pending, then switched to paper): NOT_REGISTERED is a 403",
    }])
    .await
    .unwrap();
}
