//! `--web.config.file` in Prometheus' exporter-toolkit format: TLS for the
//! listener and basic auth with bcrypt password hashes.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: ca.crt
//! basic_auth_users:
//!   alice: $2y$10$...
//! ```
//!
//! bcrypt is deliberately slow, so successful checks are cached (keyed by
//! the whole `Authorization` header) and a dashboard refreshing every few
//! seconds pays the hashing cost once.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine as _;
use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// Successful credentials remembered, at most.
const AUTH_CACHE_ENTRIES: usize = 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    #[serde(default)]
    http_server_config: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
}

/// The loaded web config.
#[derive(Default)]
pub struct WebConfig {
    /// TLS for the listener, when configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    users: BTreeMap<String, String>,
    cache: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys())
            .finish()
    }
}

/// The outcome of checking a request's credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No basic auth configured, or valid credentials.
    Allowed,
    /// Missing or wrong credentials.
    Denied,
}

impl WebConfig {
    /// Loads and validates the file (TLS material is read now, so a broken
    /// file fails at start-up, not at the first connection).
    pub fn load(path: &Path) -> anyhow::Result<WebConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading web config {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).with_context(|| format!("loading web config {}", path.display()))
    }

    /// Parses web config text; relative file names resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<WebConfig> {
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_yaml::from_str(text)?
        };
        let _ = raw.http_server_config;
        for (user, hash) in &raw.basic_auth_users {
            if hash.parse::<bcrypt::HashParts>().is_err() {
                bail!("basic_auth_users: password of {user:?} is not a bcrypt hash");
            }
        }
        let tls = match raw.tls_server_config {
            Some(t) => Some(Arc::new(build_tls(t, base)?)),
            None => None,
        };
        Ok(WebConfig { tls, users: raw.basic_auth_users, cache: Mutex::new(HashSet::new()) })
    }

    /// Whether requests need basic auth.
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Checks an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> AuthOutcome {
        if self.users.is_empty() {
            return AuthOutcome::Allowed;
        }
        let Some(header) = authorization else { return AuthOutcome::Denied };
        if self.cache.lock().contains(header) {
            return AuthOutcome::Allowed;
        }
        let Some(encoded) = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic "))
        else {
            return AuthOutcome::Denied;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return AuthOutcome::Denied;
        };
        let Ok(decoded) = String::from_utf8(decoded) else { return AuthOutcome::Denied };
        let Some((user, password)) = decoded.split_once(':') else { return AuthOutcome::Denied };
        let Some(hash) = self.users.get(user) else {
            // Spend comparable time on unknown users so timing does not
            // reveal which user names exist.
            let _ = bcrypt::verify(
                password,
                "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi",
            );
            return AuthOutcome::Denied;
        };
        if bcrypt::verify(password, hash).unwrap_or(false) {
            let mut cache = self.cache.lock();
            if cache.len() >= AUTH_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(header.to_string());
            AuthOutcome::Allowed
        } else {
            AuthOutcome::Denied
        }
    }
}

fn read_pem(
    file: &Option<PathBuf>,
    inline: &Option<String>,
    base: &Path,
    what: &str,
) -> anyhow::Result<Option<Vec<u8>>> {
    match (file, inline) {
        (Some(_), Some(_)) => bail!("at most one of {what} and {what}_file must be configured"),
        (Some(f), None) => {
            let p = if f.is_absolute() { f.clone() } else { base.join(f) };
            Ok(Some(
                std::fs::read(&p)
                    .with_context(|| format!("reading {what} file {}", p.display()))?,
            ))
        }
        (None, Some(s)) => Ok(Some(s.clone().into_bytes())),
        (None, None) => Ok(None),
    }
}

fn build_tls(t: RawTls, base: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let _ = (
        &t.cipher_suites,
        &t.prefer_server_cipher_suites,
        &t.curve_preferences,
        &t.client_allowed_sans,
    );
    let cert_pem = read_pem(&t.cert_file, &t.cert, base, "cert")?.context("missing cert_file")?;
    let key_pem = read_pem(&t.key_file, &t.key, base, "key")?.context("missing key_file")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .context("parsing certificate PEM")?;
    if certs.is_empty() {
        bail!("no certificate found in cert_file");
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).context("parsing private key PEM")?;

    let versions: Vec<&'static rustls::SupportedProtocolVersion> = match t.min_version.as_deref() {
        None | Some("TLS12") | Some("TLS10") | Some("TLS11") => {
            vec![&rustls::version::TLS13, &rustls::version::TLS12]
        }
        Some("TLS13") => vec![&rustls::version::TLS13],
        Some(other) => bail!("unknown TLS version: {other}"),
    };
    if let Some(max) = t.max_version.as_deref()
        && !matches!(max, "TLS12" | "TLS13")
    {
        bail!("unknown TLS version: {max}");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .context("TLS protocol versions")?;

    let auth_type = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let ca_pem = read_pem(&t.client_ca_file, &t.client_ca, base, "client_ca")?;
    let builder = match auth_type {
        "NoClientCert" => builder.with_no_client_auth(),
        "RequestClientCert"
        | "RequireAnyClientCert"
        | "VerifyClientCertIfGiven"
        | "RequireAndVerifyClientCert" => {
            let ca_pem = ca_pem.with_context(|| {
                format!("client_ca_file is required for client_auth_type {auth_type}")
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&ca_pem) {
                roots.add(cert.context("parsing client CA PEM")?).context("adding client CA")?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier =
                if matches!(auth_type, "RequireAndVerifyClientCert" | "RequireAnyClientCert") {
                    verifier
                } else {
                    verifier.allow_unauthenticated()
                };
            builder.with_client_cert_verifier(
                verifier.build().context("building client certificate verifier")?,
            )
        }
        other => bail!("invalid client_auth_type: {other}"),
    };
    let mut config =
        builder.with_single_cert(certs, key).context("certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_with_bcrypt() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let wc =
            WebConfig::parse(&format!("basic_auth_users:\n  alice: '{hash}'\n"), Path::new("."))
                .unwrap();
        assert!(wc.requires_auth());
        let good =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("alice:secret"));
        let bad =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("alice:nope"));
        let unknown =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("bob:secret"));
        assert_eq!(wc.check(Some(&good)), AuthOutcome::Allowed);
        assert_eq!(wc.check(Some(&good)), AuthOutcome::Allowed, "cached");
        assert_eq!(wc.check(Some(&bad)), AuthOutcome::Denied);
        assert_eq!(wc.check(Some(&unknown)), AuthOutcome::Denied);
        assert_eq!(wc.check(None), AuthOutcome::Denied);
    }

    #[test]
    fn rejects_bad_files() {
        assert!(WebConfig::parse("basic_auth_users:\n  a: plain\n", Path::new(".")).is_err());
        assert!(
            WebConfig::parse(
                "tls_server_config:\n  cert_file: /nonexistent\n  key_file: /nonexistent\n",
                Path::new(".")
            )
            .is_err()
        );
        assert!(WebConfig::parse("bogus: 1\n", Path::new(".")).is_err());
        let empty = WebConfig::parse("", Path::new(".")).unwrap();
        assert!(!empty.requires_auth() && empty.tls.is_none());
        assert_eq!(empty.check(None), AuthOutcome::Allowed);
    }
}
