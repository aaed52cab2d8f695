//! Running the health check: `sh -c CMD` in its own process group, with a deadline.
//!
//! The command's stdout and stderr go to one file (in arrival order, like a terminal), which
//! is hashed afterwards: no pipe can fill up and block the check, and the output's size does
//! not matter. The check runs in a new process group so that on a timeout, an interrupt, or
//! when the shell exits while children linger, the whole group is killed with `SIGKILL` and
//! nothing is left running in the worktree that is about to be removed.

use std::io::{Read, Seek as _, SeekFrom};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// How many bytes of the end of the output a report keeps for people.
pub const TAIL_BYTES: usize = 4096;

/// How the check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The shell exited with this code.
    Exited(i32),
    /// The shell was killed by this signal (not by us).
    Signaled(i32),
    /// The deadline passed; the process group was killed.
    TimedOut,
}

/// What a finished check produced.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// How it ended.
    pub ending: Ending,
    /// Wall-clock time from spawn to exit (or to the kill), in milliseconds.
    pub duration_ms: u64,
    /// SHA-256 of stdout and stderr as interleaved in the output file.
    pub output_sha256: [u8; 32],
    /// Size of that output.
    pub output_bytes: u64,
    /// The last [`TAIL_BYTES`] of the output (lossy UTF-8).
    pub output_tail: String,
}

/// Run `sh -c cmd` in `dir` with `env` added, writing output to a file in `scratch`.
/// Returns `Err(Error::Interrupted)` when `cancel` became true (the group is killed first).
pub fn run(
    cmd: &str,
    dir: &Path,
    env: &[(&str, String)],
    timeout: Duration,
    scratch: &Path,
    cancel: &AtomicBool,
) -> Result<CheckResult> {
    let out_path = scratch.join("check-output");
    let out = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&out_path)
        .map_err(|e| Error::io(&out_path, e))?;
    let err = out.try_clone().map_err(|e| Error::io(&out_path, e))?;
    let writer = out.try_clone().map_err(|e| Error::io(&out_path, e))?;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(err))
        .process_group(0);
    for (k, v) in env {
        command.env(k, v);
    }
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| {
        // The standard library refuses a command with a NUL byte before starting anything:
        // that is the caller's parameter. Any other failure to start the shell is a fault
        // of this machine (a command the shell cannot run makes the check fail with 127).
        if e.kind() == std::io::ErrorKind::InvalidInput {
            return Error::invalid("check", format!("cannot start `sh -c`: {e}"));
        }
        let why = std::io::Error::new(e.kind(), format!("cannot start `sh -c`: {e}"));
        Error::io("sh", why)
    })?;
    let pgid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
    let kill_group = || {
        if let Some(p) = pgid {
            // ESRCH (group already gone) is the normal case after a clean exit.
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
    };
    let deadline = started + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(e) => {
                kill_group();
                let _ = child.wait();
                return Err(Error::io(&out_path, e));
            }
        }
        if cancel.load(Ordering::SeqCst) {
            kill_group();
            let _ = child.wait();
            return Err(Error::Interrupted(
                "the health check was interrupted".into(),
            ));
        }
        if Instant::now() >= deadline {
            kill_group();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    // Children the shell left behind (e.g. `server &`) would keep running in a directory that
    // is about to be deleted.
    kill_group();
    let ending = match status {
        None => Ending::TimedOut,
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => Ending::Exited(c),
            (None, Some(sig)) => Ending::Signaled(sig),
            (None, None) => Ending::Exited(-1),
        },
    };
    let (output_sha256, output_bytes, output_tail) = digest_output(out, &out_path)?;
    Ok(CheckResult {
        ending,
        duration_ms,
        output_sha256,
        output_bytes,
        output_tail,
    })
}

fn digest_output(mut f: std::fs::File, path: &Path) -> Result<([u8; 32], u64, String)> {
    f.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    let mut tail: Vec<u8> = Vec::with_capacity(TAIL_BYTES * 2);
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        h.update(chunk);
        total += n as u64;
        tail.extend_from_slice(chunk);
        if tail.len() > TAIL_BYTES {
            let cut = tail.len() - TAIL_BYTES;
            tail.drain(..cut);
        }
    }
    Ok((
        h.finalize().into(),
        total,
        String::from_utf8_lossy(&tail).into_owned(),
    ))
}
