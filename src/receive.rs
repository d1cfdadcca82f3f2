//! The consumer side: `receive` one item from a target's queue, `purge` a dead module's queue.
//!
//! The pool-free halves ([`Target::receive_ptr`], [`Target::receive_value`],
//! [`Target::drain_ptrs`]) let a caller with several pools take an item first and find the
//! pool that owns it afterwards (what the C API does); [`Pool::receive`] and [`Pool::purge`]
//! are the one-pool forms.

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::header::MsgHeader;
use crate::metrics::Counters;
use crate::msg::Msg;
use crate::pool::{Entry, Pool};
use crate::port::{Port, Queue, Timeout};
use crate::sync::Ordering;
use crate::target::{Mode, Target};

/// What [`Pool::receive`] got.
pub enum Received<'p, 'a, P: Port> {
    /// A pointer-mode item: one reference, released when dropped.
    Msg(Msg<'p, 'a, P>),
    /// A value-mode item: this many bytes were copied into the caller's buffer.
    Value(usize),
}

impl<Q: Queue> Target<Q> {
    /// Takes one pointer item, waiting up to `timeout` ([`PoolError::Timeout`] when none came).
    /// The pointer carries one reference; give it to [`Pool::accept`] of the pool that owns it.
    /// Refuses value-mode and uninitialised targets. The caller checks the ISR rule.
    pub fn receive_ptr(&self, timeout: Timeout) -> Result<*const Descriptor, PoolError> {
        if self.mode()? != Mode::Pointer {
            return Err(PoolError::BadTargetQueue);
        }
        self.get_ptr(timeout)
    }

    /// [`receive_ptr`](Self::receive_ptr) of a target already known to be a ready pointer
    /// target (the caller checked [`mode`](Self::mode)).
    #[inline]
    fn get_ptr(&self, timeout: Timeout) -> Result<*const Descriptor, PoolError> {
        let mut item = 0usize;
        // SAFETY: `item` is a writable usize, the queue's item size (checked in Target::new).
        if !unsafe { self.queue.get((&mut item as *mut usize).cast(), timeout) } {
            return Err(PoolError::Timeout);
        }
        Ok(item as *const Descriptor)
    }

    /// Copies one value item into `buf` (at least the queue's item size, else
    /// [`PoolError::BufferTooSmall`]), waiting up to `timeout`; returns the item size.
    /// The copy's `data_ptr` is set to its own payload (`buf` + [`MsgHeader::SIZE`]), not the
    /// sender's. Refuses pointer-mode and uninitialised targets. The caller checks the ISR rule.
    pub fn receive_value(&self, buf: &mut [u8], timeout: Timeout) -> Result<usize, PoolError> {
        if self.mode()? != Mode::Value {
            return Err(PoolError::BadTargetQueue);
        }
        let item = self.queue.item_size();
        if buf.len() < item {
            return Err(PoolError::BufferTooSmall);
        }
        // SAFETY: `buf` has at least `item` writable bytes.
        if !unsafe { self.queue.get(buf.as_mut_ptr(), timeout) } {
            return Err(PoolError::Timeout);
        }
        // Value items are at least a header long (checked when the target was created).
        let at = core::mem::offset_of!(MsgHeader, data_ptr);
        let own = buf.as_mut_ptr().wrapping_add(MsgHeader::SIZE) as usize;
        buf[at..at + core::mem::size_of::<usize>()].copy_from_slice(&own.to_ne_bytes());
        Ok(item)
    }

    /// Empties the queue: each pointer item is passed to `release` (which owns its reference
    /// from then on); value items are discarded. Returns how many items `release` accepted
    /// (value mode: how many were discarded).
    pub fn drain_ptrs(
        &self,
        mut release: impl FnMut(*const Descriptor) -> bool,
    ) -> Result<usize, PoolError> {
        match self.mode()? {
            Mode::Pointer => {
                let mut n = 0;
                while let Ok(p) = self.receive_ptr(Timeout::NoWait) {
                    n += release(p) as usize;
                }
                Ok(n)
            }
            Mode::Value => Ok(self.queue.purge()),
        }
    }
}

impl<'a, P: Port> Pool<'a, P> {
    /// Receives one item from `target`, waiting up to `timeout`.
    ///
    /// Pointer mode returns a [`Msg`] (its reference is released on drop). Value mode copies
    /// the item into `value_buf` (at least the queue's item size, else
    /// [`PoolError::BufferTooSmall`]). [`PoolError::Timeout`] when nothing arrived. From an
    /// ISR only [`Timeout::NoWait`] is allowed ([`PoolError::BlockingInIsr`] otherwise).
    pub fn receive<'p, Q: Queue>(
        &'p self,
        target: &Target<Q>,
        value_buf: Option<&mut [u8]>,
        timeout: Timeout,
    ) -> Result<Received<'p, 'a, P>, PoolError> {
        let mode = target.mode()?;
        if timeout != Timeout::NoWait && self.port().in_isr() {
            return Err(PoolError::BlockingInIsr);
        }
        match mode {
            Mode::Pointer => {
                // The target's state and mode are read once, above.
                let p = target.get_ptr(timeout)?;
                // SAFETY: a pointer-mode queue item carries one reference, given to the handle.
                Ok(Received::Msg(unsafe { self.accept(p, target) }?))
            }
            Mode::Value => {
                let buf = value_buf.ok_or(PoolError::BufferTooSmall)?;
                target.receive_value(buf, timeout).map(Received::Value)
            }
        }
    }

    /// Adopts a pointer received from `target`'s queue: validates it like
    /// [`from_raw`](Self::from_raw) (a refusal is counted in `invalid_unrefs`: the reference
    /// it claimed to carry is lost) and records `target` as its holder for the leak report.
    ///
    /// # Safety
    /// `p` came out of `target`'s queue, so it carries one reference, given to the handle.
    pub unsafe fn accept<Q: Queue>(
        &self,
        p: *const Descriptor,
        target: &Target<Q>,
    ) -> Result<Msg<'_, 'a, P>, PoolError> {
        match self.entry(p) {
            // SAFETY: forwarded contract.
            Ok(e) => unsafe { self.accept_entry(e, target) },
            Err(e) => {
                Counters::bump(&self.counters.invalid_unrefs);
                Err(e)
            }
        }
    }

    /// [`accept`](Self::accept) of an entry already located: refuses a free entry (counted in
    /// `invalid_unrefs`), else records `target` as its holder and returns the handle.
    ///
    /// # Safety
    /// As for [`accept`](Self::accept); `e` came from this pool's [`entry`](Self::entry).
    #[inline]
    pub unsafe fn accept_entry<Q: Queue>(
        &self,
        e: Entry<'a>,
        target: &Target<Q>,
    ) -> Result<Msg<'_, 'a, P>, PoolError> {
        let d = e
            .held()
            .inspect_err(|_| Counters::bump(&self.counters.invalid_unrefs))?;
        #[cfg(feature = "trace")]
        d.holder.store(target.id, Ordering::Relaxed);
        #[cfg(not(any(feature = "trace", feature = "timing")))]
        let _ = target; // what it would record is compiled out
        #[cfg(feature = "timing")]
        target
            .timing
            .record_since(self.port(), d.sent_cycles.load(Ordering::Relaxed));
        // SAFETY: `e` is this pool's held entry and the reference it carries (caller contract)
        // goes to the handle.
        Ok(unsafe { Msg::adopt(self, d) })
    }

    /// Releases a pointer item taken out of a queue by a purge, counting it in `purged`.
    ///
    /// # Safety
    /// As for [`unref_raw`](Self::unref_raw): `p` carries one reference, which is given up.
    pub unsafe fn release_purged(&self, p: *const Descriptor) -> Result<(), PoolError> {
        match self.entry(p) {
            // SAFETY: forwarded contract.
            Ok(e) => unsafe { self.release_purged_entry(e) },
            Err(e) => {
                self.refused_unref(e);
                Err(e)
            }
        }
    }

    /// [`release_purged`](Self::release_purged) of an entry already located.
    ///
    /// # Safety
    /// As for [`release_purged`](Self::release_purged); `e` came from this pool's
    /// [`entry`](Self::entry).
    pub unsafe fn release_purged_entry(&self, e: Entry<'a>) -> Result<(), PoolError> {
        // SAFETY: forwarded contract.
        unsafe { self.unref_entry(e) }?;
        self.counters.purged.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Drains a (dead) module's queue and releases every message in it; returns how many.
    pub fn purge<Q: Queue>(&self, target: &Target<Q>) -> Result<usize, PoolError> {
        let n = target.drain_ptrs(|p| {
            // SAFETY: a pointer-mode queue item carries one reference, which we give up.
            unsafe { self.release_purged(p) }.is_ok()
        })?;
        if target.mode()? == Mode::Value {
            self.counters.purged.fetch_add(n as u32, Ordering::Relaxed);
        }
        Ok(n)
    }
}
