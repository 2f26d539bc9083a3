//! `GET /metrics` over HTTP/1.1, hand-written: one fixed route, read-only, answered with
//! `Connection: close`, which is all a Prometheus scraper needs; a web framework would be
//! most of the daemon's dependency tree for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::DaemonError;
use crate::metrics::Metrics;

/// A request head larger than this is refused: a scraper sends a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// A client that does not finish its request in this time is dropped, so that idle
/// connections cannot pile up.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; further ones wait in the listen queue. Each holds a file
/// descriptor for up to [`READ_TIMEOUT`], and the node client, the database copies and
/// strategy compiles need descriptors of the same process.
const MAX_CONNECTIONS: usize = 64;

/// Binds `addr` now (so a taken port stops the start) and serves until the runtime ends.
/// Returns the bound address, which differs from `addr` when its port is 0.
pub(crate) async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> Result<SocketAddr, DaemonError> {
    serve_at_most(addr, metrics, MAX_CONNECTIONS).await
}

async fn serve_at_most(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    connections: usize,
) -> Result<SocketAddr, DaemonError> {
    let error = |source| DaemonError::Metrics { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    let slots = Arc::new(Semaphore::new(connections));
    tokio::spawn(async move {
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let metrics = Arc::clone(&metrics);
                    tokio::spawn(async move {
                        if let Err(error) = answer(stream, &metrics).await {
                            tracing::debug!(%peer, %error, "metrics request failed");
                        }
                        drop(slot);
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "metrics endpoint: accept failed");
                    // Out of file descriptors, typically: do not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(bound)
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(head) => head?,
        Err(_) => return Ok(()),
    };
    let (status, content_type, body) = match route(&head) {
        Route::Metrics => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        Route::NotFound => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "only /metrics is served here\n".to_owned(),
        ),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET is served here\n".to_owned(),
        ),
        Route::BadRequest => (
            "400 Bad Request",
            "text/plain; charset=utf-8",
            "not an HTTP/1.x request\n".to_owned(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{body}",
        body.len(),
        if status.starts_with("405") {
            "Allow: GET\r\n"
        } else {
            ""
        },
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Reads until the blank line that ends the head (a GET has no body).
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

fn route(head: &[u8]) -> Route {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    if method != "GET" {
        return Route::MethodNotAllowed;
    }
    match target.split('?').next() {
        Some("/metrics") => Route::Metrics,
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::{Route, route, serve_at_most};
    use crate::metrics::Metrics;

    /// With every connection slot held by a client that sends nothing, a scrape waits in the
    /// listen queue instead of taking another descriptor; once a slot frees, it is answered.
    #[tokio::test]
    async fn connections_beyond_the_limit_wait_their_turn() {
        let addr = serve_at_most(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(Metrics::default()),
            2,
        )
        .await
        .unwrap();
        let idle = [
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        ];
        let mut scrape = TcpStream::connect(addr).await.unwrap();
        scrape
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let waited =
            tokio::time::timeout(Duration::from_millis(500), scrape.read_to_end(&mut answer)).await;
        assert!(waited.is_err(), "answered beyond the limit: {answer:?}");
        drop(idle);
        tokio::time::timeout(Duration::from_secs(30), scrape.read_to_end(&mut answer))
            .await
            .expect("answered once a slot freed")
            .unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "{answer:?}");
    }

    #[test]
    fn routes_only_get_metrics() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics
        );
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Route::Metrics);
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Route::MethodNotAllowed
        );
        assert_eq!(route(b"hello\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b"GET /metrics SPDY/3\r\n\r\n"), Route::BadRequest);
    }
}
