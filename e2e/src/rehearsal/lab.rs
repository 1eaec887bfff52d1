//! What the rehearsal's rounds share: the test PKI with the voters' soft cards, the SoftHSM2 token folder, the
//! verifier's export key, the operators' CA, an SMTP server on loopback and the card helper.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use super::{AUTH_PIN, SIGN_PASSWORD};
use crate::process::{run_cmd, start_helper, start_helper_after};
use crate::smtp::SmtpSink;
use crate::{ProcessGroup, bin_dir, free_port};

/// Shared pieces: the test PKI with the voters' soft cards, the card helper, the SMTP server, the token.
pub(super) struct Lab {
    pub(super) work: PathBuf,
    pub(super) pki: PathBuf,
    pub(super) cards: Vec<PathBuf>,
    pub(super) names: Vec<String>,
    softhsm_conf: PathBuf,
    pub(super) module: PathBuf,
    pub(super) export_key: PathBuf,
    pub(super) export_public: String,
    pub(super) smtp: SmtpSink,
    helper: ProcessGroup,
    helper_port: u16,
    /// The card helper's origin, which the verifier is told.
    pub(super) helper_origin: String,
    /// The operators' CA (the host's and the committee's client certificates, the operator API's server's).
    pub(super) opca: PathBuf,
}

impl Lab {
    /// Makes the test PKI and `voters` soft cards, the token folder, the export key, the operators' CA and its
    /// server certificate, and starts the SMTP server and the card helper (holding voter 1's card) in `work`.
    pub(super) fn set_up(work: &Path, voters: usize, say: &mut dyn FnMut(&str)) -> anyhow::Result<Lab> {
        let work = work.to_path_buf();
        let verifier_bin = bin_dir().join("verifier");

        say("test PKI (a JPKI-like authority) and the voters' soft My Number cards");
        let (pki, cards, names) = issue_cards(&work, voters)?;

        say("SoftHSM2 token folder, the verifier's export key, the operators' CA, an SMTP server on loopback");
        let hsm = hsm_lab::Lab::new(&work)?;
        let export_key = work.join("export.key");
        let out = run_cmd(Command::new(&verifier_bin).args(["export-key", "generate", "--out"]).arg(&export_key))?;
        let export_public = out.split("public key ").nth(1).context("no export public key printed")?.trim().to_string();
        let opca = work.join("operator-ca");
        run_cmd(Command::new(&verifier_bin).args(["operators", "init-ca", "--ca"]).arg(&opca))?;
        run_cmd(
            Command::new(&verifier_bin).args(["operators", "server-cert", "--host", "127.0.0.1", "--ca"]).arg(&opca),
        )?;
        let smtp = SmtpSink::start(0);
        let helper_port = free_port()?;
        let helper_origin = format!("http://127.0.0.1:{helper_port}");

        Ok(Lab {
            work: work.clone(),
            pki,
            cards,
            names,
            softhsm_conf: hsm.conf,
            module: hsm_lab::module()?,
            export_key,
            export_public,
            smtp,
            helper: start_helper(helper_port, "http://127.0.0.1:1", &work.join("card0.json"))?,
            helper_port,
            helper_origin,
            opca,
        })
    }

    /// Puts voter `i`'s card in the reader: the helper restarts on its port with that card for `origin`.
    pub(super) fn use_card(&mut self, i: usize, origin: &str) -> anyhow::Result<()> {
        self.helper = start_helper_after(&mut self.helper, self.helper_port, origin, &self.cards[i])?;
        Ok(())
    }

    /// Runs the counting tool with the lab's token folder.
    pub(super) fn tally(&self, args: &[&str]) -> anyhow::Result<String> {
        run_cmd(Command::new(bin_dir().join("tally")).args(args).env(hsm_lab::CONF_ENV, &self.softhsm_conf))
    }
}

/// The test authority in `work/pki` and one soft card per voter: (the authority's folder, the cards, the names).
fn issue_cards(work: &Path, voters: usize) -> anyhow::Result<(PathBuf, Vec<PathBuf>, Vec<String>)> {
    let test_pki = bin_dir().join("test-pki");
    let pki = work.join("pki");
    run_cmd(Command::new(&test_pki).args(["init", "--dir"]).arg(&pki))?;
    let mut cards = Vec::new();
    let mut names = Vec::new();
    for i in 0..voters {
        let card = work.join(format!("card{i}.json"));
        let name = format!("在外 投票者{}", i + 1);
        run_cmd(
            Command::new(&test_pki)
                .args(["issue", "--dir"])
                .arg(&pki)
                .args(["--name", &name, "--address", "ロンドン", "--birth-date", "1985-05-05", "--sex", "male"])
                .args(["--auth-pin", AUTH_PIN, "--sign-password", SIGN_PASSWORD, "--out"])
                .arg(&card),
        )?;
        cards.push(card);
        names.push(name);
    }
    Ok((pki, cards, names))
}
