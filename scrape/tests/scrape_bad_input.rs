//! Bad input from a target fails that scrape and nothing else.
//!
//! Each case runs two targets in one job through the real manager and
//! loops: a healthy one, and one that first serves a good body, then the bad
//! input, then the good body again. The bad scrape must show a clear error
//! in the target state with `up` 0 and staleness markers for the target's
//! series; the healthy target must keep being scraped (`up` 1) throughout;
//! and the target must recover once the input is good again.

mod support;

use std::time::Duration;

use promethium_engine::model::{Labels, is_stale_nan};
use promethium_scrape::target::Health;
use support::{Reply, TestTarget, config, groups, manager, series, up, wait_for};

const GOOD: &str =
    "# TYPE good_metric gauge\ngood_metric{kind=\"a\"} 1\ngood_metric{kind=\"b\"} 2\n";
const WAIT: Duration = Duration::from_secs(10);

/// Runs one case; `expect` must appear in the bad target's last error.
async fn bad_input_case(job: &str, extra: &str, bad: Reply, expect: &str) {
    let healthy = TestTarget::start(Reply::text(GOOD)).await;
    let flaky = TestTarget::start(Reply::text(GOOD)).await;
    let (db, m) = manager();
    m.apply_config(&config(job, extra)).expect("config applies");
    m.sync(groups(job, &[healthy.address(), flaky.address()]));
    let flaky_addr = flaky.address();
    let healthy_addr = healthy.address();
    wait_for("first good scrape", WAIT, || up(&db, job, &flaky_addr).first() == Some(&1.0)).await;

    flaky.set(bad);
    wait_for("a failed scrape", WAIT, || up(&db, job, &flaky_addr).contains(&0.0)).await;
    let target =
        m.active_targets()[job].iter().find(|t| t.url().to_string().contains(&flaky_addr)).cloned();
    let target = target.expect("flaky target is active");
    let status = target.status();
    assert_eq!(status.health, Health::Down);
    assert!(
        status.last_error.contains(expect),
        "last error {:?} should mention {expect:?}",
        status.last_error
    );
    let good_a = Labels::new([
        ("__name__", "good_metric"),
        ("instance", &flaky_addr),
        ("job", job),
        ("kind", "a"),
    ]);
    let samples = series(&db, &good_a);
    let first_fail = samples.iter().position(|s| is_stale_nan(s.value));
    assert!(first_fail.is_some(), "the failed scrape marks the target's series stale: {samples:?}");
    assert!(
        samples.iter().all(|s| s.value == 1.0 || is_stale_nan(s.value)),
        "nothing of the bad body was stored: {samples:?}"
    );

    flaky.set(Reply::text(GOOD));
    wait_for("recovery", WAIT, || up(&db, job, &flaky_addr).last() == Some(&1.0)).await;
    assert_eq!(target.health(), Health::Up);
    assert!(target.status().last_error.is_empty());
    let healthy_up = up(&db, job, &healthy_addr);
    assert!(
        healthy_up.len() >= 2 && healthy_up.iter().all(|v| *v == 1.0),
        "healthy target unaffected: {healthy_up:?}"
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_body() {
    bad_input_case(
        "garbage",
        "",
        Reply::text("\u{1}\u{2} this is } not { an exposition\n"),
        "parsing",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_exposition() {
    bad_input_case(
        "truncated_text",
        "",
        Reply::text("good_metric{kind=\"a\"} 1\ngood_metric{kind=\"b"),
        "parsing",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_http_body() {
    let bad = Reply::Truncated { declared: 10_000, body: GOOD.as_bytes().to_vec() };
    bad_input_case("truncated_http", "", bad, "request to").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_size_limit() {
    let big = format!("{GOOD}{}", "padding_metric 1\n".repeat(200));
    bad_input_case("too_big", "    body_size_limit: 1KB\n", Reply::text(&big), "body size limit")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_body_over_size_limit() {
    let big = format!("{GOOD}{}", "padding_metric 1\n".repeat(200));
    let bad = Reply::Gzip { content_type: "text/plain; version=0.0.4", body: big.into_bytes() };
    bad_input_case("too_big_gzip", "    body_size_limit: 1KB\n", bad, "body size limit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout() {
    let bad = Reply::Slow { delay: Duration::from_millis(600), body: GOOD.as_bytes().to_vec() };
    bad_input_case("slow", "    scrape_timeout: 100ms\n", bad, "timed out").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_error_status() {
    bad_input_case("status", "", Reply::Status(503), "503").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_series() {
    let dup = format!("{GOOD}good_metric{{kind=\"a\"}} 5\n");
    bad_input_case("duplicates", "", Reply::text(&dup), "duplicate series").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_label_names() {
    let dup = format!("{GOOD}other{{x=\"1\",x=\"2\"}} 5\n");
    bad_input_case("duplicate_labels", "", Reply::text(&dup), "not unique").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_label_name_syntax() {
    let bad = format!("{GOOD}other{{1x=\"1\"}} 5\n");
    bad_input_case("invalid_label", "", Reply::text(&bad), "parsing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_label_name_under_legacy_scheme() {
    let bad = format!("{GOOD}{{\"other\",\"my.label\"=\"1\"}} 5\n");
    let extra = "    metric_name_validation_scheme: legacy\n";
    bad_input_case("legacy_names", extra, Reply::text(&bad), "invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_limit_exceeded() {
    let many = format!("{GOOD}extra_a 1\nextra_b 1\n");
    bad_input_case("limited", "    sample_limit: 3\n", Reply::text(&many), "sample limit exceeded")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_limit_exceeded() {
    let wide = format!("{GOOD}wide{{a=\"1\",b=\"2\",c=\"3\"}} 1\n");
    bad_input_case(
        "label_limited",
        "    label_limit: 5\n",
        Reply::text(&wide),
        "label_limit exceeded",
    )
    .await;
}
