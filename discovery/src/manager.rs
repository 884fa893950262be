//! The discovery manager: runs providers per job and merges their groups.
//!
//! Each job (scrape pool) names a list of providers, one per discovery
//! config (see [`crate::config::SdConfigSet::providers`]). The manager runs
//! every provider's [`Discoverer`] as a tokio task, keeps the latest group
//! per `(provider, source)`, and publishes a full snapshot of every job's
//! groups on a [`watch`] channel. Consumers therefore never see partial
//! updates and can always rebuild their state from the latest snapshot.
//!
//! Publishing is throttled: Prometheus sends at most every 5 seconds,
//! because a Kubernetes cluster can change many objects per second and
//! every snapshot makes the scrape manager re-sync its pools. The first
//! change after a quiet period is sent at once; further changes within the
//! interval are coalesced into one later snapshot. A provider's first
//! report is never held back: the snapshot published when a configuration
//! is applied is taken before the new providers have run, so throttling
//! their initial groups would leave their jobs empty for a whole interval.
//!
//! Reapplying a configuration keeps providers whose configuration is
//! unchanged running (their groups survive), so a reload that only touches
//! one job does not re-list every source.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::NamedProvider;
use crate::{DiscoveryError, TargetGroup};

/// Every job's target groups, by job name.
pub type TargetSets = BTreeMap<String, Vec<TargetGroup>>;

/// Manager settings.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Minimum time between two published snapshots (Prometheus: 5s).
    pub update_interval: Duration,
    /// Capacity of each provider's update channel.
    pub channel_capacity: usize,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions { update_interval: Duration::from_secs(5), channel_capacity: 16 }
    }
}

/// A provider that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("job {job:?}: cannot start {provider}: {source}")]
pub struct StartError {
    /// The job.
    pub job: String,
    /// The provider's name, e.g. `file_sd_configs/0`.
    pub provider: String,
    /// Why.
    #[source]
    pub source: DiscoveryError,
}

/// How [`crate::config::Secret`] prints itself.
const SECRET_PLACEHOLDER: &str = "<secret>";

/// One running provider.
struct Provider {
    id: u64,
    /// Identity of its configuration: the key and the config's `Debug`
    /// form (the trait has no equality, and Prometheus compares configs
    /// structurally too).
    fingerprint: String,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    /// Jobs in configuration order, each with its providers in order.
    jobs: Vec<(String, Vec<Provider>)>,
    /// Latest groups per provider id, by source. Only live ids have entries.
    groups: HashMap<u64, BTreeMap<String, TargetGroup>>,
    /// Live providers that have not delivered their first update yet.
    unreported: HashSet<u64>,
    next_id: u64,
}

impl State {
    fn snapshot(&self) -> TargetSets {
        let mut out = TargetSets::new();
        for (job, providers) in &self.jobs {
            let groups = out.entry(job.clone()).or_default();
            for p in providers {
                if let Some(by_source) = self.groups.get(&p.id) {
                    groups.extend(by_source.values().cloned());
                }
            }
        }
        out
    }
}

/// Runs discovery for every job and publishes merged snapshots.
///
/// Must be created inside a tokio runtime. Dropping it stops every
/// provider.
pub struct Manager {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    /// Signalled when a provider delivers its first update; ends a
    /// throttling wait early.
    first_report: Arc<Notify>,
    snapshots: watch::Sender<Arc<TargetSets>>,
    options: ManagerOptions,
    sender: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind; keep going.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Manager {
    /// Starts an idle manager.
    pub fn new(options: ManagerOptions) -> Manager {
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let first_report = Arc::new(Notify::new());
        let (snapshots, _) = watch::channel(Arc::new(TargetSets::new()));
        let sender = tokio::spawn(send_loop(
            Arc::clone(&state),
            Arc::clone(&changed),
            Arc::clone(&first_report),
            snapshots.clone(),
            options.update_interval,
        ));
        Manager { state, changed, first_report, snapshots, options, sender }
    }

    /// A receiver of full snapshots. The current value is the latest
    /// published snapshot (empty before the first).
    pub fn subscribe(&self) -> watch::Receiver<Arc<TargetSets>> {
        self.snapshots.subscribe()
    }

    /// Replaces the configuration: `jobs` maps each job to its named
    /// providers. Providers whose job and configuration are unchanged keep
    /// running; others are stopped or started. Providers that fail to start
    /// are skipped and returned (they discover nothing until the next
    /// apply).
    pub fn apply_config(&self, jobs: Vec<(String, Vec<NamedProvider>)>) -> Vec<StartError> {
        let mut errors = Vec::new();
        let mut state = lock(&self.state);
        let mut old: HashMap<String, Vec<Provider>> =
            std::mem::take(&mut state.jobs).into_iter().collect();
        let mut new_jobs = Vec::with_capacity(jobs.len());
        let mut seen_jobs = HashSet::new();
        for (job, providers) in jobs {
            if !seen_jobs.insert(job.clone()) {
                continue;
            }
            let mut reusable = old.remove(&job).unwrap_or_default();
            let mut running = Vec::with_capacity(providers.len());
            for (name, config) in providers {
                let fingerprint = format!("{}:{config:?}", config.key());
                // Secrets print as `<secret>`, so two configs that differ
                // only in an inline secret look equal: restart those rather
                // than keep using an old credential.
                let comparable = !fingerprint.contains(SECRET_PLACEHOLDER);
                if let Some(i) =
                    reusable.iter().position(|p| comparable && p.fingerprint == fingerprint)
                {
                    running.push(reusable.swap_remove(i));
                    continue;
                }
                match config.discoverer() {
                    Ok(discoverer) => {
                        let id = state.next_id;
                        state.next_id += 1;
                        state.groups.insert(id, BTreeMap::new());
                        state.unreported.insert(id);
                        let task = tokio::spawn(run_provider(
                            id,
                            discoverer,
                            Arc::clone(&self.state),
                            Arc::clone(&self.changed),
                            Arc::clone(&self.first_report),
                            self.options.channel_capacity,
                        ));
                        running.push(Provider { id, fingerprint, task });
                    }
                    Err(source) => {
                        tracing::error!(job, provider = name, error = %source, "cannot start service discovery");
                        errors.push(StartError { job: job.clone(), provider: name, source });
                    }
                }
            }
            for p in reusable {
                stop(&mut state, p);
            }
            new_jobs.push((job, running));
        }
        for (_, providers) in old {
            for p in providers {
                stop(&mut state, p);
            }
        }
        state.jobs = new_jobs;
        drop(state);
        // The set of jobs changed even if no provider has reported yet.
        self.changed.notify_one();
        errors
    }

    /// The merged groups right now, bypassing the throttle (for tests and
    /// status pages).
    pub fn current(&self) -> TargetSets {
        lock(&self.state).snapshot()
    }
}

fn stop(state: &mut State, p: Provider) {
    p.task.abort();
    // Removing the id makes any late update from the aborted task a no-op.
    state.groups.remove(&p.id);
    state.unreported.remove(&p.id);
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.sender.abort();
        let mut state = lock(&self.state);
        for (_, providers) in std::mem::take(&mut state.jobs) {
            for p in providers {
                stop(&mut state, p);
            }
        }
    }
}

async fn run_provider(
    id: u64,
    discoverer: Box<dyn crate::Discoverer>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    first_report: Arc<Notify>,
    capacity: usize,
) {
    let (tx, mut rx) = mpsc::channel::<Vec<TargetGroup>>(capacity.max(1));
    let run = discoverer.run(tx);
    tokio::pin!(run);
    let mut running = true;
    loop {
        let groups = if running {
            tokio::select! {
                () = &mut run => { running = false; continue; }
                g = rx.recv() => g,
            }
        } else {
            rx.recv().await
        };
        let Some(groups) = groups else { return };
        let first = {
            let mut st = lock(&state);
            let first = st.unreported.remove(&id);
            let Some(by_source) = st.groups.get_mut(&id) else { return };
            for g in groups {
                if g.targets.is_empty() {
                    by_source.remove(&g.source);
                } else {
                    by_source.insert(g.source.clone(), g);
                }
            }
            first
        };
        changed.notify_one();
        if first {
            first_report.notify_one();
        }
    }
}

async fn send_loop(
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    first_report: Arc<Notify>,
    snapshots: watch::Sender<Arc<TargetSets>>,
    interval: Duration,
) {
    let mut last_sent: Option<tokio::time::Instant> = None;
    loop {
        changed.notified().await;
        if let Some(t) = last_sent {
            // A new provider's initial groups go out at once; a stale
            // permit from a first report already published only shortens
            // one wait, so the throttle still bounds steady-state updates.
            tokio::select! {
                () = tokio::time::sleep_until(t + interval) => {}
                () = first_report.notified() => {}
            }
        }
        let snapshot = lock(&state).snapshot();
        last_sent = Some(tokio::time::Instant::now());
        snapshots.send_if_modified(|current| {
            if **current == snapshot {
                false
            } else {
                *current = Arc::new(snapshot);
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::SdConfig;
    use crate::static_config::{StaticConfig, StaticConfigs};
    use crate::{Discoverer, DiscoveryFuture, LabelSet};

    /// A provider driven by the test: every group sent on `feed` is
    /// forwarded; `starts` counts how often a discoverer was built.
    #[derive(Clone)]
    struct Fake {
        name: &'static str,
        starts: Arc<AtomicUsize>,
        feed: Arc<Mutex<Option<mpsc::Receiver<Vec<TargetGroup>>>>>,
    }

    impl std::fmt::Debug for Fake {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Fake({})", self.name)
        }
    }

    impl SdConfig for Fake {
        fn key(&self) -> &'static str {
            "fake_sd_configs"
        }
        fn discoverer(&self) -> Result<Box<dyn Discoverer>, DiscoveryError> {
            self.starts.fetch_add(1, Ordering::SeqCst);
            let feed = self.feed.lock().expect("lock").take();
            Ok(Box::new(FakeDiscoverer(feed)))
        }
    }

    struct FakeDiscoverer(Option<mpsc::Receiver<Vec<TargetGroup>>>);

    impl Discoverer for FakeDiscoverer {
        fn run(self: Box<Self>, updates: mpsc::Sender<Vec<TargetGroup>>) -> DiscoveryFuture {
            Box::pin(async move {
                let Some(mut feed) = self.0 else { return std::future::pending().await };
                while let Some(g) = feed.recv().await {
                    if updates.send(g).await.is_err() {
                        return;
                    }
                }
                std::future::pending::<()>().await;
            })
        }
    }

    fn fake(name: &'static str) -> (Fake, mpsc::Sender<Vec<TargetGroup>>) {
        let (tx, rx) = mpsc::channel(16);
        (
            Fake {
                name,
                starts: Arc::new(AtomicUsize::new(0)),
                feed: Arc::new(Mutex::new(Some(rx))),
            },
            tx,
        )
    }

    fn group(source: &str, addrs: &[&str]) -> TargetGroup {
        TargetGroup {
            source: source.into(),
            targets: addrs
                .iter()
                .map(|a| LabelSet::from([("__address__".into(), (*a).into())]))
                .collect(),
            labels: LabelSet::new(),
        }
    }

    fn addrs(sets: &TargetSets, job: &str) -> Vec<String> {
        sets.get(job)
            .map(|gs| {
                gs.iter().flat_map(|g| g.targets.iter().map(|t| t["__address__"].clone())).collect()
            })
            .unwrap_or_default()
    }

    async fn next(rx: &mut watch::Receiver<Arc<TargetSets>>) -> Arc<TargetSets> {
        tokio::time::timeout(Duration::from_secs(5), rx.changed())
            .await
            .expect("a snapshot in time")
            .expect("open");
        rx.borrow_and_update().clone()
    }

    fn fast() -> ManagerOptions {
        ManagerOptions { update_interval: Duration::from_millis(200), ..ManagerOptions::default() }
    }

    fn static_provider(targets: &[&str]) -> (String, Arc<dyn SdConfig>) {
        let cfg = StaticConfig {
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            labels: LabelSet::new(),
        };
        ("static_configs/0".into(), Arc::new(StaticConfigs(vec![cfg])))
    }

    #[tokio::test]
    async fn publishes_static_targets_per_job() {
        let m = Manager::new(fast());
        let mut rx = m.subscribe();
        let errors = m.apply_config(vec![
            ("a".into(), vec![static_provider(&["a:1", "a:2"])]),
            ("b".into(), vec![static_provider(&["b:1"])]),
            ("empty".into(), vec![]),
        ]);
        assert!(errors.is_empty());
        let mut snap = next(&mut rx).await;
        while addrs(&snap, "b").is_empty() || addrs(&snap, "a").is_empty() {
            snap = next(&mut rx).await;
        }
        assert_eq!(addrs(&snap, "a"), vec!["a:1", "a:2"]);
        assert_eq!(addrs(&snap, "b"), vec!["b:1"]);
        assert!(snap.contains_key("empty"), "configured jobs appear even without targets");
    }

    // Paused time: the clock only advances when every task is idle, so the
    // throttle's timing is exact rather than subject to machine load.
    #[tokio::test(start_paused = true)]
    async fn updates_are_merged_by_source_and_throttled() {
        let m = Manager::new(fast());
        let mut rx = m.subscribe();
        let (f, feed) = fake("f");
        m.apply_config(vec![(
            "job".into(),
            vec![("fake/0".into(), Arc::new(f) as Arc<dyn SdConfig>)],
        )]);
        let _ = next(&mut rx).await; // The job appears.

        feed.send(vec![group("s1", &["x:1"]), group("s2", &["y:1"])]).await.expect("send");
        let mut snap = next(&mut rx).await;
        if addrs(&snap, "job").is_empty() {
            snap = next(&mut rx).await;
        }
        assert_eq!(addrs(&snap, "job"), vec!["x:1", "y:1"]);
        let t0 = tokio::time::Instant::now();

        // A burst of changes: replace s1, delete s2 with an empty group.
        feed.send(vec![group("s1", &["x:2"])]).await.expect("send");
        feed.send(vec![group("s2", &[])]).await.expect("send");
        let mut snap = next(&mut rx).await;
        while addrs(&snap, "job") != vec!["x:2"] {
            snap = next(&mut rx).await;
        }
        assert!(
            t0.elapsed() >= Duration::from_millis(200),
            "snapshots are throttled: {:?}",
            t0.elapsed()
        );
    }

    // Regression: the snapshot sent for the applied configuration is taken
    // before new providers run, so it holds their jobs without groups. A
    // provider reporting after that must not wait out the throttle, or its
    // job (e.g. one whose only target relabeling drops) stays empty for
    // a whole interval after start-up.
    #[tokio::test(start_paused = true)]
    async fn first_reports_of_new_providers_are_not_throttled() {
        let m = Manager::new(ManagerOptions::default());
        let mut rx = m.subscribe();
        let (a, afeed) = fake("a");
        let (b, bfeed) = fake("b");
        m.apply_config(vec![
            ("a".into(), vec![("fake/0".into(), Arc::new(a) as Arc<dyn SdConfig>)]),
            ("b".into(), vec![("fake/0".into(), Arc::new(b) as Arc<dyn SdConfig>)]),
        ]);
        let snap = next(&mut rx).await;
        assert!(addrs(&snap, "a").is_empty() && addrs(&snap, "b").is_empty(), "{snap:?}");
        let t0 = tokio::time::Instant::now();
        afeed.send(vec![group("s", &["a:1"])]).await.expect("send");
        let mut snap = next(&mut rx).await;
        while addrs(&snap, "a").is_empty() {
            snap = next(&mut rx).await;
        }
        bfeed.send(vec![group("s", &["b:1"])]).await.expect("send");
        while addrs(&snap, "b").is_empty() {
            snap = next(&mut rx).await;
        }
        assert_eq!(addrs(&snap, "a"), vec!["a:1"]);
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "first reports waited for the throttle: {:?}",
            t0.elapsed()
        );

        // Later updates of the same providers are throttled again.
        let t1 = tokio::time::Instant::now();
        afeed.send(vec![group("s", &["a:2"])]).await.expect("send");
        while addrs(&snap, "a") != vec!["a:2"] {
            // The throttle may hold this one for the full interval.
            tokio::time::timeout(Duration::from_secs(10), rx.changed())
                .await
                .expect("a throttled snapshot in time")
                .expect("open");
            snap = rx.borrow_and_update().clone();
        }
        assert!(t1.elapsed() >= Duration::from_secs(4), "not throttled: {:?}", t1.elapsed());
    }

    #[tokio::test]
    async fn reapplying_keeps_unchanged_providers_and_stops_removed_ones() {
        let m = Manager::new(fast());
        let (f, feed) = fake("keep");
        let (g, gfeed) = fake("drop");
        let keep: Arc<dyn SdConfig> = Arc::new(f.clone());
        let gone: Arc<dyn SdConfig> = Arc::new(g.clone());
        m.apply_config(vec![
            ("j1".into(), vec![("fake/0".into(), Arc::clone(&keep))]),
            ("j2".into(), vec![("fake/0".into(), Arc::clone(&gone))]),
        ]);
        feed.send(vec![group("s", &["k:1"])]).await.expect("send");
        gfeed.send(vec![group("s", &["g:1"])]).await.expect("send");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while addrs(&m.current(), "j1").is_empty() || addrs(&m.current(), "j2").is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "groups never arrived");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Same config for j1 (now at another index), j2 removed.
        m.apply_config(vec![(
            "j1".into(),
            vec![
                static_provider(&["st:1"]),
                ("fake/1".into(), Arc::new(f.clone()) as Arc<dyn SdConfig>),
            ],
        )]);
        assert_eq!(f.starts.load(Ordering::SeqCst), 1, "unchanged provider is not restarted");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let cur = m.current();
            if addrs(&cur, "j1") == vec!["st:1", "k:1"] || addrs(&cur, "j1") == vec!["k:1", "st:1"]
            {
                assert!(!cur.contains_key("j2"), "removed job disappears");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "unexpected {cur:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The kept provider still delivers updates.
        feed.send(vec![group("s", &["k:2"])]).await.expect("send");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !addrs(&m.current(), "j1").contains(&"k:2".to_owned()) {
            assert!(tokio::time::Instant::now() < deadline, "kept provider stopped");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The removed provider's task was aborted: its feed is closed.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !gfeed.is_closed() {
            assert!(tokio::time::Instant::now() < deadline, "removed provider still running");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn providers_with_inline_secrets_are_restarted_on_apply() {
        #[derive(Debug)]
        struct WithSecret {
            #[allow(dead_code)] // Read through Debug only.
            token: crate::config::Secret,
            starts: Arc<AtomicUsize>,
        }
        impl SdConfig for WithSecret {
            fn key(&self) -> &'static str {
                "secret_sd_configs"
            }
            fn discoverer(&self) -> Result<Box<dyn Discoverer>, DiscoveryError> {
                self.starts.fetch_add(1, Ordering::SeqCst);
                Ok(Box::new(FakeDiscoverer(None)))
            }
        }
        let m = Manager::new(fast());
        let starts = Arc::new(AtomicUsize::new(0));
        for token in ["old", "new"] {
            let cfg = WithSecret {
                token: crate::config::Secret(token.into()),
                starts: Arc::clone(&starts),
            };
            m.apply_config(vec![(
                "j".into(),
                vec![("secret/0".into(), Arc::new(cfg) as Arc<dyn SdConfig>)],
            )]);
        }
        assert_eq!(starts.load(Ordering::SeqCst), 2, "a changed secret is not visible in Debug");
    }

    #[tokio::test]
    async fn failing_providers_are_reported() {
        let m = Manager::new(fast());
        let bad =
            crate::file::FileSdConfig { files: vec![], refresh_interval: Duration::from_secs(1) };
        let errors =
            m.apply_config(vec![("j".into(), vec![("file_sd_configs/0".into(), Arc::new(bad))])]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("at least one path name"), "{}", errors[0]);
        assert!(m.current().contains_key("j"));
    }
}
