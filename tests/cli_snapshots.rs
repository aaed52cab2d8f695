//! Snapshots of real invocations (trycmd): `tests/cmd/*.md` hold `$ ledger ...` lines with
//! their exact stdout, and `? N` where the exit status is not 0. Every command's `--help` is in
//! `tests/cmd/help.md` (a unit test in src/cli checks none is missing); usage errors and
//! `--version` are in `tests/cmd/outputs.md`; the main human outputs of a fixture ledger
//! (`tests/cmd/ledger.in/`: signed entries, checkpoints) are `tests/cmd/<name>.toml` with
//! `<name>.stdout`, each run in a sandbox copy of it (`[..]` stands for what changes between
//! runs, such as durations). After a deliberate change:
//! `TRYCMD=overwrite cargo test --test cli_snapshots`, then review the diff.

#[test]
fn cli_snapshots() {
    // `--help` shows the value of an option's variable when it is set: none are.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LEDGER_") {
            std::env::remove_var(k);
        }
    }
    trycmd::TestCases::new()
        .register_bin("ledger", trycmd::cargo::cargo_bin!("ledger"))
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .case("tests/cmd/*.md")
        .case("tests/cmd/*.toml");
}
