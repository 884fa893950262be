//! Exposition parsing throughput on a realistic node_exporter body, in MB/s
//! and samples/s, for the Prometheus text format and OpenMetrics.
//!
//! The body is generated deterministically (a fixed LCG seed): about 1,600
//! series in the shape node_exporter serves them, with HELP/TYPE lines,
//! CPU/disk/network/filesystem counters and gauges with several labels, a
//! Go GC summary and request-duration histograms.
//!
//! Two paths are measured per format:
//! * `entries`: every entry is read and each sample's series bytes and value
//!   are touched, which is the scrape loop's steady state (series cache hits
//!   skip label decoding);
//! * `entries+labels`: additionally every sample's labels are decoded into a
//!   reused `LabelBuf`, which is the first scrape of a target (all misses).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_scrape::parse::{Entry, LabelBuf, parser_for};

/// Deterministic pseudo-random numbers (64-bit LCG, Knuth's constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn value(&mut self, scale: f64) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 * scale
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
}

/// Renders a node_exporter-like body. `om` selects OpenMetrics conventions
/// (counter families named without `_total`, float seconds, `# EOF`).
fn node_exporter_body(om: bool) -> (Vec<u8>, usize) {
    use std::fmt::Write;
    let mut rng = Lcg(0x5eed);
    let mut out = String::new();
    let mut samples = 0usize;
    let mut family =
        |out: &mut String, name: &str, kind: Kind, help: &str, series: &[String], rng: &mut Lcg| {
            let (type_name, sample_name) = match (kind, om) {
                (Kind::Counter, true) => {
                    (name.trim_end_matches("_total").to_owned(), name.to_owned())
                }
                _ => (name.to_owned(), name.to_owned()),
            };
            let t = if kind == Kind::Counter { "counter" } else { "gauge" };
            let _ = writeln!(out, "# HELP {type_name} {help}");
            let _ = writeln!(out, "# TYPE {type_name} {t}");
            for labels in series {
                let v = rng.value(1e6);
                if labels.is_empty() {
                    let _ = writeln!(out, "{sample_name} {v}");
                } else {
                    let _ = writeln!(out, "{sample_name}{{{labels}}} {v}");
                }
                samples += 1;
            }
        };

    let cpus = 16;
    let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"];
    let cpu_series: Vec<String> = (0..cpus)
        .flat_map(|c| modes.iter().map(move |m| format!("cpu=\"{c}\",mode=\"{m}\"")))
        .collect();
    family(
        &mut out,
        "node_cpu_seconds_total",
        Kind::Counter,
        "Seconds the CPUs spent in each mode.",
        &cpu_series,
        &mut rng,
    );
    let cpu_only: Vec<String> = (0..cpus).map(|c| format!("cpu=\"{c}\"")).collect();
    for (n, h) in [
        ("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode."),
        ("node_cpu_core_throttles_total", "Number of times this CPU core has been throttled."),
    ] {
        family(&mut out, n, Kind::Counter, h, &cpu_only, &mut rng);
    }
    for n in [
        "node_cpu_scaling_frequency_hertz",
        "node_cpu_scaling_frequency_max_hertz",
        "node_cpu_scaling_frequency_min_hertz",
    ] {
        family(
            &mut out,
            n,
            Kind::Gauge,
            "Current scaled CPU thread frequency in hertz.",
            &cpu_only,
            &mut rng,
        );
    }

    let disks: Vec<String> = ["nvme0n1", "nvme1n1", "sda", "sdb", "dm-0", "dm-1", "loop0", "loop1"]
        .iter()
        .map(|d| format!("device=\"{d}\""))
        .collect();
    for n in [
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_disk_reads_completed_total",
        "node_disk_writes_completed_total",
        "node_disk_read_time_seconds_total",
        "node_disk_write_time_seconds_total",
        "node_disk_io_time_seconds_total",
        "node_disk_io_time_weighted_seconds_total",
        "node_disk_reads_merged_total",
        "node_disk_writes_merged_total",
        "node_disk_discards_completed_total",
        "node_disk_flush_requests_total",
    ] {
        family(
            &mut out,
            n,
            Kind::Counter,
            "Disk statistic from /proc/diskstats.",
            &disks,
            &mut rng,
        );
    }
    family(
        &mut out,
        "node_disk_io_now",
        Kind::Gauge,
        "The number of I/Os currently in progress.",
        &disks,
        &mut rng,
    );

    let ifaces: Vec<String> = [
        "eth0",
        "eth1",
        "lo",
        "docker0",
        "br-1a2b3c",
        "veth12ab34",
        "veth56cd78",
        "wlan0",
        "tailscale0",
        "virbr0",
    ]
    .iter()
    .map(|d| format!("device=\"{d}\""))
    .collect();
    for stat in [
        "receive_bytes",
        "transmit_bytes",
        "receive_packets",
        "transmit_packets",
        "receive_errs",
        "transmit_errs",
        "receive_drop",
        "transmit_drop",
        "receive_multicast",
        "receive_fifo",
        "transmit_fifo",
        "receive_frame",
        "transmit_colls",
        "transmit_carrier",
        "receive_compressed",
        "transmit_compressed",
    ] {
        family(
            &mut out,
            &format!("node_network_{stat}_total"),
            Kind::Counter,
            "Network device statistic from /proc/net/dev.",
            &ifaces,
            &mut rng,
        );
    }
    for g in [
        "mtu_bytes",
        "speed_bytes",
        "up",
        "carrier",
        "transmit_queue_length",
        "flags",
        "iface_id",
        "dormant",
    ] {
        family(
            &mut out,
            &format!("node_network_{g}"),
            Kind::Gauge,
            "Network device property from /sys/class/net.",
            &ifaces,
            &mut rng,
        );
    }

    let fs: Vec<String> = [
        ("/dev/nvme0n1p2", "ext4", "/"),
        ("/dev/nvme0n1p1", "vfat", "/boot/efi"),
        ("/dev/mapper/data", "xfs", "/data"),
        ("tmpfs", "tmpfs", "/run"),
        ("tmpfs", "tmpfs", "/run/lock"),
        ("tmpfs", "tmpfs", "/run/user/1000"),
        ("/dev/sda1", "ext4", "/var/lib/docker"),
        ("overlay", "overlay", "/var/lib/docker/overlay2/3f2a9c/merged"),
    ]
    .iter()
    .map(|(d, t, m)| format!("device=\"{d}\",fstype=\"{t}\",mountpoint=\"{m}\""))
    .collect();
    for n in [
        "node_filesystem_avail_bytes",
        "node_filesystem_free_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_files",
        "node_filesystem_files_free",
        "node_filesystem_readonly",
        "node_filesystem_device_error",
    ] {
        family(&mut out, n, Kind::Gauge, "Filesystem statistic from statfs.", &fs, &mut rng);
    }

    let none = [String::new()];
    for i in 0..300 {
        let name = format!("node_vmstat_stat_{i:03}");
        family(&mut out, &name, Kind::Gauge, "/proc/vmstat information field.", &none, &mut rng);
    }
    let collectors: Vec<String> =
        (0..45).map(|i| format!("collector=\"collector_{i:02}\"")).collect();
    family(
        &mut out,
        "node_scrape_collector_duration_seconds",
        Kind::Gauge,
        "Duration of a collector scrape.",
        &collectors,
        &mut rng,
    );
    family(
        &mut out,
        "node_scrape_collector_success",
        Kind::Gauge,
        "Whether a collector succeeded.",
        &collectors,
        &mut rng,
    );

    // A Go GC summary.
    let (sum_type, _) = ("go_gc_duration_seconds", ());
    let _ = writeln!(
        out,
        "# HELP {sum_type} A summary of the pause duration of garbage collection cycles."
    );
    let _ = writeln!(out, "# TYPE {sum_type} summary");
    for q in ["0", "0.25", "0.5", "0.75", "1"] {
        let _ = writeln!(out, "go_gc_duration_seconds{{quantile=\"{q}\"}} {}", rng.value(0.01));
        samples += 1;
    }
    let _ = writeln!(out, "go_gc_duration_seconds_sum {}", rng.value(10.0));
    let _ = writeln!(out, "go_gc_duration_seconds_count {}", rng.next() % 100_000);
    samples += 2;

    // Request-duration histograms.
    let _ =
        writeln!(out, "# HELP promhttp_request_duration_seconds Histogram of request latencies.");
    let _ = writeln!(out, "# TYPE promhttp_request_duration_seconds histogram");
    let les =
        ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
    for handler in
        ["/metrics", "/", "/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/-/healthy"]
    {
        for code in ["200", "400", "500"] {
            let mut cum = 0u64;
            for le in les {
                cum += rng.next() % 100;
                let _ = writeln!(
                    out,
                    "promhttp_request_duration_seconds_bucket{{code=\"{code}\",handler=\"{handler}\",le=\"{le}\"}} {cum}"
                );
            }
            let _ = writeln!(
                out,
                "promhttp_request_duration_seconds_sum{{code=\"{code}\",handler=\"{handler}\"}} {}",
                rng.value(1000.0)
            );
            let _ = writeln!(
                out,
                "promhttp_request_duration_seconds_count{{code=\"{code}\",handler=\"{handler}\"}} {cum}"
            );
            samples += les.len() + 2;
        }
    }
    if om {
        out.push_str("# EOF\n");
    }
    (out.into_bytes(), samples)
}

/// Reads every entry; touches series bytes and values (the cached path).
fn run_entries(content_type: &str, body: &[u8]) -> usize {
    let mut p = parser_for(content_type, body).expect("known content type");
    let mut n = 0usize;
    while let Some(e) = p.next_entry().expect("the generated body is valid") {
        if let Entry::Sample(s) = e {
            n += s.series().len();
            black_box(s.value());
        }
    }
    n
}

/// Reads every entry and decodes every sample's labels (the uncached path).
fn run_labels(content_type: &str, body: &[u8], buf: &mut LabelBuf) -> usize {
    let mut p = parser_for(content_type, body).expect("known content type");
    let mut n = 0usize;
    while let Some(e) = p.next_entry().expect("the generated body is valid") {
        if let Entry::Sample(s) = e {
            s.labels(buf).expect("labels decode");
            n += buf.len();
            black_box(s.value());
        }
    }
    n
}

fn bench_parse(c: &mut Criterion) {
    let formats = [
        ("text", "text/plain; version=0.0.4; charset=utf-8", node_exporter_body(false)),
        (
            "openmetrics",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            node_exporter_body(true),
        ),
    ];
    for (name, _, (body, samples)) in &formats {
        println!("parse/{name}: body {} bytes, {samples} samples", body.len());
    }
    for unit in ["bytes", "samples"] {
        let mut group = c.benchmark_group(format!("parse_{unit}"));
        for (name, content_type, (body, samples)) in &formats {
            group.throughput(if unit == "bytes" {
                Throughput::Bytes(body.len() as u64)
            } else {
                Throughput::Elements(*samples as u64)
            });
            group.bench_function(format!("{name}/entries"), |b| {
                b.iter(|| run_entries(content_type, black_box(body)))
            });
            let mut buf = LabelBuf::new();
            group.bench_function(format!("{name}/entries+labels"), |b| {
                b.iter(|| run_labels(content_type, black_box(body), &mut buf))
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench_parse
}
criterion_main!(benches);
