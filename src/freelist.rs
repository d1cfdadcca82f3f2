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

use crate::descriptor::Descriptor;
use crate::sync::{const_fn, AtomicU32, Ordering};

/// Index meaning "no entry" (end of list / empty list).
pub const EMPTY: u16 = u16::MAX;

/// Largest number of entries the index can address.
pub const MAX_INDEX_ENTRIES: usize = EMPTY as usize;

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
    pub(crate) fn push(&self, descs: &[Descriptor], index: u16) {
        let node = &descs[index as usize];
        let mut head = Head(self.head.load(Ordering::Relaxed));
        loop {
            node.next.store(head.index(), Ordering::Relaxed);
            // Release: the entry's state (refcount 0, message bytes) is published to the popper.
            match self.head.compare_exchange_weak(
                head.0,
                head.next_with(index).0,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => head = Head(actual),
            }
        }
    }

    /// Pops the top index, or `None` when empty.
    pub(crate) fn pop(&self, descs: &[Descriptor]) -> Option<u16> {
        let mut head = Head(self.head.load(Ordering::Acquire));
        loop {
            let index = head.index();
            if index == EMPTY {
                return None;
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
        Head(self.head.load(Ordering::Relaxed)).index() == EMPTY
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
}
