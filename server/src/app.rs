//! Process lifecycle: start-up order, the control loop (SIGHUP and
//! `/-/reload`, SIGTERM/SIGINT and `/-/quit`) and clean shutdown.
//!
//! Start-up binds the listener first, so `/-/healthy` answers and
//! `/-/ready` says 503 while the WAL replays; the storage is opened next and
//! only then does the server become ready and scraping start. Shutdown runs
//! in the opposite order: stop scraping (writing staleness markers), stop
//! serving, close the storage (which fsyncs the WAL).

use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

use crate::config;
use crate::flags::Flags;
use crate::scrape_glue::Scraping;
use crate::state::{AppState, Control};
use crate::storage::Storage;
use crate::web_config::WebConfig;

/// Feature names Prometheus knows. Each is accepted; none changes
/// behaviour yet, so each logs a warning.
const KNOWN_FEATURES: &[&str] = &[
    "exemplar-storage",
    "memory-snapshot-on-shutdown",
    "extra-scrape-metrics",
    "native-histograms",
    "created-timestamp-zero-ingestion",
    "concurrent-rule-eval",
    "delayed-compaction",
    "old-ui",
    "otlp-deltatocumulative",
    "promql-experimental-functions",
    "promql-delayed-name-removal",
    "promql-duration-expr",
    "metadata-wal-records",
    "auto-reload-config",
    "auto-gomaxprocs",
    "auto-gomemlimit",
    "expand-external-labels",
    "no-default-scrape-port",
    "type-and-unit-labels",
    "use-uncached-io",
];

/// Runs the server until it is told to stop.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    for (name, value) in &flags.ignored {
        tracing::info!(flag = %name, %value, "flag accepted for compatibility and ignored");
    }
    for feature in flags.enable_feature.iter().filter(|f| !f.is_empty()) {
        if KNOWN_FEATURES.contains(&feature.as_str()) {
            tracing::warn!(%feature, "feature flag is accepted but has no effect in Promethium");
        } else {
            tracing::warn!(%feature, "unknown option for --enable-feature, ignoring");
        }
    }
    let loaded = config::load(flags.config_file.as_deref(), &flags.listen_address)?;
    for w in loaded.warnings() {
        tracing::warn!(warning = %w, "configuration");
    }
    let web_config = match &flags.web_config_file {
        Some(path) => WebConfig::load(path)?,
        None => WebConfig::default(),
    };
    let (control_tx, mut control_rx) = mpsc::channel(8);
    let state = Arc::new(AppState::new(flags.clone(), loaded, web_config, control_tx.clone()));
    state.telemetry.config_reload(true, now_secs());

    let listener = crate::http::bind(&flags.listen_address).await?;
    tracing::info!(address = %flags.listen_address, tls = state.web_config.tls.is_some(), "listening");
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let server = tokio::spawn(crate::http::serve(listener, state.clone(), shutdown_rx));

    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;

    let open = {
        let state = state.clone();
        let path = flags.storage_tsdb_path.clone();
        tokio::task::spawn_blocking(move || crate::storage::open(&path, &state))
    };
    // A signal during WAL replay still stops the process promptly.
    let storage: Arc<dyn Storage> = tokio::select! {
        opened = open => opened.context("storage start-up task failed")??,
        _ = sigterm.recv() => { tracing::info!("received SIGTERM during start-up, exiting"); return Ok(()); }
        _ = sigint.recv() => { tracing::info!("received SIGINT during start-up, exiting"); return Ok(()); }
    };
    state.set_storage(storage.clone());
    tracing::info!("server is ready to receive web requests");

    let mut scraping = Scraping::start(&state, storage.clone()).context("starting scraping")?;

    loop {
        tokio::select! {
            _ = sighup.recv() => {
                tracing::info!("received SIGHUP, reloading configuration");
                let _ = reload(&state, &mut scraping);
            }
            _ = sigterm.recv() => { tracing::info!("received SIGTERM, exiting gracefully"); break; }
            _ = sigint.recv() => { tracing::info!("received SIGINT, exiting gracefully"); break; }
            msg = control_rx.recv() => match msg {
                Some(Control::Reload(reply)) => {
                    let result = reload(&state, &mut scraping);
                    if let Some(reply) = reply {
                        let _ = reply.send(result);
                    }
                }
                Some(Control::Quit) | None => { tracing::info!("termination requested over HTTP, exiting gracefully"); break; }
            },
        }
    }

    scraping.stop().await;
    let _ = shutdown_tx.send(true);
    let _ = server.await;
    let closed =
        tokio::task::spawn_blocking(move || storage.close()).await.context("closing storage")?;
    match closed {
        Ok(()) => tracing::info!("storage closed, see you next time"),
        Err(e) => tracing::error!(error = %e, "closing storage failed"),
    }
    Ok(())
}

/// Reloads the config: on success swaps it in and re-applies scraping; on
/// failure logs the reason and keeps the running config.
fn reload(state: &Arc<AppState>, scraping: &mut Scraping) -> Result<(), String> {
    let result = config::load(state.flags.config_file.as_deref(), &state.flags.listen_address)
        .map_err(|e| format!("{e:#}"))
        .and_then(|loaded| {
            scraping.apply(&loaded).map_err(|e| format!("{e:#}"))?;
            Ok(loaded)
        });
    match result {
        Ok(loaded) => {
            for w in loaded.warnings() {
                tracing::warn!(warning = %w, "configuration");
            }
            state.set_config(loaded);
            state.telemetry.config_reload(true, now_secs());
            tracing::info!("completed loading of configuration file");
            Ok(())
        }
        Err(reason) => {
            state.reload_failed();
            state.telemetry.config_reload(false, now_secs());
            tracing::error!(error = %reason, "error reloading config; keeping the previous configuration");
            Err(reason)
        }
    }
}

fn now_secs() -> u64 {
    u64::try_from(crate::duration::now_ms() / 1000).unwrap_or(0)
}
