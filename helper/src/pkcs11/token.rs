//! Finding things in a PKCS#11 module: its one context per process, tokens by label, a token's tries as its flags
//! tell them, and a key's certificate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::TokenInfo;

use crate::pin::KeyKind;

/// Tries left as the token's flags tell them (PKCS#11 gives no number: only "low", "final try" and "locked").
pub(super) fn token_tries(info: &TokenInfo, kind: KeyKind) -> u8 {
    if info.user_pin_locked() {
        0
    } else if info.user_pin_final_try() {
        1
    } else {
        kind.max_tries()
    }
}

/// Compares a token's label (32 bytes, blank padded) with a configured one, which may be longer.
pub(super) fn token_label_matches(token: &str, wanted: &str) -> bool {
    let mut end = wanted.len().min(32);
    while !wanted.is_char_boundary(end) {
        end -= 1;
    }
    token.trim_end() == wanted[..end].trim_end()
}

pub(super) fn object_id(session: &Session, object: ObjectHandle) -> Result<Option<Vec<u8>>, CkError> {
    Ok(session.get_attributes(object, &[AttributeType::Id])?.into_iter().find_map(|a| match a {
        Attribute::Id(id) if !id.is_empty() => Some(id),
        _ => None,
    }))
}

pub(super) fn certificate_value(session: &Session, object: ObjectHandle) -> Result<Option<Vec<u8>>, CkError> {
    Ok(session.get_attributes(object, &[AttributeType::Value])?.into_iter().find_map(|a| match a {
        Attribute::Value(v) if !v.is_empty() => Some(v),
        _ => None,
    }))
}

/// Finds a key's certificate: by the key's label, else by the key's `CKA_ID`, else the token's only end-entity
/// certificate (OpenSC's JPKI token also holds the CA certificates).
pub(super) fn find_certificate(
    session: &Session,
    label: &str,
    key_id: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, CkError> {
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
pub(super) fn module_context(module: &Path) -> Result<Pkcs11, CkError> {
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
}
