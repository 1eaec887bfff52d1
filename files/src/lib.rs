//! `files`: how every program here writes a file (issue 23 part 3: one writer instead of five). The bytes go to a
//! temporary file in the same folder, readable by its owner only from the start, are synced, and only then take the
//! final name: by [`create_new`], which refuses a name already taken, or by [`replace`], which swaps the old file
//! for the new one in one rename. A public file is opened to everyone's reading only once it is whole.
//!
//! What this must never do: leave a half-written file under the final name, let a secret be readable by anyone
//! but its owner at any moment, or overwrite a file through [`create_new`].

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Who may read the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Its owner only (`0600`): keys, TOTP secrets, session tokens, custody records.
    Owner,
    /// Everyone may read it (`0644`): certificates, public keys, signed records and reports.
    Everyone,
}

/// A file that was not written, and why; nothing was left under its name.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// [`create_new`] found the name taken.
    #[error("{0} exists already; nothing was overwritten (write to a new name, or remove the old file first)")]
    Exists(PathBuf),
    /// Anything else: a missing folder, no space, no permission.
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
}

/// Writes a new file; refuses if the name is taken.
pub fn create_new(path: &Path, bytes: &[u8], access: Access) -> Result<(), WriteError> {
    let file = whole(path, bytes, access)?;
    file.persist_noclobber(path).map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => WriteError::Exists(path.to_path_buf()),
        _ => WriteError::Io(path.to_path_buf(), e.error),
    })?;
    Ok(())
}

/// Writes a file, replacing any file of that name in one step (readers see the old file or the new one).
pub fn replace(path: &Path, bytes: &[u8], access: Access) -> Result<(), WriteError> {
    let file = whole(path, bytes, access)?;
    file.persist(path).map_err(|e| WriteError::Io(path.to_path_buf(), e.error))?;
    Ok(())
}

/// The bytes in a synced temporary file beside `path`, with the access asked for.
fn whole(path: &Path, bytes: &[u8], access: Access) -> Result<tempfile::NamedTempFile, WriteError> {
    let io = |e: std::io::Error| WriteError::Io(path.to_path_buf(), e);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new().prefix(".writing-").tempfile_in(dir).map_err(io)?;
    file.write_all(bytes).and_then(|()| file.as_file().sync_all()).map_err(io)?;
    #[cfg(unix)]
    if access == Access::Everyone {
        use std::os::unix::fs::PermissionsExt;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = access;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_file_is_never_written_over_and_a_secret_is_its_owners() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        create_new(&key, b"secret", Access::Owner).unwrap();
        let again = create_new(&key, b"other", Access::Owner).unwrap_err();
        assert!(matches!(again, WriteError::Exists(_)), "{again}");
        assert!(again.to_string().contains("exists already"), "{again}");
        assert_eq!(std::fs::read(&key).unwrap(), b"secret");
        let cert = dir.path().join("cert.pem");
        create_new(&cert, b"public", Access::Everyone).unwrap();
        #[cfg(unix)]
        assert_eq!((mode(&key), mode(&cert)), (0o600, 0o644));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 2, "no temporary file is left: {leftovers:?}");
    }

    #[test]
    fn a_replaced_file_is_the_whole_new_one_and_a_missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        replace(&state, b"{\"serial\":1}", Access::Everyone).unwrap();
        replace(&state, b"{\"serial\":2}", Access::Owner).unwrap();
        assert_eq!(std::fs::read(&state).unwrap(), b"{\"serial\":2}");
        #[cfg(unix)]
        assert_eq!(mode(&state), 0o600);
        let missing = dir.path().join("no-such-folder/x");
        let e = create_new(&missing, b"x", Access::Owner).unwrap_err();
        assert!(e.to_string().contains("no-such-folder"), "{e}");
    }
}
