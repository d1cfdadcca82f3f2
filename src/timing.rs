//! Per-target timing (feature `timing`): average queue depth and broadcast-to-receive latency.
//!
//! Off by default: without the feature this file is not compiled, and
//! [`Target`](crate::Target), [`Descriptor`](crate::Descriptor) and
//! [`TargetStats`](crate::metrics::TargetStats) have no timing fields (C: `msg_target_t`,
//! `pool_msg_t` and `struct msg_target_stats` have them under `CONFIG_DISPATCHER_POOL_TIMING`).
//!
//! # What is measured
//!
//! * **Queue depth**: after each successful put of a broadcast (pointer or value mode), the
//!   target queue's [`len`](crate::Queue::len) is added to a sum and a sample count. The
//!   snapshot reports `sum / samples`, ×100.
//! * **Latency** (pointer mode only): a broadcast stamps its entry with the port's cycle
//!   counter ([`Port::cycles`]) once, before the first put;
//!   [`Pool::accept`] (what `receive` and C's `msg_receive` go through)
//!   records `now - stamp`, in microseconds, into the target's min, max and histogram. A
//!   value-mode item is a copy without a descriptor: it is not measured (its depth is). A
//!   port whose [`cycles_per_sec`](Port::cycles_per_sec) is 0 has no clock: nothing is
//!   recorded. The stamp wraps with the 32-bit counter: a latency longer than one wrap
//!   (2³² cycles: 358 s at 12 MHz, 17.9 s at 240 MHz) is reported modulo the wrap.
//!   An entry re-broadcast while earlier receivers still hold it is stamped again: those
//!   receivers then measure from the later broadcast.
//!
//! # Histogram and resolution
//!
//! [`BUCKETS`] = 44 buckets of `u32` (176 bytes): values 0, 1, 2, 3 µs exactly, then two
//! buckets per power of two, `[2^e, 1.5·2^e)` and `[1.5·2^e, 2^(e+1))`, for e = 2..=21, i.e. up to
//! 4.19 s; the last bucket also takes everything above. A percentile is the nearest-rank
//! bucket's midpoint, clamped to the recorded min and max: at most 25 % from the exact
//! nearest-rank value (exact below 4 µs). Above 3.1 s (the last bucket) it is only known to
//! lie between 3.1 s and the max. The whole per-target state is [`WORDS`] = 49 words (196 bytes).
//!
//! # Wrap-around
//!
//! All counters are Relaxed `u32` atomics (Xtensa has no 64-bit ones), updated without locks
//! from any number of producers and consumers: a snapshot taken during updates may be off by
//! the updates in flight.
//! * depth: each sample is clamped to 65535; when the sum or the count reaches 2³¹ the
//!   caller that crossed it halves both (so the average stays right and older samples weigh
//!   less from then on); `depth_samples` in the stats is the count since the last halving.
//! * latency: `latency_count` wraps at 2³² like every other counter; a histogram bucket that
//!   reaches 2³¹ halves all the buckets (the percentiles stay right).

use crate::port::Port;
use crate::sync::{AtomicU32, Ordering};
#[cfg(doc)]
use crate::Pool;

/// Histogram buckets per target.
pub const BUCKETS: usize = 44;
/// Words (`u32`) of per-target timing state: what C's `msg_target_t` reserves for it.
pub const WORDS: usize = 5 + BUCKETS;
/// A counter at or above this is halved (with its companions) by the caller that crossed it.
const HALVE_AT: u32 = 1 << 31;
/// Largest depth sample (a larger queue length counts as this).
const DEPTH_CLAMP: u32 = u16::MAX as u32;

/// The histogram bucket of `us` microseconds.
#[inline]
pub fn bucket_of(us: u32) -> usize {
    if us < 4 {
        return us as usize;
    }
    let e = 31 - us.leading_zeros(); // floor(log2 us) >= 2
    let half = (us >> (e - 1)) & 1;
    let i = 4 + (e as usize - 2) * 2 + half as usize;
    i.min(BUCKETS - 1)
}

/// The values bucket `i` holds, `(lowest, highest)`, both inclusive (the last bucket's
/// nominal range; it also holds everything above).
pub fn bucket_range(i: usize) -> (u32, u32) {
    if i < 4 {
        return (i as u32, i as u32);
    }
    let e = ((i - 4) / 2 + 2) as u32;
    let half = ((i - 4) % 2) as u32;
    let lo = (1u32 << e) + half * (1u32 << (e - 1));
    (lo, lo + (1u32 << (e - 1)) - 1)
}

/// One target's timing state (feature `timing`), inside [`Target`](crate::Target).
#[repr(C)]
pub struct TargetTiming {
    depth_sum: AtomicU32,
    depth_samples: AtomicU32,
    lat_count: AtomicU32,
    /// `u32::MAX` until the first latency.
    lat_min: AtomicU32,
    lat_max: AtomicU32,
    hist: [AtomicU32; BUCKETS],
}

const _: () = assert!(core::mem::size_of::<TargetTiming>() == WORDS * 4);

/// What a snapshot derives from [`TargetTiming`]: the timing fields of
/// [`TargetStats`](crate::metrics::TargetStats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimingStats {
    /// Average queue depth after a put, ×100 (0 without samples).
    pub avg_depth_x100: u32,
    /// Depth samples behind the average (since the last halving).
    pub depth_samples: u32,
    /// Latencies recorded (wrapping).
    pub latency_count: u32,
    /// Smallest latency, µs (0 without samples).
    pub latency_min_us: u32,
    /// Median latency, µs (histogram estimate).
    pub latency_p50_us: u32,
    /// 99th-percentile latency, µs (histogram estimate).
    pub latency_p99_us: u32,
    /// Largest latency, µs.
    pub latency_max_us: u32,
}

impl TargetTiming {
    crate::sync::const_fn! {
        /// No samples.
        pub fn new() -> TargetTiming {
            TargetTiming {
                depth_sum: AtomicU32::new(0),
                depth_samples: AtomicU32::new(0),
                lat_count: AtomicU32::new(0),
                lat_min: AtomicU32::new(u32::MAX),
                lat_max: AtomicU32::new(0),
                hist: [const { AtomicU32::new(0) }; BUCKETS],
            }
        }
    }

    /// Adds one queue-depth sample (the queue's length after a put).
    #[inline]
    pub fn sample_depth(&self, len: usize) {
        let d = (len as u64).min(DEPTH_CLAMP as u64) as u32;
        let n = self
            .depth_samples
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        let s = self
            .depth_sum
            .fetch_add(d, Ordering::Relaxed)
            .wrapping_add(d);
        if n == HALVE_AT || (s >= HALVE_AT && s - d < HALVE_AT) {
            halve(&self.depth_samples);
            halve(&self.depth_sum);
        }
    }

    /// Records the latency of an item stamped with `sent` (the port's cycle counter at the
    /// broadcast); nothing when the port has no clock.
    #[inline]
    pub fn record_since<P: Port + ?Sized>(&self, port: &P, sent: u32) {
        let hz = port.cycles_per_sec();
        if hz == 0 {
            return;
        }
        let cycles = port.cycles().wrapping_sub(sent);
        self.record_us(cycles_to_us(cycles, hz));
    }

    /// Records one latency of `us` microseconds.
    pub fn record_us(&self, us: u32) {
        self.lat_count.fetch_add(1, Ordering::Relaxed);
        // A load first: most samples change neither extreme, and a load is no RMW.
        if us < self.lat_min.load(Ordering::Relaxed) {
            self.lat_min.fetch_min(us, Ordering::Relaxed);
        }
        if us > self.lat_max.load(Ordering::Relaxed) {
            self.lat_max.fetch_max(us, Ordering::Relaxed);
        }
        let c = self.hist[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        if c.wrapping_add(1) == HALVE_AT {
            for b in &self.hist {
                halve(b);
            }
        }
    }

    /// The derived figures (percentiles from the histogram).
    pub fn stats(&self) -> TimingStats {
        let r = |a: &AtomicU32| a.load(Ordering::Relaxed);
        let samples = r(&self.depth_samples);
        let sum = r(&self.depth_sum);
        let avg_depth_x100 = if samples == 0 {
            0
        } else {
            (u64::from(sum) * 100 / u64::from(samples)).min(u64::from(u32::MAX)) as u32
        };
        let hist: [u32; BUCKETS] = core::array::from_fn(|i| r(&self.hist[i]));
        let min = r(&self.lat_min);
        let max = r(&self.lat_max);
        let (min, max) = if min > max { (0, 0) } else { (min, max) };
        TimingStats {
            avg_depth_x100,
            depth_samples: samples,
            latency_count: r(&self.lat_count),
            latency_min_us: min,
            latency_p50_us: percentile(&hist, 50, min, max),
            latency_p99_us: percentile(&hist, 99, min, max),
            latency_max_us: max,
        }
    }
}

impl Default for TargetTiming {
    fn default() -> Self {
        Self::new()
    }
}

/// Halves a counter (a racy read-modify-write is fine: these are statistics).
fn halve(a: &AtomicU32) {
    let v = a.load(Ordering::Relaxed);
    a.fetch_sub(v / 2, Ordering::Relaxed);
}

/// `cycles` of a `hz` counter in microseconds (rounded down, saturating at `u32::MAX`).
/// A whole number of MHz (12 MHz SysTick, 240 MHz CPU clocks) takes a 32-bit division; other
/// rates (a 32768 Hz RTC) a 64-bit one, a library call on 32-bit MCUs.
#[inline]
pub fn cycles_to_us(cycles: u32, hz: u32) -> u32 {
    if hz == 0 {
        return 0;
    }
    if hz.is_multiple_of(1_000_000) {
        return cycles / (hz / 1_000_000);
    }
    (u64::from(cycles) * 1_000_000 / u64::from(hz)).min(u64::from(u32::MAX)) as u32
}

/// The `pct`-th percentile (nearest rank: the smallest value with at least `pct` % of the
/// samples at or below it) estimated from `hist`: the bucket's midpoint clamped to
/// `[min, max]`; 0 when `hist` is empty.
pub fn percentile(hist: &[u32; BUCKETS], pct: u32, min: u32, max: u32) -> u32 {
    let total: u64 = hist.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return 0;
    }
    // rank = ceil(pct/100 * total), at least 1.
    let rank = (total * u64::from(pct)).div_ceil(100).max(1);
    let mut seen = 0u64;
    for (i, &c) in hist.iter().enumerate() {
        seen += u64::from(c);
        if seen >= rank {
            let (lo, hi) = bucket_range(i);
            let mid = lo + (hi - lo) / 2;
            return mid.clamp(min, max.max(min));
        }
    }
    max
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// The exact nearest-rank percentile.
    fn exact(sorted: &[u32], pct: u32) -> u32 {
        let rank = (sorted.len() as u64 * u64::from(pct)).div_ceil(100).max(1);
        sorted[rank as usize - 1]
    }

    #[test]
    fn buckets_tile_the_range_without_gaps() {
        assert_eq!(bucket_range(0), (0, 0));
        assert_eq!(bucket_range(3), (3, 3));
        assert_eq!(bucket_range(4), (4, 5));
        assert_eq!(bucket_range(5), (6, 7));
        assert_eq!(bucket_range(6), (8, 11));
        for i in 1..BUCKETS {
            assert_eq!(bucket_range(i).0, bucket_range(i - 1).1 + 1, "bucket {i}");
        }
        assert_eq!(bucket_range(BUCKETS - 1), (3 << 20, (1 << 22) - 1));
        for i in 0..BUCKETS {
            let (lo, hi) = bucket_range(i);
            assert_eq!(bucket_of(lo), i);
            assert_eq!(bucket_of(hi), i);
        }
        assert_eq!(bucket_of(u32::MAX), BUCKETS - 1);
    }

    #[test]
    fn average_depth_and_latency_extremes() {
        let t = TargetTiming::new();
        assert_eq!(t.stats(), TimingStats::default());
        for len in [1, 2, 4] {
            t.sample_depth(len);
        }
        for us in [500, 2000, 1000] {
            t.record_us(us);
        }
        let s = t.stats();
        assert_eq!(s.avg_depth_x100, 233); // 7 / 3
        assert_eq!(s.depth_samples, 3);
        assert_eq!(s.latency_count, 3);
        assert_eq!((s.latency_min_us, s.latency_max_us), (500, 2000));
        // 1000 lies in [768, 1023]: midpoint 895.
        assert_eq!(s.latency_p50_us, 895);
        // 2000 lies in [1536, 2047]: midpoint 1791 (inside [min, max], so not clamped).
        assert_eq!(s.latency_p99_us, 1791);
    }

    #[test]
    fn depth_is_halved_before_it_wraps() {
        let t = TargetTiming::new();
        t.depth_sum.store(HALVE_AT - 10, Ordering::Relaxed);
        t.depth_samples
            .store((HALVE_AT - 10) / 5, Ordering::Relaxed);
        t.sample_depth(10); // crosses 2^31: both halved
        let s = t.stats();
        assert!(s.depth_samples < HALVE_AT / 8, "{s:?}");
        assert_eq!(s.avg_depth_x100, 500);
        // A huge queue length is clamped, not wrapped.
        let u = TargetTiming::new();
        u.sample_depth(usize::MAX);
        assert_eq!(u.stats().avg_depth_x100, DEPTH_CLAMP * 100);
    }

    #[test]
    fn histogram_is_halved_before_it_wraps() {
        let t = TargetTiming::new();
        t.hist[bucket_of(100)].store(HALVE_AT - 1, Ordering::Relaxed);
        t.hist[bucket_of(10)].store(10, Ordering::Relaxed);
        t.record_us(100);
        assert_eq!(t.hist[bucket_of(100)].load(Ordering::Relaxed), HALVE_AT / 2);
        assert_eq!(t.hist[bucket_of(10)].load(Ordering::Relaxed), 5);
    }

    #[test]
    fn cycles_convert_to_microseconds() {
        assert_eq!(cycles_to_us(12, 12_000_000), 1);
        assert_eq!(cycles_to_us(u32::MAX, 12_000_000), 357_913_941);
        assert_eq!(cycles_to_us(32_768, 32_768), 1_000_000);
        assert_eq!(cycles_to_us(u32::MAX, 1), u32::MAX);
        assert_eq!(cycles_to_us(5, 0), 0);
    }

    /// Through the pool: depth is sampled at each put of a broadcast (both modes), latency at
    /// each pointer-mode receive (value mode: none).
    #[cfg(feature = "std")]
    #[test]
    fn broadcast_and_receive_record_depth_and_latency() {
        use crate::host::{HostPool, HostQueue};
        use crate::{Mode, MsgHeader, PoolConfig, Received, Target, Timeout};
        let host = HostPool::new(PoolConfig::new(8, 64)).unwrap();
        let pool = host.pool();
        let ptr = Target::new(HostQueue::pointers(8), Mode::Pointer, 1).unwrap();
        let val = Target::new(HostQueue::values(8, MsgHeader::SIZE + 64), Mode::Value, 2).unwrap();
        // The latency runs from the broadcast's stamp, not from the port's epoch.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let t0 = std::time::Instant::now();
        for _ in 0..3 {
            let m = pool.try_alloc().unwrap();
            assert_eq!(pool.broadcast(m, &[&ptr, &val]), Ok(2));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
        for _ in 0..3 {
            assert!(matches!(
                pool.receive(&ptr, None, Timeout::NoWait),
                Ok(Received::Msg(_))
            ));
            let mut buf = [0u8; MsgHeader::SIZE + 64];
            assert!(matches!(
                pool.receive(&val, Some(&mut buf), Timeout::NoWait),
                Ok(Received::Value(_))
            ));
        }
        let elapsed_us = t0.elapsed().as_micros() as u32;
        let p = ptr.stats();
        assert_eq!((p.avg_depth_x100, p.depth_samples), (200, 3)); // depths 1, 2, 3
        assert_eq!(p.latency_count, 3);
        assert!(p.latency_min_us >= 2000, "{p:?}");
        assert!(p.latency_min_us <= p.latency_p50_us && p.latency_p50_us <= p.latency_p99_us);
        assert!(p.latency_p99_us <= p.latency_max_us, "{p:?}");
        assert!(p.latency_max_us <= elapsed_us, "{p:?} in {elapsed_us} us");
        let v = val.stats();
        assert_eq!((v.avg_depth_x100, v.depth_samples), (200, 3));
        assert_eq!(
            v.latency_count, 0,
            "value items have no descriptor: not measured"
        );
        assert_eq!(v.latency_max_us, 0);
    }

    proptest! {
        /// The 32-bit path for whole MHz rates gives what the exact 64-bit formula gives.
        #[test]
        fn whole_mhz_conversion_is_exact(cycles in any::<u32>(), mhz in 1u32..=4000) {
            let hz = mhz * 1_000_000;
            prop_assert_eq!(
                u64::from(cycles_to_us(cycles, hz)),
                u64::from(cycles) * 1_000_000 / u64::from(hz)
            );
        }

        /// p50 and p99 are within the stated 25 % of the exact nearest-rank values.
        #[test]
        fn percentiles_are_within_the_bucket_error(
            mut v in proptest::collection::vec(
                prop_oneof![0u32..16, 0u32..5_000, 0u32..4_000_000], 1..400)
        ) {
            let t = TargetTiming::new();
            for &us in &v {
                t.record_us(us);
            }
            v.sort_unstable();
            let s = t.stats();
            prop_assert_eq!(s.latency_min_us, v[0]);
            prop_assert_eq!(s.latency_max_us, *v.last().unwrap());
            prop_assert_eq!(s.latency_count as usize, v.len());
            for (pct, got) in [(50, s.latency_p50_us), (99, s.latency_p99_us)] {
                let want = exact(&v, pct);
                let err = u64::from(got.abs_diff(want));
                prop_assert!(err * 4 <= u64::from(want), "p{} = {} vs exact {} in {:?}",
                    pct, got, want, Vec::from(&v[..v.len().min(20)]));
            }
        }
    }
}
