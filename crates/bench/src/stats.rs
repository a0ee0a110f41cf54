//! Latency samples and their percentiles. Samples are kept whole (microseconds, 4 bytes
//! each): a run records at most a few million, and exact percentiles need no histogram.

use serde::Serialize;
use std::sync::Mutex;

/// A latency distribution in milliseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Samples in microseconds, shared by many tasks.
#[derive(Default)]
pub struct Samples(Mutex<Vec<u32>>);

impl Samples {
    pub fn record_us(&self, us: u64) {
        let v = us.min(u32::MAX as u64) as u32;
        self.0.lock().expect("samples lock").push(v);
    }

    pub fn summary(&self) -> Summary {
        let mut v = self.0.lock().expect("samples lock").clone();
        summarise(&mut v)
    }
}

/// The nearest-rank percentile `q` (0..=1) of sorted samples.
fn rank(sorted: &[u32], q: f64) -> u32 {
    let n = sorted.len();
    let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[i]
}

pub fn summarise(v: &mut [u32]) -> Summary {
    if v.is_empty() {
        return Summary::default();
    }
    v.sort_unstable();
    let ms = |us: u32| us as f64 / 1000.0;
    let sum: u64 = v.iter().map(|&x| x as u64).sum();
    Summary {
        count: v.len(),
        p50_ms: ms(rank(v, 0.50)),
        p99_ms: ms(rank(v, 0.99)),
        p999_ms: ms(rank(v, 0.999)),
        max_ms: ms(*v.last().expect("non-empty")),
        mean_ms: sum as f64 / v.len() as f64 / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        let s = summarise(&mut v);
        assert_eq!(s.count, 1000);
        assert_eq!(s.p50_ms, 500.0);
        assert_eq!(s.p99_ms, 990.0);
        assert_eq!(s.p999_ms, 999.0);
        assert_eq!(s.max_ms, 1000.0);
        assert_eq!(summarise(&mut []), Summary::default());
    }
}
