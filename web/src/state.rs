//! The voting flow's state, a `Reducible` with its [`Action`]s (yew `use_reducer`): the step on screen, the client
//! configuration (read once per page), the card check, the ballot view with the election key pinned at login,
//! the receipts, and the one sealed ballot of the confirmation screen.
//!
//! The reducer is plain: what needs the network, the card or randomness (logging in, sealing, casting, the
//! helper's check) happens in the screens' callbacks, which dispatch the outcome. The sealed ballot is not `Clone`
//! ([`crate::services::cast::Sealed`]): it sits in a [`SealedSlot`] and is taken out exactly once, to cast or to
//! challenge it.

use std::cell::RefCell;
use std::rc::Rc;

use shared::api::{BallotView, CastReceipt, ClientConfig, LoginResponse};
use shared::election::Choice;
use shared::helper_api::HelperStatus;
use shared::sealed::BallotOpening;
use yew::prelude::*;

use crate::components::confirmation::{Challenged, HelperCheck};
use crate::services::cast::{CastError, ElectionKey, Sealed, TrackerMismatch};
use shared::api::ApiError;

/// The confirmation screen of one contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirming {
    /// The contest's index in the ballot view.
    pub contest: usize,
    /// The choice.
    pub choice: Choice,
    /// The tracker of the sealed ballot that a cast would cast (the one in the [`SealedSlot`]).
    pub tracker: String,
    /// The last ballot challenged on this screen (its section stays while the fresh ballot can be cast).
    pub challenged: Option<Challenged>,
}

/// Where the voter is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Step {
    /// Not logged in.
    #[default]
    Idle,
    /// Waiting, with what the voter should do meanwhile (Japanese, English).
    Working(&'static str, &'static str),
    /// The list of contests, with the receipts.
    Ballot,
    /// The candidate screen of a contest, with the choice so far.
    Choose(usize, Option<Choice>),
    /// The confirmation of a sealed ballot; a challenge keeps the voter here with a freshly sealed one.
    Confirm(Confirming),
    /// Something failed; a receipt that names another ballot keeps both trackers.
    Failed(ApiError, Option<TrackerMismatch>),
}

/// The sealed ballot of the confirmation screen, shared by the state's copies and taken out at most once.
#[derive(Clone, Default)]
pub struct SealedSlot(Rc<RefCell<Option<Sealed>>>);

impl SealedSlot {
    /// Puts a sealed ballot in, dropping the one there (with its opening).
    pub fn put(&self, sealed: Sealed) {
        *self.0.borrow_mut() = Some(sealed);
    }

    /// Takes the sealed ballot out, leaving none.
    pub fn take(&self) -> Option<Sealed> {
        self.0.borrow_mut().take()
    }

    /// Drops the sealed ballot, if any.
    pub fn clear(&self) {
        drop(self.take());
    }
}

/// The voting page's state.
#[derive(Clone, Default)]
pub struct VoteState {
    /// The step on screen.
    pub step: Step,
    /// The client configuration, read once per page (none: not yet).
    pub config: Option<Result<ClientConfig, ApiError>>,
    /// The card check (R-SEC-3), none until it answered.
    pub card: Option<Result<HelperStatus, ApiError>>,
    /// A practice election.
    pub practice: bool,
    /// The voter's ballot view, while logged in.
    pub ballot: Option<BallotView>,
    /// The election key pinned at login: every later ballot view must carry it.
    pub key: Option<Rc<ElectionKey>>,
    /// The receipts of this page's casts, with the trackers computed here.
    pub receipts: Vec<CastReceipt>,
    /// The sealed ballot of the confirmation screen.
    pub sealed: SealedSlot,
    /// A session extension is under way.
    pub extending: bool,
    /// Why the last extension failed (Japanese, English).
    pub extend_error: Option<(String, String)>,
}

impl VoteState {
    /// Returns the card helper's origin, once the client configuration was read.
    pub fn helper(&self) -> Option<String> {
        match &self.config {
            Some(Ok(c)) => Some(c.card_helper_origin.clone()),
            _ => None,
        }
    }
}

/// What happens to the voting page.
pub enum Action {
    /// The client configuration was read (or could not be).
    Config(Result<ClientConfig, ApiError>),
    /// The election is, or is not, a practice election.
    Practice(bool),
    /// The card check answered.
    Card(Result<HelperStatus, ApiError>),
    /// Something is under way.
    Working(&'static str, &'static str),
    /// Logged in: the ballot view and its key, pinned from now on.
    LoggedIn(BallotView, ElectionKey),
    /// Something failed.
    Fail(ApiError),
    /// Back to the start: a new login (the session's view and key are dropped; the receipts stay).
    Restart,
    /// The session ended (R-VOTE-4).
    Expired,
    /// The list of contests.
    Contests,
    /// The candidate screen of a contest, with the choice so far.
    Choose(usize, Option<Choice>),
    /// The confirmation of a freshly sealed ballot.
    Confirm(usize, Choice, Sealed),
    /// The voter challenged the ballot (now opened) and the choice was sealed afresh.
    Challenged(BallotOpening, Sealed),
    /// The card helper answered the check of the challenged ballot with this tracker.
    Checked(String, HelperCheck),
    /// A ballot was cast: the receipt (checked against the ballot), then the refreshed ballot view or why it could
    /// not be read (or carried another key).
    Cast(CastReceipt, Result<BallotView, ApiError>),
    /// A cast failed.
    CastFailed(CastError),
    /// A session extension started.
    Extending,
    /// A session extension ended.
    Extended(Result<LoginResponse, ApiError>),
}

impl Reducible for VoteState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::Config(c) => s.config = Some(c),
            Action::Practice(p) => s.practice = p,
            Action::Card(c) => s.card = Some(c),
            Action::Working(ja, en) => s.step = Step::Working(ja, en),
            Action::LoggedIn(view, key) => {
                s.ballot = Some(view);
                s.key = Some(Rc::new(key));
                s.step = Step::Ballot;
            }
            Action::Fail(f) => s.step = Step::Failed(f, None),
            Action::Restart => {
                // A new login starts a new session, which pins its key again.
                s.ballot = None;
                s.key = None;
                s.step = Step::Idle;
            }
            Action::Expired => {
                s.ballot = None;
                s.key = None;
                s.step = Step::Failed(ApiError { code: "SESSION_EXPIRED".into(), message: String::new() }, None);
            }
            Action::Contests => s.step = Step::Ballot,
            Action::Choose(i, choice) => s.step = Step::Choose(i, choice),
            Action::Confirm(contest, choice, sealed) => {
                let tracker = sealed.tracker();
                s.sealed.put(sealed);
                s.step = Step::Confirm(Confirming { contest, choice, tracker, challenged: None });
            }
            Action::Challenged(opening, fresh) => {
                if let Step::Confirm(c) = &mut s.step {
                    c.tracker = fresh.tracker();
                    c.challenged = Some(Challenged {
                        tracker: opening.ballot.tracker(),
                        opening: serde_json::to_string_pretty(&opening).unwrap_or_default(),
                        check: HelperCheck::Asking,
                    });
                    s.sealed.put(fresh);
                }
            }
            Action::Checked(tracker, check) => {
                if let Step::Confirm(Confirming { challenged: Some(c), .. }) = &mut s.step
                    && c.tracker == tracker
                {
                    c.check = check;
                }
            }
            Action::Cast(receipt, fresh) => {
                s.receipts.retain(|r| r.contest != receipt.contest);
                s.receipts.push(receipt);
                match fresh {
                    Ok(view) => {
                        s.ballot = Some(view);
                        s.step = Step::Ballot;
                    }
                    Err(f) => s.step = Step::Failed(f, None),
                }
            }
            Action::CastFailed(e) => {
                let mismatch = match &e {
                    CastError::TrackerMismatch(m) => Some(m.clone()),
                    CastError::Refused(_) => None,
                };
                s.step = Step::Failed(e.failure(), mismatch);
            }
            Action::Extending => {
                s.extending = true;
                s.extend_error = None;
            }
            Action::Extended(result) => {
                s.extending = false;
                match (result, s.ballot.as_mut()) {
                    (Ok(r), Some(b)) => {
                        // The choice in progress stays on screen: only the session's times change.
                        b.session_expires_at = r.expires_at;
                        b.session_extensions_left = r.extensions_left;
                    }
                    (Ok(_), None) => {}
                    (Err(e), _) => {
                        let (ja, en) = crate::refusals::failure_text(&e.code);
                        s.extend_error = Some((ja.to_string(), en.to_string()));
                    }
                }
            }
        }
        // Leaving the confirmation drops its sealed ballot (and its opening).
        if !matches!(s.step, Step::Confirm(_)) {
            s.sealed.clear();
        }
        Rc::new(s)
    }
}
