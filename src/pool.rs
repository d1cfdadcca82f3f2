//! The pool: configuration, allocation (non-blocking, blocking, with fallback), `ref`/`unref`
//! through raw descriptor pointers, the self-check and the leak report.
//!
//! Memory is the caller's: a descriptor slice (internal RAM) and a message region (PSRAM on
//! target). The pool never allocates, except heap fallback messages, which come from the
//! [`Port`].
//!
//! # Blocking allocation without lost wake-ups
//!
//! The hot paths make no kernel call unless somebody waits. A waiter increments `waiters`,
//! issues a SeqCst fence and re-checks the free list before it sleeps on the port semaphore;
//! a freer pushes, issues a SeqCst fence and gives the semaphore only if `waiters > 0`. By the
//! fences, either the waiter's re-check sees the push or the freer sees the waiter (Dekker).
//! A give while nobody sleeps leaves a token that makes a later take return at once (the waiter
//! then re-checks and sleeps again), and a give ignored at the semaphore's limit means the
//! count is already positive, so no sleeper can miss it. The loom model
//! `blocking_alloc_is_woken_by_a_free` checks this with a semaphore limit of 1.

use crate::descriptor::{Descriptor, HOLDER_PRODUCER};
use crate::error::PoolError;
use crate::freelist::{FreeList, MAX_INDEX_ENTRIES};
use crate::metrics::{Counters, Snapshot};
use crate::msg::MsgHeader;
use crate::port::{Port, Timeout};
use crate::sync::{fence, AtomicU32, Ordering};
use core::marker::PhantomData;
use core::ptr::NonNull;

/// Default upper bound on `entries` (the design's 1..=1024).
pub const DEFAULT_MAX_ENTRIES: usize = 1024;
/// Default upper bound on `payload_size`.
pub const DEFAULT_MAX_PAYLOAD: usize = 16 * 1024;
/// Most heap fallback messages that can be alive at once.
pub const MAX_HEAP_SLOTS: usize = 64;

/// What `try_alloc_or` does when the pool is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Give up: counted in `pool_drop_count`.
    Drop,
    /// Allocate a one-off message from the port's heap (counted in `fallback_allocs`); `unref`
    /// returns it to the heap. Needs `heap_slots > 0`. If the heap fails too, it is a drop.
    Heap,
}

/// Pool parameters, checked by [`Pool::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Pool entries, `1..=max_entries`.
    pub entries: usize,
    /// Payload bytes per message, `1..=max_payload`.
    pub payload_size: usize,
    /// Upper bound on `entries` (default 1024; at most 65,534).
    pub max_entries: usize,
    /// Upper bound on `payload_size` (default 16 KiB).
    pub max_payload: usize,
    /// Descriptors reserved for heap fallback messages (0 disables [`Fallback::Heap`]).
    pub heap_slots: usize,
    /// Smallest distance between two messages (0 = header + payload). The C API sets it to
    /// `sizeof(dispatcher_msg_t)` so value-mode queues can copy whole messages whatever the
    /// payload size.
    pub min_stride: usize,
}

impl PoolConfig {
    /// `entries` messages of `payload_size` bytes, default limits, no heap fallback.
    pub const fn new(entries: usize, payload_size: usize) -> Self {
        PoolConfig {
            entries,
            payload_size,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_payload: DEFAULT_MAX_PAYLOAD,
            heap_slots: 0,
            min_stride: 0,
        }
    }

    /// The same with `slots` heap fallback descriptors.
    pub const fn with_heap_slots(mut self, slots: usize) -> Self {
        self.heap_slots = slots;
        self
    }

    /// Checks the parameters and computes the memory layout.
    pub fn layout(&self) -> Result<Layout, PoolError> {
        let max_entries = if self.max_entries < MAX_INDEX_ENTRIES - MAX_HEAP_SLOTS {
            self.max_entries
        } else {
            MAX_INDEX_ENTRIES - MAX_HEAP_SLOTS
        };
        if self.entries == 0 || self.entries > max_entries {
            return Err(PoolError::BadEntryCount);
        }
        if self.payload_size == 0
            || self.payload_size > self.max_payload
            || self.payload_size > u32::MAX as usize / 2
        {
            return Err(PoolError::BadPayloadSize);
        }
        if self.heap_slots > MAX_HEAP_SLOTS {
            return Err(PoolError::BadEntryCount);
        }
        if self.min_stride
            > self
                .max_payload
                .saturating_add(MsgHeader::SIZE)
                .saturating_add(MsgHeader::ALIGN)
        {
            return Err(PoolError::BadPayloadSize);
        }
        let stride = (MsgHeader::SIZE + self.payload_size)
            .max(self.min_stride)
            .next_multiple_of(MsgHeader::ALIGN);
        Ok(Layout {
            entries: self.entries,
            heap_slots: self.heap_slots,
            payload_size: self.payload_size,
            stride,
        })
    }
}

/// Where things go, computed from a [`PoolConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Pool entries.
    pub entries: usize,
    /// Heap fallback descriptors after the pool's.
    pub heap_slots: usize,
    /// Payload bytes per message.
    pub payload_size: usize,
    /// Bytes from one message to the next (header + payload, rounded up to the header's alignment).
    pub stride: usize,
}

impl Layout {
    /// Descriptors the pool needs (`entries + heap_slots`).
    pub const fn descriptors(&self) -> usize {
        self.entries + self.heap_slots
    }
    /// Bytes the message region needs.
    pub const fn region_bytes(&self) -> usize {
        self.entries * self.stride
    }
    /// Alignment the message region needs.
    pub const fn region_align(&self) -> usize {
        MsgHeader::ALIGN
    }
    /// Bytes of the descriptor slice (internal RAM).
    pub const fn descriptor_bytes(&self) -> usize {
        self.descriptors() * core::mem::size_of::<Descriptor>()
    }
}

/// One entry held longer than the asked age, from [`Pool::leaks`] (C: `struct pool_leak`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Leak {
    /// Descriptor index (heap slots follow the pool entries).
    pub index: u16,
    /// Its refcount now.
    pub refcount: u32,
    /// Milliseconds since it was allocated.
    pub age_ms: u32,
    /// Last holder: a target id, or [`HOLDER_PRODUCER`].
    pub holder: u16,
}

/// What [`Pool::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckReport {
    /// Entries on the free list.
    pub free: usize,
    /// Pool entries with a refcount > 0.
    pub held: usize,
    /// Heap fallback messages alive.
    pub heap_held: usize,
}

/// A pool of preallocated, reference-counted messages.
///
/// `'a` is the lifetime of the caller's memory; `P` the OS port.
pub struct Pool<'a, P: Port> {
    descs: &'a [Descriptor],
    region: NonNull<u8>,
    layout: Layout,
    free: FreeList,
    waiters: AtomicU32,
    pub(crate) counters: Counters,
    port: P,
    _region: PhantomData<&'a mut [u8]>,
}

// SAFETY: all shared state is atomic; the message region is reached only through a raw
// pointer whose accesses follow the refcount protocol (writes only while uniquely held,
// published by the queue put/get or the Release/Acquire of unref). `P: Port` is `Sync`.
unsafe impl<P: Port> Sync for Pool<'_, P> {}
// SAFETY: the pool owns no thread-affine state; see the `Sync` impl for the region pointer.
unsafe impl<P: Port + Send> Send for Pool<'_, P> {}

impl<'a, P: Port> Pool<'a, P> {
    /// Builds a pool over `descs` (at least `layout.descriptors()`) and `region` (at least
    /// `layout.region_bytes()`, aligned to `layout.region_align()`).
    ///
    /// ```
    /// use dispatcher_pool::{host::StdPort, pool::{Pool, PoolConfig}, Descriptor};
    /// let cfg = PoolConfig::new(4, 64);
    /// let layout = cfg.layout().unwrap();
    /// let mut descs: Vec<Descriptor> = (0..layout.descriptors()).map(|_| Descriptor::new()).collect();
    /// let mut region = vec![0u64; layout.region_bytes() / 8 + 1];
    /// let bytes = unsafe { core::slice::from_raw_parts_mut(region.as_mut_ptr().cast::<u8>(), layout.region_bytes()) };
    /// let pool = Pool::new(StdPort::new(), cfg, &mut descs, bytes).unwrap();
    /// let mut m = pool.try_alloc().unwrap();
    /// m.write(b"hello").unwrap();
    /// assert_eq!(m.payload(), b"hello");
    /// drop(m);
    /// assert_eq!(pool.snapshot().pool_in_use, 0);
    /// ```
    pub fn new(
        port: P,
        cfg: PoolConfig,
        descs: &'a mut [Descriptor],
        region: &'a mut [u8],
    ) -> Result<Self, PoolError> {
        let layout = cfg.layout()?;
        if descs.len() < layout.descriptors() || region.len() < layout.region_bytes() {
            return Err(PoolError::RegionTooSmall);
        }
        if region.as_ptr() as usize % MsgHeader::ALIGN != 0 {
            return Err(PoolError::RegionMisaligned);
        }
        let base = region.as_mut_ptr();
        let descs = &mut descs[..layout.descriptors()];
        let free = FreeList::new();
        for (i, d) in descs.iter_mut().enumerate() {
            *d = Descriptor::new();
            if i < layout.entries {
                // SAFETY: i < entries, so the offset i * stride + stride <= region_bytes <= region.len().
                let msg = unsafe { base.add(i * layout.stride) }.cast::<MsgHeader>();
                // SAFETY: `msg` is in bounds and aligned (region aligned, stride a multiple of ALIGN);
                // we hold the region exclusively.
                unsafe { msg.write(MsgHeader::empty()) };
                d.msg = crate::sync::AtomicPtr::new(msg);
            } else {
                d.next = crate::sync::AtomicU16::new(0); // heap slot: unclaimed
            }
        }
        let descs: &'a [Descriptor] = descs;
        // Push in reverse so index 0 is popped first.
        for i in (0..layout.entries).rev() {
            free.push(descs, i as u16);
        }
        Ok(Pool {
            descs,
            // SAFETY: `base` comes from a slice, so it is non-null.
            region: unsafe { NonNull::new_unchecked(base) },
            layout,
            free,
            waiters: AtomicU32::new(0),
            counters: Counters::new(),
            port,
            _region: PhantomData,
        })
    }

    /// The layout this pool was built with.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The port.
    pub fn port(&self) -> &P {
        &self.port
    }

    /// All descriptors (pool entries first, then heap slots).
    pub fn descriptors(&self) -> &'a [Descriptor] {
        self.descs
    }

    /// Start of the message region.
    pub fn region(&self) -> NonNull<u8> {
        self.region
    }

    /// A snapshot of every counter.
    pub fn snapshot(&self) -> Snapshot {
        self.counters.snapshot(
            self.layout.entries as u32,
            self.layout.payload_size as u32,
            self.layout.stride as u32,
        )
    }

    // ----- allocation ---------------------------------------------------------------------

    #[inline]
    fn pop_entry(&self) -> Option<&'a Descriptor> {
        let index = self.free.pop(self.descs)?;
        let d = &self.descs[index as usize];
        d.set_allocated(self.port.now_ms());
        self.counters.on_alloc();
        Some(d)
    }

    /// Takes a free entry without waiting (refcount 1: the caller's reference). ISR-safe.
    /// An empty pool counts an alloc failure.
    #[inline]
    pub fn try_alloc_raw(&self) -> Result<&'a Descriptor, PoolError> {
        match self.pop_entry() {
            Some(d) => Ok(d),
            None => {
                Counters::bump(&self.counters.alloc_failures);
                Err(PoolError::Exhausted)
            }
        }
    }

    /// [`try_alloc_raw`](Self::try_alloc_raw) with a policy for an empty pool.
    pub fn try_alloc_or_raw(&self, fallback: Fallback) -> Result<&'a Descriptor, PoolError> {
        match self.try_alloc_raw() {
            Ok(d) => Ok(d),
            Err(e) => {
                if fallback == Fallback::Heap {
                    if let Some(d) = self.heap_alloc() {
                        return Ok(d);
                    }
                }
                Counters::bump(&self.counters.drops);
                Err(e)
            }
        }
    }

    /// Takes a free entry, waiting up to `timeout` for one to be freed.
    ///
    /// From an ISR only [`Timeout::NoWait`] is allowed ([`PoolError::BlockingInIsr`] otherwise).
    /// A timeout counts an alloc failure and returns [`PoolError::Timeout`]
    /// ([`PoolError::Exhausted`] for `NoWait`).
    pub fn alloc_blocking_raw(&self, timeout: Timeout) -> Result<&'a Descriptor, PoolError> {
        if timeout == Timeout::NoWait {
            return self.try_alloc_raw();
        }
        if self.port.in_isr() {
            return Err(PoolError::BlockingInIsr);
        }
        if let Some(d) = self.pop_entry() {
            return Ok(d);
        }
        let start = self.port.now_ms();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let result = loop {
            if let Some(d) = self.pop_entry() {
                break Ok(d);
            }
            let wait = match timeout {
                Timeout::Millis(ms) => {
                    let elapsed = self.port.now_ms().wrapping_sub(start);
                    if elapsed >= ms {
                        break Err(PoolError::Timeout);
                    }
                    Timeout::Millis(ms - elapsed)
                }
                other => other,
            };
            // Whether a token was taken or not, loop: re-check the list, then the deadline.
            self.port.sem_take(wait);
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        if result.is_err() {
            Counters::bump(&self.counters.alloc_failures);
        }
        result
    }

    fn heap_alloc(&self) -> Option<&'a Descriptor> {
        let layout =
            core::alloc::Layout::from_size_align(self.layout.stride, MsgHeader::ALIGN).ok()?;
        let slots = &self.descs[self.layout.entries..];
        let d = slots.iter().find(|d| {
            d.next
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })?;
        let block = self.port.heap_alloc(layout).cast::<MsgHeader>();
        if block.is_null() {
            d.next.store(0, Ordering::Release);
            return None;
        }
        // SAFETY: `block` is a fresh allocation of `stride >= MsgHeader::SIZE` bytes aligned for MsgHeader.
        unsafe { block.write(MsgHeader::empty()) };
        d.msg.store(block, Ordering::Relaxed);
        d.set_allocated(self.port.now_ms());
        Counters::bump(&self.counters.fallback_allocs);
        Some(d)
    }

    // ----- pointers -------------------------------------------------------------------------

    /// Maps a raw descriptor pointer to its index, refusing NULL, foreign and misaligned
    /// pointers. Never dereferences `p`.
    #[inline]
    pub fn index_of(&self, p: *const Descriptor) -> Result<usize, PoolError> {
        if p.is_null() {
            return Err(PoolError::Null);
        }
        let base = self.descs.as_ptr() as usize;
        let size = core::mem::size_of::<Descriptor>();
        let offset = (p as usize).wrapping_sub(base);
        if offset >= core::mem::size_of_val(self.descs) {
            return Err(PoolError::ForeignPointer);
        }
        if offset % size != 0 {
            return Err(PoolError::MisalignedPointer);
        }
        Ok(offset / size)
    }

    /// The descriptor `p` designates, if it is one of ours (it may be free).
    pub fn descriptor(&self, p: *const Descriptor) -> Result<&'a Descriptor, PoolError> {
        Ok(&self.descs[self.index_of(p)?])
    }

    /// Adds a reference to a held entry (`msg_ref`). Refusals change nothing and are counted.
    pub fn ref_raw(&self, p: *const Descriptor) -> Result<u32, PoolError> {
        let r = self.descriptor(p).and_then(|d| d.try_ref());
        if let Err(e) = r {
            Counters::bump(&self.counters.invalid_refs);
            log::warn!("msg_ref refused: {e}");
        }
        r
    }

    /// Drops a reference (`msg_unref`); the last one recycles the entry. ISR-safe.
    /// Refusals (NULL, foreign, misaligned, double unref) change nothing and are counted.
    #[inline]
    pub fn unref_raw(&self, p: *const Descriptor) -> Result<(), PoolError> {
        let r = self.index_of(p).and_then(|i| self.unref_at(i, 1));
        if let Err(e) = r {
            self.refused_unref(e);
        }
        r
    }

    /// Drops one reference of the descriptor at `index` (already validated: the handle's
    /// path, which skips the pointer checks). A double unref is still refused and counted.
    #[inline]
    pub(crate) fn unref_index(&self, index: usize) {
        if let Err(e) = self.unref_at(index, 1) {
            self.refused_unref(e);
        }
    }

    /// Drops `n` references of the descriptor at `index`, recycling it on the last one.
    #[inline]
    pub(crate) fn unref_at(&self, index: usize, n: u32) -> Result<(), PoolError> {
        let d = &self.descs[index];
        if d.try_unref_n(n)? {
            self.recycle(index, d);
        }
        Ok(())
    }

    #[cold]
    pub(crate) fn refused_unref(&self, e: PoolError) {
        Counters::bump(&self.counters.invalid_unrefs);
        log::warn!("msg_unref refused: {e}");
    }

    /// Index of a descriptor known to be ours (no checks beyond a debug assertion).
    #[inline]
    pub(crate) fn index_of_own(&self, d: &Descriptor) -> usize {
        let offset = d as *const Descriptor as usize - self.descs.as_ptr() as usize;
        debug_assert!(offset < core::mem::size_of_val(self.descs));
        offset / core::mem::size_of::<Descriptor>()
    }

    /// Returns an entry whose refcount just reached 0.
    #[inline]
    pub(crate) fn recycle(&self, index: usize, d: &Descriptor) {
        if index < self.layout.entries {
            self.counters.on_free();
            self.free.push(self.descs, index as u16);
            fence(Ordering::SeqCst);
            if self.waiters.load(Ordering::Relaxed) > 0 {
                self.port.sem_give();
            }
        } else {
            let block = d.msg.swap(core::ptr::null_mut(), Ordering::Relaxed);
            let layout = core::alloc::Layout::from_size_align(self.layout.stride, MsgHeader::ALIGN)
                .expect("layout checked at heap_alloc");
            // SAFETY: `block` came from `port.heap_alloc(layout)` in `heap_alloc` and the last
            // reference is gone (refcount 0 after the Acquire fence), so nobody uses it.
            unsafe { self.port.heap_free(block.cast(), layout) };
            Counters::bump(&self.counters.fallback_frees);
            d.next.store(0, Ordering::Release);
        }
    }

    /// Records `holder` as the last holder of a held entry (for the leak report).
    #[inline]
    pub(crate) fn set_holder(&self, d: &Descriptor, holder: u16) {
        d.holder.store(holder, Ordering::Relaxed);
    }

    // ----- diagnostics ----------------------------------------------------------------------

    /// Proves free list + held entries = all entries and that the counters agree.
    ///
    /// Exact only while no other thread uses the pool (call it when quiescent: tests, the
    /// shell on an idle system). Returns [`PoolError::Corrupt`] on any disagreement.
    pub fn check(&self) -> Result<CheckReport, PoolError> {
        let entries = self.layout.entries;
        let mut bad = false;
        let free = self
            .free
            .walk(&self.descs[..entries], entries, |i| {
                if self.descs[i as usize].refcount() != 0 {
                    bad = true;
                }
            })
            .ok_or(PoolError::Corrupt)?;
        let held = self.descs[..entries]
            .iter()
            .filter(|d| d.refcount() > 0)
            .count();
        if bad || free + held != entries || self.counters.in_use() as usize != held {
            return Err(PoolError::Corrupt);
        }
        let mut heap_held = 0;
        for d in &self.descs[entries..] {
            let claimed = d.next.load(Ordering::Acquire) == 1;
            if claimed != (d.refcount() > 0) {
                return Err(PoolError::Corrupt);
            }
            heap_held += claimed as usize;
        }
        if self.snapshot().fallback_in_use as usize != heap_held {
            return Err(PoolError::Corrupt);
        }
        Ok(CheckReport {
            free,
            held,
            heap_held,
        })
    }

    /// Fills `out` with entries held for at least `min_age_ms`, oldest first in index order;
    /// returns how many there are (which may exceed `out.len()`).
    pub fn leaks(&self, min_age_ms: u32, out: &mut [Leak]) -> usize {
        let now = self.port.now_ms();
        let mut n = 0;
        for (i, d) in self.descs.iter().enumerate() {
            let refcount = d.refcount();
            if refcount == 0 {
                continue;
            }
            let age_ms = now.wrapping_sub(d.since_ms.load(Ordering::Relaxed));
            if age_ms < min_age_ms {
                continue;
            }
            if let Some(slot) = out.get_mut(n) {
                *slot = Leak {
                    index: i as u16,
                    refcount,
                    age_ms,
                    holder: d.holder.load(Ordering::Relaxed),
                };
            }
            n += 1;
        }
        n
    }

    /// Up to `N` leaks as a `heapless::Vec` (see [`leaks`](Self::leaks)).
    pub fn leak_report<const N: usize>(&self, min_age_ms: u32) -> heapless::Vec<Leak, N> {
        let mut buf = [Leak {
            index: 0,
            refcount: 0,
            age_ms: 0,
            holder: HOLDER_PRODUCER,
        }; N];
        let n = self.leaks(min_age_ms, &mut buf).min(N);
        buf[..n].iter().copied().collect()
    }

    /// Number of threads waiting in [`alloc_blocking_raw`](Self::alloc_blocking_raw) (racy).
    pub fn waiters(&self) -> u32 {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Pointer to the payload bytes of a descriptor's message.
    #[inline]
    pub(crate) fn payload_ptr(d: &Descriptor) -> *mut u8 {
        // SAFETY: every message is `stride >= MsgHeader::SIZE + payload_size` bytes, so the
        // payload starts inside the same allocation.
        unsafe { d.msg_ptr().cast::<u8>().add(MsgHeader::SIZE) }
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::*;
    use crate::host::{as_isr, HostPool, StdPort};
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
            p.unref_raw(d).unwrap();
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
        p.unref_raw(a).unwrap();
        assert!(core::ptr::eq(p.try_alloc_raw().unwrap(), a));
    }

    #[test]
    fn messages_are_distinct_stride_spaced_and_aligned() {
        let h = pool(4);
        let p = h.pool();
        let base = p.region().as_ptr() as usize;
        for (i, d) in p.descriptors().iter().enumerate() {
            let m = d.msg_ptr() as usize;
            assert_eq!(m, base + i * p.layout().stride);
            assert_eq!(m % MsgHeader::ALIGN, 0);
        }
    }

    #[test]
    fn extra_refs_keep_the_entry_until_the_last_unref() {
        let h = pool(1);
        let p = h.pool();
        let d = p.try_alloc_raw().unwrap();
        assert_eq!(p.ref_raw(d), Ok(2));
        p.unref_raw(d).unwrap();
        assert_eq!(p.try_alloc_raw().err(), Some(PoolError::Exhausted));
        p.unref_raw(d).unwrap();
        assert!(p.try_alloc_raw().is_ok());
    }

    #[test]
    fn config_is_checked() {
        assert_eq!(
            PoolConfig::new(0, 8).layout().err(),
            Some(PoolError::BadEntryCount)
        );
        assert_eq!(
            PoolConfig::new(1025, 8).layout().err(),
            Some(PoolError::BadEntryCount)
        );
        assert_eq!(
            PoolConfig::new(8, 0).layout().err(),
            Some(PoolError::BadPayloadSize)
        );
        assert_eq!(
            PoolConfig::new(8, DEFAULT_MAX_PAYLOAD + 1).layout().err(),
            Some(PoolError::BadPayloadSize)
        );
        assert_eq!(
            PoolConfig::new(1, 1)
                .with_heap_slots(MAX_HEAP_SLOTS + 1)
                .layout()
                .err(),
            Some(PoolError::BadEntryCount)
        );
        let l = PoolConfig::new(1024, 1).layout().unwrap();
        assert_eq!(l.stride % MsgHeader::ALIGN, 0);
        assert!(l.stride > MsgHeader::SIZE);
    }

    #[test]
    fn min_stride_widens_messages() {
        let mut cfg = PoolConfig::new(2, 10);
        cfg.min_stride = MsgHeader::SIZE + 100;
        let l = cfg.layout().unwrap();
        assert!(l.stride >= MsgHeader::SIZE + 100);
        assert_eq!(l.payload_size, 10);
        cfg.min_stride = usize::MAX;
        assert_eq!(cfg.layout().err(), Some(PoolError::BadPayloadSize));
    }

    #[test]
    fn too_small_or_misaligned_memory_is_refused() {
        let cfg = PoolConfig::new(2, 16);
        let l = cfg.layout().unwrap();
        let mut descs: std::vec::Vec<Descriptor> = (0..2).map(|_| Descriptor::new()).collect();
        let mut region = std::vec![0u64; l.region_bytes() / 8 + 2];
        let bytes = region.as_mut_ptr().cast::<u8>();
        // SAFETY: in bounds of `region`, which outlives the slices.
        let short = unsafe { core::slice::from_raw_parts_mut(bytes, l.region_bytes() - 1) };
        assert_eq!(
            Pool::new(StdPort::new(), cfg, &mut descs, short).err(),
            Some(PoolError::RegionTooSmall)
        );
        // SAFETY: as above, one byte in.
        let odd = unsafe { core::slice::from_raw_parts_mut(bytes.add(1), l.region_bytes()) };
        assert_eq!(
            Pool::new(StdPort::new(), cfg, &mut descs, odd).err(),
            Some(PoolError::RegionMisaligned)
        );
        // SAFETY: as above.
        let ok = unsafe { core::slice::from_raw_parts_mut(bytes, l.region_bytes()) };
        assert_eq!(
            Pool::new(StdPort::new(), cfg, &mut descs[..1], ok).err(),
            Some(PoolError::RegionTooSmall)
        );
    }

    #[test]
    fn heap_fallback_is_used_only_when_empty_and_returns_to_the_heap() {
        let h = HostPool::new(PoolConfig::new(1, 16).with_heap_slots(2)).unwrap();
        let p = h.pool();
        let a = p.try_alloc_or(Fallback::Heap).unwrap();
        assert_eq!(p.snapshot().fallback_allocs, 0);
        let b = p.try_alloc_or(Fallback::Heap).unwrap();
        let c = p.try_alloc_or(Fallback::Heap).unwrap();
        assert_eq!(
            p.try_alloc_or(Fallback::Heap).err(),
            Some(PoolError::Exhausted)
        );
        let s = p.snapshot();
        assert_eq!(
            (s.fallback_allocs, s.fallback_in_use, s.pool_drop_count),
            (2, 2, 1)
        );
        assert_eq!(p.check().unwrap().heap_held, 2);
        drop((a, b, c));
        let s = p.snapshot();
        assert_eq!((s.fallback_in_use, s.pool_in_use), (0, 0));
        assert_eq!(
            p.check().unwrap(),
            CheckReport {
                free: 1,
                held: 0,
                heap_held: 0
            }
        );
    }

    #[test]
    fn heap_failure_is_a_counted_drop() {
        let port = StdPort::new();
        port.set_heap_budget(0);
        let h = HostPool::with_port(port, PoolConfig::new(1, 16).with_heap_slots(1)).unwrap();
        let p = h.pool();
        let _a = p.try_alloc().unwrap();
        assert_eq!(
            p.try_alloc_or(Fallback::Heap).err(),
            Some(PoolError::Exhausted)
        );
        assert_eq!(p.snapshot().pool_drop_count, 1);
        p.check().unwrap();
    }

    #[test]
    fn drop_policy_counts_a_drop_and_an_alloc_failure() {
        let h = pool(1);
        let p = h.pool();
        let _a = p.try_alloc().unwrap();
        assert_eq!(
            p.try_alloc_or(Fallback::Drop).err(),
            Some(PoolError::Exhausted)
        );
        let s = p.snapshot();
        assert_eq!((s.pool_drop_count, s.pool_alloc_failures), (1, 1));
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
            h2.pool().unref_raw(a as *const Descriptor).unwrap();
        });
        let got = h.pool().alloc_blocking_raw(Timeout::Forever).unwrap();
        assert_eq!(got as *const Descriptor as usize, a);
        freer.join().unwrap();
        h.pool().unref_raw(got).unwrap();
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
            p.unref_raw(d).unwrap();
        });
        p.check().unwrap();
    }

    #[test]
    fn leak_report_names_old_entries_and_their_holder() {
        let h = pool(3);
        let p = h.pool();
        let a = p.try_alloc_raw().unwrap();
        p.set_holder(a, 7);
        std::thread::sleep(Duration::from_millis(20));
        let _b = p.try_alloc_raw().unwrap();
        let leaks = p.leak_report::<4>(15);
        assert_eq!(leaks.len(), 1);
        assert_eq!(
            (leaks[0].index, leaks[0].holder, leaks[0].refcount),
            (0, 7, 1)
        );
        assert!(leaks[0].age_ms >= 15);
        assert_eq!(p.leaks(0, &mut []), 2);
    }

    #[test]
    fn check_detects_a_corrupted_refcount() {
        let h = pool(2);
        let p = h.pool();
        p.descriptors()[1].refcount.store(1, Ordering::Relaxed); // free but "held"
        assert_eq!(p.check().err(), Some(PoolError::Corrupt));
    }
}
