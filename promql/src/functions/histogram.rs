//! `histogram_quantile` over classic histograms (`le` buckets).

use super::stats::almost_equal;

/// One classic bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub(crate) upper_bound: f64,
    pub(crate) count: f64,
}

/// Result of [`bucket_quantile`] with what had to be repaired.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BucketQuantile {
    pub(crate) value: f64,
    pub(crate) forced_monotonic: bool,
}

const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// The `q`-quantile of classic buckets, as Prometheus computes it: buckets
/// sorted by bound, equal bounds merged, decreasing counts forced up
/// (counts differing only by float noise are equalised), linear
/// interpolation inside the bucket holding the rank; the lowest bucket
/// starts at 0 unless its bound is not positive; a rank in the `+Inf`
/// bucket yields the next lower bound.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [Bucket]) -> BucketQuantile {
    let plain = |value| BucketQuantile { value, forced_monotonic: false };
    if q.is_nan() {
        return plain(f64::NAN);
    }
    if q < 0.0 {
        return plain(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return plain(f64::INFINITY);
    }
    buckets.sort_by(|a, b| {
        a.upper_bound.partial_cmp(&b.upper_bound).unwrap_or(std::cmp::Ordering::Equal)
    });
    if buckets.last().is_none_or(|b| b.upper_bound != f64::INFINITY) {
        return plain(f64::NAN);
    }
    // Coalesce equal bounds.
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    let mut forced = false;
    let mut prev = merged[0].count;
    for b in merged.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    let done = |value| BucketQuantile { value, forced_monotonic: forced };
    if merged.len() < 2 {
        return done(f64::NAN);
    }
    let observations = merged[merged.len() - 1].count;
    if observations == 0.0 {
        return done(f64::NAN);
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1].partition_point(|x| x.count < rank);
    let value = if b == merged.len() - 1 {
        merged[merged.len() - 2].upper_bound
    } else if b == 0 && merged[0].upper_bound <= 0.0 {
        merged[0].upper_bound
    } else {
        let mut start = 0.0;
        let end = merged[b].upper_bound;
        let mut count = merged[b].count;
        if b > 0 {
            start = merged[b - 1].upper_bound;
            count -= merged[b - 1].count;
            rank -= merged[b - 1].count;
        }
        start + (end - start) * (rank / count)
    };
    done(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs.iter().map(|&(upper_bound, count)| Bucket { upper_bound, count }).collect()
    }

    #[test]
    fn interpolates_inside_the_bucket() {
        let mut buckets = b(&[(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 20.0)]);
        assert!((bucket_quantile(0.75, &mut buckets).value - 0.15).abs() < 1e-12);
        let mut buckets = b(&[(1.0, 0.0), (f64::INFINITY, 10.0)]);
        assert_eq!(bucket_quantile(0.5, &mut buckets).value, 1.0);
    }

    #[test]
    fn needs_an_inf_bucket_and_observations() {
        assert!(bucket_quantile(0.5, &mut b(&[(1.0, 1.0)])).value.is_nan());
        assert!(bucket_quantile(0.5, &mut b(&[(1.0, 0.0), (f64::INFINITY, 0.0)])).value.is_nan());
    }

    #[test]
    fn forces_monotonicity() {
        let mut buckets = b(&[(1.0, 10.0), (2.0, 5.0), (f64::INFINITY, 10.0)]);
        let r = bucket_quantile(0.5, &mut buckets);
        assert!(r.forced_monotonic);
        assert_eq!(r.value, 0.5);
    }
}

/// The fraction of observations between `lower` and `upper` in classic
/// buckets, as Prometheus estimates it: linear interpolation inside the
/// buckets holding the bounds, the first bucket starting at 0 (or -Inf
/// when its bound is not positive), nothing counted inside infinite-width
/// buckets.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [Bucket]) -> f64 {
    buckets.sort_by(|a, b| {
        a.upper_bound.partial_cmp(&b.upper_bound).unwrap_or(std::cmp::Ordering::Equal)
    });
    if buckets.last().is_none_or(|b| b.upper_bound != f64::INFINITY) {
        return f64::NAN;
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    let count = merged[merged.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if merged[0].upper_bound <= 0.0 { f64::NEG_INFINITY } else { 0.0 };
    for (i, b) in merged.iter().enumerate() {
        if i > 0 {
            lower_bound = merged[i - 1].upper_bound;
        }
        let upper_bound = b.upper_bound;
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b.count
            } else {
                rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

#[cfg(test)]
mod fraction_tests {
    use super::*;

    #[test]
    fn fraction_interpolates_linearly() {
        let mut buckets = vec![
            Bucket { upper_bound: 1.0, count: 10.0 },
            Bucket { upper_bound: 2.0, count: 20.0 },
            Bucket { upper_bound: f64::INFINITY, count: 20.0 },
        ];
        assert_eq!(bucket_fraction(0.0, 1.0, &mut buckets), 0.5);
        assert_eq!(bucket_fraction(0.5, 1.5, &mut buckets), 0.5);
        assert_eq!(bucket_fraction(2.0, 1.0, &mut buckets), 0.0);
        assert!(bucket_fraction(f64::NAN, 1.0, &mut buckets).is_nan());
    }
}
