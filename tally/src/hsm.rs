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
//!
//! Map: the module and its tokens (load, find, initialise, log in) are here; `key`: the election key pair in the
//! token (generated, found, its policy checked) and the token's objects; `decrypt`: the decryption paths on
//! several sessions.

mod decrypt;
mod key;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::SecretString;

use crate::error::TallyError;

pub use decrypt::{DecryptPath, Decrypted, Decryptor};
pub use key::{ELECTION_KEY_BITS, TokenKey, check_key_policy, find_election_key, generate_election_key, list_objects};

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
