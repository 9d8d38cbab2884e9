//! The HTTP side of the live services (hyper 1 on tokio): one listener per service,
//! JSON in and out; the eligibility API is the same machinery behind TLS.
//!
//! Bad requests get a 4xx with `{"error": "...", "field": "<name>"|null}`; a handler
//! never panics on input. Every connection is bounded: the TLS handshake within
//! [`HANDSHAKE_TIMEOUT`], idle or stalled connections closed and every connection ended
//! after a while ([`super::connection`]), bodies up to [`BODY_LIMIT`].

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

use fakes::codes::ReceptionNumber;
use fakes::process::params::LineType;
use fakes::process::{ActorId, Msg};
use fakes::time::VirtualTime;

use super::carrier::ProxyFaults;
use super::eligibility::{bound_institution, kind_of_path, DeskAnswer};
use super::world::{parse_fee, validate_plan, Conflict};
use super::App;

/// Re-export so the rest of the module names one `Bytes`.
mod bytes_compat {
    pub use hyper::body::Bytes;
}

/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

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

pub type Resp = Response<Full<Bytes>>;

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

fn conflict(c: Conflict) -> Resp {
    err(StatusCode::CONFLICT, c.field, c.message)
}

async fn body_bytes(req: Request<Incoming>) -> Result<Bytes, Resp> {
    match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) => Err(err(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("could not read the body (limit {BODY_LIMIT} bytes): {e}"),
        )),
    }
}

async fn body_json(req: Request<Incoming>) -> Result<Map<String, Value>, Resp> {
    let b = body_bytes(req).await?;
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

fn fee_field(m: &Map<String, Value>) -> Result<fakes::codes::FeeTable, Resp> {
    let s = match m.get("fee_table") {
        None => "medical",
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(err(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("fee_table"),
                "fee_table must be a string",
            ))
        }
    };
    parse_fee(s).ok_or_else(|| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("fee_table"),
            format!("unknown fee_table {s:?}; expected medical, dental or pharmacy"),
        )
    })
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

/// Route one plain-HTTP request.
pub async fn route(app: Arc<App>, svc: Svc, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_string();
    let r = match (svc, &method, path.as_str()) {
        (_, &Method::GET, "/health") => Ok(json_resp(
            StatusCode::OK,
            &json!({"ok": true, "service": format!("{svc:?}")}),
        )),
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
                let fee = fee_field(&m)?;
                let at = app
                    .world
                    .clinic_sends(ActorId::Bureau, Msg::ReceptionRequest { fee });
                Ok(accepted(&app, at, json!({})))
            }
            .await
        }
        (Svc::Bureau, &Method::POST, "/designation-applications") => {
            async {
                let m = body_json(req).await?;
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
                let replacement = match m.get("replacement") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(err(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            Some("replacement"),
                            "replacement must be true or false",
                        ))
                    }
                };
                let at = app
                    .world
                    .clinic_sends(ActorId::ReaderVendor, Msg::ReaderOrder { replacement });
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
                let s = req_str(&m, "reception_number")?;
                let number: ReceptionNumber = s.parse().map_err(|e| {
                    err(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("reception_number"),
                        format!("{e}"),
                    )
                })?;
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

/// `POST /clinic/messages {"to": ACTOR, "message": KIND, ...}`: the clinic's
/// messages that no service route carries yet (reader application, limited-type
/// application, system-vendor order and prerequisites, connectivity check,
/// designation application without a plan body). Used by `onsim run --live`.
async fn clinic_message(app: &App, req: Request<Incoming>) -> Result<Resp, Resp> {
    use fakes::process::{CheckPurpose, Prerequisite};
    let m = body_json(req).await?;
    let kind = req_str(&m, "message")?;
    let bad = |f: &'static str, what: &str| err(StatusCode::UNPROCESSABLE_ENTITY, Some(f), what);
    let flag = |f: &'static str| {
        m.get(f)
            .and_then(Value::as_bool)
            .ok_or_else(|| bad(f, "must be true or false"))
    };
    let date = |f: &'static str| {
        m.get(f)
            .and_then(Value::as_str)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .ok_or_else(|| bad(f, "must be a date like 2025-07-01"))
    };
    let (to, msg) = match kind {
        "reader-application" => (ActorId::ImplementingBody, Msg::ReaderApplication),
        "limited-type-application" => (
            ActorId::ImplementingBody,
            Msg::LimitedTypeApplication { postal: flag("postal")? },
        ),
        "designation-application" => {
            let complete = flag("complete")?;
            let missing = if complete { vec![] } else { vec!["(unspecified)".to_string()] };
            let at = app.world.designation_application(missing);
            return Ok(accepted(app, at, json!({})));
        }
        "system-order" => (
            ActorId::SystemVendor,
            Msg::SystemOrder { installation: date("installation")? },
        ),
        "prerequisite-ready" => {
            let p = match req_str(&m, "prerequisite")? {
                "reader" => Prerequisite::Reader,
                "line" => Prerequisite::Line,
                "portal-account" => Prerequisite::PortalAccount,
                "certificate-notice" => Prerequisite::CertificateNotice(fee_field(&m)?),
                _ => return Err(bad("prerequisite", "reader, line, portal-account or certificate-notice")),
            };
            (ActorId::SystemVendor, Msg::PrerequisiteReady(p))
        }
        "installation-day" => (ActorId::SystemVendor, Msg::InstallationDay),
        "connectivity-check" => {
            let purpose = match req_str(&m, "purpose")? {
                "installation" => CheckPurpose::Installation,
                "go-live" => CheckPurpose::GoLive,
                _ => return Err(bad("purpose", "installation or go-live")),
            };
            let to = match m.get("to").and_then(Value::as_str) {
                Some("implementing-body") => ActorId::ImplementingBody,
                _ => ActorId::Carrier,
            };
            (to, Msg::ConnectivityCheck { purpose })
        }
        other => {
            return Err(bad(
                "message",
                &format!("no clinic message {other:?} (reader-application, limited-type-application, designation-application, system-order, prerequisite-ready, installation-day, connectivity-check)"),
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
    let b = body_bytes(req).await?;
    let f: ProxyFaults = serde_json::from_slice(&b).map_err(|e| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            format!("not a fault set: {e}"),
        )
    })?;
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
    while let Some((stream, _peer)) = super::accept_until(&listener, &mut shutdown, "http").await {
        let app = app.clone();
        tokio::spawn(super::connection::serve(stream, move |req| {
            route(app.clone(), svc, req)
        }));
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
    let bytes = match body_bytes(req).await {
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
            &json!({"challenge": to_hex(&app.cards.challenge())}),
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
async fn issue_card(app: &App, req: Request<Incoming>) -> Resp {
    use super::card::to_hex;
    use fakes::eligibility::QualificationValidity;
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    let code = body.get("validity").and_then(Value::as_u64).unwrap_or(1);
    let Some(validity) = QualificationValidity::PRODUCED
        .iter()
        .copied()
        .find(|v| v.code() == code.to_string())
    else {
        return err(
            StatusCode::BAD_REQUEST,
            Some("validity"),
            "validity must be 1..5",
        );
    };
    let now = app.clock.now().date();
    let issued = match body.get("issued").and_then(Value::as_str) {
        None => now
            .checked_sub_months(chrono::Months::new(12))
            .unwrap_or(now),
        Some(s) => match s.parse() {
            Ok(d) => d,
            Err(_) => {
                return err(
                    StatusCode::BAD_REQUEST,
                    Some("issued"),
                    "issued must be YYYY-MM-DD",
                )
            }
        },
    };
    match app.cards.issue_for(app.desk.population(), validity, issued) {
        Ok(card) => {
            if body.get("revoked").and_then(Value::as_bool) == Some(true) {
                app.cards.revoke(&card, now);
            }
            json_resp(
                StatusCode::OK,
                &json!({
                    "label": card.label,
                    "certificate": to_hex(&card.auth.der),
                    "key_pkcs8": to_hex(&card.auth.key.pkcs8),
                    "not_after": card.auth.not_after.to_string(),
                    "pin": "1234",
                }),
            )
        }
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()),
    }
}

/// Serve the eligibility API over mutual TLS until `shutdown`.
pub async fn serve_https(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Some((stream, peer)) =
        super::accept_until(&listener, &mut shutdown, "eligibility").await
    {
        // No Nagle: the TLS 1.3 tickets and the answer go out as separate writes, and
        // Nagle + delayed ACK stalled each new connection ~40 ms (onsim load).
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
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
            let bound = bound_institution(tls.get_ref().1.peer_certificates());
            super::connection::serve(tls, move |req| {
                let app = app.clone();
                async move {
                    St::bump(&app.desk.stats.requests);
                    let r = eligibility(app.clone(), bound, peer, req).await;
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
