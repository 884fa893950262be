use super::*;
use crate::config::Config;

fn job(extra: &str) -> ScrapeConfig {
    let text =
        format!("global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n{extra}");
    Config::load_str(&text).unwrap_or_else(|e| panic!("{e}")).scrape_configs.remove(0)
}

fn set(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect()
}

#[test]
fn defaults_come_from_the_job_and_meta_labels_are_dropped() {
    let cfg = job("    params: {module: [if_mib, x]}\n");
    let target = set(&[("__address__", "10.0.0.1:9100"), ("__meta_filepath", "/sd.json")]);
    let group = set(&[("env", "prod"), ("__address__", "ignored:1")]);
    let (labels, discovered) =
        populate_labels(&target, &group, &cfg).expect("valid").expect("kept");
    assert_eq!(
        pairs(&labels),
        [
            ("__address__", "10.0.0.1:9100"),
            ("__metrics_path__", "/metrics"),
            ("__param_module", "if_mib"),
            ("__scheme__", "http"),
            ("__scrape_interval__", "15s"),
            ("__scrape_timeout__", "10s"),
            ("env", "prod"),
            ("instance", "10.0.0.1:9100"),
            ("job", "node"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    // Discovered labels keep __meta_* and show the filled-in defaults.
    assert_eq!(discovered["__meta_filepath"], "/sd.json");
    assert_eq!(discovered["job"], "node");
    assert_eq!(
        discovered["__address__"], "10.0.0.1:9100",
        "the target's labels win over its group's"
    );
    assert_eq!(
        pairs(&public_labels(&labels)),
        [("env", "prod"), ("instance", "10.0.0.1:9100"), ("job", "node")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(target_interval(&labels), Some(Duration::from_secs(15)));
    assert_eq!(target_timeout(&labels), Some(Duration::from_secs(10)));
    assert_eq!(
        target_url(&labels, &cfg.params),
        "http://10.0.0.1:9100/metrics?module=if_mib&module=x"
    );
}

#[test]
fn discovered_labels_override_job_defaults() {
    let cfg = job("");
    let target = set(&[
        ("__address__", "h"),
        ("job", "custom"),
        ("__scheme__", "https"),
        ("instance", "me"),
    ]);
    let (labels, _) =
        populate_labels(&target, &LabelSet::new(), &cfg).expect("valid").expect("kept");
    assert_eq!(labels.get("job"), Some("custom"));
    assert_eq!(labels.get("instance"), Some("me"));
    // Prometheus 3 adds no default port.
    assert_eq!(target_url(&labels, &cfg.params), "https://h/metrics");
}

#[test]
fn relabeling_can_rewrite_every_reserved_label() {
    let cfg = job("    relabel_configs:\n\
         \x20     - {source_labels: [__meta_port], target_label: __address__, replacement: 'host:$1'}\n\
         \x20     - {target_label: __metrics_path__, replacement: /probe}\n\
         \x20     - {target_label: __scrape_interval__, replacement: 1m}\n\
         \x20     - {target_label: __scrape_timeout__, replacement: 30s}\n\
         \x20     - {source_labels: [__address__], target_label: __param_target}\n\
         \x20     - {source_labels: [__meta_name], target_label: instance}\n");
    let target =
        set(&[("__address__", "ignored:1"), ("__meta_port", "8080"), ("__meta_name", "web 1")]);
    let (labels, _) =
        populate_labels(&target, &LabelSet::new(), &cfg).expect("valid").expect("kept");
    assert_eq!(labels.get("__address__"), Some("host:8080"));
    assert_eq!(labels.get("instance"), Some("web 1"));
    assert_eq!(target_interval(&labels), Some(Duration::from_secs(60)));
    assert_eq!(target_timeout(&labels), Some(Duration::from_secs(30)));
    assert_eq!(target_url(&labels, &cfg.params), "http://host:8080/probe?target=host%3A8080");
    assert!(labels.iter().all(|l| !l.name.starts_with("__meta_")));
}

#[test]
fn dropped_targets_and_invalid_results() {
    let cfg = job(
        "    relabel_configs:\n      - {source_labels: [__meta_keep], regex: 'yes', action: keep}\n",
    );
    let no = set(&[("__address__", "a:1"), ("__meta_keep", "no")]);
    assert_eq!(populate_labels(&no, &LabelSet::new(), &cfg), Ok(None));
    let yes = set(&[("__address__", "a:1"), ("__meta_keep", "yes")]);
    assert!(populate_labels(&yes, &LabelSet::new(), &cfg).expect("valid").is_some());

    let plain = job("");
    let cases: Vec<(LabelSet, TargetError)> = vec![
        (set(&[("x", "y")]), TargetError::NoAddress),
        (set(&[("__address__", "")]), TargetError::NoAddress),
        (set(&[("__address__", "host/path")]), TargetError::InvalidAddress("host/path".into())),
        (
            set(&[("__address__", "a"), ("__scrape_interval__", "soon")]),
            TargetError::InvalidInterval("soon".into()),
        ),
        (set(&[("__address__", "a"), ("__scrape_interval__", "0s")]), TargetError::ZeroInterval),
        (
            set(&[("__address__", "a"), ("__scrape_timeout__", "1")]),
            TargetError::InvalidTimeout("1".into()),
        ),
        (set(&[("__address__", "a"), ("__scrape_timeout__", "0")]), TargetError::ZeroTimeout),
        (
            set(&[("__address__", "a"), ("__scrape_timeout__", "1m")]),
            TargetError::TimeoutOverInterval { timeout: "1m".into(), interval: "15s".into() },
        ),
    ];
    for (target, want) in cases {
        assert_eq!(
            populate_labels(&target, &LabelSet::new(), &plain),
            Err(want.clone()),
            "{target:?}"
        );
    }
    assert_eq!(
        TargetError::TimeoutOverInterval { timeout: "1m".into(), interval: "15s".into() }
            .to_string(),
        r#"scrape timeout cannot be greater than scrape interval ("1m" > "15s")"#
    );
}

#[test]
fn url_escaping_follows_go() {
    let labels = Labels::new([
        ("__address__", "[::1]:9090"),
        ("__scheme__", "http"),
        ("__metrics_path__", "/a b/c?d"),
        ("__param_q", "x y&z=ü"),
    ]);
    let params = [
        ("b".to_owned(), vec!["2".to_owned()]),
        ("a".to_owned(), vec!["1".to_owned(), "3".to_owned()]),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        target_url(&labels, &params),
        "http://[::1]:9090/a%20b/c%3Fd?a=1&a=3&b=2&q=x+y%26z%3D%C3%BC"
    );
}
