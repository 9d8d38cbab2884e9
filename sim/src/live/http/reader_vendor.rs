//! The reader vendor: reader orders.

// Handlers return the error response itself (`Result<_, Response>`), so `?` turns
// any bad input into its 4xx; the size of a response is not worth boxing here.
#![allow(clippy::result_large_err)]

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use fakes::process::ActorId;

use super::error::{fields, message, Body, BodyErrors, ClinicErrors, TenantErrors};
use super::{accepted, post, Accepted, ClinicHeader, Resp, Route, Tenant};

/// The reader vendor's OpenAPI document (with [`super::document`]'s shared part).
#[derive(OpenApi)]
#[openapi(
    info(description = "The reader vendor of `onsim serve`: face-auth card reader orders."),
    paths(order),
    components(schemas(ReaderOrder))
)]
pub(super) struct Api;

/// The reader vendor's routes (besides `GET /health`).
pub(super) fn routes() -> Vec<Route> {
    vec![post("/orders", order)]
}

/// The body of `POST /orders`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReaderOrder {
    /// A replacement of a broken reader (absent: a first order).
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement: Option<bool>,
    /// The model asked for (recorded by nobody yet: the vendor ships its own).
    #[serde(skip_serializing)]
    #[schema(value_type = Option<String>)]
    #[allow(dead_code)]
    model: Option<Value>,
}

/// `POST /orders`: order a face-auth card reader.
#[utoipa::path(post, path = "/orders", tag = "clinic", params(ClinicHeader),
    request_body = ReaderOrder,
    responses((status = 202, description = "Received; the delivery arrives in the inbox.", body = Accepted), BodyErrors, ClinicErrors, TenantErrors))]
async fn order(Tenant(c): Tenant, Body(b): Body<ReaderOrder>) -> Result<Resp, Resp> {
    let msg = message("reader-order", &fields(&b))?;
    let at = c.world.clinic_sends(ActorId::ReaderVendor, msg);
    Ok(accepted(at))
}
