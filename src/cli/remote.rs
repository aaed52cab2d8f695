//! `--remote URL`: the flags of the verifying client of `ledger serve`, shared by `append`
//! and `trust gate`.

use std::path::PathBuf;

use audit_ledger::error::Result;
use audit_ledger::serve::client::Remote;
use clap::Args;
use sha2::{Digest, Sha256};

use super::Ctx;

/// Where the service is and which log key it must sign with.
#[derive(Debug, Args, Default)]
pub struct RemoteArgs {
    /// Talk to `ledger serve` at URL (e.g. http://127.0.0.1:8417) instead of a local ledger;
    /// every answer is checked (entry, inclusion proof, signed checkpoint, consistency with
    /// what this client saw before).
    #[arg(long, env = "LEDGER_REMOTE", value_name = "URL")]
    pub remote: Option<String>,
    /// With --remote: the log's public key, a .pub file or 64 hex characters (the key the
    /// service signs entries and checkpoints with).
    #[arg(long, env = "LEDGER_LOG_KEY", value_name = "PATH|HEX")]
    pub log_key: Option<String>,
    /// With --remote: a bearer token for a service whose reads need one (better given by the
    /// environment than on the command line, where other users can see it).
    #[arg(
        long,
        env = "LEDGER_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

impl RemoteArgs {
    /// The client, when --remote was given.
    pub fn client(&self, ctx: &Ctx) -> Result<Option<Remote>> {
        let Some(url) = self.remote.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(super::usage(format!(
                "--remote {url}: expected an http:// or https:// URL"
            )));
        }
        let spec = self
            .log_key
            .as_deref()
            .ok_or_else(|| super::usage("--remote needs --log-key (or LEDGER_LOG_KEY): the service's public key, which every answer must be signed with"))?;
        let key = match audit_ledger::keys::parse_public_hex(spec.trim()) {
            Ok(k) => k,
            Err(_) => audit_ledger::keys::load_public(std::path::Path::new(spec))?,
        };
        let state: Option<PathBuf> = ctx.state.base().map(|b| {
            let h = hex::encode(Sha256::digest(url.trim_end_matches('/').as_bytes()));
            b.join("remote").join(format!("{}.json", &h[..32]))
        });
        Ok(Some(
            Remote::new(url, key, state).with_token(self.token.clone()),
        ))
    }
}
