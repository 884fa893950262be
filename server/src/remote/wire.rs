//! A borrowing walker over the protobuf wire format of a remote-write 1.0
//! `WriteRequest`.
//!
//! Decoding into prost's owned model allocated a `String` per label name and
//! value and a `Vec` per series for every request, although senders resend
//! the same series every time. This walker yields byte slices of the
//! decompressed request instead, so the receiver can recognise a known
//! series by its raw label bytes and validate (UTF-8 and the rest) only the
//! series it has not seen. Every read is bounds-checked: malformed input
//! gives a [`DecodeError`], never a panic.

use std::ops::Range;

/// Why the bytes are not a valid `WriteRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A varint runs past the end of its message.
    #[error("truncated varint at offset {offset}")]
    TruncatedVarint {
        /// Where the varint starts in the decompressed request.
        offset: usize,
    },
    /// A varint longer than ten bytes.
    #[error("varint longer than 10 bytes at offset {offset}")]
    VarintTooLong {
        /// Where the varint starts in the decompressed request.
        offset: usize,
    },
    /// A field tag with number 0, or one that does not fit 32 bits.
    #[error("invalid field number {number} at offset {offset}")]
    InvalidFieldNumber {
        /// The field number read.
        number: u64,
        /// Where the tag starts.
        offset: usize,
    },
    /// A wire type this decoder does not know (groups included: no
    /// remote-write message has them).
    #[error("unsupported wire type {wire_type} at offset {offset}")]
    UnsupportedWireType {
        /// The wire type read.
        wire_type: u8,
        /// Where the tag starts.
        offset: usize,
    },
    /// A known field encoded with the wrong wire type.
    #[error("field {field} of {message} has wire type {got}, expected {expected}")]
    WrongWireType {
        /// The message being decoded.
        message: &'static str,
        /// The field number.
        field: u32,
        /// The wire type found.
        got: u8,
        /// The wire type the field is declared with.
        expected: u8,
    },
    /// A length-delimited field or a fixed-width value runs past the end of
    /// its message.
    #[error("field at offset {offset} needs {needed} bytes but only {left} are left")]
    PastEnd {
        /// Where the field's payload starts.
        offset: usize,
        /// Bytes the field claims.
        needed: u64,
        /// Bytes left in the enclosing message.
        left: usize,
    },
    /// A label name or value that is not UTF-8.
    #[error("label {what} at offset {offset} is not valid UTF-8")]
    NotUtf8 {
        /// "name" or "value".
        what: &'static str,
        /// Where the string starts.
        offset: usize,
    },
}

/// Wire types (the low three bits of a tag).
pub const VARINT: u8 = 0;
/// 64-bit fixed width.
pub const I64: u8 = 1;
/// Length-delimited.
pub const LEN: u8 = 2;
/// 32-bit fixed width.
pub const I32: u8 = 5;

/// One field's payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A varint.
    Varint(u64),
    /// A fixed 64-bit value.
    I64(u64),
    /// A length-delimited payload: its range in the whole buffer.
    Len(usize, usize),
    /// A fixed 32-bit value.
    I32(u32),
}

impl Value {
    fn wire_type(self) -> u8 {
        match self {
            Value::Varint(_) => VARINT,
            Value::I64(_) => I64,
            Value::Len(..) => LEN,
            Value::I32(_) => I32,
        }
    }
}

/// One field: its number, its payload, and where the whole field (tag
/// included) sits in the buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    /// The field number.
    pub number: u32,
    /// The payload.
    pub value: Value,
    /// Start of the tag.
    pub start: usize,
    /// One past the payload's end.
    pub end: usize,
}

impl Field {
    /// Fails unless the field has wire type `expected`.
    #[inline]
    pub fn expect(&self, message: &'static str, expected: u8) -> Result<(), DecodeError> {
        let got = self.value.wire_type();
        if got == expected {
            Ok(())
        } else {
            Err(DecodeError::WrongWireType { message, field: self.number, got, expected })
        }
    }
}

/// The fields of one message, in order. Offsets are into the whole buffer
/// so errors name a position in the request.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Fields<'a> {
    /// The fields of the message occupying `range` of `buf`.
    pub fn new(buf: &'a [u8], range: Range<usize>) -> Self {
        debug_assert!(range.end <= buf.len());
        Fields { buf, pos: range.start, end: range.end.min(buf.len()) }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        // The common case in remote write: one byte.
        if let Some(&b) = self.buf[..self.end].get(start)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf[..self.end].get(start + i) else {
                return Err(DecodeError::TruncatedVarint { offset: start });
            };
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.pos = start + i + 1;
                return Ok(v);
            }
        }
        Err(DecodeError::VarintTooLong { offset: start })
    }

    #[inline]
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let left = self.end - self.pos;
        if left < N {
            return Err(DecodeError::PastEnd { offset: self.pos, needed: N as u64, left });
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        Ok(out)
    }

    /// The next field, or `None` at the end of the message.
    #[inline]
    pub fn next_field(&mut self) -> Result<Option<Field>, DecodeError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let start = self.pos;
        let tag = self.varint()?;
        let number = tag >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(DecodeError::InvalidFieldNumber { number, offset: start });
        }
        let wire_type = (tag & 7) as u8;
        let value = match wire_type {
            VARINT => Value::Varint(self.varint()?),
            I64 => Value::I64(u64::from_le_bytes(self.fixed::<8>()?)),
            LEN => {
                let len = self.varint()?;
                let left = self.end - self.pos;
                if len > left as u64 {
                    return Err(DecodeError::PastEnd { offset: self.pos, needed: len, left });
                }
                let from = self.pos;
                self.pos += len as usize;
                Value::Len(from, self.pos)
            }
            I32 => Value::I32(u32::from_le_bytes(self.fixed::<4>()?)),
            _ => return Err(DecodeError::UnsupportedWireType { wire_type, offset: start }),
        };
        Ok(Some(Field { number: number as u32, value, start, end: self.pos }))
    }
}

/// The name and value bytes of one `Label` message (missing fields are
/// empty, as in protobuf; a repeated field's last occurrence wins).
pub fn label(buf: &[u8], range: Range<usize>) -> Result<(Range<usize>, Range<usize>), DecodeError> {
    let at = range.start;
    let mut name = at..at;
    let mut value = at..at;
    let mut fields = Fields::new(buf, range);
    while let Some(f) = fields.next_field()? {
        match f.number {
            1 | 2 => {
                f.expect("Label", LEN)?;
                if let Value::Len(a, b) = f.value {
                    if f.number == 1 {
                        name = a..b;
                    } else {
                        value = a..b;
                    }
                }
            }
            _ => {}
        }
    }
    Ok((name, value))
}

/// A sample as sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSample {
    /// Milliseconds since the epoch.
    pub t_ms: i64,
    /// The value.
    pub value: f64,
}

/// Decodes one `Sample` message (missing fields are zero).
#[inline]
pub fn sample(buf: &[u8], range: Range<usize>) -> Result<RawSample, DecodeError> {
    match usual_sample(buf, range.clone()) {
        Some(s) => Ok(s),
        None => any_sample(buf, range),
    }
}

/// The one encoding senders produce for a sample with a non-zero value and
/// timestamp: tag 0x09 and 8 bytes of value, tag 0x10 and a varint
/// timestamp ending exactly at the end of the message. Decoded without the
/// general field loop (a sample per series makes this the walker's most
/// frequent message); anything else gives `None`.
#[inline]
fn usual_sample(buf: &[u8], range: Range<usize>) -> Option<RawSample> {
    let (&0x09, rest) = buf.get(range)?.split_first()? else { return None };
    let (value, rest) = rest.split_first_chunk::<8>()?;
    let (&0x10, varint) = rest.split_first()? else { return None };
    if varint.len() > 10 {
        return None;
    }
    let mut t = 0u64;
    for (i, &b) in varint.iter().enumerate() {
        t |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return (i + 1 == varint.len())
                .then(|| RawSample { t_ms: t as i64, value: f64::from_le_bytes(*value) });
        }
    }
    None
}

/// Decodes one `Sample` message in any valid encoding.
fn any_sample(buf: &[u8], range: Range<usize>) -> Result<RawSample, DecodeError> {
    let mut s = RawSample { t_ms: 0, value: 0.0 };
    let mut fields = Fields::new(buf, range);
    while let Some(f) = fields.next_field()? {
        match f.number {
            1 => {
                f.expect("Sample", I64)?;
                if let Value::I64(bits) = f.value {
                    s.value = f64::from_bits(bits);
                }
            }
            2 => {
                f.expect("Sample", VARINT)?;
                if let Value::Varint(v) = f.value {
                    // int64 on the wire: two's complement in a varint.
                    s.t_ms = v as i64;
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

/// One series of a request, borrowed from the decompressed bytes. Scratch
/// vectors are the caller's so they are reused from series to series.
pub struct Series<'s> {
    /// Every `labels` field of the series, tag and length included, in
    /// order. Their concatenation identifies the series' raw label bytes.
    pub label_fields: &'s [Range<usize>],
    /// The samples.
    pub samples: &'s [RawSample],
}

/// Reusable per-request state of [`for_each_series`].
#[derive(Default)]
pub struct Scratch {
    label_fields: Vec<Range<usize>>,
    samples: Vec<RawSample>,
}

/// Walks a `WriteRequest`, calling `f` for each `TimeSeries` in order with
/// its labels' field ranges and its decoded samples. Metadata and exemplars
/// are checked for framing only (the receiver does not store them).
pub fn for_each_series<E: From<DecodeError>>(
    buf: &[u8],
    scratch: &mut Scratch,
    mut f: impl FnMut(&Series<'_>) -> Result<(), E>,
) -> Result<(), E> {
    scratch.label_fields.clear();
    scratch.samples.clear();
    walk(buf, &mut scratch.label_fields, &mut scratch.samples, |label_fields, samples, _| {
        f(&Series { label_fields, samples })?;
        label_fields.clear();
        samples.clear();
        Ok(())
    })
}

/// Where a series' parts begin in the vectors [`walk`] appends to.
#[derive(Debug, Clone, Copy)]
pub struct SeriesStart {
    /// Index of its first label field.
    pub label_fields: usize,
    /// Index of its first sample.
    pub samples: usize,
}

/// Walks a `WriteRequest`, appending each `TimeSeries`' label field ranges
/// to `label_fields` and its samples to `samples` (neither is cleared), and
/// calling `end` after each series with both vectors and where that series
/// begins in them. [`for_each_series`] clears them in `end`; a caller that
/// keeps every series of a request keeps them, with no copy in between.
pub fn walk<E: From<DecodeError>>(
    buf: &[u8],
    label_fields: &mut Vec<Range<usize>>,
    samples: &mut Vec<RawSample>,
    mut end: impl FnMut(&mut Vec<Range<usize>>, &mut Vec<RawSample>, SeriesStart) -> Result<(), E>,
) -> Result<(), E> {
    let mut top = Fields::new(buf, 0..buf.len());
    while let Some(field) = top.next_field()? {
        if field.number != 1 {
            if field.number == 3 {
                field.expect("WriteRequest", LEN)?;
            }
            continue;
        }
        field.expect("WriteRequest", LEN)?;
        let Value::Len(a, b) = field.value else { continue };
        let start = SeriesStart { label_fields: label_fields.len(), samples: samples.len() };
        let mut pos = a;
        while pos < b {
            // The usual field: a label or a sample with a one-byte tag and
            // a one-byte length that fits the message.
            if let [tag @ (0x0a | 0x12), len @ 0..0x80, ..] = buf[pos..b] {
                let field_end = pos + 2 + usize::from(len);
                if field_end <= b {
                    if tag == 0x0a {
                        label_fields.push(pos..field_end);
                    } else {
                        samples.push(sample(buf, pos + 2..field_end)?);
                    }
                    pos = field_end;
                    continue;
                }
            }
            let mut rest = Fields::new(buf, pos..b);
            let Some(tf) = rest.next_field()? else { break };
            pos = tf.end;
            match tf.number {
                1 => {
                    tf.expect("TimeSeries", LEN)?;
                    label_fields.push(tf.start..tf.end);
                }
                2 => {
                    tf.expect("TimeSeries", LEN)?;
                    if let Value::Len(sa, sb) = tf.value {
                        samples.push(sample(buf, sa..sb)?);
                    }
                }
                3 | 4 => tf.expect("TimeSeries", LEN)?,
                _ => {}
            }
        }
        end(label_fields, samples, start)?;
    }
    Ok(())
}

/// The payload range of a `labels` field recorded in
/// [`Series::label_fields`] (the field was checked when it was recorded).
pub fn label_payload(buf: &[u8], field: Range<usize>) -> Result<Range<usize>, DecodeError> {
    let mut fields = Fields::new(buf, field);
    match fields.next_field()? {
        Some(Field { value: Value::Len(a, b), .. }) => Ok(a..b),
        _ => Err(DecodeError::WrongWireType {
            message: "TimeSeries",
            field: 1,
            got: VARINT,
            expected: LEN,
        }),
    }
}

/// A label's name and value as text, checked for UTF-8.
pub fn label_text(buf: &[u8], field: Range<usize>) -> Result<(&str, &str), DecodeError> {
    let (name, value) = label(buf, label_payload(buf, field)?)?;
    let text = |r: Range<usize>, what| {
        let at = r.start;
        std::str::from_utf8(&buf[r]).map_err(|_| DecodeError::NotUtf8 { what, offset: at })
    };
    Ok((text(name, "name")?, text(value, "value")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
    use prost::Message;

    type Decoded = Vec<(Vec<(String, String)>, Vec<RawSample>)>;

    fn collect(buf: &[u8]) -> Result<Decoded, DecodeError> {
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        for_each_series(buf, &mut scratch, |s| {
            let labels = s
                .label_fields
                .iter()
                .map(|r| label_text(buf, r.clone()).map(|(n, v)| (n.to_owned(), v.to_owned())))
                .collect::<Result<Vec<_>, _>>()?;
            out.push((labels, s.samples.to_vec()));
            Ok::<_, DecodeError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn agrees_with_prost() {
        let req = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![
                        Label { name: "__name__".into(), value: "up".into() },
                        Label { name: "job".into(), value: "x\u{e9}".into() },
                    ],
                    samples: vec![
                        Sample { value: 1.5, timestamp: -5 },
                        Sample { value: f64::NAN, timestamp: 1_700_000_000_000 },
                    ],
                    exemplars: vec![],
                },
                TimeSeries { labels: vec![], samples: vec![], exemplars: vec![] },
            ],
            metadata: vec![],
        };
        let got = collect(&req.encode_to_vec()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].0,
            vec![
                ("__name__".to_owned(), "up".to_owned()),
                ("job".to_owned(), "x\u{e9}".to_owned())
            ]
        );
        assert_eq!(got[0].1[0], RawSample { t_ms: -5, value: 1.5 });
        assert_eq!(got[0].1[1].t_ms, 1_700_000_000_000);
        assert!(got[0].1[1].value.is_nan());
        assert!(got[1].0.is_empty() && got[1].1.is_empty());
    }

    #[test]
    fn malformed_input_is_an_error() {
        // Field 1, LEN, length 5 but only 1 byte follows.
        assert!(matches!(collect(b"\x0a\x05\x00"), Err(DecodeError::PastEnd { .. })));
        // A tag varint that never ends.
        assert!(matches!(collect(b"\x0a\x80"), Err(DecodeError::TruncatedVarint { .. })));
        assert!(matches!(collect(&[0xff; 11]), Err(DecodeError::VarintTooLong { .. })));
        // Field 1 as a varint.
        assert!(matches!(collect(b"\x08\x01"), Err(DecodeError::WrongWireType { .. })));
        // Field number 0.
        assert!(matches!(collect(b"\x02\x00"), Err(DecodeError::InvalidFieldNumber { .. })));
        // A group.
        assert!(matches!(collect(b"\x0b"), Err(DecodeError::UnsupportedWireType { .. })));
        // A sample whose double is cut short.
        assert!(matches!(
            collect(b"\x0a\x05\x12\x03\x09\x00\x00"),
            Err(DecodeError::PastEnd { .. })
        ));
        // A label name that is not UTF-8.
        assert!(matches!(
            collect(b"\x0a\x05\x0a\x03\x0a\x01\xff"),
            Err(DecodeError::NotUtf8 { what: "name", .. })
        ));
    }

    #[test]
    fn the_usual_sample_encoding_decodes_as_any_other() {
        let encoded = |value: f64, timestamp: i64| Sample { value, timestamp }.encode_to_vec();
        for (v, t) in [(1.5, 1_700_000_000_000), (-2.0, -5), (f64::MAX, i64::MAX), (3.0, 1)] {
            let buf = encoded(v, t);
            let fast = usual_sample(&buf, 0..buf.len()).expect("the usual encoding");
            assert_eq!(fast, any_sample(&buf, 0..buf.len()).unwrap());
            assert_eq!(fast, RawSample { t_ms: t, value: v });
        }
        // Zero fields are left out by senders: the general path reads them.
        for (v, t) in [(0.0, 7), (2.5, 0), (0.0, 0)] {
            let buf = encoded(v, t);
            assert_eq!(usual_sample(&buf, 0..buf.len()), None);
            assert_eq!(sample(&buf, 0..buf.len()).unwrap(), RawSample { t_ms: t, value: v });
        }
        // Fields reversed, a trailing field, a cut varint: not the usual shape.
        let mut reversed = vec![0x10, 0x07, 0x09];
        reversed.extend_from_slice(&1.0f64.to_le_bytes());
        assert_eq!(usual_sample(&reversed, 0..reversed.len()), None);
        assert_eq!(
            sample(&reversed, 0..reversed.len()).unwrap(),
            RawSample { t_ms: 7, value: 1.0 }
        );
        let mut trailing = encoded(1.0, 7);
        trailing.extend_from_slice(&[0x18, 0x01]);
        assert_eq!(usual_sample(&trailing, 0..trailing.len()), None);
        assert_eq!(
            sample(&trailing, 0..trailing.len()).unwrap(),
            RawSample { t_ms: 7, value: 1.0 }
        );
        let mut cut = encoded(1.0, 1_700_000_000_000);
        cut.pop();
        assert_eq!(usual_sample(&cut, 0..cut.len()), None);
        assert!(sample(&cut, 0..cut.len()).is_err());
    }

    #[test]
    fn long_labels_and_many_samples_decode_as_short_ones() {
        // Labels over 127 bytes and a series over 127 bytes take the
        // general path (two-byte lengths); the rest the one-byte path.
        let long = "v".repeat(300);
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label { name: "__name__".into(), value: "m".into() },
                    Label { name: "long".into(), value: long.clone() },
                    Label { name: "z".into(), value: "1".into() },
                ],
                samples: (1..=40)
                    .map(|i| Sample { value: f64::from(i), timestamp: i.into() })
                    .collect(),
                exemplars: vec![],
            }],
            metadata: vec![],
        };
        let got = collect(&req.encode_to_vec()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0[1], ("long".to_owned(), long));
        assert_eq!(got[0].0[2], ("z".to_owned(), "1".to_owned()));
        assert_eq!(got[0].1.len(), 40);
        assert_eq!(got[0].1[39], RawSample { t_ms: 40, value: 40.0 });
        // A one-byte length past the end of the series is still an error.
        assert!(matches!(collect(b"\x0a\x02\x0a\x05"), Err(DecodeError::PastEnd { .. })));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // WriteRequest field 9 (varint), then an empty series with an
        // unknown fixed32 field.
        let got = collect(b"\x48\x07\x0a\x05\x2d\x01\x02\x03\x04").unwrap();
        assert_eq!(got.len(), 1);
    }
}
