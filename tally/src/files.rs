//! Small file helpers: create-only writes, readable by the owner only where secrets are involved.

use std::io::Write as _;
use std::path::Path;

use crate::error::TallyError;

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TallyError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(|e| TallyError::Io(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| TallyError::Io(format!("writing {}: {e}", path.display())))
}

/// Creates a file that must not exist yet, readable and writable by its owner only.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), TallyError> {
    write_new(path, bytes, 0o600)
}

/// Creates a file that must not exist yet, readable by everyone (public outputs).
pub fn write_new_public(path: &Path, bytes: &[u8]) -> Result<(), TallyError> {
    write_new(path, bytes, 0o644)
}
