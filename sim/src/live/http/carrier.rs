//! The carrier: line orders and the proxy's faults (also on the control service as
//! `/carrier/faults`).

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::json;

use fakes::process::params::LineType;

use super::error::{body_json, err, json_resp, only_fields, req_str, typed_body};
use super::{accepted, Resp, PLAN_BODY};
use crate::live::carrier::ProxyFaults;
use crate::live::App;

/// The carrier's routes; `None`: no such route.
pub(super) async fn route(
    app: &Arc<App>,
    method: &Method,
    path: &str,
    req: Request<Incoming>,
) -> Option<Result<Resp, Resp>> {
    Some(match (method, path) {
        (&Method::GET, "/faults") => Ok(faults(app)),
        (&Method::PUT, "/faults") => set_faults(app, req).await,
        (&Method::POST, "/line-orders") => {
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
                Ok(accepted(app, at, json!({})))
            }
            .await
        }
        _ => return None,
    })
}

/// `GET /faults` (carrier), `GET /carrier/faults` (control).
pub(super) fn faults(app: &App) -> Resp {
    json_resp(
        StatusCode::OK,
        &json!({"faults": app.proxy.faults(), "stats": app.proxy.stats.to_json(), "line": app.world.line().map(|(s, l, c)| json!({"service": s, "line_type": l, "connectable": c}))}),
    )
}

pub(super) async fn set_faults(app: &App, req: Request<Incoming>) -> Result<Resp, Resp> {
    let f: ProxyFaults = typed_body(req, PLAN_BODY).await?;
    app.proxy
        .set_faults(f)
        .map_err(|(field, msg)| err(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), msg))?;
    Ok(json_resp(
        StatusCode::OK,
        &json!({"faults": app.proxy.faults()}),
    ))
}
