//! `cargo xtask demo`: set up, build the voter app in release mode, create a test PKI with demo voters' soft
//! cards, generate the election key in a SoftHSM2 token (the counting tool's key ceremony), and run the card
//! helper (holding one demo voter's card) and the verifier on the demo election (open now) until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use anyhow::Context;

use crate::crew::Crew;
use crate::run::{cmd, root, sh};
use crate::setup;

/// Options of the demo.
#[derive(clap::Args)]
pub struct Args {
    /// Address the verifier listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Port of the card helper on 127.0.0.1.
    #[arg(long, default_value_t = 24190)]
    helper_port: u16,
    /// Address of the operator API (TLS with client certificates).
    #[arg(long, default_value = "127.0.0.1:8443")]
    operator_listen: String,
    /// Which demo voter's card the helper holds (1-3), as if that card were in the reader.
    #[arg(long, default_value_t = 1)]
    voter: usize,
}

/// The demo voters: name, address, birth date, sex, authentication PIN, signing password. Test data only.
const VOTERS: [(&str, &str, &str, &str, &str, &str); 3] = [
    ("在外 花子", "アメリカ合衆国 ニューヨーク州", "1990-04-01", "female", "1234", "HANAKO1"),
    ("海外 太郎", "ドイツ連邦共和国 ベルリン", "1985-12-24", "male", "5678", "TARO2024"),
    ("国外 翼", "ブラジル連邦共和国 サンパウロ", "2001-07-07", "other", "2468", "TSUBASA9"),
];

/// Kills a child when dropped (the demo's helper when the verifier stops).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the demo until Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!((1..=VOTERS.len()).contains(&args.voter), "--voter must be 1 to {}", VOTERS.len());
    setup::run()?;
    // The demo runs the release build itself, as published (`cargo xtask release`): its programs and its app.
    let release = crate::run::target_dir().join("release-build");
    crate::release::build(&crate::release::Places::here(), &release, crate::release::source_epoch())?;
    let (dist, bin) = (release.join("web"), release.join("bin"));
    let dir = crate::run::target_dir().join("demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let demo = Demo { pki: dir.join("pki"), opca: dir.join("operator-ca"), db: dir.join("verifier.sqlite"), dir, bin };
    demo.issue_cards()?;
    let (tokens, ceremony) = demo.key_ceremony()?;
    demo.create_election(&ceremony.join("election-public-key.pem"))?;
    let origin = format!("http://{}", args.listen);
    let _helper = demo.start_helper(&args, &origin)?;
    demo.print_guide(&args, &origin, &tokens, &ceremony);
    demo.serve(&args, &origin, &dist)
}

/// The demo's folder (target/demo, made anew each run), the release build's programs, and what the demo keeps in
/// the folder.
struct Demo {
    dir: PathBuf,
    bin: PathBuf,
    /// The test authority's folder, which the verifier trusts.
    pki: PathBuf,
    /// The operators' CA.
    opca: PathBuf,
    db: PathBuf,
}

impl Demo {
    /// The test authority and the demo voters' cards.
    fn issue_cards(&self) -> anyhow::Result<()> {
        // The demo voters' cards come from the test authority's own tool, never from the voter's helper.
        let test_pki = self.bin.join("test-pki");
        sh(cmd(&test_pki).args(["init", "--dir"]).arg(&self.pki))?;
        for (i, (name, address, birth, sex, pin, password)) in VOTERS.iter().enumerate() {
            sh(cmd(&test_pki)
                .args(["issue", "--dir"])
                .arg(&self.pki)
                .args(["--name", name, "--address", address, "--birth-date", birth, "--sex", sex])
                .args(["--auth-pin", pin, "--sign-password", password, "--out"])
                .arg(card_path(&self.dir, i + 1)))?;
        }
        Ok(())
    }

    /// The election key, as in a real election (R-COUNT-2): generated inside a SoftHSM2 token by the counting
    /// tool's key ceremony, its PIN split 3 of 5 into share files; only the public key leaves the token. Returns
    /// the token folder and the ceremony's folder.
    fn key_ceremony(&self) -> anyhow::Result<(PathBuf, PathBuf)> {
        let lab = hsm_lab::Lab::new(&self.dir)?;
        let (tokens, module) = (lab.tokens.clone(), lab.module_arg());
        let ceremony = self.dir.join("key-ceremony");
        sh(cmd(self.bin.join("tally"))
            .args([
                "key-ceremony",
                "--module",
                &module,
                "--election-id",
                "demo-hoc",
                "--official",
                "Demo counting officer",
            ])
            .args(["--token-label", "demo-hoc election key", "--so-pin-custody", "destroyed", "--out"])
            .arg(&ceremony)
            .env(hsm_lab::CONF_ENV, &lab.conf))?;
        Ok((tokens, ceremony))
    }

    /// The host's named operators (R-SEC-4, issue 21): an operator CA and its listener's certificate, then two
    /// administrators; every change below is requested by one and approved by the other (four eyes): the demo
    /// election with the ceremony's `public` key, its voters, and the committee.
    fn create_election(&self, public: &Path) -> anyhow::Result<()> {
        let verifier = self.bin.join("verifier");
        let opca = &self.opca;
        sh(cmd(&verifier).args(["operators", "init-ca", "--ca"]).arg(opca))?;
        sh(cmd(&verifier).args(["operators", "server-cert", "--host", "127.0.0.1", "--ca"]).arg(opca))?;
        let crew = Crew::bootstrap(&verifier, &self.db, opca, &self.dir.join("operators"))?;
        crew.four_eyes(&[
            "election".as_ref(),
            "create".as_ref(),
            root().join("verifier/elections/demo.toml").as_os_str(),
            "--public-key".as_ref(),
            public.as_os_str(),
            "--redate-for-demo".as_ref(),
        ])?;
        let voters = self.dir.join("voters.jsonl");
        std::fs::write(&voters, voters_jsonl(&self.dir)?)?;
        sh(crew.command(0).args(["voters", "import"]).arg(&voters).arg("--trust-dir").arg(&self.pki))?;
        // The committee of the demo municipality: a clerk and an approver, each with a client certificate and a
        // TOTP secret, issued under four eyes.
        for (name, role) in [("Demo Clerk", "clerk"), ("Demo Approver", "approver")] {
            let out = self.dir.join("operators").join(role);
            crew.four_eyes(&[
                "operators".as_ref(),
                "issue".as_ref(),
                "--name".as_ref(),
                name.as_ref(),
                "--role".as_ref(),
                role.as_ref(),
                "--municipality".as_ref(),
                "13101".as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
            ])?;
        }
        Ok(())
    }

    /// The card helper holding the chosen demo voter's card, for the verifier at `origin`.
    fn start_helper(&self, args: &Args, origin: &str) -> anyhow::Result<Running> {
        let helper_child = Command::new(self.bin.join("card-helper"))
            .args(["serve", "--port", &args.helper_port.to_string(), "--allowed-origin", origin, "--soft-card"])
            .arg(card_path(&self.dir, args.voter))
            .spawn()
            .context("cannot start the card helper")?;
        Ok(Running(helper_child))
    }

    /// What the person trying the demo needs: where everything is, the test cards' PINs and passwords.
    fn print_guide(&self, args: &Args, origin: &str, tokens: &Path, ceremony: &Path) {
        let demo = &self.dir;
        println!();
        println!("demo: the demo election (a practice election, open now) on {origin}/");
        println!(
            "demo: the card helper on http://127.0.0.1:{} holds demo voter {}'s card.",
            args.helper_port, args.voter
        );
        println!("demo: demo voters (TEST DATA ONLY; cards in {}):", demo.join("cards").display());
        println!(
            "      (issued by the test tool test-pki, a JPKI-like TEST authority in {}: never a real card)",
            self.pki.display()
        );
        println!("      {:<3} {:<14} {:<18} name", "#", "auth PIN (4)", "signing password");
        for (i, (name, _, _, _, pin, password)) in VOTERS.iter().enumerate() {
            println!("      {:<3} {:<14} {:<18} {name}", i + 1, pin, password);
        }
        println!(
            "demo: the operator API on https://{} (client certificates and TOTP secrets above, files in {});",
            args.operator_listen,
            demo.join("operators").display()
        );
        println!(
            "      e.g. operator --server https://{} --ca {} --cert … --key … login --totp CODE",
            args.operator_listen,
            self.opca.join("operator-ca.pem").display()
        );
        println!(
            "demo: the election key is in a SoftHSM2 token ({}); its PIN shares and the ceremony record are in {}",
            tokens.display(),
            ceremony.display()
        );
        println!("demo: e-mail notices are written to {}", demo.join("verifier.outbox").display());
        println!(
            "demo: for reviewers and researchers (no card needed): the gallery of every layout at {origin}/#gallery,"
        );
        println!("      and a usability study (verifier/elections/demo-study.toml) at {origin}/#study.");
        println!("demo: open {origin}/ in a browser; stop with Ctrl-C.");
        println!();
    }

    /// Runs the verifier with the release build's app until Ctrl-C.
    fn serve(&self, args: &Args, origin: &str, dist: &Path) -> anyhow::Result<()> {
        let status = cmd(self.bin.join("verifier"))
            .args(["serve", "--listen", &args.listen, "--public-origin", origin])
            .arg("--card-helper-origin")
            .arg(format!("http://127.0.0.1:{}", args.helper_port))
            .arg("--db")
            .arg(&self.db)
            .arg("--trust-dir")
            .arg(&self.pki)
            .arg("--web-dir")
            .arg(dist)
            .args(["--operator-listen", &args.operator_listen, "--operator-ca"])
            .arg(&self.opca)
            .arg("--research-study")
            .arg(root().join("verifier/elections/demo-study.toml"))
            .current_dir(root())
            .status()?;
        // Ctrl-C reaches the verifier and the helper too; both stop gracefully, and so does the demo.
        if !status.success() && status.code().is_some() {
            anyhow::bail!("the verifier stopped with {status}");
        }
        Ok(())
    }
}

/// The demo voters as accepted internet voters of the Tokyo district (and the national contests), with the
/// certificates of their soft cards.
fn voters_jsonl(demo: &Path) -> anyhow::Result<String> {
    let mut out = String::new();
    for n in 1..=VOTERS.len() {
        let path = card_path(demo, n);
        let card: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let cert = |slot: &str| card[slot]["certificate"].as_str().map(str::to_string).context("certificate");
        let line = serde_json::json!({
            "person_id": format!("demo-voter-{n}"),
            "municipality": "13101",
            "districts": ["tokyo", "national"],
            "auth_certificates": [cert("auth")?],
            "sign_certificates": [cert("sign")?],
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
}

fn card_path(demo: &Path, n: usize) -> PathBuf {
    demo.join("cards").join(format!("voter{n}.json"))
}
