//! The pool: one set of preallocated, reference-counted messages over the caller's memory.
//!
//! Memory is the caller's: a descriptor slice (internal RAM) and a message region (PSRAM on
//! target). The pool never allocates, except heap fallback messages, which come from the
//! [`Port`]. An image may hold any number of pools; each has its own entries, payload size,
//! free list, port (semaphore) and counters.
//!
//! One concept per file:
//! * [`config`]: [`PoolConfig`] and the [`Layout`] it implies;
//! * `alloc`: non-blocking and blocking allocation, and the wake-up protocol;
//! * `fallback`: one-off heap messages when the pool is empty;
//! * `refs`: raw-pointer validation, `ref`/`unref` and recycling;
//! * `diagnostics`: the self-check and the leak report.

mod alloc;
pub mod config;
mod diagnostics;
mod fallback;
mod refs;

pub use alloc::WAIT_SLICE_MS;
pub use config::{
    stride_for, Layout, PoolConfig, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_PAYLOAD, MAX_HEAP_SLOTS,
};
pub use diagnostics::{CheckReport, Leak, AGE_UNKNOWN, HOLDER_NONE};
pub use fallback::Fallback;
pub use refs::Entry;

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::freelist::FreeList;
use crate::header::MsgHeader;
use crate::metrics::{Counters, Derived, Snapshot};
use crate::port::Port;
use crate::sync::{AtomicU32, Ordering};
use core::marker::PhantomData;
use core::ptr::NonNull;

/// Bytes of padding between the fields that different threads write, on multi-core hosts:
/// the free-list head (every allocation and last unref), the counters (broadcasts, failures)
/// and the read-mostly rest (layout, descriptor slice, waiter count) then never share a
/// 64-byte cache line, so an allocation on one core does not invalidate the line another core
/// reads the layout from. Padding, not `repr(align)`: the C API keeps the pool in
/// `usize`-aligned opaque storage. 0 on the MCU targets (single-core or tightly coupled, SRAM
/// scarce).
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "powerpc64"
))]
pub(crate) const LINE_PAD: usize = 64;
/// See the host definition: no padding on MCU targets.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "powerpc64"
)))]
pub(crate) const LINE_PAD: usize = 0;

/// A pool of preallocated, reference-counted messages.
///
/// `'a` is the lifetime of the caller's memory; `P` the OS port.
///
/// `repr(C)` keeps the field order, so that the `LINE_PAD` gaps fall where they are meant to.
#[repr(C)]
pub struct Pool<'a, P: Port> {
    // Read-mostly: read by every operation, written at init (and `waiters` by blocked
    // allocators only, on their slow path).
    descs: &'a [Descriptor],
    region: NonNull<u8>,
    layout: Layout,
    port: P,
    /// Read by every last unref; written only by blocked allocators.
    waiters: AtomicU32,
    _pad0: [u8; LINE_PAD],
    /// Written by every allocation and every last unref.
    free: FreeList,
    _pad1: [u8; LINE_PAD],
    /// Written by broadcasts, failures and refusals, never by `try_alloc` + last unref.
    pub(crate) counters: Counters,
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
        if !(region.as_ptr() as usize).is_multiple_of(MsgHeader::ALIGN) {
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
                unsafe { msg.write(MsgHeader::empty_at(msg)) };
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
            port,
            waiters: AtomicU32::new(0),
            _pad0: [0; LINE_PAD],
            free,
            _pad1: [0; LINE_PAD],
            counters: Counters::new(),
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

    /// All descriptors (pool entries first, then heap slots). Crate-private: handing them
    /// out would let safe code name entries it holds no reference to.
    #[cfg_attr(any(not(test), loom), allow(dead_code))] // the unit tests' view of free entries
    pub(crate) fn descriptors(&self) -> &'a [Descriptor] {
        self.descs
    }

    /// The address of descriptor `index` (pool entries first, then heap slots), for
    /// diagnostics and tests. A raw pointer: every call that acts on it is `unsafe`.
    pub fn descriptor_ptr(&self, index: usize) -> Option<*const Descriptor> {
        self.descs.get(index).map(|d| d as *const Descriptor)
    }

    /// Start of the message region.
    pub fn region(&self) -> NonNull<u8> {
        self.region
    }

    /// `true` if `p` lies inside this pool's descriptor array (it may be misaligned or free).
    /// Never dereferences `p`. Lets a caller with several pools find the one an entry belongs to.
    #[inline]
    pub fn owns(&self, p: *const Descriptor) -> bool {
        (p as usize).wrapping_sub(self.descs.as_ptr() as usize) < core::mem::size_of_val(self.descs)
    }

    /// A snapshot of every counter.
    ///
    /// `pool_in_use`, `allocations`, `frees` and `high_water` are derived here (one pass over
    /// the pool's descriptors) rather than counted on the hot path: in use = entries with a
    /// non-zero refcount, allocations = the sum of the entries' allocation counts, high water =
    /// the free list's depth mark (see [`Snapshot::high_water`]). Exact while no operation is
    /// in flight; a snapshot taken during allocations and frees is a mix of before and after
    /// per entry (as any set of relaxed counters read one by one is).
    pub fn snapshot(&self) -> Snapshot {
        let mut in_use = 0u32;
        let mut allocations = 0u32;
        for d in &self.descs[..self.layout.entries] {
            in_use += (d.refcount() != 0) as u32;
            allocations = allocations.wrapping_add(d.allocs.load(Ordering::Relaxed));
        }
        self.counters.snapshot(Derived {
            pool_total: self.layout.entries as u32,
            in_use,
            allocations,
            high_water: self.free.touched(),
            payload_size: self.layout.payload_size as u32,
            stride: self.layout.stride as u32,
        })
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
    use crate::host::{HostPool, StdPort};

    fn pool(entries: usize) -> HostPool {
        HostPool::new(PoolConfig::new(entries, 32)).unwrap()
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn head_counters_and_read_mostly_fields_never_share_a_cache_line() {
        use core::mem::{offset_of, size_of};
        type P = Pool<'static, StdPort>;
        let waiters_end = offset_of!(P, waiters) + size_of::<AtomicU32>();
        let free = offset_of!(P, free);
        let free_end = free + size_of::<FreeList>();
        let counters = offset_of!(P, counters);
        // The pool may start anywhere 8-aligned: a gap of 64 bytes puts the two sides on
        // different 64-byte lines whatever the start.
        assert!(free - waiters_end >= 64, "{waiters_end} {free}");
        assert!(counters - free_end >= 64, "{free_end} {counters}");
        assert!(offset_of!(P, descs) < free && offset_of!(P, layout) < free);
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
}
