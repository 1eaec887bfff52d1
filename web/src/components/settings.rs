//! Display settings (JIS X 8341-3 / WCAG: resize text, contrast): text size and high contrast, applied as classes on
//! the page's root element, and the language, all kept in the browser's local storage so that they survive reloads.

use yew::prelude::*;

use crate::i18n::{Lang, t};

const KEY_SIZE: &str = "jp-ivote.text-size";
const KEY_CONTRAST: &str = "jp-ivote.contrast";
const KEY_LANG: &str = "jp-ivote.lang";
/// The text sizes: the code (a class `text-CODE` on the page, and in the gallery's URLs) and its names.
pub const SIZES: [(&str, &str, &str); 3] =
    [("normal", "標準", "Normal"), ("large", "大", "Large"), ("x-large", "特大", "Extra large")];

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Applies the saved settings to the page (called once at start).
pub fn apply_saved() {
    let s = storage();
    let size = s.as_ref().and_then(|s| s.get_item(KEY_SIZE).ok().flatten()).unwrap_or_else(|| "normal".into());
    let contrast = s.as_ref().and_then(|s| s.get_item(KEY_CONTRAST).ok().flatten()).as_deref() == Some("on");
    apply(&size, contrast);
}

/// Returns the saved language (Japanese unless English was chosen before).
pub fn saved_lang() -> Lang {
    match storage().and_then(|s| s.get_item(KEY_LANG).ok().flatten()).as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Ja,
    }
}

/// Saves the language (the page's `lang` attribute follows the language shown: [`show_lang`]).
pub fn save_lang(lang: Lang) {
    if let Some(s) = storage() {
        let _ = s.set_item(KEY_LANG, lang.code());
    }
}

/// Sets the page's `lang` attribute, so that screen readers switch voices.
pub fn show_lang(lang: Lang) {
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("lang", lang.code());
    }
}

/// Applies a text size (`normal`, `large`, `x-large`) and the contrast to the page, without saving them.
pub fn apply(size: &str, contrast: bool) {
    let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) else { return };
    let classes = root.class_list();
    for (s, _, _) in SIZES {
        let _ = classes.remove_1(&format!("text-{s}"));
    }
    let _ = classes.add_1(&format!("text-{size}"));
    let _ = if contrast { classes.add_1("contrast") } else { classes.remove_1("contrast") };
}

/// Properties of [`Settings`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
}

/// The settings controls.
#[function_component(Settings)]
pub fn settings(props: &Props) -> Html {
    let lang = props.lang;
    let saved = storage();
    let size = use_state(|| {
        saved.as_ref().and_then(|s| s.get_item(KEY_SIZE).ok().flatten()).unwrap_or_else(|| "normal".into())
    });
    let contrast =
        use_state(|| saved.as_ref().and_then(|s| s.get_item(KEY_CONTRAST).ok().flatten()).as_deref() == Some("on"));
    let set_size = |value: &'static str| {
        let (size, contrast) = (size.clone(), contrast.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(s) = storage() {
                let _ = s.set_item(KEY_SIZE, value);
            }
            apply(value, *contrast);
            size.set(value.to_string());
        })
    };
    let toggle = {
        let (size, contrast) = (size.clone(), contrast.clone());
        Callback::from(move |_: MouseEvent| {
            let on = !*contrast;
            if let Some(s) = storage() {
                let _ = s.set_item(KEY_CONTRAST, if on { "on" } else { "off" });
            }
            apply(&size, on);
            contrast.set(on);
        })
    };
    html! {
        <details class="card" id="settings">
            <summary>{ t(lang, "表示の設定（文字の大きさ・コントラスト）", "Display settings (text size, contrast)") }</summary>
            <fieldset><legend>{ t(lang, "文字の大きさ", "Text size") }</legend>
            { for SIZES.iter().map(|(value, ja, en)| html! {
                <label class="mode" for={format!("size-{value}")}>
                    <input type="radio" name="text-size" id={format!("size-{value}")} checked={*size == *value} onclick={set_size(value)} />{ t(lang, ja, en) }
                </label>
            }) }
            </fieldset>
            <label class="mode" for="contrast"><input type="checkbox" id="contrast" checked={*contrast} onclick={toggle} />
                { t(lang, "高コントラスト（黒地に白文字）", "High contrast (white on black)") }</label>
        </details>
    }
}
