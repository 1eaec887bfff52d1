//! The voter API (`/api/v1`) as data: [`VOTER`], with the groups of refusals its operations share.

use shared::api::{
    ApplicationRequest, ApplicationStatus, BallotView, CastReceipt, CastRequest, Challenge, ClientConfig,
    ElectionDefinition, ElectionSummary, Empty, Health, LoginRequest, LoginResponse, TaskMetrics, TimeResponse,
};
use shared::contract::{Contract, Link, Method, Needs, Operation, Session, json, json_example, json_list};
use shared::export::PublishedBallotBox;
use shared::study::{LayoutResult, Study, StudyPlan};

/// The voter API's session cookie.
pub const COOKIE: &str = crate::voting::handlers::SESSION_COOKIE;

/// Refusals of a JSON body.
const BODY: &[(u16, &str)] = &[(400, "MALFORMED"), (411, "LENGTH_REQUIRED"), (413, "TOO_LARGE")];

/// Refusals of a state-changing request that a browser sent from another site (issue 19).
const SAME_SITE: &[(u16, &str)] = &[(403, "ORIGIN_NOT_ALLOWED")];

/// Refusals of a login's nonce, besides its certificate.
const LOGIN: &[(u16, &str)] = &[(401, "CHALLENGE_UNKNOWN"), (503, "LOGIN_BUSY")];

/// The refusal of a network over its rate (`Retry-After` says how long to wait; issue 19).
const RATE: &[(u16, &str)] = &[(429, "RATE_LIMITED")];

/// Refusals of a card certificate's check (chain, validity, usage, CRL).
const CERTIFICATE: &[(u16, &str)] = &[
    (403, "CERT_MALFORMED"),
    (403, "UNKNOWN_CA"),
    (403, "CERT_EXPIRED"),
    (403, "CERT_NOT_YET_VALID"),
    (403, "CERT_REVOKED"),
    (403, "CERT_WRONG_USAGE"),
    (403, "CERT_INVALID"),
    (503, "CRL_UNAVAILABLE"),
];

/// Refusals of a request that needs the voter's session.
const SESSION: &[(u16, &str)] = &[(401, "NO_SESSION"), (401, "SESSION_EXPIRED")];

const LOGIN_EXAMPLE: &str = r#"{"purpose":"vote","nonce":"3q2+7w==","certificate":"MIIB...","signature":"AAEC..."}"#;
const CAST_EXAMPLE: &str =
    r#"{"contest":"tokyo","ciphertext":"AAEC...","signature":"AAEC...","certificate":"MIIB..."}"#;

/// The voter API.
pub const VOTER: Contract = Contract {
    title: "Overseas internet voting: the verifier's voter API",
    description: "The voter API of the voting subsystem (在外選挙インターネット投票), on the voter app's origin. Every \
        refusal is JSON `{code, message}` with a stable code and a sentence saying what to do. Unknown JSON fields \
        are refused (MALFORMED). Bodies are capped at 16 KiB (TOO_LARGE). The session is an HttpOnly, \
        SameSite=Strict cookie `vsession`, absolute lifetime 20 minutes (configurable). Every answer carries \
        `Cache-Control: no-store`. This document is written from `verifier/src/contract/`; do not edit it.",
    prefix: "/api/",
    session: Session::Cookie(COOKIE),
    common_refusals: &[(400, "MALFORMED"), (404, "NOT_FOUND"), (405, "METHOD_NOT_ALLOWED")],
    operations: &[
        Operation {
            method: Method::Get,
            path: "/api/v1/health",
            id: "health",
            summary: "The server runs.",
            description: "",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<Health>()),
            refusals: &[],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/time",
            id: "time",
            summary: "The server's time in UTC and JST, for the app's clock offset (R-VOTE-1).",
            description: "",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<TimeResponse>()),
            refusals: &[],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/elections/current",
            id: "currentElection",
            summary: "Public facts of the election: name, kind, window in UTC and JST, state, pause reason.",
            description: "",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<ElectionSummary>()),
            refusals: &[],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/elections/current/definition",
            id: "electionDefinition",
            summary: "The election as filed (contests, candidates, parties, judges) and its public key.",
            description: "The card helper reads this from the voting site itself: it re-encrypts a ballot's claimed \
                          choice under this key and shows the choice in words from this definition, never from the \
                          page, before the card signs (what you see is what you sign).",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<ElectionDefinition>()),
            refusals: &[],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/elections/current/ballot-box",
            id: "publishedBallotBox",
            summary: "After the close and the seal: every contest's sorted trackers and their Merkle root (RFC 6962).",
            description: "Also how many ballots wait in batches the verifier could not open; the count publishes \
                their trackers.",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<PublishedBallotBox>()),
            refusals: &[&[(403, "VOTING_NOT_CLOSED"), (503, "BALLOT_BOX_NOT_SEALED"), (503, "STORAGE_UNAVAILABLE")]],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/audit/checkpoints",
            id: "auditCheckpoints",
            summary: "Every signed checkpoint of the audit log so far: its head at an entry, signed with the audit key.",
            description: "Made at an interval and after every critical action (issue 21). Keep a copy: `verifier \
                audit verify --checkpoints COPY` then names a cut-off or rewritten log up to its last checkpoint.",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<shared::export::PublishedCheckpoints>()),
            refusals: &[&[(503, "STORAGE_UNAVAILABLE")]],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/client-config",
            id: "clientConfig",
            summary: "Where the app finds the card helper; in a practice election, the UX researcher's assignment.",
            description: "",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<ClientConfig>()),
            refusals: &[],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/session/challenge",
            id: "challenge",
            summary: "A single-use 256-bit nonce, valid 5 minutes (R-VOTE-5).",
            description: "",
            needs: Needs::Nothing,
            request: None,
            ok: 201,
            answer: Some(json::<Challenge>()),
            refusals: &[RATE],
            links: &[Link {
                name: "login",
                to: "login",
                body: &[("/nonce", "$response.body#/nonce")],
                parameters: &[],
            }],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/session",
            id: "login",
            summary: "Log in with the authentication certificate and the card's signature over (origin, nonce).",
            description: "Checks the nonce, the chain to the authentication CA, validity, the CRL, the signature \
                over shared::crypto::auth_digest(public origin, nonce), and that the certificate belongs to an \
                accepted internet voter with a contest in this election (purpose `vote`), or any valid card \
                (purpose `apply`). Sets the session cookie.",
            needs: Needs::Nothing,
            request: Some(json_example::<LoginRequest>(LOGIN_EXAMPLE)),
            ok: 201,
            answer: Some(json::<LoginResponse>()),
            refusals: &[
                BODY,
                SAME_SITE,
                CERTIFICATE,
                LOGIN,
                RATE,
                &[
                    (401, "BAD_SIGNATURE"),
                    (403, "NOT_REGISTERED"),
                    (503, "LOGIN_UNAVAILABLE"),
                    (503, "STORAGE_UNAVAILABLE"),
                    (503, "STORAGE_FULL"),
                ],
            ],
            links: &[
                Link { name: "ballot", to: "ballot", body: &[], parameters: &[] },
                Link { name: "applications", to: "ownApplications", body: &[], parameters: &[] },
            ],
        },
        Operation {
            method: Method::Delete,
            path: "/api/v1/session",
            id: "logout",
            summary: "Log out: the session ends and the cookie is cleared.",
            description: "The session's token is recorded as spent, at every front-end (issue 24); if that cannot be \
                recorded now the answer is 503 and the cookie is kept: the voter is not logged out yet.",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<Empty>()),
            refusals: &[SAME_SITE, &[(503, "STORAGE_UNAVAILABLE")]],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/session/extend",
            id: "extendSession",
            summary: "Extend the session by logging in again with the same card (WCAG 2.2.1; R-VOTE-4).",
            description: "The same checks as the login (a fresh challenge signed with the authentication \
                certificate), plus a live session cookie, the same card as the session's, and fewer extensions \
                than the limit (--session-extensions, 10 by default). The session's time restarts from now.",
            needs: Needs::Session,
            request: Some(json_example::<LoginRequest>(LOGIN_EXAMPLE)),
            ok: 200,
            answer: Some(json::<LoginResponse>()),
            refusals: &[
                BODY,
                SAME_SITE,
                CERTIFICATE,
                SESSION,
                LOGIN,
                RATE,
                &[
                    (401, "BAD_SIGNATURE"),
                    (403, "OTHER_CARD"),
                    (403, "EXTENSION_LIMIT"),
                    (503, "LOGIN_UNAVAILABLE"),
                    (503, "STORAGE_UNAVAILABLE"),
                    (503, "STORAGE_FULL"),
                ],
            ],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/ballot",
            id: "ballot",
            summary: "The voter's contests with their status, the election key and its fingerprint, deadlines, pause.",
            description: "",
            needs: Needs::Session,
            request: None,
            ok: 200,
            answer: Some(json::<BallotView>()),
            refusals: &[SESSION, &[(403, "NOT_REGISTERED"), (503, "STORAGE_UNAVAILABLE")]],
            links: &[Link {
                name: "cast",
                to: "cast",
                body: &[("/contest", "$response.body#/contests/0/contest/id")],
                parameters: &[],
            }],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/ballots",
            id: "cast",
            summary: "Cast one contest's encrypted ballot, signed by the card's signing key (R-VOTE-6..9).",
            description: "Checks session, window, pause, contest, not-yet-voted, ciphertext length, the signing \
                certificate (chain, validity, CRL, same registered person) and the signature over \
                shared::crypto::envelope_digest, and that the ciphertext was not received before \
                (DUPLICATE_BALLOT); then the voter is marked in the voter store and the bare ciphertext goes to \
                the ballot box (its own file), by a protocol that keeps the two equal through any crash. The \
                receipt comes once both hold it. The signature and certificate are not stored.",
            needs: Needs::Session,
            request: Some(json_example::<CastRequest>(CAST_EXAMPLE)),
            ok: 201,
            answer: Some(json::<CastReceipt>()),
            refusals: &[
                BODY,
                SAME_SITE,
                RATE,
                CERTIFICATE,
                SESSION,
                &[
                    (400, "BAD_SIGNATURE"),
                    (403, "NOT_REGISTERED"),
                    (403, "VOTING_CLOSED"),
                    (403, "VOTING_NOT_OPEN"),
                    (403, "WRONG_CONTEST"),
                    (403, "EMERGENCY_PAPER_VOTE"),
                    (403, "CERT_MISMATCH"),
                    (409, "ALREADY_VOTED"),
                    (409, "DUPLICATE_BALLOT"),
                    (503, "VOTING_PAUSED"),
                    (503, "STORAGE_UNAVAILABLE"),
                    (503, "STORAGE_FULL"),
                ],
            ],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/applications",
            id: "apply",
            summary: "Submit a signed application (申出) or switch request (切替申出) (R-REG-1, R-REG-2, R-REG-9).",
            description: "Log in with purpose `apply` first (any valid card). The body carries the application's \
                JSON as text, the card's signature over shared::crypto::application_digest(that text, the session's \
                authentication certificate) and the signing certificate: a signature made with another card than the \
                session's is refused. The name and birth date must be those in the signing certificate. The receipt \
                date follows R-REG-10.",
            needs: Needs::Session,
            request: Some(json::<ApplicationRequest>()),
            ok: 201,
            answer: Some(json::<ApplicationStatus>()),
            refusals: &[
                BODY,
                SAME_SITE,
                CERTIFICATE,
                SESSION,
                &[
                    (400, "BAD_SIGNATURE"),
                    (400, "CERT_MALFORMED"),
                    (403, "APPLICANT_MISMATCH"),
                    (409, "WRONG_STATE"),
                    (409, "NOT_ESTABLISHED"),
                    (409, "POSTAL_PAPERS_OUTSTANDING"),
                    (409, "ALREADY_VOTED_ONLINE"),
                    (503, "STORAGE_UNAVAILABLE"),
                ],
            ],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/applications",
            id: "ownApplications",
            summary: "The applications made with this card, with their status and receipt dates.",
            description: "",
            needs: Needs::Session,
            request: None,
            ok: 200,
            answer: Some(json_list::<ApplicationStatus>()),
            refusals: &[SESSION, &[(503, "STORAGE_UNAVAILABLE")]],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/research/metrics",
            id: "researchMetrics",
            summary: "One task's anonymous UX metrics, practice elections only (tracker issue 9).",
            description: "No session is read and nothing names a voter, a session, a ballot or a time of day: the \
                participant is a random id made by the browser and every time is a duration. A real election \
                refuses the metrics and stores nothing.",
            needs: Needs::Nothing,
            request: Some(json::<TaskMetrics>()),
            ok: 201,
            answer: Some(json::<Empty>()),
            refusals: &[BODY, SAME_SITE, &[(403, "NOT_PRACTICE"), (503, "STORAGE_UNAVAILABLE")]],
            links: &[],
        },
        Operation {
            method: Method::Get,
            path: "/api/v1/research/study",
            id: "researchStudy",
            summary: "The researcher's instructed usability study, practice elections only (issue 22 part 6).",
            description: "Its tasks (a contest and the entry to choose in it), its layouts and its design (within or \
                between subjects). No session is read.",
            needs: Needs::Nothing,
            request: None,
            ok: 200,
            answer: Some(json::<Study>()),
            refusals: &[STUDY],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/research/study/participants",
            id: "researchStudyParticipant",
            summary: "The next participant number, with its layouts in a counterbalanced order.",
            description: "Within subjects the order is a row of a balanced Latin square (participants take the rows \
                in turn); between subjects the layouts are taken in turn. The number is a count, never a person.",
            needs: Needs::Nothing,
            request: None,
            ok: 201,
            answer: Some(json::<StudyPlan>()),
            refusals: &[SAME_SITE, STUDY, &[(503, "STORAGE_UNAVAILABLE")]],
            links: &[],
        },
        Operation {
            method: Method::Post,
            path: "/api/v1/research/study/results",
            id: "researchStudyResults",
            summary: "One layout's tasks and System Usability Scale answers of one participant, stored once.",
            description: "The verifier decides whether each confirmed entry was the task's target and stores only \
                whether it was, with the durations and counts; no ballot is cast.",
            needs: Needs::Nothing,
            request: Some(json::<LayoutResult>()),
            ok: 201,
            answer: Some(json::<Empty>()),
            refusals: &[
                BODY,
                SAME_SITE,
                STUDY,
                &[(400, "STUDY_NOT_IN_PLAN"), (409, "STUDY_DUPLICATE"), (503, "STORAGE_UNAVAILABLE")],
            ],
            links: &[],
        },
    ],
};

/// Refusals of the study routes: a real election, or no study loaded.
const STUDY: &[(u16, &str)] = &[(403, "NOT_PRACTICE"), (404, "NO_STUDY")];
