//! `web`: the voter app, a Yew single-page app compiled to wasm32 and served by the verifier (one origin).
//!
//! Map:
//! - [`pages`]: one file per screen (`start`: the status bar and the election with its window in JST; `vote/`: one
//!   file per
//!   step of voting: login, contests, choice, confirmation with the check of the encryption, failure, receipt;
//!   `apply`: 申出 and 切替申出; `accessibility`: the accessibility statement, shown for the `#accessibility`
//!   fragment; `gallery`: the reviewer's gallery of every layout, `#gallery`, practice elections only; `study/`:
//!   the researcher's instructed study with its questionnaire, `#study`, practice elections only).
//! - [`components`]: pieces shared by screens (`status_bar`, the JST time and the countdowns that stay in view,
//!   so that the ballot comes first; `chooser` the candidate screen and `research_chooser` with the researcher's
//!   modes; `session_bar` the session countdown and its extension; `settings`).
//! - [`hooks`]: `use_server_clock`, the server's time measured once and ticking every second;
//!   `use_focus_recovery`, focus kept on the page when a screen changes; `use_location_hash`, the fragment that
//!   chooses the view.
//! - [`services`]: `verifier_api`, the JSON API of the verifier; `card_helper`, the helper on the voter's PC;
//!   `cast`, sealing a choice and casting it through both (the only module that holds a ballot's opening).
//! - [`state`]: the voting flow's state and actions (`use_reducer`), with the election key pinned at login.
//! - [`refusals`]: what the voter is told for every refusal code, in Japanese and English.
//! - [`selection`]: the four selection modes and three display modes of the candidate screen (R-SYS-4).
//! - [`research`]: UX research in practice elections: the researcher's modes per participant and one task's
//!   anonymous metrics, sent only in a practice election (tracker issue 9).
//! - [`i18n`]: Japanese first, English second; date and time formatting.
//!
//! What it must never do: read the PC's clock or time zone for an election time (JST comes from the server's
//! clock, R-VOTE-1), handle a PIN or password (the card helper's own page does), send a plaintext choice anywhere
//! but to the card helper (it is encrypted here, R-VOTE-7; the helper shows it to the voter before the card signs),
//! or show a fingerprint or a tracker it did not compute itself.

pub mod components;
pub mod hooks;
pub mod i18n;
pub mod pages;
pub mod refusals;
pub mod research;
pub mod selection;
pub mod services;
pub mod state;

use yew::prelude::*;

/// The fragment that shows the accessibility statement instead of the voting page.
pub const STATEMENT_HASH: &str = "#accessibility";

/// The User Timing mark set when the app's first render is in the DOM (header, settings, the start screen's
/// placeholders): `cargo xtask bench` reads it against navigation start (tracker issue 10).
pub const FIRST_RENDER_MARK: &str = "ivote:first-render";
/// The User Timing mark set when the start screen first shows the election read from the verifier.
pub const ELECTION_SHOWN_MARK: &str = "ivote:election-shown";

/// Sets a User Timing mark (`performance.mark`): it stays in the page and is sent nowhere.
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

/// Moves focus to the element with this id, if it can take it.
pub(crate) fn focus_by_id(id: &str) {
    let el = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id));
    if let Some(el) = el.and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok()) {
        let _ = el.focus();
    }
}

/// The app: the language is chosen here and passed down.
#[function_component(App)]
pub fn app() -> Html {
    let lang = use_state(components::settings::saved_lang);
    // Effects run after the render is committed to the DOM: this one once, after the first.
    use_effect_with((), |_| mark(FIRST_RENDER_MARK));
    hooks::use_focus_recovery::use_focus_recovery();
    // The statement is a view of its own, reached by the footer link's fragment; the voting page stays mounted
    // (hidden) under it, so a vote in progress is not lost by reading the statement.
    let hash = hooks::use_location_hash::use_location_hash();
    // The voting page's session, shown by the status bar at the top (issue 22 part 7).
    let session = use_state(|| None::<components::session_bar::SessionStatus>);
    let on_session = {
        let session = session.clone();
        Callback::from(move |s| session.set(s))
    };
    let statement = *hash == STATEMENT_HASH;
    // The reviewer's gallery (issue 22 part 1): a page brings its own language, text size and contrast, shown
    // while it is open and never saved; elsewhere the browser's saved settings apply.
    let gallery = pages::gallery::Route::parse(&hash);
    let presentation = gallery.as_ref().and_then(pages::gallery::Route::presentation);
    let shown_lang = presentation.map_or(*lang, |(l, _, _)| l);
    // The voting page is mounted once the voter has been on it, and then stays (hidden under the statement or the
    // gallery, so that a vote in progress is not lost); a reviewer who opens a gallery link never starts it, so the
    // gallery never reaches the card helper.
    let study = *hash == pages::study::STUDY_HASH;
    let voting_mounted = {
        let seen = use_mut_ref(|| false);
        if gallery.is_none() && !study {
            *seen.borrow_mut() = true;
        }
        *seen.borrow()
    };
    use_effect_with((shown_lang, presentation.map(|(_, size, contrast)| (size, contrast))), |(l, p)| {
        match p {
            Some((size, contrast)) => components::settings::apply(size, *contrast),
            None => components::settings::apply_saved(),
        }
        components::settings::show_lang(*l);
    });
    use_effect_with(statement, |statement| {
        if *statement {
            focus_by_id("a11y-h");
        }
    });
    // The skip link moves focus without touching the fragment, which chooses the view.
    let skip = Callback::from(|e: MouseEvent| {
        e.prevent_default();
        focus_by_id("main");
    });
    let switch = lang_switch(gallery.as_ref(), &lang, shown_lang);
    let lang = shown_lang;
    html! {
        <>
            <header class="site">
                // Inside the banner landmark, so that no content sits outside a landmark (WCAG 1.3.1).
                <a class="skip-link" href="#main" onclick={skip}>{ i18n::t(lang, "本文へ移動", "Skip to main content") }</a>
                { switch }
                <h1>
                    <span lang="ja">{ "在外選挙インターネット投票" }</span>
                    <span class="en" lang="en">{ "Internet voting for Japanese voters abroad" }</span>
                </h1>
            </header>
            <main id="main" lang={lang.code()} tabindex="-1">
                if statement {
                    <pages::accessibility::Statement {lang} />
                }
                if let Some(route) = gallery.clone() {
                    <pages::gallery::Gallery {route} {lang} />
                }
                if study {
                    <pages::study::StudyPage {lang} />
                }
                if voting_mounted {
                <div hidden={statement || gallery.is_some() || study}>
                    <pages::start::Start {lang} session={(*session).clone()}>
                        <pages::vote::Vote {lang} {on_session} />
                    </pages::start::Start>
                    <components::settings::Settings {lang} />
                    <details class="card" id="apply-section">
                        <summary>{ i18n::t(lang, "インターネット投票の申出・切替申出はこちら", "Apply for internet voting, or switch back to paper") }</summary>
                        <pages::apply::Apply {lang} />
                    </details>
                </div>
                }
            </main>
            <footer class="site" lang={lang.code()}>
                <a href={STATEMENT_HASH} id="a11y-link">{ i18n::t(lang, "ウェブアクセシビリティ方針", "Accessibility statement") }</a>
            </footer>
        </>
    }
}

/// The language switch: it saves the other language as the voter's choice, except on a gallery page, where it is a
/// link to the same page in the other language (a gallery page brings its own language and never saves it).
fn lang_switch(gallery: Option<&pages::gallery::Route>, lang: &UseStateHandle<i18n::Lang>, shown: i18n::Lang) -> Html {
    if let Some(pages::gallery::Route::View(v)) = gallery {
        let to = pages::gallery::View { lang: v.lang.other(), ..v.clone() };
        return html! {
            <a class="button secondary lang-switch" href={to.href()} lang={to.lang.code()}>{ to.lang.switch_label() }</a>
        };
    }
    let toggle = {
        let lang = lang.clone();
        Callback::from(move |_: MouseEvent| {
            components::settings::save_lang(lang.other());
            lang.set(lang.other());
        })
    };
    html! {
        <button class="secondary lang-switch" onclick={toggle} lang={shown.other().code()}>
            { shown.other().switch_label() }
        </button>
    }
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
