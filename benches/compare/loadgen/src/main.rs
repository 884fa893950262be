//! Load generators for the side-by-side benchmark in `benches/compare/`.
//!
//! `compare-loadgen farm` serves many exporter targets from one process (one
//! loopback port per target) so every server under test scrapes exactly the
//! same data; `compare-loadgen remote-write` pushes snappy-compressed protobuf
//! batches as fast as the server accepts them and prints a JSON summary;
//! `compare-loadgen backfill` pushes the node_exporter-like load of
//! `promethium-benches` over a past span (24 h by default) in time order and
//! prints a JSON summary.

mod backfill;
mod exposition;
mod farm;
mod proto;
mod sender;
mod usage;

use std::process::ExitCode;

const USAGE: &str = "usage:
  compare-loadgen farm --base-port P [--targets N] [--series N]
  compare-loadgen remote-write --url URL [--series N] [--batch N] [--connections N] [--duration SECS]
  compare-loadgen backfill --url URL [--targets N] [--hours H] [--interval SECS] [--seed N]
                           [--end-ms MS] [--connections N] [--rounds-per-request N] [--batch N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let opts = match Opts::parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "farm" => farm_main(&opts),
        "remote-write" => sender_main(&opts),
        "backfill" => backfill_main(&opts),
        other => Err(format!("unknown command {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn farm_main(opts: &Opts) -> Result<(), String> {
    let base_port: u16 = opts.num("base-port", None)?;
    let config = farm::FarmConfig {
        base_port,
        targets: opts.num("targets", Some(200))?,
        series_per_target: opts.num("series", Some(2000))?,
    };
    farm::run(&config).map_err(|e| format!("farm: {e}"))
}

fn sender_main(opts: &Opts) -> Result<(), String> {
    let config = sender::SenderConfig {
        url: opts.get("url").ok_or("--url is required")?.to_string(),
        series: opts.num("series", Some(100_000))?,
        batch: opts.num("batch", Some(2000))?,
        connections: opts.num("connections", Some(4))?,
        duration: std::time::Duration::from_secs_f64(opts.num("duration", Some(30.0))?),
    };
    let report = sender::run(&config).map_err(|e| format!("remote-write: {e}"))?;
    println!("{}", report.to_json());
    Ok(())
}

fn backfill_main(opts: &Opts) -> Result<(), String> {
    let hours: f64 = opts.num("hours", Some(24.0))?;
    let interval: f64 = opts.num("interval", Some(15.0))?;
    let config = backfill::BackfillConfig {
        url: opts.get("url").ok_or("--url is required")?.to_string(),
        targets: opts.num("targets", Some(2))?,
        span_ms: (hours * 3_600_000.0) as i64,
        interval_ms: (interval * 1000.0) as i64,
        end_ms: opts
            .get("end-ms")
            .map(|v| v.parse())
            .transpose()
            .map_err(|_| "--end-ms: bad number")?,
        seed: opts.num("seed", Some(7))?,
        connections: opts.num("connections", Some(4))?,
        rounds_per_request: opts.num("rounds-per-request", Some(10))?,
        batch: opts.num("batch", Some(5000))?,
    };
    let report = backfill::run(&config).map_err(|e| format!("backfill: {e}"))?;
    println!("{}", report.to_json());
    Ok(())
}

/// `--name value` pairs; nothing else is accepted.
struct Opts(Vec<(String, String)>);

impl Opts {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let name =
                flag.strip_prefix("--").ok_or_else(|| format!("unexpected argument {flag:?}"))?;
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_string(), value.clone()));
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: Option<T>) -> Result<T, String> {
        match (self.get(name), default) {
            (Some(v), _) => v.parse().map_err(|_| format!("--{name}: bad number {v:?}")),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(format!("--{name} is required")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_default() {
        let args: Vec<String> =
            ["--targets", "3", "--url", "http://x"].iter().map(|s| s.to_string()).collect();
        let o = Opts::parse(&args).expect("valid");
        assert_eq!(o.num::<usize>("targets", Some(1)).expect("number"), 3);
        assert_eq!(o.num::<usize>("series", Some(7)).expect("default"), 7);
        assert_eq!(o.get("url"), Some("http://x"));
        assert!(o.num::<usize>("base-port", None).is_err());
        assert!(Opts::parse(&["stray".to_string()]).is_err());
    }
}
