//! `broadcast`: one message to many targets, by pointer or by copy.
//!
//! # Protocol
//!
//! The producer's reference is held across the whole loop. The references of all
//! pointer-mode targets are added **before** any put, in one step (one CAS instead of one per
//! target); each successful put hands one of them to its queue, and the unused ones are given
//! back together with the producer's own in one step after the loop (the count cannot reach 0
//! before that: the producer's reference is still in it). Incrementing after a successful
//! put, as the seed note proposed, lets a fast consumer unref to 0 and recycle the entry while
//! the loop still runs. Value-mode targets get a copy of the header and the `message_len`
//! payload bytes (the queue zero-fills the rest of its item), so a pool of small messages can
//! feed a queue of whole `dispatcher_msg_t` values. After the loop the producer's reference is
//! dropped; with no receiver the entry goes back to the pool right there.

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::header::MsgHeader;
use crate::metrics::Counters;
use crate::msg::Msg;
use crate::pool::{Entry, Pool};
use crate::port::{Port, Queue};
use crate::sync::Ordering;
use crate::target::{Mode, Target};
use core::mem::size_of;

impl<'a, P: Port> Pool<'a, P> {
    /// Broadcasts `msg` to `targets`, consuming the handle; returns how many received it.
    ///
    /// ```
    /// # use dispatcher_pool::{host::{HostQueue, HostPool}, pool::PoolConfig, target::{Target, Mode}, Received, MsgHeader, port::Timeout};
    /// // A pool of 256-byte payloads feeding a pointer queue and a queue of whole 1 KiB values.
    /// let host = HostPool::new(PoolConfig::new(8, 256)).unwrap();
    /// let pool = host.pool();
    /// let fast = Target::new(HostQueue::pointers(4), Mode::Pointer, 1).unwrap();
    /// let legacy = Target::new(HostQueue::values(2, MsgHeader::SIZE + 1024), Mode::Value, 2).unwrap();
    /// let mut m = pool.try_alloc().unwrap();
    /// m.write(b"frame").unwrap();
    /// assert_eq!(pool.broadcast(m, &[&fast, &legacy]), Ok(2));
    /// match pool.receive(&fast, None, Timeout::NoWait).unwrap() {
    ///     Received::Msg(m) => assert_eq!(m.payload(), b"frame"),
    ///     Received::Value(_) => unreachable!(),
    /// }
    /// let mut copy = vec![0u8; MsgHeader::SIZE + 1024];
    /// assert!(matches!(pool.receive(&legacy, Some(&mut copy), Timeout::NoWait), Ok(Received::Value(_))));
    /// assert_eq!(pool.snapshot().pool_in_use, 0);
    /// ```
    ///
    /// A message of another pool is broadcast by its own pool (whose counters it moves): a
    /// handle knows its pool, so it is never refused as foreign and never left pinned.
    pub fn broadcast<Q: Queue>(
        &self,
        msg: Msg<'_, 'a, P>,
        targets: &[&Target<Q>],
    ) -> Result<usize, PoolError> {
        let own = msg.pool();
        // SAFETY: the handle owned one reference to an entry of `own`, which `into_raw` hands
        // over to the call.
        unsafe { own.broadcast_raw(msg.into_raw().as_ptr(), targets) }
    }

    /// Broadcasts the message behind `p` (`msg_broadcast`). Never blocks; ISR-safe.
    ///
    /// The caller's (producer's) reference is always consumed when `p` is a held entry, also
    /// when an argument is refused (no targets, an uninitialised target, `message_len` above
    /// the payload size): then nothing is delivered, the drop is counted and the entry is
    /// released. A NULL, foreign, misaligned or free `p` is refused and nothing changes.
    ///
    /// # Safety
    /// The caller owns one reference to `p` (the producer's) and gives it up to the call.
    pub unsafe fn broadcast_raw<Q: Queue>(
        &self,
        p: *const Descriptor,
        targets: &[&Target<Q>],
    ) -> Result<usize, PoolError> {
        // SAFETY: forwarded contract.
        unsafe { self.broadcast_entry(self.entry(p)?, targets) }
    }

    /// [`broadcast_raw`](Self::broadcast_raw) of an entry already located (a free entry is
    /// still refused and nothing changes).
    ///
    /// # Safety
    /// As for [`broadcast_raw`](Self::broadcast_raw); `e` came from this pool's
    /// [`entry`](Self::entry).
    pub unsafe fn broadcast_entry<Q: Queue>(
        &self,
        e: Entry<'a>,
        targets: &[&Target<Q>],
    ) -> Result<usize, PoolError> {
        let (index, d) = (e.index(), e.held()?);
        let p: *const Descriptor = d;
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
        // One release at the end for both outcomes (one inlined copy of the recycling path).
        let (result, release) = match refused {
            Some(e) => {
                Counters::bump(&self.counters.drops);
                log::warn!("broadcast refused: {e}");
                (Err(e), 1)
            }
            None => {
                let (delivered, spare) = self.deliver(p, d, msg_len, pointer_targets, targets);
                (Ok(delivered), spare + 1)
            }
        };
        // The unused reservations and the producer's reference, in one step.
        self.release_n(index, release);
        result
    }

    /// The delivery loop of an accepted broadcast: returns (delivered, unused reservations).
    #[inline]
    fn deliver<Q: Queue>(
        &self,
        p: *const Descriptor,
        d: &Descriptor,
        msg_len: usize,
        pointer_targets: u32,
        targets: &[&Target<Q>],
    ) -> (usize, u32) {
        Counters::bump(&self.counters.broadcasts);
        // Increment first (for every pointer target at once), then put.
        let mut spare = if pointer_targets > 0 {
            d.try_ref_n(pointer_targets).unwrap_or(0)
        } else {
            0
        };
        let item = p as usize;
        // Before the first put: a receiver reads the stamp after taking the item.
        #[cfg(feature = "timing")]
        d.sent_cycles.store(self.port().cycles(), Ordering::Relaxed);
        let mut delivered = 0;
        for t in targets {
            let ok = if t.mode == Mode::Pointer as u8 {
                // SAFETY: `item` is a usize and the queue's item size is size_of::<usize>()
                // (checked in Target::new), so `len` is the whole item.
                let put = spare > 0
                    && unsafe {
                        t.queue
                            .try_put((&item as *const usize).cast(), size_of::<usize>())
                    };
                if put {
                    spare -= 1;
                }
                put
            } else {
                let len = MsgHeader::SIZE + msg_len;
                len <= t.queue.item_size()
                    // SAFETY: the message has `stride >= header + payload_size >= len` readable
                    // bytes (msg_len <= payload_size, checked above), and `len <= item_size`.
                    && unsafe { t.queue.try_put(d.msg_ptr().cast::<u8>(), len) }
            };
            if ok {
                #[cfg(feature = "timing")]
                t.timing.sample_depth(t.queue.len());
                #[cfg(feature = "trace")]
                t.delivered.fetch_add(1, Ordering::Relaxed);
                delivered += 1;
            } else {
                t.failed.fetch_add(1, Ordering::Relaxed);
                Counters::bump(&self.counters.enqueue_failures);
            }
        }
        if delivered == 0 {
            Counters::bump(&self.counters.drops);
        }
        (delivered, spare)
    }

    /// Drops `n` references we know we hold (only a double unref elsewhere can make this fail).
    #[inline]
    fn release_n(&self, index: usize, n: u32) {
        if let Err(e) = self.unref_at(index, n) {
            self.refused_unref(e);
        }
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use crate::host::{HostPool, HostQueue};
    use crate::pool::PoolConfig;
    use crate::target::{Mode, Target};

    #[test]
    fn targets_count_deliveries_with_the_trace_feature_only() {
        let h = HostPool::new(PoolConfig::new(2, 8)).unwrap();
        let p = h.pool();
        let t = Target::new(HostQueue::pointers(2), Mode::Pointer, 3).unwrap();
        for _ in 0..2 {
            assert_eq!(p.broadcast(p.try_alloc().unwrap(), &[&t]), Ok(1));
        }
        let s = t.stats();
        let counted = if cfg!(feature = "trace") { 2 } else { 0 };
        assert_eq!((s.delivered, s.failed, s.queued), (counted, 0, 2));
        assert_eq!(p.purge(&t), Ok(2));
    }
}
