//! The HTTP side of the live services (hyper 1 on tokio): one listener per service,
//! JSON in and out; the eligibility API is the same machinery behind TLS.
//!
//! Bad requests get a 4xx with `{"error": "...", "field": "<name>"|null}`; a handler
//! never panics on input. Every connection is bounded: the TLS handshake within
//! [`HANDSHAKE_TIMEOUT`], idle or stalled connections closed and every connection ended
//! after a while ([`super::connection`]), bodies bounded per route (issue 14 #7):
//!
//! | route | body limit *(our choice)* |
//! |---|---|
//! | every JSON route of the control, bureau, reader-vendor, carrier and portal services | [`SMALL_BODY`] (16 KiB) |
//! | `POST /designation-applications` (the plan) and `PUT /carrier/faults` | [`PLAN_BODY`] (64 KiB) |
//! | `POST /eligibility` (single inquiry), `/eligibility/OQSmuquc02`, `/eligibility/card*` | [`SINGLE_XML_BODY`] (64 KiB) |
//! | `POST /eligibility/OQSmuquc01` (bulk upload) | [`BULK_XML_BODY`] (8 MiB, the file drop's limit), at most [`BULK_AT_ONCE`] read at once |
//!
//! A larger body is answered 413 naming the limit; every JSON body is parsed only once
//! it is within its limit, so one request costs at most a small multiple of it. The
//! number of connections per service is capped too ([`MAX_HTTP_CONNECTIONS`],
//! [`MAX_TLS_CONNECTIONS`]); a connection over the cap is closed at once.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes_compat::Bytes;
use chrono::NaiveDate;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use fakes::process::params::LineType;
use fakes::process::{codec, ActorId, Msg};
use fakes::time::VirtualTime;

use super::carrier::ProxyFaults;
use super::eligibility::{bound_institution, kind_of_path, DeskAnswer};
use super::world::{validate_plan, Conflict};
use super::App;

/// Re-export so the rest of the module names one `Bytes`.
mod bytes_compat {
    pub use hyper::body::Bytes;
}

/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Body limit of the JSON routes.
pub const SMALL_BODY: usize = 16 * 1024;
/// Body limit of the designation plan and the carrier fault set.
pub const PLAN_BODY: usize = 64 * 1024;
/// Body limit of a single inquiry, a bulk download request and the card routes.
pub const SINGLE_XML_BODY: usize = 64 * 1024;
/// Body limit of a bulk upload: the XmlMsg parser's own limit
/// ([`fakes::eligibility::xml::Limits`], 8 MiB, a 10,000-inquiry upload is ~4 MiB).
pub const BULK_XML_BODY: usize = 8 << 20;
/// Bulk uploads read and parsed at once; the others wait their turn (their bytes
/// wait in the kernel's socket buffers, not in onsim's memory).
pub const BULK_AT_ONCE: usize = 4;
/// Connections at once per plain-HTTP service.
pub const MAX_HTTP_CONNECTIONS: usize = 256;
/// Connections at once on the eligibility API (1,000 parallel terminals held).
pub const MAX_TLS_CONNECTIONS: usize = 2048;

static BULK_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BULK_AT_ONCE);

/// Which service a listener is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Svc {
    /// Clock, inbox, trace, deadlines, carrier faults.
    Control,
    Bureau,
    ReaderVendor,
    Carrier,
    Portal,
}

impl Svc {
    /// The service's name in `GET /health` (as endpoints.json's keys name it).
    pub fn name(self) -> &'static str {
        match self {
            Svc::Control => "control",
            Svc::Bureau => "bureau",
            Svc::ReaderVendor => "reader-vendor",
            Svc::Carrier => "carrier",
            Svc::Portal => "portal",
        }
    }
}

pub type Resp = Response<Full<Bytes>>;

/// `GET /health` on every service: 200 `{"status": "ok", "service": NAME}` once the
/// service is accepting requests *(our choice: a liveness probe for containers and
/// orchestrators; it reads no state, so it answers whatever the clock or faults)*.
fn health(service: &str) -> Resp {
    json_resp(StatusCode::OK, &json!({"status": "ok", "service": service}))
}

fn json_resp(status: StatusCode, v: &Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(
        serde_json::to_vec_pretty(v).unwrap_or_default(),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn err(status: StatusCode, field: Option<&str>, message: impl Into<String>) -> Resp {
    json_resp(status, &json!({"error": message.into(), "field": field}))
}

/// 503 naming the environment fault that makes the service unavailable
/// ([`super::environment`]).
fn unavailable(u: &super::environment::Unavailable) -> Resp {
    err(StatusCode::SERVICE_UNAVAILABLE, None, u.reason.clone())
}

fn conflict(c: Conflict) -> Resp {
    err(StatusCode::CONFLICT, c.field, c.message)
}

async fn body_bytes(req: Request<Incoming>, limit: usize) -> Result<Bytes, Resp> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(e) => Err(err(
            StatusCode::BAD_REQUEST,
            None,
            format!("could not read the body: {e}"),
        )),
    }
}

fn too_large(limit: usize) -> Resp {
    err(
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
        format!("the body is larger than this route's limit of {limit} bytes"),
    )
}

async fn body_json(req: Request<Incoming>) -> Result<Map<String, Value>, Resp> {
    body_json_limited(req, SMALL_BODY).await
}

async fn body_json_limited(
    req: Request<Incoming>,
    limit: usize,
) -> Result<Map<String, Value>, Resp> {
    let b = body_bytes(req, limit).await?;
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&b) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(err(
            StatusCode::BAD_REQUEST,
            None,
            "the body must be a JSON object",
        )),
        Err(e) => Err(err(
            StatusCode::BAD_REQUEST,
            None,
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// Parse a body of at most `limit` bytes into `T` (a struct with
/// `deny_unknown_fields`); a bad body is a 4xx naming the field where serde names it
/// (unknown, missing or mistyped field; an empty body is `{}`).
async fn typed_body<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
    limit: usize,
) -> Result<T, Resp> {
    let b = body_bytes(req, limit).await?;
    let b: &[u8] = if b.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &b
    };
    serde_json::from_slice::<T>(b).map_err(|e| {
        let status = if e.is_syntax() || e.is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let msg = e.to_string();
        let field = field_of_serde_error(&msg).or_else(|| culprit::<T>(b));
        json_resp(status, &json!({"error": msg, "field": field}))
    })
}

/// The top-level key whose value makes `body` fail to parse as `T` (serde names no
/// field for a bad value): the key without which the error goes away or becomes
/// "missing field".
fn culprit<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<String> {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    m.keys()
        .find(|k| {
            let mut without = m.clone();
            without.remove(k.as_str());
            match serde_json::from_value::<T>(Value::Object(without)) {
                Ok(_) => true,
                Err(e) => e.to_string().contains(&format!("missing field `{k}`")),
            }
        })
        .cloned()
}

/// The field a serde message names (`unknown field `x``, `missing field `x``, or a
/// field of our own `in field `x`` messages).
fn field_of_serde_error(msg: &str) -> Option<String> {
    let start = msg.find("field `")? + "field `".len();
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

fn req_str<'a>(m: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, Resp> {
    match m.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(field),
            format!("{field} must be a non-empty string"),
        )),
        None => Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(field),
            format!("{field} is required"),
        )),
    }
}

fn only_fields(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), Resp> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(k),
            format!("unknown field {k}; expected one of: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A 422 naming the field a message body got wrong.
fn codec_err(e: codec::CodecError) -> Resp {
    err(
        StatusCode::UNPROCESSABLE_ENTITY,
        e.field.as_deref(),
        e.message,
    )
}

/// Decode the body `m` of a service route as the clinic message `kind` (the codec:
/// one place messages become JSON and back).
fn message(kind: &str, m: &Map<String, Value>) -> Result<Msg, Resp> {
    codec::from_body(kind, m).map_err(codec_err)
}

/// The `fee_table` of a body (absent: medical), read by the codec.
fn fee_field(m: &Map<String, Value>) -> Result<fakes::codes::FeeTable, Resp> {
    let mut only = Map::new();
    if let Some(v) = m.get("fee_table") {
        only.insert("fee_table".into(), v.clone());
    }
    match message("reception-request", &only)? {
        Msg::ReceptionRequest { fee } => Ok(fee),
        other => Err(err(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            format!("the codec read a reception request as {other:?}"),
        )),
    }
}

fn parse_time(field: &'static str, s: &str) -> Result<VirtualTime, Resp> {
    if let Ok(t) = serde_json::from_value::<VirtualTime>(json!(s)) {
        return Ok(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if d.year_ok() {
            return Ok(VirtualTime::start_of(d));
        }
    }
    Err(err(
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(field),
        format!("{field} {s:?} is not a time like 2025-04-15T09:00 (or a date, meaning 00:00)"),
    ))
}

trait YearOk {
    fn year_ok(&self) -> bool;
}
impl YearOk for NaiveDate {
    fn year_ok(&self) -> bool {
        use chrono::Datelike;
        (1955..=2099).contains(&self.year())
    }
}

fn query(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_string())
    })
}

fn accepted(app: &App, at: VirtualTime, extra: Value) -> Resp {
    let mut v = json!({"received_at": at, "note": "answers arrive in the clinic inbox (GET /inbox on the control URL) when the virtual clock reaches them"});
    if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
        o.extend(e);
    }
    let _ = app;
    json_resp(StatusCode::ACCEPTED, &v)
}

fn clock_json(app: &App, delivered: Option<usize>) -> Value {
    let next_due = app.world.next_due();
    json!({
        "now": app.clock.now(),
        "speed": app.clock.speed(),
        "delivered": delivered,
        "pending": app.world.pending(),
        "next_due": next_due,
    })
}

/// The routes on which the clinic acts (its messages and the portal's forms).
fn clinic_route(svc: Svc, method: &Method, path: &str) -> bool {
    match (svc, method) {
        (Svc::Bureau | Svc::ReaderVendor | Svc::Carrier, &Method::POST) => {
            matches!(
                path,
                "/reception-requests" | "/designation-applications" | "/orders" | "/line-orders"
            )
        }
        (Svc::Portal, &Method::POST | &Method::PUT) => true,
        (Svc::Control, &Method::POST) => path == "/clinic/messages",
        _ => false,
    }
}

/// `GET /verdict[?timeline=1]`: the scenario's `[[expect]]` judged now
/// ([`super::verdict`]); 404 when `onsim serve` runs no scenario.
fn verdict(app: &App, req: &Request<Incoming>) -> Resp {
    let timeline = query(req, "timeline").is_some_and(|v| v == "1" || v == "true");
    match app.world.verdict(timeline) {
        Some(v) => json_resp(
            StatusCode::OK,
            &serde_json::to_value(&v).unwrap_or(Value::Null),
        ),
        None => err(
            StatusCode::NOT_FOUND,
            None,
            "no scenario is judged: start onsim serve --scenario FILE (or set ONSIM_SCENARIO)",
        ),
    }
}

/// Route one plain-HTTP request.
pub async fn route(app: Arc<App>, svc: Svc, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_string();
    if clinic_route(svc, &method, &path) && !app.world.system_under_test_plays_clinic() {
        return err(
            StatusCode::CONFLICT,
            None,
            "onsim plays the clinic in this scenario ([live] clinic = \"onsim\"): the clinic's routes are closed to clients; use the terminal and the eligibility API",
        );
    }
    let r = match (svc, &method, path.as_str()) {
        (_, &Method::GET, "/health") => Ok(health(svc.name())),
        (Svc::Control, &Method::GET, "/verdict") => Ok(verdict(&app, &req)),
        (Svc::Control, &Method::GET, "/clock") => {
            Ok(json_resp(StatusCode::OK, &clock_json(&app, None)))
        }
        (Svc::Control, &Method::GET, "/stats") => Ok(json_resp(
            StatusCode::OK,
            &json!({"eligibility": app.desk.stats.snapshot(), "pid": std::process::id()}),
        )),
        (Svc::Control, &Method::POST, "/clock/advance") => advance(&app, req).await,
        (Svc::Control, &Method::POST, "/clock/speed") => speed(&app, req).await,
        (Svc::Control, &Method::GET, "/inbox") => {
            let since = query(&req, "since")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let limit = query(&req, "limit")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1000usize)
                .min(10_000);
            let items = app.world.inbox(since, limit);
            Ok(json_resp(
                StatusCode::OK,
                &json!({"now": app.clock.now(), "messages": items}),
            ))
        }
        (Svc::Control, &Method::GET, "/trace") => {
            let (events, dropped) = app.world.trace();
            Ok(json_resp(
                StatusCode::OK,
                &json!({"now": app.clock.now(), "dropped": dropped, "events": events}),
            ))
        }
        (Svc::Control | Svc::Bureau, &Method::GET, "/deadlines") => {
            Ok(json_resp(StatusCode::OK, &app.world.deadlines()))
        }
        (Svc::Control, &Method::GET, "/carrier/faults")
        | (Svc::Carrier, &Method::GET, "/faults") => Ok(json_resp(
            StatusCode::OK,
            &json!({"faults": app.proxy.faults(), "stats": app.proxy.stats.to_json(), "line": app.world.line().map(|(s, l, c)| json!({"service": s, "line_type": l, "connectable": c}))}),
        )),
        (Svc::Control, &Method::PUT, "/carrier/faults")
        | (Svc::Carrier, &Method::PUT, "/faults") => set_faults(&app, req).await,
        (Svc::Bureau, &Method::POST, "/reception-requests") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["fee_table"])?;
                let msg = message("reception-request", &m)?;
                let at = app.world.clinic_sends(ActorId::Bureau, msg);
                Ok(accepted(&app, at, json!({})))
            }
            .await
        }
        (Svc::Bureau, &Method::POST, "/designation-applications") => {
            async {
                let m = body_json_limited(req, PLAN_BODY).await?;
                let problems = validate_plan(&m);
                let fields: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
                let at = app.world.designation_application(fields);
                Ok(accepted(
                    &app,
                    at,
                    json!({"complete": problems.is_empty(), "problems": problems}),
                ))
            }
            .await
        }
        (Svc::ReaderVendor, &Method::POST, "/orders") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["replacement", "model"])?;
                let msg = message("reader-order", &m)?;
                let at = app.world.clinic_sends(ActorId::ReaderVendor, msg);
                Ok(accepted(&app, at, json!({})))
            }
            .await
        }
        (Svc::Carrier, &Method::POST, "/line-orders") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["service", "line_type"])?;
                let service = req_str(&m, "service")?.to_string();
                let line: LineType =
                    serde_json::from_value(m.get("line_type").cloned().unwrap_or(json!("ip-vpn")))
                        .map_err(|_| {
                            err(
                                StatusCode::UNPROCESSABLE_ENTITY,
                                Some("line_type"),
                                "line_type must be ip-vpn, ipsec-ike or internet",
                            )
                        })?;
                let at = app.world.line_order(service, line);
                Ok(accepted(&app, at, json!({})))
            }
            .await
        }
        (Svc::Portal, &Method::POST, "/temporary-code-requests") => {
            let at = app
                .world
                .clinic_sends(ActorId::ImplementingBody, Msg::TemporaryCodeRequest);
            Ok(accepted(&app, at, json!({})))
        }
        (Svc::Portal, &Method::POST, "/reception-numbers") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["reception_number"])?;
                req_str(&m, "reception_number")?;
                let Msg::ReceptionNumberSubmission { number } =
                    message("reception-number-submission", &m)?
                else {
                    return Err(err(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        None,
                        "the codec read another message",
                    ));
                };
                let at = app.world.submit_reception_number(number);
                Ok(accepted(&app, at, json!({})))
            }
            .await
        }
        (Svc::Portal, &Method::POST, "/usage-applications") => {
            async {
                let m = body_json(req).await?;
                only_fields(
                    &m,
                    &[
                        "line_type",
                        "ntt_customer_id",
                        "planned_start_month",
                        "test_month",
                    ],
                )?;
                req_str(&m, "line_type")?;
                let at = app
                    .world
                    .usage_application(Value::Object(m))
                    .map_err(conflict)?;
                Ok(accepted(&app, at, json!({})))
            }
            .await
        }
        (Svc::Portal, &Method::POST, "/certificate-applications") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["fee_table", "terminal"])?;
                let fee = fee_field(&m)?;
                let terminal = match m.get("terminal") {
                    None => "T1".to_string(),
                    Some(_) => req_str(&m, "terminal")?.to_string(),
                };
                let at = app
                    .world
                    .certificate_application(fee, terminal)
                    .map_err(conflict)?;
                Ok(accepted(&app, at, json!({})))
            }
            .await
        }
        (Svc::Portal, &Method::PUT, "/operation-start") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["date"])?;
                let s = req_str(&m, "date")?;
                let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                    err(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("date"),
                        format!("date {s:?} is not like 2025-07-01"),
                    )
                })?;
                app.world.set_operation_start(d).map_err(conflict)?;
                Ok(json_resp(StatusCode::OK, &json!({"operation_start": d})))
            }
            .await
        }
        (Svc::Control, &Method::POST, "/clinic/messages") => clinic_message(&app, req).await,
        (Svc::Control, &Method::POST, "/cards") => Ok(issue_card(&app, req).await),
        (Svc::Control, &Method::POST, "/pki/revocations") => publish_revocation(&app, req).await,
        (Svc::Control, &Method::POST, "/reader/present") => reader_present(&app, req).await,
        (Svc::Portal, &Method::GET, "/status") => {
            Ok(json_resp(StatusCode::OK, &json!(app.world.portal())))
        }
        (Svc::Portal, &Method::GET, "/certificates") => Ok(json_resp(
            StatusCode::OK,
            &json!({"certificates": app.world.portal().certificates}),
        )),
        _ => Err(err(
            StatusCode::NOT_FOUND,
            None,
            format!("no route {method} {path} on the {svc:?} service"),
        )),
    };
    let resp = r.unwrap_or_else(|e| e);
    tracing::debug!(?svc, %method, %path, status = resp.status().as_u16(), "http");
    resp
}

/// `POST /clinic/messages {"message": KIND, ...fields, "to": ACTOR}`: the clinic's
/// messages that no service route carries yet (reader application, limited-type
/// application, system-vendor order and prerequisites, connectivity check,
/// designation application without a plan body), in the codec's wire format
/// ([`fakes::process::codec`]); `to` chooses the addressee where a message has two
/// (a connectivity check: `carrier`, the default, or `implementing-body`). Used by
/// `onsim run --live`.
async fn clinic_message(app: &App, req: Request<Incoming>) -> Result<Resp, Resp> {
    const KINDS: &str = "reader-application, limited-type-application, designation-application, system-order, prerequisite-ready, installation-day, connectivity-check";
    let mut m = body_json(req).await?;
    let kind = req_str(&m, "message")?.to_string();
    let to = m.remove("to");
    let bad = |f: &'static str, what: &str| err(StatusCode::UNPROCESSABLE_ENTITY, Some(f), what);
    let msg = codec::from_json(&m).map_err(|e| {
        if e.field.as_deref() == Some(codec::TAG) {
            bad("message", &format!("no clinic message {kind:?} ({KINDS})"))
        } else {
            codec_err(e)
        }
    })?;
    let to = match &msg {
        Msg::ReaderApplication | Msg::LimitedTypeApplication { .. } => ActorId::ImplementingBody,
        Msg::DesignationApplication { complete } => {
            let missing = if *complete {
                vec![]
            } else {
                vec!["(unspecified)".to_string()]
            };
            let at = app.world.designation_application(missing);
            return Ok(accepted(app, at, json!({})));
        }
        Msg::SystemOrder { .. } | Msg::PrerequisiteReady(_) | Msg::InstallationDay => {
            ActorId::SystemVendor
        }
        Msg::ConnectivityCheck { .. } => match to.as_ref().and_then(Value::as_str) {
            Some("implementing-body") => ActorId::ImplementingBody,
            _ => ActorId::Carrier,
        },
        _ => {
            return Err(bad(
                "message",
                &format!("no clinic message {kind:?} ({KINDS})"),
            ))
        }
    };
    let at = app.world.clinic_sends(to, msg);
    Ok(accepted(app, at, json!({})))
}

async fn advance(app: &App, req: Request<Incoming>) -> Result<Resp, Resp> {
    let m = body_json(req).await?;
    only_fields(&m, &["minutes", "hours", "days", "to"])?;
    if m.len() != 1 {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            "give exactly one of minutes, hours, days or to",
        ));
    }
    let now = app.clock.now();
    let target = if let Some(v) = m.get("to") {
        let s = v.as_str().ok_or_else(|| {
            err(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("to"),
                "to must be a string like 2025-04-15T09:00",
            )
        })?;
        parse_time("to", s)?
    } else {
        let (field, per) = [("minutes", 1i64), ("hours", 60), ("days", 1440)]
            .into_iter()
            .find(|(f, _)| m.contains_key(*f))
            .unwrap_or(("minutes", 1));
        let n = m[field]
            .as_i64()
            .filter(|n| *n >= 0 && *n <= 100 * 366 * 1440 / per)
            .ok_or_else(|| {
                err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(field),
                    format!("{field} must be a whole number ≥ 0"),
                )
            })?;
        now.plus_minutes(n * per)
    };
    app.clock.advance_to(target).map_err(|e| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(if m.contains_key("to") {
                "to"
            } else {
                "minutes"
            }),
            e.to_string(),
        )
    })?;
    let delivered = app.world.tick();
    tracing::info!(from = %now, to = %app.clock.now(), delivered, "clock advanced");
    Ok(json_resp(StatusCode::OK, &clock_json(app, Some(delivered))))
}

async fn speed(app: &App, req: Request<Incoming>) -> Result<Resp, Resp> {
    let m = body_json(req).await?;
    only_fields(&m, &["speed"])?;
    let s = m.get("speed").and_then(Value::as_f64).ok_or_else(|| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("speed"),
            "speed (virtual seconds per real second, 0 = frozen) is required",
        )
    })?;
    app.world.tick();
    app.clock.set_speed(s).map_err(|e| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("speed"),
            e.to_string(),
        )
    })?;
    Ok(json_resp(StatusCode::OK, &clock_json(app, None)))
}

async fn set_faults(app: &App, req: Request<Incoming>) -> Result<Resp, Resp> {
    let f: ProxyFaults = typed_body(req, PLAN_BODY).await?;
    app.proxy
        .set_faults(f)
        .map_err(|(field, msg)| err(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), msg))?;
    Ok(json_resp(
        StatusCode::OK,
        &json!({"faults": app.proxy.faults()}),
    ))
}

/// Serve plain HTTP for `svc` until `shutdown`.
pub async fn serve_http(
    listener: TcpListener,
    svc: Svc,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HTTP_CONNECTIONS));
    while let Some((stream, peer)) = super::accept_until(&listener, &mut shutdown, "http").await {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, service = ?svc, limit = MAX_HTTP_CONNECTIONS, "too many connections; closed");
            drop(stream);
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            super::connection::serve(stream, move |req| route(app.clone(), svc, req)).await;
            drop(permit);
        });
    }
}

fn xml_resp(bytes: Vec<u8>) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    r
}

async fn eligibility(
    app: Arc<App>,
    bound: Option<fakes::codes::InstitutionCode>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Resp {
    let path = req.uri().path();
    if req.method() == Method::GET && path.trim_end_matches('/') == "/health" {
        // Over mutual TLS like every route here: a refused credential never gets it.
        return health("eligibility");
    }
    if let Some(down) = app.world.implementing_body_down_now() {
        tracing::warn!(%peer, reason = %down, "eligibility request refused: the implementing body is down");
        return unavailable(&down);
    }
    if path.trim_end_matches('/').starts_with("/eligibility/card") {
        // Boxed: its state is much larger than the XmlMsg path's, and every request's
        // future would otherwise carry (and move) it.
        return Box::pin(card_confirmation(app, bound, peer, req)).await;
    }
    let Some(kind) = kind_of_path(path) else {
        return err(StatusCode::NOT_FOUND, None, format!("no route {path}; POST /eligibility (OQSsiquc01), /eligibility/OQSmuquc01 or /eligibility/OQSmuquc02"));
    };
    if req.method() != Method::POST {
        return err(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "POST the XmlMsg request",
        );
    }
    let Some(bound) = bound else {
        tracing::warn!(%peer, refusal = "no-institution", "eligibility request refused: the client certificate names no institution code");
        return err(
            StatusCode::FORBIDDEN,
            None,
            "the client certificate names no institution code",
        );
    };
    let (limit, _bulk_turn) = if kind == fakes::eligibility::xml::MessageKind::BulkUpload {
        (BULK_XML_BODY, BULK_PERMITS.acquire().await.ok())
    } else {
        (SINGLE_XML_BODY, None)
    };
    let bytes = match body_bytes(req, limit).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    let now = app.clock.now();
    match app.desk.answer(bound, kind, &bytes, now) {
        DeskAnswer::Xml(x) => {
            tracing::info!(%peer, institution = %bound, kind = kind.id(), "eligibility answered");
            xml_resp(x)
        }
        DeskAnswer::Refused(r) => {
            tracing::warn!(%peer, refusal = r.code(), reason = %r, "eligibility request refused");
            json_resp(
                StatusCode::FORBIDDEN,
                &json!({"error": r.to_string(), "refusal": r.code(), "field": "MedicalInstitutionCode"}),
            )
        }
    }
}

/// `POST /eligibility/card/challenge` → `{"challenge": hex}`;
/// `POST /eligibility/card` with `{"challenge", "certificate", "signature"}` (hex) and
/// optional `"consents": {"limit_certificate", "pharmacists_info",
/// "specific_health_checkups"}` → the XmlMsg answer, or 403 with the refusal.
async fn card_confirmation(
    app: Arc<App>,
    bound: Option<fakes::codes::InstitutionCode>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Resp {
    use super::card::{from_hex, to_hex};
    if req.method() != Method::POST {
        return err(StatusCode::METHOD_NOT_ALLOWED, None, "use POST");
    }
    let Some(bound) = bound else {
        return err(
            StatusCode::FORBIDDEN,
            None,
            "the client certificate names no institution code",
        );
    };
    let path = req.uri().path().trim_end_matches('/').to_string();
    if path == "/eligibility/card/challenge" {
        return json_resp(
            StatusCode::OK,
            &json!({"challenge": to_hex(&app.cards.challenge(bound))}),
        );
    }
    if path != "/eligibility/card" {
        return err(
            StatusCode::NOT_FOUND,
            None,
            format!("no route {path}; POST /eligibility/card/challenge or /eligibility/card"),
        );
    }
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    let hex_field = |name: &str| -> Result<Vec<u8>, Resp> {
        body.get(name)
            .and_then(Value::as_str)
            .and_then(from_hex)
            .ok_or_else(|| {
                err(
                    StatusCode::BAD_REQUEST,
                    Some(name),
                    format!("`{name}` must be a hex string"),
                )
            })
    };
    let id = match (
        hex_field("challenge"),
        hex_field("certificate"),
        hex_field("signature"),
    ) {
        (Ok(challenge), Ok(cert_der), Ok(signature)) => fakes::reader::SignedIdentity {
            cert_der,
            challenge,
            signature,
        },
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let flag = |name: &str| {
        body.get("consents")
            .and_then(|c| c.get(name))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let consents = fakes::eligibility::ReaderConsents {
        limit_certificate: flag("limit_certificate"),
        pharmacists_info: flag("pharmacists_info"),
        specific_health_checkups: flag("specific_health_checkups"),
        ..Default::default()
    };
    let now = app.clock.now();
    match app.cards.confirm(&app.desk, bound, &id, consents, now) {
        Ok(xml) => {
            tracing::info!(%peer, institution = %bound, "card confirmation answered");
            xml_resp(xml)
        }
        Err(r) => {
            tracing::warn!(%peer, refusal = r.code(), reason = %r, "card confirmation refused");
            json_resp(
                StatusCode::FORBIDDEN,
                &json!({"error": r.to_string(), "refusal": r.code(), "field": null}),
            )
        }
    }
}

/// `POST /cards {"validity": 1..5, "issued": "YYYY-MM-DD", "revoked": false}` (control):
/// issue a virtual patient's card linked to the population example with that
/// validity; returns its certificate and key (hex DER, PKCS#8) and its PIN.
///
/// `issued` must lie within [`CARD_ISSUED_YEARS_BACK`] years before the virtual
/// today and not after it *(our choice: a card certificate lives 5 years, so older
/// issue dates only make expired cards)*; anything else is a 422 naming the field.
async fn issue_card(app: &App, req: Request<Incoming>) -> Resp {
    match issue_card_checked(app, req).await {
        Ok(r) | Err(r) => r,
    }
}

/// How far back `POST /cards` accepts an issue date.
pub const CARD_ISSUED_YEARS_BACK: u32 = 20;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CardRequest {
    validity: Option<u8>,
    issued: Option<String>,
    revoked: Option<bool>,
}

async fn issue_card_checked(app: &App, req: Request<Incoming>) -> Result<Resp, Resp> {
    use super::card::to_hex;
    use fakes::eligibility::QualificationValidity;
    let body: CardRequest = typed_body(req, SMALL_BODY).await?;
    let code = body.validity.unwrap_or(1);
    let Some(validity) = QualificationValidity::PRODUCED
        .iter()
        .copied()
        .find(|v| v.code() == code.to_string())
    else {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("validity"),
            "validity must be 1..5",
        ));
    };
    let now = app.clock.now().date();
    let earliest = now
        .checked_sub_months(chrono::Months::new(12 * CARD_ISSUED_YEARS_BACK))
        .unwrap_or(now);
    let issued = match body.issued.as_deref() {
        None => now
            .checked_sub_months(chrono::Months::new(12))
            .unwrap_or(now),
        Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if (earliest..=now).contains(&d) => d,
            Ok(d) => {
                return Err(err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("issued"),
                    format!("issued {d} must be between {earliest} and the virtual today {now}"),
                ))
            }
            Err(_) => {
                return Err(err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("issued"),
                    format!("issued {s:?} must be a date like 2024-04-01"),
                ))
            }
        },
    };
    let card = app
        .cards
        .issue_for(app.desk.population(), validity, issued)
        .map_err(|e| {
            err(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("issued"),
                format!("cannot issue a card issued on {issued}: {e}"),
            )
        })?;
    if body.revoked == Some(true) {
        app.cards.revoke(&card, now);
    }
    Ok(json_resp(
        StatusCode::OK,
        &json!({
            "label": card.label,
            "certificate": to_hex(&card.auth.der),
            "key_pkcs8": to_hex(&card.auth.key.pkcs8),
            "not_after": card.auth.not_after.to_string(),
            "pin": "1234",
        }),
    ))
}

/// `POST /reader/present` (control): a patient presents a card at the simulated
/// face-auth reader; see [`super::reader`].
async fn reader_present(app: &Arc<App>, req: Request<Incoming>) -> Result<Resp, Resp> {
    let body: super::reader::PresentRequest = typed_body(req, SMALL_BODY).await?;
    let app = app.clone();
    let r = tokio::task::spawn_blocking(move || super::reader::present(&app, &body))
        .await
        .map_err(|e| {
            err(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                format!("reader stopped: {e}"),
            )
        })?;
    match r {
        Ok(v) => Ok(json_resp(StatusCode::OK, &v)),
        Err((field, msg)) => Err(err(StatusCode::UNPROCESSABLE_ENTITY, Some(field), msg)),
    }
}

/// Judge the connection's client certificate again at the virtual instant of this
/// request (issue 14 #1: resumed sessions and kept-alive connections skip the
/// handshake's verifier). A refusal is a 403 naming the reason, with
/// `"field": "client_certificate"`; the terminal's client treats it as a refused
/// handshake (5001, [`super::centre`]).
fn certificate_still_good(
    app: &App,
    peer_cert: Option<&super::tls::PeerCertificate>,
    peer: SocketAddr,
) -> Result<(), Resp> {
    let refusal = match peer_cert {
        None => fakes::pki::Refusal::Malformed("no client certificate".into()),
        Some(c) => match app.client_verifier.recheck(c) {
            Ok(()) => return Ok(()),
            Err(r) => r,
        },
    };
    tracing::warn!(
        %peer,
        refusal = refusal.code(),
        reason = %refusal,
        virtual_now = %app.clock.now(),
        "client certificate refused on a request of an established or resumed session"
    );
    Err(json_resp(
        StatusCode::FORBIDDEN,
        &json!({"error": format!("client certificate refused: {refusal}"), "refusal": refusal.code(), "field": CLIENT_CERTIFICATE_FIELD}),
    ))
}

/// The `field` of a 403 that refuses the client certificate itself (not the
/// request's institution binding).
pub const CLIENT_CERTIFICATE_FIELD: &str = "client_certificate";

/// `POST /pki/revocations {"credential": NAME}` (control): publish a revocation of a
/// credential of the matrix (`pki/NAME.crt`) dated at the virtual instant (UTC day);
/// from the next request on, every connection carrying it is refused. Answers the new
/// CRL (PEM) — `pki/terminal-ca.crl` on disk stays the start-time list.
async fn publish_revocation(app: &App, req: Request<Incoming>) -> Result<Resp, Resp> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        credential: String,
    }
    let b: Body = typed_body(req, SMALL_BODY).await?;
    let Some((_, cert)) = app.pki.matrix.iter().find(|(n, _)| *n == b.credential) else {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("credential"),
            format!(
                "no credential {:?}; one of {}",
                b.credential,
                super::pki::MATRIX.join(", ")
            ),
        ));
    };
    // The UTC day of the virtual instant: the CRL entry is then already in force.
    let today_utc = (app.clock.now_naive() - chrono::Duration::hours(9)).date();
    let crl = app
        .revocations
        .revoke(cert.serial.clone(), today_utc, today_utc)
        .map_err(|e| {
            err(
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                format!("cannot sign the CRL: {e}"),
            )
        })?;
    tracing::info!(credential = %b.credential, virtual_now = %app.clock.now(), "terminal certificate revoked");
    Ok(json_resp(
        StatusCode::OK,
        &json!({"revoked": b.credential, "since": today_utc, "crl_pem": fakes::pki::pem_encode("X509 CRL", &crl)}),
    ))
}

/// Serve the eligibility API over mutual TLS until `shutdown`.
pub async fn serve_https(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_TLS_CONNECTIONS));
    while let Some((stream, peer)) =
        super::accept_until(&listener, &mut shutdown, "eligibility").await
    {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = MAX_TLS_CONNECTIONS, "eligibility: too many connections; closed");
            drop(stream);
            continue;
        };
        // No Nagle: the TLS 1.3 tickets and the answer go out as separate writes, and
        // Nagle + delayed ACK stalled each new connection ~40 ms (onsim load).
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            use super::eligibility::EligibilityStats as St;
            let stats = &app.desk.stats;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(s)) => {
                    St::bump(&stats.handshakes);
                    s
                }
                Ok(Err(e)) => {
                    St::bump(&stats.handshake_failures);
                    tracing::info!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    St::bump(&stats.handshake_failures);
                    tracing::info!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let peer_certs = tls.get_ref().1.peer_certificates();
            let bound = bound_institution(peer_certs);
            // The certificate this connection carries: from the full handshake, or
            // restored by rustls on a resumed session (which skipped the verifier).
            let peer_cert = Arc::new(
                peer_certs
                    .and_then(|c| c.first())
                    .map(|c| super::tls::PeerCertificate::new(c.as_ref().to_vec())),
            );
            super::connection::serve(tls, move |req| {
                let app = app.clone();
                let peer_cert = peer_cert.clone();
                async move {
                    St::bump(&app.desk.stats.requests);
                    let r = match certificate_still_good(&app, peer_cert.as_ref().as_ref(), peer) {
                        Ok(()) => eligibility(app.clone(), bound, peer, req).await,
                        Err(refused) => refused,
                    };
                    if r.status().is_success() {
                        St::bump(&app.desk.stats.answered);
                    } else {
                        St::bump(&app.desk.stats.refused);
                    }
                    r
                }
            })
            .await;
        });
    }
}
