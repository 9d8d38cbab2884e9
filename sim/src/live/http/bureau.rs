//! The bureau (地方厚生局): reception-number requests, designation applications and
//! the deadlines.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use fakes::process::ActorId;

use super::error::{
    fields, json_resp, message, Body, BodyErrors, ClinicErrors, Object, TenantErrors,
};
use super::{
    accepted, accepted_body, get, post, Accepted, ClinicHeader, Resp, Route, Tenant, ACCEPTED_NOTE,
    PLAN_BODY,
};
use crate::live::world::validate_plan;

/// The bureau's OpenAPI document (with [`super::document`]'s shared part).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "The bureau (地方厚生局) of `onsim serve`: reception-number requests, designation applications, the deadlines."
    ),
    paths(deadlines, reception_request, designation_application),
    components(schemas(ReceptionRequest))
)]
pub(super) struct Api;

/// The bureau's routes (besides `GET /health`).
pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/deadlines", deadlines),
        post("/reception-requests", reception_request),
        post("/designation-applications", designation_application),
    ]
}

/// `GET /deadlines` (bureau and control): the clinic's deadlines of the rule set.
#[utoipa::path(get, path = "/deadlines", tag = "clinic", params(ClinicHeader),
    responses((status = 200, description = "The rule set's deadlines for the clinic.", body = Object), TenantErrors))]
pub(super) async fn deadlines(Tenant(c): Tenant) -> Resp {
    json_resp(StatusCode::OK, &c.world.deadlines())
}

/// The body of `POST /reception-requests`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReceptionRequest {
    /// `medical` (absent), `dental` or `pharmacy` (also 医科/歯科/薬局 or the code
    /// digit `1`/`3`/`4`; read by the codec).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = super::error::fee_table_schema)]
    fee_table: Option<Value>,
}

/// `POST /reception-requests`: ask the bureau for a reception number (受付番号).
#[utoipa::path(post, path = "/reception-requests", tag = "clinic", params(ClinicHeader),
    request_body = ReceptionRequest,
    responses((status = 202, description = "Received; the reception number arrives in the inbox.", body = Accepted), BodyErrors, ClinicErrors, TenantErrors))]
async fn reception_request(
    Tenant(c): Tenant,
    Body(b): Body<ReceptionRequest>,
) -> Result<Resp, Resp> {
    let msg = message("reception-request", &fields(&b))?;
    let at = c.world.clinic_sends(ActorId::Bureau, msg);
    Ok(accepted(at))
}

/// `POST /designation-applications`: the designation application with the plan
/// (its problems are answered, not refused: the bureau returns an incomplete one).
#[utoipa::path(post, path = "/designation-applications", tag = "clinic", params(ClinicHeader),
    request_body(content = Object, description = "The plan (the 13 fields of the application); each missing or bad field is a problem in the answer, not a refusal."),
    responses((status = 202, description = "Received; `complete` and `problems` say what the bureau will return.", body = Accepted), BodyErrors, ClinicErrors, TenantErrors))]
async fn designation_application(
    Tenant(c): Tenant,
    Object(m): Object<PLAN_BODY>,
) -> Result<Resp, Resp> {
    let problems = validate_plan(&m);
    let fields: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
    let at = c.world.designation_application(fields);
    Ok(accepted_body(Accepted {
        complete: Some(problems.is_empty()),
        note: ACCEPTED_NOTE,
        problems: Some(
            problems
                .iter()
                .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
                .collect(),
        ),
        received_at: at,
    }))
}
