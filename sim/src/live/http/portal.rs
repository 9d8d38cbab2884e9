//! The portal (医療機関等向けポータルサイト): the temporary code, the reception number,
//! the usage and certificate applications, the operation start, and its status.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use axum::extract::State;
use chrono::NaiveDate;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use fakes::process::{ActorId, Msg};

use super::error::{conflict, err, fee_field, fields, json_resp, message, non_empty, Body};
use super::{accepted, get, post, put, AppState, Resp, Route};

/// The portal's routes (besides `GET /health`).
pub(super) fn routes() -> Vec<Route> {
    vec![
        post("/temporary-code-requests", temporary_code_request),
        post("/reception-numbers", reception_number),
        post("/usage-applications", usage_application),
        post("/certificate-applications", certificate_application),
        put("/operation-start", operation_start),
        get("/status", status),
        get("/certificates", certificates),
    ]
}

/// `POST /temporary-code-requests`: ask for a temporary code (no body is read).
async fn temporary_code_request(State(app): AppState) -> Resp {
    let at = app
        .world
        .clinic_sends(ActorId::ImplementingBody, Msg::TemporaryCodeRequest);
    accepted(&app, at, json!({}))
}

/// The body of `POST /reception-numbers`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ReceptionNumber {
    /// The reception number the bureau answered (its digit string).
    reception_number: String,
}

/// `POST /reception-numbers`: register the reception number (受付番号の登録).
async fn reception_number(
    State(app): AppState,
    Body(b): Body<ReceptionNumber>,
) -> Result<Resp, Resp> {
    non_empty("reception_number", &b.reception_number)?;
    let Msg::ReceptionNumberSubmission { number } =
        message("reception-number-submission", &fields(&b))?
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

/// The body of `POST /usage-applications` (stored as given, shown in `GET /status`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UsageApplication {
    line_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ntt_customer_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    planned_start_month: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_month: Option<Value>,
}

/// `POST /usage-applications`: the usage application (利用申請).
async fn usage_application(
    State(app): AppState,
    Body(b): Body<UsageApplication>,
) -> Result<Resp, Resp> {
    non_empty("line_type", &b.line_type)?;
    let at = app
        .world
        .usage_application(Value::Object(fields(&b)))
        .map_err(conflict)?;
    Ok(accepted(&app, at, json!({})))
}

/// The body of `POST /certificate-applications`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CertificateApplication {
    /// `medical` (absent), `dental` or `pharmacy` (read by the codec).
    #[serde(skip_serializing_if = "Option::is_none")]
    fee_table: Option<Value>,
    /// The terminal the certificate is for (absent: `T1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    terminal: Option<String>,
}

/// `POST /certificate-applications`: apply for a terminal's client certificate
/// (電子証明書発行申請).
async fn certificate_application(
    State(app): AppState,
    Body(b): Body<CertificateApplication>,
) -> Result<Resp, Resp> {
    let fee = fee_field(&fields(&b))?;
    let terminal = match b.terminal {
        None => "T1".to_string(),
        Some(t) => {
            non_empty("terminal", &t)?;
            t
        }
    };
    let at = app
        .world
        .certificate_application(fee, terminal)
        .map_err(conflict)?;
    Ok(accepted(&app, at, json!({})))
}

/// The body of `PUT /operation-start`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationStart {
    /// The day online confirmation starts, like `2025-07-01`.
    date: String,
}

/// `PUT /operation-start`: the operation start date (運用開始日).
async fn operation_start(
    State(app): AppState,
    Body(b): Body<OperationStart>,
) -> Result<Resp, Resp> {
    let s = b.date.as_str();
    non_empty("date", s)?;
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

/// `GET /status`: the portal's state of the clinic.
async fn status(State(app): AppState) -> Resp {
    json_resp(StatusCode::OK, &json!(app.world.portal()))
}

/// `GET /certificates`: the client certificates the portal issued.
async fn certificates(State(app): AppState) -> Resp {
    json_resp(
        StatusCode::OK,
        &json!({"certificates": app.world.portal().certificates}),
    )
}
