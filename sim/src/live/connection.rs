//! One HTTP/1.1 connection of a live service, bounded in time.
//!
//! A client that opens a connection and never finishes a request (slowloris), or that
//! leaves a keep-alive connection idle, must not hold it forever. hyper's own
//! `header_read_timeout` does this by arming a fresh timer for every request, which
//! cost about 12% of the eligibility API's throughput under `onsim load` (see
//! `reports/bench.md`). Here one watchdog per connection ticks every
//! [`IDLE_TIMEOUT`] instead and closes the connection when a whole tick passed with no
//! request started and none in flight: an idle or stalled connection is closed within
//! one to two ticks, a busy one costs two atomic counters per request. Every connection
//! also ends after [`CONNECTION_LIFETIME`], whatever it is doing.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// What a handler answers: any HTTP body (the eligibility API's `Full<Bytes>`, an axum
/// Router's body).
pub trait ResponseBody:
    hyper::body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static
{
}
impl<B> ResponseBody for B where
    B: hyper::body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static
{
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection with no request started and none in flight for a whole tick of this
/// is closed (so after one to two ticks of silence).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// No connection lives longer than this.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

/// What the watchdog looks at: requests started, and requests not yet answered.
#[derive(Debug, Default)]
struct Activity {
    started: AtomicU64,
    in_flight: AtomicU64,
}

/// Marks one request answered (or abandoned) when dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serve `io` with `handler` until the client closes it, it idles or stalls for
/// [`IDLE_TIMEOUT`], or [`CONNECTION_LIFETIME`] is over.
pub async fn serve<I, F, Fut, B>(io: I, handler: F)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: ResponseBody,
{
    serve_with(io, handler, IDLE_TIMEOUT, CONNECTION_LIFETIME).await
}

async fn serve_with<I, F, Fut, B>(io: I, handler: F, tick: Duration, lifetime: Duration)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: ResponseBody,
{
    let activity = Arc::new(Activity::default());
    let seen_by_service = activity.clone();
    let service = service_fn(move |req| {
        seen_by_service.started.fetch_add(1, Ordering::Relaxed);
        seen_by_service.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(seen_by_service.clone());
        let answer = handler(req);
        async move {
            let r = answer.await;
            drop(guard);
            Ok::<Response<_>, Infallible>(r)
        }
    });
    let conn = http1::Builder::new().serve_connection(TokioIo::new(io), service);
    let watchdog = async {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
        let mut seen = 0;
        loop {
            ticks.tick().await;
            let started = activity.started.load(Ordering::Relaxed);
            if started == seen && activity.in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
            seen = started;
        }
    };
    tokio::select! {
        _ = conn => {}
        _ = watchdog => {}
        _ = tokio::time::sleep(lifetime) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::http::Resp;
    use http_body_util::Full;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn ok(_req: Request<Incoming>) -> Resp {
        Response::new(Full::new(hyper::body::Bytes::from_static(b"ok")))
    }

    const TICK: Duration = Duration::from_secs(10);
    const LIFE: Duration = Duration::from_secs(120);

    /// Runs `client` against a served duplex pipe in paused time; returns when the
    /// server side ended, with the virtual time it took.
    async fn served(
        client: impl FnOnce(tokio::io::DuplexStream) -> tokio::task::JoinHandle<()>,
    ) -> Duration {
        let (server_io, client_io) = tokio::io::duplex(64 * 1024);
        let t0 = tokio::time::Instant::now();
        let c = client(client_io);
        serve_with(server_io, ok, TICK, LIFE).await;
        c.abort();
        t0.elapsed()
    }

    /// A client that sends `bytes` and then nothing, ever.
    fn sends_then_stalls(
        bytes: &'static [u8],
    ) -> impl FnOnce(tokio::io::DuplexStream) -> tokio::task::JoinHandle<()> {
        move |mut io| {
            tokio::spawn(async move {
                io.write_all(bytes).await.unwrap();
                std::future::pending::<()>().await;
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let took = served(sends_then_stalls(
            b"POST /eligibility HTTP/1.1\r\nHost: x\r\n",
        ))
        .await;
        assert!(took >= TICK && took <= 2 * TICK, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_lives_until_its_lifetime_and_an_idle_one_is_closed() {
        // One request every 3 s: never idle for a whole tick, so only the lifetime ends it.
        let took = served(|mut io| {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    io.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                        .await
                        .unwrap();
                    let n = io.read(&mut buf).await.unwrap();
                    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
            })
        })
        .await;
        assert_eq!(took, LIFE);
        // One request, then silence: closed one to two ticks later.
        let took = served(sends_then_stalls(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")).await;
        assert!(took >= TICK && took <= 2 * TICK, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_answer_is_not_cut_off() {
        let (server_io, mut client_io) = tokio::io::duplex(64 * 1024);
        let slow = |_req: Request<Incoming>| async {
            tokio::time::sleep(Duration::from_secs(35)).await;
            Response::new(Full::new(hyper::body::Bytes::from_static(b"late")))
        };
        let server = tokio::spawn(serve_with(server_io, slow, TICK, LIFE));
        client_io
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = client_io.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        assert!(buf[..n].ends_with(b"late"));
        drop(client_io);
        server.await.unwrap();
    }
}
