//! M-of-N custody of the token's user PIN (Shamir secret sharing over GF(256), the `blahaj` crate).
//!
//! What this protects: *activation*. The user PIN is random, shown to nobody and written nowhere whole; each of N
//! custodians holds one share file and any M of them together let the counting tool log in, while M-1 shares say
//! nothing about the PIN. What the HSM protects: the *key*. The private key is generated inside the token as
//! sensitive and non-extractable, so even M custodians together can only ask the token to decrypt, never take
//! the key away (R-COUNT-2). The token's SO PIN can reset the user PIN, so the ceremony makes it at random too and
//! either splits it among the same custodians ([`PinKind::SecurityOfficer`] shares) or destroys it; nobody types it
//! and the record says which ([`crate::ceremony::SoPinCustody`]).

use std::path::{Path, PathBuf};

use blahaj::{Share, Sharks};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::TallyError;

/// The share file's format tag.
pub const SHARE_FORMAT: &str = "jp-ivote-pin-share/2";

/// Which of the token's PINs a share rebuilds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinKind {
    /// The user PIN, which lets the counting tool decrypt (`tally count --share`).
    User,
    /// The security officer's PIN, which can set a new user PIN: kept for re-initialising the token after the
    /// election, never needed to count.
    SecurityOfficer,
}

impl PinKind {
    fn file_prefix(self) -> &'static str {
        match self {
            PinKind::User => "pin-share",
            PinKind::SecurityOfficer => "so-pin-share",
        }
    }
}

/// One custodian's share file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareFile {
    /// Always [`SHARE_FORMAT`].
    pub format: String,
    /// Which PIN the shares rebuild.
    pub pin: PinKind,
    /// The election whose key the PIN activates.
    pub election_id: String,
    /// The token's label.
    pub token_label: String,
    /// The token's serial number.
    pub token_serial: String,
    /// The election key's fingerprint.
    pub key_fingerprint: String,
    /// How many shares rebuild the PIN (M).
    pub threshold: u8,
    /// How many shares were made (N).
    pub total: u8,
    /// This share's number, 1..=N.
    pub index: u8,
    /// The share (x coordinate and values), hex.
    pub share: String,
}

impl Drop for ShareFile {
    fn drop(&mut self) {
        self.share.zeroize();
    }
}

/// Makes a fresh random user PIN: 32 random bytes as 64 hex digits.
pub fn random_pin() -> Result<Zeroizing<String>, TallyError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| TallyError::Random(e.to_string()))?;
    Ok(Zeroizing::new(hex::encode(bytes.as_ref())))
}

/// The public facts every share file carries.
#[derive(Clone, Debug)]
pub struct ShareContext {
    /// The election.
    pub election_id: String,
    /// The token's label.
    pub token_label: String,
    /// The token's serial number.
    pub token_serial: String,
    /// The election key's fingerprint.
    pub key_fingerprint: String,
}

/// Splits a PIN into `total` shares of which any `threshold` rebuild it.
pub fn split(
    pin: &str,
    kind: PinKind,
    threshold: u8,
    total: u8,
    ctx: &ShareContext,
) -> Result<Vec<ShareFile>, TallyError> {
    if threshold < 2 || threshold > total {
        return Err(TallyError::Custody(format!("need 2 <= M <= N, got M = {threshold}, N = {total}")));
    }
    let shares = Sharks(threshold).dealer(pin.as_bytes()).take(usize::from(total));
    Ok(shares
        .enumerate()
        .map(|(i, s)| {
            let bytes = Zeroizing::new(Vec::from(&s));
            ShareFile {
                format: SHARE_FORMAT.into(),
                pin: kind,
                election_id: ctx.election_id.clone(),
                token_label: ctx.token_label.clone(),
                token_serial: ctx.token_serial.clone(),
                key_fingerprint: ctx.key_fingerprint.clone(),
                threshold,
                total,
                // At most 255 shares: `total` is a u8.
                index: u8::try_from(i + 1).unwrap_or(u8::MAX),
                share: hex::encode(bytes.as_slice()),
            }
        })
        .collect())
}

/// Writes share files `pin-share-<i>-of-<n>.json` (`so-pin-share-…` for the SO PIN) into a folder (refusing to
/// overwrite), owner-readable only.
pub fn write_shares(dir: &Path, shares: &[ShareFile]) -> Result<Vec<PathBuf>, TallyError> {
    let mut paths = Vec::new();
    for s in shares {
        let path = dir.join(format!("{}-{}-of-{}.json", s.pin.file_prefix(), s.index, s.total));
        let json = Zeroizing::new(serde_json::to_string_pretty(s).map_err(|e| TallyError::Io(e.to_string()))?);
        files::create_new(&path, json.as_bytes(), files::Access::Owner)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Reads share files.
pub fn read_shares(paths: &[PathBuf]) -> Result<Vec<ShareFile>, TallyError> {
    paths
        .iter()
        .map(|p| {
            let text = Zeroizing::new(
                std::fs::read_to_string(p).map_err(|e| TallyError::Io(format!("reading {}: {e}", p.display())))?,
            );
            let share: ShareFile = serde_json::from_str(&text)
                .map_err(|e| TallyError::Custody(format!("{} is not a PIN share file: {e}", p.display())))?;
            if share.format != SHARE_FORMAT {
                return Err(TallyError::Custody(format!("{}: format {:?}", p.display(), share.format)));
            }
            Ok(share)
        })
        .collect()
}

/// Rebuilds one PIN in memory from at least M shares of the same ceremony.
pub fn combine(shares: &[ShareFile], kind: PinKind, key_fingerprint: &str) -> Result<Zeroizing<String>, TallyError> {
    let first = shares.first().ok_or_else(|| TallyError::Custody("no share files given".into()))?;
    if let Some(other) = shares.iter().find(|s| s.pin != kind) {
        return Err(TallyError::Custody(format!(
            "share {} of {} rebuilds the {:?} PIN, not the {kind:?} PIN: give the pin-share files",
            other.index, other.total, other.pin
        )));
    }
    for s in shares {
        if s.key_fingerprint != key_fingerprint
            || s.election_id != first.election_id
            || s.token_serial != first.token_serial
            || s.threshold != first.threshold
        {
            return Err(TallyError::Custody(format!(
                "share {} of {} belongs to another ceremony (key {}, expected {key_fingerprint})",
                s.index, s.total, s.key_fingerprint
            )));
        }
    }
    let mut indexes: Vec<u8> = shares.iter().map(|s| s.index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    if indexes.len() < usize::from(first.threshold) {
        return Err(TallyError::Custody(format!(
            "{} distinct share(s) given; the PIN needs {} of {}",
            indexes.len(),
            first.threshold,
            first.total
        )));
    }
    let parsed: Vec<Share> = shares
        .iter()
        .map(|s| {
            let bytes = Zeroizing::new(
                hex::decode(&s.share).map_err(|_| TallyError::Custody(format!("share {} is not hex", s.index)))?,
            );
            Share::try_from(bytes.as_slice()).map_err(|e| TallyError::Custody(format!("share {}: {e}", s.index)))
        })
        .collect::<Result<_, _>>()?;
    let secret = Zeroizing::new(
        Sharks(first.threshold)
            .recover(&parsed)
            .map_err(|e| TallyError::Custody(format!("recovering the PIN: {e}")))?,
    );
    let pin = std::str::from_utf8(&secret)
        .map_err(|_| TallyError::Custody("the shares do not rebuild a PIN (damaged or mixed shares)".into()))?;
    Ok(Zeroizing::new(pin.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ShareContext {
        ShareContext {
            election_id: "e".into(),
            token_label: "t".into(),
            token_serial: "s".into(),
            key_fingerprint: "f".into(),
        }
    }

    #[test]
    fn any_m_shares_rebuild_and_fewer_are_refused() {
        let pin = random_pin().unwrap();
        let shares = split(&pin, PinKind::User, 3, 5, &ctx()).unwrap();
        assert_eq!(shares.len(), 5);
        for pick in [[0, 1, 2], [0, 2, 4], [4, 3, 1]] {
            let chosen: Vec<ShareFile> = pick.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(*combine(&chosen, PinKind::User, "f").unwrap(), *pin);
        }
        let two = [shares[0].clone(), shares[1].clone()];
        assert!(matches!(combine(&two, PinKind::User, "f"), Err(TallyError::Custody(m)) if m.contains("needs 3 of 5")));
        let dup = [shares[0].clone(), shares[0].clone(), shares[1].clone()];
        assert!(combine(&dup, PinKind::User, "f").is_err(), "the same share twice is one share");
        assert!(combine(&shares[..3], PinKind::User, "other").is_err());
        assert!(split(&pin, PinKind::User, 1, 5, &ctx()).is_err());
        assert!(split(&pin, PinKind::User, 6, 5, &ctx()).is_err());
    }

    #[test]
    fn security_officer_shares_never_stand_in_for_the_user_pin() {
        let so = random_pin().unwrap();
        let shares = split(&so, PinKind::SecurityOfficer, 3, 5, &ctx()).unwrap();
        assert_eq!(*combine(&shares[..3], PinKind::SecurityOfficer, "f").unwrap(), *so);
        let err = combine(&shares[..3], PinKind::User, "f").unwrap_err();
        assert!(err.to_string().contains("give the pin-share files"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let paths = write_shares(dir.path(), &shares[..1]).unwrap();
        assert!(paths[0].ends_with("so-pin-share-1-of-5.json"), "{paths:?}");
    }
}
