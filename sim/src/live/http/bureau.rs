//! The bureau (地方厚生局): reception-number requests, designation applications and
//! the deadlines.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use axum::extract::State;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use fakes::process::ActorId;

use super::error::{fields, json_resp, message, Body, Object};
use super::{accepted, get, post, AppState, Resp, Route, PLAN_BODY};
use crate::live::world::validate_plan;

/// The bureau's routes (besides `GET /health`).
pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/deadlines", deadlines),
        post("/reception-requests", reception_request),
        post("/designation-applications", designation_application),
    ]
}

/// `GET /deadlines` (bureau and control): the clinic's deadlines of the rule set.
pub(super) async fn deadlines(State(app): AppState) -> Resp {
    json_resp(StatusCode::OK, &app.world.deadlines())
}

/// The body of `POST /reception-requests`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ReceptionRequest {
    /// `medical` (absent), `dental` or `pharmacy` (read by the codec).
    #[serde(skip_serializing_if = "Option::is_none")]
    fee_table: Option<Value>,
}

/// `POST /reception-requests`: ask the bureau for a reception number (受付番号).
async fn reception_request(
    State(app): AppState,
    Body(b): Body<ReceptionRequest>,
) -> Result<Resp, Resp> {
    let msg = message("reception-request", &fields(&b))?;
    let at = app.world.clinic_sends(ActorId::Bureau, msg);
    Ok(accepted(&app, at, json!({})))
}

/// `POST /designation-applications`: the designation application with the plan
/// (its problems are answered, not refused: the bureau returns an incomplete one).
async fn designation_application(
    State(app): AppState,
    Object(m): Object<PLAN_BODY>,
) -> Result<Resp, Resp> {
    let problems = validate_plan(&m);
    let fields: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
    let at = app.world.designation_application(fields);
    Ok(accepted(
        &app,
        at,
        json!({"complete": problems.is_empty(), "problems": problems}),
    ))
}
