//! Statistics over lists of durations and the comparison of a value with its target.

use serde::Serialize;

/// Whether a value meets its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Meets the target.
    Met,
    /// Misses the target.
    Missed,
    /// Nothing to measure.
    NoData,
    /// The metric has no target (rework rate): shown, not judged.
    NoTarget,
}

/// [`Status::Met`] when `v` is at least `target`.
pub fn status_at_least(v: Option<f64>, target: f64) -> Status {
    match v {
        None => Status::NoData,
        Some(x) if x >= target => Status::Met,
        Some(_) => Status::Missed,
    }
}

/// [`Status::Met`] when `v` is under `target`.
pub fn status_under<T: PartialOrd>(v: Option<T>, target: T) -> Status {
    match v {
        None => Status::NoData,
        Some(x) if x < target => Status::Met,
        Some(_) => Status::Missed,
    }
}

/// Median and p90 of a list of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    /// Number of values.
    pub count: u64,
    /// Median (ms), `None` when there are no values.
    pub median_ms: Option<i64>,
    /// p90 by nearest rank (ms).
    pub p90_ms: Option<i64>,
}

/// Median (mean of the two middle values, rounded down, for even counts) and nearest-rank p90.
pub fn spread(mut v: Vec<i64>) -> Spread {
    v.sort_unstable();
    let n = v.len();
    let median = match n {
        0 => None,
        _ if n % 2 == 1 => v.get(n / 2).copied(),
        _ => match (v.get(n / 2 - 1), v.get(n / 2)) {
            (Some(&a), Some(&b)) => Some(a + (b - a).div_euclid(2)),
            _ => None,
        },
    };
    // Nearest rank: ceil(0.9 n), 1-based.
    let rank = (9 * n).div_ceil(10);
    let p90 = if n == 0 {
        None
    } else {
        v.get(rank.saturating_sub(1)).copied()
    };
    Spread {
        count: n as u64,
        median_ms: median,
        p90_ms: p90,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_by_hand() {
        assert_eq!(
            spread(vec![]),
            Spread {
                count: 0,
                median_ms: None,
                p90_ms: None
            }
        );
        assert_eq!(
            spread(vec![5]),
            Spread {
                count: 1,
                median_ms: Some(5),
                p90_ms: Some(5)
            }
        );
        // Sorted 1,2,3,4: median (2+3)/2 = 2 (rounded down), p90 rank ceil(3.6) = 4 -> 4.
        assert_eq!(
            spread(vec![4, 1, 3, 2]),
            Spread {
                count: 4,
                median_ms: Some(2),
                p90_ms: Some(4)
            }
        );
        // 1..=10: median (5+6)/2 = 5, p90 rank 9 -> 9.
        assert_eq!(
            spread((1..=10).rev().collect()),
            Spread {
                count: 10,
                median_ms: Some(5),
                p90_ms: Some(9)
            }
        );
        // 1..=11: median 6, p90 rank ceil(9.9) = 10 -> 10.
        assert_eq!(
            spread((1..=11).collect()),
            Spread {
                count: 11,
                median_ms: Some(6),
                p90_ms: Some(10)
            }
        );
    }
}
