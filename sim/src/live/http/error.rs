//! The one error shape of the HTTP services, `{"error": "...", "field": "<name>"|null}`,
//! and the body readers that produce it (a bad body is a 4xx naming the field).

use chrono::NaiveDate;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as HttpBody, Bytes};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use fakes::process::{codec, Msg};
use fakes::time::VirtualTime;

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response as ApiResponse, ResponseBuilder};
use utoipa::ToSchema;

use super::{Resp, SMALL_BODY};
use crate::live::world::Conflict;

pub(super) fn json_resp(status: StatusCode, v: &Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(
        serde_json::to_vec_pretty(v).unwrap_or_default(),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// The one error body of every 4xx and 5xx of the JSON services (`Error` in their
/// OpenAPI documents).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Error {
    /// What is wrong, in words.
    pub error: String,
    /// The request field at fault (a body field; `message` for an unknown clinic
    /// message), or `null` when no one field is.
    pub field: Option<String>,
}

/// A response with the [`Error`] body.
pub(super) fn err(status: StatusCode, field: Option<&str>, message: impl Into<String>) -> Resp {
    let e = Error {
        error: message.into(),
        field: field.map(str::to_string),
    };
    json_resp(status, &serde_json::to_value(e).unwrap_or(Value::Null))
}

/// A string schema allowing exactly `values` (for `#[schema(schema_with = ...)]`).
pub(super) fn string_enum<S: Into<String>>(
    values: impl IntoIterator<Item = S>,
    description: &str,
) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            values.into_iter().map(Into::into).collect::<Vec<String>>(),
        ))
        .description(Some(description))
        .build()
}

/// The wire names of a unit enum of `fakes`, read from its JSON Schema (schemars): the
/// one list of them, so a document never lists a value the type does not have.
pub(super) fn wire_names<T: schemars::JsonSchema>() -> Vec<String> {
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(e)) = m.get("enum") {
                    out.extend(e.iter().filter_map(Value::as_str).map(str::to_string));
                }
                m.values().for_each(|x| collect(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    collect(
        &serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null),
        &mut out,
    );
    out
}

/// `fee_table` of a body: its wire names (the codec also reads 医科/歯科/薬局 and the
/// digits 1/3/4); absent: medical.
pub(super) fn fee_table_schema() -> utoipa::openapi::Object {
    string_enum(
        wire_names::<fakes::codes::FeeTable>(),
        "`medical` (absent), `dental` or `pharmacy` (also read: 医科/歯科/薬局, or the code digit `1`/`3`/`4`).",
    )
}

/// An error response of an OpenAPI document: `description`, the [`Error`] body.
fn error_response(description: &str) -> RefOr<ApiResponse> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
        .into()
}

/// A set of documented error responses (status → description), each with the
/// [`Error`] body, for `responses(...)` of a `#[utoipa::path]`.
macro_rules! error_responses {
    ($(#[$doc:meta])* $name:ident: $($status:literal => $description:literal),+ $(,)?) => {
        $(#[$doc])*
        pub(super) struct $name;
        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<ApiResponse>> {
                [$(($status, $description)),+]
                    .into_iter()
                    .map(|(s, d)| (s.to_string(), error_response(d)))
                    .collect()
            }
        }
    };
}

error_responses!(
    /// The errors of a route that reads a JSON body.
    BodyErrors:
    "400" => "The body is not JSON, not a JSON object, or could not be read.",
    "413" => "The body is larger than the route's limit (the message names it).",
    "422" => "A field is unknown, missing or has a bad value; `field` names it.",
);

error_responses!(
    /// A route on which the clinic acts.
    ClinicErrors:
    "409" => "onsim plays the clinic in this scenario (`[live] clinic = \"onsim\"`), so the clinic's routes are closed to clients; on the portal also: the portal's state refuses the form (no usable account yet, no reception number for the fee table, ...).",
);

error_responses!(
    /// A route of one clinic ([`crate::live::clinics`]): the `Onsim-Clinic` header
    /// chooses it. Listed after [`BodyErrors`], its 400 (which says both) wins.
    TenantErrors:
    "400" => "The `Onsim-Clinic` header is missing while this serve runs several clinics (the message lists their ids), or is not text (`field`: `Onsim-Clinic`); on a route that reads a body also: the body is not JSON, not a JSON object, or could not be read.",
    "404" => "The `Onsim-Clinic` header names no clinic of this serve (the message lists their ids).",
);

/// The 400/404 of a request that names no clinic of the serve.
pub(super) fn unchosen(e: &crate::live::clinics::Unchosen) -> Resp {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    err(status, Some(crate::live::clinics::HEADER), e.to_string())
}

error_responses!(
    /// A route whose handler can find the codec disagreeing with itself (a bug).
    InternalErrors:
    "500" => "The message codec read another message than the route's (a bug in onsim).",
);

/// 503 naming the environment fault that makes the service unavailable
/// ([`crate::live::environment`]).
pub(super) fn unavailable(u: &crate::live::environment::Unavailable) -> Resp {
    err(StatusCode::SERVICE_UNAVAILABLE, None, u.reason.clone())
}

pub(super) fn conflict(c: Conflict) -> Resp {
    err(StatusCode::CONFLICT, c.field, c.message)
}

/// The body of `req`, at most `limit` bytes (413 naming the limit beyond).
pub(super) async fn body_bytes<B>(req: Request<B>, limit: usize) -> Result<Bytes, Resp>
where
    B: HttpBody,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(e) => Err(err(
            StatusCode::BAD_REQUEST,
            None,
            format!("could not read the body: {e}"),
        )),
    }
}

pub(super) fn too_large(limit: usize) -> Resp {
    err(
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
        format!("the body is larger than this route's limit of {limit} bytes"),
    )
}

/// A JSON object body of at most [`SMALL_BODY`] (empty: `{}`).
pub(super) async fn body_json<B>(req: Request<B>) -> Result<Map<String, Value>, Resp>
where
    B: HttpBody,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    body_json_limited(req, SMALL_BODY).await
}

/// A JSON object body of at most `limit` bytes (empty: `{}`); anything else is a 400.
pub(super) async fn body_json_limited<B>(
    req: Request<B>,
    limit: usize,
) -> Result<Map<String, Value>, Resp>
where
    B: HttpBody,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let b = body_bytes(req, limit).await?;
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&b) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(err(
            StatusCode::BAD_REQUEST,
            None,
            "the body must be a JSON object",
        )),
        Err(e) => Err(err(
            StatusCode::BAD_REQUEST,
            None,
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// Parse a body of at most `limit` bytes into `T` (a struct with
/// `deny_unknown_fields`); a bad body is a 4xx naming the field where serde names it
/// (unknown, missing or mistyped field; an empty body is `{}`).
pub(super) async fn typed_body<T: serde::de::DeserializeOwned, B>(
    req: Request<B>,
    limit: usize,
) -> Result<T, Resp>
where
    B: HttpBody,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let b = body_bytes(req, limit).await?;
    let b: &[u8] = if b.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &b
    };
    // Every body is an object: serde would read a JSON array as a struct's fields in
    // order, and name none of them when one is wrong.
    let object = b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{');
    if !object && serde_json::from_slice::<Value>(b).is_ok() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            None,
            "the body must be a JSON object",
        ));
    }
    serde_json::from_slice::<T>(b).map_err(|e| {
        let status = if e.is_syntax() || e.is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let msg = e.to_string();
        let field = field_of_serde_error(&msg).or_else(|| culprit::<T>(b));
        err(status, field.as_deref(), msg)
    })
}

/// The top-level key whose value makes `body` fail to parse as `T` (serde names no
/// field for a bad value): the key without which the error goes away or becomes
/// "missing field".
pub(super) fn culprit<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<String> {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    m.keys()
        .find(|k| {
            let mut without = m.clone();
            without.remove(k.as_str());
            match serde_json::from_value::<T>(Value::Object(without)) {
                Ok(_) => true,
                Err(e) => e.to_string().contains(&format!("missing field `{k}`")),
            }
        })
        .cloned()
}

/// The field a serde message names (`unknown field `x``, `missing field `x``, or a
/// field of our own `in field `x`` messages).
pub(super) fn field_of_serde_error(msg: &str) -> Option<String> {
    let start = msg.find("field `")? + "field `".len();
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

/// A 422 naming the field a message body got wrong.
pub(super) fn codec_err(e: codec::CodecError) -> Resp {
    err(
        StatusCode::UNPROCESSABLE_ENTITY,
        e.field.as_deref(),
        e.message,
    )
}

/// Decode the body `m` of a service route as the clinic message `kind` (the codec:
/// one place messages become JSON and back).
pub(super) fn message(kind: &str, m: &Map<String, Value>) -> Result<Msg, Resp> {
    codec::from_body(kind, m).map_err(codec_err)
}

/// The `fee_table` of a body (absent: medical), read by the codec.
pub(super) fn fee_field(m: &Map<String, Value>) -> Result<fakes::codes::FeeTable, Resp> {
    let mut only = Map::new();
    if let Some(v) = m.get("fee_table") {
        only.insert("fee_table".into(), v.clone());
    }
    match message("reception-request", &only)? {
        Msg::ReceptionRequest { fee } => Ok(fee),
        other => Err(err(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            format!("the codec read a reception request as {other:?}"),
        )),
    }
}

pub(super) fn parse_time(field: &'static str, s: &str) -> Result<VirtualTime, Resp> {
    if let Ok(t) = serde_json::from_value::<VirtualTime>(json!(s)) {
        return Ok(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if d.year_ok() {
            return Ok(VirtualTime::start_of(d));
        }
    }
    Err(err(
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(field),
        format!("{field} {s:?} is not a time like 2025-04-15T09:00 (or a date, meaning 00:00)"),
    ))
}

pub(super) trait YearOk {
    fn year_ok(&self) -> bool;
}

impl YearOk for NaiveDate {
    fn year_ok(&self) -> bool {
        use chrono::Datelike;
        (1955..=2099).contains(&self.year())
    }
}

/// The value of query parameter `name` in the raw query `q`.
pub(super) fn query(q: Option<&str>, name: &str) -> Option<String> {
    q?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_string())
    })
}

/// A non-empty string field (`field must be a non-empty string`, 422, otherwise).
pub(super) fn non_empty(field: &'static str, s: &str) -> Result<(), Resp> {
    if s.trim().is_empty() {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(field),
            format!("{field} must be a non-empty string"),
        ));
    }
    Ok(())
}

/// The fields of a request struct as a JSON object (absent optional fields left out),
/// for the codec and the world, which read bodies as objects.
pub(super) fn fields<T: serde::Serialize>(t: &T) -> Map<String, Value> {
    match serde_json::to_value(t) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A JSON body of at most `LIMIT` bytes read as `T` (a struct with
/// `deny_unknown_fields`): the axum extractor over [`typed_body`], so a bad body is
/// the same 4xx naming the field.
pub(super) struct Body<T, const LIMIT: usize = SMALL_BODY>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned, const LIMIT: usize>
    axum::extract::FromRequest<S> for Body<T, LIMIT>
{
    type Rejection = Resp;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, Resp> {
        typed_body(req, LIMIT).await.map(Body)
    }
}

/// A JSON object body of at most `LIMIT` bytes, left as an object (the designation
/// plan, whose problems are reported rather than refused; the clinic's messages, read
/// by the codec) — [`body_json_limited`].
pub(super) struct Object<const LIMIT: usize = SMALL_BODY>(pub Map<String, Value>);

impl<S: Send + Sync, const LIMIT: usize> axum::extract::FromRequest<S> for Object<LIMIT> {
    type Rejection = Resp;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, Resp> {
        body_json_limited(req, LIMIT).await.map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Two {
        a: u8,
        #[allow(dead_code)]
        b: Option<String>,
    }

    /// `typed_body::<Two>` of `body` (limit 64): the value, or the status and body.
    async fn read(body: &str) -> Result<u8, (u16, Value)> {
        let req = Request::new(Full::new(Bytes::from(body.to_string())));
        match typed_body::<Two, _>(req, 64).await {
            Ok(t) => Ok(t.a),
            Err(r) => {
                let status = r.status().as_u16();
                let bytes = r.into_body().collect().await.unwrap().to_bytes();
                Err((status, serde_json::from_slice(&bytes).unwrap()))
            }
        }
    }

    #[tokio::test]
    async fn a_bad_body_is_a_4xx_in_the_one_shape_naming_the_field() {
        assert_eq!(read(r#"{"a": 7}"#).await, Ok(7));
        for (body, status, field) in [
            (r#"{"a": 1, "c": 2}"#, 422, Some("c")),
            (r#"{"a": "x"}"#, 422, Some("a")),
            (r#"{"a": 300}"#, 422, Some("a")),
            ("{}", 422, Some("a")),
            ("  ", 422, Some("a")),
            ("[1, null]", 400, None),
            ("7", 400, None),
            ("{", 400, None),
        ] {
            let (st, v) = read(body).await.unwrap_err();
            assert_eq!((st, v["field"].as_str()), (status, field), "{body}: {v}");
            assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
            assert_eq!(v.as_object().unwrap().len(), 2, "only error and field: {v}");
        }
        let (st, v) = read(&format!(r#"{{"a": 1, "b": "{}"}}"#, "x".repeat(80)))
            .await
            .unwrap_err();
        assert_eq!(st, 413, "{v}");
        assert!(v["error"].as_str().unwrap().contains("64 bytes"), "{v}");
    }
}
