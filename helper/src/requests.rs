//! What the card signs, computed here from typed requests, and what the helper's own page shows about it
//! (what you see is what you sign; issue 18).
//!
//! - [`ballot`]: a ballot with its opening (`shared::sealed::BallotOpening`). The helper reads the election and its
//!   public key from the voting site itself (`GET /api/v1/elections/current/definition` at the origin that
//!   asked), re-encrypts the claimed choice with the revealed seed and compares, byte for byte. Only then does it
//!   compute the envelope digest and describe the choice in words, from the site's definition.
//! - [`application`]: an application or switch request as its JSON text: parsed as the verifier parses it, every
//!   field shown, and the digest of exactly those bytes.
//! - [`Challenged`]: the trackers of ballots checked for the voter (the Benaloh challenge). Their seeds are out,
//!   so they are never signed.
//!
//! What this module must never do: sign or describe a digest it did not compute, or take a word shown to the voter
//! from the requesting page.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use shared::api::{ApplicationInput, ElectionDefinition};
use shared::crypto::{ElectionPublicKey, application_digest};
use shared::election::Election;
use shared::sealed::{BallotOpening, CheckError};
use warp::http::StatusCode;

/// One line of what the helper's page shows: a label in both languages and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The element id on the page.
    pub id: &'static str,
    /// The label in Japanese.
    pub ja: &'static str,
    /// The label in English.
    pub en: &'static str,
    /// The value, as computed here.
    pub value: String,
    /// Shown large (the voter's choice).
    pub main: bool,
}

/// What a signature is for, as the helper computed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// The heading, in Japanese and English.
    pub title: (&'static str, &'static str),
    /// The lines.
    pub rows: Vec<Row>,
}

fn row(id: &'static str, ja: &'static str, en: &'static str, value: impl Into<String>) -> Row {
    Row { id, ja, en, value: value.into(), main: false }
}

/// A refusal of a request: status, stable code and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub StatusCode, pub &'static str, pub String);

/// A ballot the helper checked: the digest to sign, what to show, and its tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedBallot {
    /// The envelope digest (R-VOTE-6).
    pub digest: [u8; 32],
    /// What the page shows.
    pub shown: Shown,
    /// The ballot's tracker.
    pub tracker: String,
}

/// Reads the election definition from the voting site that asked.
pub async fn fetch_definition(http: &reqwest::Client, origin: &str) -> Result<(Election, ElectionPublicKey), Refused> {
    let unavailable = |why: String| {
        Refused(
            StatusCode::BAD_GATEWAY,
            "ELECTION_UNAVAILABLE",
            format!("The card helper could not read the election from the voting site ({why}). Try again."),
        )
    };
    let url = format!("{origin}/api/v1/elections/current/definition");
    let resp = http.get(&url).send().await.map_err(|e| unavailable(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(unavailable(format!("status {}", resp.status())));
    }
    let def: ElectionDefinition = resp.json().await.map_err(|e| unavailable(e.without_url().to_string()))?;
    let key = ElectionPublicKey::from_spki_der(def.public_key.as_bytes()).map_err(|e| unavailable(e.to_string()))?;
    if key.fingerprint() != def.key_fingerprint {
        return Err(unavailable("its key and fingerprint differ".into()));
    }
    Ok((def.election, key))
}

/// Refuses a key whose fingerprint is not among the pinned ones (when any are pinned).
pub fn check_pinned(key: &ElectionPublicKey, pinned: &[String]) -> Result<(), Refused> {
    let fingerprint = key.fingerprint();
    if pinned.is_empty() || pinned.contains(&fingerprint) {
        return Ok(());
    }
    Err(Refused(
        StatusCode::BAD_GATEWAY,
        "ELECTION_KEY_NOT_PINNED",
        format!(
            "The voting site's election key ({fingerprint}) is not the one this card helper was given. Do not vote \
             now: report it to your election committee."
        ),
    ))
}

/// The HTTP client the helper reads elections with: short timeouts, no redirects, no cookies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Checks a ballot's opening against the election and key read from the site; computes the digest and the words.
pub fn ballot(opening: &BallotOpening, election: &Election, key: &ElectionPublicKey) -> Result<CheckedBallot, Refused> {
    let checked = opening.check(election, key).map_err(|e| match e {
        CheckError::Mismatch => Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "BALLOT_MISMATCH",
            "The encrypted ballot does not hold the choice the voting page claims. Do not continue: close the voting \
             page and report this to your election committee."
                .into(),
        ),
        other => Refused(StatusCode::BAD_REQUEST, "MALFORMED", format!("The ballot is not valid: {other}.")),
    })?;
    let mut choice = row("shown-choice", "あなたの選択", "Your choice", checked.words.ja.clone());
    choice.main = true;
    let shown = Shown {
        title: ("投票への電子署名（署名用電子証明書）", "Signature on your ballot (signing certificate)"),
        rows: vec![
            row("shown-election", "選挙", "Election", format!("{} / {}", election.name.ja, election.name.en)),
            row(
                "shown-contest",
                "投票するもの",
                "Contest",
                format!("{} / {}", checked.contest.name.ja, checked.contest.name.en),
            ),
            choice,
            row(
                "shown-tracker",
                "暗号化した投票のトラッカー",
                "Tracker of the encrypted ballot",
                checked.tracker.clone(),
            ),
            row("shown-fingerprint", "選挙の公開鍵の指紋", "Election key fingerprint", checked.fingerprint),
        ],
    };
    Ok(CheckedBallot { digest: opening.ballot.envelope_digest(), shown, tracker: checked.tracker })
}

/// The longest application text accepted, in characters (a real one is about 250; escaped as JSON, even 1,000
/// characters stay inside the helper's 8 KiB body limit).
pub const MAX_APPLICATION: usize = 1000;

/// Parses an application or switch request as the verifier does; computes its digest and every field to show.
pub fn application(text: &str, auth_certificate: &[u8]) -> Result<([u8; 32], Shown), Refused> {
    let malformed = |why: String| Refused(StatusCode::BAD_REQUEST, "MALFORMED", format!("The application: {why}."));
    if text.chars().count() > MAX_APPLICATION {
        return Err(malformed(format!("longer than {MAX_APPLICATION} characters")));
    }
    let a: ApplicationInput = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let title = match a.kind.as_str() {
        "apply" => ("インターネット投票の申出への電子署名", "Signature on an application for internet voting"),
        "switch" => (
            "インターネット投票から郵便等・在外公館投票への切替申出への電子署名",
            "Signature on a request to switch from internet voting back to paper voting",
        ),
        other => return Err(malformed(format!("unknown kind {other:?}"))),
    };
    let roll = match (&a.roll_entry, a.registration_pending) {
        (Some(n), _) => n.clone(),
        (None, true) => "登録申請中 / registration pending".into(),
        (None, false) => "—".into(),
    };
    let shown = Shown {
        title,
        rows: vec![
            row("shown-municipality", "名簿登録地（市区町村コード）", "Municipality of the roll", a.municipality),
            row("shown-roll", "在外選挙人名簿の登録番号", "Roll entry", roll),
            row("shown-name", "氏名", "Name", a.name),
            row("shown-birth", "生年月日", "Birth date", a.birth_date.to_string()),
            row("shown-address", "国外の住所", "Address abroad", a.address_abroad),
            row("shown-email", "通知用メールアドレス", "E-mail for notices", a.email),
        ],
    };
    Ok((application_digest(text.as_bytes(), auth_certificate), shown))
}

/// The trackers of ballots whose opening was revealed for a check: never signed afterwards. The oldest are
/// forgotten past [`Challenged::CAPACITY`], far more than one voter's checks.
#[derive(Default)]
pub struct Challenged(Mutex<VecDeque<String>>);

impl Challenged {
    /// How many trackers are remembered.
    pub const CAPACITY: usize = 1024;

    /// Remembers a challenged ballot.
    pub fn add(&self, tracker: &str) {
        if let Ok(mut q) = self.0.lock() {
            if q.len() >= Self::CAPACITY {
                q.pop_front();
            }
            q.push_back(tracker.to_string());
        }
    }

    /// Whether a ballot was challenged (a poisoned lock counts as yes: never sign in doubt).
    pub fn contains(&self, tracker: &str) -> bool {
        self.0.lock().map(|q| q.iter().any(|t| t == tracker)).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_is_shown_field_by_field_and_its_digest_is_of_the_exact_text() {
        let text = r#"{"kind":"switch","municipality":"13101","roll_entry":"E-1","name":"在外 花子","birth_date":"1990-04-01","address_abroad":"New York","email":"h@example.com"}"#;
        let (digest, shown) = application(text, b"card").unwrap();
        assert_eq!(digest, application_digest(text.as_bytes(), b"card"));
        assert_ne!(digest, application_digest(text.as_bytes(), b"another card"), "bound to the card's certificate");
        assert!(shown.title.0.contains("切替申出"));
        assert!(shown.rows.iter().any(|r| r.value == "在外 花子"));
        let bad = text.replace("switch", "transfer");
        assert_eq!(application(&bad, b"card").unwrap_err().1, "MALFORMED");
        let extra = text.replace("}", r#","digest":"00"}"#);
        assert_eq!(
            application(&extra, b"card").unwrap_err().1,
            "MALFORMED",
            "unknown fields are refused, as the verifier does"
        );
    }

    #[test]
    fn a_key_that_is_not_pinned_is_refused_when_keys_are_pinned() {
        let key = ElectionPublicKey::from_pem(include_str!("../../shared/tests/data/test-election-key.pub.pem"))
            .expect("the committed test key");
        assert!(check_pinned(&key, &[]).is_ok(), "no pin: the site's key");
        assert!(check_pinned(&key, &[key.fingerprint()]).is_ok());
        let other = check_pinned(&key, &["00".repeat(32)]).unwrap_err();
        assert_eq!((other.0, other.1), (StatusCode::BAD_GATEWAY, "ELECTION_KEY_NOT_PINNED"));
    }

    #[test]
    fn challenged_trackers_are_remembered_up_to_capacity() {
        let c = Challenged::default();
        c.add("a");
        assert!(c.contains("a"));
        for i in 0..Challenged::CAPACITY {
            c.add(&i.to_string());
        }
        assert!(!c.contains("a"));
        assert!(c.contains("5"));
    }
}
