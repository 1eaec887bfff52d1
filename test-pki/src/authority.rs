//! The test authority in its folder: two self-signed RSA-2048 CAs (one per certificate kind), the cards they issue,
//! revocation and the two CRLs; the state file's bookkeeping is `folder-ca`'s.
//!
//! Layout of the folder:
//! - `auth-ca.pem`, `sign-ca.pem`: the CA certificates;
//! - `INSECURE-auth-ca-key.pem`, `INSECURE-sign-ca-key.pem`: the CA keys (PKCS#8);
//! - `auth.crl.pem`, `sign.crl.pem`: the current CRLs;
//! - `state.json`: issued and revoked serials, each with its CA, and the next CRL number ([`folder_ca::State`]).
//!
//! One process at a time may change a folder (issue, revoke); within a process, a [`TestAuthority`] can be
//! shared between threads.

use std::path::Path;

use anyhow::{Context, anyhow, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use folder_ca::{CaFolder, Issued, State, now_seconds, random_serial, to_offset};
use jpki::{ADDRESS_ARC, BIRTH_DATE_ARC, NAME_ARC, Person, SEX_ARC, serial_hex};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::profile::{
    Pkcs8Der, ca_name, generate_key_pair_ders, jlis_other_name, leaf_params, load_issuer, read_pem_file, rsa_key_pair,
};

/// What `folder-ca`'s messages call this CA.
const WHAT: &str = "test authority";
const CA_VALID_DAYS: i64 = 3650;
const CRL_VALID_DAYS: i64 = 7;

/// A freshly issued test card: both key pairs (PKCS#8 DER, zeroized on drop) with their certificates.
pub struct IssuedCard {
    /// The user-authentication private key, PKCS#8 DER.
    pub auth_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// The user-authentication certificate, DER.
    pub auth_cert_der: Vec<u8>,
    /// The user-authentication certificate's serial, as [`serial_hex`] returns it.
    pub auth_serial: String,
    /// The signing private key, PKCS#8 DER.
    pub sign_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// The signing certificate, DER.
    pub sign_cert_der: Vec<u8>,
    /// The signing certificate's serial, as [`serial_hex`] returns it.
    pub sign_serial: String,
}

impl std::fmt::Debug for IssuedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCard")
            .field("auth_serial", &self.auth_serial)
            .field("sign_serial", &self.sign_serial)
            .finish_non_exhaustive()
    }
}

/// Which of the two CAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CaKind {
    Auth,
    Sign,
}

impl CaKind {
    pub(crate) fn common_name(self) -> &'static str {
        match self {
            CaKind::Auth => "JPKI Test Authentication CA",
            CaKind::Sign => "JPKI Test Signing CA",
        }
    }

    fn cert_file(self) -> &'static str {
        match self {
            CaKind::Auth => "auth-ca.pem",
            CaKind::Sign => "sign-ca.pem",
        }
    }

    fn key_file(self) -> &'static str {
        match self {
            CaKind::Auth => "INSECURE-auth-ca-key.pem",
            CaKind::Sign => "INSECURE-sign-ca-key.pem",
        }
    }

    fn crl_file(self) -> &'static str {
        match self {
            CaKind::Auth => "auth.crl.pem",
            CaKind::Sign => "sign.crl.pem",
        }
    }
}

/// The CA of a record in the state file (`"ca": "auth" | "sign"`), of issued and revoked serials alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct OfCa {
    ca: CaKind,
}

/// The state file's records.
type Records = CaFolder<OfCa, OfCa>;

/// One loaded CA: its certificate and the rcgen issuer (name, key identifier, key).
struct Ca {
    kind: CaKind,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// The test authority in its folder, with both CAs loaded.
pub struct TestAuthority {
    records: Records,
    auth: Ca,
    sign: Ca,
}

impl std::fmt::Debug for TestAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAuthority").field("dir", &self.dir()).finish_non_exhaustive()
    }
}

impl TestAuthority {
    /// Creates `dir` with two self-signed RSA-2048 CAs, empty CRLs and the state file; refuses a folder that
    /// already holds an authority.
    pub fn init(dir: &Path) -> anyhow::Result<TestAuthority> {
        let kinds = [CaKind::Auth, CaKind::Sign];
        let ca_files = [kinds.map(CaKind::cert_file), kinds.map(CaKind::key_file)].concat();
        let records = Records::create(dir, WHAT, &ca_files)?;

        let (auth_key, sign_key) = generate_key_pair_ders()?;
        let now = now_seconds();
        let not_before = now - TimeDelta::days(1);
        let not_after = now + TimeDelta::days(CA_VALID_DAYS);
        let mut cas = Vec::with_capacity(2);
        for (kind, key_der) in [(CaKind::Auth, auth_key), (CaKind::Sign, sign_key)] {
            let key = rsa_key_pair(&key_der)?;
            let mut params = CertificateParams::default();
            params.distinguished_name = ca_name(kind.common_name())?;
            params.serial_number = Some(random_serial()?);
            params.not_before = to_offset(not_before)?;
            params.not_after = to_offset(not_after)?;
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            params.key_identifier_method = KeyIdMethod::Sha256;
            let cert = params.self_signed(&key).with_context(|| format!("self-signing {}", kind.common_name()))?;
            let cert_pem = cert.pem();
            files::create_new(&dir.join(kind.key_file()), key.serialize_pem().as_bytes(), files::Access::Owner)?;
            files::create_new(&dir.join(kind.cert_file()), cert_pem.as_bytes(), files::Access::Everyone)?;
            cas.push(Ca { kind, cert_pem, issuer: Issuer::new(params, key) });
        }
        let sign = cas.pop().ok_or_else(|| anyhow!("the signing CA was not created"))?;
        let auth = cas.pop().ok_or_else(|| anyhow!("the authentication CA was not created"))?;
        let authority = TestAuthority { records, auth, sign };
        authority.records.init_state(|state| authority.publish_crls(state))?;
        Ok(authority)
    }

    /// Opens a folder that [`TestAuthority::init`] created, checking that each CA key matches its certificate.
    pub fn open(dir: &Path) -> anyhow::Result<TestAuthority> {
        let auth = load_ca(dir, CaKind::Auth)?;
        let sign = load_ca(dir, CaKind::Sign)?;
        let authority = TestAuthority { records: Records::new(dir, WHAT), auth, sign };
        authority.records.load()?;
        Ok(authority)
    }

    /// Issues a card valid from yesterday until `valid_days` from now.
    pub fn issue(&self, person: &Person, valid_days: i64) -> anyhow::Result<IssuedCard> {
        let (not_before, not_after) = validity(valid_days)?;
        self.issue_with_validity(person, not_before, not_after)
    }

    /// Issues a card with an explicit validity window (e.g. an expired one, for tests).
    pub fn issue_with_validity(
        &self,
        person: &Person,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> anyhow::Result<IssuedCard> {
        ensure!(not_before < not_after, "not_before ({not_before}) must be before not_after ({not_after})");
        let (auth_key_der, sign_key_der) = generate_key_pair_ders()?;
        let card = self.sign_card(person, not_before, not_after, auth_key_der, sign_key_der)?;
        self.record_issued(std::slice::from_ref(&card), not_after)?;
        Ok(card)
    }

    /// Issues one card per person for the key pairs of earlier cards (round-robin), signing on `threads` threads
    /// and writing the state file once: a benchmark's 100,000 voters would otherwise rewrite it 100,000 times.
    pub fn issue_many_sharing_keys(
        &self,
        people: &[Person],
        valid_days: i64,
        keys_of: &[IssuedCard],
        threads: usize,
    ) -> anyhow::Result<Vec<IssuedCard>> {
        ensure!(!keys_of.is_empty(), "give at least one card whose key pairs the new cards share");
        let (not_before, not_after) = validity(valid_days)?;
        let chunk = people.len().div_ceil(threads.max(1)).max(1);
        let cards = std::thread::scope(|scope| {
            let parts: Vec<_> = people
                .chunks(chunk)
                .enumerate()
                .map(|(n, part)| {
                    scope.spawn(move || {
                        part.iter()
                            .enumerate()
                            .map(|(j, person)| {
                                let keys = &keys_of[(n * chunk + j) % keys_of.len()];
                                self.sign_card(
                                    person,
                                    not_before,
                                    not_after,
                                    Zeroizing::new(keys.auth_key_pkcs8_der.to_vec()),
                                    Zeroizing::new(keys.sign_key_pkcs8_der.to_vec()),
                                )
                            })
                            .collect::<anyhow::Result<Vec<_>>>()
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(people.len());
            for part in parts {
                all.extend(part.join().map_err(|_| anyhow!("a signing thread panicked"))??);
            }
            anyhow::Ok(all)
        })?;
        self.record_issued(&cards, not_after)?;
        Ok(cards)
    }

    /// Records issued cards' serials in the state file, in one write.
    fn record_issued(&self, cards: &[IssuedCard], not_after: DateTime<Utc>) -> anyhow::Result<()> {
        let records = cards.iter().flat_map(|card| {
            [(&card.auth_serial, CaKind::Auth), (&card.sign_serial, CaKind::Sign)].map(|(serial, ca)| Issued {
                serial: serial.clone(),
                meta: OfCa { ca },
                not_after,
            })
        });
        Ok(self.records.record_issued(records)?)
    }

    /// Makes a card's two certificates for its key pairs, without recording them (see [`Self::record_issued`]).
    fn sign_card(
        &self,
        person: &Person,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        auth_key_der: Pkcs8Der,
        sign_key_der: Pkcs8Der,
    ) -> anyhow::Result<IssuedCard> {
        let auth_serial = random_serial()?;
        let mut auth = leaf_params(&auth_serial, not_before, not_after)?;
        auth.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        auth.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let auth_cert = auth
            .signed_by(&rsa_key_pair(&auth_key_der)?, &self.auth.issuer)
            .context("signing the authentication certificate")?;

        let sign_serial = random_serial()?;
        let mut sign = leaf_params(&sign_serial, not_before, not_after)?;
        sign.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::ContentCommitment];
        sign.subject_alt_names = vec![
            jlis_other_name(NAME_ARC, &person.name),
            jlis_other_name(SEX_ARC, person.sex.code()),
            jlis_other_name(BIRTH_DATE_ARC, &person.birth_date.format("%Y%m%d").to_string()),
            jlis_other_name(ADDRESS_ARC, &person.address),
        ];
        let sign_cert = sign
            .signed_by(&rsa_key_pair(&sign_key_der)?, &self.sign.issuer)
            .context("signing the signing certificate")?;

        Ok(IssuedCard {
            auth_serial: serial_hex(auth_cert.der())?,
            auth_cert_der: auth_cert.der().to_vec(),
            auth_key_pkcs8_der: auth_key_der,
            sign_serial: serial_hex(sign_cert.der())?,
            sign_cert_der: sign_cert.der().to_vec(),
            sign_key_pkcs8_der: sign_key_der,
        })
    }

    /// Revokes a certificate this authority issued (serial in hex, from either CA) and republishes both CRLs.
    pub fn revoke(&self, serial_hex: &str) -> anyhow::Result<()> {
        self.records.revoke(serial_hex, |issued| *issued, |state| self.publish_crls(state))?;
        Ok(())
    }

    /// Returns the authentication CA certificate (PEM).
    pub fn auth_ca_pem(&self) -> String {
        self.auth.cert_pem.clone()
    }

    /// Returns the signing CA certificate (PEM).
    pub fn sign_ca_pem(&self) -> String {
        self.sign.cert_pem.clone()
    }

    /// Returns the authentication CA's current CRL (DER).
    pub fn auth_crl_der(&self) -> anyhow::Result<Vec<u8>> {
        read_pem_file(&self.dir().join(CaKind::Auth.crl_file()), "X509 CRL")
    }

    /// Returns the signing CA's current CRL (DER).
    pub fn sign_crl_der(&self) -> anyhow::Result<Vec<u8>> {
        read_pem_file(&self.dir().join(CaKind::Sign.crl_file()), "X509 CRL")
    }

    /// Returns the authority's folder.
    pub fn dir(&self) -> &Path {
        self.records.dir()
    }

    /// Signs and writes both CRLs under the state's next CRL number, each listing its own CA's revoked serials.
    fn publish_crls(&self, state: &mut State<OfCa, OfCa>) -> anyhow::Result<()> {
        let period = state.next_crl(TimeDelta::days(CRL_VALID_DAYS))?;
        for ca in [&self.auth, &self.sign] {
            let revoked = state.revoked.iter().filter(|r| r.meta.ca == ca.kind);
            folder_ca::publish_crl(&self.dir().join(ca.kind.crl_file()), &ca.issuer, &period, revoked)
                .with_context(|| format!("publishing the CRL of {}", ca.kind.common_name()))?;
        }
        Ok(())
    }
}

fn load_ca(dir: &Path, kind: CaKind) -> anyhow::Result<Ca> {
    let (cert_pem, issuer) = load_issuer(&dir.join(kind.cert_file()), &dir.join(kind.key_file()))?;
    Ok(Ca { kind, cert_pem, issuer })
}

/// A card's validity: from yesterday until `valid_days` from now.
fn validity(valid_days: i64) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    ensure!(valid_days > 0, "valid_days must be positive, got {valid_days}");
    let now = now_seconds();
    let not_after = TimeDelta::try_days(valid_days)
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| anyhow!("valid_days {valid_days} is out of range"))?;
    Ok((now - TimeDelta::days(1), not_after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpki::{Sex, person_from_signing_cert};

    /// Cards issued in a batch share the given key pairs round-robin, each with its own serials, all recorded in
    /// one write of the state (so that they can be revoked).
    #[test]
    fn batch_issuance_records_every_serial() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestAuthority::init(&dir.path().join("ca")).unwrap();
        let person = |i: usize| Person {
            name: format!("在外 花子{i}"),
            address: "東京都千代田区".into(),
            birth_date: "1990-04-01".parse().unwrap(),
            sex: Sex::Female,
        };
        let pool = vec![ca.issue(&person(0), 30).unwrap(), ca.issue(&person(1), 30).unwrap()];
        let people: Vec<Person> = (0..7).map(person).collect();
        let cards = ca.issue_many_sharing_keys(&people, 30, &pool, 3).unwrap();
        assert_eq!(cards.len(), 7);
        for (i, card) in cards.iter().enumerate() {
            assert_eq!(card.sign_key_pkcs8_der.to_vec(), pool[i % 2].sign_key_pkcs8_der.to_vec(), "round-robin keys");
            assert_eq!(person_from_signing_cert(&card.sign_cert_der).unwrap().name, format!("在外 花子{i}"));
        }
        let mut serials: Vec<&str> =
            cards.iter().flat_map(|c| [c.auth_serial.as_str(), c.sign_serial.as_str()]).collect();
        serials.sort_unstable();
        serials.dedup();
        assert_eq!(serials.len(), 14, "every certificate has its own serial");
        ca.revoke(&cards[6].sign_serial).unwrap();
        let state = ca.records.load().unwrap();
        assert_eq!(state.issued.len(), 2 * (7 + 2));
        assert_eq!(state.revoked.len(), 1);
        assert_eq!(state.revoked[0].meta.ca, CaKind::Sign, "the revocation names the CA that issued the serial");
    }

    /// The state file keeps the format the test authority always wrote (`"ca"` in each record), so folders made
    /// by earlier builds still open.
    #[test]
    fn the_state_file_keeps_its_format() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestAuthority::init(dir.path()).unwrap();
        let card = ca
            .issue(
                &jpki::Person {
                    name: "在外 花子".into(),
                    address: "東京都".into(),
                    birth_date: "1990-04-01".parse().unwrap(),
                    sex: Sex::Female,
                },
                30,
            )
            .unwrap();
        ca.revoke(&card.auth_serial).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap()).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(&json), ["issued", "next_crl_number", "revoked"]);
        assert_eq!(keys(&json["issued"][0]), ["ca", "not_after", "serial"]);
        assert_eq!(json["issued"][1]["ca"], "sign");
        assert_eq!(keys(&json["revoked"][0]), ["ca", "revoked_at", "serial"]);
        assert_eq!(json["revoked"][0]["ca"], "auth");
        assert_eq!(json["next_crl_number"], 3);
    }
}
