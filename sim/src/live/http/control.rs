//! The control service: the virtual clock, the clinic's inbox, the trace, the
//! verdict, carrier faults, cards, revocations and the simulated reader.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use axum::extract::{RawQuery, State};
use chrono::NaiveDate;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use fakes::process::{codec, ActorId, Msg};

use super::error::{codec_err, err, json_resp, parse_time, query, req_str, Body, Object};
use super::{accepted, get, post, put, AppState, Resp, Route};
use crate::live::App;

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

/// `GET /clock`: the virtual clock.
async fn clock(State(app): AppState) -> Resp {
    json_resp(StatusCode::OK, &clock_json(&app, None))
}

/// `GET /stats`: the eligibility API's counters and the server's pid.
async fn stats(State(app): AppState) -> Resp {
    json_resp(
        StatusCode::OK,
        &json!({"eligibility": app.desk.stats.snapshot(), "pid": std::process::id()}),
    )
}

/// `GET /inbox?since=SEQ&limit=N`: the clinic's inbox after `since` (default 0), at
/// most `limit` (default 1,000, at most 10,000) items.
async fn inbox(State(app): AppState, RawQuery(q): RawQuery) -> Resp {
    let since = query(q.as_deref(), "since")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let limit = query(q.as_deref(), "limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000usize)
        .min(10_000);
    let items = app.world.inbox(since, limit);
    json_resp(
        StatusCode::OK,
        &json!({"now": app.clock.now(), "messages": items}),
    )
}

/// `GET /trace`: the trace up to the virtual now.
async fn trace(State(app): AppState) -> Resp {
    let (events, dropped) = app.world.trace();
    json_resp(
        StatusCode::OK,
        &json!({"now": app.clock.now(), "dropped": dropped, "events": events}),
    )
}

/// `GET /carrier/faults`: as the carrier's `GET /faults`.
async fn carrier_faults(app: AppState) -> Resp {
    super::carrier::faults(app).await
}

/// `PUT /carrier/faults`: as the carrier's `PUT /faults`.
async fn set_carrier_faults(
    app: AppState,
    body: Body<crate::live::carrier::ProxyFaults, { super::PLAN_BODY }>,
) -> Result<Resp, Resp> {
    super::carrier::set_faults(app, body).await
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

/// `GET /verdict[?timeline=1]`: the scenario's `[[expect]]` judged now
/// ([`crate::live::verdict`]); 404 when `onsim serve` runs no scenario.
async fn verdict(State(app): AppState, RawQuery(q): RawQuery) -> Resp {
    let timeline = query(q.as_deref(), "timeline").is_some_and(|v| v == "1" || v == "true");
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

/// `POST /clinic/messages {"message": KIND, ...fields, "to": ACTOR}`: the clinic's
/// messages that no service route carries yet (reader application, limited-type
/// application, system-vendor order and prerequisites, connectivity check,
/// designation application without a plan body), in the codec's wire format
/// ([`fakes::process::codec`]); `to` chooses the addressee where a message has two
/// (a connectivity check: `carrier`, the default, or `implementing-body`). Used by
/// `onsim run --live`.
async fn clinic_message(State(app): AppState, Object(mut m): Object) -> Result<Resp, Resp> {
    let app = &*app;
    const KINDS: &str = "reader-application, limited-type-application, designation-application, system-order, prerequisite-ready, installation-day, connectivity-check";
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

/// The body of `POST /clock/advance`: exactly one of the four.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    minutes: Option<i64>,
    hours: Option<i64>,
    days: Option<i64>,
    /// A virtual time like `2025-04-15T09:00`, or a date (its 00:00).
    to: Option<String>,
}

/// `POST /clock/advance`: move the virtual clock forward and deliver what came due.
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
    let delivered = app.world.tick();
    tracing::info!(from = %now, to = %app.clock.now(), delivered, "clock advanced");
    Ok(json_resp(StatusCode::OK, &clock_json(app, Some(delivered))))
}

/// The body of `POST /clock/speed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Speed {
    /// Virtual seconds per real second, 0 = frozen.
    speed: f64,
}

/// `POST /clock/speed`: how fast the virtual clock runs.
async fn speed(State(app): AppState, Body(b): Body<Speed>) -> Result<Resp, Resp> {
    let app = &*app;
    let s = b.speed;
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

/// `POST /cards {"validity": 1..5, "issued": "YYYY-MM-DD", "revoked": false}` (control):
/// issue a virtual patient's card linked to the population example with that
/// validity; returns its certificate and key (hex DER, PKCS#8) and its PIN.
///
/// `issued` must lie within [`CARD_ISSUED_YEARS_BACK`] years before the virtual
/// today and not after it *(our choice: a card certificate lives 5 years, so older
/// issue dates only make expired cards)*; anything else is a 422 naming the field.
async fn issue_card(State(app): AppState, Body(body): Body<CardRequest>) -> Resp {
    match issue_card_checked(&app, body) {
        Ok(r) | Err(r) => r,
    }
}

/// How far back `POST /cards` accepts an issue date.
pub const CARD_ISSUED_YEARS_BACK: u32 = 20;

/// The body of `POST /cards`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardRequest {
    validity: Option<u8>,
    issued: Option<String>,
    revoked: Option<bool>,
}

fn issue_card_checked(app: &App, body: CardRequest) -> Result<Resp, Resp> {
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
/// face-auth reader; see [`crate::live::reader`].
async fn reader_present(
    State(app): AppState,
    Body(body): Body<crate::live::reader::PresentRequest>,
) -> Result<Resp, Resp> {
    let r = tokio::task::spawn_blocking(move || crate::live::reader::present(&app, &body))
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

/// The body of `POST /pki/revocations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Revocation {
    /// A credential of the matrix (`pki/NAME.crt`).
    credential: String,
}

/// `POST /pki/revocations {"credential": NAME}` (control): publish a revocation of a
/// credential of the matrix (`pki/NAME.crt`) dated at the virtual instant (UTC day);
/// from the next request on, every connection carrying it is refused. Answers the new
/// CRL (PEM) — `pki/terminal-ca.crl` on disk stays the start-time list.
async fn publish_revocation(State(app): AppState, Body(b): Body<Revocation>) -> Result<Resp, Resp> {
    let Some((_, cert)) = app.pki.matrix.iter().find(|(n, _)| *n == b.credential) else {
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
    let crl = {
        let mut list = app
            .terminal_revocations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !list.iter().any(|r| r.serial == cert.serial) {
            list.push(fakes::pki::Revocation {
                serial: cert.serial.clone(),
                date: today_utc,
            });
        }
        let (crl, verifier) = app.pki.crl_for(today_utc, &list).map_err(|e| {
            err(
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                format!("cannot sign the CRL: {e}"),
            )
        })?;
        // Published under the list's lock: two revocations never race to an old CRL.
        app.client_verifier.publish_crl(verifier);
        crl
    };
    tracing::info!(credential = %b.credential, virtual_now = %app.clock.now(), "terminal certificate revoked");
    Ok(json_resp(
        StatusCode::OK,
        &json!({"revoked": b.credential, "since": today_utc, "crl_pem": fakes::pki::pem_encode("X509 CRL", &crl)}),
    ))
}
