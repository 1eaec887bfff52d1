//! One warp filter per endpoint, each documented by its HTTP line. Everything under `/api/v1`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, HeaderValue};
use warp::reply::Response;

use crate::AppState;
use crate::errors::Refusal;
use crate::voting::limits::Limited;
use crate::voting::{handlers, web::WebApp};

/// Every route: the voter API, then the voter app's files, with refusals mapped to `{code, message}`. A request
/// under `/api/` is answered by the API alone (issue 17): an unknown path is 404 and a known path with another
/// method 405 with `Allow`, from [`crate::contract::VOTER`], and never the app's page.
pub fn routes(state: AppState, app: Option<WebApp>) -> BoxedFilter<(Response,)> {
    let operations = warp::path("v1").and(
        health()
            .or(time(state.clone()))
            .unify()
            .or(current_election(state.clone()))
            .unify()
            .or(client_config(state.clone()))
            .unify()
            .or(voter_routes(state))
            .unify(),
    );
    let api = warp::path("api").and(
        operations
            .or(crate::errors::unmatched(&crate::contract::VOTER))
            .unify()
            .recover(crate::errors::handle_rejection)
            .unify()
            .map(no_store),
    );
    match app {
        Some(app) => api.or(app.filter()).unify().recover(crate::errors::handle_rejection).unify().boxed(),
        None => api.recover(crate::errors::handle_rejection).unify().boxed(),
    }
}

/// `GET /api/v1/health`
fn health() -> BoxedFilter<(Response,)> {
    warp::path!("health").and(warp::get()).map(handlers::health).boxed()
}

/// `GET /api/v1/time`
fn time(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("time").and(warp::get()).map(move || handlers::time(&state)).boxed()
}

/// `GET /api/v1/client-config`
fn client_config(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("client-config")
        .and(warp::get())
        .map(move || {
            use warp::Reply;
            // The researcher's assignment reaches the app only in a practice election, never in a real one.
            let research = if state.election.get().practice { state.config.research.clone() } else { None };
            let body =
                shared::api::ClientConfig { card_helper_origin: state.config.card_helper_origin.clone(), research };
            warp::reply::json(&body).into_response()
        })
        .boxed()
}

/// `GET /api/v1/elections/current`
/// `GET /api/v1/elections/current/definition`
fn current_election(state: AppState) -> BoxedFilter<(Response,)> {
    let summary = {
        let state = state.clone();
        warp::path!("elections" / "current").and(warp::get()).map(move || handlers::current_election(&state))
    };
    let definition = warp::path!("elections" / "current" / "definition")
        .and(warp::get())
        .map(move || handlers::election_definition(&state));
    summary.or(definition).unify().boxed()
}

/// The largest JSON body of the voter API (a ballot is about 1.5 KiB in base64, a certificate about 2 KiB).
pub const MAX_BODY: u64 = 16 * 1024;

/// Runs a blocking handler (database, signature checks) off the async threads.
async fn blocking<F>(f: F) -> Result<Response, warp::Rejection>
where
    F: FnOnce() -> Result<Response, Refusal> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(refusal)) => Err(warp::reject::custom(refusal)),
        Err(e) => Err(warp::reject::custom(Refusal::new(
            warp::http::StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("The server failed ({e}). Try again."),
        ))),
    }
}

/// Parses a JSON body, refusing unknown fields and bad JSON with `MALFORMED` (as a refusal of this route, so that
/// it is not outranked by another route's rejection).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        Refusal::new(warp::http::StatusCode::BAD_REQUEST, "MALFORMED", format!("The request body is not valid: {e}"))
    })
}

/// Refuses a state-changing request that a browser sent from another site (issue 19): an `Origin` that is not the
/// public origin, or `Sec-Fetch-Site: cross-site`. A request with neither comes from no browser page, so it cannot
/// carry a voter's cookie against their will. SameSite=Strict cookies are the second line.
fn same_site(state: AppState) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("origin")
        .and(warp::header::optional::<String>("sec-fetch-site"))
        .and_then(move |origin: Option<String>, site: Option<String>| {
            let allowed = origin.as_deref().is_none_or(|o| o == state.config.public_origin.trim_end_matches('/'))
                && site.as_deref() != Some("cross-site");
            async move {
                if allowed {
                    Ok(())
                } else {
                    Err(warp::reject::custom(Refusal::new(
                        warp::http::StatusCode::FORBIDDEN,
                        "ORIGIN_NOT_ALLOWED",
                        "This request came from another site. Vote only on the official voting site.",
                    )))
                }
            }
        })
        .untuple_one()
}

/// Counts a request against its network's rate ([`crate::voting::limits`]); over it, 429 `RATE_LIMITED`.
fn rate(
    state: AppState,
    what: crate::voting::limits::Limited,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::ext::optional::<crate::voting::listener::Peer>()
        .and_then(move |peer: Option<crate::voting::listener::Peer>| {
            let checked = state.limits.check(what, peer.map(|p| p.0.ip()));
            async move { checked.map_err(|seconds| warp::reject::custom(crate::errors::RateLimited(seconds))) }
        })
        .untuple_one()
}

/// The voter API's own routes, in the order they are tried: login and its session, the ballot and the cast,
/// applications, and the UX research.
fn voter_routes(state: AppState) -> BoxedFilter<(Response,)> {
    session_routes(state.clone())
        .or(ballot_routes(state.clone()))
        .unify()
        .or(application_routes(state.clone()))
        .unify()
        .or(research_routes(state))
        .unify()
        .boxed()
}

/// The state, for a handler.
fn with(state: &AppState) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone + use<> {
    let s = state.clone();
    warp::any().map(move || s.clone())
}

/// The session cookie's token, if any.
fn session_cookie() -> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    warp::cookie::optional::<String>(handlers::SESSION_COOKIE)
}

/// A JSON body of at most [`MAX_BODY`] bytes.
fn json_body() -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::body::content_length_limit(MAX_BODY)
}

/// A JSON POST from a session: (cookie token, body, state).
fn session_post(
    state: &AppState,
) -> impl Filter<Extract = (Option<String>, bytes::Bytes, AppState), Error = warp::Rejection> + Clone + use<> {
    warp::post()
        .and(same_site(state.clone()))
        .and(json_body())
        .and(session_cookie())
        .and(warp::body::bytes())
        .and(with(state))
}

/// Login and its session (R-VOTE-4, R-VOTE-5).
fn session_routes(state: AppState) -> BoxedFilter<(Response,)> {
    // POST /api/v1/session/challenge
    let challenge = warp::path!("session" / "challenge")
        .and(warp::post())
        .and(rate(state.clone(), Limited::Challenge))
        .and(with(&state))
        .map(|s: AppState| handlers::challenge(&s));
    // POST /api/v1/session
    let login = warp::path!("session")
        .and(warp::post())
        .and(rate(state.clone(), Limited::Login))
        .and(same_site(state.clone()))
        .and(json_body())
        .and(warp::body::bytes())
        .and(with(&state))
        .and_then(|body: bytes::Bytes, s: AppState| blocking(move || handlers::login(&s, parse(&body)?)));
    // POST /api/v1/session/extend
    let extend = warp::path!("session" / "extend")
        .and(warp::post())
        .and(rate(state.clone(), Limited::Login))
        .and(session_post(&state))
        .and_then(|token, body: bytes::Bytes, s: AppState| {
            blocking(move || handlers::extend_session(&s, token, parse(&body)?))
        });
    // DELETE /api/v1/session
    let logout = warp::path!("session")
        .and(warp::delete())
        .and(same_site(state.clone()))
        .and(session_cookie())
        .and(with(&state))
        // Blocking: a logout is recorded in the spent store, which may be the voting store on PostgreSQL.
        .and_then(|token, s: AppState| blocking(move || Ok(handlers::logout(&s, token))));
    challenge.or(login).unify().or(extend).unify().or(logout).unify().boxed()
}

/// The ballot, the cast, and what is published for anyone to check (R-VOTE-6..9).
fn ballot_routes(state: AppState) -> BoxedFilter<(Response,)> {
    // GET /api/v1/ballot
    let ballot = warp::path!("ballot")
        .and(warp::get())
        .and(session_cookie())
        .and(with(&state))
        .and_then(|token, s: AppState| blocking(move || handlers::ballot(&s, token)));
    // POST /api/v1/ballots
    let cast = warp::path!("ballots")
        .and(warp::post())
        .and(rate(state.clone(), Limited::Cast))
        .and(session_post(&state))
        .and_then(|token, body: bytes::Bytes, s: AppState| {
            blocking(move || {
                let answer = parse(&body).and_then(|req| handlers::cast(&s, token, req));
                if let Err(refusal) = &answer {
                    // Counted by code and hour only, written hourly (R-SEC-5).
                    s.sessions.count_cast_refusal(refusal.code, s.clock.now());
                }
                answer
            })
        });
    // GET /api/v1/elections/current/ballot-box
    let ballot_box = warp::path!("elections" / "current" / "ballot-box")
        .and(warp::get())
        .and(with(&state))
        .and_then(|s: AppState| blocking(move || handlers::published_ballot_box(&s)));
    // GET /api/v1/audit/checkpoints
    let checkpoints = warp::path!("audit" / "checkpoints")
        .and(warp::get())
        .and(with(&state))
        .and_then(|s: AppState| blocking(move || handlers::audit_checkpoints(&s)));
    ballot.or(cast).unify().or(ballot_box).unify().or(checkpoints).unify().boxed()
}

/// The applicant's applications (R-REG-1, R-REG-2, R-REG-9).
fn application_routes(state: AppState) -> BoxedFilter<(Response,)> {
    // POST /api/v1/applications
    let apply =
        warp::path!("applications").and(session_post(&state)).and_then(|token, body: bytes::Bytes, s: AppState| {
            blocking(move || handlers::submit_application(&s, token, parse(&body)?))
        });
    // GET /api/v1/applications
    let applications = warp::path!("applications")
        .and(warp::get())
        .and(session_cookie())
        .and(with(&state))
        .and_then(|token, s: AppState| blocking(move || handlers::own_applications(&s, token)));
    apply.or(applications).unify().boxed()
}

/// UX research (practice elections only; tracker issues 9 and 22).
fn research_routes(state: AppState) -> BoxedFilter<(Response,)> {
    // POST /api/v1/research/metrics
    let metrics = warp::path!("research" / "metrics")
        .and(warp::post())
        .and(same_site(state.clone()))
        .and(json_body())
        .and(warp::body::bytes())
        .and(with(&state))
        .and_then(|body: bytes::Bytes, s: AppState| blocking(move || crate::research::receive(&s, parse(&body)?)));
    // GET /api/v1/research/study
    let study = warp::path!("research" / "study")
        .and(warp::get())
        .and(with(&state))
        .and_then(|s: AppState| blocking(move || crate::research::study::describe(&s)));
    // POST /api/v1/research/study/participants
    let participants = warp::path!("research" / "study" / "participants")
        .and(warp::post())
        .and(same_site(state.clone()))
        .and(with(&state))
        .and_then(|s: AppState| blocking(move || crate::research::study::join(&s)));
    // POST /api/v1/research/study/results
    let results = warp::path!("research" / "study" / "results")
        .and(warp::post())
        .and(same_site(state.clone()))
        .and(json_body())
        .and(warp::body::bytes())
        .and(with(&state))
        .and_then(|body: bytes::Bytes, s: AppState| {
            blocking(move || crate::research::study::receive(&s, parse(&body)?))
        });
    metrics.or(study).unify().or(participants).unify().or(results).unify().boxed()
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use shared::api::{ApiError, ElectionSummary, TimeResponse};
    use shared::window::WindowState;

    use super::*;
    use crate::clock::Clock;

    fn state() -> AppState {
        use std::sync::Arc;
        let e = crate::demo::demo_election(Clock::SYSTEM.now()).unwrap();
        let key = shared::crypto::ElectionPublicKey::from_pem(include_str!(
            "../../../shared/tests/data/test-election-key.pub.pem"
        ))
        .unwrap();
        let db = crate::store::Db::open_in_memory().unwrap();
        db.create_election(&e, &key, "test", Clock::SYSTEM.now()).unwrap();
        // The demo study, so that its routes answer rather than refuse with NO_STUDY.
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("elections/demo-study.toml");
        let study = Some(Arc::new(crate::research::study::load(&file, &e).unwrap()));
        AppState {
            election: crate::CurrentElection::new(e),
            key: Arc::new(key),
            db: Arc::new(db),
            trust: None,
            sessions: Arc::default(),
            limits: Arc::default(),
            clock: Clock::SYSTEM,
            config: Arc::new(crate::Config {
                public_origin: "http://127.0.0.1:8080".into(),
                session_lifetime: chrono::Duration::minutes(20),
                session_extensions: 10,
                secure_cookies: false,
                card_helper_origin: "http://127.0.0.1:24190".into(),
                research: None,
                study,
            }),
        }
    }

    #[tokio::test]
    async fn health_time_and_election() {
        let routes = routes(state(), None);
        let r = warp::test::request().path("/api/v1/health").reply(&routes).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");

        let before = chrono::Utc::now();
        let r = warp::test::request().path("/api/v1/time").reply(&routes).await;
        let t: TimeResponse = serde_json::from_slice(r.body()).unwrap();
        assert!(t.utc >= before && t.utc <= chrono::Utc::now());
        assert_eq!(t.jst.offset().local_minus_utc(), 9 * 3600);

        let r = warp::test::request().path("/api/v1/elections/current").reply(&routes).await;
        assert_eq!(r.status(), 200);
        let s: ElectionSummary = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(s.id, "demo-hoc");
        assert_eq!(s.window.state, WindowState::Open);
        assert_eq!(s.window.opens_at_jst.format("%H:%M").to_string(), "08:30");
        assert_eq!(s.window.closes_at_jst.format("%H:%M").to_string(), "20:00");
    }

    /// The routes as served: with the voter app (whose fallback answers any page path with index.html).
    fn served() -> BoxedFilter<(Response,)> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html><script type=\"module\">go()</script></html>").unwrap();
        let app = WebApp::load(dir.path(), &[]).unwrap();
        routes(state(), Some(app))
    }

    #[tokio::test]
    async fn unknown_api_paths_and_methods_get_a_code_and_never_the_app() {
        for routes in [served(), routes(state(), None)] {
            for (method, path) in
                [("GET", "/api/v1/nope"), ("POST", "/api/v1/nope"), ("GET", "/api/v2/time"), ("GET", "/api")]
            {
                let r = warp::test::request().method(method).path(path).reply(&routes).await;
                assert_eq!(r.status(), 404, "{method} {path}");
                let e: ApiError = serde_json::from_slice(r.body()).unwrap();
                assert_eq!(e.code, "NOT_FOUND");
                assert_eq!(r.headers()["cache-control"], "no-store");
            }
            for (method, path, allow) in [
                ("GET", "/api/v1/ballots", "POST"),
                ("POST", "/api/v1/time", "GET"),
                ("PUT", "/api/v1/session", "POST, DELETE"),
                ("HEAD", "/api/v1/health", "GET"),
            ] {
                let r = warp::test::request().method(method).path(path).reply(&routes).await;
                assert_eq!(r.status(), 405, "{method} {path}");
                assert_eq!(r.headers()["allow"], allow, "{method} {path}");
                if method != "HEAD" {
                    let e: ApiError = serde_json::from_slice(r.body()).unwrap();
                    assert_eq!(e.code, "METHOD_NOT_ALLOWED");
                }
            }
            // A refusal of a route that matched still wins over the table's answer.
            let r = warp::test::request().method("POST").path("/api/v1/ballots").body("{}").reply(&routes).await;
            let e: ApiError = serde_json::from_slice(r.body()).unwrap();
            assert_eq!((r.status().as_u16(), e.code.as_str()), (400, "MALFORMED"));
        }
    }

    /// Every operation of the contract is routed: none answers 404 or 405 for its own method and path.
    #[tokio::test]
    async fn every_operation_of_the_contract_is_served() {
        let routes = served();
        for op in crate::contract::VOTER.operations {
            let r = warp::test::request().method(op.method.as_str()).path(op.path).reply(&routes).await;
            assert!(![404, 405].contains(&r.status().as_u16()), "{} {}: {}", op.method.as_str(), op.path, r.status());
        }
    }

    #[tokio::test]
    async fn serves_the_app_with_a_strict_policy_and_falls_back_to_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html><script type=\"module\">go()</script></html>").unwrap();
        std::fs::write(dir.path().join("app.js"), "x").unwrap();
        let app = WebApp::load(dir.path(), &[]).unwrap();
        let routes = routes(state(), Some(app));
        for path in ["/", "/vote/tokyo"] {
            let r = warp::test::request().path(path).reply(&routes).await;
            assert_eq!(r.status(), 200, "{path}");
            assert!(std::str::from_utf8(r.body()).unwrap().contains("go()"));
            let csp = r.headers()["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("'sha256-") && csp.contains("frame-ancestors 'none'"));
            assert_eq!(r.headers()["x-frame-options"], "DENY");
        }
        let r = warp::test::request().path("/app.js").reply(&routes).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let r = warp::test::request().path("/missing.js").reply(&routes).await;
        assert_eq!(r.status(), 404);
    }
}
