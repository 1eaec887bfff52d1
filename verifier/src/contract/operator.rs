//! The operator API (`/op/v1`) as data: [`OPERATOR`], with the groups of refusals its operations share.

use shared::contract::{Body, Contract, Method, Needs, Operation, Session, json, json_example, json_list, text};

use crate::operators::Operator;
use crate::operators::api::{SessionRequest, SessionStarted};
use crate::registration::routes::{
    Applied, Approved, CountingStatus, Cutoff, CutoffSet, DocumentSwitch, Ended, PostalPapers, Reason, Recorded,
    Requested, WithdrawalRequest,
};
use crate::registration::{Application, CrossChannel, HistoryEvent, Record};
use crate::store::audit::Verification;

/// Refusals any operator call may give: who is calling, and storage.
const OPERATOR_AUTH: &[(u16, &str)] = &[
    (400, "MALFORMED"),
    (401, "NO_CLIENT_CERT"),
    (401, "TOTP_REQUIRED"),
    (403, "UNKNOWN_OPERATOR"),
    (403, "OPERATOR_REVOKED"),
    (403, "FORBIDDEN_ROLE"),
    (403, "OTHER_MUNICIPALITY"),
    (404, "NOT_FOUND"),
    (405, "METHOD_NOT_ALLOWED"),
    (500, "INTERNAL"),
    (503, "STORAGE_UNAVAILABLE"),
];

/// Refusals of four-eyes requests ([`crate::operators::four_eyes`]).
const FOUR_EYES: &[(u16, &str)] = &[
    (403, "SAME_PERSON"),
    (404, "UNKNOWN_REQUEST"),
    (409, "REQUEST_CLOSED"),
    (409, "REQUEST_EXPIRED"),
    (409, "APPROVE_ON_HOST"),
];

/// Refusals of the registration steps ([`crate::voting::handlers::reg_refusal`]).
const REGISTRATION: &[(u16, &str)] = &[
    (400, "NOT_ELIGIBLE"),
    (400, "NOT_ON_ROLL"),
    (400, "NOT_AN_INTERNET_VOTER"),
    (400, "REASON_REQUIRED"),
    (403, "APPLICANT_MISMATCH"),
    (403, "VOTING_NOT_CLOSED"),
    (404, "UNKNOWN_APPLICATION"),
    (409, "WRONG_STATE"),
    (409, "NOT_ESTABLISHED"),
    (409, "POSTAL_PAPERS_OUTSTANDING"),
    (409, "ALREADY_VOTED_ONLINE"),
    (409, "CERT_OF_ANOTHER_PERSON"),
    (411, "LENGTH_REQUIRED"),
    (413, "TOO_LARGE"),
];

const fn operator(
    method: Method,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    request: Option<Body>,
    answer: Body,
) -> Operation {
    Operation {
        method,
        path,
        id,
        summary,
        description: "",
        needs: Needs::Session,
        request,
        ok: 200,
        answer: Some(answer),
        refusals: &[REGISTRATION],
        links: &[],
    }
}

/// The operator API: mutual TLS with an operator certificate, then a bearer token from `POST /op/v1/session`.
pub const OPERATOR: Contract = Contract {
    title: "Overseas internet voting: the verifier's operator API",
    description: "The election committees' and operators' API (R-SEC-4), on its own TLS 1.3 listener that \
        requires a client certificate of the operator CA. `POST /op/v1/session` with the TOTP code of that \
        operator returns a bearer token for 8 hours: send `Authorization: Bearer <token>` with every other call. \
        Roles and municipalities are checked for every call, which is audited with the operator's name. Every \
        answer carries `Cache-Control: no-store`. This document is written from `verifier/src/contract/`; do \
        not edit it.",
    prefix: "/op/",
    session: Session::Bearer,
    common_refusals: OPERATOR_AUTH,
    operations: &[
        Operation {
            method: Method::Post,
            path: "/op/v1/session",
            id: "operatorLogin",
            summary: "Start a session with the TOTP code of the operator whose client certificate this is.",
            description: "",
            needs: Needs::Nothing,
            request: Some(json_example::<SessionRequest>(r#"{"totp":"123456"}"#)),
            ok: 200,
            answer: Some(json::<SessionStarted>()),
            refusals: &[&[(401, "TOTP_INVALID"), (411, "LENGTH_REQUIRED"), (413, "TOO_LARGE"), (429, "TOTP_LOCKED")]],
            links: &[],
        },
        operator(Method::Delete, "/op/v1/session", "operatorLogout", "End the session.", None, json::<Ended>()),
        operator(Method::Get, "/op/v1/whoami", "whoami", "The operator of this session.", None, json::<Operator>()),
        operator(
            Method::Get,
            "/op/v1/audit/verify",
            "verifyAudit",
            "Walk the audit log's hash chain (auditor, admin).",
            None,
            json::<Verification>(),
        ),
        operator(
            Method::Get,
            "/op/v1/applications",
            "listApplications",
            "A municipality's applications (?municipality=M&status=S).",
            None,
            json_list::<Application>(),
        ),
        operator(
            Method::Post,
            "/op/v1/applications/{receipt}/card-arrived",
            "cardArrived",
            "The overseas voter card of an application arrived by post (R-REG-3).",
            None,
            json::<Application>(),
        ),
        operator(
            Method::Post,
            "/op/v1/applications/{receipt}/accept",
            "acceptApplication",
            "Accept an established application (approver).",
            None,
            json::<Application>(),
        ),
        operator(
            Method::Post,
            "/op/v1/applications/{receipt}/reject",
            "rejectApplication",
            "Reject an application with a reason.",
            Some(json::<Reason>()),
            json::<Application>(),
        ),
        operator(
            Method::Post,
            "/op/v1/roll-changes",
            "rollChanges",
            "Apply roll changes: CSV as the body, or the CSV as a JSON string.",
            Some(text("text/csv")),
            json::<Applied>(),
        ),
        operator(
            Method::Post,
            "/op/v1/switches/document",
            "documentSwitch",
            "Switch a voter back to paper voting by document; answers the printable letter.",
            Some(json::<DocumentSwitch>()),
            text("text/html"),
        ),
        operator(
            Method::Post,
            "/op/v1/postal-papers",
            "postalPapers",
            "Record postal voting papers issued or returned for a person.",
            Some(json::<PostalPapers>()),
            json::<Recorded>(),
        ),
        operator(
            Method::Get,
            "/op/v1/persons/{person}/cross-channel",
            "crossChannel",
            "Is this person an internet voter, and have they voted online in this election?",
            None,
            json::<CrossChannel>(),
        ),
        operator(
            Method::Get,
            "/op/v1/persons/{person}/history",
            "personHistory",
            "Every exchange with this person.",
            None,
            json_list::<HistoryEvent>(),
        ),
        operator(
            Method::Post,
            "/op/v1/persons/{person}/emergency",
            "declareEmergency",
            "Declare an emergency paper vote for this person (R-VOTE-11).",
            Some(json::<Reason>()),
            json::<Recorded>(),
        ),
        operator(
            Method::Post,
            "/op/v1/cutoff",
            "setCutoff",
            "Set the applications' cut-off instant (admin).",
            Some(json::<Cutoff>()),
            json::<CutoffSet>(),
        ),
        operator(
            Method::Get,
            "/op/v1/record",
            "record",
            "A municipality's record (調書) after the close (?municipality=M&format=json|html).",
            None,
            json::<Record>(),
        ),
        Operation {
            ok: 202,
            ..operator(
                Method::Post,
                "/op/v1/pause",
                "pause",
                "Ask to pause voting with a reason shown to voters (admin, R-VOTE-3). Four eyes (issue 21): the \
                 answer is a request, and nothing changes until another admin approves it on \
                 `POST /op/v1/requests/{id}/approve`.",
                Some(json::<Reason>()),
                json::<Requested>(),
            )
        },
        Operation {
            ok: 202,
            ..operator(
                Method::Post,
                "/op/v1/resume",
                "resume",
                "Ask to resume voting (admin); four eyes, as for pause.",
                None,
                json::<Requested>(),
            )
        },
        Operation {
            refusals: &[FOUR_EYES],
            ..operator(
                Method::Get,
                "/op/v1/requests",
                "requests",
                "The four-eyes requests waiting for approval (admin, counting officer, auditor).",
                None,
                json_list::<crate::operators::four_eyes::Request>(),
            )
        },
        Operation {
            refusals: &[FOUR_EYES],
            ..operator(
                Method::Post,
                "/op/v1/requests/{id}/approve",
                "approve",
                "Approve another operator's pause or resume, which then takes effect under both names. Refusals: \
                 SAME_PERSON (403: the requester, under any of their certificates), FORBIDDEN_ROLE, UNKNOWN_REQUEST \
                 (404), REQUEST_CLOSED, REQUEST_EXPIRED, APPROVE_ON_HOST (409: exports, election creation and \
                 operator changes are approved on the verifier host with `verifier approve ID`).",
                None,
                json::<Approved>(),
            )
        },
        operator(
            Method::Get,
            "/op/v1/counting",
            "counting",
            "For the counting officer (admin and auditor too): ballots per contest, whether voting has closed, and \
             the export requests waiting for a counting officer's approval on the host (R-COUNT-1).",
            None,
            json::<CountingStatus>(),
        ),
        operator(
            Method::Post,
            "/op/v1/withdrawals",
            "withdraw",
            "While voting is paused: a district candidate who withdrew or died leaves the list offered to voters \
             (admin, R-VOTE-3). Audited; ballots already cast stay as cast; the next export's signed manifest pins \
             the changed definition, under which a vote for the candidate counts as invalid. Refusals: NOT_PAUSED, \
             ALREADY_WITHDRAWN, VOTING_CLOSED (409), UNKNOWN_CONTEST, UNKNOWN_CANDIDATE (404), INVALID_CHANGE (400).",
            Some(json::<WithdrawalRequest>()),
            json::<crate::voting::withdrawals::Withdrawn>(),
        ),
        operator(
            Method::Get,
            "/op/v1/audit",
            "audit",
            "The audit log for auditors (R-SEC-5): the entries after ?after=SEQ (at most 500), and the whole chain \
             verified.",
            None,
            json::<crate::store::audit::Page>(),
        ),
    ],
};
