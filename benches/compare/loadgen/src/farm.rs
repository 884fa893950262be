//! The exporter farm: target `i` listens on `base_port + i` on loopback, so a
//! server sees as many distinct targets as real deployments would while one
//! small process serves them all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::exposition::Target;

/// How many targets, how many series each, and where they listen.
pub(crate) struct FarmConfig {
    pub(crate) base_port: u16,
    pub(crate) targets: usize,
    pub(crate) series_per_target: usize,
}

/// Serves all targets until the process is killed.
pub(crate) fn run(config: &FarmConfig) -> std::io::Result<()> {
    // One thread: the farm must leave the cores to the server under test.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut listeners = Vec::with_capacity(config.targets);
        for i in 0..config.targets {
            let port = u16::try_from(usize::from(config.base_port) + i)
                .map_err(|_| std::io::Error::other("port range overflows 65535"))?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            listeners.push(TcpListener::bind(addr).await?);
        }
        let mut total = 0;
        for (i, listener) in listeners.into_iter().enumerate() {
            let target = Arc::new(Target::new(i, config.series_per_target));
            total += target.series();
            tokio::spawn(accept_loop(listener, target));
        }
        eprintln!("farm: {} targets, {total} series, ports {}..", config.targets, config.base_port);
        std::future::pending::<()>().await;
        Ok(())
    })
}

async fn accept_loop(listener: TcpListener, target: Arc<Target>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let target = Arc::clone(&target);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let target = Arc::clone(&target);
                async move { Ok::<_, Infallible>(respond(&target, req.uri().path())) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn respond(target: &Target, path: &str) -> Response<Full<Bytes>> {
    if path != "/metrics" {
        let mut r = Response::new(Full::new(Bytes::from_static(b"not found\n")));
        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
        return r;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let mut body = String::with_capacity(target.series() * 96);
    target.render(now, &mut body);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}
