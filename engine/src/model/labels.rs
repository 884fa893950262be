//! Label sets: the identity of a series.
//!
//! Millions of label sets live in the head at once, so a [`Labels`] is one
//! shared allocation holding every name and value back to back, each prefixed
//! by its length as a LEB128 varint. The allocation starts with an 8-byte
//! header (a 32-bit reference count and the encoding's length) and a
//! `Labels` is one 8-byte pointer to it: half of an `Arc<[u8]>`'s 16-byte
//! header and 16-byte fat pointer, which every series in the head and every
//! scrape cache entry holds (docs/decisions/2026-12-05-series-memory.md).
//! Cloning is a reference-count bump,
//! equality and hashing are byte comparisons of the encoding, and ordering
//! follows Prometheus' `labels.Compare` (pairwise by name, then value).
//!
//! Invariant: the encoding is canonical. Pairs are sorted by name, names are
//! unique and no value is empty (an empty value means "label absent", as in
//! Prometheus), so two equal label sets always have equal bytes.

use std::alloc::Layout;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering, fence};

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";
/// Labels starting with this prefix are internal and dropped after relabeling.
pub const RESERVED_PREFIX: &str = "__";

/// One borrowed name/value pair of a [`Labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label<'a> {
    /// The label name.
    pub name: &'a str,
    /// The label value, never empty inside a [`Labels`].
    pub value: &'a str,
}

/// An immutable, sorted, deduplicated set of labels in one allocation.
pub struct Labels {
    /// A [`Shared`] header followed by `len` bytes of the encoding, or
    /// [`EMPTY`] (never counted, never freed) for the empty set.
    ptr: NonNull<Shared>,
}

/// The header of a label set's allocation; the encoding follows it.
#[repr(C)]
struct Shared {
    refs: AtomicU32,
    len: u32,
}

/// The empty label set's header: no allocation, no counting.
static EMPTY: Shared = Shared { refs: AtomicU32::new(1), len: 0 };

/// Clones past this many live references abort, as `Arc` does past
/// `isize::MAX`: a count that wrapped would free a label set still in use.
const MAX_REFS: u32 = i32::MAX as u32;

// SAFETY: the encoding is immutable once built and the reference count is
// atomic, so a `Labels` can be sent and shared like an `Arc<[u8]>`.
unsafe impl Send for Labels {}
// SAFETY: see `Send`.
unsafe impl Sync for Labels {}

fn layout(len: usize) -> Layout {
    Layout::from_size_align(std::mem::size_of::<Shared>() + len, std::mem::align_of::<Shared>())
        .expect("label set too large")
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Labels { ptr: NonNull::from(&EMPTY) }
    }

    /// A label set holding a copy of `bytes`, which must be a canonical
    /// encoding.
    fn from_encoding(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Labels::empty();
        }
        let len = u32::try_from(bytes.len()).expect("label set under 4 GiB");
        let layout = layout(bytes.len());
        // SAFETY: `layout` has a non-zero size (the header).
        let raw = unsafe { std::alloc::alloc(layout) }.cast::<Shared>();
        let Some(ptr) = NonNull::new(raw) else { std::alloc::handle_alloc_error(layout) };
        // SAFETY: `ptr` is a fresh allocation of the header plus `len`
        // bytes, aligned for the header; the copy fills exactly the bytes
        // after it.
        unsafe {
            ptr.as_ptr().write(Shared { refs: AtomicU32::new(1), len });
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                ptr.as_ptr().add(1).cast::<u8>(),
                bytes.len(),
            );
        }
        Labels { ptr }
    }

    #[inline]
    fn is_static(&self) -> bool {
        std::ptr::eq(self.ptr.as_ptr(), &EMPTY)
    }

    /// The encoding.
    #[inline]
    fn data(&self) -> &[u8] {
        // SAFETY: `ptr` points at a live header (this `Labels` holds a
        // reference) followed by `len` initialised bytes, or at `EMPTY`,
        // whose length is 0 (a zero-length slice right after it is fine).
        unsafe {
            let header = self.ptr.as_ptr();
            std::slice::from_raw_parts(header.add(1).cast::<u8>(), (*header).len as usize)
        }
    }

    /// Heap bytes of this label set's allocation (header and encoding; 0
    /// for the empty set), shared by its clones: for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        if self.is_static() { 0 } else { std::mem::size_of::<Shared>() + self.encoded_len() }
    }

    /// Builds a label set from pairs in any order. Later duplicates of a name
    /// replace earlier ones and empty values are dropped, as Prometheus'
    /// builder does. Use [`Labels::try_from_pairs`] to reject duplicates.
    pub fn new<N: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        let mut b = LabelsBuilder::new();
        for (n, v) in pairs {
            b.set(n.as_ref(), v.as_ref());
        }
        b.build()
    }

    /// Builds a label set, failing on a repeated label name.
    pub fn try_from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, DuplicateLabel> {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(n, v)| (n.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        for w in v.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(DuplicateLabel(w[0].0.clone()));
            }
        }
        Ok(Self::from_sorted_unique(
            v.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| (n.as_str(), v.as_str())),
        ))
    }

    /// Encodes pairs the caller guarantees are sorted by name, unique, and
    /// have non-empty values. Checked in debug builds.
    pub fn from_sorted_unique<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let mut len = 0;
        let mut prev: Option<&str> = None;
        for (n, v) in pairs.clone() {
            debug_assert!(prev.is_none_or(|p| p < n), "labels must be sorted and unique");
            debug_assert!(!v.is_empty(), "label values must be non-empty");
            prev = Some(n);
            len += varint_len(n.len()) + n.len() + varint_len(v.len()) + v.len();
        }
        let mut buf = Vec::with_capacity(len);
        for (n, v) in pairs {
            put_str(&mut buf, n);
            put_str(&mut buf, v);
        }
        Labels::from_encoding(&buf)
    }

    /// Iterates the pairs in name order.
    pub fn iter(&self) -> LabelsIter<'_> {
        LabelsIter { data: self.data() }
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|l| l.name == name).map(|l| l.value)
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.data().is_empty()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Size of the encoded form, the heap cost of this label set.
    pub fn encoded_len(&self) -> usize {
        self.data().len()
    }

    /// The canonical encoding (used as a hash key and in the WAL).
    pub fn as_bytes(&self) -> &[u8] {
        self.data()
    }

    /// Decodes the canonical encoding, validating it.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut data = bytes;
        let mut prev: Option<&str> = None;
        while !data.is_empty() {
            let name = std::str::from_utf8(take_bytes(&mut data)?).ok()?;
            let value = std::str::from_utf8(take_bytes(&mut data)?).ok()?;
            if prev.is_some_and(|p| p >= name) || value.is_empty() {
                return None;
            }
            prev = Some(name);
        }
        Some(Labels::from_encoding(bytes))
    }

    /// A stable 64-bit hash of the label set (xxh3 of the encoding), used
    /// for sharding and fingerprints. Stable across runs and machines.
    pub fn stable_hash(&self) -> u64 {
        xxh3_64(self.data())
    }

    /// A builder seeded with these labels, for edits.
    pub fn to_builder(&self) -> LabelsBuilder {
        let mut b = LabelsBuilder::new();
        for l in self.iter() {
            b.set(l.name, l.value);
        }
        b
    }

    /// These labels without `__name__`.
    pub fn without_metric_name(&self) -> Labels {
        if self.metric_name().is_none() {
            return self.clone();
        }
        Labels::from_sorted_unique(
            self.iter().filter(|l| l.name != METRIC_NAME).map(|l| (l.name, l.value)),
        )
    }

    /// Only the labels whose names are in `names` (the `by`/`on` grouping).
    pub fn keep_only(&self, names: &[impl AsRef<str>]) -> Labels {
        Labels::from_sorted_unique(
            self.iter()
                .filter(|l| names.iter().any(|n| n.as_ref() == l.name))
                .map(|l| (l.name, l.value)),
        )
    }

    /// All labels except those in `names` (the `without`/`ignoring` grouping).
    pub fn drop_names(&self, names: &[impl AsRef<str>]) -> Labels {
        Labels::from_sorted_unique(
            self.iter()
                .filter(|l| !names.iter().any(|n| n.as_ref() == l.name))
                .map(|l| (l.name, l.value)),
        )
    }
}

impl Clone for Labels {
    #[inline]
    fn clone(&self) -> Self {
        if !self.is_static() {
            // SAFETY: this `Labels` holds a reference, so the header is live.
            let refs = unsafe { &(*self.ptr.as_ptr()).refs };
            if refs.fetch_add(1, AtomicOrdering::Relaxed) > MAX_REFS {
                std::process::abort();
            }
        }
        Labels { ptr: self.ptr }
    }
}

impl Drop for Labels {
    #[inline]
    fn drop(&mut self) {
        if self.is_static() {
            return;
        }
        let header = self.ptr.as_ptr();
        // SAFETY: this `Labels` holds a reference, so the header is live.
        if unsafe { &(*header).refs }.fetch_sub(1, AtomicOrdering::Release) != 1 {
            return;
        }
        // The last reference: every other holder's use happened before its
        // decrement (Release), which this Acquire orders before the free.
        fence(AtomicOrdering::Acquire);
        // SAFETY: no other reference is left; the allocation was made in
        // `from_encoding` with this same layout.
        unsafe {
            let len = (*header).len as usize;
            std::alloc::dealloc(header.cast::<u8>(), layout(len));
        }
    }
}

impl Default for Labels {
    fn default() -> Self {
        Labels::empty()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr || self.data() == other.data()
    }
}
impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.data());
    }
}

impl Ord for Labels {
    /// Prometheus' order: pairwise by name, then by value; a set that is a
    /// prefix of another sorts first.
    ///
    /// Sorting selected series by labels is a large part of a query over
    /// many series, and neighbours in that order share most of their pairs,
    /// so this finds the first differing byte of the two encodings and
    /// compares only the pair holding it. Up to that byte both encodings
    /// are the same pairs, so that pair starts at the same offset in both.
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.data(), other.data());
        let d = common_prefix_len(a, b);
        if d == a.len() || d == b.len() {
            // Equal, or one is the other's leading pairs (encodings end on
            // pair boundaries).
            return a.len().cmp(&b.len());
        }
        let mut start = 0;
        loop {
            let mut rest = &a[start..];
            let pair_len = take_bytes(&mut rest)
                .and_then(|_| take_bytes(&mut rest))
                .map(|_| a.len() - start - rest.len());
            match pair_len {
                Some(n) if start + n <= d => start += n,
                _ => break,
            }
        }
        let mut x = LabelsIter { data: &a[start..] };
        let mut y = LabelsIter { data: &b[start..] };
        loop {
            match (x.next(), y.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(p), Some(q)) => {
                    let o = p.name.cmp(q.name).then_with(|| p.value.cmp(q.value));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
            }
        }
    }
}

/// Length of the longest common prefix of `a` and `b`, eight bytes at a time.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let diff = x ^ y;
        if diff != 0 {
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Formats as Prometheus does: `{__name__="up", job="node"}`.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = Label<'a>;
    type IntoIter = LabelsIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A repeated label name was given where names must be unique.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("label name {0:?} is not unique")]
pub struct DuplicateLabel(pub String);

/// Iterator over the pairs of a [`Labels`].
///
/// Only ever created over the bytes of a [`Labels`], which are valid by
/// construction (see `take_str`).
#[derive(Clone)]
pub struct LabelsIter<'a> {
    data: &'a [u8],
}

impl<'a> LabelsIter<'a> {
    fn try_next(&mut self) -> Option<Label<'a>> {
        let name = take_str(&mut self.data)?;
        let value = take_str(&mut self.data)?;
        Some(Label { name, value })
    }
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = Label<'a>;
    fn next(&mut self) -> Option<Label<'a>> {
        if self.data.is_empty() {
            return None;
        }
        self.try_next()
    }
}

/// Mutable label set used to edit labels (relabeling, PromQL label changes).
#[derive(Debug, Clone, Default)]
pub struct LabelsBuilder {
    pairs: Vec<(String, String)>,
}

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.pairs.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.pairs.remove(i);
            }
            Ok(i) => value.clone_into(&mut self.pairs[i].1),
            Err(_) if value.is_empty() => {}
            Err(i) => self.pairs.insert(i, (name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Removes `name`.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.set(name, "")
    }

    /// The current value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.pairs[i].1.as_str())
    }

    /// Keeps only the pairs for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) -> &mut Self {
        self.pairs.retain(|(n, v)| keep(n, v));
        self
    }

    /// Current pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = Label<'_>> {
        self.pairs.iter().map(|(n, v)| Label { name: n, value: v })
    }

    /// Freezes the builder into a [`Labels`].
    pub fn build(&self) -> Labels {
        Labels::from_sorted_unique(self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    let mut n = s.len();
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
    buf.extend_from_slice(s.as_bytes());
}

/// Takes one length-prefixed string from the encoding of a [`Labels`].
///
/// No UTF-8 check: a `Labels` is only built by `put_str` from `&str`s or by
/// [`Labels::from_bytes`], which validates every string of bytes read back
/// from disk or the WAL. Validating again on every read cost about half of
/// the CPU of queries over many series (label comparisons while sorting and
/// grouping iterate label sets over and over).
fn take_str<'a>(data: &mut &'a [u8]) -> Option<&'a str> {
    let bytes = take_bytes(data)?;
    // SAFETY: `data` is the encoding of a `Labels`, whose strings are valid
    // UTF-8 by construction (see above), and `take_bytes` splits it only at
    // string boundaries given by the length prefixes written with them.
    Some(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// Takes one length-prefixed byte string; `None` if the input is truncated.
fn take_bytes<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let (&b, rest) = data.split_first()?;
        *data = rest;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    if data.len() < n {
        return None;
    }
    let (s, rest) = data.split_at(n);
    *data = rest;
    Some(s)
}

/// xxh3-64 of `data` (seed 0).
pub fn xxh3_64(data: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_dedup_and_empty_values_dropped() {
        let l = Labels::new([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        let v: Vec<_> = l.iter().map(|l| (l.name, l.value)).collect();
        assert_eq!(v, [("a", "3"), ("b", "2")]);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
    }

    #[test]
    fn equality_is_canonical_and_order_matches_prometheus() {
        let a = Labels::new([("job", "x"), ("__name__", "up")]);
        let b = Labels::new([("__name__", "up"), ("job", "x")]);
        assert_eq!(a, b);
        assert_eq!(a.stable_hash(), b.stable_hash());
        let c = Labels::new([("__name__", "up")]);
        assert!(c < a);
        let long = "x".repeat(300);
        let d = Labels::new([("a", long.as_str())]);
        assert_eq!(d.get("a"), Some(long.as_str()));
        assert_eq!(Labels::from_bytes(d.as_bytes()), Some(d));
    }

    #[test]
    fn from_bytes_rejects_what_iteration_would_trust() {
        // Invalid UTF-8 in a name, then in a value.
        assert_eq!(Labels::from_bytes(&[1, 0xff, 1, b'v']), None);
        assert_eq!(Labels::from_bytes(&[1, b'n', 2, 0xc3, 0x28]), None);
        // Truncated: the length prefix promises more bytes than there are.
        assert_eq!(Labels::from_bytes(&[1, b'n', 5, b'v']), None);
        assert_eq!(Labels::from_bytes(&[1, b'n']), None);
        // Unsorted names and empty values break the canonical form.
        assert_eq!(Labels::from_bytes(&[1, b'b', 1, b'1', 1, b'a', 1, b'1']), None);
        assert_eq!(Labels::from_bytes(&[1, b'a', 0]), None);
        let ok = Labels::new([("a", "1"), ("é", "ü")]);
        let back = Labels::from_bytes(ok.as_bytes()).expect("valid encoding");
        assert_eq!(back.get("é"), Some("ü"));
    }

    #[test]
    fn clones_share_one_allocation_and_free_it_once() {
        let a = Labels::new([("job", "x"), ("instance", "host:9100")]);
        assert_eq!(std::mem::size_of::<Labels>(), 8);
        assert_eq!(std::mem::size_of::<Option<Labels>>(), 8);
        let b = a.clone();
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
        assert_eq!(a.heap_bytes(), 8 + a.encoded_len());
        drop(a);
        assert_eq!(b.get("job"), Some("x"));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let c = b.clone();
                        assert_eq!(c.get("instance"), Some("host:9100"));
                    }
                    b
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), b);
        }
        let e = Labels::empty();
        assert!(e.is_empty() && e.clone().is_empty());
        assert_eq!(e.heap_bytes(), 0);
        assert_eq!(Labels::from_bytes(&[]), Some(Labels::default()));
        assert_eq!(Labels::new([("a", "")]), e);
    }

    #[test]
    fn duplicates_rejected_when_asked() {
        assert_eq!(
            Labels::try_from_pairs([("a", "1"), ("a", "2")]),
            Err(DuplicateLabel("a".into()))
        );
    }
    /// The order of pairs compared one by one, as Prometheus defines it.
    fn reference_order(a: &Labels, b: &Labels) -> Ordering {
        let x: Vec<(&str, &str)> = a.iter().map(|l| (l.name, l.value)).collect();
        let y: Vec<(&str, &str)> = b.iter().map(|l| (l.name, l.value)).collect();
        x.cmp(&y)
    }

    fn label_set() -> impl proptest::strategy::Strategy<Value = Labels> {
        use proptest::prelude::*;
        // Few, short, overlapping names and values so that sets share long
        // prefixes, differ inside length prefixes and nest as prefixes.
        let name = prop::sample::select(vec!["a", "ab", "b", "__name__", "instance", "z"]);
        let value = prop::sample::select(vec!["", "1", "10", "2", "x", "xy", "é", "http_requests"]);
        prop::collection::vec((name, value), 0..6).prop_map(Labels::new)
    }

    proptest::proptest! {
        #[test]
        fn order_matches_pairwise_comparison(a in label_set(), b in label_set()) {
            proptest::prop_assert_eq!(a.cmp(&b), reference_order(&a, &b));
            proptest::prop_assert_eq!(b.cmp(&a), reference_order(&b, &a));
        }
    }

    #[test]
    fn order_across_long_shared_prefixes() {
        let long = "v".repeat(200);
        let a = Labels::new([("a", long.as_str()), ("b", "1")]);
        let b = Labels::new([("a", long.as_str()), ("b", "2")]);
        let c = Labels::new([("a", long.as_str())]);
        let d = Labels::new([("a", format!("{long}v").as_str())]);
        assert_eq!(a.cmp(&b), Ordering::Less);
        assert_eq!(c.cmp(&a), Ordering::Less);
        assert_eq!(a.cmp(&d), Ordering::Less);
        assert_eq!(d.cmp(&c), Ordering::Greater);
        assert_eq!(a.cmp(&a.clone()), Ordering::Equal);
    }
}
