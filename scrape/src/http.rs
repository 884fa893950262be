//! The HTTP client that fetches scrape bodies.
//!
//! One [`ScrapeClient`] serves a whole scrape pool (as in Prometheus, one
//! client per job), so connections to a target are kept alive between
//! scrapes. A fetch sends the headers Prometheus sends (`Accept`,
//! `Accept-Encoding: gzip`, `User-Agent`, `X-Prometheus-Scrape-Timeout-Seconds`
//! and the configured authorization), enforces the scrape timeout over the
//! whole exchange, and reads the body into a buffer the scrape loop reuses,
//! stopping as soon as the (decompressed) body reaches `body_size_limit`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, LOCATION, USER_AGENT,
};
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::{ClientError, ScrapeError};

/// The `User-Agent` every scrape sends.
pub const USER_AGENT_VALUE: &str = concat!("Promethium/", env!("CARGO_PKG_VERSION"));

/// The header telling the target how long the scraper will wait.
pub const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// How many redirects a scrape follows, as Go's HTTP client does.
const MAX_REDIRECTS: usize = 10;

/// A secret given inline or read from a file at every request (so rotated
/// credentials are picked up without a reload, as Prometheus does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// The secret itself.
    Inline(String),
    /// A file holding the secret; surrounding whitespace is trimmed.
    File(PathBuf),
}

impl Secret {
    fn read(&self) -> Result<String, std::io::Error> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(p) => Ok(std::fs::read_to_string(p)?.trim().to_owned()),
        }
    }
}

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `basic_auth`.
    Basic {
        /// The user name.
        username: String,
        /// The password (possibly empty).
        password: Option<Secret>,
    },
    /// `authorization` (and the older `bearer_token`/`bearer_token_file`).
    Authorization {
        /// The scheme, `Bearer` by default.
        credentials_type: String,
        /// The credentials.
        credentials: Secret,
    },
}

/// `tls_config`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    /// PEM CA certificates (inline) to trust instead of the system roots.
    pub ca: Option<String>,
    /// A file of PEM CA certificates to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Inline PEM client certificate (chain).
    pub cert: Option<String>,
    /// A file with the PEM client certificate (chain).
    pub cert_file: Option<PathBuf>,
    /// Inline PEM client key.
    pub key: Option<String>,
    /// A file with the PEM client key.
    pub key_file: Option<PathBuf>,
    /// The name to verify the server certificate against (and send as SNI).
    pub server_name: Option<String>,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
}

/// Everything needed to build a [`ScrapeClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// How requests authenticate.
    pub auth: Auth,
    /// TLS settings for `https` targets.
    pub tls: TlsOptions,
    /// Whether 3xx answers are followed.
    pub follow_redirects: bool,
    /// Whether `Accept-Encoding: gzip` is sent.
    pub enable_compression: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            auth: Auth::None,
            tls: TlsOptions::default(),
            follow_redirects: true,
            enable_compression: true,
        }
    }
}

/// One fetch: where, how long, how much.
#[derive(Debug, Clone)]
pub struct FetchRequest<'a> {
    /// The scrape URL.
    pub url: &'a Uri,
    /// The `Accept` header value.
    pub accept: &'a str,
    /// The scrape timeout; the whole exchange must finish within it.
    pub timeout: Duration,
    /// Maximum decompressed body size in bytes; 0 means unlimited.
    pub body_size_limit_bytes: usize,
}

/// What a successful fetch returns beside the body.
#[derive(Debug, Clone, Default)]
pub struct FetchResponse {
    /// The response's `Content-Type` (empty when absent).
    pub content_type: String,
    /// Bytes received on the wire (before decompression).
    pub wire_bytes: usize,
}

/// An HTTP(S) client configured for one scrape pool.
#[derive(Clone)]
pub struct ScrapeClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    options: Arc<ClientOptions>,
}

impl std::fmt::Debug for ScrapeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeClient").field("options", &self.options).finish_non_exhaustive()
    }
}

impl ScrapeClient {
    /// Builds a client; reads the TLS files named in `options` now, so a
    /// bad file is a configuration error rather than a failing scrape.
    pub fn new(options: ClientOptions) -> Result<Self, ClientError> {
        let tls = tls_config(&options.tls)?;
        let mut builder =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
        if let Some(name) = &options.tls.server_name {
            let name = ServerName::try_from(name.clone())
                .map_err(|e| ClientError::Tls(format!("invalid server_name {name:?}: {e}")))?;
            builder =
                builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = builder.enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        // Fail early on credentials that can never form a header.
        if let Auth::Basic { username, .. } = &options.auth
            && username.contains(':')
        {
            return Err(ClientError::Header {
                what: "basic_auth",
                reason: "username must not contain ':'".into(),
            });
        }
        Ok(ScrapeClient { client, options: Arc::new(options) })
    }

    /// The options this client was built from.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Fetches `request.url` into `body` (cleared first), decompressing gzip
    /// through `scratch`. Both buffers are the caller's so their capacity is
    /// reused from scrape to scrape.
    pub async fn fetch(
        &self,
        request: &FetchRequest<'_>,
        body: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<FetchResponse, ScrapeError> {
        body.clear();
        scratch.clear();
        match tokio::time::timeout(request.timeout, self.fetch_inner(request, body, scratch)).await
        {
            Ok(r) => r,
            Err(_) => Err(ScrapeError::Timeout { timeout: request.timeout }),
        }
    }

    async fn fetch_inner(
        &self,
        request: &FetchRequest<'_>,
        body: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<FetchResponse, ScrapeError> {
        let mut url = request.url.clone();
        let auth = self
            .auth_header()
            .map_err(|reason| ScrapeError::Request { url: url.to_string(), reason })?;
        let mut redirects = 0;
        let response = loop {
            let same_origin =
                url.authority() == request.url.authority() && url.scheme() == request.url.scheme();
            let req = self
                .build_request(&url, request, if same_origin { auth.as_ref() } else { None })
                .map_err(|reason| ScrapeError::Request { url: url.to_string(), reason })?;
            let resp = self.client.request(req).await.map_err(|e| ScrapeError::Request {
                url: url.to_string(),
                reason: error_chain(&e),
            })?;
            if !resp.status().is_redirection() || resp.status() == StatusCode::NOT_MODIFIED {
                break resp;
            }
            if !self.options.follow_redirects {
                break resp;
            }
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(ScrapeError::Redirect(format!(
                    "stopped after {MAX_REDIRECTS} redirects"
                )));
            }
            let location =
                resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                    ScrapeError::Redirect(format!("{} without a Location header", resp.status()))
                })?;
            url = resolve_location(&url, location)
                .ok_or_else(|| ScrapeError::Redirect(format!("invalid Location {location:?}")))?;
        };
        let status = response.status();
        if status != StatusCode::OK {
            return Err(ScrapeError::HttpStatus(format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let gzip = response
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
        let limit = request.body_size_limit_bytes;
        let mut incoming = response.into_body();
        // The raw body goes to `scratch` when it needs decompressing, to
        // `body` otherwise. The limit applies to the decompressed size, as in
        // Prometheus, but a compressed body over the limit is already too big
        // only if gzip cannot shrink, so it is checked after decompression.
        let raw = if gzip { &mut *scratch } else { &mut *body };
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| ScrapeError::Request {
                url: url.to_string(),
                reason: error_chain(&e),
            })?;
            if let Ok(data) = frame.into_data() {
                raw.extend_from_slice(&data);
                if !gzip && limit > 0 && raw.len() >= limit {
                    return Err(ScrapeError::BodyTooLarge { limit_bytes: limit });
                }
            }
        }
        let wire_bytes = raw.len();
        if gzip {
            gunzip_limited(scratch, body, limit)?;
        }
        Ok(FetchResponse { content_type, wire_bytes })
    }

    fn build_request(
        &self,
        url: &Uri,
        request: &FetchRequest<'_>,
        auth: Option<&HeaderValue>,
    ) -> Result<Request<Empty<Bytes>>, String> {
        let mut b = Request::get(url.clone())
            .header(ACCEPT, request.accept)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(SCRAPE_TIMEOUT_HEADER, format_seconds(request.timeout));
        if self.options.enable_compression {
            b = b.header(ACCEPT_ENCODING, "gzip");
        }
        if let Some(a) = auth {
            b = b.header(AUTHORIZATION, a.clone());
        }
        b.body(Empty::new()).map_err(|e| e.to_string())
    }

    fn auth_header(&self) -> Result<Option<HeaderValue>, String> {
        let value = match &self.options.auth {
            Auth::None => return Ok(None),
            Auth::Basic { username, password } => {
                let password = match password {
                    Some(p) => p.read().map_err(|e| format!("reading basic_auth password: {e}"))?,
                    None => String::new(),
                };
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                format!("Basic {encoded}")
            }
            Auth::Authorization { credentials_type, credentials } => {
                let c = credentials
                    .read()
                    .map_err(|e| format!("reading authorization credentials: {e}"))?;
                format!("{credentials_type} {c}")
            }
        };
        let mut v = HeaderValue::from_str(&value)
            .map_err(|e| format!("invalid authorization header: {e}"))?;
        v.set_sensitive(true);
        Ok(Some(v))
    }
}

/// Formats a duration as Go's `strconv.FormatFloat(d.Seconds(), 'f', -1, 64)`
/// does, the form Prometheus sends in the timeout header (`10`, `0.2`).
pub fn format_seconds(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// Decompresses `gz` into `out`, failing once `out` reaches `limit` bytes
/// (0 = unlimited), the same `>=` comparison Prometheus makes.
fn gunzip_limited(gz: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), ScrapeError> {
    let decoder = flate2::read::MultiGzDecoder::new(gz);
    let result = if limit > 0 {
        decoder.take(limit as u64).read_to_end(out)
    } else {
        let mut d = decoder;
        d.read_to_end(out)
    };
    result.map_err(|e| ScrapeError::Gzip(e.to_string()))?;
    if limit > 0 && out.len() >= limit {
        return Err(ScrapeError::BodyTooLarge { limit_bytes: limit });
    }
    Ok(())
}

fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return location.parse().ok();
    }
    let mut parts = base.clone().into_parts();
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let base_path = base.path();
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{location}")
    };
    parts.path_and_query = Some(path.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// The error and its sources joined, so "connection refused" is not hidden
/// behind hyper's generic "client error (Connect)".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let msg = inner.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = inner.source();
    }
    s
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trust roots, loaded once per process (reading and parsing
/// them takes milliseconds, too much to repeat for every scrape pool).
fn native_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "loading system trust roots");
        }
        let (_, ignored) = store.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::debug!(ignored, "skipped unparsable system trust roots");
        }
        store
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::Io { path: path.to_owned(), source })
}

fn pem_bytes(
    inline: Option<&String>,
    file: Option<&PathBuf>,
) -> Result<Option<(Vec<u8>, String)>, ClientError> {
    match (inline, file) {
        (Some(_), Some(f)) => {
            Err(ClientError::Tls(format!("both inline PEM and file {} given", f.display())))
        }
        (Some(s), None) => Ok(Some((s.as_bytes().to_vec(), "inline PEM".to_owned()))),
        (None, Some(f)) => Ok(Some((read_file(f)?, f.display().to_string()))),
        (None, None) => Ok(None),
    }
}

fn tls_config(o: &TlsOptions) -> Result<rustls::ClientConfig, ClientError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let builder = if o.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    } else if let Some((pem, what)) = pem_bytes(o.ca.as_ref(), o.ca_file.as_ref())? {
        let mut store = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert =
                cert.map_err(|e| ClientError::Pem { what: what.clone(), reason: e.to_string() })?;
            store
                .add(cert)
                .map_err(|e| ClientError::Pem { what: what.clone(), reason: e.to_string() })?;
        }
        if store.is_empty() {
            return Err(ClientError::Pem { what, reason: "no certificates found".into() });
        }
        builder.with_root_certificates(store)
    } else {
        builder.with_root_certificates(native_roots().clone())
    };
    let cert = pem_bytes(o.cert.as_ref(), o.cert_file.as_ref())?;
    let key = pem_bytes(o.key.as_ref(), o.key_file.as_ref())?;
    match (cert, key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some((cert, what)), Some((key, key_what))) => {
            let chain = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ClientError::Pem { what: what.clone(), reason: e.to_string() })?;
            if chain.is_empty() {
                return Err(ClientError::Pem { what, reason: "no certificates found".into() });
            }
            let key = PrivateKeyDer::from_pem_slice(&key)
                .map_err(|e| ClientError::Pem { what: key_what, reason: e.to_string() })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| ClientError::Tls(e.to_string()))
        }
        (Some(_), None) => Err(ClientError::Tls("client certificate given without a key".into())),
        (None, Some(_)) => Err(ClientError::Tls("client key given without a certificate".into())),
    }
}

/// `insecure_skip_verify`: accepts any certificate but still checks that the
/// handshake signatures are valid for the certificate presented.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server answering `/redirect` with a 302 to `/metrics`, and
    /// anything else with a gzip body; it sends back each request's head.
    async fn server() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&seen).into_owned();
                    let _ = tx.send(head.clone());
                    let reply = if head.starts_with("GET /redirect") {
                        b"HTTP/1.1 302 Found\r\nLocation: /metrics?x=1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    } else {
                        let mut enc =
                            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                        enc.write_all(b"up 1\n").unwrap();
                        let gz = enc.finish().unwrap();
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            gz.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&gz);
                        r
                    };
                    let _ = sock.write_all(&reply).await;
                });
            }
        });
        (addr, rx)
    }

    #[tokio::test]
    async fn sends_prometheus_headers_and_decodes_gzip() {
        let (addr, mut heads) = server().await;
        let client = ScrapeClient::new(ClientOptions {
            auth: Auth::Authorization {
                credentials_type: "Bearer".into(),
                credentials: Secret::Inline("tok".into()),
            },
            ..ClientOptions::default()
        })
        .unwrap();
        let url: Uri = format!("http://{addr}/metrics?module=a").parse().unwrap();
        let req = FetchRequest {
            url: &url,
            accept: "text/plain;version=0.0.4",
            timeout: Duration::from_millis(1500),
            body_size_limit_bytes: 0,
        };
        let (mut body, mut scratch) = (Vec::new(), Vec::new());
        let resp = client.fetch(&req, &mut body, &mut scratch).await.unwrap();
        assert_eq!(body, b"up 1\n");
        assert_eq!(resp.content_type, "text/plain; version=0.0.4");
        let head = heads.recv().await.unwrap().to_ascii_lowercase();
        for expected in [
            "get /metrics?module=a http/1.1",
            "accept: text/plain;version=0.0.4",
            "accept-encoding: gzip",
            "user-agent: promethium/",
            "x-prometheus-scrape-timeout-seconds: 1.5",
            "authorization: bearer tok",
        ] {
            assert!(head.contains(expected), "{expected:?} missing from request:\n{head}");
        }
    }

    #[tokio::test]
    async fn follows_redirects_only_when_asked() {
        let (addr, _heads) = server().await;
        let url: Uri = format!("http://{addr}/redirect").parse().unwrap();
        let req = FetchRequest {
            url: &url,
            accept: "*/*",
            timeout: Duration::from_secs(5),
            body_size_limit_bytes: 0,
        };
        let (mut body, mut scratch) = (Vec::new(), Vec::new());
        let client = ScrapeClient::new(ClientOptions::default()).unwrap();
        client.fetch(&req, &mut body, &mut scratch).await.unwrap();
        assert_eq!(body, b"up 1\n");
        let no_follow = ScrapeClient::new(ClientOptions {
            follow_redirects: false,
            ..ClientOptions::default()
        })
        .unwrap();
        let err = no_follow.fetch(&req, &mut body, &mut scratch).await.unwrap_err();
        assert!(matches!(&err, ScrapeError::HttpStatus(s) if s.starts_with("302")), "{err}");
    }

    #[tokio::test]
    async fn connection_refused_is_a_clear_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url: Uri = format!("http://127.0.0.1:{port}/metrics").parse().unwrap();
        let req = FetchRequest {
            url: &url,
            accept: "*/*",
            timeout: Duration::from_secs(5),
            body_size_limit_bytes: 0,
        };
        let client = ScrapeClient::new(ClientOptions::default()).unwrap();
        let err = client.fetch(&req, &mut Vec::new(), &mut Vec::new()).await.unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
    }

    #[test]
    fn timeout_header_formats_like_go() {
        assert_eq!(format_seconds(Duration::from_secs(10)), "10");
        assert_eq!(format_seconds(Duration::from_millis(200)), "0.2");
        assert_eq!(format_seconds(Duration::from_millis(1500)), "1.5");
    }

    #[test]
    fn gzip_is_limited_after_decompression() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&vec![b'a'; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        let mut out = Vec::new();
        gunzip_limited(&gz, &mut out, 0).unwrap();
        assert_eq!(out.len(), 10_000);
        out.clear();
        assert!(matches!(
            gunzip_limited(&gz, &mut out, 10_000),
            Err(ScrapeError::BodyTooLarge { .. })
        ));
        out.clear();
        gunzip_limited(&gz, &mut out, 10_001).unwrap();
        out.clear();
        assert!(matches!(gunzip_limited(b"not gzip", &mut out, 0), Err(ScrapeError::Gzip(_))));
    }

    #[test]
    fn redirect_locations_resolve() {
        let base: Uri = "http://h:1/a/metrics?x=1".parse().unwrap();
        assert_eq!(resolve_location(&base, "/other").unwrap().to_string(), "http://h:1/other");
        assert_eq!(resolve_location(&base, "m2?y=2").unwrap().to_string(), "http://h:1/a/m2?y=2");
        assert_eq!(resolve_location(&base, "https://x/y").unwrap().to_string(), "https://x/y");
    }

    #[test]
    fn basic_auth_header_is_base64() {
        let c = ScrapeClient::new(ClientOptions {
            auth: Auth::Basic { username: "u".into(), password: Some(Secret::Inline("p".into())) },
            ..ClientOptions::default()
        })
        .unwrap();
        assert_eq!(c.auth_header().unwrap().unwrap(), "Basic dTpw");
        let bearer = ScrapeClient::new(ClientOptions {
            auth: Auth::Authorization {
                credentials_type: "Bearer".into(),
                credentials: Secret::Inline("t".into()),
            },
            ..ClientOptions::default()
        })
        .unwrap();
        assert_eq!(bearer.auth_header().unwrap().unwrap(), "Bearer t");
    }

    #[test]
    fn tls_requires_key_with_cert() {
        let o = TlsOptions { cert: Some("x".into()), ..TlsOptions::default() };
        assert!(matches!(tls_config(&o), Err(ClientError::Tls(_))));
        let bad_ca = TlsOptions { ca: Some("not pem".into()), ..TlsOptions::default() };
        assert!(matches!(tls_config(&bad_ca), Err(ClientError::Pem { .. })));
    }
}
