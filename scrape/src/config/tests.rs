use super::*;
use crate::relabel::Action;

fn load(text: &str) -> Config {
    Config::load_str(text).unwrap_or_else(|e| panic!("config must load: {e}\n{text}"))
}

fn load_err(text: &str) -> ConfigError {
    match Config::load_str(text) {
        Ok(_) => panic!("expected an error for\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn empty_config_has_prometheus_defaults() {
    for text in ["", "# only a comment\n", "global:\n", "{}"] {
        let c = load(text);
        assert_eq!(c.global.scrape_interval, Duration::from_secs(60), "{text:?}");
        assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
        assert_eq!(c.global.evaluation_interval, Duration::from_secs(60));
        assert!(c.scrape_configs.is_empty());
        assert!(c.warnings().is_empty());
    }
}

#[test]
fn scrape_config_defaults_and_inheritance() {
    let c = load(
        "global:\n  scrape_interval: 15s\n  sample_limit: 100\n  body_size_limit: 10MB\n  external_labels: {dc: eu1}\n  extra_scrape_metrics: true\n\
         scrape_configs:\n  - job_name: node\n    static_configs: [{targets: ['localhost:9100']}]\n\
         \x20 - job_name: slow\n    scrape_interval: 5m\n    sample_limit: 5\n\
         \x20 - job_name: fast\n    scrape_interval: 5s\n",
    );
    let node = c.scrape_config("node").expect("node job");
    assert_eq!(node.scrape_interval, Duration::from_secs(15));
    assert_eq!(node.scrape_timeout, Duration::from_secs(10));
    assert_eq!(node.metrics_path, "/metrics");
    assert_eq!(node.scheme, Scheme::Http);
    assert!(!node.honor_labels);
    assert!(node.honor_timestamps);
    assert!(!node.track_timestamps_staleness);
    assert!(node.follow_redirects && node.enable_http2 && node.enable_compression);
    assert_eq!(node.sample_limit, 100);
    assert_eq!(node.body_size_limit, ByteSize(10 << 20));
    assert_eq!(node.scrape_protocols, DEFAULT_SCRAPE_PROTOCOLS.to_vec());
    assert_eq!(node.name_validation(), NameValidationScheme::Utf8);
    assert_eq!(node.metric_name_escaping_scheme, Some(EscapingScheme::AllowUtf8));
    assert_eq!(node.static_configs[0].targets, vec!["localhost:9100"]);
    assert_eq!(node.extra_scrape_metrics, Some(true), "inherited from global");
    let slow = c.scrape_config("slow").expect("slow job");
    assert_eq!(slow.scrape_interval, Duration::from_secs(300));
    assert_eq!(slow.sample_limit, 5);
    // The global timeout is capped at a shorter job interval.
    let fast = c.scrape_config("fast").expect("fast job");
    assert_eq!(fast.scrape_timeout, Duration::from_secs(5));
    assert_eq!(c.global.external_labels["dc"], "eu1");
}

#[test]
fn global_timeout_defaults_to_interval_when_shorter() {
    let c = load("global:\n  scrape_interval: 5s\n");
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(5));
    let e = load_err("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n");
    assert!(e.to_string().contains("global scrape timeout greater than scrape interval"), "{e}");
}

#[test]
fn every_scrape_config_field_parses() {
    let c = load(
        r#"
scrape_configs:
  - job_name: full
    scrape_interval: 30s
    scrape_timeout: 20s
    scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]
    fallback_scrape_protocol: PrometheusText0.0.4
    metrics_path: /probe
    scheme: https
    params: {module: [http_2xx], target: [a, b]}
    honor_labels: true
    honor_timestamps: false
    track_timestamps_staleness: true
    sample_limit: 1000
    label_limit: 30
    label_name_length_limit: 200
    label_value_length_limit: 2000
    target_limit: 50
    body_size_limit: 512KiB
    keep_dropped_targets: 10
    metric_name_validation_scheme: legacy
    enable_compression: false
    basic_auth: {username: u, password_file: /etc/pw}
    tls_config: {ca_file: /ca, cert_file: /c, key_file: /k, server_name: s, insecure_skip_verify: true, min_version: TLS13}
    proxy_url: http://proxy:8080
    follow_redirects: false
    enable_http2: false
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'go_.*', action: drop}
    static_configs:
      - targets: ['a:80']
        labels: {team: x}
    file_sd_configs:
      - files: [targets/*.json]
        refresh_interval: 1m
    kubernetes_sd_configs:
      - role: pod
        namespaces: {names: [default]}
"#,
    );
    let j = &c.scrape_configs[0];
    assert_eq!(j.scrape_interval, Duration::from_secs(30));
    assert_eq!(j.scrape_timeout, Duration::from_secs(20));
    assert_eq!(
        j.scrape_protocols,
        vec![ScrapeProtocol::PrometheusText0_0_4, ScrapeProtocol::OpenMetricsText1_0_0]
    );
    assert_eq!(j.fallback_scrape_protocol, Some(ScrapeProtocol::PrometheusText0_0_4));
    assert_eq!(j.metrics_path, "/probe");
    assert_eq!(j.scheme, Scheme::Https);
    assert_eq!(j.params["target"], vec!["a", "b"]);
    assert!(j.honor_labels && !j.honor_timestamps && j.track_timestamps_staleness);
    assert_eq!(
        (
            j.sample_limit,
            j.label_limit,
            j.label_name_length_limit,
            j.label_value_length_limit,
            j.target_limit
        ),
        (1000, 30, 200, 2000, 50)
    );
    assert_eq!(j.body_size_limit.bytes(), 512 * 1024);
    assert_eq!(j.keep_dropped_targets, 10);
    assert_eq!(j.name_validation(), NameValidationScheme::Legacy);
    assert_eq!(j.metric_name_escaping_scheme, Some(EscapingScheme::Underscores));
    assert!(!j.enable_compression && !j.follow_redirects && !j.enable_http2);
    let ba = j.basic_auth.as_ref().expect("basic auth");
    assert_eq!((ba.username.as_str(), ba.password_file.as_str()), ("u", "/etc/pw"));
    assert!(j.tls_config.insecure_skip_verify);
    assert_eq!(j.tls_config.min_version, Some(promethium_discovery::config::TlsVersion::Tls13));
    assert_eq!(j.proxy_url, "http://proxy:8080");
    assert_eq!(j.relabel_configs[0].target_label, "__param_target");
    assert_eq!(j.relabel_configs[0].name_validation, NameValidationScheme::Legacy);
    assert_eq!(j.metric_relabel_configs[0].action, Action::Drop);
    assert_eq!(j.static_configs[0].labels["team"], "x");
    assert_eq!(j.file_sd_configs[0].refresh_interval, Duration::from_secs(60));
    assert_eq!(j.kubernetes_sd_configs[0].namespaces.names, vec!["default"]);
    // Every configured mechanism either runs as a provider or is reported
    // (once per job) as not implemented.
    let (providers, unimplemented) = j.sd_config_set().providers();
    let names: Vec<String> = providers.into_iter().map(|(name, _)| name).collect();
    let k8s_missing = unimplemented.contains(&"kubernetes_sd_configs");
    let mut want = vec!["static_configs/0", "file_sd_configs/0"];
    if !k8s_missing {
        want.push("kubernetes_sd_configs/0");
    }
    assert_eq!(names, want);
    let warned = c.warnings().iter().any(|w| w.contains("kubernetes_sd_configs"));
    assert_eq!(warned, k8s_missing, "{:?}", c.warnings());
}

#[test]
fn bearer_token_is_folded_into_authorization() {
    let c = load("scrape_configs:\n  - job_name: a\n    bearer_token_file: /var/token\n");
    let a = c.scrape_configs[0].authorization.as_ref().expect("authorization");
    assert_eq!((a.auth_type.as_str(), a.credentials_file.as_str()), ("Bearer", "/var/token"));
    assert!(c.scrape_configs[0].bearer_token_file.is_empty());
    let c = load("scrape_configs:\n  - job_name: a\n    authorization: {credentials: s3cret}\n");
    let a = c.scrape_configs[0].authorization.as_ref().expect("authorization");
    assert_eq!(a.auth_type, "Bearer");
    assert_eq!(a.credentials.as_ref().map(Secret::expose), Some("s3cret"));
    assert!(!c.to_yaml().contains("s3cret"), "secrets are hidden when printed");
}

#[test]
fn unknown_fields_name_the_line_field_and_job() {
    let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: first\n  - job_name: second\n    \
                static_configs:\n      - targets: [a]\n    tls_config:\n      ca_fil: /x\n";
    let e = load_err(text);
    assert_eq!(e.line(), Some(9), "{e}");
    assert_eq!(e.job(), Some("second"));
    let msg = e.to_string();
    assert!(msg.contains("line 9"), "{msg}");
    assert!(msg.contains("\"second\""), "{msg}");
    assert!(msg.contains("tls_config: unknown field `ca_fil`"), "{msg}");

    let e = load_err(
        "scrape_configs:\n  - job_name: j\n    relabel_configs:\n      - action: keep\n        regexp: x\n",
    );
    assert_eq!(e.line(), Some(5), "{e}");
    assert!(e.to_string().contains("unknown field `regexp`"), "{e}");
    assert_eq!(e.job(), Some("j"));

    let e = load_err("global:\n  scrape_intervall: 1m\n");
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().contains("unknown field `scrape_intervall`"), "{e}");

    let e = load_err("scrape_config:\n  - job_name: x\n");
    assert!(e.to_string().contains("unknown field `scrape_config`"), "{e}");
}

#[test]
fn invalid_values_name_the_line_and_field() {
    let e = load_err("scrape_configs:\n  - job_name: j\n    scrape_interval: 1x\n");
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("scrape_interval: not a valid duration string"), "{e}");
    assert_eq!(e.job(), Some("j"));

    let e = load_err("scrape_configs:\n  - job_name: j\n    scheme: ftp\n");
    assert!(e.to_string().contains("scheme: unknown variant `ftp`"), "{e}");

    let e = load_err("scrape_configs:\n  - job_name: j\n    body_size_limit: 10 apples\n");
    assert!(e.to_string().contains("body_size_limit: invalid byte size"), "{e}");

    let e = load_err("scrape_configs:\n  - job_name: j\n    sample_limit: -1\n");
    assert!(e.to_string().contains("sample_limit"), "{e}");

    let e = load_err(
        "scrape_configs:\n  - job_name: j\n    relabel_configs:\n      - action: hashmod\n        target_label: x\n",
    );
    assert!(e.to_string().contains("requires non-zero modulus"), "{e}");
    assert_eq!(e.line(), Some(4));
}

#[test]
fn rule_violations_name_the_job_and_its_line() {
    let e = load_err(
        "scrape_configs:\n  - job_name: a\n  - job_name: 'b'\n    scrape_interval: 10s\n    scrape_timeout: 11s\n",
    );
    assert_eq!(e.job(), Some("b"));
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("scrape timeout greater than scrape interval"), "{e}");

    let e = load_err("scrape_configs:\n  - job_name: a\n  - job_name: a\n");
    assert!(e.to_string().contains("found multiple scrape configs with job name \"a\""), "{e}");

    let e = load_err("scrape_configs:\n  - job_name: ''\n");
    assert!(e.to_string().contains("job_name is empty"), "{e}");

    let e = load_err("scrape_configs:\n  - static_configs: []\n");
    assert!(e.to_string().contains("missing field `job_name`"), "{e}");

    let bad = [
        (
            "    scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]\n",
            "duplicated protocol",
        ),
        ("    scrape_protocols: [Text]\n", "unknown variant `Text`"),
        ("    basic_auth: {username: u}\n    bearer_token: t\n", "at most one of basic_auth"),
        ("    authorization: {type: Basic, credentials: x}\n", "use \"basic_auth\" instead"),
        ("    static_configs: [{targets: ['host/path']}]\n", "is not a valid hostname"),
        (
            "    static_configs: [{targets: [a]}]\n    relabel_configs: [null]\n",
            "empty or null target relabeling rule",
        ),
        ("    metric_relabel_configs:\n      -\n", "empty or null metric relabeling rule"),
        ("    static_configs:\n      -\n", "empty or null section in static_configs"),
        ("    file_sd_configs: [{files: [targets.txt]}]\n", "not valid for file discovery"),
        (
            "    kubernetes_sd_configs: [{role: pod, api_server: 'x', kubeconfig_file: y}]\n",
            "simultaneously",
        ),
        (
            "    metric_name_validation_scheme: legacy\n    relabel_configs: [{target_label: 'a.b'}]\n",
            "invalid 'target_label'",
        ),
        (
            "    metric_name_validation_scheme: legacy\n    metric_name_escaping_scheme: allow-utf-8\n",
            "allow-utf-8",
        ),
        ("    metrics_path: metrics\n", "must start with /"),
        ("    proxy_url: proxy:8080\n", "invalid proxy_url"),
    ];
    for (extra, want) in bad {
        let text = format!("scrape_configs:\n  - job_name: j\n{extra}");
        let e = load_err(&text);
        assert!(e.to_string().contains(want), "{extra}: {e}");
    }
}

#[test]
fn url_targets_are_allowed_when_relabeling_can_rewrite_them() {
    load(
        "scrape_configs:\n  - job_name: bb\n    static_configs: [{targets: ['https://x.example']}]\n    \
          relabel_configs: [{source_labels: [__address__], target_label: __param_target}]\n",
    );
}

#[test]
fn durations_and_sizes_use_prometheus_units() {
    let c = load("global:\n  scrape_interval: 1h30m\n  evaluation_interval: 1d\n");
    assert_eq!(c.global.scrape_interval, Duration::from_secs(5400));
    assert_eq!(c.global.evaluation_interval, Duration::from_secs(86400));
    for (s, bytes) in [
        ("0", 0),
        ("1B", 1),
        ("10KB", 10 << 10),
        ("10MB", 10 << 20),
        ("1GiB", 1 << 30),
        ("1GB512MB", 3 << 29),
    ] {
        assert_eq!(ByteSize::parse(s), Ok(ByteSize(bytes)), "{s}");
    }
    for s in ["", "10", "10mb", "MB", "1.5MB", "-1MB"] {
        assert!(ByteSize::parse(s).is_err(), "{s:?}");
    }
    assert_eq!(ByteSize(10 << 20).to_string(), "10MB");
}

#[test]
fn other_sections_are_kept_and_reported() {
    let c = load(
        r#"
rule_files: [rules/*.yml, /etc/alerts.yml]
alerting:
  alert_relabel_configs:
    - {regex: replica, action: labeldrop}
  alertmanagers:
    - static_configs: [{targets: ['am:9093']}]
      timeout: 5s
      path_prefix: /am
remote_write:
  - url: http://remote/write
    queue_config: {max_samples_per_send: 500}
remote_read:
  - url: http://remote/read
storage:
  tsdb:
    out_of_order_time_window: 30m
    retention: {time: 15d, size: 50GB}
  exemplars: {max_exemplars: 100000}
tracing: {endpoint: 'otel:4317'}
otlp: {promote_resource_attributes: [service.name]}
runtime: {gogc: 75}
"#,
    );
    assert_eq!(c.rule_files, vec!["rules/*.yml", "/etc/alerts.yml"]);
    let alerting = c.alerting.as_ref().expect("alerting");
    assert_eq!(alerting.alertmanagers[0].timeout, Duration::from_secs(5));
    assert_eq!(alerting.alertmanagers[0].path_prefix, "/am");
    assert_eq!(alerting.alert_relabel_configs[0].action, Action::LabelDrop);
    assert_eq!(c.remote_write.len(), 1);
    assert_eq!(c.retention_time(), Some(Duration::from_secs(15 * 86400)));
    assert_eq!(c.retention_size(), Some(ByteSize(50 << 30)));
    assert_eq!(c.out_of_order_time_window(), Duration::from_secs(1800));
    for section in ["remote_write", "remote_read", "tracing", "otlp", "runtime", "exemplars"] {
        assert!(c.warnings().iter().any(|w| w.contains(section)), "{section}: {:?}", c.warnings());
    }
    let e = load_err("remote_write:\n  - queue_config: {}\n");
    assert!(e.to_string().contains("url for remote_write is empty"), "{e}");
    let e =
        load_err("remote_write:\n  - {url: 'http://a', name: q}\n  - {url: 'http://b', name: q}\n");
    assert!(
        e.to_string().contains("found multiple remote write configs with job name \"q\""),
        "{e}"
    );
    let e = load_err("remote_read:\n  - null\n");
    assert!(e.to_string().contains("empty or null remote read config section"), "{e}");
    let e = load_err("tracing: {client_type: grpc}\n");
    assert!(e.to_string().contains("tracing endpoint must be set"), "{e}");
    let e = load_err("scrape_configs:\n  -\n");
    assert!(e.to_string().contains("empty or null scrape config section"), "{e}");
    let e = load_err("alerting:\n  alert_relabel_configs: [null]\n");
    assert!(e.to_string().contains("empty or null alert relabeling rule"), "{e}");
    let e = load_err("alerting:\n  alertmanagers:\n    - relabel_configs: [~]\n");
    assert!(e.to_string().contains("empty or null Alertmanager target relabeling rule"), "{e}");
    let e = load_err("rule_files: ['*/x.yml']\n");
    assert!(e.to_string().contains("invalid rule file path"), "{e}");
    let e = load_err("alerting:\n  alertmanagers:\n    - api_version: v1\n");
    assert!(e.to_string().contains("v1"), "{e}");
    let e = load_err("storage:\n  tsdb:\n    retention: {time: forever}\n");
    assert!(e.to_string().contains("retention.time"), "{e}");
}

#[test]
fn unsupported_discovery_is_accepted_with_a_warning() {
    let c = load(
        "scrape_configs:\n  - job_name: dns\n    dns_sd_configs:\n      - names: [_x._tcp.example]\n",
    );
    assert!(
        c.warnings().iter().any(|w| w.contains("dns_sd_configs") && w.contains("\"dns\"")),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn original_text_is_kept_and_effective_config_renders() {
    let text = "# my config\nscrape_configs:\n  - job_name: a\n";
    let c = load(text);
    assert_eq!(c.original, text);
    let rendered = c.to_yaml();
    assert!(rendered.contains("job_name: a"), "{rendered}");
    assert!(rendered.contains("scrape_interval: 1m"), "{rendered}");
    // The rendered config loads back to the same effective config.
    let again = load(&rendered);
    assert_eq!(again.scrape_configs, c.scrape_configs);
}

#[test]
fn scrape_config_files_and_relative_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("jobs")).expect("mkdir");
    std::fs::write(
        dir.path().join("jobs/extra.yml"),
        "scrape_configs:\n  - job_name: extra\n    file_sd_configs: [{files: [t/*.json]}]\n",
    )
    .expect("write");
    let main = dir.path().join("prometheus.yml");
    std::fs::write(
        &main,
        "scrape_config_files: [jobs/*.yml]\nscrape_configs:\n  - job_name: main\n    file_sd_configs: [{files: [sd/a.json]}]\n",
    )
    .expect("write");
    let c = Config::load_file(&main).expect("loads");
    let names: Vec<&str> = c.scrape_configs.iter().map(|s| s.job_name.as_str()).collect();
    assert_eq!(names, vec!["main", "extra"]);
    let main_files = &c.scrape_config("main").expect("main").file_sd_configs[0].files;
    assert_eq!(main_files[0], dir.path().join("sd/a.json").to_string_lossy());
    let extra_files = &c.scrape_config("extra").expect("extra").file_sd_configs[0].files;
    assert_eq!(extra_files[0], dir.path().join("jobs/t/*.json").to_string_lossy());

    // A duplicate across files is rejected; an error inside an included
    // file names that file.
    std::fs::write(dir.path().join("jobs/dup.yml"), "scrape_configs:\n  - job_name: main\n")
        .expect("write");
    let e = Config::load_file(&main).expect_err("duplicate");
    assert!(e.to_string().contains("found multiple scrape configs with job name \"main\""), "{e}");
    std::fs::write(
        dir.path().join("jobs/dup.yml"),
        "scrape_configs:\n  - job_name: other\n    foo: 1\n",
    )
    .expect("write");
    let e = Config::load_file(&main).expect_err("unknown field");
    assert!(e.to_string().contains("dup.yml"), "{e}");
    assert_eq!(e.line(), Some(3));

    let e = Config::load_file(dir.path().join("missing.yml")).expect_err("missing file");
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
}

#[test]
fn external_labels_expand_environment_variables_like_go() {
    let env = |name: &str| match name {
        "TEST" => Some("TestValue".to_owned()),
        "1" => Some("one".to_owned()),
        _ => None,
    };
    let cases = [
        ("foo${TEST}bar", "fooTestValuebar"),
        ("$TEST", "TestValue"),
        ("foo$$bar", "foo$bar"),
        ("foo$${TEST}", "foo${TEST}"),
        ("$UNSET-x", "-x"),
        ("a$", "a$"),
        ("a$-b", "ab"),
        ("a${}b", "ab"),
        ("a${b", "ab"),
        ("$1x", "onex"),
        ("${TEST}${TEST}", "TestValueTestValue"),
        ("no dollars", "no dollars"),
        ("a $ b", "a $ b"),
    ];
    for (input, want) in cases {
        assert_eq!(load::expand_env(input, env), want, "{input:?}");
    }
    let c = load("global:\n  external_labels: {plain: x, escaped: 'a$$b'}\n");
    assert_eq!(c.global.external_labels["plain"], "x");
    assert_eq!(c.global.external_labels["escaped"], "a$b");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const BASE: &str = include_str!("../../testdata/kitchen-sink.yml");

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Damaged configurations (lines dropped, duplicated or with a
        /// character replaced) load or fail with an error; never a panic.
        #[test]
        fn damaged_configs_never_panic(
            edits in prop::collection::vec((0usize..200, 0u8..3, prop::sample::select(vec![':', '-', ' ', '[', '{', '$', '0', 'x', '\t'])), 1..6),
        ) {
            let mut lines: Vec<String> = BASE.lines().map(str::to_owned).collect();
            for (at, kind, ch) in edits {
                let i = at % lines.len();
                match kind {
                    0 => { lines.remove(i); }
                    1 => { let l = lines[i].clone(); lines.insert(i, l); }
                    _ => {
                        let l = &mut lines[i];
                        if !l.is_empty() {
                            let pos = (at * 7) % l.len();
                            if l.is_char_boundary(pos) && l.is_char_boundary(pos + 1) {
                                l.replace_range(pos..pos + 1, &ch.to_string());
                            }
                        }
                    }
                }
                if lines.is_empty() { break; }
            }
            let text = lines.join("\n");
            if let Err(e) = Config::load_str(&text) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}
