//! Byte sizes with Prometheus' base-2 units (`10MB`, `512KiB`).

use std::fmt;

use promethium_discovery::config::deserialize_scalar_with;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A byte size written with a base-2 unit (`10MB` = 10 MiB, `512KiB`, `0`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The size in bytes; 0 means no limit where used as a limit.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Parses Prometheus' base-2 byte sizes: one or more `<int><unit>`
    /// with units B, KB, MB, GB, TB, PB, EB (all powers of 1024, as in
    /// Prometheus) or KiB..EiB; a bare `0` is zero.
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let err = || format!("invalid byte size {s:?}");
        let s_trim = s.trim();
        if s_trim == "0" {
            return Ok(ByteSize(0));
        }
        let b = s_trim.as_bytes();
        let mut i = 0;
        let mut total: u64 = 0;
        if b.is_empty() {
            return Err(err());
        }
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(err());
            }
            let n: u64 = s_trim[start..i].parse().map_err(|_| err())?;
            let ustart = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let shift = match &s_trim[ustart..i] {
                "B" => 0,
                "KB" | "KiB" => 10,
                "MB" | "MiB" => 20,
                "GB" | "GiB" => 30,
                "TB" | "TiB" => 40,
                "PB" | "PiB" => 50,
                "EB" | "EiB" => 60,
                _ => return Err(err()),
            };
            let v = n.checked_mul(1u64 << shift).ok_or_else(err)?;
            total = total.checked_add(v).ok_or_else(err)?;
        }
        Ok(ByteSize(total))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u32); 6] =
            [("EB", 60), ("PB", 50), ("TB", 40), ("GB", 30), ("MB", 20), ("KB", 10)];
        if self.0 == 0 {
            return f.write_str("0B");
        }
        for (u, shift) in UNITS {
            let size = 1u64 << shift;
            if self.0.is_multiple_of(size) {
                return write!(f, "{}{u}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_scalar_with(d, "a byte size such as 10MB", ByteSize::parse)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
