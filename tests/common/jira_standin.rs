//! A local HTTPS stand-in of Jira's REST API (Cloud v3 or Data Center v2), for tests only.
//!
//! It keeps issues with their custom field values, issue properties and comments, and checks
//! every request against the shapes Atlassian documents:
//! - `Authorization`: `Basic base64(email:api-token)` on Cloud, `Bearer <PAT>` on Data Center;
//!   anything else is answered 401 like Jira does;
//! - paths under `/rest/api/3/` (Cloud) or `/rest/api/2/` (Data Center) only;
//! - `PUT /issue/{key}`: a JSON object with `fields` (and only documented top-level members),
//!   each field known, on the project's screen, and of the field's type (number / string);
//!   answers 204;
//! - `PUT /issue/{key}/properties/{prop}`: a non-empty JSON value; 201 when new, 200 after;
//! - `POST /issue/{key}/comment` (201 with the new id) and `PUT …/comment/{id}` (200): body
//!   `{"body": ADF}` on v3 (`type: doc`, `version: 1`, paragraphs of text nodes) and
//!   `{"body": "text"}` on v2;
//! - `GET /myself`, `/field`, `/issue/{key}`, `/issue/{key}/editmeta`, `/issue/{key}/comment`.
//!
//! Errors use Jira's body `{"errorMessages": [...], "errors": {field: message}}`: 404 for an
//! unknown issue, 400 for a wrong field type or a field not on the screen. Tests can script
//! failures of writes (429 with `Retry-After`, 5xx), take the whole site down (503), or slow
//! answers down. Anything off-spec is kept in `violations` (and answered 400), so a test
//! asserts that list is empty.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

/// Which Jira to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Cloud,
    DataCenter,
}

impl Flavor {
    fn version(self) -> &'static str {
        match self {
            Flavor::Cloud => "3",
            Flavor::DataCenter => "2",
        }
    }
}

/// A custom field Jira knows.
#[derive(Debug, Clone)]
pub struct Field {
    pub id: &'static str,
    pub name: &'static str,
    /// `number` or `string`.
    pub kind: &'static str,
}

/// An issue: its custom field values, properties and comments.
#[derive(Debug, Clone, Default)]
pub struct Issue {
    pub summary: String,
    pub fields: Map<String, Value>,
    pub properties: Map<String, Value>,
    /// (id, body as sent).
    pub comments: Vec<(String, Value)>,
    /// Fields not on this issue's edit screen.
    pub off_screen: BTreeSet<String>,
}

/// A failure to answer a write (PUT/POST) with, instead of doing it.
#[derive(Debug, Clone)]
pub enum Inject {
    /// 429 with this `Retry-After` value.
    TooMany(String),
    /// This status (500, 502, 503, …) without `Retry-After`.
    Status(u16),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub wall: chrono::DateTime<chrono::Utc>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorized: bool,
    pub body: Value,
    pub status: u16,
    pub retry_after: Option<String>,
}

pub struct StandIn {
    pub port: u16,
    pub ca_pem: String,
    pub flavor: Flavor,
    authorization: String,
    fields: Vec<Field>,
    pub issues: Mutex<BTreeMap<String, Issue>>,
    pub seen: Mutex<Vec<Seen>>,
    pub violations: Mutex<Vec<String>>,
    pub script: Mutex<VecDeque<Inject>>,
    pub down: AtomicBool,
    /// Apply a write whose path contains `slow_path` (empty: any write), then wait this long
    /// before answering: the client is mid-request while Jira has already done it.
    pub slow_ms: AtomicU64,
    pub slow_path: Mutex<String>,
    next_comment: AtomicU64,
}

/// The Cloud `Authorization` value for `email` and `token`.
pub fn basic(email: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"))
    )
}

fn jira_error(status: StatusCode, messages: &[&str], errors: Value) -> Response {
    let body = json!({ "errorMessages": messages, "errors": errors });
    (status, axum::Json(body)).into_response()
}

fn not_found_issue() -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
        json!({}),
    )
}

impl StandIn {
    /// Starts the stand-in on 127.0.0.1 over HTTPS. `authorization` is the only
    /// `Authorization` value it accepts.
    pub fn start(
        flavor: Flavor,
        authorization: &str,
        fields: Vec<Field>,
        issues: &[(&str, Issue)],
    ) -> Arc<StandIn> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let crate::pki::Pki {
            ca_pem,
            cert_pem,
            key_pem,
        } = crate::pki::pki("jira stand-in CA");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let standin = Arc::new(StandIn {
            port: listener.local_addr().unwrap().port(),
            ca_pem,
            flavor,
            authorization: authorization.to_string(),
            fields,
            issues: Mutex::new(
                issues
                    .iter()
                    .map(|(k, i)| (k.to_string(), i.clone()))
                    .collect(),
            ),
            seen: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            down: AtomicBool::new(false),
            slow_ms: AtomicU64::new(0),
            slow_path: Mutex::new(String::new()),
            next_comment: AtomicU64::new(10_000),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(standin.clone());
        let acceptor = acceptor(&cert_pem, &key_pem);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(listener, acceptor, app));
        });
        standin
    }

    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }

    pub fn issue(&self, key: &str) -> Option<Issue> {
        self.issues.lock().unwrap().get(key).cloned()
    }

    fn violation(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }

    fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }
}

fn acceptor(cert_pem: &str, key_pem: &str) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn serve(
    listener: std::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}

async fn handle(
    State(j): State<Arc<StandIn>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let wall = chrono::Utc::now();
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let authorized = authorization == j.authorization;
    let scheme = match j.flavor {
        Flavor::Cloud => "Basic ",
        Flavor::DataCenter => "Bearer ",
    };
    if !authorization.starts_with(scheme) {
        j.violation(format!(
            "{method} {path}: Authorization is not {scheme}<credentials> ({:?})",
            authorization.split(' ').next().unwrap_or("")
        ));
    }
    let parsed: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| {
            j.violation(format!("{method} {path}: body is not JSON"));
            Value::Null
        })
    };
    let is_write = method == Method::PUT || method == Method::POST;
    if !is_write && !body.is_empty() {
        j.violation(format!("{method} {path}: a body on a {method}"));
    }
    if is_write {
        let json_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_type {
            j.violation(format!(
                "{method} {path}: Content-Type is not application/json"
            ));
        }
    }
    let response = answer(&j, &method, &path, &query, authorized, is_write, &parsed).await;
    let status = response.status().as_u16();
    let slow_here = path.contains(j.slow_path.lock().unwrap().as_str());
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    j.seen.lock().unwrap().push(Seen {
        at,
        wall,
        method: method.to_string(),
        path,
        query,
        authorized,
        body: parsed,
        status,
        retry_after,
    });
    let slow = j.slow_ms.load(Ordering::SeqCst);
    if is_write && slow > 0 && slow_here && status < 300 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    response
}

async fn answer(
    j: &StandIn,
    method: &Method,
    path: &str,
    query: &str,
    authorized: bool,
    is_write: bool,
    body: &Value,
) -> Response {
    if j.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "<html>maintenance</html>").into_response();
    }
    if !authorized {
        return jira_error(
            StatusCode::UNAUTHORIZED,
            &["You are not authenticated. Authentication required to perform this operation."],
            json!({}),
        );
    }
    let prefix = format!("/rest/api/{}/", j.flavor.version());
    let Some(rest) = path.strip_prefix(&prefix) else {
        j.violation(format!("{method} {path}: not under {prefix}"));
        return StatusCode::NOT_FOUND.into_response();
    };
    if is_write && let Some(inject) = j.script.lock().unwrap().pop_front() {
        return match inject {
            Inject::TooMany(after) => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", after)],
                "Rate limit exceeded.",
            )
                .into_response(),
            Inject::Status(code) => jira_error(
                StatusCode::from_u16(code).unwrap(),
                &["Internal server error"],
                json!({}),
            ),
        };
    }
    let parts: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["myself"]) => myself(j),
        ("GET", ["field"]) => fields(j),
        ("GET", ["issue", key]) => get_issue(j, key, query),
        ("GET", ["issue", key, "editmeta"]) => editmeta(j, key),
        ("PUT", ["issue", key]) => edit_issue(j, key, body),
        ("PUT", ["issue", key, "properties", prop]) => set_property(j, key, prop, body),
        ("GET", ["issue", key, "comment"]) => comments(j, key, query),
        ("POST", ["issue", key, "comment"]) => write_comment(j, key, None, body),
        ("PUT", ["issue", key, "comment", id]) => write_comment(j, key, Some(id), body),
        _ => {
            j.violation(format!(
                "{method} {path}: not an endpoint the sink should use"
            ));
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

fn myself(j: &StandIn) -> Response {
    let me = match j.flavor {
        Flavor::Cloud => json!({
            "accountId": "5b10ac8d82e05b22cc7d4ef5",
            "accountType": "atlassian",
            "emailAddress": "bot@corp.example",
            "displayName": "mirrord bot",
            "active": true
        }),
        Flavor::DataCenter => json!({
            "key": "JIRAUSER10100",
            "name": "mirrord-bot",
            "emailAddress": "bot@corp.example",
            "displayName": "mirrord bot",
            "active": true
        }),
    };
    axum::Json(me).into_response()
}

fn fields(j: &StandIn) -> Response {
    let mut all = vec![json!({
        "id": "summary", "key": "summary", "name": "Summary", "custom": false,
        "orderable": true, "navigable": true, "searchable": true, "clauseNames": ["summary"],
        "schema": { "type": "string", "system": "summary" }
    })];
    for (i, f) in j.fields.iter().enumerate() {
        let custom = if f.kind == "number" {
            "com.atlassian.jira.plugin.system.customfieldtypes:float"
        } else {
            "com.atlassian.jira.plugin.system.customfieldtypes:textfield"
        };
        let n: u64 =
            f.id.trim_start_matches("customfield_")
                .parse()
                .unwrap_or(i as u64);
        all.push(json!({
            "id": f.id, "key": f.id, "name": f.name, "custom": true, "orderable": true,
            "navigable": true, "searchable": true,
            "clauseNames": [format!("cf[{n}]"), f.name],
            "schema": { "type": f.kind, "custom": custom, "customId": n }
        }));
    }
    axum::Json(Value::Array(all)).into_response()
}

fn get_issue(j: &StandIn, key: &str, query: &str) -> Response {
    let issues = j.issues.lock().unwrap();
    let Some(issue) = issues.get(key) else {
        return not_found_issue();
    };
    let mut fields = issue.fields.clone();
    fields.insert("summary".into(), json!(issue.summary));
    if !query.is_empty() && !query.starts_with("fields=") {
        j.violation(format!("GET issue/{key}?{query}: unexpected query"));
    }
    axum::Json(json!({ "id": "10001", "key": key, "fields": fields })).into_response()
}

fn editmeta(j: &StandIn, key: &str) -> Response {
    let issues = j.issues.lock().unwrap();
    let Some(issue) = issues.get(key) else {
        return not_found_issue();
    };
    let mut meta = Map::new();
    for f in j.fields.iter().filter(|f| !issue.off_screen.contains(f.id)) {
        meta.insert(
            f.id.to_string(),
            json!({ "required": false, "schema": { "type": f.kind }, "name": f.name,
                    "key": f.id, "operations": ["set"] }),
        );
    }
    axum::Json(json!({ "fields": meta })).into_response()
}

fn edit_issue(j: &StandIn, key: &str, body: &Value) -> Response {
    let Some(top) = body.as_object() else {
        j.violation(format!("PUT issue/{key}: body is not an object"));
        return StatusCode::BAD_REQUEST.into_response();
    };
    let allowed = [
        "fields",
        "update",
        "historyMetadata",
        "properties",
        "transition",
    ];
    if let Some(extra) = top.keys().find(|k| !allowed.contains(&k.as_str())) {
        j.violation(format!("PUT issue/{key}: unknown member {extra:?}"));
    }
    let Some(fields) = top.get("fields").and_then(Value::as_object) else {
        j.violation(format!("PUT issue/{key}: no \"fields\" object"));
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut issues = j.issues.lock().unwrap();
    let Some(issue) = issues.get_mut(key) else {
        return not_found_issue();
    };
    let mut errors = Map::new();
    for (id, value) in fields {
        let Some(field) = j.field(id) else {
            errors.insert(
                id.clone(),
                json!(format!(
                    "Field '{id}' cannot be set. It is not on the appropriate screen, or unknown."
                )),
            );
            continue;
        };
        if issue.off_screen.contains(id) {
            errors.insert(
                id.clone(),
                json!(format!(
                    "Field '{id}' cannot be set. It is not on the appropriate screen, or unknown."
                )),
            );
            continue;
        }
        let ok = match field.kind {
            "number" => value.is_number(),
            _ => value.is_string(),
        };
        if !ok {
            let kind = if field.kind == "number" {
                "a number"
            } else {
                "a string"
            };
            errors.insert(id.clone(), json!(format!("Operation value must be {kind}")));
        }
    }
    if !errors.is_empty() {
        return jira_error(StatusCode::BAD_REQUEST, &[], Value::Object(errors));
    }
    for (id, value) in fields {
        issue.fields.insert(id.clone(), value.clone());
    }
    StatusCode::NO_CONTENT.into_response()
}

fn set_property(j: &StandIn, key: &str, prop: &str, body: &Value) -> Response {
    if body.is_null() || body.as_object().is_some_and(Map::is_empty) {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &["The property value must be a non-empty JSON."],
            json!({}),
        );
    }
    if body.to_string().len() > 32_768 {
        j.violation(format!(
            "PUT issue/{key}/properties/{prop}: over 32768 characters"
        ));
    }
    let mut issues = j.issues.lock().unwrap();
    let Some(issue) = issues.get_mut(key) else {
        return not_found_issue();
    };
    let created = issue.properties.insert(prop.into(), body.clone()).is_none();
    if created {
        StatusCode::CREATED.into_response()
    } else {
        StatusCode::OK.into_response()
    }
}

/// The text of a comment body of this flavor, or why it is not one.
fn comment_text(flavor: Flavor, body: &Value) -> Result<String, String> {
    let Some(top) = body.as_object() else {
        return Err("body is not an object".into());
    };
    if let Some(extra) = top
        .keys()
        .find(|k| !["body", "visibility", "properties"].contains(&k.as_str()))
    {
        return Err(format!("unknown member {extra:?}"));
    }
    let b = &top.get("body").cloned().unwrap_or(Value::Null);
    match flavor {
        Flavor::DataCenter => b
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| "v2 comment body must be a non-empty string".into()),
        Flavor::Cloud => {
            if b["type"] != "doc" || b["version"] != 1 {
                return Err(
                    "v3 comment body must be ADF: {\"type\": \"doc\", \"version\": 1}".into(),
                );
            }
            let mut text = String::new();
            for block in b["content"]
                .as_array()
                .ok_or("ADF doc has no content array")?
            {
                if block["type"] != "paragraph" {
                    return Err(format!("unexpected ADF block {}", block["type"]));
                }
                for inline in block["content"]
                    .as_array()
                    .ok_or("paragraph without content")?
                {
                    let t = inline["text"].as_str().filter(|t| !t.is_empty());
                    match (inline["type"].as_str(), t) {
                        (Some("text"), Some(t)) => text.push_str(t),
                        _ => return Err("ADF text nodes need a non-empty text".into()),
                    }
                }
            }
            Ok(text)
        }
    }
}

/// The text of a stored comment body (as sent).
pub fn text_of(flavor: Flavor, body: &Value) -> String {
    comment_text(flavor, &json!({ "body": body })).unwrap_or_default()
}

/// The comment body to store, or Jira's 400 (boxed: a `Response` is large).
fn checked_comment(j: &StandIn, what: &str, body: &Value) -> Result<Value, Box<Response>> {
    match comment_text(j.flavor, body) {
        Ok(_) => Ok(body["body"].clone()),
        Err(why) => {
            j.violation(format!("{what}: {why}"));
            Err(Box::new(jira_error(
                StatusCode::BAD_REQUEST,
                &[],
                json!({ "comment": "Comment body can not be empty!" }),
            )))
        }
    }
}

fn comment_json(j: &StandIn, key: &str, id: &str, body: &Value) -> Value {
    json!({
        "self": format!("{}/rest/api/{}/issue/{key}/comment/{id}", j.base_url(), j.flavor.version()),
        "id": id,
        "author": { "displayName": "mirrord bot", "active": true },
        "body": body,
        "created": "2026-01-05T09:00:00.000+0000",
        "updated": "2026-01-05T09:00:00.000+0000"
    })
}

fn comments(j: &StandIn, key: &str, query: &str) -> Response {
    let issues = j.issues.lock().unwrap();
    let Some(issue) = issues.get(key) else {
        return not_found_issue();
    };
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let start = param("startAt").unwrap_or(0);
    let max = param("maxResults").unwrap_or(50).min(100);
    let page: Vec<Value> = issue
        .comments
        .iter()
        .skip(start)
        .take(max)
        .map(|(id, body)| comment_json(j, key, id, body))
        .collect();
    axum::Json(json!({
        "startAt": start, "maxResults": max, "total": issue.comments.len(), "comments": page
    }))
    .into_response()
}

/// `POST …/comment` (`id` None: 201 with the new comment) or `PUT …/comment/{id}` (200).
fn write_comment(j: &StandIn, key: &str, id: Option<&str>, body: &Value) -> Response {
    let what = match id {
        None => format!("POST issue/{key}/comment"),
        Some(id) => format!("PUT issue/{key}/comment/{id}"),
    };
    let stored = match checked_comment(j, &what, body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut issues = j.issues.lock().unwrap();
    let Some(issue) = issues.get_mut(key) else {
        return not_found_issue();
    };
    let Some(id) = id else {
        let id = j.next_comment.fetch_add(1, Ordering::SeqCst).to_string();
        issue.comments.push((id.clone(), stored.clone()));
        let created = axum::Json(comment_json(j, key, &id, &stored));
        return (StatusCode::CREATED, created).into_response();
    };
    let Some(c) = issue.comments.iter_mut().find(|(cid, _)| cid == id) else {
        return jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("Can not find a comment for the id: {id}.")],
            json!({}),
        );
    };
    c.1 = stored.clone();
    axum::Json(comment_json(j, key, id, &stored)).into_response()
}
