//! `card-helper serve`'s settings (issue 23 part 4): the annotated example names every option and nothing else,
//! each of its values parses, and the real binary takes a value from the file unless a flag overrides it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Command;

const EXAMPLE: &str = include_str!("../card-helper.example.toml");

#[test]
fn the_example_names_every_option_of_serve_and_nothing_else() {
    let keys: BTreeSet<String> = settings::example_settings(EXAMPLE).into_iter().map(|(k, _)| k).collect();
    let options: BTreeSet<String> = settings::keys(&card_helper::cli::command(), Some("serve")).into_iter().collect();
    assert_eq!(keys, options, "the example's keys (left) and `card-helper serve`'s options (right)");
}

#[test]
fn every_value_in_the_example_parses_as_its_option() {
    // soft-card and pkcs11-module exclude each other: the example shows both, one is kept.
    let text: String = settings::example_settings(EXAMPLE)
        .into_iter()
        .filter(|(key, _)| key != "soft-card")
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    let command = settings::apply_text(card_helper::cli::command(), Some("serve"), &text, "example").unwrap();
    let matches = command.try_get_matches_from(["card-helper", "serve"]);
    let matches = matches.unwrap_or_else(|e| panic!("the example's values do not parse: {e}"));
    let serve = matches.subcommand_matches("serve").unwrap();
    assert_eq!(serve.get_one::<u16>("port"), Some(&24190));
    let origins: Vec<&String> = serve.get_many::<String>("allowed_origins").unwrap().collect();
    assert_eq!(origins, ["https://vote.example.jp"]);
}

fn serve(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_card-helper"))
        .arg("serve")
        .args(args)
        .env_remove("CARD_HELPER_CONFIG")
        .env_remove("CARD_HELPER_ALLOWED_ORIGINS")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the helper started with {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_file_gives_the_origin_and_the_card_and_a_flag_overrides_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("card-helper.toml");
    let missing = |name: &str| dir.path().join(name).display().to_string();
    let text = format!("allowed-origin = [\"https://vote.example.jp\"]\nsoft-card = {:?}\n", missing("from-file.json"));
    std::fs::write(&file, text).unwrap();
    let config = file.to_str().unwrap();
    // The origin is required: without the file clap asks for it; with it, the helper goes on to open the card.
    assert!(serve(&[]).contains("--allowed-origin"), "no file: the origin is asked for");
    let err = serve(&["--config", config]);
    assert!(err.contains("from-file.json") && !err.contains("--allowed-origin"), "{err}");
    let flag = missing("from-flag.json");
    let err = serve(&["--config", config, "--soft-card", &flag]);
    assert!(err.contains("from-flag.json") && !err.contains("from-file.json"), "{err}");
}

#[test]
fn a_misspelt_key_stops_the_helper_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("card-helper.toml");
    std::fs::write(&file, "allowed-orgin = [\"https://vote.example.jp\"]\n").unwrap();
    let err = serve(&["--config", file.to_str().unwrap()]);
    assert!(err.contains("SETTINGS_UNKNOWN_KEY") && err.contains("`allowed-orgin`"), "{err}");
}
