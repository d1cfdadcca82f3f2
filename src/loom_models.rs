//! loom models: the free list, the last-unref race, broadcast racing fast consumers, blocking
//! allocation racing frees (no lost wake-up, no double hand-out), the heap fallback's slot
//! claim racing another claim and the slot's release, and the dispatcher registry's
//! close-and-drain protocol racing a broadcast.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --profile loom --features std --lib loom_models`
//! (`scripts/test` does, with `LOOM_MAX_PREEMPTIONS=2`).
//!
//! Message bytes live in raw memory loom cannot see, so each model shadows every entry's
//! payload with a `loom::cell::UnsafeCell`: owners write or read it exactly where they would
//! touch the payload, and loom reports a data race if the pool's orderings ever let two
//! owners of one entry overlap (an entry handed out twice, or recycled while referenced).

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::host::OwnedPool;
use crate::pool::{Fallback, Pool, PoolConfig};
use crate::port::{Port, Queue, Timeout};
use crate::target::{Mode, Target};
use crate::Received;
use loom::cell::UnsafeCell;
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use std::collections::VecDeque;
use std::vec::Vec;

/// `k_sem` semantics on loom primitives (see `host::HostSem`), limit configurable.
struct LoomPort {
    state: Mutex<(u32, u32, u32)>, // count, waiting, grants
    cv: Condvar,
    limit: u32,
}

impl LoomPort {
    fn new(limit: u32) -> Self {
        LoomPort {
            state: Mutex::new((0, 0, 0)),
            cv: Condvar::new(),
            limit,
        }
    }
}

// SAFETY: `heap_alloc` returns NULL or a fresh block of the layout from the global allocator,
// which `heap_free` takes back with the same layout.
unsafe impl Port for LoomPort {
    fn heap_alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: the pool asks for a non-zero size (a message stride).
        unsafe { std::alloc::alloc(layout) }
    }
    unsafe fn heap_free(&self, ptr: *mut u8, layout: core::alloc::Layout) {
        // SAFETY: `ptr` came from `heap_alloc(layout)` (caller contract).
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
    fn now_ms(&self) -> u32 {
        0
    }
    fn sem_take(&self, timeout: Timeout) -> bool {
        let mut s = self.state.lock().unwrap();
        if s.0 > 0 {
            s.0 -= 1;
            return true;
        }
        assert_ne!(timeout, Timeout::NoWait, "models only wait forever");
        s.1 += 1;
        loop {
            if s.2 > 0 {
                s.2 -= 1;
                return true;
            }
            s = self.cv.wait(s).unwrap();
        }
    }
    fn sem_give(&self) {
        let mut s = self.state.lock().unwrap();
        if s.1 > 0 {
            s.1 -= 1;
            s.2 += 1;
            drop(s);
            self.cv.notify_one();
        } else if s.0 < self.limit {
            s.0 += 1;
        }
    }
}

/// A pointer queue on a loom mutex; `get` with a timeout blocks on a condvar.
struct LoomQueue(Mutex<VecDeque<usize>>, usize, Condvar);

impl LoomQueue {
    fn new(depth: usize) -> Self {
        LoomQueue(Mutex::new(VecDeque::new()), depth, Condvar::new())
    }
}

// SAFETY: a FIFO behind a mutex: `get` returns what `try_put` put, each item once; nothing else inserts.
unsafe impl Queue for LoomQueue {
    fn item_size(&self) -> usize {
        core::mem::size_of::<usize>()
    }
    unsafe fn try_put(&self, item: *const u8, _len: usize) -> bool {
        let mut q = self.0.lock().unwrap();
        if q.len() == self.1 {
            return false;
        }
        // SAFETY: pointer-mode items are one usize.
        q.push_back(unsafe { item.cast::<usize>().read_unaligned() });
        drop(q);
        self.2.notify_one();
        true
    }
    unsafe fn get(&self, out: *mut u8, timeout: Timeout) -> bool {
        let mut q = self.0.lock().unwrap();
        loop {
            if let Some(v) = q.pop_front() {
                // SAFETY: pointer-mode items are one usize.
                unsafe { out.cast::<usize>().write_unaligned(v) };
                return true;
            }
            if timeout == Timeout::NoWait {
                return false;
            }
            q = self.2.wait(q).unwrap();
        }
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn purge(&self) -> usize {
        let mut q = self.0.lock().unwrap();
        let n = q.len();
        q.clear();
        n
    }
}

/// Shadow payloads, one per entry.
struct Shadow(Vec<UnsafeCell<u32>>);

// SAFETY: accesses are what the model checks; loom reports any unsynchronised pair.
unsafe impl Sync for Shadow {}
// SAFETY: as above.
unsafe impl Send for Shadow {}

impl Shadow {
    fn new(n: usize) -> Self {
        Shadow((0..n).map(|_| UnsafeCell::new(0)).collect())
    }
    fn write(&self, i: usize, v: u32) {
        // SAFETY: checked by loom: only an exclusive owner may write.
        self.0[i].with_mut(|p| unsafe { *p = v });
    }
    fn read(&self, i: usize) -> u32 {
        // SAFETY: checked by loom: readers are owners and no writer overlaps.
        self.0[i].with(|p| unsafe { *p })
    }
}

struct World {
    pool: OwnedPool<LoomPort>,
    shadow: Shadow,
}

fn world(entries: usize, sem_limit: u32) -> Arc<World> {
    Arc::new(World {
        pool: OwnedPool::with_port(LoomPort::new(sem_limit), PoolConfig::new(entries, 8)).unwrap(),
        shadow: Shadow::new(entries),
    })
}

/// A pool of `entries` with `heap_slots` fallback slots, a shadow per descriptor.
fn world_with_heap(entries: usize, heap_slots: usize) -> Arc<World> {
    let cfg = PoolConfig::new(entries, 8).with_heap_slots(heap_slots);
    Arc::new(World {
        pool: OwnedPool::with_port(LoomPort::new(1), cfg).unwrap(),
        shadow: Shadow::new(entries + heap_slots),
    })
}

fn index(pool: &Pool<'_, LoomPort>, d: &Descriptor) -> usize {
    pool.index_of(d).unwrap()
}

#[test]
fn free_list_never_hands_an_entry_out_twice_or_loses_one() {
    loom::model(|| {
        let w = world(2, 1);
        let threads: Vec<_> = (0..2u32)
            .map(|t| {
                let w = w.clone();
                thread::spawn(move || {
                    let p = w.pool.pool();
                    let mut got = 0u32;
                    for round in 0..2 {
                        if let Ok(d) = p.try_alloc_raw() {
                            got += 1;
                            let i = index(p, d);
                            w.shadow.write(i, t * 10 + round);
                            assert_eq!(w.shadow.read(i), t * 10 + round);
                            // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                            unsafe { p.unref_raw(d) }.unwrap();
                        }
                    }
                    got
                })
            })
            .collect();
        let got: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let r = w.pool.pool().check().unwrap();
        assert_eq!((r.free, r.held), (2, 0));
        // The derived counters: per-entry allocation counts written without an RMW lose no
        // allocation; the depth mark stays within the entries ever popped.
        let s = w.pool.pool().snapshot();
        assert_eq!((s.allocations, s.frees, s.pool_in_use), (got, got, 0));
        assert!((1..=2).contains(&s.high_water), "{}", s.high_water);
    });
}

#[test]
fn last_unref_race_recycles_exactly_once() {
    loom::model(|| {
        let w = world(1, 1);
        let p = w.pool.pool();
        let d = p.try_alloc_raw().unwrap();
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.ref_raw(d) }.unwrap();
        let addr = d as *const Descriptor as usize;
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || {
                    let p = w.pool.pool();
                    assert_eq!(w.shadow.read(0), 0);
                    // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                    unsafe { p.unref_raw(addr as *const Descriptor) }.unwrap();
                    // The entry may now be reused: allocate and write it.
                    if let Ok(d) = p.try_alloc_raw() {
                        w.shadow.write(0, 1);
                        w.shadow.write(0, 0);
                        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                        unsafe { p.unref_raw(d) }.unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let r = w.pool.pool().check().unwrap();
        assert_eq!((r.free, r.held), (1, 0));
        let s = w.pool.pool().snapshot();
        assert_eq!(s.allocations, s.frees);
    });
}

#[test]
fn broadcast_racing_fast_consumers_never_recycles_a_referenced_entry() {
    loom::model(|| {
        let w = world(1, 1);
        let targets: Arc<[Target<LoomQueue>; 2]> = Arc::new([
            Target::new(LoomQueue::new(1), Mode::Pointer, 1).unwrap(),
            Target::new(LoomQueue::new(1), Mode::Pointer, 2).unwrap(),
        ]);
        let consumers: Vec<_> = (0..2)
            .map(|k| {
                let (w, targets) = (w.clone(), targets.clone());
                thread::spawn(move || {
                    let p = w.pool.pool();
                    match p.receive(&targets[k], None, Timeout::Forever) {
                        Ok(Received::Msg(m)) => {
                            assert_eq!(w.shadow.read(index(p, m.descriptor())), 7)
                        }
                        _ => panic!("nothing received"),
                    }
                })
            })
            .collect();
        let p = w.pool.pool();
        let m = p.try_alloc().unwrap();
        w.shadow.write(index(p, m.descriptor()), 7);
        let refs = [&targets[0], &targets[1]];
        assert_eq!(p.broadcast(m, &refs), Ok(2));
        // Reuse as soon as the pool allows: must not overlap a consumer's read.
        if let Ok(m2) = p.try_alloc() {
            w.shadow.write(index(p, m2.descriptor()), 9);
            w.shadow.write(index(p, m2.descriptor()), 7);
        }
        for c in consumers {
            c.join().unwrap();
        }
        assert_eq!(p.check().unwrap().free, 1);
    });
}

#[test]
fn blocking_alloc_is_woken_by_a_free() {
    // Semaphore limit 1: gives at the limit are ignored, the hardest case.
    loom::model(|| {
        let w = world(1, 1);
        let p = w.pool.pool();
        let d = p.try_alloc_raw().unwrap();
        let addr = d as *const Descriptor as usize;
        let waiter = {
            let w = w.clone();
            thread::spawn(move || {
                let p = w.pool.pool();
                let d = p.alloc_blocking_raw(Timeout::Forever).unwrap();
                w.shadow.write(0, 2);
                // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                unsafe { p.unref_raw(d) }.unwrap();
            })
        };
        w.shadow.write(0, 1);
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(addr as *const Descriptor) }.unwrap();
        waiter.join().unwrap();
        assert_eq!(p.check().unwrap().free, 1);
        assert_eq!(p.waiters(), 0);
    });
}

#[test]
fn two_blocked_allocators_both_get_an_entry() {
    loom::model(|| {
        let w = world(2, 1);
        let p = w.pool.pool();
        let a = p.try_alloc_raw().unwrap() as *const Descriptor as usize;
        let b = p.try_alloc_raw().unwrap() as *const Descriptor as usize;
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || {
                    let p = w.pool.pool();
                    let d = p.alloc_blocking_raw(Timeout::Forever).unwrap();
                    let i = index(p, d);
                    w.shadow.write(i, 5);
                    // Keep it: both waiters must be served by the two frees.
                    d as *const Descriptor as usize
                })
            })
            .collect();
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(a as *const Descriptor) }.unwrap();
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(b as *const Descriptor) }.unwrap();
        let got: Vec<usize> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
        assert_ne!(got[0], got[1]);
        for g in got {
            // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
            unsafe { p.unref_raw(g as *const Descriptor) }.unwrap();
        }
        assert_eq!(p.check().unwrap().free, 2);
    });
}

#[test]
fn blocked_allocator_is_served_after_a_non_blocking_allocator_takes_its_entry() {
    // The free that wakes the waiter may hand the entry to a `try_alloc` of another thread
    // first: the waiter must flag the list again, and that thread's free must wake it.
    loom::model(|| {
        let w = world(1, 1);
        let p = w.pool.pool();
        let held = p.try_alloc_raw().unwrap() as *const Descriptor as usize;
        let waiter = {
            let w = w.clone();
            thread::spawn(move || {
                let p = w.pool.pool();
                let d = p.alloc_blocking_raw(Timeout::Forever).unwrap();
                w.shadow.write(0, 7);
                // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                unsafe { p.unref_raw(d) }.unwrap();
            })
        };
        let thief = {
            let w = w.clone();
            thread::spawn(move || {
                let p = w.pool.pool();
                if let Ok(d) = p.try_alloc_raw() {
                    w.shadow.write(0, 8);
                    // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                    unsafe { p.unref_raw(d) }.unwrap();
                }
            })
        };
        w.shadow.write(0, 6);
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(held as *const Descriptor) }.unwrap();
        thief.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(p.check().unwrap().free, 1);
        assert_eq!(p.waiters(), 0);
    });
}

#[test]
fn heap_slot_is_claimed_by_one_allocator_at_a_time_and_released_with_its_message() {
    loom::model(|| {
        let w = world_with_heap(1, 1);
        let p = w.pool.pool();
        let held = p.try_alloc().unwrap(); // the pool is empty: only the heap slot is left
        let claimers: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || {
                    let p = w.pool.pool();
                    match p.try_alloc_or(Fallback::Heap) {
                        Ok(m) => {
                            // The claimer owns the slot's message until the handle drops.
                            let i = index(p, m.descriptor());
                            w.shadow.write(i, 1);
                            w.shadow.write(i, 0);
                            true
                        }
                        Err(e) => {
                            assert_eq!(e, PoolError::Exhausted);
                            false
                        }
                    }
                })
            })
            .collect();
        let got: u32 = claimers.into_iter().map(|c| c.join().unwrap() as u32).sum();
        // One claim always wins; both when the first released the slot before the second tried.
        assert!(got >= 1);
        drop(held);
        let s = p.snapshot();
        assert_eq!((s.fallback_allocs, s.fallback_in_use), (got, 0));
        assert_eq!(s.pool_drop_count, 2 - got);
        let c = p.check().unwrap();
        assert_eq!((c.free, c.heap_held), (1, 0));
    });
}

/// The dispatcher registry's close-and-drain protocol (dispatcher/dispatcher.c), modelled on
/// loom's atomics: a broadcast counts itself in flight, then reads the id's mode and uses its
/// target; a writer closes the id, waits until nothing is in flight, then rewrites the target.
/// The C code uses sequentially consistent accesses; loom checks sequential consistency through
/// `fence(SeqCst)`, so the model puts one between each side's store and load (the same
/// guarantee: neither side can miss the other's store). The target is an `UnsafeCell`: loom
/// reports a race if a broadcast could still read it while the writer rewrites it.
#[test]
fn registry_close_waits_for_broadcasts_that_saw_the_id_open() {
    use loom::sync::atomic::{fence, AtomicU32, AtomicU8, Ordering};
    const OPEN: u8 = 1;
    const CLOSED: u8 = 0;
    struct Registry {
        mode: AtomicU8,
        inflight: AtomicU32,
        target: UnsafeCell<u32>,
    }
    // SAFETY: the target cell's accesses are what the model checks.
    unsafe impl Sync for Registry {}
    loom::model(|| {
        let r = Arc::new(Registry {
            mode: AtomicU8::new(OPEN),
            inflight: AtomicU32::new(0),
            target: UnsafeCell::new(1),
        });
        let broadcaster = {
            let r = r.clone();
            thread::spawn(move || {
                r.inflight.fetch_add(1, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                // Acquire: a mode published after a rewrite brings the rewritten target.
                let used = if r.mode.load(Ordering::Acquire) == OPEN {
                    // SAFETY: checked by loom: the writer must not rewrite it meanwhile.
                    Some(r.target.with(|p| unsafe { *p }))
                } else {
                    None
                };
                r.inflight.fetch_sub(1, Ordering::Release);
                used
            })
        };
        // The writer (unregistering the id, then registering a new queue).
        r.mode.store(CLOSED, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        while r.inflight.load(Ordering::Acquire) != 0 {
            thread::yield_now();
        }
        // SAFETY: checked by loom: no broadcast that saw the id open is still using it.
        r.target.with_mut(|p| unsafe { *p = 2 });
        r.mode.store(OPEN, Ordering::Release);
        let used = broadcaster.join().unwrap();
        // A broadcast saw the old target or none (it read the mode before the close, or
        // after it), or the new one published after the rewrite.
        assert!(matches!(used, None | Some(1) | Some(2)));
    });
}
