//! The server's clock in the browser: the offset is measured once, then the time ticks every second.
//! The PC's clock is used only to count elapsed time, never as the election's time (R-VOTE-1).

use chrono::{DateTime, Utc};
use gloo_timers::callback::Interval;
use shared::jst::ClockOffset;
use yew::prelude::*;

use crate::services::verifier_api;

/// What the clock knows: nothing yet, the server's time, or why it could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerClock {
    /// The offset is being measured.
    Measuring,
    /// The server's current time.
    Now(DateTime<Utc>),
    /// The verifier could not be reached.
    Failed(String),
}

/// Returns the server's time, updated every second (at the device's second boundary).
#[hook]
pub fn use_server_clock() -> ServerClock {
    let offset = use_state(|| None::<Result<ClockOffset, String>>);
    let tick = use_state_eq(|| 0u64);
    {
        let offset = offset.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let measured = verifier_api::measure_clock().await.map_err(|e| e.code);
                offset.set(Some(measured));
            });
        });
    }
    {
        let tick = tick.clone();
        use_effect_with((), move |_| {
            let interval = Interval::new(250, move || tick.set(js_sys::Date::now() as u64 / 1000));
            move || drop(interval)
        });
    }
    match &*offset {
        None => ServerClock::Measuring,
        Some(Err(code)) => ServerClock::Failed(code.clone()),
        Some(Ok(off)) => match off.server_now(js_sys::Date::now() as i64) {
            Some(now) => ServerClock::Now(now),
            None => ServerClock::Failed("CLOCK".into()),
        },
    }
}
