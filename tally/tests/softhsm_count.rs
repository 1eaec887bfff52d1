#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole count against a real SoftHSM2 token, through the `tally` binary: key ceremony in a fresh token,
//! ballots encrypted as the browser does (and one by `openssl pkeyutl`), an export in the verifier's format,
//! import with every refusal, M-of-N custody of the PIN, and the count by raw RSA in the token with OAEP decoded
//! on the host (SoftHSM2 refuses OAEP with SHA-256, so path A must be refused without the flag).
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` at `C_Initialize`; the variable is given to each `tally` child process.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use shared::crypto::ElectionPublicKey;
use shared::export::ExportFile;
use tally::ceremony::CeremonyRecord;
use tally::custody::ShareFile;
use zeroize::Zeroizing;

struct Lab {
    dir: tempfile::TempDir,
    conf: PathBuf,
    module: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let lab = hsm_lab::Lab::new(dir.path()).unwrap();
        Lab { dir, conf: lab.conf, module: lab.module }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn tally(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(args)
            .env(hsm_lab::CONF_ENV, &self.conf)
            .env_remove("TALLY_SO_PIN")
            .output()
            .unwrap()
    }
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "tally failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn refused(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "tally should have refused ({needle}): {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains(needle), "the refusal should say {needle:?}, it says: {stderr}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn ceremony_import_and_count_with_softhsm2() {
    let lab = Lab::new();
    let ceremony = key_ceremony_with_both_pins_split(&lab);
    zero_check_refuses_a_stray_file_or_key(&lab, &ceremony);
    a_second_ceremony_under_the_same_label_is_refused(&lab);
    let export = Export::write(&lab, &ceremony);
    import_refuses_every_change(&lab, &export);
    count_with_m_of_n_custodians(&lab, &ceremony, &export);

    // After the count, three SO custodians together can take the token back (here: set a new user PIN).
    let as_so = pkcs11_tool(
        &lab,
        &["--login", "--login-type", "so", "--so-pin", &ceremony.so_pin, "--init-pin", "--new-pin", "after-the-count"],
    );
    assert!(as_so.status.success(), "three SO shares log in: {}", String::from_utf8_lossy(&as_so.stderr));
}

/// What the key ceremony left: its folder, its signed record, the election public key, and the SO PIN as three of
/// the five SO custodians rebuild it.
struct Ceremony {
    dir: PathBuf,
    record: CeremonyRecord,
    pem: String,
    key: ElectionPublicKey,
    so_pin: Zeroizing<String>,
}

impl Ceremony {
    /// The `i`-th user-PIN share file.
    fn share(&self, i: u8) -> PathBuf {
        self.dir.join(format!("pin-share-{i}-of-5.json"))
    }
}

/// The key ceremony in a fresh token, with the user PIN and the SO PIN each split 3 of 5.
fn key_ceremony_with_both_pins_split(lab: &Lab) -> Ceremony {
    let module = s(&lab.module);
    let ceremony = lab.path("ceremony");
    let out = lab.tally(&[
        "key-ceremony",
        "--module",
        module,
        "--election-id",
        "hoc-2028",
        "--official",
        "Counting officer A",
        "--official",
        "Auditor B",
        "--token-label",
        "hoc-2028 election key",
        "--threshold",
        "3",
        "--shares",
        "5",
        "--so-pin-custody",
        "split",
        "--out",
        s(&ceremony),
    ]);
    let stdout = ok(&out);
    let (record, _) = tally::ceremony::read_record(&ceremony.join("ceremony.json")).unwrap();
    let pem = std::fs::read_to_string(ceremony.join("election-public-key.pem")).unwrap();
    let key = ElectionPublicKey::from_pem(&pem).unwrap();
    assert_eq!(key.fingerprint(), record.key_fingerprint);
    assert_eq!(key.ciphertext_len(), 384, "RSA-3072");
    assert!(stdout.contains(&record.key_fingerprint));
    assert_eq!(std::fs::read_to_string(ceremony.join("election-public-key.sha256")).unwrap().trim(), key.fingerprint());
    assert_eq!((record.threshold, record.shares, record.so_pin), (3, 5, tally::ceremony::SoPinCustody::Split));
    // The SO PIN is split like the user PIN: three custodians together can log in as the security officer (to
    // re-initialise the token after the election), two cannot rebuild it.
    let so_shares: Vec<PathBuf> = (1..=5).map(|i| ceremony.join(format!("so-pin-share-{i}-of-5.json"))).collect();
    let so_files = tally::custody::read_shares(&so_shares).unwrap();
    let so = tally::custody::PinKind::SecurityOfficer;
    let rebuilt = tally::custody::combine(&so_files[1..4], so, &record.key_fingerprint).unwrap();
    assert!(tally::custody::combine(&so_files[..2], so, &record.key_fingerprint).is_err());
    let user = tally::custody::combine(&so_files[1..4], tally::custody::PinKind::User, &record.key_fingerprint);
    assert!(user.is_err(), "SO shares are not user-PIN shares");
    Ceremony { dir: ceremony, record, pem, key, so_pin: rebuilt }
}

/// The counting zero check (issue 21 part 4): an empty import folder and a token holding exactly the ceremony's
/// key pair pass; a file in the folder, or any other object in the token, is refused by name.
fn zero_check_refuses_a_stray_file_or_key(lab: &Lab, ceremony: &Ceremony) {
    let module = s(&lab.module);
    let share = |i: u8| ceremony.share(i);
    let imports = lab.path("imports");
    std::fs::create_dir(&imports).unwrap();
    let record_path = ceremony.dir.join("ceremony.json");
    let zero_check = |out: &str| {
        let (i1, i2, i3) = (share(1), share(2), share(4));
        let args = ["zero-check", "--import-dir", s(&imports), "--ceremony", s(&record_path)];
        let shares = ["--share", s(&i1), "--share", s(&i2), "--share", s(&i3)];
        let rest = ["--module", module, "--out", out];
        lab.tally(&[&args[..], &shares[..], &rest[..]].concat())
    };
    let passed = ok(&zero_check(s(&lab.path("zero-check.json"))));
    assert!(passed.contains("token holds exactly the ceremony's key pair"), "{passed}");
    let report = std::fs::read_to_string(lab.path("zero-check.json")).unwrap();
    assert!(report.contains("election-key") && report.contains(&ceremony.record.key_fingerprint), "{report}");
    std::fs::write(imports.join("early.json"), "{}").unwrap();
    refused(&zero_check(s(&lab.path("zero-check-2.json"))), "the import folder");
    std::fs::remove_file(imports.join("early.json")).unwrap();
    let files = tally::custody::read_shares(&[share(1), share(2), share(4)]).unwrap();
    let pin = tally::custody::combine(&files, tally::custody::PinKind::User, &ceremony.record.key_fingerprint).unwrap();
    let extra = ["--login", "--pin", &pin, "--keypairgen", "--key-type", "rsa:2048", "--label", "spare-key"];
    assert!(pkcs11_tool(lab, &extra).status.success());
    let out = zero_check(s(&lab.path("zero-check-3.json")));
    refused(&out, "the token holds 4 objects where the ceremony left 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("spare-key"));
    let removed = ["--login", "--pin", &pin, "--delete-object", "--type", "privkey", "--label", "spare-key"];
    assert!(pkcs11_tool(lab, &removed).status.success());
    let removed = ["--login", "--pin", &pin, "--delete-object", "--type", "pubkey", "--label", "spare-key"];
    assert!(pkcs11_tool(lab, &removed).status.success());
    drop(pin);
    ok(&zero_check(s(&lab.path("zero-check-4.json"))));
}

/// A second key ceremony cannot take a token label already in use.
fn a_second_ceremony_under_the_same_label_is_refused(lab: &Lab) {
    let again = lab.tally(&[
        "key-ceremony",
        "--module",
        s(&lab.module),
        "--election-id",
        "hoc-2028",
        "--official",
        "X",
        "--token-label",
        "hoc-2028 election key",
        "--so-pin-custody",
        "destroyed",
        "--out",
        s(&lab.path("ceremony-again")),
    ]);
    refused(&again, "a token labelled 'hoc-2028 election key' already exists");
}

/// The ballots, encrypted as the browser does, in an export in the verifier's format, beside the election and the
/// ceremony record that `tally import` and `tally count` read with it.
struct Export {
    file: ExportFile,
    path: PathBuf,
    public: String,
    election: PathBuf,
    ceremony: PathBuf,
}

impl Export {
    /// Encrypts the ballots and writes the export and the election.
    fn write(lab: &Lab, ceremony: &Ceremony) -> Export {
        let contests = common::encrypt_all(&ceremony.key, &ceremony.pem);
        let (file, export_pub) = common::export(lab.dir.path(), &ceremony.key, &contests);
        let export_path = lab.path("export.json");
        std::fs::write(&export_path, serde_json::to_vec(&file).unwrap()).unwrap();
        let election_path = lab.path("election.json");
        std::fs::write(&election_path, common::ELECTION_JSON).unwrap();
        Export {
            file,
            path: export_path,
            public: export_pub,
            election: election_path,
            ceremony: ceremony.dir.join("ceremony.json"),
        }
    }

    /// The arguments that `tally import` and `tally count` share, for an export file (the export key's
    /// fingerprint at index 6).
    fn import_args(&self, file: &Path) -> Vec<String> {
        let count = common::VOTERS.to_string();
        [
            s(file),
            "--election",
            s(&self.election),
            "--ceremony",
            s(&self.ceremony),
            "--export-key-public",
            &self.public,
            "--expected-count",
            &count,
        ]
        .iter()
        .map(|x| x.to_string())
        .collect()
    }

    /// Runs `tally import` on an export file.
    fn import(&self, lab: &Lab, file: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["import".to_string()];
        args.extend(self.import_args(file));
        args.extend(extra.iter().map(|x| x.to_string()));
        lab.tally(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

/// `tally import` takes the export as written, and refuses each change to it, naming what differs.
fn import_refuses_every_change(lab: &Lab, export: &Export) {
    let import = |file: &Path, extra: &[&str]| export.import(lab, file, extra);
    assert!(ok(&import(&export.path, &[])).contains("export OK"));

    // Refusals, each naming what differs.
    let write_variant = |name: &str, f: &dyn Fn(&mut ExportFile)| {
        let mut v = export.file.clone();
        f(&mut v);
        let p = lab.path(name);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        p
    };
    let changed = write_variant("changed.json", &|v| {
        v.ballots[0].ciphertexts[0].0[100] ^= 1;
    });
    refused(&import(&changed, &[]), "contest tokyo: content digest");
    let reordered = write_variant("reordered.json", &|v| v.ballots[1].ciphertexts.swap(0, 1));
    refused(&import(&reordered, &[]), "contest national-pr: content digest");
    let duplicated = write_variant("duplicated.json", &|v| {
        let first = v.ballots[1].ciphertexts[0].clone();
        v.ballots[1].ciphertexts[1] = first;
    });
    refused(&import(&duplicated, &[]), "contest national-pr");
    let dropped = write_variant("dropped.json", &|v| {
        v.ballots[1].ciphertexts.pop();
    });
    refused(&import(&dropped, &[]), "contest national-pr: 7 ciphertexts in the file, the manifest counts 8");
    let swapped = write_variant("swapped.json", &|v| v.ballots.swap(0, 1));
    refused(&import(&swapped, &[]), "ballots for contests");
    let manifest_edited =
        write_variant("manifest.json", &|v| v.manifest = v.manifest.replace("\"count\":8", "\"count\":9"));
    refused(&import(&manifest_edited, &[]), "signature does not verify");
    let bytes = std::fs::read(&export.path).unwrap();
    let truncated = lab.path("truncated.json");
    std::fs::write(&truncated, &bytes[..bytes.len() - 200]).unwrap();
    refused(&import(&truncated, &[]), "not an export file");
    refused(&import(&export.path, &["--expected-count-per-contest", "national-pr=9"]), "the committee record says 9");
    let mut wrong_key = export.import_args(&export.path);
    wrong_key[6] = "00".repeat(32);
    let mut args = vec!["import".to_string()];
    args.extend(wrong_key);
    refused(&lab.tally(&args.iter().map(String::as_str).collect::<Vec<_>>()), "signed by export key");
}

/// The count: fewer than M custodians cannot open the token, path A is refused by SoftHSM2 without the flag, and M
/// shares count everything exactly by path B, the results signed with the ceremony's key.
fn count_with_m_of_n_custodians(lab: &Lab, ceremony: &Ceremony, export: &Export) {
    let module = s(&lab.module);
    // Custody: M-1 shares are refused; forging the threshold down to M-1 rebuilds a wrong PIN the token refuses.
    let share = |i: u8| ceremony.share(i);
    let results = lab.path("results");
    let count_cmd = |shares: &[PathBuf], extra: &[&str]| {
        let mut args = vec!["count".to_string()];
        args.extend(export.import_args(&export.path));
        args.extend(["--module".to_string(), module.to_string(), "--out".to_string(), s(&results).to_string()]);
        for sh in shares {
            args.extend(["--share".to_string(), s(sh).to_string()]);
        }
        args.extend(extra.iter().map(|x| x.to_string()));
        lab.tally(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    refused(&count_cmd(&[share(1), share(4)], &["--allow-raw-rsa-with-host-oaep"]), "the PIN needs 3 of 5");
    let forged: Vec<PathBuf> = [1u8, 4]
        .iter()
        .map(|&i| {
            let mut f: ShareFile = serde_json::from_slice(&std::fs::read(share(i)).unwrap()).unwrap();
            f.threshold = 2;
            let p = lab.path(&format!("forged-{i}.json"));
            std::fs::write(&p, serde_json::to_vec(&f).unwrap()).unwrap();
            p
        })
        .collect();
    let out = count_cmd(&forged, &["--allow-raw-rsa-with-host-oaep"]);
    assert!(!out.status.success(), "two shares must not open the token");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused the user PIN") || stderr.contains("do not rebuild a PIN"),
        "two shares give no usable PIN: {stderr}"
    );
    assert!(!results.exists());

    // Path A is refused by SoftHSM2 and the refusal names the flag.
    refused(&count_cmd(&[share(2), share(3), share(5)], &[]), "--allow-raw-rsa-with-host-oaep");

    // M shares open the key; path B counts everything exactly.
    let stdout = ok(&count_cmd(&[share(5), share(1), share(3)], &["--allow-raw-rsa-with-host-oaep", "--threads", "2"]));
    assert!(stdout.contains("B: CKM_RSA_X_509"), "the report names the path: {stdout}");
    let json = std::fs::read_to_string(results.join("result.json")).unwrap();
    let report: tally::count::TallyReport = serde_json::from_str(&json).unwrap();
    assert_eq!(report.decrypt_path, tally::hsm::DecryptPath::RawRsaHostOaep);
    common::assert_expected_totals(&report);
    // Eight internet voters per contest: fewer than the default k of 10, so totals published alone could show how
    // they voted. The output says it is for the counting station's 混同 with the paper ballots, and warns.
    assert!(stdout.contains("not a publication"), "{stdout}");
    assert!(stdout.contains("WARNING: tokyo has 8 internet ballots, fewer than k = 10"), "{stdout}");
    assert!(report.contests.iter().all(|c| c.below_k), "the signed record flags every contest");
    assert_eq!(report.small_count_k, 10);
    let sig = std::fs::read_to_string(results.join("result.json.sig")).unwrap();
    let (sig, public) = sig.trim().split_once('\n').unwrap();
    assert!(tally::signing::verify(public, json.as_bytes(), sig));
    let signer = tally::signing::SigningKey::load(&ceremony.dir.join("ceremony-signing-key.pk8")).unwrap();
    assert_eq!(public, signer.public_hex(), "the results are signed with the ceremony's key");
    let csv = std::fs::read_to_string(results.join("result.csv")).unwrap();
    assert!(csv.contains("national-pr,party,1,未来党,5,2,3\n"), "{csv}");
    assert!(csv.contains("tokyo,candidate,2,佐藤 花子,2,,\n"), "{csv}");
}

/// Runs `pkcs11-tool` (OpenSC, installed by `cargo xtask setup`) against the lab's token, as an insider would.
fn pkcs11_tool(lab: &Lab, args: &[&str]) -> Output {
    Command::new("pkcs11-tool")
        .args(["--module", lab.module.to_str().unwrap(), "--token-label", "hoc-2028 election key"])
        .args(args)
        .env(hsm_lab::CONF_ENV, &lab.conf)
        .output()
        .expect("pkcs11-tool (OpenSC) is needed; `cargo xtask setup` installs it")
}

/// The insider who knows the SO PIN typed at the ceremony resets the user PIN and reaches the election key
/// without a single custodian (R-COUNT-2). The ceremony makes the SO PIN itself and keeps nobody's copy.
#[test]
fn whoever_ran_the_ceremony_cannot_reset_the_user_pin() {
    let lab = Lab::new();
    let module = lab.module.to_str().unwrap().to_string();
    let ceremony = lab.path("ceremony");
    let out = lab.tally(&[
        "key-ceremony",
        "--module",
        &module,
        "--election-id",
        "hoc-2028",
        "--official",
        "Counting officer A",
        "--token-label",
        "hoc-2028 election key",
        "--so-pin-custody",
        "destroyed",
        "--out",
        s(&ceremony),
    ]);
    assert!(ok(&out).contains("security officer PIN: destroyed"));
    let (record, _) = tally::ceremony::read_record(&ceremony.join("ceremony.json")).unwrap();
    assert_eq!(record.so_pin, tally::ceremony::SoPinCustody::Destroyed, "the signed record says which");
    let files: Vec<String> =
        std::fs::read_dir(&ceremony).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!files.iter().any(|f| f.starts_with("so-pin")), "a destroyed SO PIN leaves no share: {files:?}");
    // The attack: log in as the security officer with the PIN the operator knew, set a user PIN of one's own.
    let reset = pkcs11_tool(
        &lab,
        &["--login", "--login-type", "so", "--so-pin", "so-pin-1234", "--init-pin", "--new-pin", "insider-1"],
    );
    let opened = pkcs11_tool(&lab, &["--login", "--pin", "insider-1", "--list-objects", "--type", "privkey"]);
    let listing = String::from_utf8_lossy(&opened.stdout);
    assert!(
        !reset.status.success() && !listing.contains("election-key"),
        "the insider reset the user PIN with the SO PIN and reached the election key alone:\n{}\n{listing}",
        String::from_utf8_lossy(&reset.stdout)
    );
    assert!(String::from_utf8_lossy(&reset.stderr).contains("CKR_PIN_INCORRECT"), "{reset:?}");

    // Nor can an SO PIN be handed to the ceremony, on the command line (seen by `ps`, kept in shell history) or in
    // the environment: the refusal says why and what to do.
    let base = ["key-ceremony", "--module", &module, "--election-id", "hoc-2028", "--official", "A"];
    let mut typed = base.to_vec();
    typed.extend(["--token-label", "second", "--so-pin-custody", "split", "--so-pin", "1234", "--out", "/nonexistent"]);
    refused(&lab.tally(&typed), "no PIN is taken on the command line");
    let mut from_env = Command::new(env!("CARGO_BIN_EXE_tally"));
    from_env.args(&typed[..typed.len() - 4]).args(["--out", "/nonexistent"]).env(hsm_lab::CONF_ENV, &lab.conf);
    refused(&from_env.env("TALLY_SO_PIN", "1234").output().unwrap(), "unset TALLY_SO_PIN");
}
