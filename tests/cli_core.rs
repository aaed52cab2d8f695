//! CLI behaviour of the core commands: bad input is refused with exit 2, a message naming the
//! file/line/field, and a byte-identical ledger; torn tails; keys from openssl; help texts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{code, stderr, stdout, Env};

/// Run `args` and require exit 2, an error mentioning `needle`, and no change to the ledger.
fn refused(env: &Env, args: &[&str], needle: &str) {
    let before = env.read_log();
    let out = env.run(args);
    let err = stderr(&out);
    assert_eq!(
        code(&out),
        Some(2),
        "{args:?}: expected exit 2, got {:?}: {err}",
        code(&out)
    );
    assert!(
        err.contains(needle),
        "{args:?}: message should mention {needle:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(env.read_log(), before, "{args:?} changed the ledger");
}

fn refused_stdin(env: &Env, args: &[&str], input: &[u8], needle: &str) {
    let before = env.read_log();
    let out = env.run_stdin(args, input);
    let err = stderr(&out);
    assert_eq!(code(&out), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: message should mention {needle:?}: {err}"
    );
    assert_eq!(env.read_log(), before);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let env = Env::new();
    let key = env.signed_ledger();
    env.fill(&key, 5);
    let k = key.to_str().unwrap();
    let dep = ["--key", k, "append", "deploy", "--actor", "ci"];

    refused(
        &env,
        &[&dep[..], &["--body", "{not json"]].concat(),
        "--body: invalid JSON",
    );
    refused(
        &env,
        &[
            &dep[..],
            &[
                "--body",
                r#"{"env":5,"version":"v","commit":"c","status":"succeeded"}"#,
            ],
        ]
        .concat(),
        "body.env",
    );
    refused(
        &env,
        &[
            &dep[..],
            &[
                "--env",
                "p",
                "--version",
                "v",
                "--commit",
                "c",
                "--status",
                "done",
            ],
        ]
        .concat(),
        "body.status",
    );
    refused(
        &env,
        &[&dep[..], &["--env", "p", "--version", "v", "--commit", "c"]].concat(),
        "body.status: missing",
    );
    refused(
        &env,
        &["--key", k, "append", "deploys", "--actor", "ci"],
        "unknown kind `deploys`",
    );
    refused(
        &env,
        &[
            &dep[..],
            &[
                "--body",
                r#"{"env":"p","version":"v","commit":"c","status":"succeeded","load":0.5}"#,
            ],
        ]
        .concat(),
        "floating-point",
    );
    refused(&env, &[&dep[..], &["--body", r#"{"env":"p","version":"v","commit":"c","status":"succeeded","n":9007199254740992}"#]].concat(), "out of range");

    // Non-UTF-8 body file and batch.
    let bad = env.path().join("bad.json");
    std::fs::write(&bad, b"{\"type\":\"t\",\"data\":{\"x\":\"\xff\xfe\"}}").unwrap();
    refused(
        &env,
        &[
            "--key",
            k,
            "append",
            "event",
            "--actor",
            "ci",
            "--body",
            &format!("@{}", bad.display()),
        ],
        "bad.json",
    );
    refused(
        &env,
        &["--key", k, "append", "--batch", bad.to_str().unwrap()],
        "bad.json",
    );

    // A line over 1 MiB.
    let big = format!(
        r#"{{"type":"t","data":{{"blob":"{}"}}}}"#,
        "x".repeat((1 << 20) + 10)
    );
    let bigf = env.path().join("big.json");
    std::fs::write(&bigf, big).unwrap();
    refused(
        &env,
        &[
            "--key",
            k,
            "append",
            "event",
            "--actor",
            "ci",
            "--body",
            &format!("@{}", bigf.display()),
        ],
        "more than 1 MiB",
    );

    // Batch errors name the batch line; nothing of the batch is written.
    let batch = "{\"kind\":\"event\",\"actor\":\"a\",\"body\":{\"type\":\"t\",\"data\":{}}}\n{\"kind\":\"event\",\"actor\":\"a\",\"body\":{\"type\":\"t\"}}\n";
    refused_stdin(
        &env,
        &["--key", k, "append", "--batch", "-"],
        batch.as_bytes(),
        "stdin: line 2: body.data: missing",
    );

    // Keys: missing, not a key, too open, untrusted.
    refused(
        &env,
        &[
            "--key",
            "/nonexistent/key",
            "append",
            "event",
            "--actor",
            "a",
            "--type",
            "t",
            "--data",
            "{}",
        ],
        "/nonexistent/key",
    );
    let junk = env.path().join("junk.key");
    std::fs::write(&junk, "not a key").unwrap();
    set_mode(&junk, 0o600);
    refused(
        &env,
        &[
            "--key",
            junk.to_str().unwrap(),
            "append",
            "event",
            "--actor",
            "a",
            "--type",
            "t",
            "--data",
            "{}",
        ],
        "PKCS#8",
    );
    set_mode(&key, 0o644);
    refused(&env, &dep_event(k), "chmod 600");
    set_mode(&key, 0o600);
    let other = env.keygen("other");
    refused(&env, &dep_event(other.to_str().unwrap()), "not trusted");
    // Unsigned where signatures are required.
    refused(
        &env,
        &[
            "append", "event", "--actor", "a", "--type", "t", "--data", "{}",
        ],
        "requires signatures",
    );

    // --dir that is not a ledger.
    let out = env
        .cmd(&["verify"])
        .arg("--dir")
        .arg(env.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(2));
    assert!(
        stderr(&out).contains("not a ledger directory"),
        "{}",
        stderr(&out)
    );

    // The ledger is still valid after all of that.
    env.ok(&["verify"]);
}

fn dep_event(k: &str) -> Vec<&str> {
    vec![
        "--key", k, "append", "event", "--actor", "a", "--type", "t", "--data", "{}",
    ]
}

fn set_mode(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn torn_tail_blocks_appends_until_explicit_repair() {
    let env = Env::new();
    let key = env.signed_ledger();
    env.fill(&key, 3);
    let good = env.read_log();
    let mut torn = good.clone();
    torn.extend_from_slice(br#"{"actor":"ci","body":{"#);
    std::fs::write(env.log(), &torn).unwrap();

    let out = env.run(&["--json", "verify"]);
    assert_eq!(code(&out), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "torn-tail");
    assert_eq!(v["line"], 5);

    let k = key.to_str().unwrap();
    let out = env.run(&dep_event(k));
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("torn tail"), "{}", stderr(&out));
    assert_eq!(env.read_log(), torn);

    let out = stdout(&env.run(&["--json", "repair", "--torn-tail"]).clone());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["repaired"], true);
    assert_eq!(v["offset"], good.len());
    assert_eq!(
        std::fs::read(v["saved_to"].as_str().unwrap()).unwrap(),
        br#"{"actor":"ci","body":{"#
    );
    assert_eq!(env.read_log(), good);
    env.ok(&["verify"]);
    env.ok(&dep_event(k));
    // Nothing left to repair.
    assert!(env
        .ok(&["repair", "--torn-tail"])
        .contains("nothing to repair"));
}

#[test]
fn openssl_generated_key_signs_entries() {
    let env = Env::new();
    env.ok(&["init", "--origin", "o"]);
    let key = env.path().join("ossl.key");
    let st = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    set_mode(&key, 0o600);
    // Write PATH.pub from the openssl key via the library, then add it as the root.
    let s = audit_ledger::keys::Signer::load(&key).unwrap();
    std::fs::write(
        env.path().join("ossl.key.pub"),
        format!("{}\n", hex::encode(s.public().as_bytes())),
    )
    .unwrap();
    env.ok(&[
        "--key",
        key.to_str().unwrap(),
        "keys",
        "add",
        env.path().join("ossl.key.pub").to_str().unwrap(),
    ]);
    env.ok(&dep_event(key.to_str().unwrap()));
    let out = env.ok(&["verify"]);
    assert!(out.contains("OK: 2 entries, 2 signatures checked"), "{out}");
}

#[test]
fn unsigned_ledger_and_log_filters() {
    let env = Env::new();
    env.ok(&["init", "--origin", "o"]);
    env.ok(&[
        "append",
        "deploy",
        "--actor",
        "ci",
        "--env",
        "prod",
        "--version",
        "v1",
        "--commit",
        "c1",
        "--status",
        "succeeded",
    ]);
    env.ok(&[
        "append",
        "rollback",
        "--actor",
        "oncall",
        "--env",
        "prod",
        "--from-version",
        "v1",
        "--to-version",
        "v0",
        "--trigger",
        "error-rate",
    ]);
    env.ok(&[
        "append",
        "event",
        "--actor",
        "ci",
        "--type",
        "lint",
        "--data",
        r#"{"warnings":0}"#,
    ]);
    let out = env.ok(&["verify"]);
    assert!(
        out.contains("OK: 3 entries, 0 signatures checked, 3 unsigned"),
        "{out}"
    );
    // --require-signatures on the command line makes them invalid.
    let out = env.run(&["verify", "--require-signatures"]);
    assert_eq!(code(&out), Some(1));
    assert!(
        stderr(&out).contains("line 1 (seq 0): unsigned entry"),
        "{}",
        stderr(&out)
    );

    let log = env.ok(&["log", "--kind", "rollback"]);
    assert_eq!(log.lines().count(), 1);
    assert!(log.contains("prod v1 → v0 (error-rate)"), "{log}");
    let json = env.ok(&["--json", "log", "--actor", "ci"]);
    assert_eq!(json.lines().count(), 2);
    for l in json.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["actor"], "ci");
    }
    assert_eq!(env.ok(&["log", "--since", "2999-01-01"]).lines().count(), 0);
    assert_eq!(env.ok(&["log", "--limit", "1"]).lines().count(), 1);
    let show: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "show", "1"])).unwrap();
    assert_eq!(show["kind"], "rollback");
    let out = env.run(&["show", "9"]);
    assert_eq!(code(&out), Some(2));
    // A flag that belongs to another kind is refused.
    let out = env.run(&["append", "merge", "--actor", "x", "--env", "prod"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("--env does not apply to kind `merge`"));
}

#[test]
fn help_has_examples_and_errors_have_json() {
    let env = Env::new();
    for cmd in [
        &["--help"][..],
        &["append", "--help"],
        &["verify", "--help"],
        &["keygen", "--help"],
        &["repair", "--help"],
    ] {
        let out = env.run(cmd);
        assert_eq!(code(&out), Some(0));
        assert!(
            stdout(&out).contains("Example"),
            "{cmd:?} help has no example"
        );
    }
    let out = env.run(&["--json", "verify"]);
    assert_eq!(code(&out), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit"], 2);
    // A usage error is exit 2.
    assert_eq!(code(&env.run(&["append"])), Some(2));
}

#[test]
fn keygen_writes_0600_and_refuses_overwrite() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    let k = env.keygen("k");
    assert_eq!(
        std::fs::metadata(&k).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&k).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let pubtext = std::fs::read_to_string(format!("{}.pub", k.display())).unwrap();
    assert_eq!(pubtext.len(), 65);
    let out = env.run(&["keygen", "--name", "k", "--out", k.to_str().unwrap()]);
    assert_eq!(code(&out), Some(2));
    assert_eq!(std::fs::read_to_string(&k).unwrap(), text);
    // The key never appears in output.
    let out = env.run(&[
        "--json",
        "keygen",
        "--name",
        "k2",
        "--out",
        env.path().join("k2.key").to_str().unwrap(),
    ]);
    let secret = std::fs::read_to_string(env.path().join("k2.key")).unwrap();
    let body: String = secret.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!stdout(&out).contains(&body) && !stderr(&out).contains(&body));
}

#[test]
fn keygen_creates_missing_parent_directories_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    let parent = env.path().join("home/.config/ledger");
    let k = parent.join("release.key");
    let out = env.run(&["keygen", "--name", "release", "--out", k.to_str().unwrap()]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    for d in [
        env.path().join("home"),
        env.path().join("home/.config"),
        parent,
    ] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    assert!(k.is_file() && k.with_extension("key.pub").is_file());
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env.run(&["completions", shell]);
        assert_eq!(code(&out), Some(0), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("ledger"), "{shell}");
    }
    // bash checks the syntax of what it would source (bash is on every machine CI runs on).
    let script = env.run(&["completions", "bash"]).stdout;
    let mut child = std::process::Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &script).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.run(&["completions", "tcsh"]);
    assert_eq!(code(&out), Some(2));
}

#[test]
fn man_pages_cover_every_command_and_render() {
    let env = Env::new();
    let dir = env.path().join("man");
    let out = env.run(&["--json", "man", "--out", dir.to_str().unwrap()]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages: Vec<&str> = v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for want in [
        "ledger.1",
        "ledger-append.1",
        "ledger-keys-add.1",
        "ledger-bundle-verify.1",
        "ledger-man.1",
    ] {
        assert!(pages.contains(&want), "{want} missing from {pages:?}");
    }
    // man(1) renders them; global options appear on subcommand pages.
    let out = std::process::Command::new("man")
        .arg("-l")
        .arg(dir.join("ledger-append.1"))
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man(1) is installed (.ci/run installs man-db)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "man -l: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ledger-append") && text.contains("--dir"),
        "{text}"
    );
}

#[test]
fn version_names_the_commit_and_date() {
    let env = Env::new();
    let out = env.run(&["--version"]);
    assert_eq!(code(&out), Some(0));
    let v = stdout(&out);
    assert!(
        v.starts_with(&format!("ledger {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let inner = v.trim().rsplit_once(", ").unwrap().1.trim_end_matches(')');
    assert!(
        inner == "unknown" || (inner.len() == 10 && inner.as_bytes()[4] == b'-'),
        "build date {inner:?} in {v}"
    );
}

#[test]
fn config_says_where_each_setting_comes_from() {
    let env = Env::new();
    let k = env.signed_ledger();
    let key = k.to_str().unwrap();
    let settings = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        all.push("config");
        let out = env.run(&all);
        assert_eq!(code(&out), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let row = |v: &serde_json::Value, name: &str| -> serde_json::Value {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {v}"))
    };
    // Before any policy: config.toml's, unsigned; the key from the flag.
    let v = settings(&["--key", key]);
    assert_eq!(v["signed_policy"], false);
    assert_eq!(
        row(&v, "require_signatures")["from"],
        "config.toml (unsigned)"
    );
    assert_eq!(row(&v, "signing key")["from"], "flag --key");
    assert_eq!(row(&v, "[trust]")["from"], "default");
    // A signed policy takes over, and an edit of config.toml is named and ignored.
    assert_eq!(code(&env.run(&["--key", key, "policy", "set"])), Some(0));
    let cfg = env.dir().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n[trust]\nprior = 0.99\n")).unwrap();
    let v = settings(&[]);
    assert_eq!(v["signed_policy"], true);
    let rs = row(&v, "require_signatures");
    assert!(
        rs["from"]
            .as_str()
            .unwrap()
            .starts_with("signed policy (seq "),
        "{rs}"
    );
    let trust = row(&v, "[trust]");
    assert!(
        trust["from"].as_str().unwrap().starts_with("signed policy"),
        "{trust}"
    );
    assert!(
        trust["note"]
            .as_str()
            .unwrap()
            .contains("differs and is ignored"),
        "{trust}"
    );
    assert_eq!(row(&v, "signing key")["from"], "default");
    // The human form is a table.
    let out = env.run(&["config"]);
    assert_eq!(code(&out), Some(0));
    assert!(
        stdout(&out).contains("signed policy (seq"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let env = Env::new();
    let _k = env.signed_ledger();
    let esc = |args: &[&str], no_color: bool| -> bool {
        let mut c = env.cmd(args);
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        let out = c.output().unwrap();
        assert_eq!(code(&out), Some(0), "{args:?}: {}", stderr(&out));
        out.stdout.contains(&0x1b)
    };
    // Not a terminal: no colour unless asked; `always` wins over NO_COLOR; `never` never.
    assert!(!esc(&["verify"], false));
    assert!(esc(&["--color", "always", "verify"], false));
    assert!(esc(&["--color=always", "verify"], true));
    assert!(!esc(&["--color", "never", "verify"], false));
    // JSON is never coloured.
    assert!(!esc(&["--color", "always", "--json", "verify"], false));
    let out = env.run(&["--color", "sometimes", "verify"]);
    assert_eq!(code(&out), Some(2));
}

#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt as _;
    let env = Env::new();
    let bad = std::ffi::OsStr::from_bytes(b"--color=\xff");
    for args in [
        vec![bad, std::ffi::OsStr::new("verify")],
        vec![std::ffi::OsStr::new("--json"), bad],
    ] {
        let out = env.cmd(&[]).args(&args).output().unwrap();
        assert_eq!(code(&out), Some(2), "{}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}
