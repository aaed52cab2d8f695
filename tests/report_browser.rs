//! The report in a real browser: scripts/report-screenshot.sh renders the generated sample and
//! an empty ledger with this build, loads both pages in headless Chromium (Debian's package,
//! driven by playwright-core from npm) and fails on any console error or warning, page error,
//! request, missing section or undrawn chart; it writes a PNG of each page.
//!
//! Chromium and playwright-core are installed by .ci/run; under CI their absence fails the
//! test, elsewhere it is reported and the test returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

#[test]
fn the_report_renders_in_chromium_without_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = std::env::var("CI_TOOLS")
        .unwrap_or_else(|_| root.join("target/ci-tools").display().to_string());
    let have_browser =
        Path::new(&std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
            .exists();
    let have_driver = Path::new(&tools)
        .join("node_modules/playwright-core/package.json")
        .exists();
    if !(have_browser && have_driver) {
        assert!(
            std::env::var_os("CI").is_none(),
            "under CI, chromium and playwright-core must be installed (.ci/run does it)"
        );
        eprintln!("report_browser: NOT RUN (no chromium or playwright-core; see .ci/run)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = Command::new("sh")
        .arg(root.join("scripts/report-screenshot.sh"))
        .arg(out.path())
        .env("LEDGER", env!("CARGO_BIN_EXE_ledger"))
        .env("CI_TOOLS", &tools)
        .env_remove("LEDGER_DIR")
        .env_remove("LEDGER_SIGNING_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "report check failed:\n{stdout}\n{stderr}"
    );
    // Both pages passed, the sample shows levels, and the PNGs are real pictures.
    assert_eq!(stdout.matches(": ok;").count(), 2, "{stdout}");
    let sample = stdout
        .lines()
        .find(|l| l.starts_with("sample.html"))
        .unwrap();
    assert!(
        sample.contains("levels [") && !sample.contains("levels []"),
        "{sample}"
    );
    assert!(sample.contains("6/6 charts drawn"), "{sample}");
    for png in ["report-sample.png", "report-empty.png"] {
        let bytes = std::fs::read(out.path().join(png)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
            "{png}: {} bytes",
            bytes.len()
        );
    }
}
