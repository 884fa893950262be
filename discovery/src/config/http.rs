//! HTTP client settings shared by scrape configs, discovery configs and
//! remote endpoints: authentication, TLS and proxies.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A secret string: kept in memory as written but shown as `<secret>` when
/// the config is printed, as Prometheus does.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

/// `basic_auth`: a username and a password given inline or in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// A file holding the user name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username_file: String,
    /// The password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file holding the password, read at every request.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password_file: String,
}

/// `authorization`: an `Authorization` header of the given type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    /// The scheme, `Bearer` unless set.
    #[serde(rename = "type")]
    pub auth_type: String,
    /// The credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// A file holding the credentials, read at every request.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credentials_file: String,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            auth_type: "Bearer".to_owned(),
            credentials: None,
            credentials_file: String::new(),
        }
    }
}

/// `tls_config`: how to verify the server and identify ourselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// CA certificate file to verify the server with.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_file: String,
    /// Inline CA certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca: String,
    /// Client certificate file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    /// Inline client certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert: String,
    /// Client key file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    /// Inline client key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    /// Server name to verify and send as SNI.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    /// Skip certificate verification.
    pub insecure_skip_verify: bool,
    /// Minimum TLS version: `TLS10`..`TLS13`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// Maximum TLS version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
}

/// A TLS protocol version as Prometheus spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub enum TlsVersion {
    /// TLS 1.0.
    #[serde(rename = "TLS10")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLS11")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

/// `oauth2`: client credentials flow. Parsed and kept; not used for requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2 {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// File holding the client secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_secret_file: String,
    /// Scopes to request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Token endpoint.
    pub token_url: String,
    /// Extra endpoint parameters.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub endpoint_params: std::collections::BTreeMap<String, String>,
    /// TLS settings for the token endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Proxy for the token endpoint.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub proxy_url: String,
    /// Hosts that bypass the proxy.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// Take the proxy from the environment.
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// HTTP client settings, as they appear inline in scrape configs, service
/// discovery configs, alertmanager and remote endpoints. Structs that embed
/// it repeat these fields (serde cannot flatten and reject unknown keys at
/// once) and expose them through an `http_client_config()` accessor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientConfig {
    /// `basic_auth`.
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`, including the one made from `bearer_token(_file)`.
    pub authorization: Option<Authorization>,
    /// `oauth2`.
    pub oauth2: Option<OAuth2>,
    /// `tls_config`.
    pub tls_config: TlsConfig,
    /// `proxy_url`, empty for none.
    pub proxy_url: String,
    /// `no_proxy`.
    pub no_proxy: String,
    /// `proxy_from_environment`.
    pub proxy_from_environment: bool,
    /// `follow_redirects`, true unless set.
    pub follow_redirects: bool,
    /// `enable_http2`, true unless set.
    pub enable_http2: bool,
}

/// Checks the rules Prometheus applies to an inline HTTP client config and
/// folds the deprecated `bearer_token`/`bearer_token_file` into
/// `authorization`. Returns the message Prometheus would give on failure.
#[allow(clippy::too_many_arguments)]
pub fn validate_http_client(
    basic_auth: &Option<BasicAuth>,
    authorization: &mut Option<Authorization>,
    oauth2: &Option<OAuth2>,
    bearer_token: &Option<Secret>,
    bearer_token_file: &str,
    proxy_url: &str,
    no_proxy: &str,
    proxy_from_environment: bool,
) -> Result<(), String> {
    let has_bearer = bearer_token.as_ref().is_some_and(|s| !s.0.is_empty());
    if has_bearer && !bearer_token_file.is_empty() {
        return Err("at most one of bearer_token & bearer_token_file must be configured".into());
    }
    if basic_auth.is_some() && (has_bearer || !bearer_token_file.is_empty()) {
        return Err(
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                .into(),
        );
    }
    if let Some(b) = basic_auth {
        if !b.username.is_empty() && !b.username_file.is_empty() {
            return Err(
                "at most one of basic_auth username & username_file must be configured".into()
            );
        }
        if b.password.as_ref().is_some_and(|p| !p.0.is_empty()) && !b.password_file.is_empty() {
            return Err(
                "at most one of basic_auth password & password_file must be configured".into()
            );
        }
    }
    if let Some(a) = authorization.as_mut() {
        if has_bearer || !bearer_token_file.is_empty() {
            return Err(
                "authorization is not compatible with bearer_token & bearer_token_file".into()
            );
        }
        if a.credentials.as_ref().is_some_and(|c| !c.0.is_empty()) && !a.credentials_file.is_empty()
        {
            return Err(
                "at most one of authorization credentials & credentials_file must be configured"
                    .into(),
            );
        }
        if a.auth_type.is_empty() {
            a.auth_type = "Bearer".into();
        }
        if a.auth_type.eq_ignore_ascii_case("basic") {
            return Err(
                r#"authorization type cannot be set to "basic", use "basic_auth" instead"#.into()
            );
        }
        if basic_auth.is_some() || oauth2.is_some() {
            return Err(
                "at most one of basic_auth, oauth2 & authorization must be configured".into()
            );
        }
    } else if has_bearer || !bearer_token_file.is_empty() {
        *authorization = Some(Authorization {
            auth_type: "Bearer".into(),
            credentials: bearer_token.clone().filter(|s| !s.0.is_empty()),
            credentials_file: bearer_token_file.to_owned(),
        });
    }
    if oauth2.is_some() {
        if basic_auth.is_some() {
            return Err(
                "at most one of basic_auth, oauth2 & authorization must be configured".into()
            );
        }
        if has_bearer || !bearer_token_file.is_empty() {
            return Err(
                "at most one of oauth2 & bearer_token & bearer_token_file must be configured"
                    .into(),
            );
        }
    }
    if !proxy_url.is_empty() && proxy_from_environment {
        return Err(
            "if proxy_from_environment is configured, proxy_url must not be configured".into()
        );
    }
    if !no_proxy.is_empty() && proxy_url.is_empty() {
        return Err("if no_proxy is configured, proxy_url must also be configured".into());
    }
    if !proxy_url.is_empty() && !proxy_url.contains("://") {
        return Err(format!("invalid proxy_url {proxy_url:?}: missing scheme"));
    }
    Ok(())
}
