//! Response-body decoding (`Content-Encoding: gzip`) into a buffer reused
//! across scrapes, with the scrape's `body_size_limit` applied to the
//! decoded size so a small compressed body cannot expand without bound.

use std::io::Read;

use super::ParseError;

/// Decodes bodies into one reusable buffer. Keep one per target.
#[derive(Debug, Default)]
pub struct BodyDecoder {
    buf: Vec<u8>,
}

impl BodyDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the bytes to parse: `body` itself when `content_encoding` is
    /// absent or `identity`, the decompressed body for `gzip`. `limit_bytes`
    /// (Prometheus' `body_size_limit`, `None` for unlimited) bounds the
    /// returned size.
    pub fn decode<'b>(
        &'b mut self,
        content_encoding: Option<&str>,
        body: &'b [u8],
        limit_bytes: Option<usize>,
    ) -> Result<&'b [u8], ParseError> {
        let encoding = content_encoding.map(str::trim).unwrap_or("");
        if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
            if let Some(limit) = limit_bytes
                && body.len() > limit
            {
                return Err(ParseError::BodyTooLarge { limit_bytes: limit });
            }
            return Ok(body);
        }
        if !encoding.eq_ignore_ascii_case("gzip") && !encoding.eq_ignore_ascii_case("x-gzip") {
            return Err(ParseError::Gzip(format!("unsupported content encoding {encoding:?}")));
        }
        decode_body(body, &mut self.buf, limit_bytes)?;
        Ok(&self.buf)
    }
}

/// Gunzips `body` into `out` (cleared first, capacity kept). Fails when the
/// decoded size would exceed `limit_bytes`.
pub fn decode_body(
    body: &[u8],
    out: &mut Vec<u8>,
    limit_bytes: Option<usize>,
) -> Result<(), ParseError> {
    out.clear();
    let mut decoder = flate2::read::MultiGzDecoder::new(body);
    match limit_bytes {
        Some(limit) => {
            // Read one byte past the limit to tell "exactly at" from "over".
            let mut limited = decoder.take(limit as u64 + 1);
            limited.read_to_end(out).map_err(|e| ParseError::Gzip(e.to_string()))?;
            if out.len() > limit {
                return Err(ParseError::BodyTooLarge { limit_bytes: limit });
            }
        }
        None => {
            decoder.read_to_end(out).map_err(|e| ParseError::Gzip(e.to_string()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn identity_is_passed_through_and_gzip_is_decoded() {
        let mut d = BodyDecoder::new();
        assert_eq!(d.decode(None, b"up 1\n", None).unwrap(), b"up 1\n");
        let z = gzip(b"up 1\n");
        assert_eq!(d.decode(Some("gzip"), &z, None).unwrap(), b"up 1\n");
    }

    #[test]
    fn limit_applies_to_decoded_size() {
        let mut d = BodyDecoder::new();
        let z = gzip(&[b'a'; 1000]);
        assert_eq!(d.decode(Some("gzip"), &z, Some(1000)).unwrap().len(), 1000);
        assert_eq!(
            d.decode(Some("gzip"), &z, Some(999)),
            Err(ParseError::BodyTooLarge { limit_bytes: 999 })
        );
        assert!(matches!(d.decode(None, b"12345", Some(4)), Err(ParseError::BodyTooLarge { .. })));
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut d = BodyDecoder::new();
        let mut z = gzip(b"up 1\n");
        let n = z.len();
        z.truncate(n - 6);
        assert!(matches!(d.decode(Some("gzip"), &z, None), Err(ParseError::Gzip(_))));
        assert!(matches!(d.decode(Some("br"), b"x", None), Err(ParseError::Gzip(_))));
    }
}
