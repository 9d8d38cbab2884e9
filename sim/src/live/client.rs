//! A typed client for the control API (and the JSON service routes beside it), on
//! the hyper client already in the tree: the clock, the clinic inbox read back into
//! [`Msg`] by the codec, and JSON posts to the services. Used by the `--live` replay
//! ([`super::replay`]); blocking calls on a tokio runtime handle, one connection per
//! call, each step bounded by [`TIMEOUT`].

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use fakes::process::{codec, ActorId, Msg};
use fakes::time::VirtualTime;

/// Bound on connecting and on one request.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest response body read.
const BODY_LIMIT: usize = 64 << 20;

/// A call that did not get an answer, or an answer that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {path}: {message}")]
pub struct ClientError {
    pub method: String,
    pub path: String,
    pub message: String,
}

/// `GET /clock`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Clock {
    pub now: VirtualTime,
    /// When the world's next queued message is due.
    pub next_due: Option<VirtualTime>,
    pub pending: usize,
}

/// One item of `GET /inbox`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InboxMessage {
    pub seq: u64,
    pub at: VirtualTime,
    pub from: ActorId,
    pub kind: String,
    #[serde(default)]
    pub body: serde_json::Map<String, Value>,
}

impl InboxMessage {
    /// The message, read back by the codec.
    pub fn msg(&self) -> Result<Msg, codec::CodecError> {
        codec::from_body(&self.kind, &self.body)
    }
}

#[derive(Deserialize)]
struct Inbox {
    messages: Vec<InboxMessage>,
}

/// A client of one onsim serve's control URL.
#[derive(Debug, Clone)]
pub struct ControlClient {
    control: SocketAddr,
    rt: tokio::runtime::Handle,
    /// The clinic every call is for (the `Onsim-Clinic` header), with several.
    clinic: Option<String>,
}

impl ControlClient {
    /// A client of the control service at `control`, calling on `rt`.
    pub fn new(control: SocketAddr, rt: tokio::runtime::Handle) -> Self {
        ControlClient {
            control,
            rt,
            clinic: None,
        }
    }

    /// The same client, naming clinic `id` on every call (the `Onsim-Clinic`
    /// header: a serve of several clinics, [`super::clinics`]).
    pub fn for_clinic(&self, id: &str) -> Self {
        ControlClient {
            clinic: Some(id.to_string()),
            ..self.clone()
        }
    }

    /// `GET /clock`.
    pub fn clock(&self) -> Result<Clock, ClientError> {
        self.get_typed("/clock")
    }

    /// `POST /clock/advance {"to": T}`.
    pub fn advance(&self, to: VirtualTime) -> Result<(), ClientError> {
        let (st, v) = self.call(
            self.control,
            Method::POST,
            "/clock/advance",
            Some(&json!({ "to": to })),
        )?;
        if st == 200 {
            Ok(())
        } else {
            Err(self.error("POST", "/clock/advance", format!("HTTP {st}: {v}")))
        }
    }

    /// `GET /inbox?since=N`: the messages delivered to the clinic after `since`.
    pub fn inbox(&self, since: u64) -> Result<Vec<InboxMessage>, ClientError> {
        Ok(self
            .get_typed::<Inbox>(&format!("/inbox?since={since}"))?
            .messages)
    }

    /// `POST /clinic/messages` with `msg` in the codec's wire format; `to` names the
    /// addressee where the message has two.
    pub fn clinic_message(&self, to: ActorId, msg: &Msg) -> Result<(u16, Value), ClientError> {
        let mut body = codec::to_json(msg);
        if msg.addressees().len() > 1 {
            body.insert("to".into(), json!(to));
        }
        self.post(self.control, "/clinic/messages", &Value::Object(body))
    }

    /// `GET /verdict`: the scenario's checks judged now (`onsim serve --scenario`),
    /// as the server wrote it ([`super::verdict::Verdict`]).
    pub fn verdict(&self) -> Result<Value, ClientError> {
        self.get_typed("/verdict")
    }

    /// A JSON `POST` to any of the services (bureau, portal, …).
    pub fn post(
        &self,
        addr: SocketAddr,
        path: &str,
        body: &Value,
    ) -> Result<(u16, Value), ClientError> {
        self.call(addr, Method::POST, path, Some(body))
    }

    fn get_typed<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (st, v) = self.call(self.control, Method::GET, path, None)?;
        if st != 200 {
            return Err(self.error("GET", path, format!("HTTP {st}: {v}")));
        }
        serde_json::from_value(v).map_err(|e| self.error("GET", path, e.to_string()))
    }

    fn error(&self, method: &str, path: &str, message: String) -> ClientError {
        ClientError {
            method: method.into(),
            path: path.into(),
            message,
        }
    }

    /// One request on a new connection: (status, body as JSON or as a string).
    pub fn call(
        &self,
        addr: SocketAddr,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let m = method.to_string();
        let fail = |e: String| self.error(&m, path, e);
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(hyper::header::HOST, addr.to_string())
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(id) = &self.clinic {
            req = req.header(super::clinics::HEADER, id.as_str());
        }
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| fail(e.to_string()))?;
        self.rt.block_on(async {
            let io = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
                .await
                .map_err(|_| fail("connect timed out".into()))?
                .map_err(|e| fail(e.to_string()))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| fail(e.to_string()))?;
            tokio::spawn(conn);
            let resp = tokio::time::timeout(TIMEOUT, sender.send_request(req))
                .await
                .map_err(|_| fail("timed out".into()))?
                .map_err(|e| fail(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = tokio::time::timeout(
                TIMEOUT,
                http_body_util::Limited::new(resp.into_body(), BODY_LIMIT).collect(),
            )
            .await
            .map_err(|_| fail("body timed out".into()))?
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
            let v = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            Ok((status, v))
        })
    }
}
