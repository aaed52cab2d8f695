//! The HTTP side of `ledger serve`: routes of DESIGN §9 over [`Service`], JSON in and out,
//! errors as `{"error":{"code","message"}}` with the status of [`Error::http_status`].
//!
//! Limits: request bodies at most [`ServeOptions::max_body`] (1 MiB), every request answered
//! or cut off within [`ServeOptions::timeout`] (a slow body gets 408), at most
//! [`ServeOptions::per_client`] requests in flight per client address (429 beyond), and
//! optional bearer tokens for reads, kept as SHA-256 hashes and compared in constant time.
//! Nothing secret is logged: request logs carry method, route, status and latency only.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Outcome, Query as EntryQuery, Service};
use crate::error::Error;
use crate::ledger::entry::{decode_sig, Submission};
use crate::ledger::{Draft, Kind, Submitted};

/// How the service listens and what it allows.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Longest a request may take, body included.
    pub timeout: Duration,
    /// Largest request body.
    pub max_body: usize,
    /// Requests in flight per client address.
    pub per_client: usize,
    /// SHA-256 of each bearer token allowed to read; empty: reads are open.
    pub read_tokens: Vec<[u8; 32]>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            timeout: Duration::from_secs(10),
            max_body: 1 << 20,
            per_client: 64,
            read_tokens: Vec::new(),
        }
    }
}

#[derive(Clone)]
struct App {
    svc: Service,
    opts: Arc<ServeOptions>,
    in_flight: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// An error as the API shows it.
struct ApiError(u16, String, String);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e.http_status(), e.kind_code().to_string(), e.to_string())
    }
}

impl ApiError {
    fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError(status, code.to_string(), message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error": {"code": self.1, "message": self.2}});
        (status, axum::Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn json_response(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// The routes, with their limits.
pub fn router(svc: Service, opts: ServeOptions) -> Router {
    let app = App {
        svc,
        opts: Arc::new(opts.clone()),
        in_flight: Arc::new(Mutex::new(HashMap::new())),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/checkpoint", get(checkpoint))
        .route("/v1/entries", post(append).get(list))
        .route("/v1/entries/{seq}", get(entry))
        .route("/v1/proof/inclusion", get(inclusion))
        .route("/v1/proof/consistency", get(consistency))
        .route("/v1/trust/{actor}", get(trust))
        .route("/v1/gate", post(gate))
        .fallback(|| async { ApiError::new(404, "not-found", "no such route") })
        .layer(axum::extract::DefaultBodyLimit::max(opts.max_body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            opts.timeout,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Per-client concurrency, read tokens, metrics and the request log.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let resp = match Slot::take(&app, ip) {
        None => {
            let mut r = ApiError::new(
                429,
                "too-many-requests",
                format!(
                    "more than {} requests in flight from this client",
                    app.opts.per_client
                ),
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            r
        }
        Some(_slot) => {
            // `_slot` gives the place back when this future ends or is dropped (a client that
            // went away).
            let open = matches!(route.as_str(), "/healthz" | "/readyz")
                || (route == "/v1/entries" && req.method() == axum::http::Method::POST);
            if open || authorised(&app.opts, req.headers()) {
                json_errors(next.run(req).await).await
            } else {
                let mut r = ApiError::new(
                    401,
                    "unauthorised",
                    "a valid bearer token is needed to read",
                )
                .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
                r
            }
        }
    };
    let status = resp.status().as_u16();
    app.svc.metrics().request(&route, status);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        ms = started.elapsed().as_millis() as u64,
        client = %ip.map(|i| i.to_string()).unwrap_or_default(),
        "request"
    );
    resp
}

/// A place among a client's requests in flight, given back on drop.
struct Slot {
    app: App,
    ip: Option<IpAddr>,
}

impl Slot {
    fn take(app: &App, ip: Option<IpAddr>) -> Option<Slot> {
        if let Some(ip) = ip {
            let mut m = app.in_flight.lock().ok()?;
            let n = m.entry(ip).or_insert(0);
            if *n >= app.opts.per_client {
                return None;
            }
            *n += 1;
        }
        Some(Slot {
            app: app.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        if let Ok(mut m) = self.app.in_flight.lock() {
            if let Some(n) = m.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&ip);
                }
            }
        }
    }
}

/// Errors the framework answers itself (a body over the limit, a wrong method) in the API's
/// JSON error form.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (code, msg) = match status.as_u16() {
        413 => (
            "too-large",
            "request body larger than the limit (1 MiB)".to_string(),
        ),
        405 => (
            "method-not-allowed",
            "method not allowed on this route".to_string(),
        ),
        408 => (
            "timeout",
            "request not received within the time limit".to_string(),
        ),
        s => ("error", format!("status {s}")),
    };
    ApiError::new(status.as_u16(), code, msg).into_response()
}

/// Reads are open when no token is configured; otherwise the bearer token's SHA-256 must
/// equal one of the configured hashes (compared without an early exit).
fn authorised(opts: &ServeOptions, headers: &HeaderMap) -> bool {
    if opts.read_tokens.is_empty() {
        return true;
    }
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let h: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut ok = 0u8;
    for t in &opts.read_tokens {
        let diff = t.iter().zip(&h).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        ok |= u8::from(diff == 0);
    }
    ok == 1
}

async fn readyz(State(app): State<App>) -> Response {
    match app.svc.broken() {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(why) => ApiError::new(503, "broken", why).into_response(),
    }
}

async fn metrics(State(app): State<App>) -> Response {
    if let Ok(n) = app.svc.size() {
        app.svc.metrics().set_entries(n);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.svc.metrics().render(),
    )
        .into_response()
}

async fn checkpoint(State(app): State<App>) -> ApiResult {
    let (note, _) = app.svc.checkpoint()?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// A submission as it travels: what the runner signed, its key id and signature.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    kind: String,
    actor: String,
    body: Value,
    ts: String,
    id: String,
    signer: String,
    sig: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AppendBody {
    Batch { submissions: Vec<Value> },
    One(Value),
}

fn parse_submission(i: usize, v: Value) -> Result<Submitted, ApiError> {
    parse_submission_at(&format!("submissions[{i}]"), v)
}

/// A submission from its wire form; errors name it as `at` (e.g. `submissions[3]`).
fn parse_submission_at(at: &str, v: Value) -> Result<Submitted, ApiError> {
    let w: Wire = serde_json::from_value(v)
        .map_err(|e| ApiError::new(400, "invalid", format!("{at}: {e}")))?;
    let kind = Kind::parse(&w.kind).ok_or_else(|| {
        ApiError::new(
            400,
            "invalid",
            format!("{at}.kind: unknown kind {:?}", w.kind),
        )
    })?;
    if !crate::ledger::body::is_lower_hex(&w.signer, 16) {
        return Err(ApiError::new(
            400,
            "invalid",
            format!("{at}.signer: expected 16 lowercase hex characters"),
        ));
    }
    let sig = decode_sig(&w.sig)
        .map_err(|e| ApiError::new(400, "invalid", format!("{at}.{}", e.reason)))?;
    Ok(Submitted {
        draft: Draft {
            kind,
            actor: w.actor,
            body: w.body,
        },
        ts: w.ts,
        submission: Submission {
            id: w.id,
            signer: w.signer,
            sig,
        },
    })
}

/// The per-submission results of a group commit, as the API shows them (each with its
/// inclusion proof in the tree of `size`), whether any was written now, and the first
/// refusal.
fn results_of(
    app: &App,
    outcomes: Vec<Outcome>,
    size: u64,
) -> Result<(Vec<Value>, bool, Option<ApiError>), ApiError> {
    let mut results = Vec::with_capacity(outcomes.len());
    let mut worst: Option<ApiError> = None;
    let mut any_created = false;
    for o in outcomes {
        match o {
            Outcome::Created(s) => {
                // The line as the writer wrote and synced it.
                any_created = true;
                let seq = s.entry.seq;
                let proof = app.svc.inclusion(seq, Some(size))?;
                results.push(json!({
                    "status": "created",
                    "seq": seq,
                    "hash": s.entry.hash_hex(),
                    "entry": s.line,
                    "inclusion": proof,
                }));
            }
            Outcome::Existing(seq) => {
                let s = app.svc.entry(seq)?;
                let proof = app.svc.inclusion(seq, Some(size))?;
                results.push(json!({
                    "status": "existing",
                    "seq": seq,
                    "hash": s.entry.hash_hex(),
                    "entry": s.line,
                    "inclusion": proof,
                }));
            }
            Outcome::Refused(e) => {
                let api = ApiError(e.http_status(), e.kind_code().into(), e.to_string());
                results
                    .push(json!({"status": "refused", "error": {"code": api.1, "message": api.2}}));
                worst.get_or_insert(api);
            }
        }
    }
    Ok((results, any_created, worst))
}

async fn append(State(app): State<App>, body: Bytes) -> ApiResult {
    let parsed: AppendBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(400, "malformed", format!("request body: not JSON: {e}")))?;
    let raw = match parsed {
        AppendBody::Batch { submissions } => submissions,
        AppendBody::One(v) => vec![v],
    };
    let subs = raw
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_submission(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    let outcomes = app.svc.submit(subs).await?;
    let (note, size) = app.svc.checkpoint()?;
    let (results, any_created, worst) = results_of(&app, outcomes, size)?;
    match worst {
        None => Ok(json_response(
            if any_created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            json!({"checkpoint": note, "results": results}),
        )),
        Some(ApiError(status, code, message)) => Ok(json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"error": {"code": code, "message": message}, "checkpoint": note, "results": results}),
        )),
    }
}

fn parse_u64(what: &str, s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>().map_err(|_| {
        ApiError::new(
            400,
            "invalid",
            format!("{what}: expected a non-negative integer, found {s:?}"),
        )
    })
}

async fn entry(State(app): State<App>, Path(seq): Path<String>) -> ApiResult {
    let seq = parse_u64("seq", &seq)?;
    let s = app.svc.entry(seq)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"seq": seq, "hash": s.entry.hash_hex(), "entry": s.line}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    kind: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(app): State<App>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(p) = q.map_err(|e| ApiError::new(400, "invalid", e.body_text()))?;
    let kind =
        match &p.kind {
            None => None,
            Some(k) => Some(Kind::parse(k).ok_or_else(|| {
                ApiError::new(400, "invalid", format!("kind: unknown kind {k:?}"))
            })?),
        };
    let since_ms = match &p.since {
        None => None,
        Some(s) => Some(
            crate::time::parse_instant(s)
                .map_err(|e| ApiError::new(400, "invalid", format!("since: {e}")))?,
        ),
    };
    let cursor = p
        .cursor
        .as_deref()
        .map(|c| parse_u64("cursor", c))
        .transpose()?
        .unwrap_or(0);
    let limit = p
        .limit
        .as_deref()
        .map(|c| parse_u64("limit", c))
        .transpose()?
        .unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(400, "invalid", "limit: expected 1 to 1000"));
    }
    let page = app.svc.query(&EntryQuery {
        kind,
        actor: p.actor,
        since_ms,
        cursor,
        limit: limit as usize,
    })?;
    let entries: Vec<Value> = page
        .entries
        .iter()
        .map(|s| json!({"seq": s.entry.seq, "hash": s.entry.hash_hex(), "entry": s.line}))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"entries": entries, "next_cursor": page.next_cursor}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionParams {
    seq: String,
    size: Option<String>,
}

async fn inclusion(
    State(app): State<App>,
    q: Result<Query<InclusionParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(p) = q.map_err(|e| ApiError::new(400, "invalid", e.body_text()))?;
    let seq = parse_u64("seq", &p.seq)?;
    let size = p
        .size
        .as_deref()
        .map(|s| parse_u64("size", s))
        .transpose()?;
    let proof = app.svc.inclusion(seq, size)?;
    Ok(json_response(StatusCode::OK, json!(proof)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyParams {
    from: String,
    to: Option<String>,
}

async fn consistency(
    State(app): State<App>,
    q: Result<Query<ConsistencyParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(p) = q.map_err(|e| ApiError::new(400, "invalid", e.body_text()))?;
    let from = parse_u64("from", &p.from)?;
    let to = p.to.as_deref().map(|s| parse_u64("to", s)).transpose()?;
    let proof = app.svc.consistency(from, to)?;
    Ok(json_response(StatusCode::OK, json!(proof)))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(500, "internal", format!("worker failed: {e}")))?
        .map_err(ApiError::from)
}

async fn trust(State(app): State<App>, Path(actor): Path<String>) -> ApiResult {
    let svc = app.svc.clone();
    let j = match svc.score_now(&actor)? {
        Some(j) => j,
        None => blocking(move || svc.score(&actor)).await?,
    };
    Ok(json_response(StatusCode::OK, j))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateBody {
    actor: String,
    #[serde(default)]
    paths: Vec<String>,
    subject: Option<String>,
    #[serde(default)]
    record: bool,
    /// The commit the change is (full id), and the branch it goes to: approvals bound to it
    /// count.
    source_commit: Option<String>,
    target: Option<String>,
    /// With `record`: the `approval` a gate recorder signed (the `record` of a query's answer).
    submission: Option<Value>,
}

async fn gate(State(app): State<App>, body: Bytes) -> ApiResult {
    let g: GateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(400, "invalid", format!("request body: {e}")))?;
    let q = super::GateAsk {
        actor: g.actor,
        paths: g.paths,
        subject: g.subject,
        change: crate::trust::gate::ChangeRef {
            source_commit: g.source_commit,
            target: g.target,
            diff_sha256: None,
        },
    };
    let svc = app.svc.clone();
    if g.record {
        let raw = g.submission.ok_or_else(|| {
            ApiError::new(
                400,
                "invalid",
                "submission: recording a decision needs the `approval` a gate recorder signed (the `record` of the query's answer)",
            )
        })?;
        let sub = parse_submission_at("submission", raw)?;
        let (decision, checked) = blocking(move || svc.check_gate_record(&q, sub)).await?;
        let outcomes = app.svc.submit_checked(vec![checked]).await?;
        let (note, size) = app.svc.checkpoint()?;
        let (results, any_created, worst) = results_of(&app, outcomes, size)?;
        let mut j = decision;
        if let Some(r) = results.first().filter(|r| r["seq"].is_u64()) {
            j["recorded"] = json!(true);
            j["approval_seq"] = r["seq"].clone();
            j["approval_hash"] = r["hash"].clone();
        }
        j["checkpoint"] = json!(note);
        j["results"] = json!(results);
        return match worst {
            None => Ok(json_response(
                if any_created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                j,
            )),
            Some(ApiError(status, code, message)) => Ok(json_response(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                json!({"error": {"code": code, "message": message}, "checkpoint": j["checkpoint"], "results": j["results"]}),
            )),
        };
    }
    if g.submission.is_some() {
        return Err(ApiError::new(
            400,
            "invalid",
            "submission: only with \"record\": true",
        ));
    }
    // Facts in memory: answered on this worker; stale ones are rebuilt off the runtime.
    let j = match svc.gate_now(&q)? {
        Some(j) => j,
        None => blocking(move || svc.gate(&q)).await?,
    };
    Ok(json_response(StatusCode::OK, j))
}

/// Serve `svc` on `listener` until `shutdown` resolves; then stop taking requests, let those
/// in flight finish (their group commits are durable before they are answered) and return.
pub async fn serve(
    svc: Service,
    listener: tokio::net::TcpListener,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(svc.clone(), opts);
    let r = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    svc.close();
    r
}
