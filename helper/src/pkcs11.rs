//! The card through any PKCS#11 module: OpenSC's JPKI driver for the real My Number card, SoftHSM2 in tests and
//! labs.
//!
//! The card has two keys, each behind its own PIN; OpenSC's JPKI driver exposes them as two tokens (slots), one
//! per PIN ("JPKI (User Authentication PIN)" and "JPKI (Digital Signature PIN)"), and this backend expects the same
//! layout from any module: one token per PIN, found by its label.
//!
//! Tries: the helper keeps its own persistent try counter per card and key (a JSON state file written atomically),
//! because SoftHSM2 never locks a PIN by itself; with a real card the card's own counter applies as well, and the
//! tries reported are the lower of the two. A try is taken from the helper's counter *before* the PIN goes to the
//! token and given back only when the token did not judge the PIN, so a crash or a kill during the check can never
//! yield a free try (a smart card decrements its counter before comparing, too).
//!
//! PINs go straight from [`Pin::secret`] into `C_Login`; they are never logged, formatted or stored.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use anyhow::{Context as _, anyhow, bail, ensure};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use rsa::pkcs1::RsaPrivateKeyRef;
use rsa::pkcs8::PrivateKeyInfoRef;
use rsa::pkcs8::der::Decode as _;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::backend::{CardBackend, CardError, CardStatus, Signed, Tries, digest_info};
use crate::pin::{KeyKind, Pin};

/// Where the keys are: one token per PIN, as OpenSC's JPKI driver exposes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library) to load.
    pub module: PathBuf,
    /// The label of the token that holds the user-authentication key and its PIN.
    pub auth_token_label: String,
    /// The label of the token that holds the digital-signature key and its password.
    pub sign_token_label: String,
    /// The label of the authentication private key and of its certificate object.
    pub auth_key_label: String,
    /// The label of the signing private key and of its certificate object.
    pub sign_key_label: String,
    /// The helper's own persistent try counters (JSON), keyed by card and key.
    pub state_file: PathBuf,
}

impl Pkcs11Config {
    /// Returns the layout OpenSC's JPKI driver gives a My Number card, with the given module and state file.
    ///
    /// OpenSC labels the keys "User Authentication Key" and "Digital Signature Key" but their certificates
    /// "… Certificate"; when no certificate carries the key's label, the backend takes the certificate with the
    /// key's `CKA_ID`, or else the token's only end-entity certificate.
    pub fn opensc_jpki(module: PathBuf, state_file: PathBuf) -> Pkcs11Config {
        Pkcs11Config {
            module,
            auth_token_label: "JPKI (User Authentication PIN)".to_string(),
            sign_token_label: "JPKI (Digital Signature PIN)".to_string(),
            auth_key_label: "User Authentication Key".to_string(),
            sign_key_label: "Digital Signature Key".to_string(),
            state_file,
        }
    }

    fn token_label(&self, kind: KeyKind) -> &str {
        match kind {
            KeyKind::Auth => &self.auth_token_label,
            KeyKind::Sign => &self.sign_token_label,
        }
    }

    fn key_label(&self, kind: KeyKind) -> &str {
        match kind {
            KeyKind::Auth => &self.auth_key_label,
            KeyKind::Sign => &self.sign_key_label,
        }
    }
}

/// The card behind a PKCS#11 module, with the helper's own persistent try counters.
pub struct Pkcs11Card {
    ctx: Pkcs11,
    config: Pkcs11Config,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Pkcs11Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Card").field("config", &self.config).finish_non_exhaustive()
    }
}

/// What the mutex guards: the persistent counters and what this helper learnt in its lifetime. Holding it also
/// serialises every use of the card, so two PIN entries can never race one counter.
struct Inner {
    state: State,
    /// Signing certificates read after a correct signing password in this helper's lifetime, by state key. Kept
    /// in memory only: the signing certificate carries the holder's name, address and birth date, which is why
    /// the card guards it with the password.
    sign_certs: HashMap<String, Vec<u8>>,
}

/// The state file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Format version.
    version: u32,
    /// By `<card id>/<auth|sign>`; a missing entry means all tries are left.
    #[serde(default)]
    keys: BTreeMap<String, KeyState>,
}

const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct KeyState {
    kind: KeyKind,
    tries_left: u8,
    /// For the signing key: its password has been given correctly at least once, so the signing certificate may
    /// be shown.
    #[serde(default)]
    sign_unlocked_once: bool,
}

impl KeyState {
    fn fresh(kind: KeyKind) -> KeyState {
        KeyState { kind, tries_left: kind.max_tries(), sign_unlocked_once: false }
    }
}

/// A token found by its label.
struct FoundToken {
    slot: Slot,
    info: TokenInfo,
    slot_description: String,
}

impl Pkcs11Card {
    /// Loads the module (once per process), initialises it if need be and reads the state file; the card itself
    /// need not be in the reader yet.
    pub fn open(config: Pkcs11Config) -> Result<Pkcs11Card, CardError> {
        let ctx = module_context(&config.module).map_err(|e| {
            CardError::Backend(format!("cannot load the PKCS#11 module {}: {e}", config.module.display()))
        })?;
        let state = read_state(&config.state_file).map_err(|e| CardError::Backend(format!("{e:#}")))?;
        Ok(Pkcs11Card { ctx, config, inner: Mutex::new(Inner { state, sign_certs: HashMap::new() }) })
    }

    /// Returns the configuration this card was opened with.
    pub fn config(&self) -> &Pkcs11Config {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn backend(&self, what: &str, e: CkError) -> CardError {
        CardError::Backend(format!("PKCS#11 module {}: {what}: {e}", self.config.module.display()))
    }

    fn no_card(&self, kind: KeyKind) -> CardError {
        CardError::NoCard(format!(
            "PKCS#11 token '{}' not found in {}; is the card in the reader?",
            self.config.token_label(kind),
            self.config.module.display()
        ))
    }

    fn find_token(&self, label: &str) -> Result<Option<FoundToken>, CardError> {
        let slots = self.ctx.get_slots_with_token().map_err(|e| self.backend("listing the slots", e))?;
        for slot in slots {
            // A token can vanish between the listing and this call: skip it, as if it had not been listed.
            let Ok(info) = self.ctx.get_token_info(slot) else { continue };
            if token_label_matches(info.label(), label) {
                let slot_description =
                    self.ctx.get_slot_info(slot).map(|s| s.slot_description().trim().to_string()).unwrap_or_default();
                return Ok(Some(FoundToken { slot, info, slot_description }));
            }
        }
        Ok(None)
    }

    /// Reads the authentication certificate without logging in (it is public on the card).
    fn read_auth_certificate(&self, token: &FoundToken) -> Result<Option<Vec<u8>>, CardError> {
        let session = self.ctx.open_ro_session(token.slot).map_err(|e| self.backend("opening a session", e))?;
        find_certificate(&session, &self.config.auth_key_label, None)
            .map_err(|e| self.backend("reading the authentication certificate", e))
    }

    /// Returns the state key of a key of the card: the token's serial number, then (OpenSC gives every JPKI
    /// card the same dummy serial) a fingerprint of the card's authentication certificate when it can be read.
    fn state_key(&self, kind: KeyKind, token: &FoundToken, auth_cert: Option<&[u8]>) -> String {
        let serial = token.info.serial_number().trim();
        let kind = match kind {
            KeyKind::Auth => "auth",
            KeyKind::Sign => "sign",
        };
        match auth_cert {
            Some(der) => format!("{serial}#{}/{kind}", &hex::encode(Sha256::digest(der))[..16]),
            None => format!("{serial}/{kind}"),
        }
    }

    /// The auth certificate that identifies the card in the state file, for the key `kind` in `token`.
    fn identity_cert(&self, kind: KeyKind, token: &FoundToken) -> Result<Option<Vec<u8>>, CardError> {
        match kind {
            KeyKind::Auth => self.read_auth_certificate(token),
            KeyKind::Sign => match self.find_token(&self.config.auth_token_label)? {
                Some(auth) => self.read_auth_certificate(&auth),
                None => Ok(None),
            },
        }
    }

    fn tries(&self, inner: &Inner, kind: KeyKind, key: Option<&str>, token: Option<&FoundToken>) -> Tries {
        let ours = key.and_then(|k| inner.state.keys.get(k)).map_or(kind.max_tries(), |s| s.tries_left);
        let theirs = token.map_or(kind.max_tries(), |t| token_tries(&t.info, kind));
        Tries { left: ours.min(theirs), max: kind.max_tries() }
    }

    /// Writes one counter through to the state file.
    fn set_key_state(&self, inner: &mut Inner, key: &str, value: KeyState) -> Result<(), CardError> {
        let previous = inner.state.keys.insert(key.to_string(), value);
        if let Err(e) = write_state(&self.config.state_file, &inner.state) {
            match previous {
                Some(p) => inner.state.keys.insert(key.to_string(), p),
                None => inner.state.keys.remove(key),
            };
            return Err(CardError::Backend(format!("{e:#}")));
        }
        Ok(())
    }

    /// The part of `sign` after a successful login.
    fn sign_logged_in(
        &self,
        session: &Session,
        kind: KeyKind,
        digest: &[u8; 32],
    ) -> Result<(Vec<u8>, Vec<u8>), CardError> {
        let label = self.config.key_label(kind);
        let keys = session
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(label.as_bytes().to_vec())])
            .map_err(|e| self.backend("looking for the private key", e))?;
        let Some(&key) = keys.first() else {
            return Err(CardError::Backend(format!(
                "no private key labelled '{label}' in token '{}'",
                self.config.token_label(kind)
            )));
        };
        let key_id = object_id(session, key).map_err(|e| self.backend("reading the private key's id", e))?;
        let certificate = find_certificate(session, label, key_id.as_deref())
            .map_err(|e| self.backend("reading the certificate", e))?
            .ok_or_else(|| {
                CardError::Certificate(format!(
                    "no certificate for key '{label}' in token '{}'",
                    self.config.token_label(kind)
                ))
            })?;
        let signature =
            session.sign(&Mechanism::RsaPkcs, key, &digest_info(digest)).map_err(|e| self.backend("signing", e))?;
        Ok((signature, certificate))
    }
}

impl CardBackend for Pkcs11Card {
    fn status(&self) -> Result<CardStatus, CardError> {
        let inner = self.lock();
        let auth = self.find_token(&self.config.auth_token_label)?;
        let sign = self.find_token(&self.config.sign_token_label)?;
        let reader = [&auth, &sign]
            .iter()
            .filter_map(|t| t.as_ref())
            .map(|t| {
                if t.slot_description.is_empty() {
                    t.info.label().trim().to_string()
                } else {
                    format!("{} / {}", t.slot_description, t.info.label().trim())
                }
            })
            .collect::<Vec<_>>();
        let reader = if reader.is_empty() {
            format!("{} (no token found)", self.config.module.display())
        } else {
            reader.join("; ")
        };
        let auth_certificate = match &auth {
            Some(t) => self.read_auth_certificate(t)?,
            None => None,
        };
        let auth_key = auth.as_ref().map(|t| self.state_key(KeyKind::Auth, t, auth_certificate.as_deref()));
        let sign_key = sign.as_ref().map(|t| self.state_key(KeyKind::Sign, t, auth_certificate.as_deref()));
        let signing_certificate = match (&sign, &sign_key) {
            (Some(token), Some(key)) if inner.state.keys.get(key).is_some_and(|s| s.sign_unlocked_once) => {
                match inner.sign_certs.get(key) {
                    Some(cert) => Some(cert.clone()),
                    None => {
                        // After a restart: readable without login on a soft token, not on the real card.
                        let session =
                            self.ctx.open_ro_session(token.slot).map_err(|e| self.backend("opening a session", e))?;
                        find_certificate(&session, &self.config.sign_key_label, None)
                            .map_err(|e| self.backend("reading the signing certificate", e))?
                    }
                }
            }
            _ => None,
        };
        Ok(CardStatus {
            backend: "pkcs11",
            reader,
            card_present: auth.is_some() && sign.is_some(),
            auth_certificate,
            signing_certificate,
            auth_tries: self.tries(&inner, KeyKind::Auth, auth_key.as_deref(), auth.as_ref()),
            sign_tries: self.tries(&inner, KeyKind::Sign, sign_key.as_deref(), sign.as_ref()),
        })
    }

    fn sign(&self, pin: &Pin, digest: &[u8; 32]) -> Result<Signed, CardError> {
        let kind = pin.kind();
        let mut inner = self.lock();
        let token = self.find_token(self.config.token_label(kind))?.ok_or_else(|| self.no_card(kind))?;
        let identity = self.identity_cert(kind, &token)?;
        let key = self.state_key(kind, &token, identity.as_deref());
        let before = inner.state.keys.get(&key).copied().unwrap_or_else(|| KeyState::fresh(kind));
        if before.tries_left == 0 || token.info.user_pin_locked() {
            return Err(CardError::Locked(kind));
        }

        let session = self.ctx.open_ro_session(token.slot).map_err(|e| self.backend("opening a session", e))?;
        // Take the try first (see the module documentation), then let the token judge the PIN.
        let taken = KeyState { tries_left: before.tries_left - 1, ..before };
        self.set_key_state(&mut inner, &key, taken)?;
        let mut login = session.login(UserType::User, Some(pin.secret()));
        if matches!(login, Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _))) {
            // Left logged in by an earlier failure: PKCS#11 login state is per token and application.
            let _ = session.logout();
            login = session.login(UserType::User, Some(pin.secret()));
        }
        match login {
            Ok(()) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(if taken.tries_left == 0 {
                    CardError::Locked(kind)
                } else {
                    CardError::WrongPin { kind, tries_left: taken.tries_left }
                });
            }
            Err(e) => {
                // The token did not judge the PIN: give the try back.
                if let Err(restore) = self.set_key_state(&mut inner, &key, before) {
                    tracing::warn!(error = %restore, "could not give back a try after a failed login");
                }
                return Err(match e {
                    CkError::Pkcs11(RvError::PinLocked, _) => CardError::Locked(kind),
                    CkError::Pkcs11(
                        RvError::TokenNotPresent | RvError::DeviceRemoved | RvError::SessionHandleInvalid,
                        _,
                    ) => self.no_card(kind),
                    e => self.backend("logging in", e),
                });
            }
        }

        // The PIN was right: all tries are back, and for the signing key its certificate may be shown from now on.
        let reset = KeyState {
            tries_left: kind.max_tries(),
            sign_unlocked_once: before.sign_unlocked_once || kind == KeyKind::Sign,
            ..before
        };
        if let Err(e) = self.set_key_state(&mut inner, &key, reset) {
            // Keep the reset in memory so this helper does not lock a right PIN; the file catches up next time.
            inner.state.keys.insert(key.clone(), reset);
            tracing::warn!(error = %e, "could not save the reset try counter");
        }
        let result = self.sign_logged_in(&session, kind, digest);
        if let Err(e) = session.logout() {
            tracing::warn!(error = %e, "PKCS#11 logout failed");
        }
        drop(session);
        let (signature, certificate) = result?;
        if kind == KeyKind::Sign {
            inner.sign_certs.insert(key, certificate.clone());
        }
        Ok(Signed { signature, certificate })
    }
}

/// Tries left as the token's flags tell them (PKCS#11 gives no number: only "low", "final try" and "locked").
fn token_tries(info: &TokenInfo, kind: KeyKind) -> u8 {
    if info.user_pin_locked() {
        0
    } else if info.user_pin_final_try() {
        1
    } else {
        kind.max_tries()
    }
}

/// Compares a token's label (32 bytes, blank padded) with a configured one, which may be longer.
fn token_label_matches(token: &str, wanted: &str) -> bool {
    let mut end = wanted.len().min(32);
    while !wanted.is_char_boundary(end) {
        end -= 1;
    }
    token.trim_end() == wanted[..end].trim_end()
}

fn object_id(session: &Session, object: ObjectHandle) -> Result<Option<Vec<u8>>, CkError> {
    Ok(session.get_attributes(object, &[AttributeType::Id])?.into_iter().find_map(|a| match a {
        Attribute::Id(id) if !id.is_empty() => Some(id),
        _ => None,
    }))
}

fn certificate_value(session: &Session, object: ObjectHandle) -> Result<Option<Vec<u8>>, CkError> {
    Ok(session.get_attributes(object, &[AttributeType::Value])?.into_iter().find_map(|a| match a {
        Attribute::Value(v) if !v.is_empty() => Some(v),
        _ => None,
    }))
}

/// Finds a key's certificate: by the key's label, else by the key's `CKA_ID`, else the token's only end-entity
/// certificate (OpenSC's JPKI token also holds the CA certificates).
fn find_certificate(session: &Session, label: &str, key_id: Option<&[u8]>) -> Result<Option<Vec<u8>>, CkError> {
    let class = Attribute::Class(ObjectClass::CERTIFICATE);
    let by_label = session.find_objects(&[class.clone(), Attribute::Label(label.as_bytes().to_vec())])?;
    if let Some(&h) = by_label.first() {
        return certificate_value(session, h);
    }
    if let Some(id) = key_id {
        let by_id = session.find_objects(&[class.clone(), Attribute::Id(id.to_vec())])?;
        if let Some(&h) = by_id.first() {
            return certificate_value(session, h);
        }
    }
    let mut end_entity = Vec::new();
    for h in session.find_objects(&[class])? {
        if let Some(der) = certificate_value(session, h)?
            && x509_parser::parse_x509_certificate(&der).is_ok_and(|(_, c)| !c.is_ca())
        {
            end_entity.push(der);
        }
    }
    Ok(if end_entity.len() == 1 { end_entity.pop() } else { None })
}

/// Returns the process's context for a module, loading and initialising it on first use. A module can be
/// initialised once per process (and SoftHSM2 reads its configuration then), so every card and every
/// provisioning in the process shares one context per module; it is never finalised.
fn module_context(module: &Path) -> Result<Pkcs11, CkError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let key = module.canonicalize().unwrap_or_else(|_| module.to_path_buf());
    let mut contexts = CONTEXTS.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(ctx) = contexts.get(&key) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(&key)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(e),
    }
    contexts.insert(key, ctx.clone());
    Ok(ctx)
}

fn read_state(path: &Path) -> anyhow::Result<State> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(State { version: STATE_VERSION, keys: BTreeMap::new() });
        }
        Err(e) => return Err(e).with_context(|| format!("reading the PIN try counters {}", path.display())),
    };
    // A damaged file is an error, not a fresh start: starting afresh would hand out new tries.
    let state: State = serde_json::from_slice(&bytes)
        .with_context(|| format!("the PIN try counters {} are damaged; fix or remove the file", path.display()))?;
    ensure!(
        state.version == STATE_VERSION,
        "the PIN try counters {} have version {}, this helper reads version {STATE_VERSION}",
        path.display(),
        state.version
    );
    Ok(state)
}

/// Writes the state file atomically: a temporary file in the same directory, flushed to disk, then renamed.
fn write_state(path: &Path, state: &State) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().ok_or_else(|| anyhow!("the state file {} has no file name", path.display()))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let json = serde_json::to_vec_pretty(state)?;
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("saving the PIN try counters {}", path.display()))
    })
}

/// Test and lab provisioning of a SoftHSM2-style token pair (also usable with any PKCS#11 module that allows
/// `C_InitToken`).
///
/// Initialises two tokens (`auth_token_label` with user PIN = the auth PIN, `sign_token_label` with user PIN = the
/// signing password, both with the given SO PIN; a token that already has the label is re-initialised, otherwise
/// the first uninitialised one is used), imports each RSA private key from PKCS#8 DER (all CRT components,
/// sensitive, not extractable, signing only) and its X.509 certificate (public) under the configured key label
/// with the same `CKA_ID`, and forgets the helper's try counters for the provisioned tokens.
pub fn provision_token_pair(
    module: &Path,
    so_pin: &str,
    config: &Pkcs11Config,
    auth: (&[u8], &[u8], &str),
    sign: (&[u8], &[u8], &str),
) -> anyhow::Result<()> {
    let ctx = module_context(module).with_context(|| format!("loading the PKCS#11 module {}", module.display()))?;
    let so_pin = SecretString::from(so_pin.to_string());
    let mut serials = Vec::new();
    for (kind, id, (pkcs8, cert, pin)) in [(KeyKind::Auth, 1u8, auth), (KeyKind::Sign, 2u8, sign)] {
        let token_label = config.token_label(kind);
        let key_label = config.key_label(kind);
        ensure!(token_label.len() <= 32, "the token label '{token_label}' is longer than PKCS#11's 32 bytes");
        let key = private_key_template(pkcs8, cert, key_label, id)
            .with_context(|| format!("the {kind:?} key and certificate"))?;
        let certificate = certificate_template(cert, key_label, id)?;

        let slot = slot_for_provisioning(&ctx, token_label)?;
        ctx.init_token(slot, &so_pin, token_label)
            .with_context(|| format!("initialising token '{token_label}' (is the SO PIN right?)"))?;
        // SoftHSM2 moves a freshly initialised token to a new slot id: look it up again by its label.
        let slot = ctx
            .get_slots_with_initialized_token()?
            .into_iter()
            .find(|&s| ctx.get_token_info(s).is_ok_and(|i| token_label_matches(i.label(), token_label)))
            .ok_or_else(|| anyhow!("token '{token_label}' not found after initialising it"))?;
        let user_pin = SecretString::from(pin.to_string());
        let session = ctx.open_rw_session(slot)?;
        session.login(UserType::So, Some(&so_pin)).context("logging in as SO")?;
        session.init_pin(&user_pin).context("setting the user PIN")?;
        session.logout()?;
        session.login(UserType::User, Some(&user_pin)).context("logging in with the new user PIN")?;
        session.create_object(&key).with_context(|| format!("importing the {kind:?} private key"))?;
        session.create_object(&certificate).with_context(|| format!("importing the {kind:?} certificate"))?;
        session.logout()?;
        serials.push(ctx.get_token_info(slot)?.serial_number().trim().to_string());
    }

    let mut state = read_state(&config.state_file)?;
    let before = state.keys.len();
    let provisioned =
        |key: &str| serials.iter().any(|s| key.strip_prefix(s.as_str()).is_some_and(|r| r.starts_with(['#', '/'])));
    state.keys.retain(|k, _| !provisioned(k));
    if state.keys.len() != before {
        write_state(&config.state_file, &state)?;
    }
    Ok(())
}

fn slot_for_provisioning(ctx: &Pkcs11, label: &str) -> anyhow::Result<Slot> {
    let mut free = None;
    for slot in ctx.get_slots_with_token()? {
        let info = ctx.get_token_info(slot)?;
        if info.token_initialized() && token_label_matches(info.label(), label) {
            return Ok(slot);
        }
        if !info.token_initialized() && free.is_none() {
            free = Some(slot);
        }
    }
    free.ok_or_else(|| anyhow!("no token labelled '{label}' and no uninitialised token to provision"))
}

/// Strips the leading zero bytes of a big-endian unsigned integer (PKCS#11 big integers carry none).
fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].to_vec()
}

fn private_key_template(pkcs8: &[u8], cert: &[u8], label: &str, id: u8) -> anyhow::Result<Vec<Attribute>> {
    let info = PrivateKeyInfoRef::from_der(pkcs8).map_err(|e| anyhow!("the private key is not PKCS#8 DER: {e}"))?;
    ensure!(info.algorithm.oid == rsa::pkcs1::ALGORITHM_OID, "the private key is not an RSA key");
    let key = RsaPrivateKeyRef::from_der(info.private_key.as_bytes())
        .map_err(|e| anyhow!("the RSA private key is malformed: {e}"))?;
    if key.other_prime_infos.is_some() {
        bail!("multi-prime RSA keys are not supported");
    }
    let (_, parsed) =
        x509_parser::parse_x509_certificate(cert).map_err(|e| anyhow!("the certificate is not X.509 DER: {e}"))?;
    let cert_modulus = match parsed.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(k)) => unsigned(k.modulus),
        _ => bail!("the certificate's public key is not RSA"),
    };
    ensure!(cert_modulus == unsigned(key.modulus.as_bytes()), "the certificate does not belong to the private key");
    Ok(vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(vec![id]),
        Attribute::Modulus(unsigned(key.modulus.as_bytes())),
        Attribute::PublicExponent(unsigned(key.public_exponent.as_bytes())),
        Attribute::PrivateExponent(unsigned(key.private_exponent.as_bytes())),
        Attribute::Prime1(unsigned(key.prime1.as_bytes())),
        Attribute::Prime2(unsigned(key.prime2.as_bytes())),
        Attribute::Exponent1(unsigned(key.exponent1.as_bytes())),
        Attribute::Exponent2(unsigned(key.exponent2.as_bytes())),
        Attribute::Coefficient(unsigned(key.coefficient.as_bytes())),
    ])
}

fn certificate_template(cert: &[u8], label: &str, id: u8) -> anyhow::Result<Vec<Attribute>> {
    let (_, parsed) =
        x509_parser::parse_x509_certificate(cert).map_err(|e| anyhow!("the certificate is not X.509 DER: {e}"))?;
    Ok(vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(vec![id]),
        Attribute::Subject(parsed.subject().as_raw().to_vec()),
        Attribute::Issuer(parsed.issuer().as_raw().to_vec()),
        Attribute::Value(cert.to_vec()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_compare_blank_padded_and_truncated() {
        assert!(token_label_matches("voter-auth", "voter-auth"));
        assert!(token_label_matches("voter-auth", "voter-auth  "));
        assert!(!token_label_matches("voter-auth", "voter-sign"));
        let long = "JPKI (User Authentication PIN) and more";
        assert!(token_label_matches(&long[..32], long));
    }

    #[test]
    fn unsigned_strips_leading_zeros() {
        assert_eq!(unsigned(&[0, 0, 1, 2]), vec![1, 2]);
        assert_eq!(unsigned(&[0x80]), vec![0x80]);
        assert_eq!(unsigned(&[0, 0]), vec![0]);
    }

    #[test]
    fn state_round_trips_and_a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("state.json");
        let mut state = read_state(&path).unwrap();
        assert!(state.keys.is_empty());
        state
            .keys
            .insert("S#ab/sign".into(), KeyState { kind: KeyKind::Sign, tries_left: 2, sign_unlocked_once: true });
        write_state(&path, &state).unwrap();
        let again = read_state(&path).unwrap();
        let k = again.keys["S#ab/sign"];
        assert_eq!((k.kind, k.tries_left, k.sign_unlocked_once), (KeyKind::Sign, 2, true));
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(read_state(&path).is_err());
    }
}
