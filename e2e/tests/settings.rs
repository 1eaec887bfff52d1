//! Text size and high contrast are applied to the page and survive a reload (JIS X 8341-3 / WCAG 1.4.4, 1.4.6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Browser, Verifier};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread")]
async fn text_size_and_contrast_survive_a_reload() {
    let verifier = Verifier::start_demo().unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&verifier.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.client.find(Locator::Css("#settings summary")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#size-x-large")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#contrast")).await.unwrap().click().await.unwrap();
    let root_font = |c: fantoccini::Client| async move {
        c.execute("return getComputedStyle(document.documentElement).fontSize;", vec![]).await.unwrap()
    };
    assert_eq!(root_font(b.client.clone()).await, serde_json::json!("24px"), "150 % of 16 px");
    b.client.refresh().await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    let classes = b.client.execute("return document.documentElement.className;", vec![]).await.unwrap();
    let classes = classes.as_str().unwrap().to_string();
    assert!(classes.contains("text-x-large") && classes.contains("contrast"), "{classes}");
    assert_eq!(root_font(b.client.clone()).await, serde_json::json!("24px"));
    let bg = b.client.execute("return getComputedStyle(document.body).backgroundColor;", vec![]).await.unwrap();
    assert_eq!(bg, serde_json::json!("rgb(0, 0, 0)"));
    b.screenshot("settings-contrast-large").await.unwrap();
    b.finish(&[e2e::NO_HELPER]).await.unwrap();
}
