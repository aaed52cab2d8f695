//! `schemas/serve.openapi.json` against the real `ledger serve`: the document lists exactly the
//! routes of the router, and every answer of the binary (successes and refusals, on an
//! ephemeral loopback port) validates against the schema the document gives for its route,
//! status and media type, with the document's components resolved at run time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Child;
use std::rc::Rc;
use std::time::Duration;

use audit_ledger::keys::Signer;
use audit_ledger::ledger::{Draft, Kind, Submitted};
use audit_ledger::serve::client::wire_of;
use common::serve::{served_ledger, sign_gate_recorders, start};
use common::{schema_validator, schemas_dir, Env, LocalSchemas};
use serde_json::{json, Value};

/// The document under test.
const DOC: &str = include_str!("../schemas/serve.openapi.json");
/// The router it describes (read to check that the route list below is the router's).
const HTTP_RS: &str = include_str!("../src/serve/http.rs");
/// Our schema ids live under this base; `$ref`s to it resolve to files in `schemas/`.
const SCHEMA_BASE: &str = "https://audit-ledger.invalid/schemas/";

/// Every route of `src/serve/http.rs`: method and path template.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/checkpoint"),
    ("post", "/v1/entries"),
    ("get", "/v1/entries"),
    ("get", "/v1/entries/{seq}"),
    ("get", "/v1/proof/inclusion"),
    ("get", "/v1/proof/consistency"),
    ("get", "/v1/trust/{actor}"),
    ("post", "/v1/gate"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

// ---------------------------------------------------------------------------------------------
// The served ledger (after tests/serve.rs).

struct Served {
    env: Env,
    writer: Signer,
    child: Child,
    url: String,
}

/// A signed ledger (root key = log key), a writer key, and `ledger serve` on it.
fn setup(extra: &[&str]) -> Served {
    let env = Env::new();
    let (log_key, writer_key) = served_ledger(&env);
    let writer = Signer::load(&writer_key).unwrap();
    // The writer may also record gate decisions.
    sign_gate_recorders(&env, &log_key, &[writer.id()]);
    let (child, url) = start(&env, &log_key, extra);
    Served {
        env,
        writer,
        child,
        url,
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn event(runner: usize, n: usize) -> Draft {
    Draft {
        kind: Kind::Event,
        actor: format!("ci/runner-{runner}"),
        body: json!({"type": "step", "data": {"n": n}}),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/// One answer: status, media type (without parameters), raw body.
#[derive(Debug)]
struct Reply {
    status: u16,
    ctype: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

fn media(ctype: &str) -> String {
    ctype
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn call(url: &str, method: &str, path: &str, body: Option<&[u8]>, token: Option<&str>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let u = format!("{url}{path}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let sent = match method {
        "POST" => {
            let mut r = agent.post(&u).header("content-type", "application/json");
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r.send(body.unwrap_or_default())
        }
        _ => {
            let mut r = agent.get(&u);
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r.call()
        }
    };
    let mut r = sent.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(media);
    let body = r.body_mut().read_to_vec().unwrap();
    Reply {
        status,
        ctype,
        body,
    }
}

/// Parse a raw HTTP/1.1 response read to the end (`connection` closed by the server).
fn parse_raw(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let ctype = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| media(v));
    Reply {
        status,
        ctype,
        body: body.as_bytes().to_vec(),
    }
}

// ---------------------------------------------------------------------------------------------
// The document.

/// JSON Pointer escaping of one reference token.
fn esc(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A JSON Pointer as a URI fragment: characters a fragment cannot hold percent-encoded.
fn fragment(ptr: &str) -> String {
    let mut out = String::new();
    for b in ptr.bytes() {
        if b.is_ascii_alphanumeric() || b"/~-._!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The OpenAPI document, validators for the schemas in it, and what was checked.
struct Spec {
    doc: Value,
    validators: RefCell<HashMap<String, Rc<jsonschema::Validator>>>,
    entry: jsonschema::Validator,
    /// (method, path template, status) of every real answer validated.
    seen: RefCell<BTreeSet<(String, String, u16)>>,
}

impl Spec {
    fn load() -> Spec {
        Spec {
            doc: serde_json::from_str(DOC).expect("serve.openapi.json is not JSON"),
            validators: RefCell::new(HashMap::new()),
            entry: schema_validator("entry.schema.json"),
            seen: RefCell::new(BTreeSet::new()),
        }
    }

    /// A validator for the schema at JSON Pointer `ptr` of the document: the document itself,
    /// as a 2020-12 schema whose root is a `$ref` to `ptr`, so `#/components/...` resolves.
    fn validator(&self, ptr: &str) -> Rc<jsonschema::Validator> {
        if let Some(v) = self.validators.borrow().get(ptr) {
            return Rc::clone(v);
        }
        assert!(self.doc.pointer(ptr).is_some(), "no schema at #{ptr}");
        let mut root = self.doc.clone();
        let m = root.as_object_mut().unwrap();
        m.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        m.insert(
            "$id".into(),
            json!(format!("{SCHEMA_BASE}serve.openapi.json")),
        );
        m.insert("$ref".into(), json!(format!("#{}", fragment(ptr))));
        let v = Rc::new(
            jsonschema::options()
                .with_retriever(LocalSchemas)
                .build(&root)
                .unwrap_or_else(|e| panic!("#{ptr}: {e}")),
        );
        self.validators
            .borrow_mut()
            .insert(ptr.to_string(), Rc::clone(&v));
        v
    }

    fn valid_at(&self, ptr: &str, v: &Value) -> bool {
        self.validator(ptr).is_valid(v)
    }

    /// Follow `$ref`s (Reference Objects inside the document) from `ptr`.
    fn deref(&self, mut ptr: String) -> (String, &Value) {
        loop {
            let v = self
                .doc
                .pointer(&ptr)
                .unwrap_or_else(|| panic!("nothing at #{ptr}"));
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    ptr = r
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("#{ptr}: $ref {r} is not local"))
                        .to_string();
                }
                None => return (ptr, v),
            }
        }
    }

    /// The response object the document gives for `method path` and `status`.
    fn response(&self, method: &str, path: &str, status: u16) -> (String, &Value) {
        let op = format!("/paths/{}/{}", esc(path), method.to_ascii_lowercase());
        assert!(
            self.doc.pointer(&op).is_some(),
            "{method} {path} is not in the document"
        );
        let ptr = format!("{op}/responses/{status}");
        assert!(
            self.doc.pointer(&ptr).is_some(),
            "{method} {path} answered {status}, which the document does not list"
        );
        self.deref(ptr)
    }

    /// Check a real answer against the document; returns its body as JSON (a string for
    /// text media types, null for an empty body).
    fn check(&self, method: &str, path: &str, r: &Reply) -> Value {
        let (ptr, resp) = self.response(method, path, r.status);
        let what = format!("{method} {path} {}", r.status);
        let Some(content) = resp.get("content").and_then(Value::as_object) else {
            assert!(
                r.body.is_empty(),
                "{what}: the document gives no content, the server sent {:?}",
                String::from_utf8_lossy(&r.body)
            );
            self.seen_add(method, path, r.status);
            return Value::Null;
        };
        let ctype = r
            .ctype
            .clone()
            .unwrap_or_else(|| panic!("{what}: no content-type"));
        let key = content
            .keys()
            .find(|k| media(k) == ctype)
            .unwrap_or_else(|| {
                panic!(
                    "{what}: content-type {ctype} is not among {:?}",
                    content.keys().collect::<Vec<_>>()
                )
            });
        let instance = if ctype.ends_with("json") {
            r.json()
        } else {
            Value::String(String::from_utf8(r.body.clone()).unwrap())
        };
        let sptr = format!("{ptr}/content/{}/schema", esc(key));
        let v = self.validator(&sptr);
        let errors: Vec<String> = v
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: the body does not match #{sptr}:\n  {}\nbody: {instance}",
            errors.join("\n  ")
        );
        self.check_entries(&what, &instance);
        self.seen_add(method, path, r.status);
        instance
    }

    /// Every `entry` string in an answer is a ledger line that entry.schema.json accepts.
    fn check_entries(&self, what: &str, v: &Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(line)) = m.get("entry") {
                    let e: Value = serde_json::from_str(line).unwrap();
                    assert!(
                        self.entry.is_valid(&e),
                        "{what}: entry.schema.json rejects {line}"
                    );
                }
                m.values().for_each(|x| self.check_entries(what, x));
            }
            Value::Array(a) => a.iter().for_each(|x| self.check_entries(what, x)),
            _ => {}
        }
    }

    fn seen_add(&self, method: &str, path: &str, status: u16) {
        self.seen
            .borrow_mut()
            .insert((method.to_ascii_lowercase(), path.to_string(), status));
    }

    /// Request, require `want`, validate; the body.
    fn expect(
        &self,
        s: &Served,
        method: &str,
        template: &str,
        path: &str,
        body: Option<&[u8]>,
        want: u16,
    ) -> Value {
        self.expect_token(&s.url, method, template, path, body, None, want)
    }

    #[allow(clippy::too_many_arguments)]
    fn expect_token(
        &self,
        url: &str,
        method: &str,
        template: &str,
        path: &str,
        body: Option<&[u8]>,
        token: Option<&str>,
        want: u16,
    ) -> Value {
        let r = call(url, method, path, body, token);
        assert_eq!(
            r.status,
            want,
            "{method} {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        self.check(method, template, &r)
    }
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// The routes as `src/serve/http.rs` declares them: each `.route("PATH", get(..).post(..))`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for line in HTTP_RS.lines() {
        let Some(rest) = line.trim().strip_prefix(".route(\"") else {
            continue;
        };
        let (path, handlers) = rest.split_once('"').unwrap();
        let mut any = false;
        for m in METHODS {
            if handlers.contains(&format!("{m}(")) {
                out.insert((m.to_string(), path.to_string()));
                any = true;
            }
        }
        assert!(any, "no method in {line}");
    }
    out
}

// ---------------------------------------------------------------------------------------------

#[test]
fn the_document_is_openapi_3_1_and_lists_exactly_the_routes_of_the_router() {
    let spec = Spec::load();
    let doc = &spec.doc;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["jsonSchemaDialect"],
        "https://json-schema.org/draft/2020-12/schema"
    );

    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed.len(), ROUTES.len(), "a route listed twice");
    assert_eq!(
        listed,
        routes_in_source(),
        "ROUTES is not the router of src/serve/http.rs"
    );

    let paths = doc["paths"].as_object().expect("no paths");
    let mut documented = BTreeSet::new();
    for (p, item) in paths {
        for (k, _) in item.as_object().unwrap() {
            if METHODS.contains(&k.as_str()) {
                documented.insert((k.clone(), p.clone()));
            }
        }
    }
    for r in &listed {
        assert!(documented.contains(r), "route {r:?} is not in the document");
    }
    for d in &documented {
        assert!(
            listed.contains(d),
            "{d:?} is in the document but not a route"
        );
    }

    // Every operation: a unique operationId, responses whose references resolve and whose
    // schemas compile (external references included).
    let mut ids = BTreeSet::new();
    for (method, path) in &listed {
        let op = &paths[path][method];
        let id = op["operationId"].as_str().expect("no operationId");
        assert!(ids.insert(id.to_string()), "operationId {id} twice");
        let responses = op["responses"].as_object().expect("no responses");
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{method} {path}: no success status"
        );
        for status in responses.keys() {
            let code: u16 = status.parse().expect("status is not a number");
            let (ptr, resp) = spec.response(method, path, code);
            assert!(resp["description"].is_string(), "#{ptr}: no description");
            for key in resp["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|c| c.0)
            {
                spec.validator(&format!("{ptr}/content/{}/schema", esc(key)));
            }
        }
        if let Some(body) = op.get("requestBody") {
            spec.validator(&format!(
                "/paths/{}/{method}/requestBody/content/application~1json/schema",
                esc(path)
            ));
            assert_eq!(body["required"], true);
        }
    }
    // Every schema of the components compiles.
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        spec.validator(&format!("/components/schemas/{}", esc(name)));
    }

    // The proof shapes are those of schemas/*-proof.schema.json.
    for (name, file) in [
        ("InclusionProof", "inclusion-proof.schema.json"),
        ("ConsistencyProof", "consistency-proof.schema.json"),
    ] {
        let mut want: Value =
            serde_json::from_str(&std::fs::read_to_string(schemas_dir().join(file)).unwrap())
                .unwrap();
        let mut got = doc["components"]["schemas"][name].clone();
        for v in [&mut want, &mut got] {
            let m = v.as_object_mut().unwrap();
            for k in ["$schema", "$id", "title", "description"] {
                m.remove(k);
            }
        }
        assert_eq!(got, want, "{name} differs from {file}");
    }
}

#[test]
fn every_route_answers_what_the_document_says() {
    let s = setup(&[]);
    let spec = Spec::load();
    let post =
        |path: &str, body: &[u8], want: u16| spec.expect(&s, "POST", path, path, Some(body), want);
    let get =
        |template: &str, path: &str, want: u16| spec.expect(&s, "GET", template, path, None, want);
    let wire = |sub: &Submitted| serde_json::to_vec(&wire_of(sub)).unwrap();
    let batch = |subs: &[&Submitted]| {
        serde_json::to_vec(
            &json!({"submissions": subs.iter().map(|x| wire_of(x)).collect::<Vec<_>>()}),
        )
        .unwrap()
    };

    assert_eq!(get("/healthz", "/healthz", 200), "ok\n");
    assert_eq!(get("/readyz", "/readyz", 200), "ready\n");

    // Writes: one bare submission, the same again (as a batch), a batch of two.
    let a = Submitted::sign(&s.writer, event(1, 1), "run-1.step-1").unwrap();
    let created = post("/v1/entries", &wire(&a), 201);
    let r0 = &created["results"][0];
    assert_eq!(r0["status"], "created");
    let seq_a = r0["seq"].as_u64().unwrap();
    let again = post("/v1/entries", &batch(&[&a]), 200);
    assert_eq!(again["results"][0]["status"], "existing");
    assert_eq!(again["results"][0]["seq"], seq_a);
    let b = Submitted::sign(&s.writer, event(1, 2), "run-1.step-2").unwrap();
    let c = Submitted::sign(&s.writer, event(2, 3), "run-2.step-3").unwrap();
    let two = post("/v1/entries", &batch(&[&b, &c]), 201);
    assert_eq!(two["results"].as_array().unwrap().len(), 2);

    // The v2 line written for `a` against entry.schema.json, and what the schema refuses.
    let entry = schema_validator("entry.schema.json");
    let line: Value = serde_json::from_str(r0["entry"].as_str().unwrap()).unwrap();
    assert_eq!(line["v"], 2);
    assert_eq!(line["submission"]["id"], "run-1.step-1");
    assert_eq!(line["submission"]["signer"], s.writer.id());
    assert!(entry.is_valid(&line), "{line}");
    let mut no_sub = line.clone();
    no_sub.as_object_mut().unwrap().remove("submission");
    assert!(!entry.is_valid(&no_sub), "v 2 without submission accepted");
    let mut v1_sub = line.clone();
    v1_sub["v"] = json!(1);
    assert!(!entry.is_valid(&v1_sub), "v 1 with submission accepted");
    let mut unsigned = line.clone();
    unsigned.as_object_mut().unwrap().remove("sig");
    unsigned.as_object_mut().unwrap().remove("signer");
    assert!(!entry.is_valid(&unsigned), "unsigned v 2 accepted");
    for (field, bad) in [
        ("id", json!("has space")),
        ("id", json!("x".repeat(129))),
        ("id", json!("")),
        ("signer", json!("ABCDEF0123456789")),
        ("sig", json!("c2ln")),
    ] {
        let mut x = line.clone();
        x["submission"][field] = bad.clone();
        assert!(!entry.is_valid(&x), "submission.{field} = {bad} accepted");
    }
    let mut extra = line.clone();
    extra["submission"]["seq"] = json!(1);
    assert!(!entry.is_valid(&extra));
    let mut v3 = line.clone();
    v3["v"] = json!(3);
    assert!(!entry.is_valid(&v3));

    // The schemas are not vacuous: the real answer with one thing changed is refused.
    let ok_ptr = "/components/schemas/AppendResponse";
    assert!(spec.valid_at(ok_ptr, &created));
    let mut x = created.clone();
    x["surprise"] = json!(1);
    assert!(!spec.valid_at(ok_ptr, &x));
    let mut x = created.clone();
    x["results"][0].as_object_mut().unwrap().remove("inclusion");
    assert!(!spec.valid_at(ok_ptr, &x));
    let mut x = created.clone();
    x["checkpoint"] = json!("not a note");
    assert!(!spec.valid_at(ok_ptr, &x));
    assert!(!spec.valid_at(
        "/components/schemas/Error",
        &json!({"error": {"code": "x", "message": "m", "more": 1}})
    ));
    // The request schema accepts what the client sends.
    let req = "/components/schemas/AppendRequest";
    assert!(spec.valid_at(req, &wire_of(&a)));
    assert!(spec.valid_at(req, &json!({"submissions": [wire_of(&a), wire_of(&b)]})));
    assert!(!spec.valid_at(req, &json!({"submissions": []})));

    // The same id with other content: 409, nothing written; with a new one beside it: 409,
    // and the new one is written (its result says so).
    let before = s.env.read_log();
    let other = Submitted::sign(&s.writer, event(1, 99), "run-1.step-1").unwrap();
    let conflict = post("/v1/entries", &wire(&other), 409);
    assert_eq!(error_code(&conflict), "conflict");
    assert_eq!(conflict["results"][0]["status"], "refused");
    assert_eq!(s.env.read_log(), before, "a conflict wrote something");
    let d = Submitted::sign(&s.writer, event(1, 4), "run-1.step-4").unwrap();
    let partial = post("/v1/entries", &batch(&[&d, &other]), 409);
    assert_eq!(partial["results"][0]["status"], "created");
    assert_eq!(partial["results"][1]["status"], "refused");

    // Refused before anything is queued.
    let before = s.env.read_log();
    let mut unknown = wire_of(&d);
    unknown["kind"] = json!("teleport");
    let mut forged = wire_of(&Submitted::sign(&s.writer, event(1, 5), "forged").unwrap());
    forged["body"]["data"]["n"] = json!(6);
    let mut bad_id = wire_of(&Submitted::sign(&s.writer, event(1, 7), "bad-id").unwrap());
    bad_id["id"] = json!("bad id!");
    let mut field = wire_of(&Submitted::sign(&s.writer, event(1, 8), "field").unwrap());
    field["seq"] = json!(0);
    let bad_ts = {
        let mut w = wire_of(&Submitted::sign(&s.writer, event(1, 9), "ts").unwrap());
        w["ts"] = json!("yesterday");
        w
    };
    for (what, body, code) in [
        ("not JSON", b"{not json".to_vec(), "malformed"),
        (
            "unknown kind",
            serde_json::to_vec(&unknown).unwrap(),
            "invalid",
        ),
        (
            "bad signature",
            serde_json::to_vec(&forged).unwrap(),
            "invalid",
        ),
        ("bad id", serde_json::to_vec(&bad_id).unwrap(), "invalid"),
        (
            "unknown field",
            serde_json::to_vec(&field).unwrap(),
            "invalid",
        ),
        ("bad ts", serde_json::to_vec(&bad_ts).unwrap(), "invalid"),
        (
            "no submissions",
            br#"{"submissions":[]}"#.to_vec(),
            "invalid",
        ),
    ] {
        let v = post("/v1/entries", &body, 400);
        assert_eq!(error_code(&v), code, "{what}: {v}");
        assert!(v.get("results").is_none(), "{what}: {v}");
    }
    let stranger = Signer::generate().unwrap();
    let untrusted = Submitted::sign(&stranger, event(1, 10), "stranger").unwrap();
    let v = post("/v1/entries", &wire(&untrusted), 403);
    assert_eq!(error_code(&v), "untrusted-key");
    let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(1 << 20)).into_bytes();
    post("/v1/entries", &big, 413);
    assert_eq!(
        s.env.read_log(),
        before,
        "a refused request wrote something"
    );

    // Reads.
    let all = get("/v1/entries", "/v1/entries", 200);
    let n = all["entries"].as_array().unwrap().len() as u64;
    assert!(n >= 6, "{all}");
    assert_eq!(all["next_cursor"], Value::Null);
    let page = get(
        "/v1/entries",
        "/v1/entries?kind=event&actor=ci/runner-1&limit=2",
        200,
    );
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_u64().expect("a next_cursor");
    get(
        "/v1/entries",
        &format!("/v1/entries?kind=event&since=2000-01-01&cursor={cursor}"),
        200,
    );
    for q in [
        "limit=0",
        "limit=1001",
        "bogus=1",
        "kind=teleport",
        "cursor=-1",
        "since=yesterday",
    ] {
        let v = get("/v1/entries", &format!("/v1/entries?{q}"), 400);
        assert_eq!(error_code(&v), "invalid", "{q}");
    }
    let one = get("/v1/entries/{seq}", &format!("/v1/entries/{seq_a}"), 200);
    assert_eq!(one["entry"], r0["entry"]);
    assert_eq!(one["hash"], r0["hash"]);
    let v = get("/v1/entries/{seq}", "/v1/entries/99999", 404);
    assert_eq!(error_code(&v), "not-found");
    get("/v1/entries/{seq}", "/v1/entries/first", 400);

    // The served checkpoint covers every entry written. The file beside the ledger is
    // brought up to date by the writer within a flush interval (FLUSH_IDLE after the last
    // commit); once it is, it holds the same signed bytes, and plain `verify` checks it.
    let note = get("/v1/checkpoint", "/v1/checkpoint", 200);
    let note = note.as_str().unwrap().to_string();
    assert_eq!(note.lines().nth(1), Some(n.to_string().as_str()), "{note}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let file = std::fs::read_to_string(s.env.dir().join("checkpoint")).unwrap_or_default();
        if file == note {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the checkpoint file never caught up with the served one:\n{file}\nvs\n{note}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let verified = s.env.run(&["verify", "--json"]);
    assert_eq!(
        common::code(&verified),
        Some(0),
        "{}",
        common::stderr(&verified)
    );

    let p = get(
        "/v1/proof/inclusion",
        &format!("/v1/proof/inclusion?seq={seq_a}"),
        200,
    );
    assert_eq!(p["leaf_index"], seq_a);
    assert_eq!(p["leaf_hash"], r0["hash"]);
    get(
        "/v1/proof/inclusion",
        "/v1/proof/inclusion?seq=1&size=3",
        200,
    );
    get("/v1/proof/inclusion", "/v1/proof/inclusion", 400);
    get("/v1/proof/inclusion", "/v1/proof/inclusion?seq=x", 400);
    get("/v1/proof/inclusion", "/v1/proof/inclusion?seq=99999", 404);
    get(
        "/v1/proof/inclusion",
        &format!("/v1/proof/inclusion?seq=0&size={}", n + 1),
        404,
    );

    let p = get("/v1/proof/consistency", "/v1/proof/consistency?from=2", 200);
    assert_eq!(p["old_size"], 2);
    get(
        "/v1/proof/consistency",
        "/v1/proof/consistency?from=1&to=3",
        200,
    );
    for q in ["", "?from=0", "?from=3&to=2", "?from=two"] {
        get(
            "/v1/proof/consistency",
            &format!("/v1/proof/consistency{q}"),
            400,
        );
    }
    get(
        "/v1/proof/consistency",
        &format!("/v1/proof/consistency?from=1&to={}", n + 1),
        404,
    );

    let score = get("/v1/trust/{actor}", "/v1/trust/alice", 200);
    assert_eq!(score["actor"], "alice");
    assert!(score["tree_size"].as_u64().unwrap() <= n, "{score}");
    let score = get("/v1/trust/{actor}", "/v1/trust/ci%2Frunner-1", 200);
    assert_eq!(score["actor"], "ci/runner-1");

    let d = post(
        "/v1/gate",
        br#"{"actor":"alice","paths":["src/a.rs"]}"#,
        200,
    );
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["recorded"], false);
    post(
        "/v1/gate",
        br#"{"actor":"alice","paths":["src/a.rs"],"subject":"change 7","record":false}"#,
        200,
    );
    for body in [
        &br#"{"actor":"alice","paths":[]}"#[..],
        br#"{"actor":"alice"}"#,
        br#"{"actr":"alice","paths":["a"]}"#,
        b"{not json",
    ] {
        post("/v1/gate", body, 400);
    }
    let v = post(
        "/v1/gate",
        br#"{"actor":"alice","paths":["a"],"record":true}"#,
        400,
    );
    assert_eq!(error_code(&v), "invalid");
    // Recording: the answer's `record` signed by a gate recorder (201, then 200 on replay);
    // a decision the service does not reach (409 stale); a key the policy does not name (403).
    let rec = &d["record"];
    let ts = rec["ts"].as_str().unwrap();
    let signed = |who: &Signer, body: &Value, id: &str| {
        let draft = Draft {
            kind: Kind::Approval,
            actor: "merge-bot".into(),
            body: body.clone(),
        };
        let sub = Submitted::sign_at(who, draft, id, ts.to_string()).unwrap();
        serde_json::to_vec(&json!({"actor": "alice", "paths": ["src/a.rs"], "record": true, "submission": wire_of(&sub)})).unwrap()
    };
    let mut flipped = rec["body"].clone();
    flipped["decision"] = json!("allow");
    let v = post("/v1/gate", &signed(&s.writer, &flipped, "gate-0"), 409);
    assert_eq!(error_code(&v), "stale");
    let v = post("/v1/gate", &signed(&stranger, &rec["body"], "gate-0"), 403);
    assert_eq!(error_code(&v), "untrusted-key");
    let recorded = post("/v1/gate", &signed(&s.writer, &rec["body"], "gate-1"), 201);
    assert_eq!(recorded["recorded"], true);
    assert_eq!(recorded["results"][0]["status"], "created");
    let again = post("/v1/gate", &signed(&s.writer, &rec["body"], "gate-1"), 200);
    assert_eq!(again["results"][0]["status"], "existing");
    assert_eq!(again["approval_seq"], recorded["approval_seq"]);
    let v = post(
        "/v1/gate",
        &signed(&s.writer, &rec["body"], "run-1.step-1"),
        409,
    );
    assert_eq!(error_code(&v), "conflict");
    post("/v1/gate", &big, 413);

    let m = get("/metrics", "/metrics", 200);
    assert!(
        m.as_str().unwrap().contains("ledger_http_requests_total"),
        "{m}"
    );

    // Not a route: 404 with the error body.
    let r = call(&s.url, "GET", "/v1/nope", None, None);
    assert_eq!(r.status, 404);
    assert!(spec.valid_at("/components/schemas/Error", &r.json()));

    // An entry edited behind the service: never served (422), and /readyz says so (503).
    let log = String::from_utf8(s.env.read_log()).unwrap();
    let edited = log.replacen(r#""n":2"#, r#""n":7"#, 1);
    assert_ne!(edited, log);
    std::fs::write(s.env.log(), edited).unwrap();
    let seq_b = two["results"][0]["seq"].as_u64().unwrap();
    let v = get("/v1/entries/{seq}", &format!("/v1/entries/{seq_b}"), 422);
    assert_eq!(error_code(&v), "changed-behind-the-service");
    let v = get("/v1/entries", "/v1/entries", 422);
    assert_eq!(error_code(&v), "changed-behind-the-service");
    let v = get("/readyz", "/readyz", 503);
    assert_eq!(error_code(&v), "broken");
    // Trust and gate answer from trust facts folded before the edit, so they still answer
    // (whatever they answer is checked against the document).
    for (m, t, p, body) in [
        ("GET", "/v1/trust/{actor}", "/v1/trust/alice", None),
        (
            "POST",
            "/v1/gate",
            "/v1/gate",
            Some(&br#"{"actor":"alice","paths":["src/a.rs"]}"#[..]),
        ),
    ] {
        let r = call(&s.url, m, p, body, None);
        spec.check(m, t, &r);
        eprintln!("after the edit: {m} {p} -> {}", r.status);
    }

    // Every route answered at least once, and was checked.
    let seen = spec.seen.borrow();
    for (m, p) in ROUTES {
        assert!(
            seen.iter().any(|(sm, sp, _)| sm == m && sp == p),
            "{m} {p} was never called"
        );
    }
    let mut by_route: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for (m, p, st) in seen.iter() {
        by_route.entry(format!("{m} {p}")).or_default().push(*st);
    }
    eprintln!("validated: {by_route:?}");
}

#[test]
fn tokens_timeouts_and_the_per_client_limit_answer_what_the_document_says() {
    let token = "read-token-for-tests";
    let env_dir = tempfile::tempdir().unwrap();
    let tokens = env_dir.path().join("read-tokens");
    std::fs::write(&tokens, format!("# readers\n{}\n", sha256_hex(token))).unwrap();
    let s = setup(&[
        "--read-tokens",
        tokens.to_str().unwrap(),
        "--timeout-ms",
        "3000",
        "--per-client",
        "1",
    ]);
    let spec = Spec::load();
    let url = s.url.as_str();

    // Reads without a token, or with another one: 401.
    let reads: [(&str, &str, &str, Option<&[u8]>); 9] = [
        ("GET", "/v1/entries", "/v1/entries", None),
        ("GET", "/v1/entries/{seq}", "/v1/entries/0", None),
        ("GET", "/v1/checkpoint", "/v1/checkpoint", None),
        (
            "GET",
            "/v1/proof/inclusion",
            "/v1/proof/inclusion?seq=0",
            None,
        ),
        (
            "GET",
            "/v1/proof/consistency",
            "/v1/proof/consistency?from=1",
            None,
        ),
        ("GET", "/v1/trust/{actor}", "/v1/trust/alice", None),
        ("GET", "/metrics", "/metrics", None),
        (
            "POST",
            "/v1/gate",
            "/v1/gate",
            Some(br#"{"actor":"a","paths":["p"]}"#),
        ),
        ("GET", "/v1/entries", "/v1/entries?limit=1", None),
    ];
    for (m, t, p, body) in reads {
        for tok in [None, Some("another-token")] {
            let v = spec.expect_token(url, m, t, p, body, tok, 401);
            assert_eq!(error_code(&v), "unauthorised", "{m} {p}");
        }
    }
    // With the token: answered.
    for (m, t, p, body) in reads {
        spec.expect_token(url, m, t, p, body, Some(token), 200);
    }
    // Open without a token: health, readiness, and writes (authorised by their signature).
    spec.expect_token(url, "GET", "/healthz", "/healthz", None, None, 200);
    spec.expect_token(url, "GET", "/readyz", "/readyz", None, None, 200);
    let sub = Submitted::sign(&s.writer, event(3, 1), "tok-1").unwrap();
    let body = serde_json::to_vec(&wire_of(&sub)).unwrap();
    spec.expect_token(
        url,
        "POST",
        "/v1/entries",
        "/v1/entries",
        Some(&body),
        None,
        201,
    );
    spec.expect_token(
        url,
        "POST",
        "/v1/entries",
        "/v1/entries",
        Some(b"[]"),
        None,
        400,
    );

    // A slow body holds this client's one slot: another request is 429; the slow one is cut
    // off at the timeout with 408, and its slot is given back.
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(
        b"POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"kind\":",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let v = spec.expect_token(url, "GET", "/healthz", "/healthz", None, None, 429);
    assert_eq!(error_code(&v), "too-many-requests");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    let _ = slow.read_to_end(&mut raw);
    let r = parse_raw(&raw);
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&raw));
    spec.check("POST", "/v1/entries", &r);
    spec.expect_token(url, "GET", "/healthz", "/healthz", None, None, 200);
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
