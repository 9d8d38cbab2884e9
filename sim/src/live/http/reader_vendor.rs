//! The reader vendor: reader orders.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use fakes::process::ActorId;

use super::error::{fields, message, Body};
use super::{accepted, post, AppState, Resp, Route};

/// The reader vendor's routes (besides `GET /health`).
pub(super) fn routes() -> Vec<Route> {
    vec![post("/orders", order)]
}

/// The body of `POST /orders`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ReaderOrder {
    /// A replacement of a broken reader (absent: a first order).
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement: Option<bool>,
    /// The model asked for (recorded by nobody yet: the vendor ships its own).
    #[serde(skip_serializing)]
    #[allow(dead_code)]
    model: Option<Value>,
}

/// `POST /orders`: order a face-auth card reader.
async fn order(State(app): AppState, Body(b): Body<ReaderOrder>) -> Result<Resp, Resp> {
    let msg = message("reader-order", &fields(&b))?;
    let at = app.world.clinic_sends(ActorId::ReaderVendor, msg);
    Ok(accepted(&app, at, json!({})))
}
