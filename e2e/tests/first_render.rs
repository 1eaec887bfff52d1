//! The voter app marks its first render and the moment the election is on screen, for `cargo xtask bench` to read
//! in real headless Chromium (tracker issue 10). This proves the marks exist and come in order; how long they take
//! is a benchmark figure, never a pass/fail condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::first_render::{ELECTION_SHOWN_MARK, FIRST_RENDER_MARK, load};
use e2e::{Browser, Verifier};

#[tokio::test(flavor = "multi_thread")]
async fn start_page_marks_its_first_render_then_the_election() {
    let verifier = Verifier::start_demo().unwrap();
    let b = Browser::start(None).await.unwrap();
    let l = load(&b, &verifier.base_url).await.unwrap();
    let first = l.first_render_ms.expect(FIRST_RENDER_MARK);
    let shown = l.election_shown_ms.expect(ELECTION_SHOWN_MARK);
    assert!(first > 0.0 && first <= shown, "the first render comes before the election is shown: {l:?}");
    assert!(l.response_end_ms.is_some() && l.wasm_response_end_ms.is_some(), "navigation and .wasm timing: {l:?}");
    let marks = b
        .client
        .execute("return performance.getEntriesByName(arguments[0], 'mark').length;", vec![FIRST_RENDER_MARK.into()])
        .await
        .unwrap();
    assert_eq!(marks, 1, "the first render is marked once");
    b.finish(&[e2e::NO_HELPER]).await.unwrap();
}
