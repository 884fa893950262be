//! The remote-write receiver against malformed and random bodies: every
//! one is a 400 with a message naming the problem, never a panic or a 5xx;
//! and a known series keeps being accepted after the receiver cached it.

mod common;

use std::time::Duration;

use common::{Server, enc, get, request};
use promethium_engine::db::{Db, DbOptions};
use promethium_server::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use promethium_server::remote::write::{Receiver, WriteError, encode};
use proptest::prelude::*;

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).expect("snappy compression in memory")
}

fn one_series(t_ms: i64) -> WriteRequest {
    WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label { name: "__name__".into(), value: "rw_test".into() },
                Label { name: "job".into(), value: "t".into() },
            ],
            samples: vec![Sample { value: 1.0, timestamp: t_ms }],
            exemplars: vec![],
        }],
        metadata: vec![],
    }
}

/// Malformed protobuf payloads and the words their error must contain.
fn malformed() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("truncated tag varint", vec![0x0a | 0x80], "truncated varint"),
        ("truncated length varint", vec![0x0a, 0x80, 0x80], "truncated varint"),
        ("varint too long", vec![0x08; 1].into_iter().chain([0xff; 11]).collect(), "varint"),
        ("length past the end", vec![0x0a, 0x7f, 0x00], "bytes but only"),
        ("series as a varint", vec![0x08, 0x01], "wire type 0, expected 2"),
        ("sample value as a varint", vec![0x0a, 0x04, 0x12, 0x02, 0x08, 0x01], "wire type 0"),
        ("label past its series", vec![0x0a, 0x03, 0x0a, 0x05, 0x0a], "bytes but only"),
        ("field number zero", vec![0x02, 0x00], "invalid field number 0"),
        ("a group", vec![0x0b, 0x0c], "unsupported wire type 3"),
        ("label name not UTF-8", vec![0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xc3], "not valid UTF-8"),
    ]
}

#[test]
fn malformed_bodies_are_bad_requests_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), DbOptions::default()).expect("open db");
    let rx = Receiver::new();
    for (what, raw, words) in malformed() {
        match rx.write(&db, &snappy(&raw)) {
            Err(WriteError::BadRequest(m)) => {
                assert!(m.starts_with("decoding protobuf: "), "{what}: {m}");
                assert!(m.contains(words), "{what}: {m:?} lacks {words:?}");
            }
            other => panic!("{what}: expected a bad request, got {other:?}"),
        }
    }
    // A snappy stream whose header promises more than it holds.
    let mut cut = snappy(&encode(&one_series(1000)));
    cut.truncate(cut.len() / 2);
    assert!(
        matches!(rx.write(&db, &cut), Err(WriteError::BadRequest(m)) if m.starts_with("snappy"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random protobuf bytes: an error or a success, never a panic, and
    /// never an internal error.
    #[test]
    fn random_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let storage = promethium_server::storage::MemBackend::new();
        let rx = Receiver::new();
        let r = rx.write(&storage, &snappy(&raw));
        prop_assert!(!matches!(r, Err(WriteError::Internal(_))), "{r:?}");
        // And as a (probably invalid) snappy stream.
        let r = rx.write(&storage, &raw);
        prop_assert!(!matches!(r, Err(WriteError::Internal(_))), "{r:?}");
    }

    /// A valid request with a few bytes flipped: same promise.
    #[test]
    fn corrupted_requests_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)
    ) {
        let mut raw = prost::Message::encode_to_vec(&one_series(5000));
        for (i, b) in flips {
            let at = i.index(raw.len());
            raw[at] ^= b;
        }
        let storage = promethium_server::storage::MemBackend::new();
        let r = Receiver::new().write(&storage, &snappy(&raw));
        prop_assert!(!matches!(r, Err(WriteError::Internal(_))), "{r:?}");
    }
}

#[test]
fn over_http_malformed_bodies_are_400_and_good_ones_204() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "global:\n  scrape_interval: 1h\n";
    let mut s = Server::start(dir.path(), config, &["--web.enable-remote-write-receiver"]);
    s.wait_ready(Duration::from_secs(60));
    let headers = [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    for (what, raw, words) in malformed() {
        let r = request(s.port, "POST", "/api/v1/write", &headers, &snappy(&raw)).expect("write");
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        assert!(r.text().contains(words), "{what}: {}", r.text());
    }
    // The same series twice (the second time from the cache), then out of order.
    for t in [now - 2000, now - 1000] {
        let r = request(s.port, "POST", "/api/v1/write", &headers, &encode(&one_series(t)))
            .expect("write");
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let r = request(s.port, "POST", "/api/v1/write", &headers, &encode(&one_series(now - 1500)))
        .expect("write");
    assert_eq!((r.status, r.text().trim()), (400, "out of order sample"));
    let v =
        get(s.port, &format!("/api/v1/query?query={}", enc("count_over_time(rw_test[1m])"))).json();
    assert_eq!(v["data"]["result"][0]["value"][1], "2", "{v}");
    // The refusal shows in the server's own metrics, as in Prometheus.
    let metrics = get(s.port, "/metrics").text();
    assert!(
        metrics.contains("prometheus_tsdb_out_of_order_samples_total{type=\"float\"} 1\n"),
        "{metrics}"
    );
}
