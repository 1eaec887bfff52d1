//! A round's registration phase, on the verifier as first started: for the House of Representatives the clerk
//! files the roll, each voter applies in the browser (the card logs in, the form's text is signed on the helper's
//! page) and the committee accepts through the operator API; for the House of Councillors the accepted internet
//! voters are imported from the registration subsystem.

use std::ffi::OsStr;

use anyhow::Context;
use fantoccini::Locator;

use super::serve::Served;
use super::{AUTH_PIN, MUNICIPALITY, Rehearsal, Round, SIGN_PASSWORD};

/// Registers every voter of the lab for the round's election, the way its plan says.
pub(super) async fn register(r: &mut Rehearsal<'_>, round: &Round, served: &Served) -> anyhow::Result<()> {
    if round.plan.by_browser {
        roll(r, round, served)?;
        for i in 0..r.lab.cards.len() {
            let no = apply(r, round, served, i).await?;
            r.say(&format!("[{}] the overseas voter card arrives (clerk); the approver accepts {no}", round.id));
            round.clerk.call(&served.operator_url, &["call", "POST", &format!("applications/{no}/card-arrived")])?;
            round.approver.call(&served.operator_url, &["call", "POST", &format!("applications/{no}/accept")])?;
        }
        Ok(())
    } else {
        import(r, round)
    }
}

/// The clerk and the approver log in on the operator API, and the clerk files the voters' roll entries.
fn roll(r: &mut Rehearsal<'_>, round: &Round, served: &Served) -> anyhow::Result<()> {
    r.say(&format!("[{}] the roll (clerk, operator API with client certificate + TOTP)", round.id));
    round.clerk.login(&served.operator_url)?;
    round.approver.login(&served.operator_url)?;
    let district_list = round.districts.join("|");
    let csv: String = (0..r.lab.cards.len())
        .map(|i| format!("{MUNICIPALITY},E-{},{},1985-05-05,{district_list},registered\n", i + 1, r.lab.names[i]))
        .collect();
    round
        .clerk
        .call(&served.operator_url, &["call", "POST", "roll-changes", "--json", &serde_json::to_string(&csv)?])?;
    Ok(())
}

/// Voter `i` applies in the browser with their card; returns the application's receipt number.
async fn apply(r: &mut Rehearsal<'_>, round: &Round, served: &Served, i: usize) -> anyhow::Result<String> {
    r.say(&format!(
        "[{}] voter {} applies in the browser (auth PIN, then signing password on the helper)",
        round.id,
        i + 1
    ));
    r.lab.use_card(i, &round.origin)?;
    let b = &r.browser;
    b.client.goto(&served.base_url).await?;
    b.wait_text("#election-h", |t| !t.is_empty()).await?;
    b.client.find(Locator::Css("#apply-section summary")).await?.click().await?;
    for (field, text) in [
        ("apply-municipality", MUNICIPALITY.to_string()),
        ("apply-roll", format!("E-{}", i + 1)),
        ("apply-name", r.lab.names[i].clone()),
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
    Ok(no)
}

/// The accepted internet voters, with their cards' certificates, imported by the host's admins.
fn import(r: &mut Rehearsal<'_>, round: &Round) -> anyhow::Result<()> {
    let id = &round.id;
    r.say(&format!("[{id}] the accepted internet voters imported from the registration subsystem"));
    let person = |i: usize| format!("{MUNICIPALITY}:E-{}", i + 1);
    let mut lines = String::new();
    for (i, card) in r.lab.cards.iter().enumerate() {
        let card: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(card)?)?;
        let v = serde_json::json!({
            "person_id": person(i), "municipality": MUNICIPALITY, "districts": round.districts,
            "auth_certificates": [card["auth"]["certificate"]], "sign_certificates": [card["sign"]["certificate"]],
        });
        lines.push_str(&format!("{v}\n"));
    }
    let file = r.lab.work.join(format!("{id}-voters.jsonl"));
    std::fs::write(&file, lines)?;
    round.crew.run(&[
        OsStr::new("voters"),
        OsStr::new("import"),
        file.as_os_str(),
        OsStr::new("--trust-dir"),
        r.lab.pki.as_os_str(),
    ])?;
    Ok(())
}
