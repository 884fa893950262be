//! Remote-write 1.0 request encoding by hand: the message is four small
//! types, and writing the bytes directly lets the sender pre-encode each
//! series' labels once and spend almost no CPU per request.

/// `prometheus.WriteRequest` field 1, `TimeSeries` fields 1 and 2,
/// `Label` fields 1 and 2, `Sample` fields 1 (double) and 2 (int64).
const TAG_LEN_1: u8 = 0x0a;
const TAG_LEN_2: u8 = 0x12;
const TAG_DOUBLE_1: u8 = 0x09;
const TAG_VARINT_2: u8 = 0x10;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// The encoded `labels` fields of one `TimeSeries`; pairs must be sorted by name.
pub(crate) fn encode_labels(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in pairs {
        let inner = 1
            + varint_len(name.len() as u64)
            + name.len()
            + 1
            + varint_len(value.len() as u64)
            + value.len();
        out.push(TAG_LEN_1);
        put_varint(&mut out, inner as u64);
        out.push(TAG_LEN_1);
        put_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        out.push(TAG_LEN_2);
        put_varint(&mut out, value.len() as u64);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Appends one `TimeSeries` with a single sample to a `WriteRequest` body.
pub(crate) fn push_series(out: &mut Vec<u8>, labels: &[u8], t_ms: i64, value: f64) {
    let sample_len = 1 + 8 + 1 + varint_len(t_ms as u64);
    let series_len = labels.len() + 1 + varint_len(sample_len as u64) + sample_len;
    out.push(TAG_LEN_1);
    put_varint(out, series_len as u64);
    out.extend_from_slice(labels);
    out.push(TAG_LEN_2);
    put_varint(out, sample_len as u64);
    out.push(TAG_DOUBLE_1);
    out.extend_from_slice(&value.to_le_bytes());
    out.push(TAG_VARINT_2);
    put_varint(out, t_ms as u64);
}

/// Appends one `TimeSeries` carrying `samples` (in the given order) to a
/// `WriteRequest` body.
pub(crate) fn push_series_samples(out: &mut Vec<u8>, labels: &[u8], samples: &[(i64, f64)]) {
    let sample_len = |t_ms: i64| 1 + 8 + 1 + varint_len(t_ms as u64);
    let series_len = labels.len()
        + samples
            .iter()
            .map(|&(t, _)| {
                let n = sample_len(t);
                1 + varint_len(n as u64) + n
            })
            .sum::<usize>();
    out.push(TAG_LEN_1);
    put_varint(out, series_len as u64);
    out.extend_from_slice(labels);
    for &(t_ms, value) in samples {
        out.push(TAG_LEN_2);
        put_varint(out, sample_len(t_ms) as u64);
        out.push(TAG_DOUBLE_1);
        out.extend_from_slice(&value.to_le_bytes());
        out.push(TAG_VARINT_2);
        put_varint(out, t_ms as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_protobuf() {
        let mut v = Vec::new();
        put_varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        assert_eq!(varint_len(300), 2);
        assert_eq!(varint_len(0), 1);
    }

    #[test]
    fn one_series_encodes_byte_for_byte() {
        let labels = encode_labels(&[("a", "b")]);
        assert_eq!(labels, [0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b']);
        let mut body = Vec::new();
        push_series(&mut body, &labels, 1, 1.0);
        let mut want = vec![0x0a, 8 + 2 + 11];
        want.extend_from_slice(&labels);
        want.extend_from_slice(&[0x12, 11, 0x09]);
        want.extend_from_slice(&1.0f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 0x01]);
        assert_eq!(body, want);
    }

    #[test]
    fn many_samples_encode_like_repeated_single_samples() {
        let labels = encode_labels(&[("a", "b")]);
        let samples = [(1, 1.0), (300, 2.5), (1_767_225_600_000, -3.0)];
        let mut body = Vec::new();
        push_series_samples(&mut body, &labels, &samples);
        // The same bytes as one series per sample, minus the repeated framing.
        let mut want_inner = labels.clone();
        for &(t, v) in &samples {
            let mut one = Vec::new();
            push_series(&mut one, &labels, t, v);
            // Skip the series tag, its length and the labels.
            let skip = 1 + varint_len((one.len() - 1 - 1) as u64) + labels.len();
            want_inner.extend_from_slice(&one[skip..]);
        }
        let mut want = vec![0x0a];
        put_varint(&mut want, want_inner.len() as u64);
        want.extend_from_slice(&want_inner);
        assert_eq!(body, want);
        let mut single = Vec::new();
        push_series_samples(&mut single, &labels, &samples[..1]);
        let mut old = Vec::new();
        push_series(&mut old, &labels, 1, 1.0);
        assert_eq!(single, old);
    }
}
