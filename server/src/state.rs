//! State shared by every request handler.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use promethium_engine::model::GoRegex;
use promethium_promql::EngineOptions;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::config::LoadedConfig;
use crate::flags::Flags;
use crate::storage::Storage;
use crate::targets::{NoTargets, TargetSource};
use crate::telemetry::Telemetry;
use crate::web_config::WebConfig;

/// Default retention when neither flags nor config set one.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(15 * 86_400);

/// A request to the process' control loop.
#[derive(Debug)]
pub enum Control {
    /// Reload the configuration; the result goes to the sender if any.
    Reload(Option<oneshot::Sender<Result<(), String>>>),
    /// Shut down cleanly.
    Quit,
}

/// WAL replay progress, as `/api/v1/status/walreplay` reports it.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalReplay {
    /// First segment.
    pub min: u64,
    /// Last segment.
    pub max: u64,
    /// Segment being replayed.
    pub current: u64,
}

/// Everything handlers share.
pub struct AppState {
    /// The parsed command line.
    pub flags: Flags,
    /// Route prefix without trailing slash (empty for `/`).
    pub prefix: String,
    /// Self-metrics.
    pub telemetry: Telemetry,
    /// Query concurrency limit (`--query.max-concurrency`).
    pub query_slots: Arc<Semaphore>,
    /// When the process started, ms.
    pub start_time_ms: i64,
    /// Where reload and quit requests go.
    pub control: mpsc::Sender<Control>,
    /// `--web.cors.origin`, anchored.
    pub cors: Option<GoRegex>,
    /// The web config (basic auth users).
    pub web_config: WebConfig,
    /// The remote-write receiver (its series cache belongs to `storage`,
    /// which is installed once).
    pub remote_write: crate::remote::write::Receiver,
    storage: OnceLock<Arc<dyn Storage>>,
    config: RwLock<Arc<LoadedConfig>>,
    targets: RwLock<Arc<dyn TargetSource>>,
    last_config_time_ms: AtomicI64,
    reload_ok: AtomicBool,
    wal_replay: Mutex<WalReplay>,
}

impl AppState {
    /// State for a server starting with `config`.
    pub fn new(
        flags: Flags,
        config: LoadedConfig,
        web_config: WebConfig,
        control: mpsc::Sender<Control>,
    ) -> Self {
        let now = crate::duration::now_ms();
        let cors = GoRegex::new(&flags.cors_origin).ok();
        AppState {
            prefix: flags.route_prefix(),
            query_slots: Arc::new(Semaphore::new(flags.query_max_concurrency.max(1))),
            flags,
            telemetry: Telemetry::new(),
            start_time_ms: now,
            control,
            cors,
            web_config,
            remote_write: crate::remote::write::Receiver::new(),
            storage: OnceLock::new(),
            config: RwLock::new(Arc::new(config)),
            targets: RwLock::new(Arc::new(NoTargets)),
            last_config_time_ms: AtomicI64::new(now),
            reload_ok: AtomicBool::new(true),
            wal_replay: Mutex::new(WalReplay::default()),
        }
    }

    /// The storage, once the WAL has been replayed.
    pub fn storage(&self) -> Option<&Arc<dyn Storage>> {
        self.storage.get()
    }

    /// Installs the opened storage; the server is ready from now on.
    pub fn set_storage(&self, storage: Arc<dyn Storage>) {
        if self.storage.set(storage).is_err() {
            tracing::warn!("storage was already installed; keeping the first one");
        }
        self.telemetry.set_ready(true);
    }

    /// Whether the WAL has been replayed and queries can be answered.
    pub fn is_ready(&self) -> bool {
        self.storage.get().is_some()
    }

    /// The current configuration.
    pub fn config(&self) -> Arc<LoadedConfig> {
        self.config.read().clone()
    }

    /// Replaces the configuration after a successful reload.
    pub fn set_config(&self, config: LoadedConfig) {
        *self.config.write() = Arc::new(config);
        self.last_config_time_ms.store(crate::duration::now_ms(), Ordering::Relaxed);
        self.reload_ok.store(true, Ordering::Relaxed);
    }

    /// Records a failed reload.
    pub fn reload_failed(&self) {
        self.reload_ok.store(false, Ordering::Relaxed);
    }

    /// Whether the last reload succeeded, and when a config was last applied.
    pub fn reload_status(&self) -> (bool, i64) {
        (self.reload_ok.load(Ordering::Relaxed), self.last_config_time_ms.load(Ordering::Relaxed))
    }

    /// The scrape state the API shows.
    pub fn targets(&self) -> Arc<dyn TargetSource> {
        self.targets.read().clone()
    }

    /// Installs the scrape manager's view.
    pub fn set_targets(&self, source: Arc<dyn TargetSource>) {
        *self.targets.write() = source;
    }

    /// WAL replay progress.
    pub fn wal_replay(&self) -> WalReplay {
        *self.wal_replay.lock()
    }

    /// Updates WAL replay progress.
    pub fn set_wal_replay(&self, progress: WalReplay) {
        *self.wal_replay.lock() = progress;
    }

    /// Effective time retention: flag, else config, else 15d (when no size
    /// retention is set either, as in Prometheus).
    pub fn retention_time(&self) -> Option<Duration> {
        let config = self.config();
        self.flags
            .retention_time
            .filter(|d| !d.is_zero())
            .or(config.retention_time())
            .or_else(|| (self.retention_size().is_none()).then_some(DEFAULT_RETENTION))
    }

    /// Effective size retention in bytes: flag, else config.
    pub fn retention_size(&self) -> Option<u64> {
        self.flags.retention_size.filter(|b| *b > 0).or_else(|| self.config().retention_size())
    }

    /// Query engine options from the flags, with an optional per-request
    /// timeout that can only shorten the flag's.
    pub fn engine_options(&self, timeout: Option<Duration>) -> EngineOptions {
        let mut timeout_eff = self.flags.query_timeout;
        if let Some(t) = timeout {
            timeout_eff = timeout_eff.min(t);
        }
        EngineOptions {
            lookback_delta_ms: i64::try_from(self.flags.query_lookback_delta.as_millis())
                .unwrap_or(i64::MAX),
            max_samples: self.flags.query_max_samples,
            timeout: timeout_eff,
            ..EngineOptions::default()
        }
    }
}
