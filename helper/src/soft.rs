//! The soft card: a software card file for demos, tests and UX labs, with the real card's rules.
//!
//! The file (JSON) holds both certificates, both private keys as PKCS#8 `EncryptedPrivateKeyInfo` (PBES2 with
//! scrypt and AES-256-CBC, the key derived from the key's PIN, so the PIN really protects it and `openssl pkcs8`
//! can read it), and the try counters. A wrong PIN is detected by the failed decryption and costs a try; the
//! counters are written to disk (atomically) before the answer, so a restart does not give tries back.
//!
//! It is not a security device: whoever copies the file can guess a 4-digit PIN offline. A real voter uses the
//! My Number card through [`crate::pkcs11`], whose chip enforces the tries.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs8::{DecodePrivateKey, PrivateKeyInfoRef};
use rsa::{Pkcs1v15Sign, PrivateKey};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::backend::{CardBackend, CardError, CardStatus, Signed, Tries};
use crate::pin::{KeyKind, Pin};

/// The format tag written in every soft card file.
pub const FORMAT: &str = "jp-ivote-soft-card/1";

/// One key slot of the file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySlot {
    /// The certificate, DER in base64.
    pub certificate: String,
    /// The private key, PKCS#8 EncryptedPrivateKeyInfo DER in base64, encrypted under the PIN.
    pub encrypted_key: String,
    /// Tries left; 0 means locked.
    pub tries_left: u8,
}

/// The soft card file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftCardFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// A name for people (e.g. the demo voter's name).
    pub label: String,
    /// The user-authentication key.
    pub auth: KeySlot,
    /// The digital-signature key.
    pub sign: KeySlot,
    /// Whether the signing password has been given correctly once (the signing certificate is readable after).
    #[serde(default)]
    pub sign_unlocked_once: bool,
    /// A face-authentication card (顔認証マイナンバーカード): no PINs, so no online use.
    #[serde(default)]
    pub face_auth_only: bool,
}

impl SoftCardFile {
    /// Builds a card file from PKCS#8 keys (DER) and certificates (DER), encrypting each key under its PIN.
    pub fn create(label: &str, auth: (&[u8], &[u8], &Pin), sign: (&[u8], &[u8], &Pin)) -> anyhow::Result<SoftCardFile> {
        let slot = |(key, cert, pin): (&[u8], &[u8], &Pin)| -> anyhow::Result<KeySlot> {
            PrivateKey::from_pkcs8_der(key).map_err(|e| anyhow::anyhow!("not a PKCS#8 RSA key: {e}"))?;
            let info = PrivateKeyInfoRef::try_from(key).map_err(|e| anyhow::anyhow!("not a PKCS#8 key: {e}"))?;
            let enc = info
                .encrypt_with_rng(&mut getrandom::SysRng, pin.secret().expose_secret().as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot encrypt the key: {e}"))?;
            Ok(KeySlot {
                certificate: B64.encode(cert),
                encrypted_key: B64.encode(enc.as_bytes()),
                tries_left: pin.kind().max_tries(),
            })
        };
        anyhow::ensure!(auth.2.kind() == KeyKind::Auth && sign.2.kind() == KeyKind::Sign, "PINs of the wrong kind");
        Ok(SoftCardFile {
            format: FORMAT.into(),
            label: label.into(),
            auth: slot(auth)?,
            sign: slot(sign)?,
            sign_unlocked_once: false,
            face_auth_only: false,
        })
    }

    /// Writes the file atomically (temporary file, fsync, rename), readable by its owner only.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Reads and checks a card file.
    pub fn load(path: &Path) -> anyhow::Result<SoftCardFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the soft card {}: {e}", path.display()))?;
        let file: SoftCardFile = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a soft card file: {e}", path.display()))?;
        anyhow::ensure!(file.format == FORMAT, "{} has format {:?}, expected {FORMAT}", path.display(), file.format);
        Ok(file)
    }

    fn slot_mut(&mut self, kind: KeyKind) -> &mut KeySlot {
        match kind {
            KeyKind::Auth => &mut self.auth,
            KeyKind::Sign => &mut self.sign,
        }
    }
}

/// A soft card in use: the file is re-read for every operation and written after every try.
pub struct SoftCard {
    path: PathBuf,
    lock: Mutex<()>,
}

impl SoftCard {
    /// Opens a card file, checking that it can be read.
    pub fn open(path: &Path) -> anyhow::Result<SoftCard> {
        SoftCardFile::load(path)?;
        Ok(SoftCard { path: path.to_path_buf(), lock: Mutex::new(()) })
    }

    fn load(&self) -> Result<SoftCardFile, CardError> {
        SoftCardFile::load(&self.path).map_err(|e| CardError::NoCard(e.to_string()))
    }
}

fn der(b64: &str) -> Result<Vec<u8>, CardError> {
    B64.decode(b64).map_err(|e| CardError::Certificate(format!("bad base64 in the card file: {e}")))
}

impl CardBackend for SoftCard {
    fn status(&self) -> Result<CardStatus, CardError> {
        let _guard = self.lock.lock().map_err(|_| CardError::Backend("lock poisoned".into()))?;
        let file = self.load()?;
        let tries = |slot: &KeySlot, kind: KeyKind| Tries {
            left: if file.face_auth_only { 0 } else { slot.tries_left },
            max: kind.max_tries(),
        };
        Ok(CardStatus {
            backend: "soft",
            reader: format!("soft card: {}", file.label),
            card_present: true,
            auth_certificate: Some(der(&file.auth.certificate)?),
            signing_certificate: if file.sign_unlocked_once { Some(der(&file.sign.certificate)?) } else { None },
            auth_tries: tries(&file.auth, KeyKind::Auth),
            sign_tries: tries(&file.sign, KeyKind::Sign),
        })
    }

    fn sign(&self, pin: &Pin, digest: &[u8; 32]) -> Result<Signed, CardError> {
        let _guard = self.lock.lock().map_err(|_| CardError::Backend("lock poisoned".into()))?;
        let mut file = self.load()?;
        let kind = pin.kind();
        if file.face_auth_only {
            return Err(CardError::NoPin(kind));
        }
        let slot = file.slot_mut(kind).clone();
        if slot.tries_left == 0 {
            return Err(CardError::Locked(kind));
        }
        let encrypted = der(&slot.encrypted_key)?;
        let key = PrivateKey::from_pkcs8_encrypted_der(&encrypted, pin.secret().expose_secret().as_bytes());
        let save = |file: &SoftCardFile| file.save(&self.path).map_err(|e| CardError::Backend(e.to_string()));
        let Ok(key) = key else {
            let left = slot.tries_left - 1;
            file.slot_mut(kind).tries_left = left;
            save(&file)?;
            return Err(if left == 0 {
                CardError::Locked(kind)
            } else {
                CardError::WrongPin { kind, tries_left: left }
            });
        };
        file.slot_mut(kind).tries_left = kind.max_tries();
        if kind == KeyKind::Sign {
            file.sign_unlocked_once = true;
        }
        save(&file)?;
        let signature = key
            .sign(Pkcs1v15Sign::new::<Sha256>(), digest)
            .map_err(|e| CardError::Backend(format!("signing failed: {e}")))?;
        Ok(Signed { signature, certificate: der(&slot.certificate)? })
    }
}
