//! SSH keys as a person makes them (`ssh-keygen`), for the tests of git-signer keys and of
//! authors established by a signed commit.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An `ssh-keygen -t ed25519` key pair (no passphrase) in `dir`.
pub struct SshKey {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl SshKey {
    pub fn new(dir: &Path, name: &str) -> SshKey {
        SshKey::of_type(dir, name, &["-t", "ed25519"])
    }

    pub fn of_type(dir: &Path, name: &str, kind: &[&str]) -> SshKey {
        let private = dir.join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-C", &format!("{name}@laptop"), "-f"])
            .arg(&private)
            .args(kind)
            .stdin(Stdio::null())
            .output()
            .expect("ssh-keygen must be installed (openssh-client)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        SshKey {
            public: PathBuf::from(format!("{}.pub", private.display())),
            private,
        }
    }

    /// The SHA-256 fingerprint `ssh-keygen -l` prints.
    pub fn fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(&self.public)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().nth(1).unwrap().to_string()
    }
}
