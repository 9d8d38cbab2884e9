//! The portal (医療機関等向けポータルサイト): the temporary code, the reception number,
//! the usage and certificate applications, the operation start, and its status.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use chrono::NaiveDate;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{OpenApi, ToSchema};

use fakes::process::{ActorId, Msg};

use super::error::{
    conflict, err, fee_field, fields, json_resp, message, non_empty, Body, BodyErrors,
    ClinicErrors, InternalErrors, TenantErrors,
};
use super::{accepted, get, post, put, Accepted, ClinicHeader, Resp, Route, Tenant};

/// The portal's OpenAPI document (with [`super::document`]'s shared part).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "The portal (医療機関等向けポータルサイト) of `onsim serve`: the temporary code, the reception number, the usage and certificate applications, the operation start, the portal's state."
    ),
    paths(
        temporary_code_request,
        reception_number,
        usage_application,
        certificate_application,
        operation_start,
        status,
        certificates
    ),
    components(schemas(
        ReceptionNumber,
        UsageApplication,
        CertificateApplication,
        OperationStart,
        OperationStarted,
        Certificates
    ))
)]
pub(super) struct Api;

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
#[utoipa::path(post, path = "/temporary-code-requests", tag = "clinic", params(ClinicHeader),
    responses((status = 202, description = "Received; the temporary code arrives in the inbox.", body = Accepted), ClinicErrors, TenantErrors))]
async fn temporary_code_request(Tenant(c): Tenant) -> Resp {
    let at = c
        .world
        .clinic_sends(ActorId::ImplementingBody, Msg::TemporaryCodeRequest);
    accepted(at)
}

/// The body of `POST /reception-numbers`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReceptionNumber {
    /// The reception number the bureau answered (its 10 digits, the last a check
    /// digit).
    #[schema(pattern = "^[0-9]{10}$")]
    reception_number: String,
}

/// `POST /reception-numbers`: register the reception number (受付番号の登録).
#[utoipa::path(post, path = "/reception-numbers", tag = "clinic", params(ClinicHeader),
    request_body = ReceptionNumber,
    responses((status = 202, description = "Received; the account's readiness arrives in the inbox.", body = Accepted), BodyErrors, ClinicErrors, InternalErrors, TenantErrors))]
async fn reception_number(Tenant(c): Tenant, Body(b): Body<ReceptionNumber>) -> Result<Resp, Resp> {
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
    let at = c.world.submit_reception_number(number);
    Ok(accepted(at))
}

/// The body of `POST /usage-applications` (stored as given, shown in `GET /status`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UsageApplication {
    /// The line the clinic uses (e.g. `ip-vpn`).
    #[schema(min_length = 1)]
    line_type: String,
    /// Stored as given (any JSON value).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    ntt_customer_id: Option<Value>,
    /// Stored as given (any JSON value), e.g. `2025-07`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    planned_start_month: Option<Value>,
    /// Stored as given (any JSON value), e.g. `2025-06`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    test_month: Option<Value>,
}

/// `POST /usage-applications`: the usage application (利用申請).
#[utoipa::path(post, path = "/usage-applications", tag = "clinic", params(ClinicHeader),
    request_body = UsageApplication,
    responses((status = 202, description = "Received.", body = Accepted), BodyErrors, ClinicErrors, TenantErrors))]
async fn usage_application(
    Tenant(c): Tenant,
    Body(b): Body<UsageApplication>,
) -> Result<Resp, Resp> {
    non_empty("line_type", &b.line_type)?;
    let at = c
        .world
        .usage_application(Value::Object(fields(&b)))
        .map_err(conflict)?;
    Ok(accepted(at))
}

/// The body of `POST /certificate-applications`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CertificateApplication {
    /// `medical` (absent), `dental` or `pharmacy` (read by the codec).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = super::error::fee_table_schema)]
    fee_table: Option<Value>,
    /// The terminal the certificate is for (absent: `T1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    terminal: Option<String>,
}

/// `POST /certificate-applications`: apply for a terminal's client certificate
/// (電子証明書発行申請).
#[utoipa::path(post, path = "/certificate-applications", tag = "clinic", params(ClinicHeader),
    request_body = CertificateApplication,
    responses((status = 202, description = "Received; the certificate notice arrives in the inbox.", body = Accepted), BodyErrors, ClinicErrors, InternalErrors, TenantErrors))]
async fn certificate_application(
    Tenant(c): Tenant,
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
    let at = c
        .world
        .certificate_application(fee, terminal)
        .map_err(conflict)?;
    Ok(accepted(at))
}

/// The body of `PUT /operation-start`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OperationStart {
    /// The day online confirmation starts, like `2025-07-01`.
    #[schema(format = Date)]
    date: String,
}

/// `PUT /operation-start`: the operation start date (運用開始日).
#[utoipa::path(put, path = "/operation-start", tag = "clinic", params(ClinicHeader),
    request_body = OperationStart,
    responses((status = 200, description = "The operation start recorded.", body = OperationStarted), BodyErrors, ClinicErrors, TenantErrors))]
async fn operation_start(Tenant(c): Tenant, Body(b): Body<OperationStart>) -> Result<Resp, Resp> {
    let s = b.date.as_str();
    non_empty("date", s)?;
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("date"),
            format!("date {s:?} is not like 2025-07-01"),
        )
    })?;
    c.world.set_operation_start(d).map_err(conflict)?;
    let started = OperationStarted { operation_start: d };
    Ok(json_resp(
        StatusCode::OK,
        &serde_json::to_value(started).unwrap_or(Value::Null),
    ))
}

/// The answer of `PUT /operation-start`.
#[derive(Debug, Serialize, ToSchema)]
struct OperationStarted {
    operation_start: NaiveDate,
}

/// `GET /status`: the portal's state of the clinic.
#[utoipa::path(get, path = "/status", tag = "clinic", params(ClinicHeader),
    responses((status = 200, description = "Reception numbers, the account, the usage application, certificates, the operation start.", body = Object), TenantErrors))]
async fn status(Tenant(c): Tenant) -> Resp {
    json_resp(StatusCode::OK, &json!(c.world.portal()))
}

/// `GET /certificates`: the client certificates the portal issued.
#[utoipa::path(get, path = "/certificates", tag = "clinic", params(ClinicHeader),
    responses((status = 200, description = "The certificates issued.", body = Certificates), TenantErrors))]
async fn certificates(Tenant(c): Tenant) -> Resp {
    let certificates = Certificates {
        certificates: c.world.portal().certificates,
    };
    json_resp(
        StatusCode::OK,
        &serde_json::to_value(certificates).unwrap_or(Value::Null),
    )
}

/// The answer of `GET /certificates`.
#[derive(Debug, Serialize, ToSchema)]
struct Certificates {
    /// Each: `institution_code`, the terminal, the certificate and key, its dates.
    #[schema(value_type = Vec<Object>)]
    certificates: Vec<crate::live::world::PortalCertificate>,
}
