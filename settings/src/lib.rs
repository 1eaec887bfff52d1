//! A server's settings in four layers (issue 23 part 4, STYLE.md "Logging and config"): the defaults in code, then
//! a TOML settings file, then the environment (`VERIFIER_*`, `CARD_HELPER_*`), then the command line. Each layer
//! overrides the one before it, as in atuin's `settings.rs`: the file is the deployment's reviewed settings, the
//! environment is how a service manager overrides one of them on one host, and a flag is a one-off.
//!
//! The file's keys are the subcommand's long options without their dashes (`session-minutes = 20`), so the
//! command's `--help` documents the file. [`apply`] turns each key into that option's default, which is why clap's
//! own order (flag, then environment, then default) gives the layers above, and why a value from the file is
//! checked by the same parser as the flag.
//!
//! What it must never do: accept a key that is not an option (a misspelt key would silently leave the default in
//! force), or take a secret: the servers' secrets (keys, PINs, TOTP secrets) are files named by an option, never
//! values in settings.

use std::path::Path;

use clap::Command;

/// Why a settings file cannot be used; each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file cannot be read.
    #[error("SETTINGS_UNREADABLE: cannot read the settings file {path}: {source}. Check the path given with --config.")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("SETTINGS_NOT_TOML: the settings file {path} is not TOML: {message}")]
    NotToml {
        /// The file.
        path: String,
        /// What the TOML parser said, with the line.
        message: String,
    },
    /// A key is not an option of the subcommand.
    #[error(
        "SETTINGS_UNKNOWN_KEY: the settings file {path} has `{key}`, which is not an option of `{command}`. \
         Each key is a long option without its dashes ({command} --help lists them); correct or remove it."
    )]
    UnknownKey {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// The subcommand, e.g. `verifier serve`.
        command: String,
    },
    /// A value is not a string, number, boolean or list of them.
    #[error(
        "SETTINGS_BAD_VALUE: the settings file {path} gives `{key}` a {kind}; give a string, a number, true or \
         false, or a list of them."
    )]
    BadValue {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// The TOML type found.
        kind: &'static str,
    },
}

/// Parses `argv` as `P`, over the settings file that `subcommand`'s `--config` option names (by flag or by its
/// environment variable), if it does; clap's own errors (and `--help`) end the process as `Parser::parse` does.
pub fn parse<P: clap::Parser>(argv: Vec<std::ffi::OsString>, subcommand: &str) -> Result<P, SettingsError> {
    let first = P::command().ignore_errors(true).try_get_matches_from(&argv).ok();
    let file = first
        .as_ref()
        .and_then(|m| m.subcommand_matches(subcommand))
        .and_then(|m| m.try_get_one::<std::path::PathBuf>("config").ok().flatten());
    let command = match file {
        Some(path) => apply(P::command(), Some(subcommand), path)?,
        None => P::command(),
    };
    let matches = command.try_get_matches_from(argv).unwrap_or_else(|e| e.exit());
    Ok(P::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

/// Makes each key of the settings file `path` the default of the option of the same long name in `subcommand`
/// of `command` (or of `command` itself when `subcommand` is `None`), so that the environment and the command
/// line still override it. A value from the file satisfies an option's `required`, but not a
/// `required_unless_present` (clap cannot be told to forget one): a server checks such a rule in its own code.
pub fn apply(command: Command, subcommand: Option<&str>, path: &Path) -> Result<Command, SettingsError> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| SettingsError::Unreadable { path: shown.clone(), source })?;
    apply_text(command, subcommand, &text, &shown)
}

/// [`apply`] on the text of a settings file; `shown` names the file in messages.
pub fn apply_text(
    command: Command,
    subcommand: Option<&str>,
    text: &str,
    shown: &str,
) -> Result<Command, SettingsError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| SettingsError::NotToml { path: shown.into(), message: e.to_string() })?;
    let name = match subcommand {
        Some(sub) => format!("{} {sub}", command.get_name()),
        None => command.get_name().to_owned(),
    };
    let target = match subcommand {
        Some(sub) => command.find_subcommand(sub).cloned().unwrap_or_else(|| Command::new(sub.to_owned())),
        None => command.clone(),
    };
    let mut updated = target;
    for (key, value) in &table {
        let unknown = || SettingsError::UnknownKey { path: shown.into(), key: key.clone(), command: name.clone() };
        let id = updated
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && key != "config")
            .map(|a| a.get_id().clone())
            .ok_or_else(unknown)?;
        let values = strings(value).ok_or_else(|| SettingsError::BadValue {
            path: shown.into(),
            key: key.clone(),
            kind: value.type_str(),
        })?;
        // A value from the file satisfies "required": clap counts only flags and the environment as present.
        updated = updated.mut_arg(id, |a| a.default_values(values).required(false));
    }
    Ok(match subcommand {
        Some(sub) => command.mut_subcommand(sub, |_| updated),
        None => updated,
    })
}

/// Lists the long options a settings file may set for `subcommand` of `command`: the keys an annotated example
/// file must document.
pub fn keys(command: &Command, subcommand: Option<&str>) -> Vec<String> {
    let target = match subcommand {
        Some(sub) => command.find_subcommand(sub),
        None => Some(command),
    };
    let mut keys: Vec<String> = target
        .into_iter()
        .flat_map(|c| c.get_arguments())
        .filter(|a| !a.is_global_set())
        .filter_map(|a| a.get_long())
        .filter(|l| !matches!(*l, "config" | "help" | "version"))
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys
}

/// Returns the settings an annotated example file names, in order: each line `key = value` or `# key = value`
/// (commented out, as examples show a default), as its key and the line uncommented. A test checks an example
/// against [`keys`] with it, and parses the uncommented lines with [`apply_text`].
pub fn example_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let uncommented = line.strip_prefix("# ").unwrap_or(line);
            let (key, _) = uncommented.split_once(" = ")?;
            let is_key = key.starts_with(|c: char| c.is_ascii_lowercase())
                && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            is_key.then(|| (key.to_owned(), uncommented.to_owned()))
        })
        .collect()
}

/// The strings clap parses for a TOML value, or `None` for a table or a date.
fn strings(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(vec![s.clone()]),
        toml::Value::Integer(i) => Some(vec![i.to_string()]),
        toml::Value::Float(f) => Some(vec![f.to_string()]),
        toml::Value::Boolean(b) => Some(vec![b.to_string()]),
        toml::Value::Array(items) => {
            items.iter().map(|v| strings(v).filter(|s| s.len() == 1).and_then(|mut s| s.pop())).collect()
        }
        toml::Value::Datetime(_) | toml::Value::Table(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use clap::{Arg, ArgAction, Command};

    use super::*;

    fn server() -> Command {
        Command::new("server").subcommand(
            Command::new("serve")
                .arg(Arg::new("config").long("config"))
                .arg(Arg::new("port").long("port").env("SETTINGS_TEST_PORT").default_value("8080"))
                .arg(Arg::new("db").long("db").required(true))
                .arg(Arg::new("demo").long("demo").action(ArgAction::SetTrue).conflicts_with("db"))
                .arg(Arg::new("exempt").long("exempt").value_delimiter(',').action(ArgAction::Append)),
        )
    }

    fn port(command: Command, argv: &[&str]) -> String {
        let m = command.try_get_matches_from(argv).unwrap();
        m.subcommand_matches("serve").unwrap().get_one::<String>("port").unwrap().clone()
    }

    #[test]
    fn the_file_overrides_the_default_and_a_flag_overrides_the_file() {
        let with_file = apply_text(server(), Some("serve"), "port = 9000\ndb = \"v.sqlite\"\n", "t.toml").unwrap();
        assert_eq!(port(server(), &["server", "serve", "--db", "x"]), "8080");
        assert_eq!(port(with_file.clone(), &["server", "serve"]), "9000", "the file's db satisfies --db");
        assert_eq!(port(with_file, &["server", "serve", "--port", "7000"]), "7000");
    }

    #[test]
    fn a_key_that_is_not_an_option_is_refused_with_its_name() {
        let e = apply_text(server(), Some("serve"), "prot = 9000\n", "t.toml").unwrap_err().to_string();
        assert!(e.starts_with("SETTINGS_UNKNOWN_KEY") && e.contains("`prot`") && e.contains("server serve"), "{e}");
        let e = apply_text(server(), Some("serve"), "config = \"x\"\n", "t.toml").unwrap_err().to_string();
        assert!(e.starts_with("SETTINGS_UNKNOWN_KEY"), "a file cannot name another file: {e}");
    }

    #[test]
    fn a_value_the_option_cannot_take_is_refused_by_its_own_parser() {
        let tables = apply_text(server(), Some("serve"), "[port]\nx = 1\n", "t.toml").unwrap_err().to_string();
        assert!(tables.starts_with("SETTINGS_BAD_VALUE"), "{tables}");
        let lists = apply_text(server(), Some("serve"), "exempt = [\"a\", \"b\"]\ndemo = true\n", "t.toml").unwrap();
        let m = lists.try_get_matches_from(["server", "serve", "--db", "x"]).unwrap();
        let serve = m.subcommand_matches("serve").unwrap();
        let exempt: Vec<&String> = serve.get_many::<String>("exempt").unwrap().collect();
        assert_eq!(exempt, ["a", "b"]);
        assert!(serve.get_flag("demo"));
    }

    #[test]
    fn an_example_names_its_settings_commented_or_not_and_nothing_in_its_prose() {
        let text = "# A comment that says port = 1 in passing.\n# port = 8080\ndb = \"v.sqlite\"\n#no = 1\n";
        let found = example_settings(text);
        assert_eq!(found, [("port".into(), "port = 8080".into()), ("db".into(), "db = \"v.sqlite\"".into())]);
    }

    #[test]
    fn keys_lists_the_long_options_but_config_and_help() {
        assert_eq!(keys(&server(), Some("serve")), ["db", "demo", "exempt", "port"]);
    }
}
