//! The election key pair in the token: generated at the ceremony (sensitive, never extractable, decrypt only),
//! found by its label, its policy checked before a count, and every object the token holds listed.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use rsa::pkcs8::EncodePublicKey as _;
use shared::crypto::ElectionPublicKey;

use super::hsm;
use crate::error::TallyError;

/// The size of the election key generated at the ceremony.
pub const ELECTION_KEY_BITS: u64 = 3072;

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
