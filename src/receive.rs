//! The consumer side: `receive` one item from a target's queue, `purge` a dead module's queue.

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::metrics::Counters;
use crate::msg::Msg;
use crate::pool::Pool;
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
                let mut item = 0usize;
                // SAFETY: `item` is a writable usize, the queue's item size.
                if !unsafe { target.queue.get((&mut item as *mut usize).cast(), timeout) } {
                    return Err(PoolError::Timeout);
                }
                let p = item as *const Descriptor;
                // SAFETY: a pointer-mode queue item carries one reference, given to the handle.
                let msg = unsafe { self.from_raw(p) }.inspect_err(|_| {
                    Counters::bump(&self.counters.invalid_unrefs);
                })?;
                msg.descriptor().holder.store(target.id, Ordering::Relaxed);
                Ok(Received::Msg(msg))
            }
            Mode::Value => {
                let item = target.queue.item_size();
                let buf = value_buf.ok_or(PoolError::BufferTooSmall)?;
                if buf.len() < item {
                    return Err(PoolError::BufferTooSmall);
                }
                // SAFETY: `buf` has at least `item` writable bytes.
                if !unsafe { target.queue.get(buf.as_mut_ptr(), timeout) } {
                    return Err(PoolError::Timeout);
                }
                Ok(Received::Value(item))
            }
        }
    }

    /// Drains a (dead) module's queue and releases every message in it; returns how many.
    pub fn purge<Q: Queue>(&self, target: &Target<Q>) -> Result<usize, PoolError> {
        let mode = target.mode()?;
        let n = match mode {
            Mode::Pointer => {
                let mut n = 0;
                let mut item = 0usize;
                // SAFETY: `item` is a writable usize, the queue's item size.
                while unsafe {
                    target
                        .queue
                        .get((&mut item as *mut usize).cast(), Timeout::NoWait)
                } {
                    // SAFETY: a pointer-mode queue item carries one reference, which we give up.
                    if unsafe { self.unref_raw(item as *const Descriptor) }.is_ok() {
                        n += 1;
                    }
                }
                n
            }
            Mode::Value => target.queue.purge(),
        };
        self.counters.purged.fetch_add(n as u32, Ordering::Relaxed);
        Ok(n)
    }
}
