//! A writer killed mid-write (SIGKILL) leaves the old file or the new one under the name, never part of one
//! (issue 23 part 3). The test runs itself as the writer: a child process replaces one 4 MiB file again and again,
//! each time filled with a single byte that changes, and is killed at a random moment; the file must then be whole
//! and of one byte. A power cut is not simulated here: the sync before the rename is what covers it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SIZE: usize = 4 << 20;
const CHILD: &str = "FILES_CRASH_TEST_WRITER";

/// The writer (run only as the child): replaces the file named by the environment variable until killed.
#[test]
fn writer() {
    let Some(path) = std::env::var_os(CHILD) else { return };
    let path = Path::new(&path);
    for round in 0u64.. {
        let byte = b'a' + (round % 26) as u8;
        files::replace(path, &vec![byte; SIZE], files::Access::Owner).unwrap();
    }
}

/// Returns a pseudo-random delay from 5 to 60 ms (no rand crate needed for a kill time).
fn delay(i: u32) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    Duration::from_millis(5 + u64::from((nanos ^ i.wrapping_mul(2_654_435_761)) % 56))
}

#[test]
fn a_writer_killed_at_any_moment_leaves_a_whole_file() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    files::replace(&path, &vec![b'-'; SIZE], files::Access::Owner).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..30 {
        let mut child = Command::new(&exe)
            .args(["--exact", "writer", "--nocapture", "--test-threads=1"])
            .env(CHILD, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay(i));
        child.kill().unwrap();
        child.wait().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), SIZE, "kill {i}: the file under the name is {} bytes, not whole", bytes.len());
        assert!(bytes.iter().all(|b| *b == bytes[0]), "kill {i}: the file mixes two writes");
        seen.insert(bytes[0]);
    }
    assert!(seen.len() > 1, "the writer never finished a file before it was killed: the test proved nothing");
}
