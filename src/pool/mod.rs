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
pub use diagnostics::{CheckReport, Leak, HOLDER_NONE};
pub use fallback::Fallback;

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::freelist::FreeList;
use crate::header::MsgHeader;
use crate::metrics::{Counters, Snapshot};
use crate::port::Port;
use crate::sync::AtomicU32;
use core::marker::PhantomData;
use core::ptr::NonNull;

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

    /// All descriptors (pool entries first, then heap slots). Crate-private: handing them
    /// out would let safe code name entries it holds no reference to.
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
    pub fn snapshot(&self) -> Snapshot {
        self.counters.snapshot(
            self.layout.entries as u32,
            self.layout.payload_size as u32,
            self.layout.stride as u32,
        )
    }

    /// Number of threads waiting in [`alloc_blocking_raw`](Self::alloc_blocking_raw) (racy).
    pub fn waiters(&self) -> u32 {
        self.waiters.load(crate::sync::Ordering::Relaxed)
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
