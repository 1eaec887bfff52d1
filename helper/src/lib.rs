//! `card-helper`: the native program on the voter's PC that does the My Number card's work, as Web eID's native
//! application does for Estonia's ID card. A web page cannot talk to a card reader, and must never see a PIN; this
//! helper listens on 127.0.0.1 only, answers only the configured origins (the verifier's), and asks for every PIN
//! on its own confirmation page, a different origin that the voting page cannot read (R-VOTE-5, R-VOTE-6).
//!
//! Map:
//! - [`cli`]: `card-helper serve` and `card-helper openapi`.
//! - [`api`]: the loopback HTTP API (status, authenticate, sign, operation polling) and the confirmation page.
//! - [`contract`]: the API as data: its 404 and 405 answers and `helper/openapi.json` come from it.
//! - [`requests`]: what the card signs, computed here from a ballot's opening (re-encrypted against the election
//!   read from the voting site) or an application's text, and what the helper's page shows about it.
//! - [`operations`]: pending operations with their one-time confirmation ids and results.
//! - [`pin`]: PIN rules, checked before the card is touched, in zeroizing secret types.
//! - [`backend`]: the card behind one trait, with [`soft`] (a software card file for demos, tests and UX labs) and
//!   [`pkcs11`] (OpenSC's JPKI driver for the real card; SoftHSM2 in tests).
//!
//! The JPKI-like test authority that issues test cards is not here: it is the `test-pki` crate and tool, which
//! uses [`soft`] and [`pkcs11`] to write the cards (issue 23 part 3).
//!
//! What it must never do: listen beyond loopback, answer a foreign origin, log or return a PIN, sign anything
//! the voter did not confirm on its own page, sign a digest it did not compute itself, or carry a certificate
//! authority (`test-pki` is only ever a dev-dependency here).

pub mod api;
pub mod backend;
pub mod cli;
pub mod contract;
pub mod operations;
pub mod pin;
pub mod pkcs11;
pub mod requests;
pub mod soft;
