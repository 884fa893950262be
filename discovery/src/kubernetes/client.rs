//! Building a Kubernetes API client from a `kubernetes_sd_configs` entry.
//!
//! Three ways, as in Prometheus: an explicit `api_server` with the entry's
//! own auth and TLS settings, a `kubeconfig_file`, or (neither given) the
//! in-cluster service account (token, CA and namespace files mounted under
//! `/var/run/secrets/kubernetes.io/serviceaccount/`).

use std::path::Path;

use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};

use crate::config::KubernetesSdConfig;

/// Where the in-cluster service account's files are mounted.
pub(crate) const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `api_server` is not a valid URL.
    #[error("invalid api_server {url:?}: {reason}")]
    InvalidUrl {
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A credentials or certificate file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig or in-cluster configuration is unusable.
    #[error("kubernetes client configuration: {0}")]
    Config(String),
    /// The client could not be created from the configuration.
    #[error("creating kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

fn read(path: &str) -> Result<String, ClientError> {
    std::fs::read_to_string(path)
        .map_err(|source| ClientError::Read { path: path.to_owned(), source })
}

/// The namespace the service account runs in, for `own_namespace`.
pub(crate) fn own_namespace() -> Option<String> {
    std::fs::read_to_string(Path::new(SERVICE_ACCOUNT_DIR).join("namespace"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Builds the `kube` configuration for `cfg`.
pub(crate) async fn kube_config(cfg: &KubernetesSdConfig) -> Result<kube::Config, ClientError> {
    if !cfg.kubeconfig_file.is_empty() {
        let kubeconfig = Kubeconfig::read_from(&cfg.kubeconfig_file)
            .map_err(|e| ClientError::Config(e.to_string()))?;
        return kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| ClientError::Config(e.to_string()));
    }
    if cfg.api_server.is_empty() {
        return kube::Config::incluster().map_err(|e| ClientError::Config(e.to_string()));
    }
    let url: http::Uri = cfg.api_server.parse().map_err(|e: http::uri::InvalidUri| {
        ClientError::InvalidUrl { url: cfg.api_server.clone(), reason: e.to_string() }
    })?;
    let mut config = kube::Config::new(url);
    let mut auth = AuthInfo::default();
    if let Some(token) = &cfg.bearer_token {
        auth.token = Some(token.expose().to_owned().into());
    } else if !cfg.bearer_token_file.is_empty() {
        auth.token = Some(read(&cfg.bearer_token_file)?.trim().to_owned().into());
    }
    if let Some(a) = &cfg.authorization {
        let credentials = match (&a.credentials, a.credentials_file.as_str()) {
            (Some(c), _) => c.expose().to_owned(),
            (None, "") => String::new(),
            (None, file) => read(file)?.trim().to_owned(),
        };
        if !credentials.is_empty() {
            auth.token = Some(credentials.into());
        }
    }
    if let Some(b) = &cfg.basic_auth {
        auth.username = Some(if b.username_file.is_empty() {
            b.username.clone()
        } else {
            read(&b.username_file)?.trim().to_owned()
        });
        let password = match (&b.password, b.password_file.as_str()) {
            (Some(p), _) => p.expose().to_owned(),
            (None, "") => String::new(),
            (None, file) => read(file)?.trim().to_owned(),
        };
        auth.password = Some(password.into());
    }
    let tls = &cfg.tls_config;
    if !tls.cert_file.is_empty() {
        auth.client_certificate = Some(tls.cert_file.clone());
    } else if !tls.cert.is_empty() {
        auth.client_certificate_data = Some(base64_encode(tls.cert.as_bytes()));
    }
    if !tls.key_file.is_empty() {
        auth.client_key = Some(tls.key_file.clone());
    } else if let Some(key) = &tls.key {
        auth.client_key_data = Some(base64_encode(key.expose().as_bytes()).into());
    }
    let ca = if !tls.ca_file.is_empty() {
        Some(read(&tls.ca_file)?)
    } else {
        (!tls.ca.is_empty()).then(|| tls.ca.clone())
    };
    if let Some(pem) = ca {
        config.root_cert = Some(pem_certificates(&pem));
    }
    config.accept_invalid_certs = tls.insecure_skip_verify;
    if !tls.server_name.is_empty() {
        config.tls_server_name = Some(tls.server_name.clone());
    }
    if !cfg.proxy_url.is_empty() {
        config.proxy_url = Some(cfg.proxy_url.parse().map_err(|e: http::uri::InvalidUri| {
            ClientError::InvalidUrl { url: cfg.proxy_url.clone(), reason: e.to_string() }
        })?);
    }
    config.auth_info = auth;
    Ok(config)
}

/// DER certificates from a PEM bundle.
fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut body = String::new();
    let mut inside = false;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE-----") {
            inside = true;
            body.clear();
        } else if line.starts_with("-----END CERTIFICATE-----") {
            inside = false;
            if let Some(der) = base64_decode(&body) {
                out.push(der);
            }
        } else if inside {
            body.push_str(line);
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "hello world!"] {
            assert_eq!(base64_decode(&base64_encode(s.as_bytes())).as_deref(), Some(s.as_bytes()));
        }
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }
}
