//! The committees' and operators' domain endpoints on the operator API (under `/op/v1`, after the client
//! certificate and the TOTP session of [`crate::operators::api`]). Roles and municipalities are checked again by
//! [`crate::registration`] itself, so no route can forget them (R-SEC-4, R-SYS-1).
//!
//! - `GET /op/v1/applications?municipality=M&status=S`
//! - `POST /op/v1/applications/{receipt}/card-arrived`, `/accept`, `/reject` `{reason}`
//! - `POST /op/v1/roll-changes` (CSV body, or the CSV as a JSON string)
//! - `POST /op/v1/switches/document` `{person_id, name}` (answers the printable letter, HTML)
//! - `POST /op/v1/postal-papers` `{person_id, issued, returned}`
//! - `GET /op/v1/persons/{person}/cross-channel[?election=E]`, `GET /op/v1/persons/{person}/history`
//! - `POST /op/v1/persons/{person}/emergency` `{reason}`
//! - `POST /op/v1/cutoff` `{at}` (admin)
//! - `GET /op/v1/record?municipality=M&format=json|html`
//! - `POST /op/v1/pause` `{reason}`, `POST /op/v1/resume` (admin, R-VOTE-3): 202, a four-eyes request (issue 21)
//! - `GET /op/v1/requests` (admin, counting officer, auditor): the four-eyes requests waiting for approval
//! - `POST /op/v1/requests/{id}/approve` (another admin): carries out a pause or resume under both names
//! - `GET /op/v1/counting` (counting officer, admin, auditor): ballots per contest, the close, exports waiting
//! - `POST /op/v1/withdrawals` `{contest, candidate, reason}` (admin, while paused, R-VOTE-3): a candidate who
//!   withdrew or died leaves the list offered to voters; ballots already cast stay as cast
//! - `GET /op/v1/audit?after=SEQ` (auditor, R-SEC-5): a page of the audit log and the whole chain verified

mod bodies;

use std::collections::HashMap;
use std::convert::Infallible;

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::clock::Clock;
use crate::errors::Refusal;
use crate::operators::api::{OperatorContext, authenticated, blocking};
use crate::operators::four_eyes::{self, Action};
use crate::operators::{Operator, Role};
use crate::registration as reg;
use crate::voting::handlers::reg_refusal;

pub use bodies::{
    Applied, Approved, ContestBallots, CountingStatus, Cutoff, CutoffSet, DocumentSwitch, Ended, PostalPapers, Reason,
    Recorded, Requested, WithdrawalRequest, roll_csv_text,
};

fn json<T: serde::Serialize>(v: &T) -> Result<Response, Refusal> {
    Ok(warp::reply::json(v).into_response())
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        Refusal::new(warp::http::StatusCode::BAD_REQUEST, "MALFORMED", format!("The request body is not valid: {e}"))
    })
}

fn forbid_unless(op: &Operator, roles: &[Role]) -> Result<(), Refusal> {
    if roles.contains(&op.role) { Ok(()) } else { Err(crate::operators::api::forbidden_role(op.role, roles)) }
}

/// Builds the domain routes for the election being run.
pub fn routes(ctx: &OperatorContext, election: crate::CurrentElection) -> BoxedFilter<(Response,)> {
    // Each route boxed before they are joined: one long `or` chain makes a type that takes rustc minutes.
    [
        application_routes(ctx),
        person_routes(ctx, &election),
        election_routes(ctx, &election),
        request_routes(ctx),
        counting_routes(ctx, &election),
    ]
    .into_iter()
    .flatten()
    .reduce(|a, b| a.or(b).unify().boxed())
    .unwrap_or_else(|| warp::any().and_then(|| async { Err::<Response, _>(warp::reject::not_found()) }).boxed())
}

/// The operator context, for a handler.
fn with(ctx: &OperatorContext) -> impl Filter<Extract = (OperatorContext,), Error = Infallible> + Clone + use<> {
    let c = ctx.clone();
    warp::any().map(move || c.clone())
}

/// A request body of at most 1 MiB.
fn body() -> impl Filter<Extract = (bytes::Bytes,), Error = Rejection> + Clone {
    warp::body::content_length_limit(1024 * 1024).and(warp::body::bytes())
}

/// The query string as a map.
fn query() -> impl Filter<Extract = (HashMap<String, String>,), Error = Rejection> + Clone {
    warp::query::<HashMap<String, String>>()
}

/// Applications: the list, a card's arrival, acceptance and rejection (R-REG-1..7).
fn application_routes(ctx: &OperatorContext) -> Vec<BoxedFilter<(Response,)>> {
    let list = warp::path!("applications")
        .and(warp::get())
        .and(authenticated(ctx))
        .and(query())
        .and(with(ctx))
        .and_then(|op: Operator, q: HashMap<String, String>, c: OperatorContext| {
            blocking(move || {
                let municipality = q.get("municipality").cloned().or(op.municipality.clone()).unwrap_or_default();
                json(&reg::list(&c.db, &op, &municipality, q.get("status").map(String::as_str)).map_err(reg_refusal)?)
            })
        });
    let arrived = warp::path!("applications" / String / "card-arrived")
        .and(warp::post())
        .and(authenticated(ctx))
        .and(with(ctx))
        .and_then(|no: String, op: Operator, c: OperatorContext| {
            blocking(move || json(&reg::card_arrived(&c.db, &op, &no, c.clock.now()).map_err(reg_refusal)?))
        });
    let accept = warp::path!("applications" / String / "accept")
        .and(warp::post())
        .and(authenticated(ctx))
        .and(with(ctx))
        .and_then(|no: String, op: Operator, c: OperatorContext| {
            blocking(move || json(&reg::accept(&c.db, &op, &no, c.clock.now()).map_err(reg_refusal)?))
        });
    let reject = warp::path!("applications" / String / "reject")
        .and(warp::post())
        .and(authenticated(ctx))
        .and(body())
        .and(with(ctx))
        .and_then(|no: String, op: Operator, b: bytes::Bytes, c: OperatorContext| {
            blocking(move || {
                let r: Reason = parse(&b)?;
                json(&reg::reject(&c.db, &op, &no, &r.reason, c.clock.now()).map_err(reg_refusal)?)
            })
        });
    vec![list.boxed(), arrived.boxed(), accept.boxed(), reject.boxed()]
}

/// The roll and the persons on it: roll changes, document switches, postal papers, the cross-channel check, a
/// person's history and emergency paper votes (R-REG-8..10, R-VOTE-10..12).
fn person_routes(ctx: &OperatorContext, election: &crate::CurrentElection) -> Vec<BoxedFilter<(Response,)>> {
    let roll =
        warp::path!("roll-changes").and(warp::post()).and(authenticated(ctx)).and(body()).and(with(ctx)).and_then(
            |op: Operator, b: bytes::Bytes, c: OperatorContext| {
                blocking(move || {
                    let csv = roll_csv_text(&b);
                    if csv.trim().is_empty() {
                        // An empty upload is a mistake (the wrong file, or none), not "no changes".
                        return Err(Refusal::new(
                            warp::http::StatusCode::BAD_REQUEST,
                            "MALFORMED",
                            "The body is empty: send the roll changes as CSV, one line per change.",
                        ));
                    }
                    let changes = reg::parse_roll_csv(&csv).map_err(reg_refusal)?;
                    let n = reg::apply_roll_changes(&c.db, &op, &changes, c.clock.now()).map_err(reg_refusal)?;
                    json(&Applied { applied: n })
                })
            },
        );
    let switch = warp::path!("switches" / "document")
        .and(warp::post())
        .and(authenticated(ctx))
        .and(body())
        .and(with(ctx))
        .and_then(|op: Operator, b: bytes::Bytes, c: OperatorContext| {
            blocking(move || {
                let s: DocumentSwitch = parse(&b)?;
                let html =
                    reg::document_switch(&c.db, &op, &s.person_id, &s.name, c.clock.now()).map_err(reg_refusal)?;
                Ok(warp::reply::html(html).into_response())
            })
        });
    let postal =
        warp::path!("postal-papers").and(warp::post()).and(authenticated(ctx)).and(body()).and(with(ctx)).and_then(
            |op: Operator, b: bytes::Bytes, c: OperatorContext| {
                blocking(move || {
                    let p: PostalPapers = parse(&b)?;
                    reg::postal_papers(&c.db, &op, &p.person_id, p.issued, p.returned, c.clock.now())
                        .map_err(reg_refusal)?;
                    json(&Recorded { recorded: true })
                })
            },
        );
    let e1 = election.clone();
    let cross = warp::path!("persons" / String / "cross-channel")
        .and(warp::get())
        .and(authenticated(ctx))
        .and(with(ctx))
        .and_then(move |person: String, op: Operator, c: OperatorContext| {
            let e = e1.get();
            blocking(move || {
                json(&reg::cross_channel(&c.db, &op, &person, e.id.as_str(), c.clock.now()).map_err(reg_refusal)?)
            })
        });
    let history =
        warp::path!("persons" / String / "history").and(warp::get()).and(authenticated(ctx)).and(with(ctx)).and_then(
            |person: String, op: Operator, c: OperatorContext| {
                blocking(move || json(&reg::person_history(&c.db, &op, &person).map_err(reg_refusal)?))
            },
        );
    let e2 = election.clone();
    let emergency = warp::path!("persons" / String / "emergency")
        .and(warp::post())
        .and(authenticated(ctx))
        .and(body())
        .and(with(ctx))
        .and_then(move |person: String, op: Operator, b: bytes::Bytes, c: OperatorContext| {
            let e = e2.get();
            blocking(move || {
                let r: Reason = parse(&b)?;
                reg::declare_emergency(&c.db, &op, &person, e.id.as_str(), &r.reason, c.clock.now())
                    .map_err(reg_refusal)?;
                json(&Recorded { recorded: true })
            })
        });
    vec![roll.boxed(), switch.boxed(), postal.boxed(), cross.boxed(), history.boxed(), emergency.boxed()]
}

/// The election's course: the audit log, the cut-off, the record (調書), pausing and resuming, candidate changes.
fn election_routes(ctx: &OperatorContext, election: &crate::CurrentElection) -> Vec<BoxedFilter<(Response,)>> {
    let audit = warp::path!("audit").and(warp::get()).and(authenticated(ctx)).and(query()).and(with(ctx)).and_then(
        |op: Operator, q: HashMap<String, String>, c: OperatorContext| {
            blocking(move || {
                reg::require_role(&op, &[Role::Auditor]).map_err(reg_refusal)?;
                let after = match q.get("after") {
                    None => 0,
                    Some(a) => a.parse::<i64>().map_err(|_| {
                        reg_refusal(reg::RegError {
                            code: "MALFORMED",
                            message: "`after` is the sequence number of the last entry read, a whole number.".into(),
                        })
                    })?,
                };
                let page =
                    c.db.with(|conn| crate::store::audit::page(conn, after)).map_err(|e| reg_refusal(e.into()))?;
                json(&page)
            })
        },
    );
    // Pause and resume are critical (four eyes, issue 21): the call records a request, which another admin
    // approves on `POST /op/v1/requests/{id}/approve`.
    let e4 = election.clone();
    let cutoff = warp::path!("cutoff").and(warp::post()).and(authenticated(ctx)).and(body()).and(with(ctx)).and_then(
        move |op: Operator, b: bytes::Bytes, c: OperatorContext| {
            let e = e4.get();
            blocking(move || {
                let cut: Cutoff = parse(&b)?;
                reg::set_cutoff(&c.db, &op, e.id.as_str(), cut.at, c.clock.now()).map_err(reg_refusal)?;
                json(&CutoffSet { cutoff: cut.at })
            })
        },
    );
    let e3 = election.clone();
    let record = warp::path!("record").and(warp::get()).and(authenticated(ctx)).and(query()).and(with(ctx)).and_then(
        move |op: Operator, q: HashMap<String, String>, c: OperatorContext| {
            let e = e3.get();
            blocking(move || {
                let municipality = q.get("municipality").cloned().or(op.municipality.clone()).unwrap_or_default();
                let r = reg::record(&c.db, &op, &e, &municipality, c.clock.now()).map_err(reg_refusal)?;
                if q.get("format").map(String::as_str) == Some("html") {
                    Ok(warp::reply::html(reg::record_html(&r)).into_response())
                } else {
                    json(&r)
                }
            })
        },
    );
    // The audit log for auditors (R-SEC-5): a page after a sequence number, with the chain verified.
    let pause = warp::path!("pause").and(warp::post()).and(authenticated(ctx)).and(body()).and(with(ctx)).and_then(
        |op: Operator, b: bytes::Bytes, c: OperatorContext| {
            blocking(move || {
                forbid_unless(&op, &[Role::Admin])?;
                let r: Reason = parse(&b)?;
                if r.reason.trim().is_empty() {
                    return Err(reg_refusal(reg::RegError {
                        code: "MALFORMED",
                        message: "Give the reason voters will see.".into(),
                    }));
                }
                requested(&c, &op, Action::Pause { reason: r.reason })
            })
        },
    );
    let resume = warp::path!("resume")
        .and(warp::post())
        .and(authenticated(ctx))
        .and(with(ctx))
        .and_then(|op: Operator, c: OperatorContext| blocking(move || requested(&c, &op, Action::Resume)));
    let e5 = election.clone();
    let withdraw =
        warp::path!("withdrawals").and(warp::post()).and(authenticated(ctx)).and(body()).and(with(ctx)).and_then(
            move |op: Operator, b: bytes::Bytes, c: OperatorContext| {
                let current = e5.clone();
                blocking(move || {
                    forbid_unless(&op, &[Role::Admin])?;
                    let r: WithdrawalRequest = parse(&b)?;
                    let done = crate::voting::withdrawals::withdraw(
                        &c.db,
                        &current,
                        &op.actor(),
                        &r.contest,
                        r.candidate,
                        r.reason,
                        c.clock.now(),
                    )
                    .map_err(crate::voting::handlers::reg_refusal)?;
                    c.checkpoint("withdrawal");
                    json(&done)
                })
            },
        );
    vec![audit.boxed(), cutoff.boxed(), record.boxed(), pause.boxed(), resume.boxed(), withdraw.boxed()]
}

/// Four-eyes requests: the open ones and their approval.
fn request_routes(ctx: &OperatorContext) -> Vec<BoxedFilter<(Response,)>> {
    let requests = warp::path!("requests").and(warp::get()).and(authenticated(ctx)).and(with(ctx)).and_then(
        |op: Operator, c: OperatorContext| {
            blocking(move || {
                forbid_unless(&op, &[Role::Admin, Role::CountingOfficer, Role::Auditor])?;
                json(&four_eyes::pending(&c.db, Clock::SYSTEM.now()).map_err(reg_refusal)?)
            })
        },
    );
    let approve = warp::path!("requests" / String / "approve")
        .and(warp::post())
        .and(authenticated(ctx))
        .and(with(ctx))
        .and_then(|id: String, op: Operator, c: OperatorContext| blocking(move || approve_on_api(&c, &op, &id)));
    vec![requests.boxed(), approve.boxed()]
}

/// What the counting officers may take for counting.
fn counting_routes(ctx: &OperatorContext, election: &crate::CurrentElection) -> Vec<BoxedFilter<(Response,)>> {
    let e6 = election.clone();
    let counting = warp::path!("counting").and(warp::get()).and(authenticated(ctx)).and(with(ctx)).and_then(
        move |op: Operator, c: OperatorContext| {
            let e = e6.get();
            blocking(move || {
                forbid_unless(&op, &[Role::CountingOfficer, Role::Admin, Role::Auditor])?;
                json(&counting_status(&c, &e)?)
            })
        },
    );
    vec![counting.boxed()]
}

/// Records a four-eyes request and answers 202 with it.
fn requested(c: &OperatorContext, op: &Operator, action: Action) -> Result<Response, Refusal> {
    let request = four_eyes::request(&c.db, op, action, Clock::SYSTEM.now()).map_err(reg_refusal)?;
    let approve = format!("/op/v1/requests/{}/approve", request.id);
    let answer = Requested { request, approve };
    Ok(warp::reply::with_status(warp::reply::json(&answer), warp::http::StatusCode::ACCEPTED).into_response())
}

/// `POST /op/v1/requests/{id}/approve`: another admin approves a pause or a resume, which then takes effect
/// under both names. Requests that write files on the host are approved there (`verifier approve`).
fn approve_on_api(c: &OperatorContext, op: &Operator, id: &str) -> Result<Response, Refusal> {
    let now = Clock::SYSTEM.now();
    let request = four_eyes::approve(&c.db, op, id, true, now).map_err(reg_refusal)?;
    let actor = request.actor(op);
    let paused = match &request.action {
        Action::Pause { reason } => Some(reason.clone()),
        _ => None,
    };
    if let Err(e) = c.db.set_pause(paused.as_deref(), &actor, c.clock.now()) {
        let _ = four_eyes::failed(&c.db, op, id, "storage", now);
        return Err(crate::voting::handlers::storage_refusal(e));
    }
    c.checkpoint(request.action.name());
    json(&Approved { request, paused })
}

fn counting_status(c: &OperatorContext, e: &shared::election::Election) -> Result<CountingStatus, Refusal> {
    let counts = c.db.ballot_counts(e.id.as_str()).map_err(|e| {
        tracing::error!(error = %e, "cannot count the ballots");
        Refusal::internal()
    })?;
    let contests = e
        .contests
        .iter()
        .map(|contest| ContestBallots {
            contest: contest.id.as_str().to_string(),
            district: contest.district.clone(),
            ballots: counts.iter().find(|(id, _)| id == contest.id.as_str()).map_or(0, |(_, n)| *n),
        })
        .collect();
    let now = c.clock.now();
    let exports = four_eyes::pending(&c.db, Clock::SYSTEM.now())
        .map_err(reg_refusal)?
        .into_iter()
        .filter(|r| matches!(r.action, Action::Export { .. }))
        .collect();
    Ok(CountingStatus {
        election: e.id.as_str().to_string(),
        closes_at: e.window().closes_at.to_rfc3339(),
        closed: now >= e.window().closes_at,
        contests,
        exports_awaiting_approval: exports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roll_csv_comes_raw_or_as_a_json_string() {
        let csv = "municipality,roll_entry,name,birth_date,districts,change\n13101,E-7,在外 花子,1985-04-01,tokyo,registered\n";
        let json = serde_json::to_vec(csv).unwrap();
        assert_eq!(roll_csv_text(csv.as_bytes()), csv);
        assert_eq!(roll_csv_text(&json), csv);
        assert_eq!(reg::parse_roll_csv(&roll_csv_text(&json)).unwrap().len(), 1);
        // Not UTF-8 and not JSON: read lossily, then refused by the CSV parser rather than by a panic.
        assert!(reg::parse_roll_csv(&roll_csv_text(b"\xff\xfe,,,,,")).is_err());
    }
}
