//! The `promethium` binary.

use promethium_server::flags::Flags;

fn main() {
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
