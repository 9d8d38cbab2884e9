//! The control service: the virtual clock, the clinic's inbox, the trace, the
//! verdict, carrier faults, cards, revocations and the simulated reader.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use axum::extract::{RawQuery, State};
use chrono::NaiveDate;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{OpenApi, ToSchema};

use fakes::process::{codec, ActorId, Msg};

use super::error::{
    codec_err, err, json_resp, non_empty, parse_time, query, unchosen, Body, BodyErrors,
    ClinicErrors, TenantErrors,
};
use super::{accepted, get, post, put, Accepted, AppState, ClinicHeader, Resp, Route, Tenant};
use crate::live::clinics::LiveClinic;
use crate::live::App;

/// The control service's OpenAPI document (with [`super::document`]'s shared part).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "The control service of `onsim serve`: the virtual clock, the clinic's inbox, the trace, the verdict of `--scenario`, carrier faults, virtual cards, revocations and the simulated reader."
    ),
    paths(
        verdict,
        clock,
        stats,
        advance,
        speed,
        inbox,
        trace,
        super::bureau::deadlines,
        carrier_faults,
        set_carrier_faults,
        clinic_message,
        issue_card,
        publish_revocation,
        reader_present
    ),
    components(schemas(
        Clock,
        Advance,
        Speed,
        Inbox,
        Trace,
        CardRequest,
        Card,
        Revocation,
        Revoked,
        ClinicMessage,
        crate::live::world::InboxItem,
        crate::live::reader::PresentRequest,
        crate::live::reader::PresentOutcome,
        crate::live::reader::PresentConsents,
        super::carrier::Faults,
        super::carrier::FaultsSet,
        super::carrier::Line,
        crate::live::carrier::ProxyFaults,
        crate::live::carrier::FaultMode,
        crate::live::carrier::Outage
    ))
)]
pub(super) struct Api;

/// The control service's routes (besides `GET /health`).
pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/verdict", verdict),
        get("/clock", clock),
        get("/stats", stats),
        post("/clock/advance", advance),
        post("/clock/speed", speed),
        get("/inbox", inbox),
        get("/trace", trace),
        get("/deadlines", super::bureau::deadlines),
        get("/carrier/faults", carrier_faults),
        put("/carrier/faults", set_carrier_faults),
        post("/clinic/messages", clinic_message),
        post("/cards", issue_card),
        post("/pki/revocations", publish_revocation),
        post("/reader/present", reader_present),
    ]
}

/// The virtual clock.
#[derive(Debug, Serialize, ToSchema)]
struct Clock {
    /// `POST /clock/advance` only: the messages delivered on the way.
    delivered: Option<usize>,
    /// When the next queued message comes due, if any.
    #[schema(value_type = Option<String>)]
    next_due: Option<fakes::time::VirtualTime>,
    /// The virtual now, like `2025-04-01T09:00`.
    #[schema(value_type = String)]
    now: fakes::time::VirtualTime,
    /// Messages waiting for their time.
    pending: usize,
    /// Virtual seconds per real second (0: frozen).
    speed: f64,
}

/// `GET /clock`: the virtual clock.
#[utoipa::path(get, path = "/clock", tag = "clock",
    responses((status = 200, description = "The virtual clock.", body = Clock)))]
async fn clock(State(app): AppState) -> Resp {
    json_resp(StatusCode::OK, &clock_json(&app, None))
}

/// `GET /stats`: the eligibility API's counters and the server's pid.
#[utoipa::path(get, path = "/stats", tag = "meta",
    responses((status = 200, description = "`eligibility`: the eligibility API's counters; `pid`.", body = Object)))]
async fn stats(State(app): AppState) -> Resp {
    json_resp(
        StatusCode::OK,
        &json!({"eligibility": app.desk.stats.snapshot(), "pid": std::process::id()}),
    )
}

/// The clinic's inbox.
#[derive(Debug, Serialize, ToSchema)]
struct Inbox {
    messages: Vec<crate::live::world::InboxItem>,
    #[schema(value_type = String)]
    now: fakes::time::VirtualTime,
}

/// `GET /inbox?since=SEQ&limit=N`: the clinic's inbox after `since` (default 0), at
/// most `limit` (default 1,000, at most 10,000) items. A parameter that is not a
/// whole number is ignored (its default applies).
#[utoipa::path(get, path = "/inbox", tag = "clinic",
    params(
        ("since" = Option<u64>, Query, description = "Only items with a larger `seq`."),
        ("limit" = Option<u64>, Query, description = "At most this many items (at most 10,000)."),
        ClinicHeader
    ),
    responses((status = 200, description = "The inbox, oldest first.", body = Inbox), TenantErrors))]
async fn inbox(State(app): AppState, Tenant(c): Tenant, RawQuery(q): RawQuery) -> Resp {
    let since = query(q.as_deref(), "since")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let limit = query(q.as_deref(), "limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000usize)
        .min(10_000);
    let items = c.world.inbox(since, limit);
    let inbox = Inbox {
        messages: items,
        now: app.clock.now(),
    };
    json_resp(
        StatusCode::OK,
        &serde_json::to_value(inbox).unwrap_or(Value::Null),
    )
}

/// The trace.
#[derive(Debug, Serialize, ToSchema)]
struct Trace {
    /// Events dropped over the trace's bound.
    dropped: u64,
    /// Each event: `at`, `actor`, `kind`, ...
    #[schema(value_type = Vec<Object>)]
    events: Vec<fakes::process::Event>,
    #[schema(value_type = String)]
    now: fakes::time::VirtualTime,
}

/// `GET /trace`: the clinic's trace up to the virtual now.
#[utoipa::path(get, path = "/trace", tag = "clock", params(ClinicHeader),
    responses((status = 200, description = "The trace, in time order.", body = Trace), TenantErrors))]
async fn trace(State(app): AppState, Tenant(c): Tenant) -> Resp {
    let (events, dropped) = c.world.trace();
    let trace = Trace {
        dropped,
        events,
        now: app.clock.now(),
    };
    json_resp(
        StatusCode::OK,
        &serde_json::to_value(trace).unwrap_or(Value::Null),
    )
}

/// `GET /carrier/faults`: as the carrier's `GET /faults`.
#[utoipa::path(get, path = "/carrier/faults", tag = "carrier", params(ClinicHeader),
    responses((status = 200, description = "The carrier proxy's faults, counters and the clinic's line.", body = super::carrier::Faults), TenantErrors))]
async fn carrier_faults(app: AppState, c: Tenant) -> Resp {
    super::carrier::faults(app, c).await
}

/// `PUT /carrier/faults`: as the carrier's `PUT /faults`.
#[utoipa::path(put, path = "/carrier/faults", tag = "carrier",
    request_body = crate::live::carrier::ProxyFaults,
    responses((status = 200, description = "The faults now in force.", body = super::carrier::FaultsSet), BodyErrors))]
async fn set_carrier_faults(
    app: AppState,
    body: Body<crate::live::carrier::ProxyFaults, { super::PLAN_BODY }>,
) -> Result<Resp, Resp> {
    super::carrier::set_faults(app, body).await
}

fn clock_json(app: &App, delivered: Option<usize>) -> Value {
    let clock = Clock {
        delivered,
        next_due: app.next_due(),
        now: app.clock.now(),
        pending: app.pending(),
        speed: app.clock.speed(),
    };
    serde_json::to_value(clock).unwrap_or(Value::Null)
}

/// `GET /verdict[?timeline=1][&clinic=ID]`: the scenario's `[[expect]]` judged now
/// ([`crate::live::verdict`]); 404 when `onsim serve` runs no scenario. With several
/// clinics: the overall verdict and each clinic's ([`crate::live::verdict::Overall`]),
/// or one clinic's, named by `?clinic=` or the `Onsim-Clinic` header (the query wins).
#[utoipa::path(get, path = "/verdict", tag = "clock",
    params(
        ("timeline" = Option<String>, Query, description = "`1` or `true`: add the events."),
        ("clinic" = Option<String>, Query, description = "One clinic's verdict (its id; as the `Onsim-Clinic` header)."),
        ClinicHeader
    ),
    responses(
        (status = 200, description = "The verdict: `outcome`, `passed`, `settled`, each `[[expect]]`; with several clinics and none named: `passed`, `settled` and `clinics` (each clinic's verdict with its `id`).", body = Object),
        (status = 400, description = "The `Onsim-Clinic` header is not text.", body = super::error::Error),
        (status = 404, description = "No scenario is judged (onsim serve without --scenario), or the clinic named is none of this serve's.", body = super::error::Error)
    ))]
async fn verdict(State(app): AppState, headers: hyper::HeaderMap, RawQuery(q): RawQuery) -> Resp {
    let timeline = query(q.as_deref(), "timeline").is_some_and(|v| v == "1" || v == "true");
    let named = query(q.as_deref(), "clinic");
    let one: Option<&std::sync::Arc<LiveClinic>> = match named {
        Some(id) => {
            let ids = app.clinic_ids();
            match crate::live::clinics::choose(&ids, Some(id.as_bytes())) {
                Ok(i) => Some(&app.clinics[i]),
                Err(e) => return unchosen(&e),
            }
        }
        None if headers.contains_key(crate::live::clinics::HEADER) || app.clinics.len() == 1 => {
            match app.choose(&headers) {
                Ok(c) => Some(c),
                Err(e) => return unchosen(&e),
            }
        }
        None => None,
    };
    let none = || {
        err(
            StatusCode::NOT_FOUND,
            None,
            "no scenario is judged: start onsim serve --scenario FILE (or set ONSIM_SCENARIO)",
        )
    };
    let v = match one {
        Some(c) => match c.world.verdict(timeline) {
            Some(v) => serde_json::to_value(&v),
            None => return none(),
        },
        None => match crate::live::verdict::overall(&app, timeline) {
            Some(v) => serde_json::to_value(&v),
            None => return none(),
        },
    };
    json_resp(StatusCode::OK, &v.unwrap_or(Value::Null))
}

/// `POST /clinic/messages {"message": KIND, ...fields, "to": ACTOR}`: the clinic's
/// messages that no service route carries yet (reader application, limited-type
/// application, system-vendor order and prerequisites, connectivity check,
/// designation application without a plan body), in the codec's wire format
/// ([`fakes::process::codec`]); `to` chooses the addressee where a message has two
/// (a connectivity check: `carrier`, the default, or `implementing-body`). Used by
/// `onsim run --live`.
#[utoipa::path(post, path = "/clinic/messages", tag = "clinic", params(ClinicHeader),
    request_body = ClinicMessage,
    responses((status = 202, description = "Received; the answers arrive in the inbox.", body = Accepted), BodyErrors, ClinicErrors, TenantErrors))]
async fn clinic_message(Tenant(c): Tenant, Body(b): Body<ClinicMessage>) -> Result<Resp, Resp> {
    let kinds = CLINIC_MESSAGES.join(", ");
    non_empty("message", &b.message)?;
    let kind = b.message.clone();
    let to = b.to;
    let mut m = b.fields;
    m.insert(codec::TAG.into(), Value::String(b.message));
    let bad = |f: &'static str, what: &str| err(StatusCode::UNPROCESSABLE_ENTITY, Some(f), what);
    let msg = codec::from_json(&m).map_err(|e| {
        if e.field.as_deref() == Some(codec::TAG) {
            bad("message", &format!("no clinic message {kind:?} ({kinds})"))
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
            let at = c.world.designation_application(missing);
            return Ok(accepted(at));
        }
        Msg::SystemOrder { .. } | Msg::PrerequisiteReady(_) | Msg::InstallationDay => {
            ActorId::SystemVendor
        }
        Msg::ConnectivityCheck { .. } => match to.as_deref() {
            Some("implementing-body") => ActorId::ImplementingBody,
            _ => ActorId::Carrier,
        },
        _ => {
            return Err(bad(
                "message",
                &format!("no clinic message {kind:?} ({kinds})"),
            ))
        }
    };
    let at = c.world.clinic_sends(to, msg);
    Ok(accepted(at))
}

/// The body of `POST /clinic/messages`: the message's kind and its fields in the
/// codec's wire format ([`fakes::process::codec`], which reads them).
#[derive(Debug, Deserialize, ToSchema)]
struct ClinicMessage {
    /// One of [`CLINIC_MESSAGES`].
    #[schema(schema_with = clinic_message_schema)]
    message: String,
    /// A connectivity check's addressee: `carrier` (absent) or `implementing-body`.
    #[schema(schema_with = addressee_schema)]
    to: Option<String>,
    /// The message's own fields (e.g. `purpose` of a connectivity check,
    /// `installation` of a system order).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    fields: Map<String, Value>,
}

/// The clinic's messages `POST /clinic/messages` carries (the codec's kinds).
const CLINIC_MESSAGES: [&str; 7] = [
    "reader-application",
    "limited-type-application",
    "designation-application",
    "system-order",
    "prerequisite-ready",
    "installation-day",
    "connectivity-check",
];

fn clinic_message_schema() -> utoipa::openapi::Object {
    super::error::string_enum(CLINIC_MESSAGES, "The message's kind.")
}

fn addressee_schema() -> utoipa::openapi::Object {
    super::error::string_enum(
        ["carrier", "implementing-body"],
        "A connectivity check's addressee: `carrier` (absent) or `implementing-body`.",
    )
}

/// The body of `POST /clock/advance`: exactly one of the four.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, max_properties = 1)]
struct Advance {
    #[schema(minimum = 0)]
    minutes: Option<i64>,
    #[schema(minimum = 0)]
    hours: Option<i64>,
    #[schema(minimum = 0)]
    days: Option<i64>,
    /// A virtual time like `2025-04-15T09:00`, or a date (its 00:00).
    to: Option<String>,
}

/// `POST /clock/advance`: move the virtual clock forward and deliver what came due.
#[utoipa::path(post, path = "/clock/advance", tag = "clock",
    request_body = Advance,
    responses((status = 200, description = "The clock after the move.", body = Clock), BodyErrors))]
async fn advance(State(app): AppState, Body(b): Body<Advance>) -> Result<Resp, Resp> {
    let app = &*app;
    let given = [
        b.minutes.is_some(),
        b.hours.is_some(),
        b.days.is_some(),
        b.to.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            "give exactly one of minutes, hours, days or to",
        ));
    }
    let now = app.clock.now();
    let target = if let Some(s) = &b.to {
        parse_time("to", s)?
    } else {
        let (field, n, per) = [
            ("minutes", b.minutes, 1i64),
            ("hours", b.hours, 60),
            ("days", b.days, 1440),
        ]
        .into_iter()
        .find_map(|(f, n, per)| n.map(|n| (f, n, per)))
        .unwrap_or(("minutes", 0, 1));
        if !(0..=100 * 366 * 1440 / per).contains(&n) {
            return Err(err(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(field),
                format!("{field} must be a whole number ≥ 0"),
            ));
        }
        now.plus_minutes(n * per)
    };
    app.clock.advance_to(target).map_err(|e| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(if b.to.is_some() { "to" } else { "minutes" }),
            e.to_string(),
        )
    })?;
    let delivered = app.tick();
    tracing::info!(from = %now, to = %app.clock.now(), delivered, "clock advanced");
    Ok(json_resp(StatusCode::OK, &clock_json(app, Some(delivered))))
}

/// The body of `POST /clock/speed`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Speed {
    /// Virtual seconds per real second, 0 = frozen (at most a year per second).
    #[schema(minimum = 0, maximum = 31_536_000)]
    speed: f64,
}

/// `POST /clock/speed`: how fast the virtual clock runs.
#[utoipa::path(post, path = "/clock/speed", tag = "clock",
    request_body = Speed,
    responses((status = 200, description = "The clock at its new speed.", body = Clock), BodyErrors))]
async fn speed(State(app): AppState, Body(b): Body<Speed>) -> Result<Resp, Resp> {
    let app = &*app;
    let s = b.speed;
    app.tick();
    app.clock.set_speed(s).map_err(|e| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("speed"),
            e.to_string(),
        )
    })?;
    Ok(json_resp(StatusCode::OK, &clock_json(app, None)))
}

/// `POST /cards {"validity": 1..5, "issued": "YYYY-MM-DD", "revoked": false}` (control):
/// issue a virtual patient's card linked to the population example with that
/// validity; returns its certificate and key (hex DER, PKCS#8) and its PIN.
///
/// `issued` must lie within [`CARD_ISSUED_YEARS_BACK`] years before the virtual
/// today and not after it *(our choice: a card certificate lives 5 years, so older
/// issue dates only make expired cards)*; anything else is a 422 naming the field.
#[utoipa::path(post, path = "/cards", tag = "cards", params(ClinicHeader),
    request_body = CardRequest,
    responses((status = 200, description = "The card's certificate, key and PIN.", body = Card), BodyErrors, TenantErrors))]
async fn issue_card(
    State(app): AppState,
    Tenant(c): Tenant,
    Body(body): Body<CardRequest>,
) -> Resp {
    match issue_card_checked(&app, &c, body) {
        Ok(r) | Err(r) => r,
    }
}

/// How far back `POST /cards` accepts an issue date.
pub const CARD_ISSUED_YEARS_BACK: u32 = 20;

/// The body of `POST /cards`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CardRequest {
    /// The QualificationValidity the card's holder gets, 1..5 (absent: 1).
    #[schema(minimum = 1, maximum = 5)]
    validity: Option<u8>,
    /// The issue date, within 20 years before the virtual today (absent: a year ago).
    #[schema(format = Date)]
    issued: Option<String>,
    /// Revoke the card at once.
    revoked: Option<bool>,
}

fn issue_card_checked(app: &App, clinic: &LiveClinic, body: CardRequest) -> Result<Resp, Resp> {
    use crate::live::card::to_hex;
    use fakes::eligibility::QualificationValidity;
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
        .issue_for(&clinic.population, validity, issued)
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
    let card = Card {
        certificate: to_hex(&card.auth.der),
        key_pkcs8: to_hex(&card.auth.key.pkcs8),
        label: card.label.clone(),
        not_after: card.auth.not_after.to_string(),
        pin: "1234",
    };
    Ok(json_resp(
        StatusCode::OK,
        &serde_json::to_value(card).unwrap_or(Value::Null),
    ))
}

/// A virtual card `POST /cards` issued.
#[derive(Debug, Serialize, ToSchema)]
struct Card {
    /// The card's authentication certificate (hex DER).
    certificate: String,
    /// Its private key (hex PKCS#8).
    key_pkcs8: String,
    /// The population example it is linked to.
    label: String,
    /// The certificate's last day.
    not_after: String,
    /// The card's PIN.
    pin: &'static str,
}

/// `POST /reader/present` (control): a patient presents a card at the simulated
/// face-auth reader; see [`crate::live::reader`].
#[utoipa::path(post, path = "/reader/present", tag = "cards", params(ClinicHeader),
    request_body = crate::live::reader::PresentRequest,
    responses(
        (status = 200, description = "What the reader did, and the face file it wrote.", body = Object),
        BodyErrors,
        TenantErrors,
        (status = 503, description = "The reader stopped.", body = super::error::Error)
    ))]
async fn reader_present(
    State(app): AppState,
    Tenant(c): Tenant,
    Body(body): Body<crate::live::reader::PresentRequest>,
) -> Result<Resp, Resp> {
    let r = tokio::task::spawn_blocking(move || crate::live::reader::present(&app, &c, &body))
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

fn credential_schema() -> utoipa::openapi::Object {
    super::error::string_enum(
        crate::live::pki::MATRIX,
        "A credential of the matrix (`pki/NAME.crt`).",
    )
}

/// The answer of `POST /pki/revocations`.
#[derive(Debug, Serialize, ToSchema)]
struct Revoked {
    /// The new CRL (PEM).
    crl_pem: String,
    /// The credential revoked.
    revoked: String,
    /// The UTC day the revocation is dated.
    since: NaiveDate,
}

/// The body of `POST /pki/revocations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Revocation {
    /// A credential of the matrix (`pki/NAME.crt`).
    #[schema(schema_with = credential_schema)]
    credential: String,
}

/// `POST /pki/revocations {"credential": NAME}` (control): publish a revocation of a
/// credential of the matrix (`pki/NAME.crt`) dated at the virtual instant (UTC day);
/// from the next request on, every connection carrying it is refused. Answers the new
/// CRL (PEM) — `pki/terminal-ca.crl` on disk stays the start-time list.
#[utoipa::path(post, path = "/pki/revocations", tag = "cards", params(ClinicHeader),
    request_body = Revocation,
    responses((status = 200, description = "The revocation and the new CRL.", body = Revoked), BodyErrors, TenantErrors))]
async fn publish_revocation(
    State(app): AppState,
    Tenant(c): Tenant,
    Body(b): Body<Revocation>,
) -> Result<Resp, Resp> {
    let Some(cert) = c.credential(&b.credential) else {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("credential"),
            format!(
                "no credential {:?}; one of {}",
                b.credential,
                crate::live::pki::MATRIX.join(", ")
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
    let revoked = Revoked {
        crl_pem: fakes::pki::pem_encode("X509 CRL", &crl),
        revoked: b.credential,
        since: today_utc,
    };
    Ok(json_resp(
        StatusCode::OK,
        &serde_json::to_value(revoked).unwrap_or(Value::Null),
    ))
}
