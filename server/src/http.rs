//! The HTTP listener: plain or TLS, HTTP/1.1 and HTTP/2, and the layer
//! every request passes (basic auth, route prefix, gzip, CORS, request
//! metrics) before the router.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::AppState;
use crate::web_config::AuthOutcome;

/// A response body: in memory, or streamed from a producer in chunks.
pub type RespBody = Either<Full<Bytes>, StreamBody<ChunkStream>>;

/// The response type of every handler.
pub type Resp = Response<RespBody>;

/// Size of the chunks a streamed response is sent in.
const STREAM_CHUNK_BYTES: usize = 64 << 10;

/// The receiving end of a streamed response.
pub struct ChunkStream(tokio::sync::mpsc::Receiver<Bytes>);

impl futures::Stream for ChunkStream {
    type Item = Result<Frame<Bytes>, Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// The producing end of a streamed response: an `io::Write` that sends
/// full chunks to the client, blocking while the client is slow. Use it
/// from a blocking thread only.
pub struct ChunkWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Bytes>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= STREAM_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk =
            Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(STREAM_CHUNK_BYTES)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

/// A streamed response: `produce` runs on the blocking pool and writes the
/// body (gzip-compressed on the fly when `gzip`); memory stays at a few
/// chunks however large the body is.
pub fn streamed(
    content_type: &'static str,
    gzip: bool,
    produce: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static,
) -> Resp {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let writer = ChunkWriter { buf: Vec::with_capacity(STREAM_CHUNK_BYTES), tx };
        let result = if gzip {
            let mut enc = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
            produce(&mut enc).and_then(|()| enc.finish().map(drop))
        } else {
            let mut writer = writer;
            produce(&mut writer)
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "streamed response ended early");
        }
    });
    let mut r = Response::new(Either::Right(StreamBody::new(ChunkStream(rx))));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if gzip {
        r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    r
}

/// Whether the client accepts gzip, as recorded by the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub struct AcceptsGzip(pub bool);

/// Responses smaller than this are sent uncompressed even when gzip is
/// accepted: compressing them costs more than it saves.
const GZIP_MIN_BYTES: usize = 1024;

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Either::Left(Full::new(body.into())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// A response with a content type.
pub fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Either::Left(Full::new(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A redirect.
pub fn redirect(location: &str) -> Resp {
    let mut r = text(StatusCode::FOUND, format!("<a href=\"{location}\">Found</a>.\n"));
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A request body the router accepts: hyper's `Incoming` in the server,
/// an in-memory body in tests.
pub trait ReqBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + Unpin
    + 'static
{
}

impl<B> ReqBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + Unpin
        + 'static
{
}

/// Reads a request body of at most `limit` bytes.
pub async fn read_body<B: ReqBody>(body: B, limit: usize) -> Result<Bytes, String> {
    Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| format!("reading request body: {e}"))
}

/// Binds the listener (so the caller learns a bad address before start-up
/// continues).
pub async fn bind(address: &str) -> anyhow::Result<TcpListener> {
    let addr = listen_addr(address);
    TcpListener::bind(&addr).await.map_err(|e| anyhow::anyhow!("listening on {address}: {e}"))
}

/// Go's listener accepts `:9090` for "every address"; Rust's needs a host.
pub fn listen_addr(address: &str) -> String {
    if address.starts_with(':') { format!("0.0.0.0{address}") } else { address.to_string() }
}

/// Serves connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tls = state.web_config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly
                // instead of spinning.
                tracing::warn!(error = %e, "accepting connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(state, req, peer).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls_stream) => {
                        builder.serve_connection(TokioIo::new(tls_stream), service).await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
                None => builder.serve_connection(TokioIo::new(stream), service).await,
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// The layer around the router.
async fn handle(state: Arc<AppState>, mut req: Request<Incoming>, _peer: SocketAddr) -> Resp {
    let started = Instant::now();
    let auth =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if state.web_config.requires_auth() {
        let web = &state.web_config;
        // bcrypt takes tens of milliseconds: keep it off the async threads.
        let outcome = tokio::task::block_in_place(|| web.check(auth.as_deref()));
        if outcome == AuthOutcome::Denied {
            let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            return r;
        }
    }
    let accepts_gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().split(';').next() == Some("gzip")));
    req.extensions_mut().insert(AcceptsGzip(accepts_gzip));
    let origin = req.headers().get(header::ORIGIN).cloned();
    let (handler, mut resp) = crate::router::route(&state, req).await;
    if handler.starts_with("/api/") {
        set_cors(&state, origin.as_ref(), &mut resp);
    }
    if accepts_gzip {
        resp = gzip(resp);
    }
    state.telemetry.http_request(handler, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}

fn set_cors(state: &AppState, origin: Option<&HeaderValue>, resp: &mut Resp) {
    let h = resp.headers_mut();
    h.insert(
        "Access-Control-Allow-Headers",
        HeaderValue::from_static("Accept, Authorization, Content-Type, Origin"),
    );
    h.insert("Access-Control-Allow-Methods", HeaderValue::from_static("GET, POST, OPTIONS"));
    h.insert("Access-Control-Expose-Headers", HeaderValue::from_static("Date"));
    if let (Some(origin), Some(cors)) = (origin, &state.cors)
        && let Ok(o) = origin.to_str()
    {
        if state.flags.cors_origin == ".*" {
            h.insert("Access-Control-Allow-Origin", HeaderValue::from_static("*"));
        } else if cors.is_match(o) {
            h.insert("Access-Control-Allow-Origin", origin.clone());
        }
    }
}

/// Compresses an in-memory response body when it is large enough to
/// benefit. Streamed bodies compress themselves (see [`streamed`]).
fn gzip(resp: Resp) -> Resp {
    let (mut parts, body) = resp.into_parts();
    let full = match body {
        Either::Left(full) => full,
        streamed @ Either::Right(_) => return Response::from_parts(parts, streamed),
    };
    // A `Full` body is already in memory; taking it out does not wait.
    let bytes = match futures::executor::block_on(full.collect()) {
        Ok(c) => c.to_bytes(),
        Err(never) => match never {},
    };
    let keep = |parts, bytes| Response::from_parts(parts, Either::Left(Full::new(bytes)));
    if bytes.len() < GZIP_MIN_BYTES || parts.headers.contains_key(header::CONTENT_ENCODING) {
        return keep(parts, bytes);
    }
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    if enc.write_all(&bytes).is_err() {
        return keep(parts, bytes);
    }
    match enc.finish() {
        Ok(compressed) => {
            parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            keep(parts, Bytes::from(compressed))
        }
        Err(_) => keep(parts, bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_listen_addresses() {
        assert_eq!(listen_addr(":9090"), "0.0.0.0:9090");
        assert_eq!(listen_addr("127.0.0.1:9090"), "127.0.0.1:9090");
        assert_eq!(listen_addr("[::]:9090"), "[::]:9090");
    }

    #[tokio::test]
    async fn streamed_bodies_arrive_whole_and_gzip_on_the_fly() {
        let big: String = (0..50_000).map(|i| format!("{i},")).collect();
        let expected = big.clone();
        let r = streamed("text/plain", false, move |w| w.write_all(big.as_bytes()));
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, expected.as_bytes());

        let copy = expected.clone();
        let r = streamed("text/plain", true, move |w| w.write_all(copy.as_bytes()));
        assert_eq!(r.headers().get(header::CONTENT_ENCODING).unwrap(), "gzip");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut out)
            .unwrap();
        assert_eq!(out, expected);
    }
}
