//! The page's fragment (`location.hash`), which chooses the view: the voting page, the accessibility statement,
//! a gallery page or the study.

use yew::prelude::*;

/// Returns the fragment as it is now.
fn current_hash() -> String {
    web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default()
}

/// Returns the fragment, followed on every `hashchange` for the page's lifetime.
#[hook]
pub fn use_location_hash() -> UseStateHandle<String> {
    let hash = use_state(current_hash);
    {
        let hash = hash.clone();
        use_effect_with((), move |_| {
            let on_hash = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || hash.set(current_hash()));
            if let Some(w) = web_sys::window() {
                let _ = w.add_event_listener_with_callback(
                    "hashchange",
                    wasm_bindgen::JsCast::unchecked_ref(on_hash.as_ref()),
                );
            }
            // The app lives as long as the page.
            on_hash.forget();
        });
    }
    hash
}
