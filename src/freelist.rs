//! The free list: a lock-free LIFO (Treiber stack) of descriptor indices, ABA-safe with
//! 32-bit CAS only.
//!
//! The head is one `u32`: the low 16 bits are the index of the top descriptor
//! ([`EMPTY`] when the list is empty), the high 16 bits a tag bumped by every successful
//! push and pop. Each descriptor's `next` field holds the index below it.
//!
//! Why the tag: without it, this interleaving corrupts the list.
//!
//! | step | thread A (pop)                        | thread B                          | list      |
//! |------|---------------------------------------|-----------------------------------|-----------|
//! | 1    | reads head = 1, next(1) = 2           |                                   | 1 → 2 → 3 |
//! | 2    | (preempted)                           | pops 1, pops 2, pushes 1          | 1 → 3     |
//! | 3    | CAS(head: 1 → 2) succeeds             |                                   | 2 (in use!) → 3 |
//!
//! With the tag, step 3 compares `(tag 0, 1)` with `(tag 3, 1)` and fails. A tag wraps after
//! 65,536 list operations, so A would need to be preempted across exactly a multiple of
//! 65,536 operations between its load and its CAS for the tag to collide.
//!
//! Descriptors are never freed, so reading `next` of a descriptor another thread popped
//! meanwhile is a stale read of an atomic, never a use-after-free: the CAS then fails.
//!
//! # Depth mark (the pool's high-water mark, for free)
//!
//! The pool pushes its entries in reverse at init, so the list starts as `0, 1, …, E-1` from
//! the top, and afterwards only pushes entries it popped before. So the entries never popped
//! are always the bottom of the list, in index order: a pop reaches a new entry only when every
//! entry popped before is off the list, i.e. in use. Hence "distinct entries ever popped" =
//! `1 + highest index ever popped` = the highest number of entries off the list at once
//! (pops and pushes are linearised by the head CAS). `pop` keeps that mark in `touched`: one
//! relaxed load per pop and a `fetch_max` only the first time an index is popped.
//!
//! # The waiting flag (blocking allocation without a fence)
//!
//! An empty list's head is [`EMPTY`], or [`WAITING`]: "empty, and an allocator may be asleep
//! waiting for an entry". A blocking allocator that finds the list empty sets the flag with a
//! CAS (`EMPTY` → `WAITING`, [`FreeList::take`] with `flag`) before it sleeps; a push onto a
//! `WAITING` head takes the flag off (the entry's `next` is `EMPTY`) and tells its caller to
//! wake a sleeper ([`FreeList::push`] returns `true`). Both are read-modify-writes of the one
//! head word, so they are totally ordered: either the flag CAS comes first and the push sees
//! it, or the push comes first and the flag CAS fails (the head changed), and the allocator
//! pops instead of sleeping. No fence and no separate waiter count are needed on the free
//! path: it costs what a plain push costs. The rest of the protocol (several sleepers, one
//! flag) is in `pool/alloc.rs`.

use crate::descriptor::Descriptor;
use crate::sync::{const_fn, AtomicU32, Ordering};

/// Index meaning "no entry" (end of list / empty list).
pub const EMPTY: u16 = u16::MAX;

/// Head index of an empty list on which an allocator may be waiting (never a `next` link).
pub const WAITING: u16 = u16::MAX - 1;

/// Largest number of entries the index can address (indices below [`WAITING`]).
pub const MAX_INDEX_ENTRIES: usize = WAITING as usize;

/// A packed `(tag, index)` head value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Head(u32);

impl Head {
    const fn new(tag: u16, index: u16) -> Self {
        Head(((tag as u32) << 16) | index as u32)
    }
    const fn index(self) -> u16 {
        self.0 as u16
    }
    const fn tag(self) -> u16 {
        (self.0 >> 16) as u16
    }
    /// The head that replaces `self` with `index` on top; the only place the tag changes.
    const fn next_with(self, index: u16) -> Self {
        Head::new(self.tag().wrapping_add(1), index)
    }
}

/// Lock-free LIFO of indices into a descriptor slice.
pub(crate) struct FreeList {
    head: AtomicU32,
    /// `1 + the highest index ever popped` (see the module docs): the high-water mark.
    touched: AtomicU32,
}

impl FreeList {
    const_fn! {
        /// An empty list.
        pub(crate) fn new() -> FreeList {
            FreeList {
                head: AtomicU32::new(Head::new(0, EMPTY).0),
                touched: AtomicU32::new(0),
            }
        }
    }

    /// Pushes `index`. The caller owns the entry exclusively (nobody else can push it).
    /// Returns `true` if the push took the [`WAITING`] flag off: the caller must wake a
    /// sleeping allocator.
    pub(crate) fn push(&self, descs: &[Descriptor], index: u16) -> bool {
        let node = &descs[index as usize];
        let mut head = Head(self.head.load(Ordering::Relaxed));
        loop {
            let below = head.index();
            // A flagged list is empty: the entry becomes its only element.
            let flagged = below == WAITING;
            node.next
                .store(if flagged { EMPTY } else { below }, Ordering::Relaxed);
            // Release: the entry's state (refcount 0, message bytes) is published to the popper.
            match self.head.compare_exchange_weak(
                head.0,
                head.next_with(index).0,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return flagged,
                Err(actual) => head = Head(actual),
            }
        }
    }

    /// Pops the top index, or `None` when empty.
    #[inline]
    pub(crate) fn pop(&self, descs: &[Descriptor]) -> Option<u16> {
        self.take(descs, false)
    }

    /// CAS of an `EMPTY` head to `WAITING`. Relaxed: the flag publishes no data; what matters
    /// is its place in the head's modification order, which every push reads.
    #[inline]
    fn flag(&self, head: Head) -> Result<(), Head> {
        self.head
            .compare_exchange_weak(
                head.0,
                head.next_with(WAITING).0,
                Ordering::Relaxed,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(Head)
    }

    /// Pops the top index; on an empty list with `flag`, sets the [`WAITING`] flag (or finds
    /// it set) and returns `None`: the caller may then sleep until a push that takes the flag
    /// off wakes it. One copy of the loop for `pop` and the blocking allocator: a smaller image
    /// on the MCUs (a `flag` test more per pop); inlined on the 64-bit hosts (speed over size).
    #[cfg_attr(
        any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "powerpc64"
        ),
        inline
    )]
    pub(crate) fn take(&self, descs: &[Descriptor], flag: bool) -> Option<u16> {
        let mut head = Head(self.head.load(Ordering::Acquire));
        loop {
            let index = head.index();
            if index >= WAITING {
                if !flag || index == WAITING {
                    return None;
                }
                match self.flag(head) {
                    Ok(()) => return None,
                    // A push (or another flag) came first: look again.
                    Err(actual) => {
                        head = actual;
                        continue;
                    }
                }
            }
            let next = descs[index as usize].next.load(Ordering::Relaxed);
            // Acquire: pairs with the pusher's Release.
            match self.head.compare_exchange_weak(
                head.0,
                head.next_with(next).0,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => head = Head(actual),
            }
        }
        let index = head.index();
        // Rarely written (once per entry, while the pool warms up): stays shared in caches.
        if u32::from(index) >= self.touched.load(Ordering::Relaxed) {
            self.touched
                .fetch_max(u32::from(index) + 1, Ordering::Relaxed);
        }
        Some(index)
    }

    /// How many distinct entries were ever popped: the highest number off the list at once.
    pub(crate) fn touched(&self) -> u32 {
        self.touched.load(Ordering::Relaxed)
    }

    /// Walks the list without changing it, calling `f` per index; stops after `limit` steps.
    /// Returns the number of steps taken, or `None` if the list is longer than `limit`
    /// (a cycle) or links out of range. Exact only when no other thread touches the list.
    pub(crate) fn walk(
        &self,
        descs: &[Descriptor],
        limit: usize,
        mut f: impl FnMut(u16),
    ) -> Option<usize> {
        let mut index = Head(self.head.load(Ordering::Acquire)).index();
        if index == WAITING {
            index = EMPTY;
        }
        let mut n = 0;
        while index != EMPTY {
            if n == limit || index as usize >= descs.len() {
                return None;
            }
            f(index);
            n += 1;
            index = descs[index as usize].next.load(Ordering::Acquire);
        }
        Some(n)
    }

    /// `true` when the list is empty (a racy hint).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_empty(&self) -> bool {
        Head(self.head.load(Ordering::Relaxed)).index() >= WAITING
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn descs(n: usize) -> std::vec::Vec<Descriptor> {
        (0..n).map(|_| Descriptor::new()).collect()
    }

    #[test]
    fn pops_in_lifo_order() {
        let d = descs(4);
        let fl = FreeList::new();
        for i in 0..4 {
            fl.push(&d, i);
        }
        assert_eq!(
            [fl.pop(&d), fl.pop(&d), fl.pop(&d), fl.pop(&d)],
            [Some(3), Some(2), Some(1), Some(0)]
        );
        assert_eq!(fl.pop(&d), None);
        assert!(fl.is_empty());
        assert_eq!(fl.touched(), 4);
    }

    #[test]
    fn touched_counts_distinct_entries_popped() {
        let d = descs(4);
        let fl = FreeList::new();
        for i in (0..4).rev() {
            fl.push(&d, i);
        }
        for _ in 0..3 {
            let a = fl.pop(&d).unwrap();
            fl.push(&d, a);
        }
        assert_eq!(fl.touched(), 1);
        let a = fl.pop(&d).unwrap();
        let b = fl.pop(&d).unwrap();
        fl.push(&d, a);
        fl.push(&d, b);
        assert_eq!((a, b, fl.touched()), (0, 1, 2));
    }

    #[test]
    fn every_push_and_pop_bumps_the_tag() {
        let d = descs(1);
        let fl = FreeList::new();
        fl.push(&d, 0);
        assert_eq!(Head(fl.head.load(Ordering::Relaxed)).tag(), 1);
        fl.pop(&d);
        assert_eq!(Head(fl.head.load(Ordering::Relaxed)), Head::new(2, EMPTY));
    }

    #[test]
    fn tag_wraps_without_touching_the_index() {
        let h = Head::new(u16::MAX, 7).next_with(9);
        assert_eq!((h.tag(), h.index()), (0, 9));
    }

    #[test]
    fn walk_detects_a_cycle() {
        let d = descs(2);
        let fl = FreeList::new();
        fl.push(&d, 0);
        fl.push(&d, 1);
        assert_eq!(fl.walk(&d, 2, |_| {}), Some(2));
        d[0].next.store(1, Ordering::Relaxed); // corrupt: 1 -> 0 -> 1
        assert_eq!(fl.walk(&d, 2, |_| {}), None);
    }

    #[test]
    fn the_waiting_flag_is_set_on_an_empty_list_only_and_taken_off_by_the_next_push() {
        let d = descs(2);
        let fl = FreeList::new();
        assert!(
            !fl.push(&d, 1),
            "a push onto an unflagged list wakes nobody"
        );
        // Not empty: no flag, the entry is popped.
        assert_eq!(fl.take(&d, true), Some(1));
        assert_eq!(fl.take(&d, true), None);
        assert_eq!(Head(fl.head.load(Ordering::Relaxed)).index(), WAITING);
        // A flagged list is empty to every reader, and stays flagged.
        assert!(fl.is_empty());
        assert_eq!(fl.pop(&d), None);
        assert_eq!(fl.take(&d, true), None);
        assert_eq!(fl.walk(&d, 4, |_| panic!("no entries")), Some(0));
        assert_eq!(Head(fl.head.load(Ordering::Relaxed)).index(), WAITING);
        // The push takes the flag off (and says so); the entry's link ends the list.
        assert!(fl.push(&d, 0));
        assert_eq!(d[0].next.load(Ordering::Relaxed), EMPTY);
        assert!(!fl.push(&d, 1));
        assert_eq!(fl.take(&d, true), Some(1), "entries on the list: no flag");
        assert_eq!([fl.pop(&d), fl.pop(&d)], [Some(0), None]);
        assert_eq!(Head(fl.head.load(Ordering::Relaxed)).index(), EMPTY);
    }
}
