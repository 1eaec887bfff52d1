//! `test-pki`: a JPKI-like test certificate authority, for demos, tests and UX labs only: never a real My Number
//! card's, and never part of the voter's `card-helper` (issue 23 part 3: it used to be compiled into it).
//!
//! The real card holds two RSA-2048 key pairs with certificates (R-REG-2, R-VOTE-5):
//! - the user-authentication certificate (利用者証明用電子証明書), which carries no personal data, only its serial;
//! - the signing certificate (署名用電子証明書), which carries name, address, birth date and sex as
//!   `subjectAltName` otherName entries under the J-LIS arc [`JLIS_ARC`].
//!
//! Map:
//! - [`TestAuthority`] ([`authority`]): two self-signed RSA-2048 CAs (one per certificate kind) in a folder; issues
//!   such card key pairs and certificates ([`IssuedCard`]), revokes serials and publishes the CRLs that the
//!   verifier trusts and checks. Its state file is `folder-ca`'s, as the verifier's operator CA's is.
//! - `profile`: the certificates' names and extensions, the RSA keys, reading a CA back from its files.
//! - [`cli`]: the `test-pki init | issue | revoke` command line (formerly `card-helper test-pki`); `issue` writes
//!   a soft card file or provisions a PKCS#11 token pair with the helper's own code.
//! - The JPKI profile's readers ([`person_from_signing_cert`], [`serial_hex`], [`spki_der`]) are `jpki`'s,
//!   re-exported here for the tests that use both.
//!
//! What it must never do: be a dependency of `card-helper` (only of tests, benches, the demo and the rehearsal),
//! or stand for a real authority: its CA private keys lie unencrypted in files named `INSECURE-…`.

pub mod authority;
pub mod cli;
mod profile;

pub use authority::{IssuedCard, TestAuthority};
pub use jpki::{JLIS_ARC, Person, Sex, person_from_signing_cert, serial_hex, spki_der};
