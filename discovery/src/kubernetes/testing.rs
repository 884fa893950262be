//! A fake Kubernetes API server on loopback, for tests and benches
//! (feature `test-support`).
//!
//! It speaks enough of the list/watch protocol for `kube`'s watcher: list
//! responses carrying a `resourceVersion`, `?watch=true` streams of
//! newline-delimited `ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK` events resumed
//! from a resource version, a forced `410 Gone` (an `ERROR` event with code
//! 410, after which the client must list again), and dropped connections.
//! Objects are built with `k8s-openapi` types and stored as JSON.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::Resource;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

#[derive(Clone, Debug)]
struct WatchEvent {
    rv: u64,
    collection: String,
    namespace: Option<String>,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct Store {
    rv: u64,
    /// (collection, namespace/name) -> object
    objects: BTreeMap<(String, String), Value>,
    log: Vec<WatchEvent>,
    /// Resource versions at or below this are "too old" (410 Gone).
    compacted_below: u64,
    list_calls: BTreeMap<String, u32>,
    watch_calls: BTreeMap<String, u32>,
}

/// The fake API server; dropping it stops serving.
pub struct FakeApiServer {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    events: broadcast::Sender<WatchEvent>,
    /// Bumped to end every open watch stream.
    drops: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn collection_of<K: Resource>() -> String {
    K::URL_PATH_SEGMENT.to_owned()
}

impl FakeApiServer {
    /// Starts serving on a free loopback port.
    pub async fn start() -> FakeApiServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port is free in tests");
        let addr = listener.local_addr().expect("local addr");
        let store = Arc::new(Mutex::new(Store { rv: 1, ..Store::default() }));
        let (events, _) = broadcast::channel(65536);
        let (drops, _) = tokio::sync::watch::channel(0u64);
        let (s, e, d) = (store.clone(), events.clone(), drops.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (s, e, d) = (s.clone(), e.clone(), d.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        handle(req, s.clone(), e.clone(), d.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeApiServer { addr, store, events, drops, task }
    }

    /// The base URL for `api_server`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates or replaces an object (ADDED or MODIFIED).
    pub fn apply<K: Resource + Serialize>(&self, obj: &K) {
        let mut value = serde_json::to_value(obj).expect("serialize object");
        let ns = value.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned);
        let name =
            value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let key = (collection_of::<K>(), format!("{}/{name}", ns.clone().unwrap_or_default()));
        let mut store = self.store.lock().expect("store lock");
        store.rv += 1;
        let rv = store.rv;
        value["metadata"]["resourceVersion"] = json!(rv.to_string());
        let kind = if store.objects.insert(key.clone(), value.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        let ev = WatchEvent { rv, collection: key.0, namespace: ns, kind, object: value };
        store.log.push(ev.clone());
        let _ = self.events.send(ev);
    }

    /// Deletes an object (DELETED).
    pub fn delete<K: Resource + Serialize>(&self, obj: &K) {
        let value = serde_json::to_value(obj).expect("serialize object");
        let ns = value.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned);
        let name =
            value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let key = (collection_of::<K>(), format!("{}/{name}", ns.clone().unwrap_or_default()));
        let mut store = self.store.lock().expect("store lock");
        let Some(mut old) = store.objects.remove(&key) else { return };
        store.rv += 1;
        let rv = store.rv;
        old["metadata"]["resourceVersion"] = json!(rv.to_string());
        let ev = WatchEvent { rv, collection: key.0, namespace: ns, kind: "DELETED", object: old };
        store.log.push(ev.clone());
        let _ = self.events.send(ev);
    }

    /// Forgets the event history: every open watch ends with `410 Gone`
    /// and resuming from any earlier resource version fails the same way,
    /// so clients must list again.
    pub fn expire_history(&self) {
        let mut store = self.store.lock().expect("store lock");
        store.compacted_below = store.rv;
        store.log.clear();
        drop(store);
        self.drops.send_modify(|g| *g += 1);
    }

    /// Mutates an object silently (no watch event), as if the change were
    /// lost with compacted history; only a re-list reveals it.
    pub fn apply_silently<K: Resource + Serialize>(&self, obj: &K) {
        let mut value = serde_json::to_value(obj).expect("serialize object");
        let ns = value.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned);
        let name =
            value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut store = self.store.lock().expect("store lock");
        store.rv += 1;
        value["metadata"]["resourceVersion"] = json!(store.rv.to_string());
        store
            .objects
            .insert((collection_of::<K>(), format!("{}/{name}", ns.unwrap_or_default())), value);
    }

    /// Deletes an object silently (no watch event); only a re-list reveals it.
    pub fn delete_silently<K: Resource + Serialize>(&self, obj: &K) {
        let value = serde_json::to_value(obj).expect("serialize object");
        let ns = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let name =
            value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut store = self.store.lock().expect("store lock");
        store.rv += 1;
        store.objects.remove(&(collection_of::<K>(), format!("{ns}/{name}")));
    }

    /// Closes every open watch connection without an error event.
    pub fn drop_watches(&self) {
        self.drops.send_modify(|g| *g += 1);
    }

    /// How many watch requests a collection has served.
    pub fn watch_calls(&self, collection: &str) -> u32 {
        self.store.lock().expect("store lock").watch_calls.get(collection).copied().unwrap_or(0)
    }

    /// How many list requests a collection has served.
    pub fn list_calls(&self, collection: &str) -> u32 {
        self.store.lock().expect("store lock").list_calls.get(collection).copied().unwrap_or(0)
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn full(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .expect("valid response")
}

/// Splits `/api/v1/namespaces/ns/pods` into (Some("ns"), "pods").
fn parse_path(path: &str) -> (Option<String>, String) {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let collection = segs.last().copied().unwrap_or_default().to_owned();
    let ns = segs
        .iter()
        .position(|s| *s == "namespaces")
        .and_then(|i| if i + 2 < segs.len() { Some(segs[i + 1].to_owned()) } else { None });
    (ns, collection)
}

fn list_kind(collection: &str) -> &'static str {
    match collection {
        "pods" => "PodList",
        "nodes" => "NodeList",
        "services" => "ServiceList",
        "endpoints" => "EndpointsList",
        "endpointslices" => "EndpointSliceList",
        "ingresses" => "IngressList",
        "namespaces" => "NamespaceList",
        _ => "List",
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    store: Arc<Mutex<Store>>,
    events: broadcast::Sender<WatchEvent>,
    drops: tokio::sync::watch::Sender<u64>,
) -> Result<Response<Body>, Infallible> {
    let (ns, collection) = parse_path(req.uri().path());
    let query: BTreeMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    if !watching {
        let mut s = store.lock().expect("store lock");
        *s.list_calls.entry(collection.clone()).or_default() += 1;
        let items: Vec<Value> = s
            .objects
            .iter()
            .filter(|((c, key), _)| {
                *c == collection && ns.as_ref().is_none_or(|n| key.starts_with(&format!("{n}/")))
            })
            .map(|(_, v)| v.clone())
            .collect();
        let body = json!({
            "apiVersion": "v1",
            "kind": list_kind(&collection),
            "metadata": {"resourceVersion": s.rv.to_string()},
            "items": items,
        });
        return Ok(full(StatusCode::OK, &body));
    }

    *store.lock().expect("store lock").watch_calls.entry(collection.clone()).or_default() += 1;
    let from: u64 = query.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut live = events.subscribe();
    let mut dropped = drops.subscribe();
    dropped.mark_unchanged();
    let (backlog, gone) = {
        let s = store.lock().expect("store lock");
        let gone = from < s.compacted_below;
        let backlog: Vec<WatchEvent> = s
            .log
            .iter()
            .filter(|e| {
                e.rv > from && e.collection == collection && (ns.is_none() || e.namespace == ns)
            })
            .cloned()
            .collect();
        (backlog, gone)
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1024);
    let line = |v: Value| Bytes::from(format!("{v}\n"));
    let expired = json!({"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version", "reason": "Expired", "code": 410}});
    tokio::spawn(async move {
        if gone {
            let _ = tx.send(line(expired)).await;
            return;
        }
        let mut last = from;
        for e in backlog {
            last = e.rv;
            if tx.send(line(json!({"type": e.kind, "object": e.object}))).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                ev = live.recv() => match ev {
                    Ok(e) if e.rv > last && e.collection == collection && (ns.is_none() || e.namespace == ns) => {
                        last = e.rv;
                        if tx.send(line(json!({"type": e.kind, "object": e.object}))).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
                _ = dropped.changed() => {
                    // An expired history ends the stream with 410; a plain
                    // drop just closes the connection.
                    let expired_now = store.lock().expect("store lock").compacted_below > last;
                    if expired_now {
                        let _ = tx.send(line(expired)).await;
                    }
                    return;
                }
            }
        }
    });
    let body = StreamBody::new(tokio_stream_from(rx).map(|b| Ok::<_, Infallible>(Frame::data(b))));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(body))
        .expect("valid response"))
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures::Stream<Item = Bytes> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
