//! The carrier: line orders and the proxy's faults (also on the control service as
//! `/carrier/faults`).

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use axum::extract::State;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use fakes::process::params::LineType;

use super::error::{err, json_resp, non_empty, Body, BodyErrors, ClinicErrors, TenantErrors};
use super::{
    accepted, get, post, put, Accepted, AppState, ClinicHeader, Resp, Route, Tenant, PLAN_BODY,
};
use crate::live::carrier::ProxyFaults;

/// The carrier's OpenAPI document (with [`super::document`]'s shared part).
#[derive(OpenApi)]
#[openapi(
    info(
        description = "The carrier of `onsim serve`: line orders, and the faults of its proxy in front of the eligibility API."
    ),
    paths(faults, set_faults, line_order),
    components(schemas(
        LineOrder,
        Faults,
        FaultsSet,
        Line,
        ProxyFaults,
        crate::live::carrier::FaultMode,
        crate::live::carrier::Outage
    ))
)]
pub(super) struct Api;

/// The carrier's routes (besides `GET /health`).
pub(super) fn routes() -> Vec<Route> {
    vec![
        get("/faults", faults),
        put("/faults", set_faults),
        post("/line-orders", line_order),
    ]
}

/// `GET /faults` (carrier), `GET /carrier/faults` (control): the proxy's faults, its
/// counters and the clinic's ordered line.
#[utoipa::path(get, path = "/faults", tag = "carrier", params(ClinicHeader),
    responses((status = 200, description = "The carrier proxy's faults, counters and the clinic's line.", body = Faults), TenantErrors))]
pub(super) async fn faults(State(app): AppState, Tenant(c): Tenant) -> Resp {
    let faults = Faults {
        faults: app.proxy.faults(),
        line: c
            .world
            .line()
            .map(|(service, line_type, connectable)| Line {
                connectable,
                line_type,
                service,
            }),
        stats: app.proxy.stats.to_json(),
    };
    json_resp(
        StatusCode::OK,
        &serde_json::to_value(faults).unwrap_or(Value::Null),
    )
}

/// `GET /faults`: the faults, the proxy's counters, the ordered line.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Faults {
    faults: ProxyFaults,
    /// The clinic's ordered line, if any.
    line: Option<Line>,
    /// The proxy's counters (connections, bytes, faults applied).
    #[schema(value_type = Object)]
    stats: Value,
}

/// The clinic's ordered line.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Line {
    /// Whether the line can reach the eligibility API.
    connectable: bool,
    /// `ip-vpn`, `ipsec-ike` or `internet`.
    #[schema(value_type = String)]
    line_type: LineType,
    service: String,
}

/// `PUT /faults`: the faults now in force.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct FaultsSet {
    faults: ProxyFaults,
}

/// `PUT /faults` (carrier), `PUT /carrier/faults` (control): replace the fault set.
#[utoipa::path(put, path = "/faults", tag = "carrier",
    request_body = ProxyFaults,
    responses((status = 200, description = "The faults now in force.", body = FaultsSet), BodyErrors))]
pub(super) async fn set_faults(
    State(app): AppState,
    Body(f): Body<ProxyFaults, PLAN_BODY>,
) -> Result<Resp, Resp> {
    app.proxy
        .set_faults(f)
        .map_err(|(field, msg)| err(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), msg))?;
    let set = FaultsSet {
        faults: app.proxy.faults(),
    };
    Ok(json_resp(
        StatusCode::OK,
        &serde_json::to_value(set).unwrap_or(Value::Null),
    ))
}

/// The body of `POST /line-orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LineOrder {
    /// The carrier's service name (e.g. `flets-hikari`).
    #[schema(min_length = 1)]
    service: String,
    /// `ip-vpn` (absent), `ipsec-ike` or `internet`.
    #[schema(schema_with = line_type_schema)]
    line_type: Option<LineType>,
}

fn line_type_schema() -> utoipa::openapi::Object {
    super::error::string_enum(
        super::error::wire_names::<LineType>(),
        "`ip-vpn` (absent), `ipsec-ike` or `internet`.",
    )
}

/// `POST /line-orders`: order the clinic's line.
#[utoipa::path(post, path = "/line-orders", tag = "clinic", params(ClinicHeader),
    request_body = LineOrder,
    responses((status = 202, description = "Received; the line's readiness arrives in the inbox.", body = Accepted), BodyErrors, ClinicErrors, TenantErrors))]
async fn line_order(Tenant(c): Tenant, Body(b): Body<LineOrder>) -> Result<Resp, Resp> {
    non_empty("service", &b.service)?;
    let at = c
        .world
        .line_order(b.service, b.line_type.unwrap_or(LineType::IpVpn));
    Ok(accepted(at))
}
