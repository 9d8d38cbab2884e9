//! The reader vendor: reader orders.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::json;

use fakes::process::ActorId;

use super::error::{body_json, message, only_fields};
use super::{accepted, Resp};
use crate::live::App;

/// The reader vendor's routes; `None`: no such route.
pub(super) async fn route(
    app: &Arc<App>,
    method: &Method,
    path: &str,
    req: Request<Incoming>,
) -> Option<Result<Resp, Resp>> {
    Some(match (method, path) {
        (&Method::POST, "/orders") => {
            async {
                let m = body_json(req).await?;
                only_fields(&m, &["replacement", "model"])?;
                let msg = message("reader-order", &m)?;
                let at = app.world.clinic_sends(ActorId::ReaderVendor, msg);
                Ok(accepted(app, at, json!({})))
            }
            .await
        }
        _ => return None,
    })
}
