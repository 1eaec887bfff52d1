//! Applying for internet voting from the voter app (R-REG-1, R-REG-2, R-REG-10): the card logs in with purpose
//! `apply`, the form's exact text is signed with the signing password on the helper's page, and the voter gets a
//! receipt number and sees the application awaiting the overseas voter card.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Browser, LiveElection};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread")]
async fn a_voter_applies_with_the_card_and_gets_a_receipt_number() {
    let election = LiveElection::start().unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.client.find(Locator::Css("#apply-section summary")).await.unwrap().click().await.unwrap();
    let type_into = |id: &'static str, text: &'static str| {
        let c = b.client.clone();
        async move { c.find(Locator::Id(id)).await.unwrap().send_keys(text).await.unwrap() }
    };
    type_into("apply-municipality", "13101").await;
    type_into("apply-roll", "E-1").await;
    type_into("apply-name", "在外 花子").await;
    // A date input takes the digits in the browser's order (year first for an unset locale).
    b.client.execute("document.getElementById('apply-birth').value = '1990-04-01';", vec![]).await.unwrap();
    type_into("apply-address", "New York").await;
    type_into("apply-email", "hanako@example.org").await;
    b.screenshot("apply-form").await.unwrap();
    b.client.find(Locator::Css("#apply-submit")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.auth_pin).await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    let receipt = b.wait_text("#apply-receipt", |t| t.contains("R-13101-")).await.unwrap();
    assert!(receipt.contains("受付番号"), "{receipt}");
    let list = b.wait_text("#apply-list", |t| !t.is_empty()).await.unwrap();
    assert!(list.contains("awaiting_card") && list.contains("apply"), "{list}");
    b.screenshot("apply-received").await.unwrap();
    b.finish(&[]).await.unwrap();
}
