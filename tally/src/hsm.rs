//! The election key in a PKCS#11 token (R-COUNT-2): generation at the ceremony, login with the rebuilt PIN, and
//! decryption inside the token on several sessions at once.
//!
//! Two decryption paths, chosen by asking the token once with a probe ciphertext:
//! - [`DecryptPath::TokenOaep`]: `CKM_RSA_PKCS_OAEP` with SHA-256, MGF1-SHA-256 and the contest's label.
//! - [`DecryptPath::RawRsaHostOaep`]: only when the token refuses the first path (SoftHSM2 offers OAEP with SHA-1
//!   only) and the operator allowed it: `CKM_RSA_X_509` in the token, then OAEP decoding on the host in constant
//!   time ([`crate::oaep`]). The key stays in the token either way; the raw RSA output of one ballot passes
//!   through host memory.
//!
//! A module is loaded and initialised once per process (PKCS#11 allows one `C_Initialize` per process).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use rsa::pkcs8::EncodePublicKey as _;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use shared::crypto::ElectionPublicKey;

use crate::error::TallyError;

/// The size of the election key generated at the ceremony.
pub const ELECTION_KEY_BITS: u64 = 3072;

fn hsm(what: &str, e: CkError) -> TallyError {
    TallyError::Hsm(format!("{what}: {e}"))
}

/// A loaded and initialised PKCS#11 module.
#[derive(Clone)]
pub struct Hsm {
    ctx: Pkcs11,
    name: String,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm").field("module", &self.name).finish_non_exhaustive()
    }
}

impl Hsm {
    /// Loads a module (once per process) and initialises it with OS locking.
    pub fn load(module: &Path) -> Result<Hsm, TallyError> {
        static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
        let key = module.canonicalize().unwrap_or_else(|_| module.to_path_buf());
        let mut contexts = CONTEXTS.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
        let name = module.display().to_string();
        if let Some(ctx) = contexts.get(&key) {
            return Ok(Hsm { ctx: ctx.clone(), name });
        }
        let ctx = Pkcs11::new(&key).map_err(|e| hsm(&format!("loading the PKCS#11 module {name}"), e))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(hsm(&format!("initialising {name}"), e)),
        }
        contexts.insert(key, ctx.clone());
        Ok(Hsm { ctx, name })
    }

    /// Wraps a context the caller loaded and initialised itself (modules that need initialisation arguments).
    pub fn from_context(ctx: Pkcs11, name: &str) -> Hsm {
        Hsm { ctx, name: name.to_string() }
    }

    /// Finds a token by its label (PKCS#11 pads labels with spaces); returns its slot and serial number.
    pub fn find_token(&self, label: &str) -> Result<(Slot, String), TallyError> {
        let slots = self.ctx.get_slots_with_token().map_err(|e| hsm("listing the slots", e))?;
        for slot in slots {
            let Ok(info) = self.ctx.get_token_info(slot) else { continue };
            if info.label().trim_end() == label.trim_end() {
                return Ok((slot, info.serial_number().trim().to_string()));
            }
        }
        Err(TallyError::Hsm(format!("no token labelled '{label}' in {}", self.name)))
    }

    /// Finds the slot whose description or token label is `name` (e.g. NSS's "NSS Generic Crypto Services").
    pub fn find_slot(&self, name: &str) -> Result<Slot, TallyError> {
        let slots = self.ctx.get_slots_with_token().map_err(|e| hsm("listing the slots", e))?;
        slots
            .into_iter()
            .find(|s| {
                self.ctx.get_slot_info(*s).is_ok_and(|i| i.slot_description().trim_end() == name)
                    || self.ctx.get_token_info(*s).is_ok_and(|i| i.label().trim_end() == name)
            })
            .ok_or_else(|| TallyError::Hsm(format!("no slot or token '{name}' in {}", self.name)))
    }

    /// Initialises the first uninitialised token with the SO PIN and label (refusing a label already in use), and
    /// sets the user PIN; returns the token's slot and serial number.
    pub fn init_token(&self, label: &str, so_pin: &str, user_pin: &str) -> Result<(Slot, String), TallyError> {
        if label.len() > 32 {
            return Err(TallyError::Hsm(format!("the token label '{label}' is longer than PKCS#11's 32 bytes")));
        }
        // Two tokens with one label would make the later lookups ambiguous.
        if let Ok((_, serial)) = self.find_token(label) {
            return Err(TallyError::Hsm(format!(
                "a token labelled '{label}' already exists (serial {serial}); choose another label"
            )));
        }
        let slots = self.ctx.get_slots_with_token().map_err(|e| hsm("listing the slots", e))?;
        let slot = slots
            .into_iter()
            .find(|s| self.ctx.get_token_info(*s).is_ok_and(|i| !i.token_initialized()))
            .ok_or_else(|| TallyError::Hsm(format!("no uninitialised token in {}", self.name)))?;
        let so_pin = SecretString::from(so_pin.to_string());
        self.ctx.init_token(slot, &so_pin, label).map_err(|e| hsm(&format!("initialising token '{label}'"), e))?;
        // SoftHSM2 moves a freshly initialised token to a new slot: look it up again by its label.
        let (slot, serial) = self.find_token(label)?;
        let session = self.ctx.open_rw_session(slot).map_err(|e| hsm("opening a session", e))?;
        session.login(UserType::So, Some(&so_pin)).map_err(|e| hsm("logging in as SO", e))?;
        session.init_pin(&SecretString::from(user_pin.to_string())).map_err(|e| hsm("setting the user PIN", e))?;
        session.logout().map_err(|e| hsm("logging out", e))?;
        Ok((slot, serial))
    }

    /// Opens a read-write session and logs in as the user; other sessions of this process share the login.
    pub fn login(&self, slot: Slot, pin: &str) -> Result<Session, TallyError> {
        let session = self.ctx.open_rw_session(slot).map_err(|e| hsm("opening a session", e))?;
        match session.login(UserType::User, Some(&SecretString::from(pin.to_string()))) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(hsm("the token refused the user PIN", e)),
        }
    }

    /// Opens a read-write session without logging in (for tokens without a user PIN, such as NSS's crypto slot).
    pub fn open_session(&self, slot: Slot) -> Result<Session, TallyError> {
        self.ctx.open_rw_session(slot).map_err(|e| hsm("opening a session", e))
    }
}

/// The election key pair generated in a token.
#[derive(Debug)]
pub struct TokenKey {
    /// The private key's handle (sensitive, not extractable, decrypt only).
    pub private: ObjectHandle,
    /// The public key, as voters' browsers use it.
    pub public: ElectionPublicKey,
}

/// Generates the RSA-3072 election key pair in the token: the private key sensitive, never extractable, allowed
/// to decrypt and nothing else; `on_token` false makes session keys (NSS softokn in tests). The caller checks
/// the token's view of the result with [`check_key_policy`].
pub fn generate_election_key(session: &Session, label: &str, on_token: bool) -> Result<TokenKey, TallyError> {
    let id = label.as_bytes().to_vec();
    let public_template = [
        Attribute::Token(on_token),
        Attribute::Private(false),
        Attribute::Encrypt(true),
        Attribute::Verify(false),
        Attribute::Wrap(false),
        Attribute::ModulusBits(ELECTION_KEY_BITS.into()),
        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        Attribute::Label(id.clone()),
        Attribute::Id(id.clone()),
    ];
    let private_template = [
        Attribute::Token(on_token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Decrypt(true),
        Attribute::Sign(false),
        Attribute::SignRecover(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Label(id.clone()),
        Attribute::Id(id),
    ];
    let (public, private) = session
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public_template, &private_template)
        .map_err(|e| hsm("generating the RSA-3072 key pair", e))?;
    let public = read_public_key(session, public)?;
    Ok(TokenKey { private, public })
}

fn read_public_key(session: &Session, handle: ObjectHandle) -> Result<ElectionPublicKey, TallyError> {
    let attrs = session
        .get_attributes(handle, &[AttributeType::Modulus, AttributeType::PublicExponent])
        .map_err(|e| hsm("reading the public key", e))?;
    let (mut n, mut e) = (None, None);
    for a in attrs {
        match a {
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            _ => {}
        }
    }
    let (Some(n), Some(e)) = (n, e) else {
        return Err(TallyError::Hsm("the token did not return the modulus and the exponent".into()));
    };
    let key = rsa::PublicKey::new(rsa::BoxedUint::from_be_slice_vartime(&n), rsa::BoxedUint::from_be_slice_vartime(&e))
        .map_err(|e| TallyError::Hsm(format!("the token's public key is not a valid RSA key: {e}")))?;
    let der = key.to_public_key_der().map_err(|e| TallyError::Hsm(format!("encoding the public key: {e}")))?;
    ElectionPublicKey::from_spki_der(der.as_bytes()).map_err(|e| TallyError::Hsm(e.to_string()))
}

/// Finds the election key pair by its label; returns the private key and the public key read from the token.
pub fn find_election_key(session: &Session, label: &str) -> Result<TokenKey, TallyError> {
    let find = |class: ObjectClass| {
        let template = [Attribute::Class(class), Attribute::KeyType(KeyType::RSA), Attribute::Label(label.into())];
        session.find_objects(&template).map_err(|e| hsm("searching for the election key", e))
    };
    let private = find(ObjectClass::PRIVATE_KEY)?;
    let public = find(ObjectClass::PUBLIC_KEY)?;
    match (private.as_slice(), public.as_slice()) {
        ([private], [public]) => Ok(TokenKey { private: *private, public: read_public_key(session, *public)? }),
        _ => Err(TallyError::Hsm(format!(
            "expected one election key pair labelled '{label}', found {} private and {} public keys (is the PIN \
             right and is this the ceremony's token?)",
            private.len(),
            public.len()
        ))),
    }
}

/// Every object the logged-in session sees, as `CLASS 'label'` (the counting zero check).
pub fn list_objects(session: &Session) -> Result<Vec<String>, TallyError> {
    let handles = session.find_objects(&[]).map_err(|e| hsm("listing the token's objects", e))?;
    let mut out = Vec::new();
    for h in handles {
        let attrs = session
            .get_attributes(h, &[AttributeType::Class, AttributeType::Label])
            .map_err(|e| hsm("reading an object's class and label", e))?;
        let (mut class, mut label) = (String::from("?"), String::new());
        for a in attrs {
            match a {
                Attribute::Class(c) => class = c.to_string(),
                Attribute::Label(l) => label = String::from_utf8_lossy(&l).into_owned(),
                _ => {}
            }
        }
        out.push(format!("{class} '{label}'"));
    }
    out.sort();
    Ok(out)
}

/// Checks the private key's policy in the token (R-COUNT-2): sensitive and never extractable now, and born in the
/// token and never otherwise (LOCAL, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE: a key made on a host and imported with
/// the right flags fails these); decrypt allowed, sign and unwrap not. The count refuses any other key.
pub fn check_key_policy(session: &Session, private: ObjectHandle) -> Result<(), TallyError> {
    const NOW: &str = "could leave the token";
    const BORN: &str = "was not born in the token, or left it once";
    const USE: &str = "may be used for something other than decrypting ballots";
    let wanted = [
        (AttributeType::Sensitive, true, NOW),
        (AttributeType::Extractable, false, NOW),
        (AttributeType::AlwaysSensitive, true, BORN),
        (AttributeType::NeverExtractable, true, BORN),
        (AttributeType::Local, true, BORN),
        (AttributeType::Decrypt, true, USE),
        (AttributeType::Sign, false, USE),
        (AttributeType::Unwrap, false, USE),
    ];
    let types: Vec<AttributeType> = wanted.iter().map(|(t, _, _)| *t).collect();
    let attrs = session.get_attributes(private, &types).map_err(|e| hsm("reading the key's attributes", e))?;
    for (t, want, why) in wanted {
        let got = attrs.iter().find_map(|a| match (t, a) {
            (AttributeType::Sensitive, Attribute::Sensitive(v))
            | (AttributeType::Extractable, Attribute::Extractable(v))
            | (AttributeType::Local, Attribute::Local(v))
            | (AttributeType::AlwaysSensitive, Attribute::AlwaysSensitive(v))
            | (AttributeType::NeverExtractable, Attribute::NeverExtractable(v))
            | (AttributeType::Decrypt, Attribute::Decrypt(v))
            | (AttributeType::Sign, Attribute::Sign(v))
            | (AttributeType::Unwrap, Attribute::Unwrap(v)) => Some(*v),
            _ => None,
        });
        if got != Some(want) {
            return Err(TallyError::Hsm(format!("the election key has {t} = {got:?}, expected {want}: it {why}")));
        }
    }
    Ok(())
}

/// Which decryption path ran (printed in the report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecryptPath {
    /// Path A: `CKM_RSA_PKCS_OAEP` (SHA-256, MGF1-SHA-256, label) inside the token.
    TokenOaep,
    /// Path B: `CKM_RSA_X_509` inside the token, OAEP decoding on the host in constant time.
    RawRsaHostOaep,
    /// INSECURE, local demos only: a private key read from a file, decrypted on the host; no HSM at all.
    InsecureFileKey,
}

impl std::fmt::Display for DecryptPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecryptPath::TokenOaep => "A: CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256, label) in the token",
            DecryptPath::RawRsaHostOaep => "B: CKM_RSA_X_509 in the token, OAEP (SHA-256, label) decoded on the host",
            DecryptPath::InsecureFileKey => {
                "INSECURE FILE KEY: decrypted on the host with a key from a file (demo only)"
            }
        })
    }
}

/// One ciphertext's outcome: the plaintext, or undecryptable (counted as invalid).
pub type Decrypted = Option<Vec<u8>>;

/// Where the private key is.
enum Backend {
    Token { hsm: Hsm, slot: Slot, key: ObjectHandle },
    InsecureFileKey(Box<rsa::PrivateKey>),
}

/// Decrypts ballots with the election key inside the token, on several sessions.
pub struct Decryptor {
    backend: Backend,
    path: DecryptPath,
    modulus_len: usize,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor").field("path", &self.path).finish_non_exhaustive()
    }
}

fn oaep_mechanism(label: &[u8]) -> Mechanism<'_> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::data_specified(label),
    ))
}

impl Decryptor {
    /// Chooses the path with a probe ciphertext: path A if the token decrypts it, else path B when allowed.
    pub fn select(
        hsm: &Hsm,
        session: &Session,
        slot: Slot,
        key: &TokenKey,
        allow_raw_rsa_with_host_oaep: bool,
    ) -> Result<Decryptor, TallyError> {
        let probe = [0x5au8; shared::ballot::BALLOT_LEN];
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let ct = shared::crypto::encrypt_ballot(&mut rng, &key.public, "probe", "probe", &probe)
            .map_err(|e| TallyError::Hsm(e.to_string()))?;
        let label = shared::crypto::oaep_label("probe", "probe");
        let mut d = Decryptor {
            backend: Backend::Token { hsm: hsm.clone(), slot, key: key.private },
            path: DecryptPath::TokenOaep,
            modulus_len: key.public.ciphertext_len(),
        };
        let refusal = match session.decrypt(&oaep_mechanism(&label), key.private, &ct) {
            Ok(p) if p == probe => return Ok(d),
            Ok(_) => "it returned a wrong plaintext".to_string(),
            Err(e) => e.to_string(),
        };
        if !allow_raw_rsa_with_host_oaep {
            return Err(TallyError::Hsm(format!(
                "the token refuses CKM_RSA_PKCS_OAEP with SHA-256 ({refusal}); to use raw RSA in the token with OAEP \
                 decoded on the host, pass --allow-raw-rsa-with-host-oaep"
            )));
        }
        d.path = DecryptPath::RawRsaHostOaep;
        match d.decrypt_with(Some(session), &label, &ct)? {
            Some(p) if p == probe => Ok(d),
            _ => Err(TallyError::Hsm(format!(
                "the token refuses OAEP-SHA-256 ({refusal}) and its raw RSA does not decrypt the probe either"
            ))),
        }
    }

    /// INSECURE, for local demos only: decrypts on the host with a private key read from a file (no HSM).
    pub fn insecure_file_key(key: rsa::PrivateKey) -> Decryptor {
        let modulus_len = rsa::traits::PublicKeyParts::size(&key);
        Decryptor { backend: Backend::InsecureFileKey(Box::new(key)), path: DecryptPath::InsecureFileKey, modulus_len }
    }

    /// Returns the path in use.
    pub fn path(&self) -> DecryptPath {
        self.path
    }

    /// Decrypts one ciphertext in the token; a ciphertext the key cannot open under the label is `None`, a token
    /// failure an error.
    pub fn decrypt_one(&self, session: &Session, label: &[u8], ct: &[u8]) -> Result<Decrypted, TallyError> {
        self.decrypt_with(Some(session), label, ct)
    }

    fn decrypt_with(&self, session: Option<&Session>, label: &[u8], ct: &[u8]) -> Result<Decrypted, TallyError> {
        if ct.len() != self.modulus_len {
            return Ok(None);
        }
        let (session, key) = match (&self.backend, session) {
            (Backend::InsecureFileKey(sk), _) => {
                let padding = rsa::Oaep::<sha2::Sha256>::new_with_label(label.to_vec());
                return Ok(sk.decrypt(padding, ct).ok());
            }
            (Backend::Token { key, .. }, Some(session)) => (session, *key),
            (Backend::Token { .. }, None) => return Err(TallyError::Hsm("no session to decrypt in".into())),
        };
        match self.path {
            DecryptPath::TokenOaep | DecryptPath::InsecureFileKey => {
                match session.decrypt(&oaep_mechanism(label), key, ct) {
                    Ok(p) => Ok(Some(p)),
                    Err(CkError::Pkcs11(RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange, _)) => Ok(None),
                    Err(e) => Err(hsm("decrypting in the token", e)),
                }
            }
            DecryptPath::RawRsaHostOaep => {
                let em = match session.decrypt(&Mechanism::RsaX509, key, ct) {
                    Ok(em) => zeroize::Zeroizing::new(em),
                    Err(CkError::Pkcs11(RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange, _)) => {
                        return Ok(None);
                    }
                    Err(e) => return Err(hsm("raw RSA in the token", e)),
                };
                Ok(crate::oaep::decode(&em, self.modulus_len, label).ok())
            }
        }
    }

    /// Decrypts `(label, ciphertext)` jobs on `threads` sessions, in order, ticking `progress` once per ballot.
    pub fn decrypt_all(
        &self,
        jobs: &[(Vec<u8>, Vec<u8>)],
        threads: usize,
        progress: &indicatif::ProgressBar,
    ) -> Result<Vec<Decrypted>, TallyError> {
        let threads = threads.max(1);
        let chunk = jobs.len().div_ceil(threads).max(1);
        let results: Vec<Result<Vec<Decrypted>, TallyError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let session = match &self.backend {
                            Backend::Token { hsm, slot, .. } => Some(hsm.open_session(*slot)?),
                            Backend::InsecureFileKey(_) => None,
                        };
                        let mut out = Vec::with_capacity(part.len());
                        for (label, ct) in part {
                            out.push(self.decrypt_with(session.as_ref(), label, ct)?);
                            progress.inc(1);
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(TallyError::Hsm("a decryption thread panicked".into()))))
                .collect()
        });
        let mut all = Vec::with_capacity(jobs.len());
        for r in results {
            all.extend(r?);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use rsa::pkcs8::DecodePrivateKey;

    use super::*;

    const ELECTION_KEY_INSECURE: &str = include_str!("../../shared/tests/data/INSECURE-test-election-key.pem");

    #[test]
    fn decrypt_all_keeps_the_jobs_order_on_any_number_of_sessions() {
        let sk = rsa::PrivateKey::from_pkcs8_pem(ELECTION_KEY_INSECURE).unwrap();
        let public =
            ElectionPublicKey::from_spki_der(sk.to_public_key().to_public_key_der().unwrap().as_bytes()).unwrap();
        let d = Decryptor::insecure_file_key(sk);
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        // Not a multiple of any of the session counts; every fifth one undecryptable.
        let jobs: Vec<(Vec<u8>, Vec<u8>)> = (0..53)
            .map(|i| {
                let ballot = [u8::try_from(i).unwrap(); shared::ballot::BALLOT_LEN];
                let ct = shared::crypto::encrypt_ballot(&mut rng, &public, "e", "c", &ballot).unwrap();
                let label = if i % 5 == 0 { "wrong" } else { "c" };
                (shared::crypto::oaep_label("e", label), ct)
            })
            .collect();
        for threads in [1, 2, 3, 8] {
            let out = d.decrypt_all(&jobs, threads, &indicatif::ProgressBar::hidden()).unwrap();
            assert_eq!(out.len(), jobs.len());
            for (i, p) in out.iter().enumerate() {
                let want = (i % 5 != 0).then(|| vec![u8::try_from(i).unwrap(); shared::ballot::BALLOT_LEN]);
                assert_eq!(p, &want, "job {i} on {threads} sessions");
            }
        }
    }
}
