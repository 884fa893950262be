//! `POST /api/v1/write`: decodes a snappy-compressed `WriteRequest` and
//! appends it through the storage's `Appender` as one batch.
//!
//! Status codes follow Prometheus, because senders retry on 5xx and drop
//! the batch on 4xx: a body that does not decode, a duplicate label name,
//! and out-of-order, out-of-bounds or duplicate samples are permanent (400,
//! the batch is rolled back); a failed commit is retryable (500). Series
//! without a metric name are skipped, as Prometheus skips them.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header;
use hyper::{Request, StatusCode};
use promethium_engine::AppendError;
use promethium_engine::model::Labels;
use prost::Message;

use super::proto::WriteRequest;
use crate::http::{ReqBody, Resp, read_body, text};
use crate::state::AppState;
use crate::storage::Storage;

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
    let result = tokio::task::spawn_blocking(move || write(&*storage, &body)).await;
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

/// Decodes a snappy-compressed `WriteRequest`.
pub fn decode(body: &[u8]) -> Result<WriteRequest, WriteError> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| WriteError::BadRequest(format!("snappy: {e}")))?;
    if len > MAX_DECOMPRESSED_BYTES {
        return Err(WriteError::BadRequest(format!(
            "decompressed body of {len} bytes exceeds the limit of {MAX_DECOMPRESSED_BYTES}"
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| WriteError::BadRequest(format!("snappy: {e}")))?;
    WriteRequest::decode(raw.as_slice())
        .map_err(|e| WriteError::BadRequest(format!("decoding protobuf: {e}")))
}

/// Appends a compressed request as one batch. Returns samples accepted and
/// samples skipped (series without a metric name).
pub fn write(storage: &dyn Storage, body: &Bytes) -> Result<(u64, u64), WriteError> {
    let req = decode(body)?;
    let mut app = storage.appender();
    let mut accepted = 0u64;
    let mut skipped = 0u64;
    for ts in &req.timeseries {
        let labels = match Labels::try_from_pairs(
            ts.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
        ) {
            Ok(l) => l,
            Err(dup) => {
                app.rollback();
                return Err(WriteError::BadRequest(format!(
                    "invalid labels for series: duplicate label name {}",
                    dup.0
                )));
            }
        };
        if labels.metric_name().is_none_or(str::is_empty) {
            skipped += ts.samples.len() as u64;
            continue;
        }
        let mut series_ref = None;
        for s in &ts.samples {
            match app.append(series_ref, &labels, s.timestamp, s.value) {
                Ok(r) => {
                    series_ref = Some(r);
                    accepted += 1;
                }
                Err(
                    e @ (AppendError::OutOfOrder
                    | AppendError::OutOfBounds
                    | AppendError::DuplicateTimestamp),
                ) => {
                    app.rollback();
                    tracing::error!(series = %labels, timestamp = s.timestamp, error = %e, "out of order sample from remote write");
                    return Err(WriteError::BadRequest(e.to_string()));
                }
                Err(e @ (AppendError::EmptyLabels | AppendError::DuplicateLabelName(_))) => {
                    app.rollback();
                    return Err(WriteError::BadRequest(e.to_string()));
                }
                Err(e) => {
                    app.rollback();
                    return Err(WriteError::Internal(e.to_string()));
                }
            }
        }
    }
    app.commit().map_err(|e| WriteError::Internal(e.to_string()))?;
    Ok((accepted, skipped))
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

    #[test]
    fn appends_and_queries_back() {
        let storage = MemBackend::new();
        let req = WriteRequest {
            timeseries: vec![series("a", &[(1000, 1.0), (2000, 2.0)]), series("b", &[(1000, 5.0)])],
            metadata: vec![],
        };
        let (accepted, skipped) = write(&storage, &Bytes::from(encode(&req))).unwrap();
        assert_eq!((accepted, skipped), (3, 0));
        let q = promethium_engine::Queryable::querier(&storage, 0, 10_000).unwrap();
        let found = q.select(&[Matcher::equal("job", "rw")], None).unwrap();
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn out_of_order_is_a_permanent_error_and_rolls_back() {
        let storage = MemBackend::new();
        write(
            &storage,
            &Bytes::from(encode(&WriteRequest {
                timeseries: vec![series("a", &[(2000, 1.0)])],
                metadata: vec![],
            })),
        )
        .unwrap();
        let req = WriteRequest {
            timeseries: vec![series("b", &[(1000, 1.0)]), series("a", &[(1000, 1.0)])],
            metadata: vec![],
        };
        let err = write(&storage, &Bytes::from(encode(&req))).unwrap_err();
        assert!(
            matches!(err, WriteError::BadRequest(ref m) if m == "out of order sample"),
            "{err:?}"
        );
        let q = promethium_engine::Queryable::querier(&storage, 0, 10_000).unwrap();
        assert!(
            q.select(&[Matcher::equal("__name__", "b")], None).unwrap().is_empty(),
            "batch rolled back"
        );
    }

    #[test]
    fn garbage_is_a_bad_request() {
        let storage = MemBackend::new();
        assert!(matches!(
            write(&storage, &Bytes::from_static(b"not snappy")),
            Err(WriteError::BadRequest(_))
        ));
        let not_proto = snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff").unwrap();
        assert!(matches!(write(&storage, &Bytes::from(not_proto)), Err(WriteError::BadRequest(_))));
    }

    #[test]
    fn series_without_a_name_are_skipped() {
        let storage = MemBackend::new();
        let ts = TimeSeries {
            labels: vec![Label { name: "job".into(), value: "x".into() }],
            samples: vec![Sample { value: 1.0, timestamp: 1 }],
            exemplars: vec![],
        };
        let (accepted, skipped) = write(
            &storage,
            &Bytes::from(encode(&WriteRequest { timeseries: vec![ts], metadata: vec![] })),
        )
        .unwrap();
        assert_eq!((accepted, skipped), (0, 1));
    }
}
