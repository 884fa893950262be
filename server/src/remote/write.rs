//! `POST /api/v1/write`: decodes a snappy-compressed `WriteRequest` and
//! appends it through the storage's `Appender` as one batch.
//!
//! The request is walked in place ([`wire`]) rather than decoded into an
//! owned model, and a series whose exact label bytes were seen before is
//! appended by its cached reference ([`SeriesCache`]) without validating or
//! building its labels again. The whole request is decoded first
//! ([`Batch`]) so the cache is asked for all its series in one pass, a lock
//! per shard rather than per series; see
//! `docs/decisions/2026-12-05-remote-write-decode.md`.
//!
//! Status codes follow Prometheus, because senders retry on 5xx and drop
//! the batch on 4xx: a body that does not decode, a duplicate label name,
//! and out-of-order, out-of-bounds or duplicate samples are permanent (400,
//! the batch is rolled back; so are label names or values that are not
//! UTF-8 and empty label names); a failed commit is retryable (500). Series
//! without a metric name are skipped, as Prometheus skips them.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use hyper::header;
use hyper::{Request, StatusCode};
use promethium_engine::model::{Labels, SeriesRef};
use promethium_engine::{AppendError, Appendable, Appender};
use prost::Message;

use super::batch::Batch;
use super::proto::WriteRequest;
use super::series_cache::SeriesCache;
use super::wire;
use crate::http::{ReqBody, Resp, read_body, text};
use crate::state::AppState;

/// Largest compressed body accepted.
const MAX_COMPRESSED_BYTES: usize = 32 << 20;
/// Largest decompressed body accepted.
const MAX_DECOMPRESSED_BYTES: usize = 256 << 20;

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The request is malformed or its samples are unacceptable: 400.
    #[error("{0}")]
    BadRequest(String),
    /// Storing failed in a way a retry may fix: 500.
    #[error("{0}")]
    Internal(String),
}

/// Handles one remote-write request.
pub async fn handle<B: ReqBody>(state: &Arc<AppState>, req: Request<B>) -> Resp {
    if !state.flags.enable_remote_write_receiver {
        return text(
            StatusCode::NOT_FOUND,
            "remote write receiver needs to be enabled with --web.enable-remote-write-receiver\n",
        );
    }
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
        && ct.contains("proto=io.prometheus.write.v2.Request")
    {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "remote write 2.0 is not supported yet; send remote write 1.0 (prometheus.WriteRequest)\n",
        );
    }
    let Some(storage) = state.storage().cloned() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n");
    };
    let body = match read_body(req.into_body(), MAX_COMPRESSED_BYTES).await {
        Ok(b) => b,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let state_for_write = Arc::clone(state);
    let result =
        tokio::task::spawn_blocking(move || state_for_write.remote_write.write(&*storage, &body))
            .await;
    match result {
        Ok(Ok((accepted, skipped))) => {
            state.telemetry.remote_write(accepted, skipped);
            let mut r = text(StatusCode::NO_CONTENT, "");
            r.headers_mut().remove(header::CONTENT_TYPE);
            r
        }
        Ok(Err(WriteError::BadRequest(e))) => {
            state.telemetry.remote_write(0, 1);
            tracing::warn!(error = %e, "remote write request rejected");
            text(StatusCode::BAD_REQUEST, format!("{e}\n"))
        }
        Ok(Err(WriteError::Internal(e))) => {
            tracing::error!(error = %e, "error appending remote write");
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))
        }
        Err(e) => {
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("remote write handler failed: {e}\n"))
        }
    }
}

/// Decompressed bytes kept between requests on the same thread (the
/// blocking pool reuses its threads), so a request neither allocates nor
/// zero-fills its snappy output once the buffer has grown to the usual
/// request size.
#[derive(Default)]
struct Scratch {
    raw: Vec<u8>,
    batch: Batch,
    refs: Vec<Option<SeriesRef>>,
    order: Vec<u32>,
}

/// A buffer grown past this by an unusually large request is dropped
/// afterwards rather than kept by the thread.
const RETAINED_BYTES: usize = 8 << 20;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Decompresses `body` into `out`, which keeps its allocation.
fn decompress<'o>(body: &[u8], out: &'o mut Vec<u8>) -> Result<&'o [u8], WriteError> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| WriteError::BadRequest(format!("snappy: {e}")))?;
    if len > MAX_DECOMPRESSED_BYTES {
        return Err(WriteError::BadRequest(format!(
            "decompressed body of {len} bytes exceeds the limit of {MAX_DECOMPRESSED_BYTES}"
        )));
    }
    if out.len() < len {
        out.resize(len, 0);
    }
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut out[..len])
        .map_err(|e| WriteError::BadRequest(format!("snappy: {e}")))?;
    Ok(&out[..n])
}

/// Runs `f` on the decompressed and decoded body with this thread's
/// scratch (the lookup vectors included).
fn with_decoded<T>(
    body: &[u8],
    f: impl FnOnce(&[u8], &Batch, &mut Lookup) -> Result<T, WriteError>,
) -> Result<T, WriteError> {
    SCRATCH.with_borrow_mut(|scratch| {
        let Scratch { raw, batch, refs, order } = scratch;
        let result = decompress(body, raw).and_then(|bytes| {
            batch.decode(bytes)?;
            f(bytes, batch, &mut Lookup { refs, order })
        });
        if raw.capacity() > RETAINED_BYTES {
            *raw = Vec::new();
        }
        result
    })
}

/// Decodes a compressed request without storing it; returns its series and
/// samples. Checks what [`Receiver::write`] checks except label validity
/// (for benchmarks and tools).
pub fn scan(body: &[u8]) -> Result<(u64, u64), WriteError> {
    with_decoded(body, |_, batch, _| Ok((batch.len() as u64, batch.sample_count() as u64)))
}

/// Scratch for the cache lookup of a request's series.
struct Lookup<'a> {
    refs: &'a mut Vec<Option<SeriesRef>>,
    order: &'a mut Vec<u32>,
}

impl From<wire::DecodeError> for WriteError {
    fn from(e: wire::DecodeError) -> Self {
        WriteError::BadRequest(format!("decoding protobuf: {e}"))
    }
}

/// The remote-write receiver of one storage: holds the series cache, so
/// there is one per storage (a reference means nothing to another).
#[derive(Default)]
pub struct Receiver {
    cache: SeriesCache,
}

/// Samples accepted and skipped so far in a request.
#[derive(Default)]
struct Counts {
    accepted: u64,
    skipped: u64,
}

impl Receiver {
    /// A receiver with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Series in the cache.
    pub fn cached_series(&self) -> usize {
        self.cache.len()
    }

    /// Appends a compressed request as one batch. Returns samples accepted
    /// and samples skipped (series without a metric name).
    pub fn write<S: Appendable + ?Sized>(
        &self,
        storage: &S,
        body: &[u8],
    ) -> Result<(u64, u64), WriteError> {
        with_decoded(body, |raw, batch, lookup| {
            self.cache.get_many(batch.keys(), lookup.refs, lookup.order);
            let mut app = storage.appender();
            app.reserve(batch.sample_count());
            let no_labels = Labels::empty();
            let mut counts = Counts::default();
            let appended = (0..batch.len()).try_for_each(|i| {
                let (key, cached) = (batch.keys()[i], lookup.refs[i]);
                self.append_series(
                    &mut *app,
                    raw,
                    &batch.series(i),
                    key,
                    cached,
                    &no_labels,
                    &mut counts,
                )
            });
            match appended {
                Ok(()) => {
                    app.commit().map_err(|e| WriteError::Internal(e.to_string()))?;
                    Ok((counts.accepted, counts.skipped))
                }
                Err(e) => {
                    app.rollback();
                    Err(e)
                }
            }
        })
    }

    /// Appends one series' samples: by `cached` reference (what the cache
    /// held for `key` when the request arrived) when the exact label bytes
    /// were seen before, else by validated labels.
    #[allow(clippy::too_many_arguments)]
    fn append_series(
        &self,
        app: &mut (dyn Appender + '_),
        raw: &[u8],
        s: &wire::Series<'_>,
        key: u128,
        cached: Option<SeriesRef>,
        no_labels: &Labels,
        counts: &mut Counts,
    ) -> Result<(), WriteError> {
        if let Some(cached) = cached {
            let Some(first) = s.samples.first() else { return Ok(()) };
            // A reference with no labels is trusted while the series is
            // live; once the head has dropped it the storage has no labels
            // to recreate it from and says so with `EmptyLabels`.
            match app.append(Some(cached), no_labels, first.t_ms, first.value) {
                Ok(r) => {
                    counts.accepted += 1;
                    for x in &s.samples[1..] {
                        app.append(Some(r), no_labels, x.t_ms, x.value)
                            .map_err(|e| append_error(e, raw, s, x.t_ms))?;
                        counts.accepted += 1;
                    }
                    return Ok(());
                }
                Err(AppendError::EmptyLabels) => self.cache.remove(key),
                Err(e) => return Err(append_error(e, raw, s, first.t_ms)),
            }
        }
        let labels = validated_labels(raw, s.label_fields)?;
        if labels.metric_name().is_none_or(str::is_empty) {
            counts.skipped += s.samples.len() as u64;
            return Ok(());
        }
        let mut series_ref = None;
        for x in s.samples {
            let r = app
                .append(series_ref, &labels, x.t_ms, x.value)
                .map_err(|e| append_error(e, raw, s, x.t_ms))?;
            if series_ref.is_none() {
                self.cache.insert(key, r);
            }
            series_ref = Some(r);
            counts.accepted += 1;
        }
        Ok(())
    }
}

/// A series' labels, checked as a new series is: UTF-8, no empty and no
/// repeated label name. Sorted and without empty values, as `Labels` are.
fn validated_labels(raw: &[u8], fields: &[Range<usize>]) -> Result<Labels, WriteError> {
    let mut pairs = Vec::with_capacity(fields.len());
    for f in fields {
        let (name, value) = wire::label_text(raw, f.clone())?;
        if name.is_empty() {
            return Err(WriteError::BadRequest(
                "invalid labels for series: empty label name".to_owned(),
            ));
        }
        pairs.push((name, value));
    }
    Labels::try_from_pairs(pairs).map_err(|dup| {
        WriteError::BadRequest(format!("invalid labels for series: duplicate label name {}", dup.0))
    })
}

/// The series' labels for a log line, however malformed.
fn describe(raw: &[u8], s: &wire::Series<'_>) -> String {
    let mut out = String::from("{");
    for (i, f) in s.label_fields.iter().enumerate() {
        let Ok((n, v)) = wire::label_payload(raw, f.clone()).and_then(|p| wire::label(raw, p))
        else {
            continue;
        };
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&String::from_utf8_lossy(&raw[n]));
        out.push_str("=\"");
        out.push_str(&String::from_utf8_lossy(&raw[v]));
        out.push('"');
    }
    out.push('}');
    out
}

/// Maps a refused sample to the status Prometheus gives it.
#[cold]
fn append_error(e: AppendError, raw: &[u8], s: &wire::Series<'_>, t_ms: i64) -> WriteError {
    match e {
        AppendError::OutOfOrder | AppendError::OutOfBounds | AppendError::DuplicateTimestamp => {
            tracing::error!(series = %describe(raw, s), timestamp = t_ms, error = %e, "out of order sample from remote write");
            WriteError::BadRequest(e.to_string())
        }
        AppendError::EmptyLabels | AppendError::DuplicateLabelName(_) => {
            WriteError::BadRequest(e.to_string())
        }
        e => WriteError::Internal(e.to_string()),
    }
}

/// Decompresses and decodes a request into prost's owned model, as the
/// receiver did before it walked requests in place: the baseline the
/// benchmarks measure the in-place path against.
pub fn decode_owned(body: &[u8]) -> Result<WriteRequest, WriteError> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| WriteError::BadRequest(format!("snappy: {e}")))?;
    WriteRequest::decode(raw.as_slice())
        .map_err(|e| WriteError::BadRequest(format!("decoding protobuf: {e}")))
}

/// Encodes a request as a sender would (for tests and tools).
pub fn encode(req: &WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compression of an in-memory buffer cannot fail")
}

#[cfg(test)]
mod tests {
    use super::super::proto::{Label, Sample, TimeSeries};
    use super::*;
    use crate::storage::MemBackend;
    use promethium_engine::Queryable;
    use promethium_engine::db::{Db, DbOptions};
    use promethium_engine::model::Matcher;

    fn series(name: &str, samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: vec![
                Label { name: "job".into(), value: "rw".into() },
                Label { name: "__name__".into(), value: name.into() },
            ],
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            exemplars: vec![],
        }
    }

    fn body(timeseries: Vec<TimeSeries>) -> Vec<u8> {
        encode(&WriteRequest { timeseries, metadata: vec![] })
    }

    fn bad_request(r: Result<(u64, u64), WriteError>) -> String {
        match r {
            Err(WriteError::BadRequest(m)) => m,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    fn count(storage: &dyn Queryable, name: &str) -> usize {
        let q = storage.querier(0, i64::MAX).unwrap();
        q.select(&[Matcher::equal("__name__", name)], None).unwrap().len()
    }

    #[test]
    fn appends_and_queries_back() {
        let storage = MemBackend::new();
        let req = WriteRequest {
            timeseries: vec![series("a", &[(1000, 1.0), (2000, 2.0)]), series("b", &[(1000, 5.0)])],
            metadata: vec![],
        };
        let (accepted, skipped) = Receiver::new().write(&storage, &encode(&req)).unwrap();
        assert_eq!((accepted, skipped), (3, 0));
        let q = promethium_engine::Queryable::querier(&storage, 0, 10_000).unwrap();
        let found = q.select(&[Matcher::equal("job", "rw")], None).unwrap();
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn known_series_go_by_cached_reference() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let rx = Receiver::new();
        rx.write(&db, &body(vec![series("a", &[(1000, 1.0)]), series("b", &[(1000, 2.0)])]))
            .unwrap();
        assert_eq!(rx.cached_series(), 2);
        let (accepted, _) = rx
            .write(&db, &body(vec![series("a", &[(2000, 3.0), (3000, 4.0)]), series("b", &[])]))
            .unwrap();
        assert_eq!(accepted, 2);
        assert_eq!(db.head().stats().num_series, 2);
        let q = db.querier(0, 10_000).unwrap();
        let a = q.select(&[Matcher::equal("__name__", "a")], None).unwrap();
        assert_eq!(a.len(), 1);
        // A cached series still fails on an out-of-order sample.
        let err = bad_request(rx.write(&db, &body(vec![series("a", &[(1500, 1.0)])])));
        assert_eq!(err, "out of order sample");
    }

    #[test]
    fn a_series_dropped_by_the_head_is_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let rx = Receiver::new();
        rx.write(&db, &body(vec![series("a", &[(1000, 1.0)])])).unwrap();
        db.head().truncate_before(5000).unwrap();
        assert_eq!(db.head().stats().num_series, 0, "the head dropped the series");
        let (accepted, _) = rx.write(&db, &body(vec![series("a", &[(6000, 2.0)])])).unwrap();
        assert_eq!(accepted, 1);
        assert_eq!(count(&db, "a"), 1);
        // And the new reference is what the cache holds now.
        rx.write(&db, &body(vec![series("a", &[(7000, 3.0)])])).unwrap();
        assert_eq!(db.head().stats().num_series, 1);
    }

    #[test]
    fn out_of_order_is_a_permanent_error_and_rolls_back() {
        let storage = MemBackend::new();
        let rx = Receiver::new();
        rx.write(&storage, &body(vec![series("a", &[(2000, 1.0)])])).unwrap();
        let req = body(vec![series("b", &[(1000, 1.0)]), series("a", &[(1000, 1.0)])]);
        assert_eq!(bad_request(rx.write(&storage, &req)), "out of order sample");
        assert_eq!(count(&storage, "b"), 0, "batch rolled back");
    }

    #[test]
    fn garbage_is_a_bad_request() {
        let storage = MemBackend::new();
        let rx = Receiver::new();
        assert!(bad_request(rx.write(&storage, b"not snappy")).starts_with("snappy: "));
        let not_proto = snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff").unwrap();
        assert!(bad_request(rx.write(&storage, &not_proto)).starts_with("decoding protobuf: "));
    }

    #[test]
    fn invalid_labels_are_bad_requests() {
        let storage = MemBackend::new();
        let rx = Receiver::new();
        let mut dup = series("a", &[(1000, 1.0)]);
        dup.labels.push(Label { name: "job".into(), value: "again".into() });
        assert_eq!(
            bad_request(rx.write(&storage, &body(vec![dup]))),
            "invalid labels for series: duplicate label name job"
        );
        let mut empty = series("a", &[(1000, 1.0)]);
        empty.labels.push(Label { name: String::new(), value: "v".into() });
        assert_eq!(
            bad_request(rx.write(&storage, &body(vec![empty]))),
            "invalid labels for series: empty label name"
        );
        // A label value that is not UTF-8: field 1 (labels) holding
        // name "__name__" and a one-byte value 0xff.
        let mut label = vec![0x0a, 0x08];
        label.extend_from_slice(b"__name__");
        label.extend_from_slice(&[0x12, 0x01, 0xff]);
        let mut series = vec![0x0a, label.len() as u8];
        series.extend_from_slice(&label);
        let mut ts = vec![0x0a, series.len() as u8];
        ts.extend_from_slice(&series);
        let compressed = snap::raw::Encoder::new().compress_vec(&ts).unwrap();
        let msg = bad_request(rx.write(&storage, &compressed));
        assert!(msg.contains("not valid UTF-8"), "{msg}");
    }

    #[test]
    fn series_without_a_name_are_skipped() {
        let storage = MemBackend::new();
        let ts = TimeSeries {
            labels: vec![Label { name: "job".into(), value: "x".into() }],
            samples: vec![Sample { value: 1.0, timestamp: 1 }],
            exemplars: vec![],
        };
        let (accepted, skipped) = Receiver::new().write(&storage, &body(vec![ts])).unwrap();
        assert_eq!((accepted, skipped), (0, 1));
    }

    #[test]
    fn scan_counts_series_and_samples() {
        let b = body(vec![series("a", &[(1, 1.0), (2, 2.0)]), series("b", &[(1, 1.0)])]);
        assert_eq!(scan(&b).unwrap(), (2, 3));
    }
}
