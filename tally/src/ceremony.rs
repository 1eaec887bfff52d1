//! The key ceremony (R-COUNT-2): the election key pair is generated inside the token, the user PIN is random and
//! leaves the ceremony only as M-of-N shares, the security officer's PIN is random too and is either split the
//! same way or destroyed (it can reset the user PIN, so whoever knew it could count alone), and a signed record
//! says who did it, when, on which token, what became of the SO PIN, and which public key came out, for the
//! verifier's `election create --public-key`.
//!
//! Nobody types a PIN at the ceremony: there is none to type, so none can reach a command line, a shell history
//! or a process list.
//!
//! Files written to the output folder: `election-public-key.pem` (SubjectPublicKeyInfo), `election-public-key.sha256`
//! (its fingerprint, as [`ElectionPublicKey::fingerprint`]), `ceremony.json` (the record, signed with a fresh
//! Ed25519 key), `ceremony-signing-key.pk8` (that key, owner-readable; it later signs the results), and
//! `pin-share-<i>-of-<n>.json` (one per custodian, to be handed out and removed from this machine), and with
//! [`SoPinCustody::Split`] `so-pin-share-<i>-of-<n>.json` likewise.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shared::crypto::ElectionPublicKey;

use crate::custody::{PinKind, ShareContext, random_pin, split, write_shares};
use crate::error::TallyError;
use crate::hsm::{Hsm, TokenKey, check_key_policy, generate_election_key};
use crate::signing::{Signed, SigningKey};

/// The ceremony record's format tag.
pub const CEREMONY_FORMAT: &str = "jp-ivote-key-ceremony/2";

/// What became of the token's security officer PIN at the ceremony.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SoPinCustody {
    /// Split M-of-N among the same custodians as the user PIN (`so-pin-share-*.json`): M of them can re-initialise
    /// the token after the election.
    Split,
    /// Random, set at initialisation and written nowhere: nobody can ever log in as the security officer, so the
    /// token can never be reset (wipe it physically after the election).
    Destroyed,
    /// Not applicable: no token PIN (the insecure demo file key, or a module without a security officer such as
    /// NSS's crypto slot in tests).
    None,
}
/// The ceremony record's file name in the output folder.
pub const RECORD_FILE: &str = "ceremony.json";
/// The ceremony's Ed25519 key file name in the output folder.
pub const SIGNING_KEY_FILE: &str = "ceremony-signing-key.pk8";
/// The public key's file name in the output folder.
pub const PUBLIC_KEY_FILE: &str = "election-public-key.pem";

/// What the ceremony record says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeremonyRecord {
    /// Always [`CEREMONY_FORMAT`].
    pub format: String,
    /// The election.
    pub election_id: String,
    /// The officials present.
    pub officials: Vec<String>,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// The PKCS#11 module used.
    pub module: String,
    /// The token's label.
    pub token_label: String,
    /// The token's serial number.
    pub token_serial: String,
    /// The key pair's label in the token.
    pub key_label: String,
    /// The key size in bits.
    pub key_bits: u64,
    /// Whether the key is a token object (false: a session key, tests only).
    pub on_token: bool,
    /// The public key (PEM SubjectPublicKeyInfo).
    pub public_key_pem: String,
    /// The public key's fingerprint (hex SHA-256 of the SubjectPublicKeyInfo).
    pub key_fingerprint: String,
    /// PIN shares needed (M), or 0 when the token has no user PIN under custody.
    pub threshold: u8,
    /// PIN shares made (N).
    pub shares: u8,
    /// What became of the security officer's PIN.
    pub so_pin: SoPinCustody,
}

/// Returns a PEM `PUBLIC KEY` for a SubjectPublicKeyInfo.
pub fn spki_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

/// What the ceremony needs from the operator.
#[derive(Clone, Debug)]
pub struct CeremonyParams {
    /// The election.
    pub election_id: String,
    /// The officials present.
    pub officials: Vec<String>,
    /// The label to give the token (at most 32 bytes).
    pub token_label: String,
    /// The key pair's label.
    pub key_label: String,
    /// PIN shares needed (M).
    pub threshold: u8,
    /// PIN shares made (N).
    pub shares: u8,
    /// What to do with the security officer's PIN.
    pub so_pin: SoPinCustody,
    /// The output folder (created; must not hold a previous ceremony).
    pub out: PathBuf,
}

/// Writes the public key, its fingerprint, the signing key and the signed record; returns the record.
pub fn write_record(
    params: &CeremonyParams,
    module: &str,
    token_serial: &str,
    public: &ElectionPublicKey,
    on_token: bool,
) -> Result<(CeremonyRecord, SigningKey), TallyError> {
    std::fs::create_dir_all(&params.out)
        .map_err(|e| TallyError::Io(format!("creating {}: {e}", params.out.display())))?;
    let record = CeremonyRecord {
        format: CEREMONY_FORMAT.into(),
        election_id: params.election_id.clone(),
        officials: params.officials.clone(),
        at: chrono::Utc::now().to_rfc3339(),
        module: module.into(),
        token_label: params.token_label.clone(),
        token_serial: token_serial.into(),
        key_label: params.key_label.clone(),
        key_bits: crate::hsm::ELECTION_KEY_BITS,
        on_token,
        public_key_pem: spki_pem(public.spki_der()),
        key_fingerprint: public.fingerprint(),
        threshold: params.threshold,
        shares: params.shares,
        so_pin: params.so_pin,
    };
    let key = SigningKey::generate(&params.out.join(SIGNING_KEY_FILE))?;
    let signed = key.sign(serde_json::to_string(&record).map_err(|e| TallyError::Io(e.to_string()))?);
    let signed_json = serde_json::to_string_pretty(&signed).map_err(|e| TallyError::Io(e.to_string()))?;
    files::create_new(&params.out.join(PUBLIC_KEY_FILE), record.public_key_pem.as_bytes(), files::Access::Everyone)?;
    files::create_new(
        &params.out.join("election-public-key.sha256"),
        format!("{}\n", record.key_fingerprint).as_bytes(),
        files::Access::Everyone,
    )?;
    files::create_new(&params.out.join(RECORD_FILE), signed_json.as_bytes(), files::Access::Everyone)?;
    Ok((record, key))
}

/// Runs the ceremony on a fresh token: random SO and user PINs, RSA-3072 generation in the token, the user PIN's
/// shares, the SO PIN's shares or its destruction, the record.
pub fn run_on_new_token(
    hsm: &Hsm,
    module: &str,
    params: &CeremonyParams,
) -> Result<(CeremonyRecord, Vec<PathBuf>), TallyError> {
    if params.so_pin == SoPinCustody::None {
        return Err(TallyError::Custody(
            "a token's security officer PIN must be split or destroyed (--so-pin-custody split|destroyed)".into(),
        ));
    }
    let so_pin = random_pin()?;
    let pin = random_pin()?;
    let (slot, serial) = hsm.init_token(&params.token_label, &so_pin, &pin)?;
    let session = hsm.login(slot, &pin)?;
    let TokenKey { public, private } = generate_election_key(&session, &params.key_label, true)?;
    check_key_policy(&session, private)?;
    let ctx = ShareContext {
        election_id: params.election_id.clone(),
        token_label: params.token_label.clone(),
        token_serial: serial.clone(),
        key_fingerprint: public.fingerprint(),
    };
    let mut shares = split(&pin, PinKind::User, params.threshold, params.shares, &ctx)?;
    drop(pin);
    if params.so_pin == SoPinCustody::Split {
        shares.extend(split(&so_pin, PinKind::SecurityOfficer, params.threshold, params.shares, &ctx)?);
    }
    // Destroyed: the only copy is zeroed here.
    drop(so_pin);
    let (record, _) = write_record(params, module, &serial, &public, true)?;
    let paths = write_shares(&params.out, &shares)?;
    Ok((record, paths))
}

/// The ceremony's token, opened with M PIN shares: the module, the logged-in session (keep it open while other
/// sessions decrypt), the slot, and the election key, checked against the record (serial, policy, fingerprint).
pub struct OpenedToken {
    /// The loaded module.
    pub hsm: Hsm,
    /// The session that logged in.
    pub session: cryptoki::session::Session,
    /// The token's slot.
    pub slot: cryptoki::slot::Slot,
    /// The token's serial number.
    pub serial: String,
    /// The election key pair.
    pub key: TokenKey,
}

/// Rebuilds the user PIN from the shares, opens the ceremony's token and finds its key; refuses another token
/// (serial), a key outside the policy, or another key (fingerprint).
pub fn open_token(record: &CeremonyRecord, module: &Path, shares: &[PathBuf]) -> Result<OpenedToken, TallyError> {
    let pin = crate::custody::combine(&crate::custody::read_shares(shares)?, PinKind::User, &record.key_fingerprint)?;
    let hsm = Hsm::load(module)?;
    let (slot, serial) = hsm.find_token(&record.token_label)?;
    if serial != record.token_serial {
        return Err(TallyError::Hsm(format!(
            "token '{}' has serial {serial}, the ceremony's had {}",
            record.token_label, record.token_serial
        )));
    }
    let session = hsm.login(slot, &pin)?;
    drop(pin);
    let key = crate::hsm::find_election_key(&session, &record.key_label)?;
    check_key_policy(&session, key.private)?;
    if key.public.fingerprint() != record.key_fingerprint {
        return Err(TallyError::Hsm(format!(
            "the token's key has fingerprint {}, the ceremony's is {}",
            key.public.fingerprint(),
            record.key_fingerprint
        )));
    }
    Ok(OpenedToken { hsm, session, slot, serial, key })
}

/// The module name recorded by an insecure file-key ceremony.
pub const INSECURE_MODULE: &str = "INSECURE-FILE-KEY (local demo only, no HSM)";

/// INSECURE, for local demos only: generates the election key on the host and writes it to a PKCS#8 PEM file;
/// the record says so in its module field. Never for a real election (R-COUNT-2 requires an HSM).
pub fn run_insecure_file_key(params: &CeremonyParams, key_path: &Path) -> Result<CeremonyRecord, TallyError> {
    use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
    let bits = usize::try_from(crate::hsm::ELECTION_KEY_BITS).unwrap_or(3072);
    let key = rsa::PrivateKey::new(&mut rand_core::UnwrapErr(getrandom::SysRng), bits)
        .map_err(|e| TallyError::Random(format!("RSA key generation: {e}")))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| TallyError::Io(format!("encoding the key: {e}")))?;
    let der = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key.to_public_key())
        .map_err(|e| TallyError::Io(format!("encoding the public key: {e}")))?;
    let public = ElectionPublicKey::from_spki_der(der.as_bytes()).map_err(|e| TallyError::Io(e.to_string()))?;
    files::create_new(key_path, pem.as_bytes(), files::Access::Owner)?;
    let (record, _) = write_record(params, INSECURE_MODULE, "", &public, false)?;
    Ok(record)
}

/// Reads a signed ceremony record and checks its signature with the key it names; returns the record and the
/// signer's public key (to compare with the published one).
pub fn read_record(path: &Path) -> Result<(CeremonyRecord, String), TallyError> {
    let text = std::fs::read_to_string(path).map_err(|e| TallyError::Io(format!("reading {}: {e}", path.display())))?;
    let signed: Signed = serde_json::from_str(&text)
        .map_err(|e| TallyError::Ceremony(format!("{} is not a signed record: {e}", path.display())))?;
    if !signed.verify_by(&signed.public_key) {
        return Err(TallyError::Ceremony(format!("the signature of {} does not verify", path.display())));
    }
    let record: CeremonyRecord = serde_json::from_str(&signed.document)
        .map_err(|e| TallyError::Ceremony(format!("the signed record is malformed: {e}")))?;
    if record.format != CEREMONY_FORMAT {
        return Err(TallyError::Ceremony(format!("format {:?}, expected {CEREMONY_FORMAT:?}", record.format)));
    }
    let public = ElectionPublicKey::from_pem(&record.public_key_pem)
        .map_err(|e| TallyError::Ceremony(format!("the record's public key: {e}")))?;
    if public.fingerprint() != record.key_fingerprint {
        return Err(TallyError::Ceremony(format!(
            "the record's fingerprint {} is not its public key's ({})",
            record.key_fingerprint,
            public.fingerprint()
        )));
    }
    Ok((record, signed.public_key))
}
