//! Provisioning a token pair laid out as OpenSC's JPKI driver lays out a card, for tests and labs (`test-pki issue
//! --pkcs11-module`): two tokens, each with its PIN, an RSA key and its certificate.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail, ensure};
use cryptoki::context::Pkcs11;
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::slot::Slot;
use rsa::pkcs1::RsaPrivateKeyRef;
use rsa::pkcs8::PrivateKeyInfoRef;
use rsa::pkcs8::der::Decode as _;
use secrecy::SecretString;

use super::Pkcs11Config;
use super::token::{module_context, token_label_matches};
use super::tries::{read_state, write_state};
use crate::pin::KeyKind;

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
    fn unsigned_strips_leading_zeros() {
        assert_eq!(unsigned(&[0, 0, 1, 2]), vec![1, 2]);
        assert_eq!(unsigned(&[0x80]), vec![0x80]);
        assert_eq!(unsigned(&[0, 0]), vec![0]);
    }
}
