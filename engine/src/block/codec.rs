//! Varints and the columnar sample codec of block chunk frames.
//!
//! A block stores each series' samples per 2 h window as two columns: a
//! timestamp column (delta-of-deltas; series scraped together share one,
//! see [`super::writer`]) and a value column (integer mantissas at a
//! shared decimal exponent, when every value is a short decimal, as
//! counters and most gauges of exporters are: bit-packed as they are or
//! as deltas, sparse (which deltas are nonzero, then only those packed),
//! or varints; else XORs with the previous value). Frames of columns are
//! then compressed with zstd. Column layouts compress far better under zstd than
//! bit-packed Gorilla, whose streams look random to a byte compressor.
//! Lossless: every value round-trips bit for bit (NaN payloads included).

use super::bitpack::{self, packed_len};
use crate::model::Sample;

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zig-zag encoded as a varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Longest varint [`get_uvarint`] reads: ten bytes carry 64 bits.
const MAX_VARINT_LEN: u32 = 10;

/// Reads an unsigned varint at `*pos`, advancing it.
#[inline]
pub fn get_uvarint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        if shift >= 64 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
    }
}

/// Reads a zig-zag varint at `*pos`, advancing it.
#[inline]
pub fn get_varint(data: &[u8], pos: &mut usize) -> Option<i64> {
    let u = get_uvarint(data, pos)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

/// Value column kinds.
const VALUES_XOR: u8 = 0;
const VALUES_DECIMAL_DELTA: u8 = 1;
const VALUES_DECIMAL_RAW: u8 = 2;
const VALUES_DECIMAL_DELTA_PACKED: u8 = 3;
const VALUES_DECIMAL_RAW_PACKED: u8 = 4;
const VALUES_DECIMAL_SPARSE: u8 = 5;

/// How a sparse column (kind 5) marks which deltas are nonzero.
const MASK_BITMAP: u8 = 0;
const MASK_CHANGED_AT: u8 = 1;
const MASK_UNCHANGED_AT: u8 = 2;

/// The exponent `e` (0..=9) such that every value is `m / 10^e` exactly for
/// an integer `m` below 2^53, if there is one.
fn decimal_exponent(samples: &[Sample]) -> Option<u32> {
    'e: for e in 0..=9u32 {
        let scale = POW10[e as usize];
        for s in samples {
            let v = s.value;
            let m = (v * scale).round();
            // The check mirrors the decoder exactly (integer mantissa, then
            // divide), so `-0.0` and anything else that does not survive
            // the round trip bit for bit falls back to XOR.
            if !v.is_finite()
                || m.abs() >= 9.0e15
                || ((m as i64) as f64 / scale).to_bits() != v.to_bits()
            {
                continue 'e;
            }
        }
        return Some(e);
    }
    None
}

/// Varints stay only when their estimated cost (order-0 entropy of their
/// bytes) times this percentage is under the best packed layout: zstd's
/// literal coding shares one table across the columns of a block and
/// lands well above the estimate, and a constant column packs to a few
/// bytes (width 0). Measured on the node_exporter-like load (100: 0.541,
/// 130: 0.535, 170: 0.534, 250: 0.534 bytes per sample of values).
const VARINT_COST_PERCENT: usize = 200;

const POW10: [f64; 10] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Bytes `v` takes as a zig-zag varint.
#[inline]
fn varint_len(v: i64) -> usize {
    uvarint_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Bytes `u` takes as an unsigned varint.
#[inline]
fn uvarint_len(u: u64) -> usize {
    (64 - u.max(1).leading_zeros() as usize).div_ceil(7)
}

/// Encodes the timestamps of sorted samples as a timestamp column, appended
/// to `out`: `n`, `t[0]`, `t[1]-t[0]`, then delta-of-deltas.
pub fn encode_timestamps(samples: &[Sample], out: &mut Vec<u8>) {
    put_uvarint(out, samples.len() as u64);
    let (mut prev_t, mut prev_d) = (0i64, 0i64);
    for (i, s) in samples.iter().enumerate() {
        match i {
            0 => put_varint(out, s.t_ms),
            1 => {
                prev_d = s.t_ms.wrapping_sub(prev_t);
                put_varint(out, prev_d);
            }
            _ => {
                let d = s.t_ms.wrapping_sub(prev_t);
                put_varint(out, d.wrapping_sub(prev_d));
                prev_d = d;
            }
        }
        prev_t = s.t_ms;
    }
}

/// Decodes a timestamp column written by [`encode_timestamps`] into `out`
/// (cleared first). Returns the bytes consumed, or `None` if corrupt.
pub fn decode_timestamps(data: &[u8], out: &mut Vec<i64>) -> Option<usize> {
    out.clear();
    let mut pos = 0;
    let n = usize::try_from(get_uvarint(data, &mut pos)?).ok()?;
    if n > data.len() {
        return None;
    }
    out.reserve(n);
    let (mut t, mut d) = (0i64, 0i64);
    for i in 0..n {
        let x = get_varint(data, &mut pos)?;
        match i {
            0 => t = x,
            1 => {
                d = x;
                t = t.wrapping_add(d);
            }
            _ => {
                d = d.wrapping_add(x);
                t = t.wrapping_add(d);
            }
        }
        out.push(t);
    }
    Some(pos)
}

/// Encodes the values of `samples` as a value column, appended to `out`.
///
/// Short decimals (every value exactly `m / 10^e`) are stored as integer
/// mantissas, either as deltas (counters, slow gauges) or as they are
/// (values redrawn every scrape, such as durations, whose deltas would
/// take one more bit), whichever is shorter; anything else as XORs.
pub fn encode_values(samples: &[Sample], out: &mut Vec<u8>) {
    match decimal_exponent(samples) {
        Some(e) => {
            let scale = POW10[e as usize];
            let ms: Vec<i64> = samples.iter().map(|s| (s.value * scale).round() as i64).collect();
            let start = out.len();
            encode_varint_mantissas(&ms, e as u8, out);
            // Bit-packed mantissas when they beat what the varint bytes
            // would cost under an ideal byte-wise entropy coder (what zstd's
            // literal coding gets near; its matches only help varints more,
            // so the estimate favours packing only when it clearly wins).
            let varint_cost = 2 + entropy_bytes(&out[start + 2..]) * VARINT_COST_PERCENT / 100;
            let mut packed = Vec::new();
            if encode_packed_mantissas(&ms, e as u8, &mut packed) && packed.len() < varint_cost {
                out.truncate(start);
                out.extend_from_slice(&packed);
            }
        }
        None => {
            out.push(VALUES_XOR);
            let mut prev = 0u64;
            for s in samples {
                let bits = s.value.to_bits();
                // Varint of the byte-reversed XOR: nearby floats differ in
                // their low mantissa bits, which reversal moves to the top,
                // leaving the varint short when only a few bytes change.
                put_uvarint(out, (bits ^ prev).swap_bytes());
                prev = bits;
            }
        }
    }
}

/// Mantissas as varints: deltas, or as they are when that is shorter
/// (values redrawn every scrape, whose deltas take one more bit).
fn encode_varint_mantissas(ms: &[i64], e: u8, out: &mut Vec<u8>) {
    let (mut delta_len, mut raw_len, mut prev) = (0usize, 0usize, 0i64);
    for &m in ms {
        delta_len += varint_len(m.wrapping_sub(prev));
        raw_len += varint_len(m);
        prev = m;
    }
    if raw_len < delta_len {
        out.push(VALUES_DECIMAL_RAW);
        out.push(e);
        for &m in ms {
            put_varint(out, m);
        }
    } else {
        out.push(VALUES_DECIMAL_DELTA);
        out.push(e);
        let mut prev = 0i64;
        for &m in ms {
            put_varint(out, m.wrapping_sub(prev));
            prev = m;
        }
    }
}

/// How packed entries map to integers: `base + entry · step`.
#[derive(Debug, Clone, Copy)]
struct Packing {
    base: i64,
    /// The greatest common divisor of every integer's distance from
    /// `base` (1 if all are equal): gauges moving in pages of 4096 bytes
    /// pack twelve bits narrower.
    step: u64,
    width: u32,
}

impl Packing {
    fn of(vals: impl Iterator<Item = i64> + Clone) -> Packing {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for v in vals.clone() {
            (lo, hi) = (lo.min(v), hi.max(v));
        }
        if lo > hi {
            return Packing { base: 0, step: 1, width: 0 };
        }
        let step = vals.fold(0u64, |g, v| gcd(g, v.wrapping_sub(lo) as u64)).max(1);
        let width = bitpack::width(hi.wrapping_sub(lo) as u64 / step);
        Packing { base: lo, step, width }
    }

    /// The integer a packed entry stands for.
    #[inline(always)]
    fn at(&self, u: u64) -> i64 {
        self.base.wrapping_add(u.wrapping_mul(self.step) as i64)
    }

    /// Bytes of the header fields and `n` entries.
    fn len(&self, n: usize) -> usize {
        varint_len(self.base) + uvarint_len(self.step) + 1 + packed_len(n, self.width)
    }

    fn put(&self, vals: impl Iterator<Item = i64>, out: &mut Vec<u8>) {
        put_varint(out, self.base);
        put_uvarint(out, self.step);
        out.push(self.width as u8);
        let entries = vals.map(|v| v.wrapping_sub(self.base) as u64 / self.step);
        bitpack::pack(entries, self.width, out);
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Mantissas bit-packed (see [`Packing`]): as deltas after the first, as
/// they are, or as a sparse column (which deltas are nonzero, then only
/// those packed), whichever is shortest. False if none fits the packer.
fn encode_packed_mantissas(ms: &[i64], e: u8, out: &mut Vec<u8>) -> bool {
    let Some((&first, rest)) = ms.split_first() else { return false };
    let deltas = ms.windows(2).map(|p| p[1].wrapping_sub(p[0]));
    let raw = Packing::of(ms.iter().copied());
    let delta = Packing::of(deltas.clone());
    let nonzero = deltas.clone().filter(|&d| d != 0);
    let sparse = Packing::of(nonzero.clone());
    let changed = nonzero.clone().count();
    let mask = ChangeMask::best(deltas.clone().map(|d| d != 0), rest.len(), changed);
    let fits = |p: &Packing| p.width <= bitpack::MAX_WIDTH;
    let lens = [
        (varint_len(first) + delta.len(rest.len()), fits(&delta)),
        (raw.len(ms.len()), fits(&raw)),
        (
            varint_len(first) + mask.len() + sparse.len(changed),
            fits(&sparse) && changed < rest.len() && mask.width <= bitpack::MAX_WIDTH,
        ),
    ];
    let Some(best) = (0..3).filter(|&i| lens[i].1).min_by_key(|&i| lens[i].0) else {
        return false;
    };
    match best {
        0 => {
            out.extend_from_slice(&[VALUES_DECIMAL_DELTA_PACKED, e]);
            put_varint(out, first);
            delta.put(deltas, out);
        }
        1 => {
            out.extend_from_slice(&[VALUES_DECIMAL_RAW_PACKED, e]);
            raw.put(ms.iter().copied(), out);
        }
        _ => {
            out.extend_from_slice(&[VALUES_DECIMAL_SPARSE, e]);
            put_varint(out, first);
            mask.put(deltas.map(|d| d != 0), out);
            sparse.put(nonzero, out);
        }
    }
    true
}

/// Which of a sparse column's deltas are nonzero: a bitmap, or the
/// positions of the fewer kind (changed or unchanged) as packed gaps,
/// whichever is shorter.
#[derive(Debug, Clone, Copy)]
struct ChangeMask {
    mode: u8,
    /// Positions listed (modes 1 and 2).
    count: usize,
    /// Width of the packed gaps (modes 1 and 2).
    width: u32,
    /// Number of deltas.
    n: usize,
}

impl ChangeMask {
    fn best(changed: impl Iterator<Item = bool> + Clone, n: usize, ones: usize) -> ChangeMask {
        let bitmap = ChangeMask { mode: MASK_BITMAP, count: 0, width: 0, n };
        let (mode, count) =
            if ones * 2 <= n { (MASK_CHANGED_AT, ones) } else { (MASK_UNCHANGED_AT, n - ones) };
        let listed = move |c: bool| (c == (mode == MASK_CHANGED_AT)).then_some(());
        let widest = Self::gaps(changed, listed).max().unwrap_or(0);
        let gaps = ChangeMask { mode, count, width: bitpack::width(widest), n };
        if gaps.len() < bitmap.len() { gaps } else { bitmap }
    }

    /// Gaps between the positions where `listed` holds: the first
    /// position, then each position minus the previous one minus one.
    fn gaps(
        changed: impl Iterator<Item = bool>,
        listed: impl Fn(bool) -> Option<()>,
    ) -> impl Iterator<Item = u64> {
        let mut next = 0u64;
        changed.enumerate().filter_map(move |(i, c)| {
            listed(c)?;
            let gap = i as u64 - next;
            next = i as u64 + 1;
            Some(gap)
        })
    }

    fn len(&self) -> usize {
        1 + match self.mode {
            MASK_BITMAP => self.n.div_ceil(8),
            _ => uvarint_len(self.count as u64) + 1 + packed_len(self.count, self.width),
        }
    }

    fn put(&self, changed: impl Iterator<Item = bool>, out: &mut Vec<u8>) {
        out.push(self.mode);
        if self.mode == MASK_BITMAP {
            bitpack::pack(changed.map(u64::from), 1, out);
            return;
        }
        put_uvarint(out, self.count as u64);
        out.push(self.width as u8);
        let want = self.mode == MASK_CHANGED_AT;
        bitpack::pack(Self::gaps(changed, move |c| (c == want).then_some(())), self.width, out);
    }
}

/// Bytes `data` would take under an ideal order-0 byte coder.
fn entropy_bytes(data: &[u8]) -> usize {
    let mut counts = [0u32; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let n = data.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let c = f64::from(c);
            -c * (c / n).log2()
        })
        .sum();
    (bits / 8.0).ceil() as usize
}

/// Decodes a value column written by [`encode_values`] for the timestamps
/// `ts` (its column), pushing the samples at positions `lo..hi`. Returns
/// `None` if corrupt.
pub fn decode_values(
    data: &[u8],
    ts: &[i64],
    lo: usize,
    hi: usize,
    out: &mut Vec<Sample>,
) -> Option<()> {
    let kind = *data.first()?;
    let hi = hi.min(ts.len());
    let lo = lo.min(hi);
    out.reserve(hi - lo);
    if kind == VALUES_XOR {
        let mut pos = 1;
        let mut prev = 0u64;
        for (i, &t) in ts[..hi].iter().enumerate() {
            prev ^= get_uvarint_fast(data, &mut pos)?.swap_bytes();
            if i >= lo {
                out.push(Sample { t_ms: t, value: f64::from_bits(prev) });
            }
        }
        return Some(());
    }
    let scale = *POW10.get(usize::from(*data.get(1)?))?;
    let body = &data[2..];
    // One instance per value mapping, so integers (most columns) skip the
    // division; inside, one loop per kind, so the per-sample work has no
    // branch on either.
    if scale == 1.0 {
        decode_decimal(kind, body, ts, lo, hi, out, |m| m as f64)
    } else {
        decode_decimal(kind, body, ts, lo, hi, out, |m| m as f64 / scale)
    }
}

/// Decodes a decimal column's body (after kind and exponent) for `ts`,
/// pushing the samples at positions `lo..hi` (`lo <= hi <= ts.len()`)
/// with values `value(m)`.
#[inline(always)]
fn decode_decimal(
    kind: u8,
    body: &[u8],
    ts: &[i64],
    lo: usize,
    hi: usize,
    out: &mut Vec<Sample>,
    value: impl Fn(i64) -> f64,
) -> Option<()> {
    let n = ts.len();
    match kind {
        VALUES_DECIMAL_DELTA => emit::<true>(0, varints(body), ts, lo, hi, out, value),
        VALUES_DECIMAL_RAW => emit::<false>(0, varints(body), ts, lo, hi, out, value),
        VALUES_DECIMAL_RAW_PACKED => {
            let (_, p, packed) = packed_header(body, false, n)?;
            if p.width == 0 {
                // A constant column (most columns of exporters).
                let v = value(p.base);
                out.extend(ts[lo..hi].iter().map(|&t| Sample { t_ms: t, value: v }));
                return Some(());
            }
            // Fixed width: start at `lo` without reading what comes before.
            let ms = bitpack::unpacked(packed, p.width, lo, hi).map(|u| p.at(u));
            emit::<false>(0, ms, &ts[lo..hi], 0, hi - lo, out, value)
        }
        VALUES_DECIMAL_DELTA_PACKED | VALUES_DECIMAL_SPARSE if lo < hi => {
            // Sample 0 is the first mantissa, stored apart; later samples
            // add one delta each.
            let (first, _) = first_mantissa(body)?;
            if lo == 0 {
                out.push(Sample { t_ms: ts[0], value: value(first) });
            }
            let (ts, lo, hi) = (&ts[1..], lo.saturating_sub(1), hi - 1);
            if kind == VALUES_DECIMAL_DELTA_PACKED {
                let (_, p, packed) = packed_header(body, true, n)?;
                if p.width == 0 {
                    let deltas = std::iter::repeat_n(p.base, hi);
                    return emit::<true>(first, deltas, ts, lo, hi, out, value);
                }
                let deltas = bitpack::unpacked(packed, p.width, 0, hi).map(|u| p.at(u));
                return emit::<true>(first, deltas, ts, lo, hi, out, value);
            }
            let s = sparse_header(body, n)?;
            let entries = bitpack::unpacked(s.packed, s.packing.width, 0, s.changed);
            match s.mask {
                Mask::Bitmap(bits) => {
                    let changed = Bits { data: bits, word: 0, in_word: 0, next: 0, left: n - 1 };
                    let deltas = SparseDeltas { changed, entries, packing: s.packing };
                    emit::<true>(first, deltas, ts, lo, hi, out, value)
                }
                Mask::Listed { changed, count, width, gaps } => {
                    let changed =
                        ListedMask::new(bitpack::unpacked(gaps, width, 0, count), changed, n - 1);
                    let deltas = SparseDeltas { changed, entries, packing: s.packing };
                    emit::<true>(first, deltas, ts, lo, hi, out, value)
                }
            }
        }
        VALUES_DECIMAL_DELTA_PACKED | VALUES_DECIMAL_SPARSE => Some(()),
        _ => None,
    }
}

/// Pushes samples `lo..hi` of `ts` whose mantissas come from `src`: one
/// entry per sample from position 0, each a delta added to the previous
/// mantissa (starting from `m`) if `DELTA`, else the mantissa itself.
/// `None` if `src` runs out first.
#[inline(always)]
fn emit<const DELTA: bool>(
    mut m: i64,
    mut src: impl Iterator<Item = i64>,
    ts: &[i64],
    lo: usize,
    hi: usize,
    out: &mut Vec<Sample>,
    value: impl Fn(i64) -> f64,
) -> Option<()> {
    for _ in 0..lo {
        let x = src.next()?;
        m = if DELTA { m.wrapping_add(x) } else { x };
    }
    for &t in &ts[lo..hi] {
        let x = src.next()?;
        m = if DELTA { m.wrapping_add(x) } else { x };
        out.push(Sample { t_ms: t, value: value(m) });
    }
    Some(())
}

/// Zig-zag varints read one after another (ending at the first bad one).
#[inline(always)]
fn varints(data: &[u8]) -> impl Iterator<Item = i64> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || get_varint_fast(data, &mut pos))
}

/// The deltas of a sparse column: zero where the mask says unchanged, else
/// the next packed entry.
struct SparseDeltas<'a, M> {
    changed: M,
    entries: bitpack::Unpacked<'a>,
    packing: Packing,
}

impl<M: Iterator<Item = bool>> Iterator for SparseDeltas<'_, M> {
    type Item = i64;

    #[inline(always)]
    fn next(&mut self) -> Option<i64> {
        if self.changed.next()? { self.entries.next().map(|u| self.packing.at(u)) } else { Some(0) }
    }
}

/// A bitmap's first `left` bits, lowest bit of the first byte first.
struct Bits<'a> {
    data: &'a [u8],
    word: u64,
    /// Bits left in `word`.
    in_word: u32,
    /// Next byte of `data` to load.
    next: usize,
    left: usize,
}

impl Iterator for Bits<'_> {
    type Item = bool;

    #[inline(always)]
    fn next(&mut self) -> Option<bool> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if self.in_word == 0 {
            let mut buf = [0u8; 8];
            let tail = self.data.get(self.next..).unwrap_or(&[]);
            let k = tail.len().min(8);
            buf[..k].copy_from_slice(&tail[..k]);
            self.word = u64::from_le_bytes(buf);
            self.next += 8;
            self.in_word = 64;
        }
        let bit = self.word & 1 != 0;
        self.word >>= 1;
        self.in_word -= 1;
        Some(bit)
    }
}

/// A change mask given as the positions of one kind (changed or
/// unchanged deltas), as gaps: yields whether each of `n` deltas changed.
struct ListedMask<'a> {
    gaps: bitpack::Unpacked<'a>,
    /// Next listed position (`u64::MAX` past the last).
    next: u64,
    /// Whether listed positions are the changed ones.
    listed_changed: bool,
    i: u64,
    n: u64,
}

impl<'a> ListedMask<'a> {
    fn new(mut gaps: bitpack::Unpacked<'a>, listed_changed: bool, n: usize) -> ListedMask<'a> {
        let next = gaps.next().unwrap_or(u64::MAX);
        ListedMask { gaps, next, listed_changed, i: 0, n: n as u64 }
    }
}

impl Iterator for ListedMask<'_> {
    type Item = bool;

    #[inline(always)]
    fn next(&mut self) -> Option<bool> {
        if self.i == self.n {
            return None;
        }
        let listed = self.i == self.next;
        if listed {
            self.next =
                self.gaps.next().map_or(u64::MAX, |g| self.i.saturating_add(1).saturating_add(g));
        }
        self.i += 1;
        Some(listed == self.listed_changed)
    }
}

/// Whether a value column written by [`encode_values`] holds exactly `n`
/// entries and decodes: varint columns by counting varint ends (a
/// vectorisable pass over its bytes), packed ones from their headers.
/// Readers check it before handing out an iterator that decodes lazily.
pub fn value_column_fits(data: &[u8], n: usize) -> bool {
    let count_varints = |body: &[u8]| {
        // Every varint must end (the last byte too, or the count is one
        // short) within the ten bytes `get_uvarint` reads: a longer one
        // would pass a count of ends and then fail to decode halfway
        // through a series.
        let mut ends = 0usize;
        let mut run = 0u32;
        for &b in body {
            if b < 0x80 {
                ends += 1;
                run = 0;
            } else {
                run += 1;
                if run >= MAX_VARINT_LEN {
                    return false;
                }
            }
        }
        run == 0 && ends == n
    };
    let Some(&kind) = data.first() else { return false };
    let exponent_ok = data.get(1).is_some_and(|&e| e <= 9);
    match kind {
        VALUES_XOR => count_varints(&data[1..]),
        VALUES_DECIMAL_DELTA | VALUES_DECIMAL_RAW => exponent_ok && count_varints(&data[2..]),
        VALUES_DECIMAL_DELTA_PACKED | VALUES_DECIMAL_RAW_PACKED if exponent_ok => {
            packed_header(&data[2..], kind == VALUES_DECIMAL_DELTA_PACKED, n).is_some()
        }
        VALUES_DECIMAL_SPARSE if exponent_ok => sparse_header(&data[2..], n).is_some(),
        _ => false,
    }
}

/// The first mantissa of a delta column (packed or sparse) and the bytes
/// after it.
fn first_mantissa(data: &[u8]) -> Option<(i64, &[u8])> {
    let mut pos = 0;
    let first = get_varint(data, &mut pos)?;
    Some((first, &data[pos..]))
}

/// Reads a packing header (base, step, width) at the start of `data`,
/// checking that exactly `count` entries follow.
fn packing_header(data: &[u8], count: usize) -> Option<(Packing, &[u8])> {
    let mut pos = 0;
    let base = get_varint(data, &mut pos)?;
    let step = get_uvarint(data, &mut pos)?;
    let width = u32::from(*data.get(pos)?);
    let body = &data[pos + 1..];
    (step >= 1 && width <= bitpack::MAX_WIDTH && body.len() == packed_len(count, width))
        .then_some((Packing { base, step, width }, body))
}

/// Splits a packed column after its exponent: (first mantissa, its
/// packing, packed bytes), checking the packed bytes' length for `n`
/// entries.
fn packed_header(data: &[u8], delta: bool, n: usize) -> Option<(i64, Packing, &[u8])> {
    if delta {
        let (first, rest) = first_mantissa(data)?;
        let (p, body) = packing_header(rest, n.checked_sub(1)?)?;
        Some((first, p, body))
    } else {
        let (p, body) = packing_header(data, n)?;
        Some((0, p, body))
    }
}

/// A sparse column's change mask as stored.
enum Mask<'a> {
    /// One bit per delta, set if it is nonzero.
    Bitmap(&'a [u8]),
    /// `count` positions as gaps packed at `width`: the nonzero deltas if
    /// `changed`, else the zero ones.
    Listed { changed: bool, count: usize, width: u32, gaps: &'a [u8] },
}

/// A sparse column's parts after its exponent.
struct Sparse<'a> {
    mask: Mask<'a>,
    /// Nonzero deltas.
    changed: usize,
    packing: Packing,
    packed: &'a [u8],
}

/// Parses a sparse column (kind 5) after its exponent for `n` samples,
/// checking every length and that listed positions are inside the column.
fn sparse_header(data: &[u8], n: usize) -> Option<Sparse<'_>> {
    let deltas = n.checked_sub(1)?;
    let (_, rest) = first_mantissa(data)?;
    let (&mode, rest) = rest.split_first()?;
    let (mask, changed, rest) = match mode {
        MASK_BITMAP => {
            let len = deltas.div_ceil(8);
            let bits = rest.get(..len)?;
            // Bits past the last delta are zero, so the count is exact.
            if deltas % 8 != 0 && bits[len - 1] >> (deltas % 8) != 0 {
                return None;
            }
            let ones = bits.iter().map(|b| b.count_ones() as usize).sum();
            (Mask::Bitmap(bits), ones, &rest[len..])
        }
        MASK_CHANGED_AT | MASK_UNCHANGED_AT => {
            let mut pos = 0;
            let count = usize::try_from(get_uvarint(rest, &mut pos)?).ok()?;
            let width = u32::from(*rest.get(pos)?);
            if count > deltas || width > bitpack::MAX_WIDTH {
                return None;
            }
            let len = packed_len(count, width);
            let gaps = rest.get(pos + 1..pos + 1 + len)?;
            // Every listed position must be inside the column.
            let mut next = 0u64;
            for g in bitpack::unpacked(gaps, width, 0, count) {
                next = next.checked_add(g)?.checked_add(1)?;
            }
            if next > deltas as u64 {
                return None;
            }
            let listed_changed = mode == MASK_CHANGED_AT;
            let changed = if listed_changed { count } else { deltas - count };
            let mask = Mask::Listed { changed: listed_changed, count, width, gaps };
            (mask, changed, &rest[pos + 1 + len..])
        }
        _ => return None,
    };
    let (packing, packed) = packing_header(rest, changed)?;
    Some(Sparse { mask, changed, packing, packed })
}

/// [`get_uvarint`] with the one-byte case (most values of a column: an
/// unchanged value, a regular scrape) taken first.
#[inline(always)]
fn get_uvarint_fast(data: &[u8], pos: &mut usize) -> Option<u64> {
    let b = *data.get(*pos)?;
    if b < 0x80 {
        *pos += 1;
        return Some(u64::from(b));
    }
    get_uvarint(data, pos)
}

#[inline(always)]
fn get_varint_fast(data: &[u8], pos: &mut usize) -> Option<i64> {
    let u = get_uvarint_fast(data, pos)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (-100_000i64..100_000).prop_map(|m| m as f64 / 100.0),
            Just(f64::from_bits(crate::model::STALE_NAN_BITS)),
            Just(-0.0),
        ]
    }

    fn round_trip(samples: &[Sample], min_t: i64, max_t: i64) -> Vec<Sample> {
        let (mut tbuf, mut vbuf) = (Vec::new(), Vec::new());
        encode_timestamps(samples, &mut tbuf);
        encode_values(samples, &mut vbuf);
        let mut ts = Vec::new();
        assert_eq!(decode_timestamps(&tbuf, &mut ts), Some(tbuf.len()));
        let lo = ts.partition_point(|&t| t < min_t);
        let hi = ts.partition_point(|&t| t <= max_t);
        let mut out = Vec::new();
        decode_values(&vbuf, &ts, lo, hi, &mut out).expect("decodes");
        out
    }

    /// Encodes `values` (at times 0, 1, …) and checks every sub-range
    /// decodes bit for bit; returns the column.
    fn check_column(values: &[f64]) -> Vec<u8> {
        let samples: Vec<Sample> =
            values.iter().enumerate().map(|(i, &value)| Sample { t_ms: i as i64, value }).collect();
        let ts: Vec<i64> = samples.iter().map(|s| s.t_ms).collect();
        let mut col = Vec::new();
        encode_values(&samples, &mut col);
        assert!(value_column_fits(&col, ts.len()));
        for (lo, hi) in [(0, ts.len()), (ts.len() / 3, ts.len()), (1.min(ts.len()), ts.len() / 2)] {
            let hi = hi.max(lo);
            let mut out = Vec::new();
            decode_values(&col, &ts, lo, hi, &mut out).expect("decodes");
            assert_eq!(out.len(), hi - lo);
            for (a, b) in out.iter().zip(&samples[lo..hi]) {
                assert_eq!((a.t_ms, a.value.to_bits()), (b.t_ms, b.value.to_bits()));
            }
        }
        col
    }

    #[test]
    fn overlong_varint_does_not_fit() {
        // Kind 0 (XOR varints), one entry: ten continuation bytes then an end.
        let mut col = vec![VALUES_XOR];
        col.extend([0x80; 10]);
        col.push(0x01);
        assert!(!value_column_fits(&col, 1));
        // Nine continuation bytes and an end are the longest varint read.
        let mut col = vec![VALUES_XOR];
        col.extend([0x80; 9]);
        col.push(0x01);
        assert!(value_column_fits(&col, 1));
        assert!(decode_values(&col, &[0], 0, 1, &mut Vec::new()).is_some());
    }

    /// Decoding damaged columns (every truncation, single-byte changes)
    /// fails with `None` or decodes something, and never panics; a column
    /// that passes [`value_column_fits`] always decodes.
    fn check_damage(col: &[u8], n: usize, seed: u64) {
        let ts: Vec<i64> = (0..n as i64).collect();
        let try_all = |c: &[u8]| {
            for m in [n.saturating_sub(1), n, n + 1] {
                let fits = value_column_fits(c, m);
                let ts = &ts[..m.min(n)];
                let got = decode_values(c, ts, 0, ts.len(), &mut Vec::new());
                if fits && m <= n {
                    assert!(got.is_some(), "a column that fits decodes");
                }
                decode_values(c, ts, ts.len() / 2, ts.len(), &mut Vec::new());
            }
        };
        for cut in 0..col.len() {
            try_all(&col[..cut]);
        }
        let mut x = seed | 1;
        for _ in 0..64.min(col.len() * 4) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mut c = col.to_vec();
            let at = (x >> 33) as usize % c.len();
            c[at] = (x >> 17) as u8;
            try_all(&c);
        }
    }

    proptest! {
        #[test]
        fn sparse_columns_round_trip(
            p in 0.0f64..1.0,
            step in 1i64..100_000,
            quantum in prop_oneof![Just(1i64), Just(8), Just(4096), Just(1000)],
            scale in 0usize..4,
            signed in any::<bool>(),
            seed in any::<u64>(),
            n in 1usize..600,
        ) {
            let mut x = seed;
            let mut rand = |k: u64| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 33) % k.max(1)
            };
            let mut m = rand(1 << 40) as i64;
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    if (rand(1 << 20) as f64) < p * (1 << 20) as f64 {
                        let k = rand(step as u64 + 1) as i64;
                        m += quantum * if signed { k - step / 2 } else { k };
                    }
                    m as f64 / POW10[scale]
                })
                .collect();
            let col = check_column(&values);
            check_damage(&col, n, seed);
        }

        #[test]
        fn adversarial_columns_decode_or_fail(
            kind in 0u8..8,
            body in proptest::collection::vec(any::<u8>(), 0..64),
            n in 0usize..80,
        ) {
            let mut col = vec![kind, 0];
            col.extend_from_slice(&body);
            check_damage(&col, n, 7);
        }

        #[test]
        fn decimal_columns_round_trip(
            scale in 0u32..4,
            quantum in 1i64..5000,
            steps in proptest::collection::vec(-1000i64..1000, 1..300),
            cut in 0usize..300,
        ) {
            let mut m = 0i64;
            let samples: Vec<Sample> = steps
                .iter()
                .enumerate()
                .map(|(i, &k)| {
                    m += k * quantum;
                    Sample { t_ms: i as i64, value: m as f64 / POW10[scale as usize] }
                })
                .collect();
            let min_t = cut.min(samples.len()) as i64;
            let out = round_trip(&samples, min_t, i64::MAX);
            prop_assert_eq!(&out[..], &samples[min_t as usize..]);
        }

        #[test]
        fn columns_round_trip_bit_for_bit(
            start in -1_000_000i64..1_000_000,
            steps in proptest::collection::vec((1i64..100_000, value()), 0..300),
        ) {
            let mut t = start;
            let samples: Vec<Sample> = steps.iter().map(|&(d, v)| { t += d; Sample { t_ms: t, value: v } }).collect();
            let out = round_trip(&samples, i64::MIN, i64::MAX);
            prop_assert_eq!(out.len(), samples.len());
            for (a, b) in out.iter().zip(&samples) {
                prop_assert_eq!(a.t_ms, b.t_ms);
                prop_assert_eq!(a.value.to_bits(), b.value.to_bits());
            }
        }
    }

    #[test]
    fn decode_clips_to_the_range_and_rejects_garbage() {
        let samples: Vec<Sample> =
            (0..10).map(|i| Sample { t_ms: i * 10, value: i as f64 }).collect();
        let out = round_trip(&samples, 25, 60);
        assert_eq!(out.iter().map(|s| s.t_ms).collect::<Vec<_>>(), vec![30, 40, 50, 60]);
        let mut tbuf = Vec::new();
        encode_timestamps(&samples, &mut tbuf);
        assert!(decode_timestamps(&tbuf[..tbuf.len() - 1], &mut Vec::new()).is_none());
        let mut vbuf = Vec::new();
        encode_values(&samples, &mut vbuf);
        let ts: Vec<i64> = samples.iter().map(|s| s.t_ms).collect();
        assert!(decode_values(&vbuf[..vbuf.len() - 1], &ts, 0, 10, &mut Vec::new()).is_none());
        assert!(decode_values(&[9], &ts, 0, 10, &mut Vec::new()).is_none());
    }

    #[test]
    fn column_kinds_follow_the_values() {
        let kind = |values: &[f64]| {
            let samples: Vec<Sample> = values
                .iter()
                .enumerate()
                .map(|(i, &value)| Sample { t_ms: i as i64, value })
                .collect();
            let mut vbuf = Vec::new();
            encode_values(&samples, &mut vbuf);
            let ts: Vec<i64> = samples.iter().map(|s| s.t_ms).collect();
            assert!(value_column_fits(&vbuf, ts.len()));
            // Packed lengths round to whole bytes (and a width of 0 or a
            // bitmap's padding cannot tell n from n + 1); readers take n
            // from the timestamp column. Varints are counted exactly.
            if vbuf[0] < VALUES_DECIMAL_DELTA_PACKED {
                assert!(!value_column_fits(&vbuf, ts.len() + 1));
            }
            let mut out = Vec::new();
            decode_values(&vbuf, &ts, 3, ts.len(), &mut out).expect("decodes");
            assert_eq!(out, samples[3..]);
            vbuf[0]
        };
        // A pseudo-random sequence (a linear congruential generator).
        let mut x = 12345u64;
        let mut rand = |n: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        // Redrawn every scrape, evenly over a range: packed as they are.
        let durations: Vec<f64> = (0..200).map(|_| (250 + rand(2000)) as f64 / 1000.0).collect();
        assert_eq!(kind(&durations), VALUES_DECIMAL_RAW_PACKED);
        // A counter stepping by 1000 ± 250: packed deltas.
        let mut c = 1e9;
        let counter: Vec<f64> = (0..200)
            .map(|_| {
                c += (750 + rand(501)) as f64;
                c
            })
            .collect();
        assert_eq!(kind(&counter), VALUES_DECIMAL_DELTA_PACKED);
        // Constant steps pack at width 0; rare changes list their positions.
        let steady: Vec<f64> = (0..200).map(|i| (1_000_000 + i * 3) as f64).collect();
        assert_eq!(kind(&steady), VALUES_DECIMAL_DELTA_PACKED);
        let constant = vec![42.0; 200];
        assert_eq!(kind(&constant), VALUES_DECIMAL_RAW_PACKED);
        let rare: Vec<f64> = (0..200).map(|i| (i / 50 * 4096) as f64).collect();
        assert_eq!(kind(&rare), VALUES_DECIMAL_SPARSE);
        // Varints stay where their bytes are far more regular than a
        // packed width (mostly one small step, now and then a large one).
        let lumpy: Vec<f64> = (0..200)
            .scan(0i64, |m, i| {
                *m += if i % 50 == 7 { 1 << 40 } else { 1 };
                Some(*m as f64)
            })
            .collect();
        assert_eq!(kind(&lumpy), VALUES_DECIMAL_DELTA);
        // A gauge moving by whole pages: packed deltas in pages.
        let mut g = 1_000_000i64 * 4096;
        let pages: Vec<f64> = (0..200)
            .map(|_| {
                g += (rand(201) as i64 - 100) * 4096;
                g as f64
            })
            .collect();
        let mut vbuf = Vec::new();
        let samples: Vec<Sample> =
            pages.iter().enumerate().map(|(i, &value)| Sample { t_ms: i as i64, value }).collect();
        encode_values(&samples, &mut vbuf);
        assert_eq!(vbuf[0], VALUES_DECIMAL_DELTA_PACKED);
        assert!(vbuf.len() < 2 + 4 + 4 + 3 + 1 + 200, "8 bits an entry, not 20: {}", vbuf.len());
        assert_eq!(kind(&pages), VALUES_DECIMAL_DELTA_PACKED);
        assert_eq!(kind(&[0.1, f64::NAN, 3.0, 4.0]), VALUES_XOR);
        // Counters stepping on most scrapes by a similar amount, gauges
        // moving on some: sparse (which deltas are nonzero, then those).
        let mut c = 1e9;
        let mostly: Vec<f64> = (0..480)
            .map(|_| {
                if rand(20) != 0 {
                    c += (30_000 + rand(20_001)) as f64;
                }
                c
            })
            .collect();
        assert_eq!(kind(&mostly), VALUES_DECIMAL_SPARSE);
        let mut g = 1_000_000i64 * 4096;
        let some: Vec<f64> = (0..480)
            .map(|_| {
                if rand(10) < 7 {
                    g += (rand(4001) as i64 - 2000) * 4096;
                }
                g as f64
            })
            .collect();
        assert_eq!(kind(&some), VALUES_DECIMAL_SPARSE);
        for values in [&mostly, &some] {
            let col = check_column(values);
            check_damage(&col, values.len(), 3);
        }
    }

    #[test]
    fn special_values_round_trip() {
        let stale = f64::from_bits(crate::model::STALE_NAN_BITS);
        let specials =
            [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, stale, f64::NAN, 5e-324, f64::MAX];
        for v in specials {
            let mut values: Vec<f64> = (0..100).map(|i| f64::from(i / 10)).collect();
            values[50] = v;
            check_column(&values);
            check_column(&[v]);
            check_column(&[v, v, v]);
        }
        check_column(&[]);
        check_column(&[1.0, 1.0]);
        check_column(&[f64::from_bits(0x7ff0_0000_dead_beef); 7]);
    }
}
