//! E-mail notices to voters (R-REG-7, R-REG-9): acceptance automatically, rejection with the committee's reason,
//! an accepted switch back to paper voting, and an application kept for the next election.
//!
//! A notice is never lost:
//! - [`enqueue`] writes it into the `notices` table inside the caller's transaction, so a committee's decision and
//!   its notice commit (or roll back) together.
//! - [`Mailer::deliver_pending`] sends every due notice. A sent notice is marked `sent_at` and gets one
//!   `notice_sent` audit entry (R-SEC-5; the entry names the notice, never the address or the text). A failed one
//!   keeps its row, counts the attempt, records the error and waits [`backoff`] before the next try.
//! - Rows are never deleted. While a notice is being sent it is leased (its next attempt is moved [`LEASE`] ahead),
//!   so a second deliverer skips it and a crash between sending and marking means one more copy, not a lost one.
//!
//! Every message is plain UTF-8 text, Japanese first and then English, with no link (a notice must not look like
//! the phishing it warns about).
//!
//! Map: this file holds the notice, its checks and the retry delays; [`queue`] the `notices` table (queue, lease,
//! attempts); [`texts`] the four notices' words, Japanese then English; [`delivery`] the SMTP or outbox transport,
//! a delivery round and its loop.

pub mod delivery;
pub mod queue;
pub mod texts;

pub use delivery::{DeliveryReport, MailConfig, Mailer, SMTP_TIMEOUT, SmtpTls, spawn_delivery_loop};
pub use queue::{enqueue, pending};
pub use texts::{acceptance_notice, kept_for_next_election_notice, rejection_notice, switch_accepted_notice};

use lettre::Address;

/// How long a notice being sent is withheld from other deliverers; after a crash it becomes due again then.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// The first retry delay; each further failure doubles it.
pub const FIRST_RETRY: chrono::Duration = chrono::Duration::seconds(30);

/// The longest delay between two attempts.
pub const MAX_RETRY: chrono::Duration = chrono::Duration::hours(1);

/// One e-mail to one voter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The voter's address (`user@example.com`, no display name).
    pub to: String,
    /// The subject, Japanese then English.
    pub subject: String,
    /// The plain-text body, Japanese then English.
    pub body: String,
}

/// Why [`enqueue`] refused a notice.
#[derive(Debug, thiserror::Error)]
pub enum InvalidNotice {
    /// The recipient does not parse as an e-mail address (the address itself is not repeated here).
    #[error("the recipient is not a valid e-mail address: {0}")]
    Recipient(#[from] lettre::address::AddressError),
    /// The subject is empty or holds a control character such as a line break.
    #[error("the subject must be one non-empty line")]
    Subject,
}

fn validate(n: &Notice) -> Result<(), InvalidNotice> {
    n.to.parse::<Address>()?;
    if n.subject.trim().is_empty() || n.subject.chars().any(char::is_control) {
        return Err(InvalidNotice::Subject);
    }
    Ok(())
}

/// The delay after `attempts` failed attempts: 30 s, 1 min, 2 min, … doubling, never more than one hour.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    let delay = FIRST_RETRY * (1i32 << doublings);
    delay.min(MAX_RETRY)
}
