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
//!
//! Here: the configuration and the card ([`Pkcs11Card`]); `tries.rs`: the helper's try counters file; `token.rs`:
//! finding tokens, keys and certificates in a module; `provision.rs`: [`provision_token_pair`] for tests and labs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::backend::{CardBackend, CardError, CardStatus, Signed, Tries, digest_info};
use crate::pin::{KeyKind, Pin};

mod provision;
mod token;
mod tries;

pub use provision::provision_token_pair;
use token::{find_certificate, module_context, object_id, token_label_matches, token_tries};
use tries::{KeyState, State, read_state, write_state};

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
