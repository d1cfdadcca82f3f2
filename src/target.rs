//! Targets (a module's queue plus its mode), `broadcast`, the consumer side and `purge`.
//!
//! # Broadcast protocol
//!
//! The producer's reference is held across the whole loop. The references of all
//! pointer-mode targets are added **before** any put, in one step (one CAS instead of one per
//! target); each successful put hands one of them to its queue, and the unused ones are given
//! back together with the producer's own in one step after the loop (the count cannot reach 0
//! before that: the producer's reference is still in it). Incrementing after a successful
//! put, as the seed note proposed, lets a fast consumer unref to 0 and recycle the entry while
//! the loop still runs. Value-mode targets get a copy. After the loop the producer's
//! reference is dropped; with no receiver the entry goes back to the pool right there.

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::handle::Msg;
use crate::metrics::{Counters, TargetStats};
use crate::msg::MsgHeader;
use crate::pool::Pool;
use crate::port::{Port, Queue, Timeout};
use crate::sync::{AtomicU32, Ordering};

/// How a target's queue carries messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Items are one descriptor pointer (`size_of::<usize>()` bytes); the receiver unrefs.
    Pointer = 1,
    /// Items are whole `dispatcher_msg_t` values (the old path); the receiver gets a copy.
    Value = 2,
}

const TARGET_READY: u32 = 0x7A56_E701;

/// A module's queue plus its mode and counters.
///
/// An all-zero `Target` (a zero-initialised C `dispatch_target_t`) is a valid value that
/// every operation refuses with [`PoolError::TargetUninit`].
#[repr(C)]
pub struct Target<Q: Queue> {
    state: AtomicU32,
    mode: u8,
    id: u16,
    delivered: AtomicU32,
    failed: AtomicU32,
    queue: Q,
}

impl<Q: Queue> Target<Q> {
    /// A target with id `id` (shown as the holder in leak reports) over `queue`.
    ///
    /// Refuses ([`PoolError::BadTargetQueue`]) a pointer-mode queue whose item is not one
    /// pointer, or a value-mode queue whose item is smaller than the message header.
    pub fn new(queue: Q, mode: Mode, id: u16) -> Result<Self, PoolError> {
        let item = queue.item_size();
        let fits = match mode {
            Mode::Pointer => item == core::mem::size_of::<usize>(),
            Mode::Value => item >= MsgHeader::SIZE,
        };
        if !fits {
            return Err(PoolError::BadTargetQueue);
        }
        Ok(Target {
            state: AtomicU32::new(TARGET_READY),
            mode: mode as u8,
            id,
            delivered: AtomicU32::new(0),
            failed: AtomicU32::new(0),
            queue,
        })
    }

    /// Its mode, or [`PoolError::TargetUninit`] for a never-initialised target.
    pub fn mode(&self) -> Result<Mode, PoolError> {
        if self.state.load(Ordering::Acquire) != TARGET_READY {
            return Err(PoolError::TargetUninit);
        }
        match self.mode {
            1 => Ok(Mode::Pointer),
            2 => Ok(Mode::Value),
            _ => Err(PoolError::TargetUninit),
        }
    }

    /// Its id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Its queue.
    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// Its counters.
    pub fn stats(&self) -> TargetStats {
        TargetStats {
            id: self.id,
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            queued: self.queue.len() as u32,
        }
    }
}

/// What [`Pool::receive`] got.
pub enum Received<'p, 'a, P: Port> {
    /// A pointer-mode item: one reference, released when dropped.
    Msg(Msg<'p, 'a, P>),
    /// A value-mode item: this many bytes were copied into the caller's buffer.
    Value(usize),
}

impl<'a, P: Port> Pool<'a, P> {
    /// Broadcasts `msg` to `targets`, consuming the handle; returns how many received it.
    ///
    /// ```
    /// # use dispatcher_pool::{host::{StdPort, HostQueue, HostPool}, pool::PoolConfig, target::{Target, Mode, Received}, port::Timeout};
    /// let host = HostPool::new(PoolConfig::new(8, 256)).unwrap();
    /// let pool = host.pool();
    /// let fast = Target::new(HostQueue::pointers(4), Mode::Pointer, 1).unwrap();
    /// let legacy = Target::new(HostQueue::values(2, pool.layout().stride), Mode::Value, 2).unwrap();
    /// let mut m = pool.try_alloc().unwrap();
    /// m.write(b"frame").unwrap();
    /// assert_eq!(pool.broadcast(m, &[&fast, &legacy]), Ok(2));
    /// match pool.receive(&fast, None, Timeout::NoWait).unwrap() {
    ///     Received::Msg(m) => assert_eq!(m.payload(), b"frame"),
    ///     Received::Value(_) => unreachable!(),
    /// }
    /// let mut copy = vec![0u8; pool.layout().stride];
    /// assert!(matches!(pool.receive(&legacy, Some(&mut copy), Timeout::NoWait), Ok(Received::Value(_))));
    /// assert_eq!(pool.snapshot().pool_in_use, 0);
    /// ```
    pub fn broadcast<Q: Queue>(
        &self,
        msg: Msg<'_, 'a, P>,
        targets: &[&Target<Q>],
    ) -> Result<usize, PoolError> {
        self.broadcast_raw(msg.into_raw().as_ptr(), targets)
    }

    /// Broadcasts the message behind `p` (`dispatcher_broadcast_ptr`). Never blocks; ISR-safe.
    ///
    /// The caller's (producer's) reference is always consumed when `p` is a held entry, also
    /// when an argument is refused (no targets, an uninitialised target, `message_len` above
    /// the payload size): then nothing is delivered, the drop is counted and the entry is
    /// released. A NULL, foreign, misaligned or free `p` is refused and nothing changes.
    pub fn broadcast_raw<Q: Queue>(
        &self,
        p: *const Descriptor,
        targets: &[&Target<Q>],
    ) -> Result<usize, PoolError> {
        let index = self.index_of(p)?;
        let d = &self.descriptors()[index];
        if d.refcount() == 0 {
            return Err(PoolError::RefOfFree);
        }
        // SAFETY: the entry is held (by the caller), so its message is valid; the header is
        // not written while the producer broadcasts.
        let msg_len = unsafe { (*d.msg_ptr()).message_len } as usize;
        let mut pointer_targets = 0u32;
        let mut uninit = false;
        for t in targets {
            match t.mode() {
                Ok(Mode::Pointer) => pointer_targets += 1,
                Ok(Mode::Value) => {}
                Err(_) => uninit = true,
            }
        }
        let refused = if targets.is_empty() {
            Some(PoolError::NoTargets)
        } else if msg_len > self.layout().payload_size {
            Some(PoolError::MessageTooLong)
        } else if uninit {
            Some(PoolError::TargetUninit)
        } else {
            None
        };
        if let Some(e) = refused {
            Counters::bump(&self.counters.drops);
            log::warn!("broadcast refused: {e}");
            self.release_n(index, 1);
            return Err(e);
        }
        Counters::bump(&self.counters.broadcasts);
        // Increment first (for every pointer target at once), then put.
        let mut spare = if pointer_targets > 0 {
            d.try_ref_n(pointer_targets).unwrap_or(0)
        } else {
            0
        };
        let stride = self.layout().stride;
        let item = p as usize;
        let mut delivered = 0;
        let mut last_holder = None;
        for t in targets {
            let ok = if t.mode == Mode::Pointer as u8 {
                // SAFETY: `item` is a usize and the queue's item size is size_of::<usize>() (checked in Target::new).
                let put = spare > 0 && unsafe { t.queue.try_put((&item as *const usize).cast()) };
                if put {
                    spare -= 1;
                    last_holder = Some(t.id);
                }
                put
            } else {
                let size = t.queue.item_size();
                MsgHeader::SIZE + msg_len <= size
                    && size <= stride
                    // SAFETY: the message has `stride >= size` readable bytes.
                    && unsafe { t.queue.try_put(d.msg_ptr().cast::<u8>()) }
            };
            if ok {
                t.delivered.fetch_add(1, Ordering::Relaxed);
                delivered += 1;
            } else {
                t.failed.fetch_add(1, Ordering::Relaxed);
                Counters::bump(&self.counters.enqueue_failures);
            }
        }
        if let Some(id) = last_holder {
            self.set_holder(d, id);
        }
        if delivered == 0 {
            Counters::bump(&self.counters.drops);
        }
        // The unused reservations and the producer's reference, in one step.
        self.release_n(index, spare + 1);
        Ok(delivered)
    }

    /// Drops `n` references we know we hold (only a double unref elsewhere can make this fail).
    #[inline]
    fn release_n(&self, index: usize, n: u32) {
        if let Err(e) = self.unref_at(index, n) {
            self.refused_unref(e);
        }
    }

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
                self.set_holder(msg.descriptor(), target.id);
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
                    if self.unref_raw(item as *const Descriptor).is_ok() {
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
