//! The clock block: JST now (from the server's clock), the voter's local time beside it, both to the second
//! (R-VOTE-1: summer time abroad makes JST easy to mistake, so both are shown with their offsets).

use chrono::{DateTime, FixedOffset, Offset, Utc};
use shared::jst::to_jst;
use yew::prelude::*;

use crate::i18n::{self, Lang, t};

/// Properties of [`JstClock`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
    /// The server's current time.
    pub now: DateTime<Utc>,
}

/// Returns the device's UTC offset at an instant, from the browser's time zone rules (for local time only).
pub fn local_offset(at: DateTime<Utc>) -> FixedOffset {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.timestamp_millis() as f64));
    let minutes_west = date.get_timezone_offset() as i32;
    FixedOffset::west_opt(minutes_west * 60).unwrap_or(Utc.fix())
}

/// Shows JST and local time.
#[function_component(JstClock)]
pub fn jst_clock(props: &Props) -> Html {
    let lang = props.lang;
    let jst = to_jst(props.now);
    let offset = local_offset(props.now);
    let local = props.now.with_timezone(&offset);
    html! {
        <section class="card clock" aria-labelledby="clock-h">
            <h2 id="clock-h">{ t(lang, "現在の日本時間", "Japan Standard Time now") }</h2>
            <p>
                <time class="jst" datetime={jst.to_rfc3339()} id="jst-now">{ i18n::date_time(lang, jst) }</time>
                { " JST (UTC+09:00)" }
            </p>
            <p id="local-now">
                { t(lang, "お使いのパソコンの現地時間: ", "Local time on your computer: ") }
                <time datetime={local.to_rfc3339()}>{ i18n::date_time(lang, local) }</time>
                { format!(" ({})", i18n::utc_offset(offset)) }
            </p>
            <p class="en">{ t(lang,
                "投票の期限はすべて日本時間です。時刻はサーバーの時計によるもので、パソコンの時計がずれていても正しく表示されます。",
                "All voting times are Japan Standard Time. The time comes from the server's clock, so it is right even if your computer's clock is not.") }</p>
        </section>
    }
}
