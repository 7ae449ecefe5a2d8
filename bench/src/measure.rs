//! Measurement: a loop bounded by a count *and* a wall-clock cap, per-call latency samples, and
//! the one JSON line every subcommand prints (`run.py` parses it).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::BenchError;

/// Number of distinct hash fields the HSET/HGET scenario cycles through, and keys the xproc
/// dict scenario does (here, not in `resp`, which is Unix-only).
pub const KEYS: u64 = 1000;

/// How long a scenario runs: at most `iters` operations and at most `secs` seconds, after
/// `warmup` untimed calls.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Upper bound on timed operations.
    pub iters: u64,
    /// Wall-clock cap on the timed part, in seconds.
    pub secs: f64,
    /// Untimed calls before the clock starts (connection set-up, page faults, allocator warm-up).
    pub warmup: u64,
}

/// The result of one scenario run, printed as one JSON line on stdout.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Scenario name, as `run.py` knows it.
    pub scenario: String,
    /// Operations completed in the timed part (what "op" means is the scenario's doc).
    pub ops: u64,
    /// Length of the timed part.
    pub secs: f64,
    /// `ops / secs`.
    pub ops_per_s: f64,
    /// Median time of one call, in microseconds (absent when calls are not timed one by one).
    pub p50_us: Option<f64>,
    /// 99th percentile of one call, in microseconds.
    pub p99_us: Option<f64>,
    /// Anything a reader needs to interpret the row (batch size, who counted).
    pub note: Option<String>,
}

impl Outcome {
    /// An outcome measured outside [`measure`] (e.g. by a consumer process).
    pub fn from_count(scenario: &str, ops: u64, elapsed: Duration, note: Option<String>) -> Self {
        let secs = elapsed.as_secs_f64();
        Outcome {
            scenario: scenario.to_owned(),
            ops,
            secs,
            ops_per_s: if secs > 0.0 { ops as f64 / secs } else { 0.0 },
            p50_us: None,
            p99_us: None,
            note,
        }
    }

    /// Prints the outcome as one JSON line on stdout.
    pub fn print(&self) -> Result<(), BenchError> {
        println!("{}", serde_json::to_string(self)?);
        Ok(())
    }
}

/// Calls `call(i)` until `bounds` says stop; each call performs `ops_per_call` operations.
///
/// `i` counts calls from 0 across warm-up and timed part, so a scenario that alternates (put,
/// get, put, ...) can use its parity; the warm-up is rounded up to an even count for that reason.
/// Every timed call is timed on its own (one `Instant::now()` per call, ~20 ns, negligible
/// against the ≥ 10 µs round trips measured here) to report p50/p99.
pub fn measure<F>(
    scenario: &str,
    bounds: &Bounds,
    ops_per_call: u64,
    note: Option<String>,
    mut call: F,
) -> Result<Outcome, BenchError>
where
    F: FnMut(u64) -> Result<(), BenchError>,
{
    let warmup = bounds.warmup + bounds.warmup % 2;
    for i in 0..warmup {
        call(i)?;
    }
    let max_calls = (bounds.iters / ops_per_call.max(1)).max(1);
    let mut samples: Vec<u32> = Vec::with_capacity(max_calls.min(4_000_000) as usize);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(bounds.secs.max(0.001));
    let mut prev = start;
    let mut calls = 0u64;
    while calls < max_calls {
        call(warmup + calls)?;
        let now = Instant::now();
        if samples.len() < samples.capacity() {
            samples.push(u32::try_from((now - prev).as_nanos()).unwrap_or(u32::MAX));
        }
        prev = now;
        calls += 1;
        if now >= deadline {
            break;
        }
    }
    let elapsed = prev - start;
    let mut out = Outcome::from_count(scenario, calls * ops_per_call, elapsed, note);
    samples.sort_unstable();
    out.p50_us = percentile_us(&samples, 0.50);
    out.p99_us = percentile_us(&samples, 0.99);
    Ok(out)
}

/// The `q` quantile of sorted nanosecond samples, in microseconds.
fn percentile_us(sorted_ns: &[u32], q: f64) -> Option<f64> {
    if sorted_ns.is_empty() {
        return None;
    }
    let idx = ((sorted_ns.len() - 1) as f64 * q).round() as usize;
    Some(f64::from(sorted_ns[idx.min(sorted_ns.len() - 1)]) / 1000.0)
}

/// memcpy of `size` bytes at a time between two 256 MiB buffers, walking through them so
/// every copy comes from and goes to DRAM, not cache. One op = one copy of `size` bytes.
pub fn memcpy(size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    const BUF: usize = 256 << 20;
    let size = size.clamp(1, BUF);
    let src = payload(BUF);
    let mut dst = vec![0u8; BUF];
    let slots = BUF / size;
    let mut out = measure("memcpy", bounds, 1, None, |i| {
        let at = (i as usize % slots) * size;
        dst[at..at + size].copy_from_slice(std::hint::black_box(&src[at..at + size]));
        std::hint::black_box(&dst);
        Ok(())
    })?;
    out.note = Some(format!("{size} B per copy, 256 MiB buffers"));
    Ok(out)
}

/// The value every scenario moves: `size` bytes of a fixed, non-zero pattern.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_sample() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile_us(&v, 0.5), Some(51.0));
        assert_eq!(percentile_us(&v, 0.99), Some(99.0));
        assert_eq!(percentile_us(&[], 0.5), None);
    }

    #[test]
    fn measure_stops_at_the_count_and_keeps_parity() {
        let bounds = Bounds {
            iters: 10,
            secs: 60.0,
            warmup: 3,
        };
        let mut seen = Vec::new();
        let out = measure("t", &bounds, 1, None, |i| {
            seen.push(i);
            Ok(())
        })
        .expect("measure");
        assert_eq!(out.ops, 10);
        // warm-up rounded up to 4, so the timed part starts on an even index
        assert_eq!(seen.len(), 14);
        assert_eq!(seen[4], 4);
    }
}
