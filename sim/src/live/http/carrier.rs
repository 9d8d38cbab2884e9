//! The carrier: line orders and the proxy's faults (also on the control service as
//! `/carrier/faults`).

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use axum::extract::State;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json;

use fakes::process::params::LineType;

use super::error::{err, json_resp, non_empty, Body};
use super::{accepted, get, post, put, AppState, Resp, Route, PLAN_BODY};
use crate::live::carrier::ProxyFaults;

/// The carrier's routes (besides `GET /health`).
pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/faults", faults),
        put("/faults", set_faults),
        post("/line-orders", line_order),
    ]
}

/// `GET /faults` (carrier), `GET /carrier/faults` (control): the proxy's faults, its
/// counters and the ordered line.
pub(super) async fn faults(State(app): AppState) -> Resp {
    json_resp(
        StatusCode::OK,
        &json!({"faults": app.proxy.faults(), "stats": app.proxy.stats.to_json(), "line": app.world.line().map(|(s, l, c)| json!({"service": s, "line_type": l, "connectable": c}))}),
    )
}

/// `PUT /faults` (carrier), `PUT /carrier/faults` (control): replace the fault set.
pub(super) async fn set_faults(
    State(app): AppState,
    Body(f): Body<ProxyFaults, PLAN_BODY>,
) -> Result<Resp, Resp> {
    app.proxy
        .set_faults(f)
        .map_err(|(field, msg)| err(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), msg))?;
    Ok(json_resp(
        StatusCode::OK,
        &json!({"faults": app.proxy.faults()}),
    ))
}

/// The body of `POST /line-orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineOrder {
    /// The carrier's service name (e.g. `flets-hikari`).
    service: String,
    /// `ip-vpn` (absent), `ipsec-ike` or `internet`.
    line_type: Option<LineType>,
}

/// `POST /line-orders`: order the clinic's line.
async fn line_order(State(app): AppState, Body(b): Body<LineOrder>) -> Result<Resp, Resp> {
    non_empty("service", &b.service)?;
    let at = app
        .world
        .line_order(b.service, b.line_type.unwrap_or(LineType::IpVpn));
    Ok(accepted(&app, at, json!({})))
}
