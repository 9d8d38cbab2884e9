//! The portal (医療機関等向けポータルサイト): the temporary code, the reception number,
//! the usage and certificate applications, the operation start, and its status.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use chrono::NaiveDate;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};

use fakes::process::{ActorId, Msg};

use super::error::{body_json, conflict, err, fee_field, json_resp, message, only_fields, req_str};
use super::{accepted, Resp};
use crate::live::App;

/// The portal's routes; `None`: no such route.
pub(super) async fn route(
    app: &Arc<App>,
    method: &Method,
    path: &str,
    req: Request<Incoming>,
) -> Option<Result<Resp, Resp>> {
    Some(match (method, path) {
        (&Method::POST, "/temporary-code-requests") => {
            let at = app
                .world
                .clinic_sends(ActorId::ImplementingBody, Msg::TemporaryCodeRequest);
            Ok(accepted(app, at, json!({})))
        }
        (&Method::POST, "/reception-numbers") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["reception_number"])?;
                req_str(&m, "reception_number")?;
                let Msg::ReceptionNumberSubmission { number } =
                    message("reception-number-submission", &m)?
                else {
                    return Err(err(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        None,
                        "the codec read another message",
                    ));
                };
                let at = app.world.submit_reception_number(number);
                Ok(accepted(app, at, json!({})))
            }
            .await
        }
        (&Method::POST, "/usage-applications") => {
            async {
                let m = body_json(req).await?;
                only_fields(
                    &m,
                    &[
                        "line_type",
                        "ntt_customer_id",
                        "planned_start_month",
                        "test_month",
                    ],
                )?;
                req_str(&m, "line_type")?;
                let at = app
                    .world
                    .usage_application(Value::Object(m))
                    .map_err(conflict)?;
                Ok(accepted(app, at, json!({})))
            }
            .await
        }
        (&Method::POST, "/certificate-applications") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["fee_table", "terminal"])?;
                let fee = fee_field(&m)?;
                let terminal = match m.get("terminal") {
                    None => "T1".to_string(),
                    Some(_) => req_str(&m, "terminal")?.to_string(),
                };
                let at = app
                    .world
                    .certificate_application(fee, terminal)
                    .map_err(conflict)?;
                Ok(accepted(app, at, json!({})))
            }
            .await
        }
        (&Method::PUT, "/operation-start") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["date"])?;
                let s = req_str(&m, "date")?;
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
            .await
        }
        (&Method::GET, "/status") => Ok(json_resp(StatusCode::OK, &json!(app.world.portal()))),
        (&Method::GET, "/certificates") => Ok(json_resp(
            StatusCode::OK,
            &json!({"certificates": app.world.portal().certificates}),
        )),
        _ => return None,
    })
}
