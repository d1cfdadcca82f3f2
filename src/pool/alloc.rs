//! Allocation: non-blocking, blocking with a timeout, and the wake-up protocol.
//!
//! # Blocking allocation without lost wake-ups
//!
//! The hot paths make no kernel call and no fence unless somebody waits. The free list's head
//! carries the waiting flag (see `freelist`): a blocking allocator that finds the list empty
//! sets it with a CAS before it sleeps on the port semaphore, and a free whose push takes the
//! flag off gives the semaphore. The flag CAS and the push are read-modify-writes of the same
//! word, so one of them sees the other: the flag comes first and the push gives, or the push
//! comes first, the flag CAS fails and the allocator pops instead of sleeping.
//!
//! One flag stands for any number of sleepers, and one push wakes one. So an allocator that
//! waited and then got its entry passes the baton: it gives the semaphore once, and the next
//! sleeper (if any) wakes, pops, or flags the list again and sleeps. A give with nobody asleep
//! is harmless: the token left in the semaphore makes a later take return at once (the
//! allocator re-checks and sleeps again); a give ignored at the semaphore's limit means the
//! count is already positive, so no sleeper can miss it. The baton costs a kernel call only on
//! the slow path, after a wait. The loom models
//! `blocking_alloc_is_woken_by_a_free` and `two_blocked_allocators_both_get_an_entry` check
//! this with a semaphore limit of 1; their mutations (a push that ignores the flag, no baton
//! pass, a waiter that sleeps when its flag CAS lost to a push) deadlock in loom.
//! Each pool has its own semaphore (its own port), so waiters of one pool are never woken by
//! frees of another.
//!
//! # A port that loses a give
//!
//! The proof above assumes every `sem_give` reaches the semaphore. A port whose give can fail
//! (an error of the OS call, a C port bug; `tests/faults.rs` injects it) would leave a waiter
//! asleep next to a free entry: a [`Timeout::Forever`] waiter forever. So no single wait is
//! longer than [`WAIT_SLICE_MS`]: a waiter wakes at least that often, re-checks the free list
//! and sleeps again (a timed waiter until its deadline). A lost give then delays a waiter by at
//! most one slice; with a working port the slices change nothing but an extra wake-up every
//! `WAIT_SLICE_MS` while a waiter starves.

use super::Pool;
use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::header::MsgHeader;
use crate::metrics::Counters;
use crate::port::{Port, Timeout};
use crate::sync::Ordering;

/// Longest single semaphore wait of a blocking allocation, in milliseconds: a waiter
/// re-checks the free list at least this often, so a lost `sem_give` cannot strand it.
pub const WAIT_SLICE_MS: u32 = 100;

impl<'a, P: Port> Pool<'a, P> {
    /// The descriptor of a just-popped index, marked allocated, its message header cleared
    /// (no field of the entry's previous message reaches the new owner: a producer that sets
    /// only some fields never forwards a stale `context` or target list).
    #[inline]
    fn allocated(&self, index: u16) -> &'a Descriptor {
        let d = &self.descs[index as usize];
        d.set_allocated(self.age_stamp());
        let msg = d.msg_ptr();
        // SAFETY: the entry was just popped off the free list, so this thread holds its only
        // reference and nobody else reads or writes its message; every pool entry's message is
        // a header-aligned slot of the region, at least a header long.
        unsafe { msg.write(MsgHeader::empty_at(msg)) };
        d
    }

    /// The allocation time a leak report measures ages from: the port's clock with the
    /// `leak-age` feature, else 0 without reading it (on Zephyr `k_uptime_get_32()` is about
    /// 70 instructions, a quarter of an allocation and its free).
    #[inline]
    pub(super) fn age_stamp(&self) -> u32 {
        #[cfg(feature = "leak-age")]
        {
            self.port.now_ms()
        }
        #[cfg(not(feature = "leak-age"))]
        {
            0
        }
    }

    /// Takes a free entry without waiting (refcount 1: the caller's reference). ISR-safe.
    /// An empty pool counts an alloc failure.
    ///
    /// The returned descriptor carries the caller's reference: hand it on with
    /// [`broadcast_raw`](Self::broadcast_raw) or release it with [`unref_raw`](Self::unref_raw)
    /// (both `unsafe`), or adopt it with [`from_raw`](Self::from_raw). Prefer
    /// [`try_alloc`](Self::try_alloc), which returns a handle.
    #[inline]
    pub fn try_alloc_raw(&self) -> Result<&'a Descriptor, PoolError> {
        match self.free.pop(self.descs) {
            Some(index) => Ok(self.allocated(index)),
            None => {
                Counters::bump(&self.counters.alloc_failures);
                Err(PoolError::Exhausted)
            }
        }
    }

    /// Takes a free entry, waiting up to `timeout` for one to be freed.
    ///
    /// From an ISR only [`Timeout::NoWait`] is allowed ([`PoolError::BlockingInIsr`] otherwise).
    /// A timeout counts an alloc failure and returns [`PoolError::Timeout`]
    /// ([`PoolError::Exhausted`] for `NoWait`).
    pub fn alloc_blocking_raw(&self, timeout: Timeout) -> Result<&'a Descriptor, PoolError> {
        if timeout != Timeout::NoWait && self.port.in_isr() {
            return Err(PoolError::BlockingInIsr);
        }
        // The first pass is the fast path (a plain pop); `start` is set once this thread
        // waits, after which each pass pops or flags the empty list before sleeping.
        let mut start = None;
        let result = loop {
            if let Some(index) = self.free.take(self.descs, start.is_some()) {
                break Ok(self.allocated(index));
            }
            let wait = match (timeout, start) {
                (Timeout::NoWait, _) => break Err(PoolError::Exhausted),
                (_, None) => {
                    start = Some(self.port.now_ms());
                    // A diagnostic (`waiters()`), not part of the wake-up protocol.
                    self.waiters.fetch_add(1, Ordering::Relaxed);
                    continue; // pop again, flagging the list if it is still empty
                }
                (Timeout::Millis(ms), Some(start)) => {
                    // The clock counts whole milliseconds, so a reading of exactly `ms` can
                    // come up to 1 ms of real time early: the wait ends only once more than
                    // `ms` have been read (never before its timeout); a reading of exactly
                    // `ms` waits 1 ms more. The first wait asks for `ms` itself, so a tick-based
                    // port (`K_MSEC` rounds up to ticks) does not wait an extra tick.
                    let elapsed = self.port.now_ms().wrapping_sub(start);
                    if elapsed > ms || ms == 0 {
                        break Err(PoolError::Timeout);
                    }
                    Timeout::Millis((ms - elapsed).clamp(1, WAIT_SLICE_MS))
                }
                // Forever, in bounded slices.
                (Timeout::Forever, Some(_)) => Timeout::Millis(WAIT_SLICE_MS),
            };
            // Whether a token was taken or not, loop: pop or flag again, then the deadline.
            self.port.sem_take(wait);
        };
        if start.is_some() {
            self.waiters.fetch_sub(1, Ordering::Relaxed);
            if result.is_ok() {
                // The baton (see the module docs): another sleeper may be left, and the push
                // that woke us took the one flag off.
                self.port.sem_give();
            }
        }
        if result.is_err() {
            Counters::bump(&self.counters.alloc_failures);
        }
        result
    }

    /// Puts an entry whose refcount reached 0 back on the free list and wakes a sleeping
    /// allocator if the push took the waiting flag off (the freer's half of the protocol).
    #[inline]
    pub(super) fn push_free(&self, index: u16) {
        if self.free.push(self.descs, index) {
            self.port.sem_give();
        }
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::super::{CheckReport, PoolConfig};
    use super::*;
    use crate::host::{as_isr, HostPool};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn pool(entries: usize) -> HostPool {
        HostPool::new(PoolConfig::new(entries, 32)).unwrap()
    }

    #[test]
    fn fresh_pool_hands_out_every_entry_once_then_reports_exhausted() {
        let h = pool(3);
        let p = h.pool();
        let a = p.try_alloc_raw().unwrap();
        let b = p.try_alloc_raw().unwrap();
        let c = p.try_alloc_raw().unwrap();
        assert!(!core::ptr::eq(a, b) && !core::ptr::eq(b, c) && !core::ptr::eq(a, c));
        assert_eq!(p.try_alloc_raw().err(), Some(PoolError::Exhausted));
        let s = p.snapshot();
        assert_eq!(
            (s.pool_in_use, s.pool_alloc_failures, s.high_water),
            (3, 1, 3)
        );
        for d in [a, b, c] {
            // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
            unsafe { p.unref_raw(d) }.unwrap();
        }
        assert_eq!(
            p.check().unwrap(),
            CheckReport {
                free: 3,
                held: 0,
                heap_held: 0
            }
        );
    }

    #[test]
    fn freed_entry_is_reused_first() {
        let h = pool(4);
        let p = h.pool();
        let a = p.try_alloc_raw().unwrap();
        let _b = p.try_alloc_raw().unwrap();
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(a) }.unwrap();
        assert!(core::ptr::eq(p.try_alloc_raw().unwrap(), a));
    }

    #[test]
    fn blocking_alloc_times_out_after_its_timeout_and_counts_it() {
        let h = pool(1);
        let p = h.pool();
        let _a = p.try_alloc().unwrap();
        let t = Instant::now();
        assert_eq!(
            p.alloc_blocking(Timeout::Millis(30)).err(),
            Some(PoolError::Timeout)
        );
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(30), "{waited:?}");
        assert_eq!(p.snapshot().pool_alloc_failures, 1);
        assert_eq!(p.waiters(), 0);
        assert_eq!(
            p.alloc_blocking(Timeout::NoWait).err(),
            Some(PoolError::Exhausted)
        );
    }

    #[test]
    fn blocking_alloc_wakes_when_another_thread_frees() {
        let h = Arc::new(pool(1));
        let a = h.pool().try_alloc_raw().unwrap() as *const Descriptor as usize;
        let h2 = h.clone();
        let freer = std::thread::spawn(move || {
            while h2.pool().waiters() == 0 {
                std::thread::yield_now();
            }
            // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
            unsafe { h2.pool().unref_raw(a as *const Descriptor) }.unwrap();
        });
        let got = h.pool().alloc_blocking_raw(Timeout::Forever).unwrap();
        assert_eq!(got as *const Descriptor as usize, a);
        freer.join().unwrap();
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { h.pool().unref_raw(got) }.unwrap();
        h.pool().check().unwrap();
    }

    #[test]
    fn blocking_alloc_in_isr_needs_a_zero_timeout() {
        let h = pool(1);
        let p = h.pool();
        as_isr(|| {
            assert_eq!(
                p.alloc_blocking_raw(Timeout::Millis(5)).err(),
                Some(PoolError::BlockingInIsr)
            );
            assert_eq!(
                p.alloc_blocking_raw(Timeout::Forever).err(),
                Some(PoolError::BlockingInIsr)
            );
            let d = p.alloc_blocking_raw(Timeout::NoWait).unwrap();
            // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
            unsafe { p.unref_raw(d) }.unwrap();
        });
        p.check().unwrap();
    }

    /// A port whose clock runs in microseconds but reads whole milliseconds, and whose
    /// semaphore never gets a give and returns 1 µs before its timeout (a spurious early
    /// wake-up, which the semaphore contract allows).
    struct SteppedClock {
        us: std::sync::atomic::AtomicU64,
    }

    // SAFETY: no heap (the default NULL).
    unsafe impl Port for SteppedClock {
        fn now_ms(&self) -> u32 {
            (self.us.load(Ordering::SeqCst) / 1000) as u32
        }
        fn sem_take(&self, timeout: Timeout) -> bool {
            if let Timeout::Millis(ms) = timeout {
                self.us
                    .fetch_add(u64::from(ms) * 1000 - 1, Ordering::SeqCst);
            }
            false
        }
        fn sem_give(&self) {}
    }

    #[test]
    fn a_timed_wait_never_ends_before_its_timeout_on_a_millisecond_clock() {
        for start_us in [0, 1, 500, 999] {
            let port = SteppedClock {
                us: std::sync::atomic::AtomicU64::new(start_us),
            };
            let h = crate::host::OwnedPool::with_port(port, PoolConfig::new(1, 8)).unwrap();
            let p = h.pool();
            let held = p.try_alloc().unwrap();
            for ms in [1, 10, 120] {
                let before = p.port().us.load(Ordering::SeqCst);
                assert_eq!(
                    p.alloc_blocking(Timeout::Millis(ms)).err(),
                    Some(PoolError::Timeout)
                );
                let waited = p.port().us.load(Ordering::SeqCst) - before;
                assert!(
                    waited >= u64::from(ms) * 1000,
                    "start {start_us} us, timeout {ms} ms: ended after {waited} us"
                );
            }
            drop(held);
        }
    }
}
