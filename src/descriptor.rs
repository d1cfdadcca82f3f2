//! The descriptor (one per entry, internal RAM) and the refcount protocol.
//!
//! A queue carries a descriptor's address. The descriptor points at its message (PSRAM on
//! target) and holds everything atomic about the entry: atomics never live in PSRAM, because
//! the ESP32-S3's compare-and-swap does not work on external RAM.
//!
//! # Refcount protocol
//!
//! | count | meaning |
//! |-------|---------|
//! | 0     | free: on the free list (pool entries) or unclaimed (heap slots) |
//! | n ≥ 1 | held by n owners: the producer and/or the targets the message was delivered to |
//!
//! * allocation stores 1: the producer's reference;
//! * `try_ref`: CAS loop, Relaxed (the caller already holds a reference);
//!   refuses 0 ([`RefOfFree`](PoolError::RefOfFree)) and [`MAX_REFS`]
//!   ([`RefOverflow`](PoolError::RefOverflow)) instead of wrapping;
//! * `try_unref_n`: CAS loop with Release that drops `n` references (1 for `msg_unref`, several
//!   at once at the end of a broadcast); refuses fewer than `n` left
//!   ([`DoubleUnref`](PoolError::DoubleUnref)) instead of wrapping; the caller that reaches 0
//!   gets an Acquire fence (so every other owner's reads and writes of the message happen
//!   before the entry is reused) and then recycles the entry.
//!
//! A CAS loop costs the same as `fetch_sub` when uncontended and is what lets a double
//! unref be refused without changing anything.

use crate::error::PoolError;
use crate::header::MsgHeader;
use crate::sync::{const_fn, AtomicPtr, AtomicU16, AtomicU32, Ordering};

/// Highest refcount; one more `ref` fails with [`PoolError::RefOverflow`].
pub const MAX_REFS: u32 = u16::MAX as u32;

/// Holder id meaning "the producer" (not yet delivered to a target).
pub const HOLDER_PRODUCER: u16 = u16::MAX;

/// One pool entry's bookkeeping. C sees it as `pool_msg_t` whose first field is `msg`.
///
/// 20 bytes on 32-bit targets, 24 on 64-bit.
#[repr(C)]
pub struct Descriptor {
    /// The message (header + payload) in the message region. Set at pool init for pool
    /// entries; set by the claimer for heap fallback entries, before the entry is shared.
    pub(crate) msg: AtomicPtr<MsgHeader>,
    /// The refcount (see the module docs).
    pub(crate) refcount: AtomicU32,
    /// Free-list link (pool entries) or claimed flag (heap slots: 1 = claimed).
    pub(crate) next: AtomicU16,
    /// Last holder: a target id, or [`HOLDER_PRODUCER`].
    pub(crate) holder: AtomicU16,
    /// Port time (ms) when the entry was allocated; for the leak report.
    pub(crate) since_ms: AtomicU32,
    /// How many times this pool entry was allocated (wrapping). Written only by the entry's
    /// exclusive owner between its pop and its first share (a load and a store, no RMW); the
    /// snapshot sums it over the entries instead of the hot path bumping a pool-wide counter.
    pub(crate) allocs: AtomicU32,
    /// Feature `timing`: the port's cycle counter when the entry was last broadcast (stamped
    /// before the first put; read by the receivers for the latency).
    #[cfg(feature = "timing")]
    pub(crate) sent_cycles: AtomicU32,
}

impl Descriptor {
    const_fn! {
        /// A blank descriptor, for the caller-provided descriptor slice (`[const { Descriptor::new() }; N]`).
        pub fn new() -> Descriptor {
            Descriptor {
                msg: AtomicPtr::new(core::ptr::null_mut()),
                refcount: AtomicU32::new(0),
                next: AtomicU16::new(crate::freelist::EMPTY),
                holder: AtomicU16::new(HOLDER_PRODUCER),
                since_ms: AtomicU32::new(0),
                allocs: AtomicU32::new(0),
                #[cfg(feature = "timing")]
                sent_cycles: AtomicU32::new(0),
            }
        }
    }

    /// The message this descriptor owns (what C reads as `p->msg`).
    #[inline]
    pub fn msg_ptr(&self) -> *mut MsgHeader {
        self.msg.load(Ordering::Relaxed)
    }

    /// The current refcount (a racy snapshot).
    #[inline]
    pub fn refcount(&self) -> u32 {
        self.refcount.load(Ordering::Relaxed)
    }

    /// Marks a just-popped (exclusively owned) entry as held by its producer.
    #[inline]
    pub(crate) fn set_allocated(&self, now_ms: u32) {
        self.holder.store(HOLDER_PRODUCER, Ordering::Relaxed);
        self.since_ms.store(now_ms, Ordering::Relaxed);
        // Not an RMW: only the exclusive owner writes `allocs`, and the previous owner's store
        // happens before this load (its push Release, our pop Acquire).
        let n = self.allocs.load(Ordering::Relaxed);
        self.allocs.store(n.wrapping_add(1), Ordering::Relaxed);
        self.refcount.store(1, Ordering::Relaxed);
    }

    /// Adds a reference. Returns the new count.
    #[inline]
    pub(crate) fn try_ref(&self) -> Result<u32, PoolError> {
        let mut cur = self.refcount.load(Ordering::Relaxed);
        loop {
            if cur == 0 {
                return Err(PoolError::RefOfFree);
            }
            if cur >= MAX_REFS {
                return Err(PoolError::RefOverflow);
            }
            match self.refcount.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(cur + 1),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Adds up to `n` references at once (the caller holds one); returns how many were added
    /// (fewer than `n` only at saturation).
    #[inline]
    pub(crate) fn try_ref_n(&self, n: u32) -> Result<u32, PoolError> {
        let mut cur = self.refcount.load(Ordering::Relaxed);
        loop {
            if cur == 0 {
                return Err(PoolError::RefOfFree);
            }
            let k = n.min(MAX_REFS.saturating_sub(cur));
            if k == 0 {
                return Ok(0);
            }
            match self.refcount.compare_exchange_weak(
                cur,
                cur + k,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(k),
                Err(actual) => cur = actual,
            }
        }
    }

    /// The Acquire half of the last unref: every other owner's accesses happen before reuse.
    #[inline]
    fn acquire_last(&self) {
        // ThreadSanitizer does not model fences; under `--cfg dispatcher_tsan` an Acquire load
        // of the same atomic synchronises the same way (std's `Arc` does this under TSan).
        #[cfg(not(dispatcher_tsan))]
        crate::sync::fence(Ordering::Acquire);
        #[cfg(dispatcher_tsan)]
        let _ = self.refcount.load(Ordering::Acquire);
    }

    /// Drops `n` references the caller holds at once; `Ok(true)` when they were the last.
    /// Refuses (changing nothing) if fewer than `n` are left, which only a double unref
    /// elsewhere can cause.
    #[inline]
    pub(crate) fn try_unref_n(&self, n: u32) -> Result<bool, PoolError> {
        let mut cur = self.refcount.load(Ordering::Relaxed);
        loop {
            if cur < n {
                return Err(PoolError::DoubleUnref);
            }
            match self.refcount.compare_exchange_weak(
                cur,
                cur - n,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        if cur == n {
            self.acquire_last();
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

impl Default for Descriptor {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Descriptor")
            .field("refcount", &self.refcount())
            .field("holder", &self.holder.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ref_of_a_free_entry_is_refused_and_changes_nothing() {
        let d = Descriptor::new();
        assert_eq!(d.try_ref(), Err(PoolError::RefOfFree));
        assert_eq!(d.refcount(), 0);
    }

    #[test]
    fn unref_of_a_free_entry_is_refused_and_changes_nothing() {
        let d = Descriptor::new();
        assert_eq!(d.try_unref_n(1), Err(PoolError::DoubleUnref));
        assert_eq!(d.refcount(), 0);
    }

    #[test]
    fn only_the_last_unref_reports_last() {
        let d = Descriptor::new();
        d.set_allocated(0);
        assert_eq!(d.try_ref(), Ok(2));
        assert_eq!(d.try_unref_n(1), Ok(false));
        assert_eq!(d.try_unref_n(1), Ok(true));
        assert_eq!(d.try_unref_n(1), Err(PoolError::DoubleUnref));
    }

    #[test]
    fn batched_refs_stop_at_saturation_and_batched_unref_refuses_underflow() {
        let d = Descriptor::new();
        assert_eq!(d.try_ref_n(3), Err(PoolError::RefOfFree));
        d.set_allocated(0);
        assert_eq!(d.try_ref_n(4), Ok(4));
        assert_eq!(d.try_unref_n(6), Err(PoolError::DoubleUnref));
        assert_eq!(d.try_unref_n(2), Ok(false));
        assert_eq!(d.try_unref_n(3), Ok(true));
        d.set_allocated(0);
        d.refcount.store(MAX_REFS - 2, Ordering::Relaxed);
        assert_eq!(d.try_ref_n(5), Ok(2));
        assert_eq!(d.try_ref_n(1), Ok(0));
    }

    #[test]
    fn ref_saturates_at_max_refs() {
        let d = Descriptor::new();
        d.set_allocated(0);
        d.refcount.store(MAX_REFS - 1, Ordering::Relaxed);
        assert_eq!(d.try_ref(), Ok(MAX_REFS));
        assert_eq!(d.try_ref(), Err(PoolError::RefOverflow));
        assert_eq!(d.refcount(), MAX_REFS);
    }
}
