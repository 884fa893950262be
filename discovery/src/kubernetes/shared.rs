//! Watches shared between discoverers.
//!
//! Two `kubernetes_sd_configs` entries (in one job or in several) that
//! connect the same way (API server or kubeconfig or in-cluster, auth,
//! TLS, proxy) and need the same kind in the same namespace with the same
//! selectors use one list+watch stream: one `kube` watcher whose events a
//! hub fans out to every subscriber. Each subscriber still builds its own
//! role's target groups on top.
//!
//! The hub keeps the current objects, so a subscriber joining a running
//! watch gets the full state at once, as the synthesized list events
//! `Init`, `InitApply`... and `InitDone` its cache already understands,
//! instead of waiting for the next change. The watch is stopped when the
//! last subscriber is dropped (a config reload that removes a job), and a
//! later subscriber starts a fresh one.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures::{Stream, StreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::watch::Kind;
use crate::config::{
    KubernetesAttachMetadata, KubernetesNamespaces, KubernetesRole, KubernetesSdConfig,
};

/// What makes two watches the same stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WatchKey {
    /// The config with everything but the connection settings reset.
    connection: KubernetesSdConfig,
    kind: Kind,
    /// `None` for all namespaces and for cluster-scoped kinds.
    namespace: Option<String>,
    label: Option<String>,
    field: Option<String>,
}

impl WatchKey {
    pub(crate) fn new(
        cfg: &KubernetesSdConfig,
        kind: Kind,
        namespace: Option<&str>,
        wc: &watcher::Config,
    ) -> WatchKey {
        let mut connection = cfg.clone();
        connection.role = KubernetesRole::Node;
        connection.namespaces = KubernetesNamespaces::default();
        connection.selectors.clear();
        connection.attach_metadata = KubernetesAttachMetadata::default();
        WatchKey {
            connection,
            kind,
            namespace: namespace.map(str::to_owned),
            label: wc.label_selector.clone(),
            field: wc.field_selector.clone(),
        }
    }
}

/// Running watches, by key. Entries whose watch is gone are pruned on the
/// next subscription.
static REGISTRY: Mutex<Vec<(WatchKey, Weak<dyn Any + Send + Sync>)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the lock; a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The state one watch shares with its subscribers.
struct Hub<K> {
    /// The objects as of the last completed list plus later events.
    /// Shared, not copied, with every subscriber's cache.
    objects: HashMap<String, Arc<K>>,
    /// Objects of a list in progress.
    listing: Option<HashMap<String, Arc<K>>>,
    synced: bool,
    subscribers: Vec<mpsc::UnboundedSender<Event<Arc<K>>>>,
}

/// One running watch; dropping the last handle stops it.
struct SharedWatch<K> {
    hub: Arc<Mutex<Hub<K>>>,
    task: tokio::task::JoinHandle<()>,
}

impl<K> Drop for SharedWatch<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn object_key<K: Resource>(obj: &K) -> String {
    let name = obj.meta().name.as_deref().unwrap_or_default();
    match obj.meta().namespace.as_deref() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    }
}

impl<K: Resource> Hub<K> {
    /// Records an event and forwards it to every live subscriber.
    fn publish(&mut self, ev: Event<K>) {
        let ev = match ev {
            Event::Apply(obj) => Event::Apply(Arc::new(obj)),
            Event::Delete(obj) => Event::Delete(Arc::new(obj)),
            Event::Init => Event::Init,
            Event::InitApply(obj) => Event::InitApply(Arc::new(obj)),
            Event::InitDone => Event::InitDone,
        };
        match &ev {
            Event::Apply(obj) => {
                self.objects.insert(object_key(&**obj), Arc::clone(obj));
            }
            Event::Delete(obj) => {
                self.objects.remove(&object_key(&**obj));
            }
            Event::Init => self.listing = Some(HashMap::new()),
            Event::InitApply(obj) => {
                self.listing.get_or_insert_default().insert(object_key(&**obj), Arc::clone(obj));
            }
            Event::InitDone => {
                self.objects = self.listing.take().unwrap_or_default();
                self.synced = true;
            }
        }
        self.subscribers.retain(|tx| tx.send(ev.clone()).is_ok());
    }

    /// Adds a subscriber, first replaying what is known as list events: the
    /// objects of a list in progress (its end follows live), or else the
    /// current objects once the first list is done.
    fn join(&mut self, tx: mpsc::UnboundedSender<Event<Arc<K>>>) {
        let replay: Vec<Event<Arc<K>>> = match (&self.listing, self.synced) {
            (Some(listing), _) => std::iter::once(Event::Init)
                .chain(listing.values().cloned().map(Event::InitApply))
                .collect(),
            (None, true) => std::iter::once(Event::Init)
                .chain(self.objects.values().cloned().map(Event::InitApply))
                .chain(std::iter::once(Event::InitDone))
                .collect(),
            (None, false) => Vec::new(),
        };
        for ev in replay {
            if tx.send(ev).is_err() {
                return;
            }
        }
        self.subscribers.push(tx);
    }
}

/// Subscribes to the watch for `key`, starting it on `api` with `wc` if no
/// live one exists. The stream ends only if the watch task dies with its
/// runtime.
pub(crate) fn subscribe<K>(
    key: WatchKey,
    api: Api<K>,
    wc: watcher::Config,
) -> impl Stream<Item = Result<Event<Arc<K>>, watcher::Error>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let mut registry = lock(&REGISTRY);
    registry.retain(|(_, w)| w.strong_count() > 0);
    let existing = registry
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
        .and_then(|any| any.downcast::<SharedWatch<K>>().ok())
        .filter(|w| !w.task.is_finished());
    let watch = match existing {
        Some(w) => w,
        None => {
            let hub = Arc::new(Mutex::new(Hub {
                objects: HashMap::new(),
                listing: None,
                synced: false,
                subscribers: Vec::new(),
            }));
            let feed = Arc::clone(&hub);
            let task = tokio::spawn(async move {
                let mut events = watcher::watcher(api, wc).default_backoff().boxed();
                while let Some(ev) = events.next().await {
                    match ev {
                        Ok(ev) => lock(&feed).publish(ev),
                        // The back-off wrapper retries; subscribers keep
                        // their last known objects.
                        Err(e) => tracing::warn!(error = %e, "kubernetes watch failed; retrying"),
                    }
                }
            });
            let w = Arc::new(SharedWatch { hub, task });
            registry.retain(|(k, _)| *k != key);
            let erased: Arc<dyn Any + Send + Sync> = w.clone();
            registry.push((key, Arc::downgrade(&erased)));
            w
        }
    };
    drop(registry);
    lock(&watch.hub).join(tx);
    // The stream owns the handle: dropping the subscriber releases it.
    futures::stream::unfold((watch, rx), |(watch, mut rx)| async move {
        let ev = rx.recv().await?;
        Some((Ok(ev), (watch, rx)))
    })
}
