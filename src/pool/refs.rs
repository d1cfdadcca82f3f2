//! Raw pointers: validation (never dereferencing a pointer that is not one of ours), `ref`,
//! `unref` and recycling an entry whose last reference is gone.

use super::Pool;
use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::metrics::Counters;
use crate::port::Port;

/// A pointer checked once against one pool: it is the descriptor at `index` of the pool whose
/// [`entry`](Pool::entry) made it (in range and aligned; never dereferenced by the check). It
/// says nothing about the refcount. The `_entry` operations take it instead of a raw pointer,
/// so a pointer crossing the C boundary is located once per call, in constant time.
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    index: usize,
    desc: &'a Descriptor,
}

impl<'a> Entry<'a> {
    /// Its index in the pool's descriptors (pool entries first, then heap slots).
    #[inline]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The descriptor (its refcount may be 0).
    #[inline]
    pub fn descriptor(&self) -> &'a Descriptor {
        self.desc
    }

    /// The descriptor if the entry is held (refcount above 0), else [`PoolError::RefOfFree`]:
    /// what a pointer must pass before its message is read.
    #[inline]
    pub fn held(&self) -> Result<&'a Descriptor, PoolError> {
        if self.desc.refcount() == 0 {
            return Err(PoolError::RefOfFree);
        }
        Ok(self.desc)
    }
}

impl<'a, P: Port> Pool<'a, P> {
    /// Locates `p` in this pool: [`PoolError::Null`], [`PoolError::ForeignPointer`] or
    /// [`PoolError::MisalignedPointer`] when it is not one of its descriptors. Constant time;
    /// never dereferences `p`.
    #[inline]
    pub fn entry(&self, p: *const Descriptor) -> Result<Entry<'a>, PoolError> {
        let index = self.index_of(p)?;
        Ok(Entry {
            index,
            desc: &self.descs[index],
        })
    }

    /// Maps a raw descriptor pointer to its index, refusing NULL, foreign and misaligned
    /// pointers. Never dereferences `p`.
    #[inline]
    pub fn index_of(&self, p: *const Descriptor) -> Result<usize, PoolError> {
        let base = self.descs.as_ptr() as usize;
        let size = core::mem::size_of::<Descriptor>();
        let offset = (p as usize).wrapping_sub(base);
        if offset >= core::mem::size_of_val(self.descs) {
            // NULL is outside every pool's array too: told apart only on the refusal path.
            return Err(if p.is_null() {
                PoolError::Null
            } else {
                PoolError::ForeignPointer
            });
        }
        // One division (a multiply by the inverse for a constant size) and a multiply back,
        // instead of a remainder and a division.
        let index = offset / size;
        if index * size != offset {
            return Err(PoolError::MisalignedPointer);
        }
        Ok(index)
    }

    /// The descriptor `p` designates if it is one of ours and held (refcount above 0):
    /// [`PoolError::Null`], [`PoolError::ForeignPointer`], [`PoolError::MisalignedPointer`] or
    /// [`PoolError::RefOfFree`] otherwise. What a C caller's pointer must pass before its
    /// message is read.
    pub fn held(&self, p: *const Descriptor) -> Result<&'a Descriptor, PoolError> {
        self.entry(p)?.held()
    }

    /// The descriptor `p` designates, if it is one of ours (it may be free).
    pub fn descriptor(&self, p: *const Descriptor) -> Result<&'a Descriptor, PoolError> {
        self.entry(p).map(|e| e.descriptor())
    }

    /// The held entry whose message starts at `msg` (a pool message or a live heap fallback
    /// message), or `None`. Never dereferences `msg`.
    pub fn entry_of_message(&self, msg: *const crate::header::MsgHeader) -> Option<&'a Descriptor> {
        let offset = (msg as usize).wrapping_sub(self.region.as_ptr() as usize);
        let found = if offset < self.layout.region_bytes() {
            if offset.is_multiple_of(self.layout.stride) {
                self.descs.get(offset / self.layout.stride)
            } else {
                None
            }
        } else {
            self.descs[self.layout.entries..]
                .iter()
                .find(|d| !msg.is_null() && core::ptr::eq(d.msg_ptr().cast_const(), msg))
        };
        found.filter(|d| d.refcount() > 0)
    }

    /// Adds a reference to a held entry (`msg_ref`). Refusals change nothing and are counted.
    ///
    /// # Safety
    /// The caller owns one reference to `p` (so the entry cannot be recycled meanwhile and the
    /// new reference is one more of a live entry). A pointer that is not one of this pool's
    /// descriptors, or a free entry, is refused without harm; the contract is what keeps a
    /// racing last unref from recycling the entry between the check and the increment.
    pub unsafe fn ref_raw(&self, p: *const Descriptor) -> Result<u32, PoolError> {
        match self.entry(p) {
            // SAFETY: forwarded contract.
            Ok(e) => unsafe { self.ref_entry(e) },
            Err(e) => {
                self.refused_ref(e);
                Err(e)
            }
        }
    }

    /// [`ref_raw`](Self::ref_raw) of an entry already located.
    ///
    /// # Safety
    /// As for [`ref_raw`](Self::ref_raw); `e` came from this pool's [`entry`](Self::entry).
    #[inline]
    pub unsafe fn ref_entry(&self, e: Entry<'a>) -> Result<u32, PoolError> {
        e.desc.try_ref().inspect_err(|&err| self.refused_ref(err))
    }

    /// Drops a reference (`msg_unref`); the last one recycles the entry. ISR-safe.
    /// Refusals (NULL, foreign, misaligned, double unref) change nothing and are counted.
    ///
    /// # Safety
    /// The caller owns one reference to `p` and gives it up: no handle ([`Msg`](crate::Msg))
    /// or other owner still counts on it. Releasing a reference someone else owns lets the
    /// entry be reallocated while that owner still reads or writes it.
    #[inline]
    pub unsafe fn unref_raw(&self, p: *const Descriptor) -> Result<(), PoolError> {
        match self.entry(p) {
            // SAFETY: forwarded contract.
            Ok(e) => unsafe { self.unref_entry(e) },
            Err(e) => {
                self.refused_unref(e);
                Err(e)
            }
        }
    }

    /// [`unref_raw`](Self::unref_raw) of an entry already located.
    ///
    /// # Safety
    /// As for [`unref_raw`](Self::unref_raw); `e` came from this pool's [`entry`](Self::entry).
    #[inline]
    pub unsafe fn unref_entry(&self, e: Entry<'a>) -> Result<(), PoolError> {
        debug_assert!(core::ptr::eq(e.desc, &self.descs[e.index]));
        self.unref_at(e.index, 1)
            .inspect_err(|&err| self.refused_unref(err))
    }

    /// Drops one reference of `d`, one of this pool's descriptors (the handle's path, which
    /// skips the pointer checks). A double unref is still refused and counted.
    #[inline]
    pub(crate) fn unref_own(&self, d: &Descriptor) {
        match d.try_unref_n(1) {
            Ok(true) => self.recycle(self.index_of_own(d), d),
            Ok(false) => {}
            Err(e) => self.refused_unref(e),
        }
    }

    /// Drops `n` references of the descriptor at `index`, recycling it on the last one.
    ///
    /// Inlined into each caller (`msg_unref`, the handle's drop, the end of `broadcast`): the
    /// consumer's release is on every message's path.
    #[inline]
    pub(crate) fn unref_at(&self, index: usize, n: u32) -> Result<(), PoolError> {
        let d = &self.descs[index];
        if d.try_unref_n(n)? {
            self.recycle(index, d);
        }
        Ok(())
    }

    /// Counts and logs a refused unref (also one no pool could attribute: a caller with
    /// several pools counts NULL and foreign pointers in one of them).
    #[cold]
    pub fn refused_unref(&self, e: PoolError) {
        Counters::bump(&self.counters.invalid_unrefs);
        log::warn!("msg_unref refused: {e}");
    }

    /// Counts and logs a refused ref (see [`refused_unref`](Self::refused_unref)).
    #[cold]
    pub fn refused_ref(&self, e: PoolError) {
        Counters::bump(&self.counters.invalid_refs);
        log::warn!("msg_ref refused: {e}");
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
            self.push_free(index as u16);
        } else {
            self.heap_recycle(d);
        }
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::super::PoolConfig;
    use super::*;
    use crate::host::HostPool;

    fn pool(entries: usize) -> HostPool {
        HostPool::new(PoolConfig::new(entries, 32)).unwrap()
    }

    #[test]
    fn extra_refs_keep_the_entry_until_the_last_unref() {
        let h = pool(1);
        let p = h.pool();
        let d = p.try_alloc_raw().unwrap();
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        assert_eq!(unsafe { p.ref_raw(d) }, Ok(2));
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(d) }.unwrap();
        assert_eq!(p.try_alloc_raw().err(), Some(PoolError::Exhausted));
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(d) }.unwrap();
        assert!(p.try_alloc_raw().is_ok());
    }
}
