//! What can go wrong, each naming what and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container did not start or get ready (no engine, no image, no ready line
    /// within [`crate::STARTUP`], …).
    #[error("onsim container: {0}")]
    Container(#[from] testcontainers::TestcontainersError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `endpoints.json` (or another file onsim wrote) is not what this module expects.
    #[error("{}: {reason}", path.display())]
    StateFile { path: PathBuf, reason: String },
    /// A key the caller asked for is not in endpoints.json.
    #[error("endpoints.json has no {key}")]
    MissingKey { key: String },
    /// A URL whose port is not one of the published container ports.
    #[error("{url}: port {port} is not one of the published ports 7000-7006")]
    NotPublished { url: String, port: u16 },
    #[error("{url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The request did not get an HTTP answer (connection refused, TLS refused, …).
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    /// An HTTP answer other than 2xx, with its body (onsim's `{"error", "field"}`).
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// A 2xx answer whose JSON is not the documented shape.
    #[error("{url}: unexpected answer: {reason}")]
    Shape { url: String, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;
