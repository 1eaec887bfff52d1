//! `hsm-lab`: a SoftHSM2 laboratory, the stand-in for the counting room's HSM in the demo, the rehearsal, the
//! bench and the tests (issue 23 part 3: one set-up instead of six). It finds the PKCS#11 module and gives a
//! token folder with its configuration file; SoftHSM2 reads the file named by `SOFTHSM2_CONF` when a process
//! initialises the module, so each program that opens a token is started with [`Lab::command`].
//!
//! What this must never do: be used by a program that holds a real election's key. The counting tool takes its
//! module and token on its command line; only its demos, rehearsals, benches and tests use this crate.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// Where SoftHSM2's module is installed on Debian and elsewhere.
pub const MODULE_CANDIDATES: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// The variable SoftHSM2 reads its configuration file's path from.
pub const CONF_ENV: &str = "SOFTHSM2_CONF";

/// The PKCS#11 module: `SOFTHSM2_MODULE` if set, else the first of [`MODULE_CANDIDATES`] installed.
pub fn module() -> anyhow::Result<PathBuf> {
    if let Some(m) = std::env::var_os("SOFTHSM2_MODULE") {
        return Ok(PathBuf::from(m));
    }
    MODULE_CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists()).with_context(|| {
        format!("SoftHSM2 is not installed (none of {MODULE_CANDIDATES:?} exists); `cargo xtask setup` installs it")
    })
}

/// A token folder and the configuration that points SoftHSM2 at it.
#[derive(Clone, Debug)]
pub struct Lab {
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The folder the tokens are kept in.
    pub tokens: PathBuf,
    /// The configuration file (`SOFTHSM2_CONF`).
    pub conf: PathBuf,
}

impl Lab {
    /// Makes `dir/tokens` and `dir/softhsm2.conf` (file object store, errors only in the log).
    pub fn new(dir: &Path) -> anyhow::Result<Lab> {
        let module = module()?;
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).with_context(|| format!("cannot create {}", tokens.display()))?;
        let conf = dir.join("softhsm2.conf");
        let text =
            format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display());
        std::fs::write(&conf, text).with_context(|| format!("cannot write {}", conf.display()))?;
        Ok(Lab { module, tokens, conf })
    }

    /// A command that opens the lab's tokens (its environment names the configuration).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env(CONF_ENV, &self.conf);
        c
    }

    /// The module's path as text (for command lines).
    pub fn module_arg(&self) -> String {
        self.module.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_points_softhsm2_at_its_own_token_folder() {
        let dir = tempfile::tempdir().unwrap();
        let lab = Lab::new(dir.path()).unwrap();
        assert!(lab.tokens.is_dir() && lab.module.exists());
        let conf = std::fs::read_to_string(&lab.conf).unwrap();
        assert!(conf.contains(&format!("directories.tokendir = {}", lab.tokens.display())), "{conf}");
        let c = lab.command("softhsm2-util");
        assert!(c.get_envs().any(|(k, v)| k == CONF_ENV && v == Some(lab.conf.as_os_str())));
        Lab::new(dir.path()).unwrap();
    }
}
