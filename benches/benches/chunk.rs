//! Gorilla chunk encode and decode throughput, bytes per sample, and the
//! bit-I/O choice (hand-rolled u64 words against `bitvec`).
//!
//! Input: the seeded node_exporter-like load (`NodeLoad`, 10k series), cut
//! into 120-sample chunks as the head cuts them. Throughput is in samples per
//! CPU-second (criterion's "elements"; timed by process CPU time, see
//! `promethium_benches::cpu_time`). Before the timed benches the
//! binary prints bytes per sample in closed chunks over two hours of scrapes
//! for each jitter model.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_benches::{Jitter, NodeLoad, cpu_timed, series_samples};
use promethium_engine::chunk::{
    ChunkIterator, CompactScratch, Encoding, XorEncoder, XorIterator, compact,
};
use promethium_engine::query::SampleIterator;

const SERIES: usize = 10_000;
const PER_CHUNK: usize = 120;

/// 120 samples of each of ~10k series.
fn chunk_inputs() -> Vec<Vec<(i64, f64)>> {
    let mut load = NodeLoad::new(SERIES, 1);
    series_samples(&mut load, PER_CHUNK)
}

fn encode_all(inputs: &[Vec<(i64, f64)>], enc: &mut XorEncoder) -> usize {
    let mut bytes = 0;
    for s in inputs {
        enc.reset();
        for &(t, v) in s {
            enc.append(t, v);
        }
        bytes += enc.len_bytes();
    }
    bytes
}

/// Bytes per sample in closed 120-sample chunks over `rounds` scrapes:
/// XOR only, and as the head stores them (the smaller of XOR and decimal),
/// with the share of chunks stored decimal.
fn bytes_per_sample(jitter: Jitter, rounds: usize) -> (f64, f64, f64) {
    let mut load = NodeLoad::with_jitter(SERIES, 7, jitter);
    let samples = series_samples(&mut load, rounds);
    let mut enc = XorEncoder::new();
    let mut scratch = CompactScratch::default();
    let (mut xor, mut closed, mut n, mut chunks, mut dec) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for s in &samples {
        for c in s.chunks_exact(PER_CHUNK) {
            enc.reset();
            for &(t, v) in c {
                enc.append(t, v);
            }
            xor += enc.len_bytes();
            let (encoding, bytes) = compact(&enc, &mut scratch);
            closed += bytes.len();
            dec += usize::from(encoding == Encoding::Dec);
            chunks += 1;
            n += PER_CHUNK;
        }
    }
    (xor as f64 / n as f64, closed as f64 / n as f64, dec as f64 / chunks as f64)
}

fn report_bytes_per_sample() {
    for (name, jitter) in [
        ("prometheus-aligned jitter (default load)", Jitter::Aligned { sigma_ms: 1.0 }),
        ("raw jitter, sigma 1 ms", Jitter::Raw { sigma_ms: 1.0 }),
        ("no jitter", Jitter::None),
    ] {
        let (xor, closed, dec_share) = bytes_per_sample(jitter, 480);
        println!(
            "chunk/bytes_per_sample [{name}]: closed chunks {closed:.3} (xor only {xor:.3}; {:.0} % of chunks decimal)",
            dec_share * 100.0
        );
    }
}

fn chunk(c: &mut Criterion) {
    report_bytes_per_sample();
    let inputs = chunk_inputs();
    let samples: usize = inputs.iter().map(Vec::len).sum();
    let mut enc = XorEncoder::new();
    let chunks: Vec<Vec<u8>> = inputs
        .iter()
        .map(|s| {
            enc.reset();
            for &(t, v) in s {
                enc.append(t, v);
            }
            enc.to_bytes()
        })
        .collect();

    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("encode", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                black_box(encode_all(black_box(&inputs), &mut enc));
            })
        })
    });
    g.bench_function("decode", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                let mut acc = 0u64;
                for c in &chunks {
                    let mut it = XorIterator::new(black_box(c));
                    while it.advance() {
                        let s = it.at();
                        acc = acc.wrapping_add(s.t_ms as u64 ^ s.value.to_bits());
                    }
                }
                black_box(acc);
            })
        })
    });
    let mut scratch = CompactScratch::default();
    let closed: Vec<(Encoding, Vec<u8>)> = inputs
        .iter()
        .map(|s| {
            enc.reset();
            for &(t, v) in s {
                enc.append(t, v);
            }
            let (e, b) = compact(&enc, &mut scratch);
            (e, b.to_vec())
        })
        .collect();
    g.bench_function("compact", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                for s in black_box(&inputs) {
                    enc.reset();
                    for &(t, v) in s {
                        enc.append(t, v);
                    }
                    black_box(compact(&enc, &mut scratch).1.len());
                }
            })
        })
    });
    g.bench_function("decode_closed", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                let mut acc = 0u64;
                for (e, c) in &closed {
                    let mut it = ChunkIterator::new(*e, black_box(c));
                    while let Some(s) = it.next() {
                        acc = acc.wrapping_add(s.t_ms as u64 ^ s.value.to_bits());
                    }
                }
                black_box(acc);
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("bit_io");
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("encode_hand_rolled_u64", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                black_box(encode_all(black_box(&inputs), &mut enc));
            })
        })
    });
    let mut bv = bitvec_xor::Encoder::default();
    g.bench_function("encode_bitvec", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                let mut bytes = 0;
                for s in black_box(&inputs) {
                    bv.reset();
                    for &(t, v) in s {
                        bv.append(t, v);
                    }
                    bytes += bv.len_bits() / 8;
                }
                black_box(bytes);
            })
        })
    });
    let bv_chunks: Vec<bitvec_xor::Encoder> = inputs
        .iter()
        .map(|s| {
            let mut e = bitvec_xor::Encoder::default();
            for &(t, v) in s {
                e.append(t, v);
            }
            e
        })
        .collect();
    g.bench_function("decode_bitvec", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                let mut acc = 0u64;
                for c in &bv_chunks {
                    acc = acc.wrapping_add(black_box(c).decode_checksum());
                }
                black_box(acc);
            })
        })
    });
    g.finish();
}

/// The same XOR encoding written on `bitvec`, kept only to measure the bit
/// I/O choice. Timestamps and control bits follow `promethium_engine::chunk`
/// field for field, so both do the same number of writes of the same widths.
mod bitvec_xor {
    use bitvec::prelude::*;

    #[derive(Default)]
    pub(crate) struct Encoder {
        bits: BitVec<u64, Msb0>,
        t: i64,
        t_delta: i64,
        v_bits: u64,
        leading: u8,
        trailing: u8,
        count: u32,
    }

    impl Encoder {
        pub(crate) fn reset(&mut self) {
            self.bits.clear();
            self.count = 0;
            self.leading = 0xff;
        }

        pub(crate) fn len_bits(&self) -> usize {
            self.bits.len()
        }

        fn write(&mut self, v: u64, n: u32) {
            self.bits.extend_from_bitslice(&v.view_bits::<Msb0>()[64 - n as usize..]);
        }

        pub(crate) fn append(&mut self, t: i64, v: f64) {
            let vb = v.to_bits();
            if self.count == 0 {
                self.leading = 0xff;
                self.write(t as u64, 64);
                self.write(vb, 64);
            } else {
                let delta = t - self.t;
                let dod = delta - self.t_delta;
                if self.count == 1 {
                    self.write(delta as u64 & 0x3fff, 14);
                } else if dod == 0 {
                    self.write(0, 1);
                } else if (-127..=128).contains(&dod) {
                    self.write((0b10 << 8) | (dod as u64 & 0xff), 10);
                } else if (-8191..=8192).contains(&dod) {
                    self.write((0b110 << 14) | (dod as u64 & 0x3fff), 17);
                } else {
                    self.write(0b1111, 4);
                    self.write(dod as u64, 64);
                }
                self.t_delta = delta;
                let x = vb ^ self.v_bits;
                if x == 0 {
                    self.write(0, 1);
                } else {
                    let lead = (x.leading_zeros() as u8).min(31);
                    let trail = x.trailing_zeros() as u8;
                    if self.leading != 0xff && lead >= self.leading && trail >= self.trailing {
                        let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
                        self.write(0b10, 2);
                        self.write(x >> self.trailing, sig);
                    } else {
                        self.leading = lead;
                        self.trailing = trail;
                        let sig = 64 - u32::from(lead) - u32::from(trail);
                        self.write(0b11, 2);
                        self.write(u64::from(lead), 5);
                        self.write(u64::from(sig & 63), 6);
                        self.write(x >> trail, sig);
                    }
                }
            }
            self.t = t;
            self.v_bits = vb;
            self.count += 1;
        }

        /// Decodes every sample, returning a checksum of them.
        pub(crate) fn decode_checksum(&self) -> u64 {
            let b = self.bits.as_bitslice();
            let mut pos = 0usize;
            let mut read = |n: usize| -> u64 {
                let v = if n == 0 { 0 } else { b[pos..pos + n].load_be::<u64>() };
                pos += n;
                v
            };
            let mut t = read(64) as i64;
            let mut v = read(64);
            let mut acc = (t as u64) ^ v;
            let (mut t_delta, mut leading, mut trailing) = (0i64, 0u32, 0u32);
            for i in 1..self.count {
                if i == 1 {
                    t_delta = read(14) as i64;
                } else if read(1) == 1 {
                    let dod = if read(1) == 0 {
                        let x = read(8);
                        if x > 128 { x as i64 - 256 } else { x as i64 }
                    } else if read(1) == 0 {
                        let x = read(14);
                        if x > 8192 { x as i64 - 16384 } else { x as i64 }
                    } else {
                        read(1);
                        read(64) as i64
                    };
                    t_delta += dod;
                }
                t += t_delta;
                if read(1) == 1 {
                    if read(1) == 1 {
                        leading = read(5) as u32;
                        let mut sig = read(6) as u32;
                        if sig == 0 {
                            sig = 64;
                        }
                        trailing = 64 - leading - sig;
                    }
                    let sig = 64 - leading - trailing;
                    v ^= read(sig as usize) << trailing;
                }
                acc = acc.wrapping_add((t as u64) ^ v);
            }
            acc
        }
    }
}

criterion_group!(benches, chunk);
criterion_main!(benches);
