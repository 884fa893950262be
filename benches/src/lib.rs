//! Load generators shared by the benchmarks in `benches/`.
//!
//! [`NodeLoad`] produces a deterministic (seeded) scrape load shaped like
//! node_exporter: per target about 1,000 series, of which most are constant
//! between scrapes (info metrics, sizes, zero error counters, systemd unit
//! states), and the rest integer counters, 2- and 3-decimal counters (CPU
//! and disk seconds), byte gauges moving in 4 KiB pages, nanosecond-resolution
//! durations (`node_scrape_collector_duration_seconds`, GC quantiles), a wall
//! clock, and cumulative histogram buckets. The mix was checked against a
//! real node_exporter 1.5 on this machine (507 series over four scrapes: 70 %
//! unchanged, 15 % changing integers, 10 % 9-decimal durations, 2.5 %
//! 2-decimal counters, 2 % other floats).
//!
//! Values are produced the way an exposition parser produces them: an
//! integer mantissa over a power of ten, so `123.45` is exactly the `f64`
//! nearest to 123.45.
//!
//! Timestamps follow Prometheus' scrape loop: every target is scraped every
//! `interval_ms` at its own offset inside the interval; a scrape that starts
//! within 2 ms of its slot gets the slot's exact time (Prometheus'
//! `--scrape.timestamp-tolerance`), later ones keep their real time. See
//! [`Jitter`] for the distributions.

use std::time::Duration;

use promethium_engine::model::Labels;

/// CPU time used by this process so far (all threads).
///
/// The benchmarks time with this instead of the wall clock: the figures the
/// targets are stated in are per core ("samples per second on one core",
/// "per server CPU-second"), and the build machines are shared, so wall time
/// would mostly measure the neighbours.
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_PROCESS_CPUTIME_ID is always available on Linux");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` `iters` times and returns the CPU time it took (for criterion's
/// `iter_custom`).
pub fn cpu_timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = cpu_time();
    for _ in 0..iters {
        f();
    }
    cpu_time() - start
}

/// Deterministic pseudo-random numbers (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// How scrape start times deviate from their slots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    /// Every scrape exactly on its slot.
    None,
    /// Prometheus' default: the deviation is |N(0, sigma_ms)| with occasional
    /// long stalls; deviations under 2 ms are snapped to the slot.
    Aligned {
        /// Standard deviation of the scrape start delay, in milliseconds.
        sigma_ms: f64,
    },
    /// Like `Aligned` but without the 2 ms snapping (Prometheus with
    /// `--scrape.adjust-timestamps=false`, or other agents).
    Raw {
        /// Standard deviation of the scrape start delay, in milliseconds.
        sigma_ms: f64,
    },
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Never changes.
    Const,
    /// Increases by about `step` (in units of 10^-e) with probability `p`.
    Counter { step: i64, p: f64 },
    /// Random walk of `quantum`-sized steps, moving with probability `p`.
    Gauge { quantum: i64, max_steps: i64, p: f64 },
    /// A fresh random duration each scrape, around `scale` units of 10^-e.
    Duration { scale: i64 },
    /// Seconds since the epoch with nanosecond noise, as `node_time_seconds`.
    WallClock,
    /// A cumulative histogram bucket: `share` of `requests` land at or below it.
    Bucket { share: f64 },
}

#[derive(Debug, Clone)]
struct SeriesGen {
    kind: Kind,
    /// Decimal exponent: the value is `m / 10^e`.
    e: u32,
    m: i64,
    target: u32,
}

/// A deterministic node_exporter-like load over many targets.
pub struct NodeLoad {
    /// Every series' labels, grouped by target.
    pub labels: Vec<Labels>,
    series: Vec<SeriesGen>,
    /// Index of the first series of each target, plus the total at the end.
    target_start: Vec<usize>,
    target_offset_ms: Vec<i64>,
    rng: Rng,
    round: i64,
    /// Requests per scrape of each target's histogram, drawn per round.
    requests: Vec<i64>,
    /// Scrape interval.
    pub interval_ms: i64,
    /// Time of round 0's slot for offset 0.
    pub start_ms: i64,
    /// Scrape time jitter.
    pub jitter: Jitter,
}

const POW10: [f64; 10] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

impl NodeLoad {
    /// About `series` series (rounded up to whole targets of ~1,000), scraped
    /// every 15 s with Prometheus-aligned jitter, seeded with `seed`.
    pub fn new(series: usize, seed: u64) -> Self {
        Self::with_jitter(series, seed, Jitter::Aligned { sigma_ms: 1.0 })
    }

    /// Like [`NodeLoad::new`] with the given jitter.
    pub fn with_jitter(series: usize, seed: u64, jitter: Jitter) -> Self {
        let mut rng = Rng::new(seed);
        let mut load = NodeLoad {
            labels: Vec::new(),
            series: Vec::new(),
            target_start: Vec::new(),
            target_offset_ms: Vec::new(),
            rng: Rng::new(seed.wrapping_mul(31).wrapping_add(7)),
            round: 0,
            requests: Vec::new(),
            interval_ms: 15_000,
            start_ms: 1_767_225_600_000,
            jitter,
        };
        let mut target = 0u32;
        while load.series.len() < series {
            load.target_start.push(load.series.len());
            load.target_offset_ms.push(rng.below(15_000) as i64);
            load.add_target(target, &mut rng);
            target += 1;
        }
        load.target_start.push(load.series.len());
        load.requests = vec![0; target as usize];
        load
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether there are no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Number of targets.
    pub fn targets(&self) -> usize {
        self.target_offset_ms.len()
    }

    /// The series indices of target `t`.
    pub fn target_series(&self, t: usize) -> std::ops::Range<usize> {
        self.target_start[t]..self.target_start[t + 1]
    }

    /// Produces the next scrape of every target: `out[i]` is series `i`'s
    /// sample `(t_ms, value)`.
    pub fn next_round(&mut self, out: &mut Vec<(i64, f64)>) {
        out.clear();
        let round = self.round;
        self.round += 1;
        for r in &mut self.requests {
            *r = 20 + self.rng.below(40) as i64;
        }
        let mut times = Vec::with_capacity(self.targets());
        for t in 0..self.targets() {
            let slot = self.start_ms + round * self.interval_ms + self.target_offset_ms[t];
            times.push(slot + self.delay_ms());
        }
        for i in 0..self.series.len() {
            let target = self.series[i].target as usize;
            let t = times[target];
            let v = self.step(i, t, target);
            out.push((t, v));
        }
    }

    fn delay_ms(&mut self) -> i64 {
        let (sigma, snap) = match self.jitter {
            Jitter::None => return 0,
            Jitter::Aligned { sigma_ms } => (sigma_ms, true),
            Jitter::Raw { sigma_ms } => (sigma_ms, false),
        };
        // |N(0, sigma)| by Box-Muller, plus a rare stall of up to 200 ms.
        let (u1, u2) = (self.rng.unit().max(1e-12), self.rng.unit());
        let mut d = sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos().abs();
        if self.rng.chance(0.005) {
            d += self.rng.unit() * 200.0;
        }
        let d = d.round() as i64;
        if snap && d < 2 { 0 } else { d }
    }

    fn step(&mut self, i: usize, t_ms: i64, target: usize) -> f64 {
        let requests = self.requests[target];
        let rng = &mut self.rng;
        let s = &mut self.series[i];
        match s.kind {
            Kind::Const => {}
            Kind::Counter { step, p } => {
                if rng.chance(p) {
                    let spread = (step / 4).max(1);
                    s.m += (step - spread + rng.below(2 * spread as u64 + 1) as i64).max(0);
                }
            }
            Kind::Gauge { quantum, max_steps, p } => {
                if rng.chance(p) {
                    let k = rng.below(2 * max_steps as u64 + 1) as i64 - max_steps;
                    s.m = (s.m + k * quantum).max(0);
                }
            }
            Kind::Duration { scale } => s.m = scale / 4 + rng.below(2 * scale as u64) as i64,
            Kind::WallClock => {
                let secs = t_ms as f64 / 1000.0 + rng.below(5_000_000) as f64 * 1e-9;
                return secs;
            }
            Kind::Bucket { share } => {
                let hits = (requests as f64 * share) as i64;
                s.m += hits;
            }
        }
        s.m as f64 / POW10[s.e as usize]
    }

    fn push(&mut self, target: u32, labels: Labels, kind: Kind, e: u32, m: i64) {
        self.labels.push(labels);
        self.series.push(SeriesGen { kind, e, m, target });
    }

    /// Adds one target's ~1,000 series.
    fn add_target(&mut self, target: u32, rng: &mut Rng) {
        let instance = format!("host-{target:05}.example.org:9100");
        let lbl = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs =
                vec![("__name__", name), ("instance", instance.as_str()), ("job", "node")];
            pairs.extend_from_slice(extra);
            Labels::new(pairs)
        };
        let big = |rng: &mut Rng, max: u64| 1 + rng.below(max) as i64;

        let cpus: Vec<String> = (0..8).map(|c| c.to_string()).collect();
        for cpu in &cpus {
            for (mode, step, p) in [
                ("idle", 1350, 1.0),
                ("user", 90, 1.0),
                ("system", 40, 1.0),
                ("iowait", 3, 0.5),
                ("softirq", 2, 0.5),
                ("irq", 1, 0.05),
                ("steal", 1, 0.1),
                ("nice", 1, 0.02),
            ] {
                let l = lbl("node_cpu_seconds_total", &[("cpu", cpu), ("mode", mode)]);
                self.push(target, l, Kind::Counter { step, p }, 2, big(rng, 100_000_000));
            }
            for mode in ["nice", "user"] {
                self.push(
                    target,
                    lbl("node_cpu_guest_seconds_total", &[("cpu", cpu), ("mode", mode)]),
                    Kind::Const,
                    0,
                    0,
                );
            }
            let l = lbl("node_cpu_scaling_frequency_hertz", &[("cpu", cpu)]);
            self.push(
                target,
                l,
                Kind::Gauge { quantum: 100_000_000, max_steps: 3, p: 0.3 },
                0,
                2_000_000_000,
            );
        }
        let collectors = [
            "arp",
            "bcache",
            "bonding",
            "btrfs",
            "conntrack",
            "cpu",
            "cpufreq",
            "diskstats",
            "dmi",
            "edac",
            "entropy",
            "fibrechannel",
            "filefd",
            "filesystem",
            "hwmon",
            "infiniband",
            "ipvs",
            "loadavg",
            "mdadm",
            "meminfo",
            "netclass",
            "netdev",
            "netstat",
            "nfs",
            "nfsd",
            "nvme",
            "os",
            "powersupplyclass",
            "pressure",
            "rapl",
            "schedstat",
            "selinux",
            "sockstat",
            "softnet",
            "stat",
            "systemd",
            "tapestats",
            "textfile",
            "thermal_zone",
            "time",
            "timex",
            "udp_queues",
            "uname",
            "vmstat",
            "xfs",
            "zfs",
        ];
        for c in collectors {
            let scale = 10_000 + rng.below(400_000) as i64;
            self.push(
                target,
                lbl("node_scrape_collector_duration_seconds", &[("collector", c)]),
                Kind::Duration { scale },
                9,
                0,
            );
            self.push(
                target,
                lbl("node_scrape_collector_success", &[("collector", c)]),
                Kind::Const,
                0,
                1,
            );
        }
        for dev in ["eth0", "eth1", "lo", "docker0"] {
            for name in [
                "node_network_info",
                "node_network_up",
                "node_network_mtu_bytes",
                "node_network_flags",
                "node_network_iface_id",
                "node_network_iface_link",
                "node_network_iface_link_mode",
                "node_network_carrier_changes_total",
                "node_network_carrier_up_changes_total",
                "node_network_carrier_down_changes_total",
                "node_network_address_assign_type",
                "node_network_device_id",
                "node_network_net_dev_group",
                "node_network_transmit_queue_length",
            ] {
                self.push(target, lbl(name, &[("device", dev)]), Kind::Const, 0, big(rng, 1500));
            }
            for dir in ["receive", "transmit"] {
                for (what, step, p) in [
                    ("bytes", 400_000, 1.0),
                    ("packets", 600, 1.0),
                    ("errs", 1, 0.001),
                    ("drop", 1, 0.01),
                    ("fifo", 1, 0.0),
                    ("compressed", 1, 0.0),
                    ("multicast", 2, 0.2),
                    ("frame", 1, 0.0),
                ] {
                    let name = format!("node_network_{dir}_{what}_total");
                    let kind = if p == 0.0 { Kind::Const } else { Kind::Counter { step, p } };
                    self.push(target, lbl(&name, &[("device", dev)]), kind, 0, big(rng, 1 << 36));
                }
            }
        }
        for dev in ["nvme0n1", "sda", "sdb"] {
            for (name, e, step, p) in [
                ("node_disk_reads_completed_total", 0, 120, 0.95),
                ("node_disk_writes_completed_total", 0, 300, 0.98),
                ("node_disk_read_bytes_total", 0, 4_000_000, 0.95),
                ("node_disk_written_bytes_total", 0, 9_000_000, 0.98),
                ("node_disk_reads_merged_total", 0, 10, 0.6),
                ("node_disk_writes_merged_total", 0, 60, 0.9),
                ("node_disk_io_time_seconds_total", 3, 900, 0.98),
                ("node_disk_io_time_weighted_seconds_total", 3, 3000, 0.98),
                ("node_disk_read_time_seconds_total", 3, 400, 0.95),
                ("node_disk_write_time_seconds_total", 3, 700, 0.98),
                ("node_disk_discards_completed_total", 0, 10, 0.2),
                ("node_disk_discards_merged_total", 0, 1, 0.05),
                ("node_disk_discarded_sectors_total", 0, 5000, 0.2),
                ("node_disk_discard_time_seconds_total", 3, 20, 0.2),
                ("node_disk_flush_requests_total", 0, 20, 0.5),
                ("node_disk_flush_requests_time_seconds_total", 3, 10, 0.5),
                ("node_disk_io_now", 0, 0, 0.0),
            ] {
                let kind = if p == 0.0 { Kind::Const } else { Kind::Counter { step, p } };
                self.push(target, lbl(name, &[("device", dev)]), kind, e, big(rng, 1 << 34));
            }
        }
        for (i, mount) in ["/", "/boot", "/home", "/var", "/run", "/run/lock", "/dev/shm", "/data"]
            .iter()
            .enumerate()
        {
            let dev = format!("/dev/vda{i}");
            let extra = [("device", dev.as_str()), ("fstype", "ext4"), ("mountpoint", mount)];
            let size = (1 + rng.below(500)) as i64 * (1 << 30);
            self.push(target, lbl("node_filesystem_size_bytes", &extra), Kind::Const, 0, size);
            for name in ["node_filesystem_avail_bytes", "node_filesystem_free_bytes"] {
                let kind = Kind::Gauge { quantum: 4096, max_steps: 2000, p: 0.7 };
                self.push(target, lbl(name, &extra), kind, 0, size / 2);
            }
            self.push(target, lbl("node_filesystem_files", &extra), Kind::Const, 0, 1 << 22);
            let kind = Kind::Gauge { quantum: 1, max_steps: 50, p: 0.5 };
            self.push(target, lbl("node_filesystem_files_free", &extra), kind, 0, 1 << 21);
            self.push(target, lbl("node_filesystem_readonly", &extra), Kind::Const, 0, 0);
            self.push(target, lbl("node_filesystem_device_error", &extra), Kind::Const, 0, 0);
        }
        for i in 0..50 {
            let name = format!("node_memory_M{i:02}_bytes");
            let kind = if i < 30 {
                Kind::Gauge { quantum: 4096, max_steps: 5000, p: 0.9 }
            } else {
                Kind::Const
            };
            self.push(target, lbl(&name, &[]), kind, 0, big(rng, 1 << 34) & !4095);
        }
        for i in 0..40 {
            let kind = if i < 20 {
                Kind::Counter { step: 1 + rng.below(50_000) as i64, p: 0.9 }
            } else {
                Kind::Const
            };
            self.push(
                target,
                lbl(&format!("node_vmstat_v{i:02}"), &[]),
                kind,
                0,
                big(rng, 1 << 30),
            );
        }
        for i in 0..80 {
            let kind = if i < 20 {
                Kind::Counter { step: 1 + rng.below(2_000) as i64, p: 0.8 }
            } else {
                Kind::Const
            };
            self.push(
                target,
                lbl(&format!("node_netstat_n{i:02}"), &[]),
                kind,
                0,
                big(rng, 1 << 28),
            );
        }
        for cpu in &cpus {
            for irq in 0..12 {
                let ty = format!("irq{irq}");
                // A few busy interrupt lines, the rest idle.
                let kind = if irq < 3 {
                    Kind::Counter { step: 1 + rng.below(3_000) as i64, p: 0.95 }
                } else {
                    Kind::Const
                };
                self.push(
                    target,
                    lbl("node_interrupts_total", &[("cpu", cpu), ("type", &ty)]),
                    kind,
                    0,
                    big(rng, 1 << 26),
                );
            }
            for (name, kind) in [
                ("node_softnet_processed_total", Kind::Counter { step: 300, p: 0.9 }),
                ("node_softnet_dropped_total", Kind::Const),
                ("node_softnet_times_squeezed_total", Kind::Const),
            ] {
                self.push(target, lbl(name, &[("cpu", cpu)]), kind, 0, big(rng, 1 << 20));
            }
            for name in
                ["node_schedstat_running_seconds_total", "node_schedstat_waiting_seconds_total"]
            {
                let kind = Kind::Counter { step: 2_000_000_000, p: 1.0 };
                self.push(target, lbl(name, &[("cpu", cpu)]), kind, 9, big(rng, 1 << 50));
            }
            let kind = Kind::Counter { step: 4_000, p: 1.0 };
            self.push(
                target,
                lbl("node_schedstat_timeslices_total", &[("cpu", cpu)]),
                kind,
                0,
                big(rng, 1 << 30),
            );
        }
        for name in
            ["node_pressure_cpu_waiting_seconds_total", "node_pressure_io_stalled_seconds_total"]
        {
            self.push(
                target,
                lbl(name, &[]),
                Kind::Counter { step: 300_000, p: 1.0 },
                6,
                big(rng, 1 << 32),
            );
        }
        for name in ["node_load1", "node_load5", "node_load15"] {
            self.push(
                target,
                lbl(name, &[]),
                Kind::Gauge { quantum: 1, max_steps: 20, p: 0.9 },
                2,
                150,
            );
        }
        self.push(target, lbl("node_time_seconds", &[]), Kind::WallClock, 0, 0);
        self.push(target, lbl("node_boot_time_seconds", &[]), Kind::Const, 0, 1_767_000_000);
        for (name, kind) in [
            ("node_context_switches_total", Kind::Counter { step: 60_000, p: 1.0 }),
            ("node_intr_total", Kind::Counter { step: 40_000, p: 1.0 }),
            ("node_forks_total", Kind::Counter { step: 300, p: 1.0 }),
            ("node_procs_running", Kind::Gauge { quantum: 1, max_steps: 3, p: 0.6 }),
            ("node_procs_blocked", Kind::Gauge { quantum: 1, max_steps: 1, p: 0.1 }),
            ("node_filefd_allocated", Kind::Gauge { quantum: 1, max_steps: 40, p: 0.8 }),
            ("node_entropy_available_bits", Kind::Const),
            ("node_sockstat_sockets_used", Kind::Gauge { quantum: 1, max_steps: 4, p: 0.7 }),
        ] {
            self.push(target, lbl(name, &[]), kind, 0, big(rng, 100_000));
        }
        for i in 0..12 {
            let chip = format!("chip{}", i / 4);
            let sensor = format!("temp{}", i % 4);
            let kind = Kind::Gauge { quantum: 1000, max_steps: 1, p: 0.2 };
            self.push(
                target,
                lbl("node_hwmon_temp_celsius", &[("chip", &chip), ("sensor", &sensor)]),
                kind,
                3,
                45_000,
            );
        }
        for q in ["0", "0.25", "0.5", "0.75", "1"] {
            let l = lbl("go_gc_duration_seconds", &[("quantile", q)]);
            self.push(target, l, Kind::Duration { scale: 40_000 }, 9, 0);
        }
        for i in 0..25 {
            let kind = if i < 15 {
                Kind::Gauge { quantum: 8, max_steps: 50_000, p: 0.9 }
            } else {
                Kind::Const
            };
            self.push(
                target,
                lbl(&format!("go_memstats_m{i:02}"), &[]),
                kind,
                0,
                big(rng, 1 << 26),
            );
        }
        self.push(
            target,
            lbl("go_goroutines", &[]),
            Kind::Gauge { quantum: 1, max_steps: 1, p: 0.1 },
            0,
            8,
        );
        self.push(
            target,
            lbl("process_cpu_seconds_total", &[]),
            Kind::Counter { step: 2, p: 0.8 },
            2,
            1000,
        );
        self.push(
            target,
            lbl("process_resident_memory_bytes", &[]),
            Kind::Gauge { quantum: 4096, max_steps: 100, p: 0.9 },
            0,
            1 << 24,
        );
        self.push(
            target,
            lbl("process_open_fds", &[]),
            Kind::Gauge { quantum: 1, max_steps: 1, p: 0.1 },
            0,
            10,
        );
        for name in [
            "process_max_fds",
            "process_start_time_seconds",
            "process_virtual_memory_max_bytes",
            "go_info",
        ] {
            self.push(target, lbl(name, &[]), Kind::Const, 0, big(rng, 1 << 30));
        }
        for code in ["200", "500", "503"] {
            let kind = if code == "200" { Kind::Counter { step: 1, p: 1.0 } } else { Kind::Const };
            self.push(
                target,
                lbl("promhttp_metric_handler_requests_total", &[("code", code)]),
                kind,
                0,
                100,
            );
        }
        // A classic histogram: 4 handlers x 10 buckets, plus _sum and _count.
        let les = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
        let shares = [0.05, 0.2, 0.5, 0.75, 0.9, 0.97, 0.99, 0.997, 0.999, 1.0];
        for handler in ["/api/v1/query", "/api/v1/query_range", "/metrics", "/-/ready"] {
            for (le, share) in les.iter().zip(shares) {
                let l = lbl(
                    "http_request_duration_seconds_bucket",
                    &[("handler", handler), ("le", le)],
                );
                self.push(target, l, Kind::Bucket { share }, 0, 0);
            }
            let l = lbl("http_request_duration_seconds_sum", &[("handler", handler)]);
            self.push(target, l, Kind::Counter { step: 500_000_000, p: 1.0 }, 9, 0);
            self.push(
                target,
                lbl("http_request_duration_seconds_count", &[("handler", handler)]),
                Kind::Bucket { share: 1.0 },
                0,
                0,
            );
        }
        // Systemd unit states: many series, one of five states set to 1.
        for unit in 0..30 {
            let name = format!("unit{unit:02}.service");
            for state in ["activating", "active", "deactivating", "failed", "inactive"] {
                let v = i64::from(state == "active");
                self.push(
                    target,
                    lbl("node_systemd_unit_state", &[("name", &name), ("state", state)]),
                    Kind::Const,
                    0,
                    v,
                );
            }
        }
        for name in [
            "node_uname_info",
            "node_os_info",
            "node_dmi_info",
            "node_textfile_scrape_error",
            "node_exporter_build_info",
        ] {
            self.push(target, lbl(name, &[]), Kind::Const, 0, 1);
        }
    }
}

/// `n` consecutive samples of every series: `out[i]` is series `i`'s samples.
pub fn series_samples(load: &mut NodeLoad, rounds: usize) -> Vec<Vec<(i64, f64)>> {
    let mut out: Vec<Vec<(i64, f64)>> =
        (0..load.len()).map(|_| Vec::with_capacity(rounds)).collect();
    let mut round = Vec::new();
    for _ in 0..rounds {
        load.next_round(&mut round);
        for (i, s) in round.iter().enumerate() {
            out[i].push(*s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_is_deterministic_and_shaped_like_node_exporter() {
        let mut a = NodeLoad::new(5_000, 42);
        let mut b = NodeLoad::new(5_000, 42);
        assert!(a.len() >= 5_000 && a.len() < 6_500, "{}", a.len());
        let per_target = a.target_series(0).len();
        assert!((900..=1_200).contains(&per_target), "{per_target} series per target");
        let (mut ra, mut rb) = (Vec::new(), Vec::new());
        let mut first = Vec::new();
        a.next_round(&mut first);
        for _ in 0..3 {
            a.next_round(&mut ra);
            b.next_round(&mut rb);
        }
        b.next_round(&mut rb);
        assert_eq!(
            ra.iter().map(|s| (s.0, s.1.to_bits())).collect::<Vec<_>>(),
            rb.iter().map(|s| (s.0, s.1.to_bits())).collect::<Vec<_>>()
        );
        let unchanged = first.iter().zip(&ra).filter(|(x, y)| x.1 == y.1).count();
        let share = unchanged as f64 / first.len() as f64;
        assert!((0.5..0.8).contains(&share), "{share} of series unchanged");
    }
}
