//! `shared`: every rule that the voter's browser and the servers must agree on, so that they cannot drift.
//!
//! Map:
//! - [`api`]: the JSON bodies of the voter API, shared by the app and the verifier.
//! - [`helper_api`]: the JSON bodies of the card helper's loopback API.
//! - `contract` (feature `openapi`, servers only): each API's operations as data, from which the servers route
//!   404 and 405 and the OpenAPI documents are built.
//! - [`jst`]: Japan Standard Time (UTC+9, no daylight saving) and the server clock offset (R-VOTE-1).
//! - [`calendar`]: national holidays, business days and the receipt date of applications (R-REG-10).
//! - [`window`]: the online voting window of an election (R-VOTE-2).
//! - [`session`]: session lifetime and countdown arithmetic and formatting (R-VOTE-4).
//! - [`kana`]: free-word search keys and the 五十音 row of a reading (R-SYS-4).
//! - [`practice`]: practice elections for UX research, made from shipped name lists (tracker issue 9).
//! - [`study`]: instructed usability studies in practice elections: the researcher's tasks and layouts, a
//!   participant's plan and results (issue 22 part 6).
//! - [`election`]: elections, contests, candidates, parties, judges and their ballot rules (R-SYS-4).
//! - [`ballot`]: the fixed-length, versioned ballot bytes of one contest's choice.
//! - [`export`]: what leaves the ballot box after the close: the published tracker digest and the signed export for offline counting.
//! - [`frame`]: the length-prefixed framing under every domain-separated digest (below `ballot` and `crypto`).
//! - [`wire`]: bytes as base64 in JSON ([`wire::Base64`]).
//! - [`sealed`]: the encrypted ballot as one type ([`sealed::SealedBallot`]) and the opening a voter checks it
//!   with (the Benaloh challenge, cast-as-intended).
//! - [`crypto`]: ballot encryption (RSA-OAEP-SHA-256, R-VOTE-7), the digests the card signs, and signature
//!   verification (R-VOTE-5, R-VOTE-6, R-VOTE-8).
//! - [`oaep`]: RSAES-OAEP encryption with SHA-256 as the browser runs it, and the MGF1 mask the tally's decoder
//!   shares.
//! - [`rsaep`]: the RSA public-key operation under it, in Montgomery arithmetic shaped for wasm32.
//!
//! What this crate must never do: I/O, async, reading a clock or the environment, generating its own randomness
//! (callers pass an RNG), or decrypting a ballot (only the counting tool decrypts, R-COUNT-2). It compiles for
//! wasm32-unknown-unknown and for the host, and its tests run in both (the wasm ones in headless Chromium).

pub mod api;
pub mod ballot;
pub mod calendar;
#[cfg(feature = "openapi")]
pub mod contract;
pub mod crypto;
pub mod election;
pub mod export;
pub mod frame;
pub mod helper_api;
pub mod jst;
pub mod kana;
pub mod oaep;
pub mod practice;
pub mod rsaep;
pub mod sealed;
pub mod session;
pub mod study;
pub mod window;
pub mod wire;

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
