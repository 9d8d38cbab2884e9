//! The bureau (地方厚生局): reception-number requests, designation applications and
//! the deadlines.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::json;

use fakes::process::ActorId;

use super::error::{body_json, body_json_limited, json_resp, message, only_fields};
use super::{accepted, Resp, PLAN_BODY};
use crate::live::world::validate_plan;
use crate::live::App;

/// The bureau's routes; `None`: no such route.
pub(super) async fn route(
    app: &Arc<App>,
    method: &Method,
    path: &str,
    req: Request<Incoming>,
) -> Option<Result<Resp, Resp>> {
    Some(match (method, path) {
        (&Method::GET, "/deadlines") => Ok(deadlines(app)),
        (&Method::POST, "/reception-requests") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["fee_table"])?;
                let msg = message("reception-request", &m)?;
                let at = app.world.clinic_sends(ActorId::Bureau, msg);
                Ok(accepted(app, at, json!({})))
            }
            .await
        }
        (&Method::POST, "/designation-applications") => {
            async {
                let m = body_json_limited(req, PLAN_BODY).await?;
                let problems = validate_plan(&m);
                let fields: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
                let at = app.world.designation_application(fields);
                Ok(accepted(
                    app,
                    at,
                    json!({"complete": problems.is_empty(), "problems": problems}),
                ))
            }
            .await
        }
        _ => return None,
    })
}

/// `GET /deadlines` (bureau and control).
pub(super) fn deadlines(app: &App) -> Resp {
    json_resp(StatusCode::OK, &app.world.deadlines())
}
