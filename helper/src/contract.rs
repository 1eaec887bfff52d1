//! The helper's loopback API (`/api/v1`) as data ([`shared::contract`]): [`crate::api`] answers 404 and 405 (with
//! `Allow`) from it, and `helper/openapi.json` is written from it (`card-helper openapi`); a test fails when they
//! differ. Every call must carry an allowed `Origin` (the voting site's) and name the helper in `Host`.

use shared::contract::{Contract, Link, Method, Needs, Operation, Session, json, json_example};
use shared::helper_api::{
    ApplicationSignRequest, AuthenticateRequest, CheckStarted, HelperStatus, OperationStarted, OperationView,
};
use shared::sealed::BallotOpening;

/// Refusals any call may give.
const COMMON: &[(u16, &str)] = &[
    (400, "MALFORMED"),
    (403, "ORIGIN_NOT_ALLOWED"),
    (403, "BAD_HOST"),
    (404, "NOT_FOUND"),
    (405, "METHOD_NOT_ALLOWED"),
];

/// Refusals of a request that starts an operation.
const STARTS: &[(u16, &str)] = &[(411, "LENGTH_REQUIRED"), (413, "TOO_LARGE"), (429, "BUSY")];

/// Refusals of a ballot the helper checks before it signs or shows it.
const BALLOT: &[(u16, &str)] =
    &[(422, "BALLOT_MISMATCH"), (502, "ELECTION_UNAVAILABLE"), (502, "ELECTION_KEY_NOT_PINNED")];

/// Refusals of a call about an operation.
const ABOUT: &[(u16, &str)] =
    &[(404, "UNKNOWN_OPERATION"), (409, "OPERATION_FINISHED"), (410, "OPERATION_EXPIRED"), (429, "BUSY")];

/// Where a started operation goes next: its state, or its cancellation.
const STARTED: &[Link] = &[
    Link { name: "poll", to: "poll", body: &[], parameters: &[("id", "$response.body#/operation_id")] },
    Link { name: "cancel", to: "cancel", body: &[], parameters: &[("id", "$response.body#/operation_id")] },
];

/// The helper's API.
pub const HELPER: Contract = Contract {
    title: "Overseas internet voting: the card helper's loopback API",
    description: "The native helper on the voter's PC, on http://127.0.0.1:24190 by default. The voting page asks \
        it for a card operation; the voter confirms on the helper's own page (`confirm_url`), which the voting page \
        cannot read or frame, and types the PIN there; the page polls the operation for the signature. Every call \
        needs an allowed `Origin` and a `Host` naming the helper (DNS rebinding). Bodies above 8 KiB are refused. \
        This document is written from `helper/src/contract.rs`; do not edit it.",
    prefix: "/api/",
    session: Session::None,
    common_refusals: COMMON,
    operations: &[
        Operation {
            method: Method::Get,
            path: "/api/v1/status",
            id: "status",
            summary: "Reader, card, the certificates readable without a PIN, tries left.",
            description: "",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<HelperStatus>()),
            refusals: &[&[
                (423, "PIN_LOCKED"),
                (500, "INTERNAL"),
                (502, "CARD_ERROR"),
                (502, "CERTIFICATE_PROBLEM"),
                (502, "NO_PIN_ON_CARD"),
                (502, "WRONG_PIN"),
                (503, "CARD_NOT_PRESENT"),
            ]],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/authenticate",
            id: "authenticate",
            summary: "Start a login signature over shared::crypto::auth_digest(Origin, challenge).",
            description: "The challenge is the verifier's nonce (base64, 16 to 128 bytes). The helper computes the \
                digest itself from the request's Origin, so a page can only have its own origin's login signed.",
            needs: Needs::Nothing,
            request: Some(json_example::<AuthenticateRequest>(r#"{"challenge":"3q2+7wABAgMEBQYHCAkKCw=="}"#)),
            ok: 201,
            answer: Some(json::<OperationStarted>()),
            refusals: &[STARTS],
            links: STARTED,
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/sign/ballot",
            id: "signBallot",
            summary: "Start a signature on a ballot that the helper checked and shows in words.",
            description: "The body is the ballot with its opening (the choice and the OAEP seed). The helper reads the \
                election and its key from the asking site (GET /api/v1/elections/current/definition), re-encrypts \
                the choice with the seed and compares; only then does it show the election, the contest, the choice \
                in words, the tracker and the key's fingerprint on its own page, and sign the envelope digest it \
                computed (shared::crypto::envelope_digest). A ballot opened for a check is never signed.",
            needs: Needs::Nothing,
            request: Some(json::<BallotOpening>()),
            ok: 201,
            answer: Some(json::<OperationStarted>()),
            refusals: &[STARTS, BALLOT, &[(409, "CHALLENGED_BALLOT")]],
            links: STARTED,
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/sign/application",
            id: "signApplication",
            summary: "Start a signature on an application or switch request that the helper shows field by field.",
            description: "The body carries the application's exact JSON text (shared::api::ApplicationInput). The \
                helper parses it as the verifier does, shows every field, and signs \
                shared::crypto::application_digest of exactly that text and the authentication certificate of the \
                card in the reader.",
            needs: Needs::Nothing,
            request: Some(json::<ApplicationSignRequest>()),
            ok: 201,
            answer: Some(json::<OperationStarted>()),
            refusals: &[STARTS],
            links: STARTED,
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/check/ballot",
            id: "checkBallot",
            summary: "Check a challenged ballot (cast-as-intended) and show its choice on the helper's page.",
            description: "The same check as signBallot, with nothing signed: `check_url` is the helper's page that \
                shows the choice the ciphertext holds. From then on the helper refuses to sign that ballot.",
            needs: Needs::Nothing,
            request: Some(json::<BallotOpening>()),
            ok: 201,
            answer: Some(json::<CheckStarted>()),
            refusals: &[STARTS, BALLOT],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/sign",
            id: "signDigest",
            summary: "Refused: the helper never signs a digest it did not compute.",
            description: "Before issue 18 this took any SHA-256 digest and a description written by the page. It now \
                always answers 410 RAW_DIGEST_REFUSED; use signBallot or signApplication.",
            needs: Needs::Nothing,
            request: None,
            ok: 410,
            answer: None,
            refusals: &[&[(410, "RAW_DIGEST_REFUSED")]],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/operations/{id}",
            id: "poll",
            summary: "The operation's state; the signature is handed out once.",
            description: "",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<OperationView>()),
            refusals: &[ABOUT],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/operations/{id}/cancel",
            id: "cancel",
            summary: "Cancel the operation.",
            description: "",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<OperationView>()),
            refusals: &[ABOUT],
            links: &[],
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_document_is_the_generated_one() {
        let generated = HELPER.json();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "helper/openapi.json differs from helper/src/contract.rs: run `cargo run -p card-helper -- openapi > \
             helper/openapi.json` and commit it"
        );
    }
}
