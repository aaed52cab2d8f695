//! Where a ledger handle keeps its client state (see [`crate::ledger::view`] for what is in
//! it): `--state DIR`, `$XDG_STATE_HOME/ledger`, `$HOME/.local/state/ledger`, or nowhere.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Where the client state lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateLocation {
    /// `$XDG_STATE_HOME/ledger`, else `$HOME/.local/state/ledger`; none when neither is set.
    #[default]
    Default,
    /// This directory (`--state DIR`).
    Dir(PathBuf),
    /// No state: every run starts from the first entry and records nothing (`--no-state`).
    Off,
}

impl StateLocation {
    /// The base directory, if there is one.
    pub fn base(&self) -> Option<PathBuf> {
        match self {
            StateLocation::Off => None,
            StateLocation::Dir(d) => Some(d.clone()),
            StateLocation::Default => {
                let xdg = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty());
                if let Some(x) = xdg {
                    return Some(PathBuf::from(x).join("ledger"));
                }
                let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
                Some(PathBuf::from(home).join(".local/state/ledger"))
            }
        }
    }

    /// The state directory of the log with this origin.
    pub fn dir_for(&self, origin: &str) -> Option<PathBuf> {
        let digest = Sha256::digest(origin.as_bytes());
        self.base()
            .map(|b| b.join(hex::encode(digest.get(..8).unwrap_or_default())))
    }

    /// The state directory of the ledger in `dir` with this origin: one per origin and
    /// directory (`<origin digest>/<directory digest>`), since two checkouts of one ledger
    /// may legitimately stand at different points.
    pub fn dir_for_ledger(&self, origin: &str, dir: &Path) -> Option<PathBuf> {
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
        self.dir_for(origin)
            .map(|d| d.join(hex::encode(digest.get(..8).unwrap_or_default())))
    }
}
