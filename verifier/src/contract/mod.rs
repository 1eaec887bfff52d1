//! The voter API (`/api/v1`) and the operator API (`/op/v1`) as data ([`shared::contract`]): every operation with
//! its request and answer types, its refusals and its links. [`crate::voting::filters`] answers 404 and 405 (with `Allow`)
//! from [`VOTER`]; `verifier/openapi.json` and `verifier/operator-openapi.json` are written from these tables
//! (`verifier openapi`) and a test fails when they differ.
//!
//! What this must never do: list a refusal a handler cannot give, or miss one it can; schemathesis, run by
//! `cargo xtask test` against the served API, fails on either.
//!
//! Map: [`voter`] (the voter API, [`VOTER`]) and [`operator`] (the operator API, [`OPERATOR`]).

pub mod operator;
pub mod voter;

pub use operator::OPERATOR;
pub use voter::{COOKIE, VOTER};

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed document is the one these tables make: run `cargo run -p verifier -- openapi` to rewrite it.
    #[test]
    fn the_committed_documents_are_the_generated_ones() {
        for (contract, file, flag) in
            [(&VOTER, "openapi.json", ""), (&OPERATOR, "operator-openapi.json", " --operator")]
        {
            let generated = contract.json();
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == generated,
                "verifier/{file} differs from verifier/src/contract/: run `cargo run -p verifier -- \
                 openapi{flag} > verifier/{file}` and commit it"
            );
        }
    }
}
