//! The focus recovery hook in a real DOM in headless Chromium (WCAG 2.4.3, 2.4.7): when the focused button is
//! removed by a re-render, focus lands on the new screen's heading, and nothing panics on the way (issue 17: the
//! hook held its borrow of the focus chain while `focus()` fired `focusin`, whose handler panicked).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web::hooks::use_focus_recovery::use_focus_recovery;
use web_sys::HtmlElement;
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

mod watch;

#[function_component(Steps)]
fn steps() -> Html {
    use_focus_recovery();
    let step = use_state(|| 0);
    let next = {
        let step = step.clone();
        Callback::from(move |_: MouseEvent| step.set(*step + 1))
    };
    html! {
        <section>
            if *step == 0 {
                <h2 id="first">{ "確認" }</h2>
                <button id="next" onclick={next}>{ "次へ / Next" }</button>
            } else {
                <h2 id="landed">{ "次の画面 / Next screen" }</h2>
                <p>{ "..." }</p>
            }
        </section>
    }
}

async fn settle() {
    gloo_timers::future::sleep(Duration::from_millis(50)).await;
}

#[wasm_bindgen_test]
async fn focus_moves_to_the_next_screens_heading_when_the_focused_button_goes() {
    let watch = watch::Watch::start();
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let handle = yew::Renderer::<Steps>::with_root(root.clone()).render();
    settle().await;
    let button = document.get_element_by_id("next").unwrap().unchecked_into::<HtmlElement>();
    button.focus().unwrap();
    assert_eq!(document.active_element().map(|e| e.id()), Some("next".into()));
    button.click();
    settle().await;
    let errors = watch.unexpected();
    assert!(errors.is_empty(), "the recovery logged errors:\n{}", errors.join("\n"));
    assert_eq!(document.active_element().map(|e| e.id()), Some("landed".into()), "focus is on the new heading");
    handle.destroy();
    root.remove();
}
