//! Diagnostics: the self-check and the leak report.
//!
//! The leak report says who holds an entry *now*: a pointer-mode queue item is found by
//! peeking into the targets' queues at report time ("queued at target X"); the references
//! not in a queue belong to the last receiver ("held by target X") or, if the entry was never
//! received, to the producer. Nothing of this costs the hot path but one relaxed store of the
//! receiver's id per receive. Limitation: with several receivers holding the entry at once,
//! "held by" names the last one to receive it.

use super::Pool;
use crate::descriptor::HOLDER_PRODUCER;
use crate::error::PoolError;
use crate::port::{Port, Queue};
use crate::sync::Ordering;
use crate::target::{Mode, Target};

/// Target id meaning "nobody" in a [`Leak`] (no queue holds it, or no reference is held outside
/// queues).
pub const HOLDER_NONE: u16 = 0xFFFE;

/// [`Leak::age_ms`] of a build without the `leak-age` feature: the age was not recorded.
pub const AGE_UNKNOWN: u32 = u32::MAX;

/// One entry held longer than the asked age, from [`Pool::leaks`] (C: `struct pool_leak`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Leak {
    /// Descriptor index (heap fallback slots follow the pool entries).
    pub index: u16,
    /// The first of the given targets whose queue holds the entry, or [`HOLDER_NONE`].
    pub queued_at: u16,
    /// How many items of the given targets' queues point at the entry.
    pub queued: u16,
    /// Who holds the references that are not in a queue: the last target that received it,
    /// [`HOLDER_PRODUCER`] if it was never received, or [`HOLDER_NONE`] if every reference is
    /// queued.
    pub held_by: u16,
    /// Its refcount now.
    pub refcount: u32,
    /// Milliseconds since it was allocated (wrapping arithmetic: survives the 49.7-day wrap);
    /// [`AGE_UNKNOWN`] in a build without the `leak-age` feature, which does not record it.
    pub age_ms: u32,
}

impl Default for Leak {
    /// An empty record (for output buffers).
    fn default() -> Self {
        Leak {
            index: 0,
            queued_at: HOLDER_NONE,
            queued: 0,
            held_by: HOLDER_NONE,
            refcount: 0,
            age_ms: 0,
        }
    }
}

/// What [`Pool::check`] found (C: `struct pool_check_report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct CheckReport {
    /// Entries on the free list.
    pub free: usize,
    /// Pool entries with a refcount > 0.
    pub held: usize,
    /// Heap fallback messages alive.
    pub heap_held: usize,
}

impl<P: Port> Pool<'_, P> {
    /// Proves free list + held entries = all entries, that no entry above the free list's depth
    /// mark (the high-water mark) is held, and that the heap fallback counters agree.
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
        // The free list's depth mark: every entry ever handed out is below it (module docs of
        // `freelist`), so a held entry above it means a corrupt list or mark.
        let touched = self.free.touched() as usize;
        let above_mark = self.descs[touched.min(entries)..entries]
            .iter()
            .any(|d| d.refcount() > 0);
        if bad || above_mark || free + held != entries || touched > entries {
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
        let c = &self.counters;
        let fallback_in_use = c
            .fallback_allocs
            .load(Ordering::Relaxed)
            .wrapping_sub(c.fallback_frees.load(Ordering::Relaxed));
        if fallback_in_use as usize != heap_held {
            return Err(PoolError::Corrupt);
        }
        Ok(CheckReport {
            free,
            held,
            heap_held,
        })
    }

    /// Fills `out` with entries held for at least `min_age_ms` (without the `leak-age` feature
    /// ages are not recorded: every held entry, with [`AGE_UNKNOWN`]), in index order, saying for
    /// each which of `targets` still have it queued and who holds the rest (see the module
    /// docs); returns how many such entries there are (which may exceed `out.len()`).
    ///
    /// The queues are peeked while other threads may use them: the answer is exact only
    /// while the system is quiescent, like [`check`](Self::check).
    pub fn leaks<Q: Queue>(
        &self,
        min_age_ms: u32,
        targets: &[&Target<Q>],
        out: &mut [Leak],
    ) -> usize {
        #[cfg(feature = "leak-age")]
        let now = self.port.now_ms();
        let mut n = 0;
        for (i, d) in self.descs.iter().enumerate() {
            let refcount = d.refcount();
            if refcount == 0 {
                continue;
            }
            #[cfg(feature = "leak-age")]
            let age_ms = now.wrapping_sub(d.since_ms.load(Ordering::Relaxed));
            #[cfg(not(feature = "leak-age"))]
            let age_ms = AGE_UNKNOWN;
            if age_ms < min_age_ms {
                continue;
            }
            if let Some(slot) = out.get_mut(n) {
                let (queued, queued_at) = queued_in(d as *const _ as usize, targets);
                let held_outside = refcount > queued as u32;
                *slot = Leak {
                    index: i as u16,
                    queued_at,
                    queued,
                    held_by: if held_outside {
                        d.holder.load(Ordering::Relaxed)
                    } else {
                        HOLDER_NONE
                    },
                    refcount,
                    age_ms,
                };
            }
            n += 1;
        }
        n
    }
}

/// How many items of the pointer-mode `targets`' queues equal `item`, and the first target
/// holding one.
fn queued_in<Q: Queue>(item: usize, targets: &[&Target<Q>]) -> (u16, u16) {
    let mut count = 0u16;
    let mut first = HOLDER_NONE;
    for t in targets {
        if t.mode() != Ok(Mode::Pointer) {
            continue;
        }
        for k in 0..t.queue().len() {
            let mut got = 0usize;
            // SAFETY: `got` is a writable usize, the item size of a pointer-mode queue.
            if !unsafe { t.queue().peek_at(k, (&mut got as *mut usize).cast()) } {
                break;
            }
            if got == item {
                count = count.saturating_add(1);
                if first == HOLDER_NONE {
                    first = t.id();
                }
            }
        }
    }
    (count, first)
}

// `HOLDER_PRODUCER` is what `held_by` says for an entry never received.
const _: () = assert!(HOLDER_PRODUCER != HOLDER_NONE);

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::super::PoolConfig;
    use super::*;
    use crate::host::{HostPool, HostQueue};
    use crate::port::Timeout;
    use crate::Received;

    fn pool(entries: usize) -> HostPool {
        HostPool::new(PoolConfig::new(entries, 32)).unwrap()
    }

    #[test]
    fn leak_report_blames_the_stuck_queue_not_the_consumer_that_released() {
        let h = pool(8);
        let p = h.pool();
        let fast = Target::new(HostQueue::pointers(8), Mode::Pointer, 11).unwrap();
        let stuck = Target::new(HostQueue::pointers(8), Mode::Pointer, 12).unwrap();
        for _ in 0..3 {
            let m = p.try_alloc().unwrap();
            assert_eq!(p.broadcast(m, &[&fast, &stuck]), Ok(2));
        }
        // The fast consumer receives and releases all three; `stuck` never receives.
        for _ in 0..3 {
            assert!(matches!(
                p.receive(&fast, None, Timeout::NoWait),
                Ok(Received::Msg(_))
            ));
        }
        // One more message: received by the fast consumer and kept.
        let m = p.try_alloc().unwrap();
        assert_eq!(p.broadcast(m, &[&fast, &stuck]), Ok(2));
        let kept = match p.receive(&fast, None, Timeout::NoWait) {
            Ok(Received::Msg(m)) => m,
            _ => panic!("expected a message"),
        };
        // And one the producer still holds.
        let _own = p.try_alloc().unwrap();

        let mut out = [Leak::default(); 8];
        assert_eq!(p.leaks(0, &[&fast, &stuck], &mut out), 5);
        for l in &out[..3] {
            assert_eq!(
                (l.queued_at, l.queued, l.held_by, l.refcount),
                (12, 1, HOLDER_NONE, 1),
                "{l:?}"
            );
        }
        // The receiver is recorded as the holder with the `trace` feature only.
        let receiver = if cfg!(feature = "trace") {
            11
        } else {
            HOLDER_PRODUCER
        };
        assert_eq!(
            (out[3].queued_at, out[3].held_by, out[3].refcount),
            (12, receiver, 2)
        );
        assert_eq!(
            (out[4].queued_at, out[4].queued, out[4].held_by),
            (HOLDER_NONE, 0, HOLDER_PRODUCER)
        );
        drop(kept);
        assert_eq!(p.purge(&stuck), Ok(4));
    }

    #[test]
    #[cfg(feature = "leak-age")]
    fn leak_report_filters_by_age_and_counts_beyond_the_buffer() {
        let h = pool(3);
        let p = h.pool();
        let _a = p.try_alloc().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let _b = p.try_alloc().unwrap();
        let mut out = [Leak::default(); 4];
        let none: &[&Target<HostQueue>] = &[];
        assert_eq!(p.leaks(15, none, &mut out), 1);
        assert_eq!(out[0].index, 0);
        assert!(out[0].age_ms >= 15);
        assert_eq!(p.leaks(0, none, &mut []), 2);
    }

    #[test]
    #[cfg(not(feature = "leak-age"))]
    fn without_leak_ages_every_held_entry_is_reported_with_an_unknown_age() {
        let h = pool(3);
        let p = h.pool();
        let _a = p.try_alloc().unwrap();
        let _b = p.try_alloc().unwrap();
        let mut out = [Leak::default(); 4];
        let none: &[&Target<HostQueue>] = &[];
        assert_eq!(p.leaks(1_000_000, none, &mut out), 2);
        assert!(out[..2].iter().all(|l| l.age_ms == AGE_UNKNOWN));
    }

    #[test]
    fn check_detects_a_corrupted_refcount() {
        let h = pool(2);
        let p = h.pool();
        p.descriptors()[1].refcount.store(1, Ordering::Relaxed); // free but "held"
        assert_eq!(p.check().err(), Some(PoolError::Corrupt));
    }
}
