//! Decryption with the election key (R-COUNT-2): path A (OAEP in the token) or path B (raw RSA in the token, OAEP
//! decoded on the host), chosen with a probe, on several sessions at once; and the insecure file key of demos.

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use serde::{Deserialize, Serialize};

use super::{Hsm, TokenKey, hsm};
use crate::error::TallyError;

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
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey as _};
    use shared::crypto::ElectionPublicKey;

    use super::*;

    const ELECTION_KEY_INSECURE: &str = include_str!("../../../shared/tests/data/INSECURE-test-election-key.pem");

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
