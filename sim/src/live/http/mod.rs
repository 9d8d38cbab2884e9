//! The HTTP side of the live services (hyper 1 on tokio): one listener per service,
//! JSON in and out; the eligibility API is the same machinery behind TLS.
//!
//! One module per service: [`control`], [`bureau`], [`reader_vendor`], [`carrier`],
//! [`portal`]; [`error`] holds the one error shape and the body readers; and
//! [`eligibility`] the XmlMsg API over mutual TLS ([`serve_https`], bare hyper: the
//! measured path).
//!
//! Each JSON service is an axum [`Router`] built from its route list ([`routes`]) and
//! called as a tower service from the connection layer ([`super::connection::serve`],
//! whose timeouts and caps stay), not by `axum::serve`. Request bodies are serde
//! structs with `deny_unknown_fields` read through [`error::Body`] (the limits below).
//! The handlers carry `#[utoipa::path]`, so each service has its OpenAPI document
//! ([`document`]), served at `GET /openapi.json` and written to
//! `STATE_DIR/openapi/<service>.json`. **Every request of a JSON service passes
//! [`route`] before its handler** (the trailing-slash rule, the `[live] clinic =
//! "onsim"` 409 guard).
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

mod bureau;
mod carrier;
mod control;
mod eligibility;
mod error;
mod portal;
mod reader_vendor;

use std::sync::Arc;
use std::time::Duration;

use axum::handler::Handler;
use axum::routing::MethodRouter;
use axum::{Extension, Router};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode, Uri};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;
use utoipa::{OpenApi, ToSchema};

use fakes::time::VirtualTime;

use self::error::{err, json_resp};
use super::clinics::LiveClinic;
use super::App;

pub use self::control::CARD_ISSUED_YEARS_BACK;
pub use self::eligibility::{serve_https, CLIENT_CERTIFICATE_FIELD};

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
    /// The JSON services, in port order.
    pub const ALL: [Svc; 5] = [
        Svc::Control,
        Svc::Bureau,
        Svc::ReaderVendor,
        Svc::Carrier,
        Svc::Portal,
    ];

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
pub(super) fn health(service: &str) -> Resp {
    json_resp(StatusCode::OK, &json!({"status": "ok", "service": service}))
}

/// The body of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Health {
    /// The service's name (as endpoints.json's keys name it).
    service: String,
    /// Always `ok`.
    status: String,
}

/// `GET /health` on a JSON service.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, description = "The service accepts requests.", body = Health)))]
async fn service_health(Extension(svc): Extension<Svc>) -> Resp {
    health(svc.name())
}

/// `GET /openapi.json`: the service's own OpenAPI document ([`document`]).
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This service's OpenAPI 3.1 document.", content_type = "application/json", body = Object)))]
async fn openapi(Extension(svc): Extension<Svc>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(openapi_json(svc))));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// The 202 of a clinic's request: when it was received; the answers arrive later in
/// the clinic inbox.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Accepted {
    /// `POST /designation-applications` only: whether the plan had no problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    pub note: &'static str,
    /// `POST /designation-applications` only: each problem of the plan (`field`, `message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub problems: Option<Vec<Value>>,
    /// The virtual instant the request was received, like `2025-04-15T09:00`.
    #[schema(value_type = String)]
    pub received_at: VirtualTime,
}

/// What every 202 says.
pub(super) const ACCEPTED_NOTE: &str = "answers arrive in the clinic inbox (GET /inbox on the control URL) when the virtual clock reaches them";

/// 202 [`Accepted`] at `at`.
pub(super) fn accepted(at: VirtualTime) -> Resp {
    accepted_body(Accepted {
        complete: None,
        note: ACCEPTED_NOTE,
        problems: None,
        received_at: at,
    })
}

/// 202 with `body`.
pub(super) fn accepted_body(body: Accepted) -> Resp {
    json_resp(
        StatusCode::ACCEPTED,
        &serde_json::to_value(body).unwrap_or(Value::Null),
    )
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

/// The state every handler of a JSON service gets.
type AppState = axum::extract::State<Arc<App>>;

/// The clinic a request of one clinic is for ([`crate::live::clinics`]): named by the
/// `Onsim-Clinic` header, or the only clinic; else the handler is never called and
/// the answer is 400 (missing, with several clinics) or 404 (unknown id).
pub(super) struct Tenant(pub Arc<LiveClinic>);

impl axum::extract::FromRequestParts<Arc<App>> for Tenant {
    type Rejection = Resp;

    async fn from_request_parts(
        parts: &mut hyper::http::request::Parts,
        app: &Arc<App>,
    ) -> Result<Self, Resp> {
        app.choose(&parts.headers)
            .map(|c| Tenant(c.clone()))
            .map_err(|e| error::unchosen(&e))
    }
}

/// The `Onsim-Clinic` header of a clinic's route, for its OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(super) struct ClinicHeader {
    /// The clinic the request is for (its id in endpoints.json's `clinics`); needed
    /// only when the serve runs several clinics.
    #[param(
        rename = "Onsim-Clinic",
        pattern = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
    )]
    onsim_clinic: Option<String>,
}

/// One route of a JSON service: its method and path, and the handler. A service's
/// Router is built from its list of these ([`routes`]), and nothing else.
pub(super) struct Route {
    /// The handler's method (`handler` routes only it); read by the test that holds
    /// the routes against the service's OpenAPI document.
    #[cfg_attr(not(test), allow(dead_code))]
    pub method: Method,
    pub path: &'static str,
    pub handler: MethodRouter<Arc<App>>,
}

/// `GET path` → `h`.
pub(super) fn get<H: Handler<T, Arc<App>>, T: 'static>(path: &'static str, h: H) -> Route {
    Route {
        method: Method::GET,
        path,
        handler: axum::routing::get(h),
    }
}

/// `POST path` → `h`.
pub(super) fn post<H: Handler<T, Arc<App>>, T: 'static>(path: &'static str, h: H) -> Route {
    Route {
        method: Method::POST,
        path,
        handler: axum::routing::post(h),
    }
}

/// `PUT path` → `h`.
pub(super) fn put<H: Handler<T, Arc<App>>, T: 'static>(path: &'static str, h: H) -> Route {
    Route {
        method: Method::PUT,
        path,
        handler: axum::routing::put(h),
    }
}

/// Every route of `svc`, `GET /health` first.
pub(super) fn routes(svc: Svc) -> Vec<Route> {
    let mut r = vec![
        get("/health", service_health),
        get("/openapi.json", openapi),
    ];
    r.extend(match svc {
        Svc::Control => control::routes(),
        Svc::Bureau => bureau::routes(),
        Svc::ReaderVendor => reader_vendor::routes(),
        Svc::Carrier => carrier::routes(),
        Svc::Portal => portal::routes(),
    });
    r
}

/// The axum Router of `svc`: its [`routes`], and a 404 in the error shape for any
/// other method or path.
pub fn router(svc: Svc, app: Arc<App>) -> Router {
    let mut r = Router::new();
    for route in routes(svc) {
        r = r.route(route.path, route.handler);
    }
    let no_route = move |method: Method, uri: Uri| async move {
        err(
            StatusCode::NOT_FOUND,
            None,
            format!("no route {method} {} on the {svc:?} service", uri.path()),
        )
    };
    r.fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(Extension(svc))
        .with_state(app)
}

/// The OpenAPI document of `svc`: its routes, request and response schemas, and every
/// 4xx/5xx with the one [`error::Error`] body. Written into the state dir at start
/// (`openapi/<service>.json`) and served at `GET /openapi.json`.
pub fn document(svc: Svc) -> utoipa::openapi::OpenApi {
    let mut doc = match svc {
        Svc::Control => control::Api::openapi(),
        Svc::Bureau => bureau::Api::openapi(),
        Svc::ReaderVendor => reader_vendor::Api::openapi(),
        Svc::Carrier => carrier::Api::openapi(),
        Svc::Portal => portal::Api::openapi(),
    };
    doc.merge(Meta::openapi());
    doc.info.title = format!("onsim {} service", svc.name());
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.info.license = None;
    doc.info.contact = None;
    doc
}

/// [`document`] as pretty JSON with a final newline (the state dir's file, byte for
/// byte the body of `GET /openapi.json`).
pub fn openapi_json(svc: Svc) -> Vec<u8> {
    let mut b = document(svc)
        .to_pretty_json()
        .unwrap_or_default()
        .into_bytes();
    b.push(b'\n');
    b
}

/// The routes and schemas every JSON service shares.
#[derive(OpenApi)]
#[openapi(
    paths(service_health, openapi),
    components(schemas(error::Error, Health, Accepted))
)]
struct Meta;

/// Route one plain-HTTP request of `svc` through its Router. **Every request of a JSON
/// service passes here before its handler**: the trailing `/` is dropped, and the
/// clinic's routes answer 409 while onsim plays the clinic the request names
/// (`[live] clinic = "onsim"`; a request naming no clinic gets its 400 or 404 from
/// the handler's [`Tenant`]).
pub async fn route(
    router: Router,
    app: &App,
    svc: Svc,
    mut req: Request<Incoming>,
) -> Response<axum::body::Body> {
    use axum::response::IntoResponse;
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_string();
    let onsim_plays = || {
        app.choose(req.headers())
            .is_ok_and(|c| !c.world.system_under_test_plays_clinic())
    };
    if clinic_route(svc, &method, &path) && onsim_plays() {
        return err(
            StatusCode::CONFLICT,
            None,
            "onsim plays the clinic in this scenario ([live] clinic = \"onsim\"): the clinic's routes are closed to clients; use the terminal and the eligibility API",
        )
        .into_response();
    }
    if path.len() != req.uri().path().len() {
        let p = if path.is_empty() { "/" } else { path.as_str() };
        let pq = match req.uri().query() {
            Some(q) => format!("{p}?{q}"),
            None => p.to_string(),
        };
        if let Ok(uri) = pq.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    tracing::debug!(?svc, %method, %path, status = resp.status().as_u16(), "http");
    resp
}

/// Serve plain HTTP for `svc` until `shutdown`.
pub async fn serve_http(
    listener: TcpListener,
    svc: Svc,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HTTP_CONNECTIONS));
    let router = router(svc, app.clone());
    while let Some((stream, peer)) =
        crate::live::accept_until(&listener, &mut shutdown, "http").await
    {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, service = ?svc, limit = MAX_HTTP_CONNECTIONS, "too many connections; closed");
            drop(stream);
            continue;
        };
        let app = app.clone();
        let router = router.clone();
        tokio::spawn(async move {
            crate::live::connection::serve(stream, move |req| {
                let app = app.clone();
                let router = router.clone();
                async move { route(router, &app, svc, req).await }
            })
            .await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn documented(svc: Svc) -> (BTreeSet<(String, String)>, Value) {
        let doc: Value = serde_json::from_slice(&openapi_json(svc)).unwrap();
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
        (ops, doc)
    }

    /// The Router of each service is built from [`routes`] alone, so this is every
    /// route it answers: each must be in the service's document, and nothing else.
    #[test]
    fn every_route_of_each_router_is_in_its_document_and_nothing_else() {
        for svc in Svc::ALL {
            let registered: BTreeSet<(String, String)> = routes(svc)
                .iter()
                .map(|r| (r.method.to_string(), r.path.to_string()))
                .collect();
            let (ops, _) = documented(svc);
            assert_eq!(
                registered, ops,
                "{svc:?}: routes registered vs documented (left: the Router)"
            );
        }
    }

    /// Every 4xx/5xx of every operation has the one `Error` body, every operation has
    /// a 2xx, and every body that reads JSON documents 400, 413 and 422.
    #[test]
    fn every_error_response_is_the_one_error_shape() {
        for svc in Svc::ALL {
            let (_, doc) = documented(svc);
            assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
            let schema = &doc["components"]["schemas"]["Error"];
            assert_eq!(
                schema["required"],
                serde_json::json!(["error"]),
                "{svc:?}: {schema}"
            );
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    let responses = op["responses"].as_object().unwrap();
                    assert!(
                        responses.keys().any(|s| s.starts_with('2')),
                        "{svc:?} {method} {path}: no 2xx"
                    );
                    for (status, r) in responses {
                        if status.starts_with('4') || status.starts_with('5') {
                            assert_eq!(
                                r["content"]["application/json"]["schema"]["$ref"],
                                "#/components/schemas/Error",
                                "{svc:?} {method} {path} {status}"
                            );
                        }
                    }
                    if op.get("requestBody").is_some() {
                        for s in ["400", "413", "422"] {
                            assert!(
                                responses.contains_key(s),
                                "{svc:?} {method} {path}: reads a body but documents no {s}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The limits a document states are the ones the handlers apply.
    #[test]
    fn documented_limits_are_the_code_limits() {
        let (_, doc) = documented(Svc::Control);
        let speed = &doc["components"]["schemas"]["Speed"]["properties"]["speed"];
        assert_eq!(
            speed["maximum"].as_f64(),
            Some(crate::live::clock::MAX_SPEED)
        );
        let cred = &doc["components"]["schemas"]["Revocation"]["properties"]["credential"];
        assert_eq!(cred["enum"], serde_json::json!(crate::live::pki::MATRIX));
        let (_, doc) = documented(Svc::Carrier);
        let line = &doc["components"]["schemas"]["LineOrder"]["properties"]["line_type"];
        assert_eq!(
            line["enum"],
            serde_json::json!(["ip-vpn", "ipsec-ike", "internet"])
        );
        let (_, doc) = documented(Svc::Bureau);
        let fee = &doc["components"]["schemas"]["ReceptionRequest"]["properties"]["fee_table"];
        assert_eq!(
            fee["enum"],
            serde_json::json!(["medical", "dental", "pharmacy"])
        );
    }

    /// Every route that reads a clinic's state names the `Onsim-Clinic` header (with
    /// the id pattern the serve checks) and documents its 400 and 404; the clock and
    /// the meta routes do not.
    #[test]
    fn clinic_routes_document_the_clinic_header() {
        let global = [
            "/health",
            "/openapi.json",
            "/clock",
            "/clock/advance",
            "/clock/speed",
            "/stats",
        ];
        let mut seen = 0;
        for svc in Svc::ALL {
            let (_, doc) = documented(svc);
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    let header = op["parameters"].as_array().and_then(|ps| {
                        ps.iter()
                            .find(|p| p["name"] == crate::live::clinics::HEADER)
                            .cloned()
                    });
                    // The proxy's manual faults are everyone's (`PUT`).
                    let global_op = global.contains(&path.as_str())
                        || (method == "put" && path.ends_with("faults"));
                    match header {
                        None => assert!(global_op, "{svc:?} {method} {path}: no clinic header"),
                        Some(h) => {
                            assert!(!global_op, "{svc:?} {method} {path}: a global route");
                            assert_eq!(h["in"], "header");
                            assert_eq!(h["required"], false);
                            assert_eq!(
                                h["schema"]["pattern"],
                                crate::live::clinics::ID_PATTERN,
                                "{svc:?} {method} {path}"
                            );
                            let r = &op["responses"];
                            assert!(r.get("404").is_some(), "{svc:?} {method} {path}");
                            assert!(
                                r["400"]["description"]
                                    .as_str()
                                    .is_some_and(|d| d.contains("Onsim-Clinic")),
                                "{svc:?} {method} {path}: {}",
                                r["400"]
                            );
                            seen += 1;
                        }
                    }
                }
            }
        }
        assert!(seen >= 20, "{seen}");
    }

    #[test]
    fn the_documents_are_deterministic_and_name_their_service() {
        for svc in Svc::ALL {
            assert_eq!(openapi_json(svc), openapi_json(svc));
            let (_, doc) = documented(svc);
            assert_eq!(
                doc["info"]["title"],
                format!("onsim {} service", svc.name())
            );
        }
    }
}
