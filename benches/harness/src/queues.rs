//! The bench's port and queues: cheap and lock-free, so the benchmarks measure the pool and
//! not the host port's `Mutex`-based `HostQueue`.
//!
//! * [`PtrQueue`]: `crossbeam_queue::ArrayQueue<usize>` behind the core's [`Queue`] trait. Our
//!   pointer broadcast and the crossbeam baseline both use it, so they differ only in the pool.
//! * [`ByteRing`]: a bounded ring of fixed-size byte items (`memcpy` in, `memcpy` out), like a
//!   `k_msgq`. The value-copy baseline uses it with 1 KiB items; one row runs our pointer
//!   broadcast over it too (8-byte items).
//! * [`BenchPort`]: `now_ms` is one relaxed atomic load (on Zephyr `k_uptime_get` is a cheap
//!   read of the tick counter as well); the semaphore is the host port's `HostSem`, which the
//!   benchmarks never reach (nobody waits).

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use crossbeam_queue::ArrayQueue;
use dispatcher_pool::host::HostSem;
use dispatcher_pool::{Port, Queue, Timeout};
use std::time::{Duration, Instant};

/// The bench port: a relaxed-atomic clock and the host semaphore.
pub struct BenchPort {
    ticks: AtomicU32,
    sem: HostSem,
}

impl BenchPort {
    /// A port whose clock reads 0 until [`tick`](Self::tick) is called.
    pub fn new() -> Self {
        BenchPort {
            ticks: AtomicU32::new(0),
            sem: HostSem::new(u32::MAX),
        }
    }

    /// Advances the clock by one millisecond.
    #[allow(dead_code)]
    pub fn tick(&self) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: no heap (the default NULL).
unsafe impl Port for BenchPort {
    #[inline]
    fn now_ms(&self) -> u32 {
        self.ticks.load(Ordering::Relaxed)
    }
    fn sem_take(&self, timeout: Timeout) -> bool {
        self.sem.take(timeout)
    }
    fn sem_give(&self) {
        self.sem.give()
    }
}

/// Waits by polling `f` until it succeeds or `timeout` passes.
fn poll_until(timeout: Timeout, mut f: impl FnMut() -> bool) -> bool {
    if f() {
        return true;
    }
    let deadline = match timeout {
        Timeout::NoWait => return false,
        Timeout::Forever => None,
        Timeout::Millis(ms) => Some(Instant::now() + Duration::from_millis(ms.into())),
    };
    loop {
        std::thread::yield_now();
        if f() {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
    }
}

/// A pointer queue: `ArrayQueue<usize>` (lock-free MPMC) with items of one `usize`.
pub struct PtrQueue(pub ArrayQueue<usize>);

impl PtrQueue {
    /// A queue of `depth` pointers.
    pub fn new(depth: usize) -> Self {
        PtrQueue(ArrayQueue::new(depth))
    }
}

// SAFETY: a FIFO: `get` returns what `try_put` put, each item once; nothing else inserts.
unsafe impl Queue for PtrQueue {
    fn item_size(&self) -> usize {
        core::mem::size_of::<usize>()
    }
    #[inline]
    unsafe fn try_put(&self, item: *const u8, _len: usize) -> bool {
        // SAFETY: the caller guarantees `item` points to `len` = item_size() = size_of::<usize>() readable bytes.
        let v = unsafe { ptr::read_unaligned(item.cast::<usize>()) };
        self.0.push(v).is_ok()
    }
    #[inline]
    unsafe fn get(&self, out: *mut u8, timeout: Timeout) -> bool {
        poll_until(timeout, || match self.0.pop() {
            Some(v) => {
                // SAFETY: the caller guarantees `out` points to size_of::<usize>() writable bytes.
                unsafe { ptr::write_unaligned(out.cast::<usize>(), v) };
                true
            }
            None => false,
        })
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn purge(&self) -> usize {
        let mut n = 0;
        while self.0.pop().is_some() {
            n += 1;
        }
        n
    }
}

/// Keeps the producer and consumer indices on separate cache lines.
#[repr(align(64))]
struct Padded<T>(T);

/// A bounded ring of `depth` items of `item` bytes (`depth` a power of two): one producer and
/// one consumer at a time, each end guarded by a try-lock (a second concurrent producer sees
/// "full", a second consumer "empty"), so it is sound for any use while costing an SPSC ring.
///
/// Items are copied with `memcpy` like `k_msgq` does; 8-byte items (pointers) with one
/// unaligned load/store instead.
pub struct ByteRing {
    item: usize,
    mask: usize,
    buf: Box<[UnsafeCell<u8>]>,
    /// Next slot to read (consumer).
    head: Padded<AtomicUsize>,
    /// Next slot to write (producer).
    tail: Padded<AtomicUsize>,
    put_busy: AtomicBool,
    get_busy: AtomicBool,
}

// SAFETY: the bytes of a slot are written only by the producer that holds `put_busy` while the
// slot is outside [head, tail) and read only by the consumer that holds `get_busy` while it is
// inside; the Release store of `tail` (resp. `head`) publishes the write (resp. the slot's
// release) to the Acquire load on the other side.
unsafe impl Sync for ByteRing {}

impl ByteRing {
    /// A ring of `depth` (rounded up to a power of two) items of `item` bytes.
    pub fn new(item: usize, depth: usize) -> Self {
        let depth = depth.next_power_of_two();
        ByteRing {
            item,
            mask: depth - 1,
            buf: (0..item * depth).map(|_| UnsafeCell::new(0)).collect(),
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            put_busy: AtomicBool::new(false),
            get_busy: AtomicBool::new(false),
        }
    }

    #[inline]
    fn slot(&self, index: usize) -> *mut u8 {
        UnsafeCell::raw_get(self.buf.as_ptr()).wrapping_add((index & self.mask) * self.item)
    }

    #[inline]
    fn copy(&self, src: *const u8, dst: *mut u8, len: usize) {
        if len < self.item {
            // SAFETY: `src` has `len` readable bytes, `dst` a slot of `item > len` bytes.
            unsafe {
                ptr::copy_nonoverlapping(src, dst, len);
                ptr::write_bytes(dst.add(len), 0, self.item - len);
            }
        } else if self.item == 8 {
            // SAFETY: both point to `item` = 8 valid bytes (see `try_put`/`try_get`).
            unsafe {
                ptr::write_unaligned(dst.cast::<u64>(), ptr::read_unaligned(src.cast::<u64>()))
            };
        } else {
            // SAFETY: both point to `item` valid bytes and a slot never overlaps a caller's buffer.
            unsafe { ptr::copy_nonoverlapping(src, dst, self.item) };
        }
    }

    /// One non-blocking get.
    ///
    /// # Safety
    /// `out` points to `item` writable bytes.
    #[inline]
    unsafe fn try_get(&self, out: *mut u8) -> bool {
        if self.get_busy.swap(true, Ordering::Acquire) {
            return false;
        }
        let h = self.head.0.load(Ordering::Relaxed);
        let ok = h != self.tail.0.load(Ordering::Acquire);
        if ok {
            // `h` is in [head, tail): the producer no longer touches it; we hold `get_busy`.
            self.copy(self.slot(h), out, self.item);
            self.head.0.store(h.wrapping_add(1), Ordering::Release);
        }
        self.get_busy.store(false, Ordering::Release);
        ok
    }
}

// SAFETY: a FIFO: `get` returns what `try_put` put, each item once; nothing else inserts.
unsafe impl Queue for ByteRing {
    fn item_size(&self) -> usize {
        self.item
    }
    #[inline]
    unsafe fn try_put(&self, item: *const u8, len: usize) -> bool {
        if self.put_busy.swap(true, Ordering::Acquire) {
            return false;
        }
        let t = self.tail.0.load(Ordering::Relaxed);
        let ok = t.wrapping_sub(self.head.0.load(Ordering::Acquire)) <= self.mask;
        if ok {
            // Slot `t` is outside [head, tail): no consumer reads it; we hold `put_busy`.
            self.copy(item, self.slot(t), len);
            self.tail.0.store(t.wrapping_add(1), Ordering::Release);
        }
        self.put_busy.store(false, Ordering::Release);
        ok
    }
    #[inline]
    unsafe fn get(&self, out: *mut u8, timeout: Timeout) -> bool {
        // SAFETY: forwarded contract: `out` points to `item` writable bytes.
        poll_until(timeout, || unsafe { self.try_get(out) })
    }
    fn len(&self) -> usize {
        let h = self.head.0.load(Ordering::Acquire);
        self.tail.0.load(Ordering::Acquire).wrapping_sub(h)
    }
    fn purge(&self) -> usize {
        while self.get_busy.swap(true, Ordering::Acquire) {
            std::hint::spin_loop();
        }
        let h = self.head.0.load(Ordering::Relaxed);
        let t = self.tail.0.load(Ordering::Acquire);
        self.head.0.store(t, Ordering::Release);
        self.get_busy.store(false, Ordering::Release);
        t.wrapping_sub(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_fifo_and_bounded() {
        let r = ByteRing::new(3, 2);
        // SAFETY: 3-byte items from/to 3-byte arrays.
        unsafe {
            assert!(r.try_put([1u8, 2, 3].as_ptr(), 3));
            assert!(r.try_put([4u8, 5, 6].as_ptr(), 3));
            assert!(!r.try_put([7u8, 8, 9].as_ptr(), 3));
            let mut out = [0u8; 3];
            assert!(r.get(out.as_mut_ptr(), Timeout::NoWait));
            assert_eq!(out, [1, 2, 3]);
            assert!(r.get(out.as_mut_ptr(), Timeout::NoWait));
            assert_eq!(out, [4, 5, 6]);
            assert!(!r.get(out.as_mut_ptr(), Timeout::NoWait));
        }
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn ptr_queue_round_trips() {
        let q = PtrQueue::new(1);
        let v = 0xdead_beefusize;
        let mut out = 0usize;
        // SAFETY: usize-sized items.
        unsafe {
            assert!(q.try_put((&v as *const usize).cast(), 8));
            assert!(!q.try_put((&v as *const usize).cast(), 8));
            assert!(q.get((&mut out as *mut usize).cast(), Timeout::NoWait));
        }
        assert_eq!(out, v);
    }
}
