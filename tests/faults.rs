//! Faults injected into the OS port and the target queues (issue 14): a [`FaultPort`] and a
//! [`FaultQueue`] whose every call kind can be told to fail on its Nth call (or every Nth).
//!
//! For each fault the pool must either return a documented error or keep working, never lose
//! an entry, never hand one out twice, and pass `check()` afterwards:
//! * `sem_take` returning `false` early (without waiting), `sem_give` doing nothing;
//! * `heap_alloc` returning NULL or a misaligned block, the heap running dry midway;
//! * `now_ms` going backwards, or wrapping past `u32::MAX` (during a timed wait, and under the
//!   leak report's ages);
//! * a queue put failing for a reason other than a full queue, a get failing, a peek failing;
//! * a short or misaligned region or descriptor slice at `Pool::new`;
//! * and all of them at once under a multi-threaded load.

use dispatcher_pool::host::HostQueue;
use dispatcher_pool::host::{OwnedPool, StdPort};
use dispatcher_pool::pool::{CheckReport, Leak, HOLDER_NONE};
use dispatcher_pool::{
    descriptor::HOLDER_PRODUCER, Descriptor, Fallback, Mode, MsgHeader, Pool, PoolConfig,
    PoolError, Port, Queue, Received, Target, Timeout,
};
use std::alloc::Layout;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

// ----- the fault injector ----------------------------------------------------------------------

/// When one kind of call fails: calls `at..at + times` (1-based, counted from creation), or
/// every `every`-th call.
#[derive(Default)]
struct Fault {
    calls: AtomicU64,
    at: AtomicU64,
    times: AtomicU64,
    every: AtomicU64,
    hits: AtomicU64,
}

impl Fault {
    /// Fails the `nth` call from now (1 = the next one) and the `times - 1` after it.
    fn arm(&self, nth: u64, times: u64) {
        self.times.store(times, Ordering::SeqCst);
        self.at
            .store(self.calls.load(Ordering::SeqCst) + nth, Ordering::SeqCst);
    }
    /// Fails every `n`-th call from now on (0: stop).
    fn every(&self, n: u64) {
        self.every.store(n, Ordering::SeqCst);
    }
    /// Stops failing.
    fn disarm(&self) {
        self.at.store(0, Ordering::SeqCst);
        self.every.store(0, Ordering::SeqCst);
    }
    /// Counts a call; `true` if it must fail.
    fn hit(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let at = self.at.load(Ordering::SeqCst);
        let every = self.every.load(Ordering::SeqCst);
        let hit = (at != 0 && n >= at && n - at < self.times.load(Ordering::SeqCst))
            || (every != 0 && n.is_multiple_of(every));
        if hit {
            self.hits.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }
    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// What a failing `heap_alloc` returns.
#[derive(Clone, Copy, PartialEq, Debug)]
enum HeapFault {
    Null,
    Misaligned,
}

/// The std port with faults: every call kind can fail on its Nth call.
struct FaultPort {
    inner: StdPort,
    /// `sem_take` returns `false` at once, without waiting.
    take: Fault,
    /// `sem_give` does nothing (the give is lost).
    give: Fault,
    /// `heap_alloc` returns `heap_kind`.
    heap: Fault,
    heap_kind: Mutex<HeapFault>,
    /// `now_ms` returns `back_ms` less than the true time.
    clock: Fault,
    back_ms: AtomicU32,
    /// Added to the real clock (wrapping): puts the clock anywhere, e.g. just before the wrap.
    offset: AtomicU32,
    /// A frozen clock at this value, if `frozen`.
    frozen: AtomicBool,
    frozen_at: AtomicU32,
    /// Heap blocks handed out and not freed yet (both kinds).
    heap_live: AtomicUsize,
    /// Misaligned blocks handed out: (address, base, layout).
    skewed: Mutex<Vec<(usize, usize, Layout)>>,
    /// How many times the pool read the clock.
    clock_reads: AtomicUsize,
}

impl FaultPort {
    fn new() -> Self {
        FaultPort {
            inner: StdPort::new(),
            take: Fault::default(),
            give: Fault::default(),
            heap: Fault::default(),
            heap_kind: Mutex::new(HeapFault::Null),
            clock: Fault::default(),
            back_ms: AtomicU32::new(0),
            offset: AtomicU32::new(0),
            frozen: AtomicBool::new(false),
            frozen_at: AtomicU32::new(0),
            heap_live: AtomicUsize::new(0),
            skewed: Mutex::new(Vec::new()),
            clock_reads: AtomicUsize::new(0),
        }
    }
    /// The clock reads `t` now (and runs on from there in real time).
    fn set_clock(&self, t: u32) {
        let real = self.inner.now_ms();
        self.offset.store(t.wrapping_sub(real), Ordering::SeqCst);
    }
    /// A clock that stays at `t` until moved.
    fn freeze_clock(&self, t: u32) {
        self.frozen_at.store(t, Ordering::SeqCst);
        self.frozen.store(true, Ordering::SeqCst);
    }
    fn heap_fails_with(&self, kind: HeapFault) {
        *self.heap_kind.lock().unwrap() = kind;
    }
}

// SAFETY: heap_alloc returns the inner port's blocks, NULL, or (a deliberate fault) a block off by
// one byte, which the pool checks and frees before writing anything (the test of that check);
// heap_free takes each kind back.
unsafe impl Port for FaultPort {
    fn now_ms(&self) -> u32 {
        self.clock_reads.fetch_add(1, Ordering::SeqCst);
        let t = if self.frozen.load(Ordering::SeqCst) {
            self.frozen_at.load(Ordering::SeqCst)
        } else {
            self.inner
                .now_ms()
                .wrapping_add(self.offset.load(Ordering::SeqCst))
        };
        if self.clock.hit() {
            t.wrapping_sub(self.back_ms.load(Ordering::SeqCst))
        } else {
            t
        }
    }
    fn in_isr(&self) -> bool {
        self.inner.in_isr()
    }
    fn sem_take(&self, timeout: Timeout) -> bool {
        if self.take.hit() {
            return false;
        }
        self.inner.sem_take(timeout)
    }
    fn sem_give(&self) {
        if self.give.hit() {
            return;
        }
        self.inner.sem_give()
    }
    fn heap_alloc(&self, layout: Layout) -> *mut u8 {
        if self.heap.hit() {
            match *self.heap_kind.lock().unwrap() {
                HeapFault::Null => return std::ptr::null_mut(),
                HeapFault::Misaligned => {
                    let big = Layout::from_size_align(layout.size() + 1, layout.align()).unwrap();
                    // SAFETY: non-zero size.
                    let base = unsafe { std::alloc::alloc(big) };
                    assert!(!base.is_null());
                    let p = base as usize + 1;
                    self.skewed.lock().unwrap().push((p, base as usize, big));
                    self.heap_live.fetch_add(1, Ordering::SeqCst);
                    return p as *mut u8;
                }
            }
        }
        let p = self.inner.heap_alloc(layout);
        if !p.is_null() {
            self.heap_live.fetch_add(1, Ordering::SeqCst);
        }
        p
    }
    unsafe fn heap_free(&self, ptr: *mut u8, layout: Layout) {
        self.heap_live.fetch_sub(1, Ordering::SeqCst);
        let mut skewed = self.skewed.lock().unwrap();
        if let Some(k) = skewed.iter().position(|b| b.0 == ptr as usize) {
            let (_, base, big) = skewed.swap_remove(k);
            // SAFETY: `base` came from `std::alloc::alloc(big)` above and is freed once.
            unsafe { std::alloc::dealloc(base as *mut u8, big) };
            return;
        }
        drop(skewed);
        // SAFETY: forwarded contract: `ptr` came from `inner.heap_alloc(layout)`.
        unsafe { self.inner.heap_free(ptr, layout) }
    }
}

/// A host queue whose put, get and peek can fail on their Nth call (a put failing for a reason
/// other than a full queue: a port error).
struct FaultQueue {
    inner: HostQueue,
    knobs: Arc<QueueKnobs>,
}

/// The faults of a [`FaultQueue`], kept by the test while the queue is inside its target.
#[derive(Default)]
struct QueueKnobs {
    put: Fault,
    get: Fault,
    peek: Fault,
}

/// A target over `q`, and the knobs of its queue.
fn fault_target(q: FaultQueue, mode: Mode, id: u16) -> (Target<FaultQueue>, Arc<QueueKnobs>) {
    let knobs = q.knobs.clone();
    (Target::new(q, mode, id).unwrap(), knobs)
}

impl FaultQueue {
    fn pointers(depth: usize) -> Self {
        Self::over(HostQueue::pointers(depth))
    }
    fn over(inner: HostQueue) -> Self {
        FaultQueue {
            inner,
            knobs: Arc::default(),
        }
    }
}

// SAFETY: forwards to a HostQueue, only refusing some puts and gets (a refused get copies nothing).
unsafe impl Queue for FaultQueue {
    fn item_size(&self) -> usize {
        self.inner.item_size()
    }
    unsafe fn try_put(&self, item: *const u8, len: usize) -> bool {
        if self.knobs.put.hit() {
            return false;
        }
        // SAFETY: forwarded contract.
        unsafe { self.inner.try_put(item, len) }
    }
    unsafe fn get(&self, out: *mut u8, timeout: Timeout) -> bool {
        if self.knobs.get.hit() {
            return false;
        }
        // SAFETY: forwarded contract.
        unsafe { self.inner.get(out, timeout) }
    }
    unsafe fn peek_at(&self, idx: usize, out: *mut u8) -> bool {
        if self.knobs.peek.hit() {
            return false;
        }
        // SAFETY: forwarded contract.
        unsafe { self.inner.peek_at(idx, out) }
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn purge(&self) -> usize {
        self.inner.purge()
    }
}

type FPool = OwnedPool<FaultPort>;

fn pool(entries: usize, heap_slots: usize) -> FPool {
    OwnedPool::with_port(
        FaultPort::new(),
        PoolConfig::new(entries, 32).with_heap_slots(heap_slots),
    )
    .unwrap()
}

/// `check()` passes, nothing is held, the heap is back where it started.
fn whole(p: &Pool<'_, FaultPort>) {
    let entries = p.layout().entries;
    assert_eq!(
        p.check(),
        Ok(CheckReport {
            free: entries,
            held: 0,
            heap_held: 0
        })
    );
    let s = p.snapshot();
    assert_eq!((s.pool_in_use, s.fallback_in_use), (0, 0));
    assert_eq!(
        p.port().heap_live.load(Ordering::SeqCst),
        0,
        "heap blocks leaked"
    );
    assert_eq!(p.waiters(), 0);
}

/// Runs `f` on a thread and waits at most `limit` for its result (a hang fails the test; the
/// stuck thread is left behind and dies with the test process).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still blocked after {limit:?}: a hang"))
}

/// Waits until `p` has a blocked allocator.
fn until_waiting(p: &Pool<'_, FaultPort>) {
    let t = Instant::now();
    while p.waiters() == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the waiter never blocked"
        );
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(20)); // let it reach sem_take
}

// ----- semaphore faults ------------------------------------------------------------------------

/// One lost wake-up per waiter: hold the only entry, block `timeout`, lose the give of the free.
fn lost_give(timeout: Timeout) -> Duration {
    let h = Arc::new(pool(1, 0));
    let held = h.pool().try_alloc_raw().unwrap() as *const Descriptor as usize;
    let h2 = h.clone();
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        let d = h2
            .pool()
            .alloc_blocking_raw(timeout)
            .map(|d| d as *const _ as usize);
        (t.elapsed(), d)
    });
    until_waiting(h.pool());
    h.pool().port().give.arm(1, 1);
    // SAFETY: the test holds the reference from the alloc above and gives it up.
    unsafe { h.pool().unref_raw(held as *const Descriptor) }.unwrap();
    assert_eq!(h.pool().port().give.hits(), 1, "the give was lost");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(waiter.join().unwrap());
    });
    let (waited, d) = rx
        .recv_timeout(Duration::from_secs(3))
        .expect("a lost sem_give left the waiter blocked (3 s)");
    assert_eq!(d, Ok(held), "the waiter gets the freed entry");
    // SAFETY: the waiter's reference, handed to the test with the join.
    unsafe { h.pool().unref_raw(held as *const Descriptor) }.unwrap();
    whole(h.pool());
    waited
}

#[test]
fn a_lost_sem_give_does_not_hang_a_forever_waiter() {
    let waited = lost_give(Timeout::Forever);
    assert!(waited < Duration::from_secs(1), "{waited:?}");
}

#[test]
fn a_lost_sem_give_delays_a_timed_waiter_by_at_most_one_slice() {
    // A 10 s timeout: without the bounded slices the waiter slept all of it.
    let waited = lost_give(Timeout::Millis(10_000));
    assert!(waited < Duration::from_secs(1), "{waited:?}");
}

#[test]
fn sem_take_failing_early_neither_shortens_a_timeout_nor_loses_the_entry() {
    let h = pool(1, 0);
    let p = h.pool();
    let held = p.try_alloc().unwrap();
    // The next 10,000 takes return false at once: the waiter spins on the clock, and must
    // still wait its whole timeout.
    p.port().take.arm(1, 10_000);
    let t = Instant::now();
    assert_eq!(
        p.alloc_blocking(Timeout::Millis(40)).err(),
        Some(PoolError::Timeout)
    );
    assert!(
        t.elapsed() >= Duration::from_millis(40),
        "{:?}",
        t.elapsed()
    );
    assert!(p.port().take.hits() > 0);
    assert_eq!(p.snapshot().pool_alloc_failures, 1);
    p.port().take.disarm();
    drop(held);
    whole(p);
}

#[test]
fn sem_take_failing_early_under_a_forever_wait_still_delivers_the_entry() {
    let h = Arc::new(pool(1, 0));
    let held = h.pool().try_alloc_raw().unwrap() as *const Descriptor as usize;
    h.pool().port().take.arm(1, 1_000);
    let h2 = h.clone();
    let got = std::thread::spawn(move || {
        h2.pool()
            .alloc_blocking_raw(Timeout::Forever)
            .map(|d| d as *const Descriptor as usize)
    });
    until_waiting(h.pool());
    // SAFETY: the test's reference from the alloc above.
    unsafe { h.pool().unref_raw(held as *const Descriptor) }.unwrap();
    let got = within(Duration::from_secs(3), move || got.join().unwrap());
    assert_eq!(got, Ok(held));
    // SAFETY: the waiter's reference, handed over by the join.
    unsafe { h.pool().unref_raw(held as *const Descriptor) }.unwrap();
    h.pool().port().take.disarm();
    whole(h.pool());
}

// ----- clock faults ----------------------------------------------------------------------------

#[test]
fn a_clock_going_backwards_during_a_timed_wait_is_a_timeout_not_a_hang() {
    let h = Arc::new(pool(1, 0));
    let held = h.pool().try_alloc_raw().unwrap() as *const Descriptor as usize;
    let port = h.pool().port();
    port.set_clock(1_000_000);
    port.back_ms.store(500, Ordering::SeqCst);
    // Every clock read after the first goes back 500 ms: `now - start` wraps to ~49.7 days.
    port.clock.arm(2, u64::MAX);
    let h2 = h.clone();
    let r = within(Duration::from_secs(3), move || {
        h2.pool().alloc_blocking(Timeout::Millis(200)).map(drop)
    });
    assert_eq!(
        r,
        Err(PoolError::Timeout),
        "a documented error, at worst early"
    );
    port.clock.disarm();
    // The pool keeps working.
    // SAFETY: the test's reference from the alloc above.
    unsafe { h.pool().unref_raw(held as *const Descriptor) }.unwrap();
    let m = h.pool().alloc_blocking(Timeout::Millis(200)).unwrap();
    drop(m);
    assert_eq!(h.pool().snapshot().pool_alloc_failures, 1);
    whole(h.pool());
}

#[test]
fn a_timed_wait_across_the_u32_clock_wrap_lasts_its_timeout() {
    let h = Arc::new(pool(1, 0));
    let held = h.pool().try_alloc().unwrap();
    // 30 ms before the wrap; the 120 ms timeout ends 90 ms after it.
    h.pool().port().set_clock(u32::MAX - 30);
    let h2 = h.clone();
    let (r, waited) = within(Duration::from_secs(3), move || {
        let t = Instant::now();
        let r = h2.pool().alloc_blocking(Timeout::Millis(120)).map(drop);
        (r, t.elapsed())
    });
    assert_eq!(r, Err(PoolError::Timeout));
    assert!(
        waited >= Duration::from_millis(120) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(h.pool().port().now_ms() < 1_000, "the clock wrapped");
    drop(held);
    whole(h.pool());
}

#[cfg(feature = "leak-age")]
#[test]
fn an_allocation_reads_the_clock_once_for_its_leak_age() {
    let h = pool(2, 0);
    let p = h.pool();
    let before = p.port().clock_reads.load(Ordering::SeqCst);
    let m = p.try_alloc().unwrap();
    drop(m);
    assert_eq!(p.port().clock_reads.load(Ordering::SeqCst) - before, 1);
}

#[cfg(not(feature = "leak-age"))]
#[test]
fn without_leak_age_no_allocation_reads_the_clock_and_every_held_entry_is_reported() {
    use dispatcher_pool::pool::AGE_UNKNOWN;
    let h = pool(3, 0);
    let p = h.pool();
    let none: &[&Target<HostQueue>] = &[];
    let before = p.port().clock_reads.load(Ordering::SeqCst);
    let a = p.try_alloc().unwrap();
    let b = p.try_alloc().unwrap();
    drop(p.try_alloc().unwrap());
    assert_eq!(p.port().clock_reads.load(Ordering::SeqCst), before);
    let mut out = [Leak::default(); 3];
    // Ages are unknown, so no min_age_ms can hide a held entry.
    assert_eq!(p.leaks(u32::MAX - 1, none, &mut out), 2);
    let mut held = [
        p.index_of(a.descriptor()).unwrap(),
        p.index_of(b.descriptor()).unwrap(),
    ];
    held.sort();
    assert_eq!([out[0].index as usize, out[1].index as usize], held);
    assert!(out[..2]
        .iter()
        .all(|l| l.age_ms == AGE_UNKNOWN && l.refcount == 1));
    drop((a, b));
    whole(p);
}

#[cfg(feature = "leak-age")]
#[test]
fn leak_ages_survive_the_u32_clock_wrap() {
    let h = pool(2, 0);
    let p = h.pool();
    let port = p.port();
    let none: &[&Target<HostQueue>] = &[];
    port.freeze_clock(u32::MAX - 5); // 49.7 days of uptime, less 6 ms
    let a = p.try_alloc().unwrap();
    port.freeze_clock(14); // 20 ms later, after the wrap
    let b = p.try_alloc().unwrap();
    port.freeze_clock(20);
    let mut out = [Leak::default(); 2];
    assert_eq!(p.leaks(10, none, &mut out), 1, "only `a` is 10 ms old");
    assert_eq!((out[0].index, out[0].age_ms), (0, 26));
    assert_eq!(p.leaks(0, none, &mut out), 2);
    assert_eq!((out[1].index, out[1].age_ms), (1, 6));
    // A clock that goes backwards makes an entry look ~49.7 days old: it is still reported
    // once, with the right refcount and holder, and nothing changes.
    port.freeze_clock(10);
    assert_eq!(p.leaks(1_000_000, none, &mut out), 1);
    assert_eq!(
        (out[0].index, out[0].age_ms, out[0].refcount, out[0].held_by),
        (1, u32::MAX - 3, 1, HOLDER_PRODUCER)
    );
    drop((a, b));
    whole(p);
}

// ----- heap faults -----------------------------------------------------------------------------

#[test]
fn heap_alloc_returning_null_is_a_counted_drop_and_frees_its_slot() {
    let h = pool(1, 2);
    let p = h.pool();
    let _entry = p.try_alloc().unwrap();
    p.port().heap.arm(2, 1); // the second heap allocation fails
    let a = p.try_alloc_or(Fallback::Heap).unwrap();
    assert_eq!(
        p.try_alloc_or(Fallback::Heap).err(),
        Some(PoolError::Exhausted)
    );
    // The failed claim released its slot: both slots are usable.
    let b = p.try_alloc_or(Fallback::Heap).unwrap();
    assert_eq!(p.check().unwrap().heap_held, 2);
    let s = p.snapshot();
    assert_eq!((s.fallback_allocs, s.pool_drop_count), (2, 1));
    assert_ne!(a.descriptor() as *const _, b.descriptor() as *const _);
    drop((a, b, _entry));
    whole(p);
}

#[test]
fn a_misaligned_heap_block_is_returned_to_the_heap_and_counted_as_a_drop() {
    let h = pool(1, 1);
    let p = h.pool();
    let _entry = p.try_alloc().unwrap();
    p.port().heap_fails_with(HeapFault::Misaligned);
    p.port().heap.arm(1, 1);
    assert_eq!(
        p.try_alloc_or(Fallback::Heap).err(),
        Some(PoolError::Exhausted)
    );
    assert_eq!(
        p.port().heap_live.load(Ordering::SeqCst),
        0,
        "freed at once"
    );
    assert_eq!(p.port().skewed.lock().unwrap().len(), 0);
    let a = p.try_alloc_or(Fallback::Heap).unwrap();
    assert_eq!(a.header().message_len, 0);
    assert!((a.header() as *const MsgHeader).is_aligned());
    assert_eq!(p.snapshot().pool_drop_count, 1);
    drop((a, _entry));
    whole(p);
}

#[test]
fn the_heap_running_dry_midway_drops_messages_and_keeps_the_rest_working() {
    let h = pool(2, 4);
    let p = h.pool();
    let t = Target::new(HostQueue::pointers(16), Mode::Pointer, 1).unwrap();
    p.port().heap.arm(3, u64::MAX); // from the third heap allocation on: dry
    let mut sent = 0;
    let mut dropped = 0;
    for _ in 0..10 {
        match p.try_alloc_or(Fallback::Heap) {
            Ok(mut m) => {
                m.write(b"x").unwrap();
                assert_eq!(p.broadcast(m, &[&t]), Ok(1));
                sent += 1;
            }
            Err(e) => {
                assert_eq!(e, PoolError::Exhausted);
                dropped += 1;
            }
        }
    }
    // Two pool entries and two heap blocks, then only drops.
    assert_eq!((sent, dropped), (4, 6));
    let s = p.snapshot();
    assert_eq!(
        (s.fallback_allocs, s.pool_drop_count, s.pool_in_use),
        (2, 6, 2)
    );
    for _ in 0..sent {
        match p.receive(&t, None, Timeout::NoWait) {
            Ok(Received::Msg(m)) => assert_eq!(m.payload(), b"x"),
            _ => panic!("a message was lost"),
        }
    }
    p.port().heap.disarm();
    whole(p);
    // The heap is back: fallback works again.
    let _e = (p.try_alloc().unwrap(), p.try_alloc().unwrap());
    drop(p.try_alloc_or(Fallback::Heap).unwrap());
}

// ----- queue faults ----------------------------------------------------------------------------

#[test]
fn a_put_failing_for_a_reason_other_than_full_is_an_enqueue_failure_and_loses_nothing() {
    let h = pool(2, 0);
    let p = h.pool();
    let stride = p.layout().stride;
    let (broken, broken_k) = fault_target(FaultQueue::pointers(4), Mode::Pointer, 1);
    let (fine, fine_k) = fault_target(FaultQueue::pointers(4), Mode::Pointer, 2);
    let (values, values_k) = fault_target(
        FaultQueue::over(HostQueue::values(4, stride)),
        Mode::Value,
        3,
    );
    broken_k.put.arm(1, 1);
    values_k.put.arm(1, 1);
    let mut m = p.try_alloc().unwrap();
    m.write(b"hello").unwrap();
    assert_eq!(p.broadcast(m, &[&broken, &fine, &values]), Ok(1));
    let s = p.snapshot();
    assert_eq!((s.enqueue_failures, s.pool_in_use), (2, 1));
    assert_eq!((broken.stats().failed, values.stats().failed), (1, 1));
    let d = match p.receive(&fine, None, Timeout::NoWait) {
        Ok(Received::Msg(m)) => {
            assert_eq!((m.payload(), m.refcount()), (&b"hello"[..], 1));
            m
        }
        _ => panic!("the message is lost"),
    };
    drop(d);
    // Every put failing: the broadcast reaches nobody, a counted drop, the entry freed there.
    fine_k.put.arm(1, 1);
    broken_k.put.arm(1, 1);
    let m = p.try_alloc().unwrap();
    assert_eq!(p.broadcast(m, &[&broken, &fine]), Ok(0));
    assert_eq!(p.snapshot().pool_drop_count, 1);
    assert!(broken.is_empty() && fine.is_empty());
    whole(p);
}

#[test]
fn a_get_failing_leaves_the_item_queued_for_the_next_receive() {
    let h = pool(1, 0);
    let p = h.pool();
    let (t, k) = fault_target(FaultQueue::pointers(2), Mode::Pointer, 1);
    let m = p.try_alloc().unwrap();
    assert_eq!(p.broadcast(m, &[&t]), Ok(1));
    k.get.arm(1, 1);
    assert!(matches!(
        p.receive(&t, None, Timeout::NoWait),
        Err(PoolError::Timeout)
    ));
    assert_eq!((t.queued(), p.snapshot().invalid_unrefs), (1, 0));
    assert!(matches!(
        p.receive(&t, None, Timeout::NoWait),
        Ok(Received::Msg(_))
    ));
    whole(p);
}

#[test]
fn a_peek_failing_degrades_the_leak_report_and_changes_nothing() {
    let h = pool(2, 0);
    let p = h.pool();
    let (t, k) = fault_target(FaultQueue::pointers(4), Mode::Pointer, 7);
    for _ in 0..2 {
        let m = p.try_alloc().unwrap();
        assert_eq!(p.broadcast(m, &[&t]), Ok(1));
    }
    let mut out = [Leak::default(); 2];
    assert_eq!(p.leaks(0, &[&t], &mut out), 2);
    assert!(out
        .iter()
        .all(|l| (l.queued_at, l.queued, l.held_by) == (7, 1, HOLDER_NONE)));
    // The first peek fails: the report cannot see entry 0's item. The unseen reference is
    // blamed on its last holder (the producer) rather than vanishing.
    k.peek.arm(1, 1);
    assert_eq!(p.leaks(0, &[&t], &mut out), 2);
    assert_eq!(
        (out[0].queued, out[0].queued_at, out[0].held_by),
        (0, HOLDER_NONE, HOLDER_PRODUCER)
    );
    assert_eq!(
        (out[1].queued, out[1].queued_at, out[1].held_by),
        (1, 7, HOLDER_NONE)
    );
    // A peek failing right after a matching one must not count that item twice.
    for nth in 1..=4 {
        k.peek.arm(nth, 1);
        assert_eq!(p.leaks(0, &[&t], &mut out), 2);
        for l in &out {
            assert!(
                l.queued <= 1 && l.refcount == 1,
                "peek {nth} failing: {l:?}"
            );
            assert_eq!(
                l.held_by == HOLDER_NONE,
                l.queued == 1,
                "every reference is either queued or held: {l:?}"
            );
        }
    }
    assert_eq!(t.queued(), 2);
    assert_eq!(p.purge(&t), Ok(2));
    whole(p);
}

// ----- memory handed to Pool::new ---------------------------------------------------------------

/// `len` bytes of `words` from byte `off`.
///
/// # Safety
/// `off + len <= 8 * words.len()`; the slice is not used after `words` or alongside another
/// slice of it.
unsafe fn bytes<'a>(words: &mut [u64], off: usize, len: usize) -> &'a mut [u8] {
    assert!(off + len <= 8 * words.len());
    // SAFETY: in bounds (checked), exclusive per the caller's contract.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>().add(off), len) }
}

#[test]
fn a_short_or_misaligned_region_or_descriptor_slice_is_refused_and_the_memory_stays_usable() {
    let cfg = PoolConfig::new(3, 24).with_heap_slots(1);
    let l = cfg.layout().unwrap();
    let (n, len) = (l.descriptors(), l.region_bytes());
    let mut descs: Vec<Descriptor> = (0..n).map(|_| Descriptor::new()).collect();
    let mut words = vec![0u64; len / 8 + 2];
    let new = |d: &mut [Descriptor], r: &mut [u8]| Pool::new(FaultPort::new(), cfg, d, r).err();
    // SAFETY: in bounds; like every slice of `words` below, used by one call and then dropped.
    let short = unsafe { bytes(&mut words, 0, len - 1) };
    assert_eq!(new(&mut descs, short), Some(PoolError::RegionTooSmall));
    // SAFETY: as above.
    let exact = unsafe { bytes(&mut words, 0, len) };
    assert_eq!(
        new(&mut descs[..n - 1], exact),
        Some(PoolError::RegionTooSmall),
        "one descriptor short (the heap slot)"
    );
    for skew in [1, 2, 4] {
        // SAFETY: as above.
        let odd = unsafe { bytes(&mut words, skew, len) };
        assert_eq!(
            new(&mut descs, odd),
            Some(PoolError::RegionMisaligned),
            "region {skew} bytes off"
        );
    }
    // Nothing was half-initialised: the same memory makes a working pool.
    // SAFETY: as above; the pool is dropped before `words`.
    let region = unsafe { bytes(&mut words, 0, len) };
    let p = Pool::new(FaultPort::new(), cfg, &mut descs, region).unwrap();
    let all: Vec<_> = (0..3).map(|_| p.try_alloc().unwrap()).collect();
    assert_eq!(p.try_alloc().err(), Some(PoolError::Exhausted));
    assert!(
        p.try_alloc_or(Fallback::Heap).is_ok(),
        "the heap slot works"
    );
    drop(all);
    whole(&p);
}

// ----- everything at once ----------------------------------------------------------------------

#[test]
fn every_fault_at_once_under_load_loses_nothing_and_hands_nothing_out_twice() {
    const PRODUCERS: usize = 3;
    const PER: u64 = if cfg!(debug_assertions) {
        4_000
    } else {
        40_000
    };
    let h = pool(8, 4);
    let p = h.pool();
    let port = p.port();
    port.take.every(5); // every 5th take returns early
    port.give.every(7); // every 7th give is lost
    port.heap.every(3); // every 3rd heap allocation fails...
    port.heap_fails_with(HeapFault::Misaligned); // ...with a misaligned block
                                                 // First a waiter served entry by entry on an empty pool: ten sleeps and ten wake-ups, so
                                                 // the take and give faults fire whatever the scheduling of the load below does (with the
                                                 // flag protocol a run where the pool never runs dry makes no semaphore call at all).
    {
        let mut all: Vec<_> = (0..8).map(|_| p.try_alloc().unwrap()).collect();
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(move || {
                for _ in 0..10 {
                    tx.send(p.alloc_blocking(Timeout::Forever).unwrap())
                        .unwrap();
                }
            });
            for _ in 0..10 {
                while p.waiters() == 0 {
                    std::thread::yield_now();
                }
                std::thread::sleep(Duration::from_millis(2)); // let it fall asleep
                drop(all.pop());
                all.push(rx.recv().unwrap());
            }
        });
    }
    let warm_up = p.snapshot().allocations as u64;
    let targets: Vec<Target<FaultQueue>> = (0..3)
        .map(|k| {
            let (t, knobs) = fault_target(FaultQueue::pointers(4), Mode::Pointer, k as u16);
            knobs.put.every(11 + k as u64); // puts fail now and then (not full)
            knobs.get.every(13); // gets fail now and then
            t
        })
        .collect();
    // Exclusive ownership while writing: an entry handed out twice trips this.
    let owned: Vec<AtomicBool> = (0..12).map(|_| AtomicBool::new(false)).collect();
    let stop = AtomicBool::new(false);
    let received = AtomicU64::new(0);
    let delivered = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in &targets {
            let (stop, received) = (&stop, &received);
            s.spawn(move || loop {
                match p.receive(t, None, Timeout::Millis(1)) {
                    Ok(Received::Msg(m)) => {
                        let pl = m.payload();
                        assert_eq!(pl.len(), 9);
                        assert!(pl[1..].iter().all(|&b| b == pl[0]), "torn payload");
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Received::Value(_)) => unreachable!(),
                    Err(PoolError::Timeout) => {
                        if stop.load(Ordering::Acquire) && t.is_empty() {
                            return;
                        }
                    }
                    Err(e) => panic!("receive: {e}"),
                }
            });
        }
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|id| {
                let (targets, owned, delivered) = (&targets, &owned, &delivered);
                s.spawn(move || {
                    let mut seq = 0u64;
                    while seq < PER {
                        let m = match (id, seq % 3) {
                            (0, _) => p.alloc_blocking(Timeout::Forever),
                            (1, 0) => p.alloc_blocking(Timeout::Millis(2)),
                            (_, _) => p.try_alloc_or(Fallback::Heap),
                        };
                        let Ok(mut m) = m else {
                            std::thread::yield_now();
                            continue;
                        };
                        let i = p.index_of(m.descriptor()).unwrap();
                        assert!(!owned[i].swap(true, Ordering::SeqCst), "entry {i} twice");
                        let tag = (seq as u8) ^ (id as u8 * 85);
                        m.write(&[tag; 9]).unwrap();
                        owned[i].store(false, Ordering::SeqCst);
                        let chosen: Vec<&Target<FaultQueue>> = targets
                            .iter()
                            .enumerate()
                            .filter(|(k, _)| (seq >> k) & 1 == 1 || *k == id)
                            .map(|(_, t)| t)
                            .collect();
                        let n = p.broadcast(m, &chosen).unwrap();
                        delivered.fetch_add(n as u64, Ordering::Relaxed);
                        seq += 1;
                    }
                })
            })
            .collect();
        for t in producers {
            t.join().unwrap();
        }
        stop.store(true, Ordering::Release);
    });
    assert_eq!(
        received.load(Ordering::Relaxed),
        delivered.load(Ordering::Relaxed)
    );
    let hits = [port.take.hits(), port.give.hits(), port.heap.hits()];
    assert!(hits.iter().all(|&n| n > 0), "every fault fired: {hits:?}");
    let s = p.snapshot();
    assert_eq!(s.invalid_unrefs + s.invalid_refs, 0);
    assert_eq!(
        s.allocations as u64 - warm_up + s.fallback_allocs as u64,
        PRODUCERS as u64 * PER
    );
    whole(p);
}
