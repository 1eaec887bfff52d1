//! `ballot-check`: the voter's second, independent check of an encryption (the Benaloh challenge, issue 18).
//!
//! The voting page encrypts a choice; on 「暗号化を確認する」 it reveals that encryption's opening (the choice and
//! the OAEP seed), throws the ballot away and encrypts afresh. This tool reads the opening, reads the election and
//! its public key from the voting site (`GET /api/v1/elections/current/definition`) or from a saved file,
//! re-encrypts the choice with the seed and compares with the ciphertext byte for byte
//! (`shared::sealed::BallotOpening::check`). It shares nothing with the voter app but `shared`: a page that
//! encrypted something other than what it showed is caught by code the page did not run.
//!
//! Map: [`Source`] (where the election comes from), [`run`] (read, check, report), [`Report`] (what is printed).
//!
//! What it must never do: decrypt (it has no private key), or trust the page for the election or the key.

use std::path::PathBuf;

use anyhow::{Context, bail};
use shared::api::ElectionDefinition;
use shared::crypto::ElectionPublicKey;
use shared::sealed::{BallotOpening, CheckError};

/// Where the election definition and key come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// The voting site's origin, e.g. `https://vote.example.jp`.
    Site(String),
    /// A saved `ElectionDefinition` JSON file.
    File(PathBuf),
}

/// The outcome of a check, ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Whether the ciphertext holds the revealed choice.
    pub holds: bool,
    /// What to print.
    pub text: String,
}

/// Reads the election definition from its source and checks it is consistent (the key matches its fingerprint).
pub async fn definition(source: &Source) -> anyhow::Result<(ElectionDefinition, ElectionPublicKey)> {
    let def: ElectionDefinition = match source {
        Source::Site(origin) => {
            let url = format!("{}/api/v1/elections/current/definition", origin.trim_end_matches('/'));
            let resp = reqwest::get(&url).await.with_context(|| format!("cannot reach {url}"))?;
            if !resp.status().is_success() {
                bail!("{url} answered {}", resp.status());
            }
            resp.json().await.with_context(|| format!("{url} did not send an election definition"))?
        }
        Source::File(path) => {
            serde_json::from_slice(&std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
                .with_context(|| format!("{} is not an election definition", path.display()))?
        }
    };
    let key = ElectionPublicKey::from_spki_der(def.public_key.as_bytes()).context("the election key")?;
    if key.fingerprint() != def.key_fingerprint {
        bail!("the election's key does not match its stated fingerprint {}", def.key_fingerprint);
    }
    Ok((def, key))
}

/// Checks an opening (JSON text) against an election definition and key.
pub fn check(opening_json: &str, def: &ElectionDefinition, key: &ElectionPublicKey) -> anyhow::Result<Report> {
    let opening: BallotOpening =
        serde_json::from_str(opening_json.trim()).context("the text is not a ballot opening from the voting page")?;
    let head = format!(
        "選挙 / election: {} / {}\n公開鍵の指紋 / key fingerprint: {}\nトラッカー / tracker: {}\n",
        def.election.name.ja,
        def.election.name.en,
        key.fingerprint(),
        opening.ballot.tracker()
    );
    match opening.check(&def.election, key) {
        Ok(c) => Ok(Report {
            holds: true,
            text: format!(
                "{head}投票するもの / contest: {} / {}\n選択 / choice: {}\n一致: この暗号文は上の選択を含んでいます。\n\
                 MATCH: the ciphertext holds the choice above.\n",
                c.contest.name.ja, c.contest.name.en, c.words.ja
            ),
        }),
        Err(CheckError::Mismatch) => Ok(Report {
            holds: false,
            text: format!(
                "{head}不一致: この暗号文は、示された選択を含んでいません。投票画面が改ざんされている可能性があります。選挙管理委員会に連絡してください。\n\
                 MISMATCH: the ciphertext does not hold the choice shown. The voting page may be compromised: report it \
                 to your election committee.\n"
            ),
        }),
        Err(e) => bail!("the opening cannot be checked: {e}"),
    }
}

/// Reads the definition and checks the opening.
pub async fn run(source: &Source, opening_json: &str) -> anyhow::Result<Report> {
    let (def, key) = definition(source).await?;
    check(opening_json, &def, &key)
}
