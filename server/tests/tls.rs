//! TLS from `--web.config.file`: the server answers over TLS with the
//! configured certificate, and requires a client certificate when told to.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

struct Pki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert: CertificateDer<'static>,
    client_key_der: Vec<u8>,
    ca_der: CertificateDer<'static>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA cert");
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);

    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server_params =
        rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
    let server = server_params.signed_by(&server_key, &issuer).expect("server cert");

    let client_key = rcgen::KeyPair::generate().expect("client key");
    let client_params =
        rcgen::CertificateParams::new(vec!["client".to_string()]).expect("client params");
    let client = client_params.signed_by(&client_key, &issuer).expect("client cert");

    Pki {
        ca_pem: ca.pem(),
        server_cert_pem: server.pem(),
        server_key_pem: server_key.serialize_pem(),
        client_cert: client.der().clone(),
        client_key_der: client_key.serialize_der(),
        ca_der: ca.der().clone(),
    }
}

fn client_config(pki: &Pki, with_cert: bool) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("root");
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = if with_cert {
        let key = PrivateKeyDer::try_from(pki.client_key_der.clone()).expect("client key der");
        builder.with_client_auth_cert(vec![pki.client_cert.clone()], key).expect("client auth")
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(config)
}

fn tls_get(port: u16, config: Arc<rustls::ClientConfig>, path: &str) -> std::io::Result<String> {
    let conn =
        rustls::ClientConnection::new(config, ServerName::try_from("localhost").expect("name"))
            .map_err(std::io::Error::other)?;
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        // Some servers close without close_notify; what was read counts.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn serves_tls_and_verifies_client_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = pki();
    std::fs::write(dir.path().join("server.crt"), &pki.server_cert_pem).expect("write");
    std::fs::write(dir.path().join("server.key"), &pki.server_key_pem).expect("write");
    std::fs::write(dir.path().join("ca.crt"), &pki.ca_pem).expect("write");
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
    )
    .expect("write web config");
    let s = common::Server::start(
        dir.path(),
        "scrape_configs: []\n",
        &[&format!("--web.config.file={}", web.display())],
    );

    let with_cert = client_config(&pki, true);
    let start = Instant::now();
    let body = loop {
        match tls_get(s.port, with_cert.clone(), "/-/ready") {
            Ok(b) if b.starts_with("HTTP/1.1 200") => break b,
            _ if start.elapsed() > Duration::from_secs(30) => {
                panic!("no TLS answer; log:\n{}", s.logs())
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert!(body.contains("Ready"), "{body}");
    let api = tls_get(s.port, with_cert, "/api/v1/status/buildinfo").expect("TLS API request");
    assert!(api.contains("\"status\":\"success\""), "{api}");

    // Without a client certificate the handshake is refused.
    let anonymous = tls_get(s.port, client_config(&pki, false), "/-/healthy");
    assert!(
        !anonymous.is_ok_and(|b| b.starts_with("HTTP/1.1 200")),
        "a client without a certificate was served"
    );
    // Plain HTTP gets no HTTP answer.
    let plain = common::request(s.port, "GET", "/-/healthy", &[], b"");
    assert!(plain.map(|r| r.status != 200).unwrap_or(true));
}
