//! Keeps keyboard focus on the page when a screen changes (WCAG 2.4.3 focus order, 2.4.7 focus visible): when the
//! focused element is removed by a re-render (the button that led to the next screen, an entry of a turning drum
//! roll), focus moves to its nearest surviving focusable ancestor, or else to the heading (or status message) of the
//! screen that replaced it, instead of falling back to the top of the document where a keyboard or screen reader
//! user would lose their place.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Document, Element, HtmlElement};
use yew::prelude::*;

/// What to focus in the region that survived, in order of preference.
const LANDING: [&str; 4] = ["h2", "h3", "[role=status]", "[role=alert]:not(:empty)"];

/// Installs the focus recovery once for the page's lifetime.
#[hook]
pub fn use_focus_recovery() {
    use_effect_with((), |_| {
        install();
    });
}

fn install() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    // The last focused element and its ancestors, nearest first.
    let chain: Rc<RefCell<Vec<Element>>> = Rc::default();
    let on_focusin = {
        let chain = chain.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let mut ancestors = Vec::new();
            let mut node = e.target().and_then(|t| t.dyn_into::<Element>().ok());
            while let Some(el) = node {
                node = el.parent_element();
                ancestors.push(el);
            }
            *chain.borrow_mut() = ancestors;
        })
    };
    let _ = doc.add_event_listener_with_callback("focusin", on_focusin.as_ref().unchecked_ref());
    // The page lives as long as the app: the listener is never removed.
    on_focusin.forget();

    let on_mutation = {
        let doc = doc.clone();
        // A copy, not a borrow: `focus()` fires `focusin` at once, whose handler writes the chain (issue 17).
        Closure::<dyn FnMut()>::new(move || {
            let last = chain.borrow().clone();
            recover(&doc, &last)
        })
    };
    let Ok(observer) = web_sys::MutationObserver::new(on_mutation.as_ref().unchecked_ref()) else { return };
    on_mutation.forget();
    let init = web_sys::MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    if let Some(body) = doc.body() {
        let _ = observer.observe_with_options(&body, &init);
    }
}

fn recover(doc: &Document, chain: &[Element]) {
    let lost = match doc.active_element() {
        None => true,
        Some(active) => doc.body().is_some_and(|b| active == *b.unchecked_ref::<Element>()),
    };
    // Only when the focused element itself went away: a voter who clicked elsewhere keeps their choice.
    let Some(first) = chain.first() else { return };
    if !lost || first.is_connected() {
        return;
    }
    let survivors = chain.iter().skip(1).filter(|el| el.is_connected());
    for el in survivors.clone() {
        if el.has_attribute("tabindex") && el.get_attribute("tabindex").as_deref() != Some("-1") {
            focus(el);
            return;
        }
    }
    for el in survivors {
        for selector in LANDING {
            if let Ok(Some(target)) = el.query_selector(selector) {
                if !target.has_attribute("tabindex") {
                    let _ = target.set_attribute("tabindex", "-1");
                }
                focus(&target);
                return;
            }
        }
    }
}

fn focus(el: &Element) {
    if let Some(el) = el.dyn_ref::<HtmlElement>() {
        let _ = el.focus();
    }
}
