//! Build metadata for `ledger --version`: the commit built and a build date.
//!
//! * `LEDGER_COMMIT`: the variable of that name when the build sets it (a container build:
//!   no .git in its context), else `git rev-parse --short=12 HEAD`, else `unknown` (a crate
//!   from crates.io, a source tarball). Uncommitted changes are not tracked: watching
//!   every file would rebuild the crate on each `git add`.
//! * `LEDGER_BUILD_DATE`: `SOURCE_DATE_EPOCH` (reproducible builds) as a UTC date if set, else
//!   the commit's date, else `unknown`. Never the wall clock, so two builds of one commit print
//!   the same.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit or a branch switch: HEAD, the ref it names, packed refs.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/packed-refs");
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{r}");
        }
    }
    // A build without .git (a container, a tarball) can name its commit itself.
    println!("cargo:rerun-if-env-changed=LEDGER_COMMIT");
    let commit = std::env::var("LEDGER_COMMIT")
        .ok()
        .filter(|c| !c.is_empty() && c != "unknown")
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(|secs| {
            let (y, m, d) = civil(secs.div_euclid(86_400));
            format!("{y:04}-{m:02}-{d:02}")
        })
        .or_else(|| git(&["log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%d"]));
    println!(
        "cargo:rustc-env=LEDGER_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=LEDGER_BUILD_DATE={}",
        date.as_deref().unwrap_or("unknown")
    );
}
