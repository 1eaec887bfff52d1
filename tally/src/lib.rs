//! The offline counting tool (R-COUNT-1, R-COUNT-2): the only program that decrypts ballots, and only inside a
//! PKCS#11 token. It has no network code at all: the export arrives on a medium.
//!
//! - [`ceremony`]: `tally key-ceremony`, the election key pair generated in the token, a signed record.
//! - [`custody`]: the token's random user PIN split M-of-N among custodians (activation, not the key).
//! - [`hsm`]: the token: login, key lookup, decryption paths A (OAEP in the token) and B (raw RSA in the token,
//!   OAEP decoded on the host by [`oaep`]), several sessions at once.
//! - [`import`]: every check of the verifier's export before anything is decrypted.
//! - [`count`]: decoding, validity and the tally per contest kind; JSON, CSV and the terminal table.
//! - [`signing`]: the ceremony's Ed25519 key, which signs the record and the results.
//! - [`cli`] and [`commands`]: the command line, one file per subcommand.
//!
//! It must never write the PIN or a plaintext ballot anywhere, and never take the private key out of the token.

pub mod ceremony;
pub mod cli;
pub mod commands;
pub mod count;
pub mod custody;
pub mod error;
pub mod hsm;
pub mod import;
pub mod oaep;
pub mod signing;
