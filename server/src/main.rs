//! The `promethium` binary.

use promethium_server::flags::Flags;

fn main() {
    tune_malloc();
    let flags = match Flags::parse_from_args(std::env::args()) {
        Ok(f) => f,
        Err(e) => e.exit(),
    };
    init_logging(&flags);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("promethium")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("promethium: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(promethium_server::app::run(flags)) {
        tracing::error!(error = %format!("{e:#}"), "fatal error");
        eprintln!("promethium: {e:#}");
        std::process::exit(1);
    }
}

/// Fixes glibc malloc's mmap and trim thresholds at 64 KiB, unless the
/// environment sets them (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`).
///
/// By default glibc raises its mmap threshold each time a large block is
/// freed, so after the first scrapes the transient buffers of a scrape
/// (parsed batches, appender and WAL record vectors of tens to hundreds of
/// KiB) come from the heap arenas, between long-lived series allocations,
/// and their freed space stays resident. With fixed thresholds they are
/// mapped and unmapped, and freed heap tops are returned: on the
/// side-by-side scrape load this took steady RSS from 765 to 615 bytes per
/// active series (docs/decisions/2026-12-05-series-memory.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    const THRESHOLD: libc::c_int = 64 * 1024;
    for (param, env) in [
        (libc::M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
        (libc::M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"),
    ] {
        if std::env::var_os(env).is_none() {
            // SAFETY: mallopt only changes allocator parameters; it runs
            // before the runtime starts any other thread.
            unsafe { libc::mallopt(param, THRESHOLD) };
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn init_logging(flags: &Flags) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROMETHIUM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&flags.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if flags.log_format == "json" {
        builder.json().init()
    } else {
        builder.event_format(promethium_server::logging::Logfmt).init()
    }
}
