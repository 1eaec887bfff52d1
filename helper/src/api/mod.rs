//! The helper's loopback HTTP API and its confirmation page.
//!
//! API (`/api/v1`, JSON, CORS for the allowed origins only; any other `Origin`, or none, gets 403):
//! - `GET /api/v1/status`: reader, card, certificates readable without a PIN, tries left.
//! - `POST /api/v1/authenticate` `{challenge}`: starts a login signature over
//!   `shared::crypto::auth_digest(Origin header, challenge)`.
//! - `POST /api/v1/sign/ballot` (a ballot with its opening): reads the election from the asking site, re-encrypts
//!   the claimed choice and compares, then starts a signature over the envelope digest it computed, showing the
//!   choice in words ([`crate::requests`]).
//! - `POST /api/v1/sign/application` `{application}`: shows every field and signs the digest of that text.
//! - `POST /api/v1/check/ballot` (a challenged ballot's opening): the same check, shown on the helper's page, and
//!   that ballot is never signed afterwards.
//! - `POST /api/v1/sign` (a raw digest, as before issue 18): refused with `RAW_DIGEST_REFUSED`.
//! - `GET /api/v1/operations/{id}`: the operation's state; the result is handed out once.
//! - `POST /api/v1/operations/{id}/cancel`.
//!
//! Pages (the helper's own origin, `http://127.0.0.1:PORT`, which the voting page cannot read or frame):
//! - `GET /confirm/{id}`: who asks (origin), what will be signed as the helper computed it, tries left, the PIN
//!   field; for a check, what the challenged ballot holds.
//! - `POST /confirm/{id}`: the form; the PIN goes straight into the card call.
//!
//! Every request must name this helper in its `Host` header (127.0.0.1 or localhost with our port), which defeats
//! DNS rebinding. Bodies above 8 KiB are refused.
//!
//! Here: the helper's state and [`routes`] (host check, CORS, `no-store`); `endpoints.rs`: one filter per API
//! endpoint; `page.rs`: the confirmation page; `refusals.rs`: every refusal as `{code, message}` and
//! [`card_message`].

use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::backend::CardBackend;
use crate::operations::Operations;
use crate::requests::Challenged;

mod endpoints;
mod page;
mod refusals;

pub use refusals::card_message;
use refusals::{json_rejection, refuse};

/// The largest request body accepted.
pub const MAX_BODY: u64 = 8 * 1024;

/// The helper's shared state.
pub struct Helper {
    card: Arc<dyn CardBackend>,
    ops: Operations,
    http: reqwest::Client,
    challenged: Challenged,
    pinned_keys: Vec<String>,
    allowed_origins: Vec<String>,
    port: u16,
}

impl Helper {
    /// Makes the state for a helper listening on `port` that answers `allowed_origins`.
    pub fn new(card: Arc<dyn CardBackend>, allowed_origins: Vec<String>, port: u16) -> Arc<Helper> {
        Helper::with_pinned_keys(card, allowed_origins, port, Vec::new())
    }

    /// As [`Helper::new`], accepting ballots only under these election key fingerprints (none: any key the
    /// voting site serves).
    pub fn with_pinned_keys(
        card: Arc<dyn CardBackend>,
        allowed_origins: Vec<String>,
        port: u16,
        pinned_keys: Vec<String>,
    ) -> Arc<Helper> {
        let pinned_keys = pinned_keys.into_iter().map(|k| k.trim().to_ascii_lowercase()).collect();
        let allowed_origins = allowed_origins.into_iter().map(|o| o.trim_end_matches('/').to_string()).collect();
        Arc::new(Helper {
            card,
            ops: Operations::default(),
            http: crate::requests::client(),
            challenged: Challenged::default(),
            pinned_keys,
            allowed_origins,
            port,
        })
    }

    /// Returns the helper's own origin, where its pages live.
    pub fn own_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }

    fn host_ok(&self, host: &str) -> bool {
        host == format!("127.0.0.1:{}", self.port) || host == format!("localhost:{}", self.port)
    }
}

/// Every route of the helper.
pub fn routes(h: Arc<Helper>) -> BoxedFilter<(Response,)> {
    let host = {
        let h = h.clone();
        warp::header::optional::<String>("host")
            .and_then(move |host: Option<String>| {
                let ok = host.as_deref().is_some_and(|v| h.host_ok(v));
                async move {
                    if ok {
                        Ok(())
                    } else {
                        Err(refuse(StatusCode::FORBIDDEN, "BAD_HOST", "Open the helper as http://127.0.0.1 only."))
                    }
                }
            })
            .untuple_one()
    };
    let is_api = warp::path::peek()
        .and_then(|p: warp::path::Peek| async move {
            if p.segments().next() == Some("api") { Ok(()) } else { Err(warp::reject::not_found()) }
        })
        .untuple_one();
    let origin = warp::header::optional::<String>("origin");
    let api = is_api.and(origin).and(endpoints::api_routes(h.clone()).recover(json_rejection).unify()).map({
        let h = h.clone();
        move |origin: Option<String>, r: Response| with_cors(&h, origin.as_deref(), r)
    });
    let pages = page::pages(h.clone()).recover(page::html_rejection).unify();
    host.and(api.or(pages).unify()).recover(json_rejection).unify().map(no_store).boxed()
}

fn with_cors(h: &Helper, origin: Option<&str>, mut r: Response) -> Response {
    let headers = r.headers_mut();
    headers.insert("vary", HeaderValue::from_static("Origin"));
    if let Some(o) = origin.filter(|o| h.origin_allowed(o))
        && let Ok(v) = HeaderValue::from_str(o)
    {
        headers.insert("access-control-allow-origin", v);
        headers.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST"));
        headers.insert("access-control-allow-headers", HeaderValue::from_static("content-type"));
        headers.insert("access-control-max-age", HeaderValue::from_static("600"));
        // Chrome's Private Network Access: a public site may reach this loopback helper only if it says so.
        headers.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
    }
    r
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    r
}
