//! `verifier serve`'s settings (issue 23 part 4): the annotated example names every option and nothing else, each
//! of its values parses, and the real binary takes a value from the file, lets the environment override it, and
//! lets a flag override both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const EXAMPLE: &str = include_str!("../verifier.example.toml");

/// The keys the example sets or shows commented out (`# key = value`), with their lines uncommented.
fn example_keys() -> (BTreeSet<String>, String) {
    let mut keys = BTreeSet::new();
    let mut uncommented = String::new();
    for (key, line) in settings::example_settings(EXAMPLE) {
        uncommented.push_str(&format!("{line}\n"));
        assert!(keys.insert(key.clone()), "the example names `{key}` twice");
    }
    (keys, uncommented)
}

#[test]
fn the_example_names_every_option_of_serve_and_nothing_else() {
    let (keys, _) = example_keys();
    let options: BTreeSet<String> = settings::keys(&verifier::cli::command(), Some("serve")).into_iter().collect();
    let missing: Vec<_> = options.difference(&keys).collect();
    let extra: Vec<_> = keys.difference(&options).collect();
    assert!(missing.is_empty(), "options of `verifier serve` the example does not explain: {missing:?}");
    assert!(extra.is_empty(), "keys in the example that are not options: {extra:?}");
}

#[test]
fn every_value_in_the_example_parses_as_its_option() {
    let (_, uncommented) = example_keys();
    // The example's pairs that exclude each other are shown one way each: drop one of each pair.
    let text: String = uncommented
        .lines()
        .filter(|l| !l.starts_with("demo =") && !l.starts_with("session-seconds ="))
        .map(|l| format!("{l}\n"))
        .collect();
    let command = settings::apply_text(verifier::cli::command(), Some("serve"), &text, "example").unwrap();
    let matches = command.try_get_matches_from(["verifier", "serve"]);
    let matches = matches.unwrap_or_else(|e| panic!("the example's values do not parse: {e}"));
    let serve = matches.subcommand_matches("serve").unwrap();
    assert_eq!(serve.get_one::<i64>("session_minutes"), Some(&20));
    assert_eq!(serve.get_one::<String>("mail_from").unwrap(), "在外選挙インターネット投票 <noreply@localhost>");
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `verifier serve` with `args` and `env`, and returns the address it says it listens on.
fn listening(args: &[&str], env: &[(&str, String)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_verifier"));
    command.arg("serve").args(args).env_remove("VERIFIER_LISTEN").env_remove("VERIFIER_CONFIG");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    line.trim().strip_prefix("verifier: listening on ").unwrap_or_else(|| panic!("no address: {line:?}")).to_owned()
}

#[test]
fn the_file_sets_the_environment_overrides_it_and_a_flag_overrides_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("verifier.toml");
    let [from_file, from_env, from_flag] = [free_port(), free_port(), free_port()];
    std::fs::write(&file, format!("demo = true\nlisten = \"127.0.0.1:{from_file}\"\n")).unwrap();
    let config = file.to_str().unwrap();

    assert_eq!(listening(&["--config", config], &[]), format!("http://127.0.0.1:{from_file}/"));
    let env = [("VERIFIER_LISTEN", format!("127.0.0.1:{from_env}"))];
    assert_eq!(listening(&["--config", config], &env), format!("http://127.0.0.1:{from_env}/"));
    let flag = format!("127.0.0.1:{from_flag}");
    assert_eq!(listening(&["--config", config, "--listen", &flag], &env), format!("http://127.0.0.1:{from_flag}/"));
    let by_env = [("VERIFIER_CONFIG", config.to_owned())];
    assert_eq!(listening(&[], &by_env), format!("http://127.0.0.1:{from_file}/"), "VERIFIER_CONFIG names the file");
}

#[test]
fn a_misspelt_key_a_secret_mode_or_a_clash_in_the_file_stops_the_server_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("demo = true\nlisen = \"127.0.0.1:0\"\n", "`lisen`"),
        ("demo = true\ninsecure-test-clock-offset-seconds = 60\n", "`insecure-test-clock-offset-seconds`"),
    ] {
        let file = dir.path().join("verifier.toml");
        std::fs::write(&file, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_verifier")).args(["serve", "--config"]).arg(&file).output().unwrap();
        assert!(!out.status.success(), "{text} was taken");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("SETTINGS_UNKNOWN_KEY") && err.contains(key), "{err}");
    }
    let file = dir.path().join("both.toml");
    std::fs::write(&file, "db = \"verifier.sqlite\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verifier")).args(["serve", "--demo", "--config"]).arg(&file).output();
    let err = String::from_utf8_lossy(&out.as_ref().unwrap().stderr).into_owned();
    assert!(!out.unwrap().status.success() && err.contains("not both"), "a file's db and --demo: {err}");
}
