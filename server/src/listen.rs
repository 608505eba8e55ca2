//! The accept loop. `axum::serve` hides hyper's connection settings, so connections are served
//! here with hyper's HTTP/1 builder (Heroku's router speaks HTTP/1.1 to the dyno), which adds
//! what a server facing hostile clients needs:
//!
//! - a header read timeout: a client that sends its head slowly (slowloris), never finishes it,
//!   or sends nothing at all is disconnected after `Config::header_read_timeout`;
//! - a cap on the buffered head: a huge header block is refused (431) once `MAX_HEAD_BUFFER`
//!   bytes are in, not buffered whole;
//! - graceful shutdown: on the signal the listener is closed (new connections are refused),
//!   idle keep-alive connections are closed, and requests in flight finish (bounded by
//!   shutdown.rs's drain limit).

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Request line + headers are refused past this. `headers::limit_header_size` answers heads
/// between its own limit (32 KB) and this one with a logged 431; hyper answers larger ones
/// with a bare 431 and closes, having buffered at most this much. Also bounds the write buffer.
pub const MAX_HEAD_BUFFER: usize = 64 * 1024;

/// Serves `router` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_header_size(MAX_HEAD_BUFFER)
        .max_buf_size(MAX_HEAD_BUFFER);

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Client errors (timeouts, malformed or oversized heads, resets) only end that
            // connection; hyper has already answered what deserves an answer.
            let _ = conn.await;
        });
    }
    // Closing the socket now makes new connections fail at once instead of queueing in the
    // backlog of a process that is going away.
    drop(listener);
    graceful.shutdown().await;
}

/// As hyper and axum do: errors of one connection are skipped; anything else (e.g. EMFILE)
/// is reported and retried after a pause rather than spinning.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    eprintln!("webinfer-server: accept error: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
