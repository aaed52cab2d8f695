//! `ledger serve`: the HTTP service of DESIGN §9 over the ledger in `--dir`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use audit_ledger::error::{Error, Result};
use audit_ledger::serve::http::{self, ServeOptions};
use audit_ledger::serve::Service;
use clap::Args;
use serde_json::json;

use super::Ctx;

/// `ledger serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger serve --key /etc/ledger/log.key                 # http://127.0.0.1:8417\n  ledger serve --key log.key --log json 2>>/var/log/ledger-serve.jsonl  # request log\n  ledger serve --listen 127.0.0.1:0 --json --key log.key  # prints the port chosen\n  ledger serve --read-tokens /etc/ledger/read-tokens      # reads need a bearer token\n\nRunners write with `ledger append --remote URL --log-key log.key.pub --key runner.key`;\ntheir keys are added with `ledger keys add runner.key.pub --writer`. Merge bots ask\n`ledger trust gate --remote URL --log-key log.key.pub --actor A --paths P`.\nSIGTERM or Ctrl-C: stop accepting, finish the batches in flight, exit 0.\nTLS: put the service behind a reverse proxy (docs/serve.md)."
)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8417", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Longest a request may take, body included (ms).
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout_ms: u64,
    /// Requests in flight per client address.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub per_client: usize,
    /// File of SHA-256 hashes (hex, one per line) of the bearer tokens allowed to read; the
    /// tokens themselves are never stored. Without it, reads are open.
    #[arg(long, value_name = "FILE")]
    pub read_tokens: Option<PathBuf>,
    /// Request log on stderr: one line per request (method, route template, status, latency,
    /// client address; never a token, a query string or a body), and the service's own
    /// events. `off` keeps stderr for errors only.
    #[arg(long, env = "LEDGER_LOG", value_enum, default_value_t = LogFormat::Off, value_name = "FORMAT")]
    pub log: LogFormat,
}

/// How `--log` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// No request log.
    Off,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn start_log(format: LogFormat) {
    let base = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_max_level(tracing::Level::INFO);
    // A second subscriber cannot be installed (the first stays): ignored.
    let _ = match format {
        LogFormat::Off => return,
        LogFormat::Text => base.with_ansi(false).try_init(),
        LogFormat::Json => base.json().flatten_event(true).try_init(),
    };
}

fn read_tokens(path: &std::path::Path) -> Result<Vec<[u8; 32]>> {
    let text = audit_ledger::input::read_text_bounded(path, 1 << 20, "read tokens file")?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let h = audit_ledger::merkle::parse_hex_hash(line).ok_or_else(|| {
            Error::malformed_at(
                path.display().to_string(),
                Some(n as u64 + 1),
                None,
                "expected the SHA-256 of a token: 64 lowercase hex characters",
            )
        })?;
        out.push(h);
    }
    Ok(out)
}

pub fn serve(ctx: &Ctx, a: &ServeArgs) -> Result<i32> {
    let signer = ctx.require_signer("serve (the log key that signs entries and checkpoints)")?;
    let opts = ServeOptions {
        timeout: Duration::from_millis(a.timeout_ms.max(1)),
        per_client: a.per_client.max(1),
        read_tokens: match &a.read_tokens {
            Some(p) => read_tokens(p)?,
            None => Vec::new(),
        },
        ..ServeOptions::default()
    };
    let ledger = ctx.ledger()?;
    start_log(a.log);
    let svc = Service::open(ledger, signer)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| Error::io(a.listen.to_string(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(a.listen.to_string(), e))?;
        // The handlers are in place before the address is printed: a SIGTERM sent as soon
        // as the service says it is up is a graceful stop, never the default kill.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Error::internal(format!("cannot handle SIGTERM: {e}")))?;
        let ctrl_c = tokio::signal::ctrl_c();
        ctx.print(
            format!("serving {} on http://{addr}", ctx.dir.display()),
            &json!({"ok": true, "listen": addr.to_string(), "url": format!("http://{addr}"), "entries": svc.size()?}),
        );
        let shutdown = async move {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        };
        tracing::info!(listen = %addr, entries = svc.size().unwrap_or(0), "serving");
        let r = http::serve(svc, listener, opts, shutdown)
            .await
            .map_err(|e| Error::io(addr.to_string(), e));
        tracing::info!("stopped: every batch in flight is written");
        r
    })?;
    Ok(0)
}
