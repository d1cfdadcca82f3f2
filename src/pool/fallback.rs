//! Heap fallback: a one-off message from the port's heap when the pool is empty.
//!
//! Fallback messages use `heap_slots` extra descriptors after the pool's, so every pointer the
//! API accepts is still validated by address range alone and a descriptor is never freed. A
//! slot's `next` field is its claim flag (0 free, 1 claimed).

use super::Pool;
use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::header::MsgHeader;
use crate::metrics::Counters;
use crate::port::Port;
use crate::sync::Ordering;

/// What `try_alloc_or` does when the pool is empty (C: `enum pool_fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fallback {
    /// Give up: counted in `pool_drop_count`.
    Drop = 0,
    /// Allocate a one-off message from the port's heap (counted in `fallback_allocs`); `unref`
    /// returns it to the heap. Needs `heap_slots > 0`. If the heap fails too, it is a drop.
    Heap = 1,
}

impl Fallback {
    /// The policy for a C value (`POOL_FALLBACK_DROP`, `POOL_FALLBACK_HEAP`), `None` otherwise.
    pub const fn from_c(v: u8) -> Option<Self> {
        match v {
            0 => Some(Fallback::Drop),
            1 => Some(Fallback::Heap),
            _ => None,
        }
    }
}

impl<'a, P: Port> Pool<'a, P> {
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

    fn heap_layout(&self) -> Option<core::alloc::Layout> {
        core::alloc::Layout::from_size_align(self.layout.stride, MsgHeader::ALIGN).ok()
    }

    fn heap_alloc(&self) -> Option<&'a Descriptor> {
        let layout = self.heap_layout()?;
        let slots = &self.descs[self.layout.entries..];
        let d = slots.iter().find(|d| {
            d.next
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })?;
        let block = self.port.heap_alloc(layout).cast::<MsgHeader>();
        if block.is_null() || !block.is_aligned() {
            if !block.is_null() {
                // SAFETY: `block` came from `heap_alloc(layout)` just now and is not used.
                unsafe { self.port.heap_free(block.cast(), layout) };
                log::warn!("heap fallback: the port returned misaligned memory");
            }
            d.next.store(0, Ordering::Release);
            return None;
        }
        // SAFETY: `block` is a fresh allocation of `stride >= MsgHeader::SIZE` bytes aligned for MsgHeader.
        unsafe { block.write(MsgHeader::empty_at(block)) };
        d.msg.store(block, Ordering::Relaxed);
        d.set_allocated(self.age_stamp());
        Counters::bump(&self.counters.fallback_allocs);
        Some(d)
    }

    /// Returns a heap fallback message whose refcount just reached 0 to the heap and frees
    /// its slot.
    pub(super) fn heap_recycle(&self, d: &Descriptor) {
        let block = d.msg.swap(core::ptr::null_mut(), Ordering::Relaxed);
        // `heap_alloc` got this block with the same layout, so it exists (no panic path here).
        if let Some(layout) = self.heap_layout() {
            // SAFETY: `block` came from `port.heap_alloc(layout)` in `heap_alloc` and the last
            // reference is gone (refcount 0 after the Acquire fence), so nobody uses it.
            unsafe { self.port.heap_free(block.cast(), layout) };
        }
        Counters::bump(&self.counters.fallback_frees);
        d.next.store(0, Ordering::Release);
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::super::{CheckReport, PoolConfig};
    use super::*;
    use crate::host::{HostPool, StdPort};

    fn pool(entries: usize) -> HostPool {
        HostPool::new(PoolConfig::new(entries, 32)).unwrap()
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
    fn fallback_policy_from_c_refuses_unknown_values() {
        assert_eq!(Fallback::from_c(0), Some(Fallback::Drop));
        assert_eq!(Fallback::from_c(1), Some(Fallback::Heap));
        assert_eq!(Fallback::from_c(2), None);
        assert_eq!(Fallback::from_c(255), None);
    }
}
