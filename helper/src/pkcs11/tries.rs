//! The helper's own persistent PIN try counters, per card and key (SoftHSM2 never locks a PIN by itself): one JSON
//! file, written atomically. A damaged file is an error, never a fresh start with new tries.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, ensure};
use serde::{Deserialize, Serialize};

use crate::pin::KeyKind;

/// The state file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct State {
    /// Format version.
    pub(super) version: u32,
    /// By `<card id>/<auth|sign>`; a missing entry means all tries are left.
    #[serde(default)]
    pub(super) keys: BTreeMap<String, KeyState>,
}

pub(super) const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct KeyState {
    pub(super) kind: KeyKind,
    pub(super) tries_left: u8,
    /// For the signing key: its password has been given correctly at least once, so the signing certificate may
    /// be shown.
    #[serde(default)]
    pub(super) sign_unlocked_once: bool,
}

impl KeyState {
    pub(super) fn fresh(kind: KeyKind) -> KeyState {
        KeyState { kind, tries_left: kind.max_tries(), sign_unlocked_once: false }
    }
}

pub(super) fn read_state(path: &Path) -> anyhow::Result<State> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(State { version: STATE_VERSION, keys: BTreeMap::new() });
        }
        Err(e) => return Err(e).with_context(|| format!("reading the PIN try counters {}", path.display())),
    };
    // A damaged file is an error, not a fresh start: starting afresh would hand out new tries.
    let state: State = serde_json::from_slice(&bytes)
        .with_context(|| format!("the PIN try counters {} are damaged; fix or remove the file", path.display()))?;
    ensure!(
        state.version == STATE_VERSION,
        "the PIN try counters {} have version {}, this helper reads version {STATE_VERSION}",
        path.display(),
        state.version
    );
    Ok(state)
}

/// Writes the state file atomically: a temporary file in the same directory, flushed to disk, then renamed.
pub(super) fn write_state(path: &Path, state: &State) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_vec_pretty(state)?;
    files::replace(path, &json, files::Access::Owner)
        .with_context(|| format!("saving the PIN try counters {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("state.json");
        let mut state = read_state(&path).unwrap();
        assert!(state.keys.is_empty());
        state
            .keys
            .insert("S#ab/sign".into(), KeyState { kind: KeyKind::Sign, tries_left: 2, sign_unlocked_once: true });
        write_state(&path, &state).unwrap();
        let again = read_state(&path).unwrap();
        let k = again.keys["S#ab/sign"];
        assert_eq!((k.kind, k.tries_left, k.sign_unlocked_once), (KeyKind::Sign, 2, true));
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(read_state(&path).is_err());
    }
}
