//! The `std` host port: a `k_sem`-exact semaphore on `Mutex` + `Condvar`, a bounded queue
//! like `k_msgq`, the std allocator for heap fallback, and an owning [`HostPool`].

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::pool::{Pool, PoolConfig};
use crate::port::{Port, Queue, Timeout};
use core::alloc::Layout;
use core::cell::Cell;
use std::boxed::Box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use std::vec::Vec;

std::thread_local! {
    static IN_ISR: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as if in interrupt context (for [`Port::in_isr`] of [`StdPort`]).
pub fn as_isr<R>(f: impl FnOnce() -> R) -> R {
    IN_ISR.with(|c| c.set(true));
    let r = f();
    IN_ISR.with(|c| c.set(false));
    r
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct SemState {
    count: u32,
    /// Threads blocked in `take` that no give has picked yet.
    waiting: u32,
    /// Gives handed directly to blocked threads, not yet collected.
    grants: u32,
}

/// A counting semaphore with Zephyr `k_sem` semantics: a give wakes one blocked taker if
/// there is one (count unchanged), otherwise increments the count unless it is at `limit`,
/// where the give is silently ignored.
pub struct HostSem {
    state: Mutex<SemState>,
    cv: Condvar,
    limit: u32,
}

impl HostSem {
    /// A semaphore with count 0 and the given limit (≥ 1).
    pub fn new(limit: u32) -> Self {
        HostSem {
            state: Mutex::new(SemState::default()),
            cv: Condvar::new(),
            limit: limit.max(1),
        }
    }

    /// `k_sem_give`.
    pub fn give(&self) {
        let mut s = lock(&self.state);
        if s.waiting > 0 {
            s.waiting -= 1;
            s.grants += 1;
            drop(s);
            self.cv.notify_one();
        } else if s.count < self.limit {
            s.count += 1;
        }
    }

    /// `k_sem_take`: `true` if taken, `false` on timeout.
    pub fn take(&self, timeout: Timeout) -> bool {
        let mut s = lock(&self.state);
        if s.count > 0 {
            s.count -= 1;
            return true;
        }
        let deadline = match timeout {
            Timeout::NoWait => return false,
            Timeout::Forever => None,
            Timeout::Millis(ms) => Some(Instant::now() + Duration::from_millis(ms.into())),
        };
        s.waiting += 1;
        loop {
            if s.grants > 0 {
                s.grants -= 1;
                return true;
            }
            match deadline {
                None => s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        s.waiting -= 1;
                        return false;
                    }
                    s = self
                        .cv
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// `k_sem_count_get`.
    pub fn count(&self) -> u32 {
        lock(&self.state).count
    }
}

/// The host port: wall clock since creation, [`HostSem`], std allocator, ISR flag per thread.
pub struct StdPort {
    start: Instant,
    sem: HostSem,
    heap_budget: AtomicUsize,
}

impl StdPort {
    /// A port whose semaphore limit is `u32::MAX` (like `K_SEM_MAX_LIMIT`).
    pub fn new() -> Self {
        Self::with_sem_limit(u32::MAX)
    }

    /// A port whose semaphore gives are ignored above `limit`.
    pub fn with_sem_limit(limit: u32) -> Self {
        StdPort {
            start: Instant::now(),
            sem: HostSem::new(limit),
            heap_budget: AtomicUsize::new(usize::MAX),
        }
    }

    /// Lets only `n` more heap fallback allocations succeed (to test heap exhaustion).
    pub fn set_heap_budget(&self, n: usize) {
        self.heap_budget.store(n, Ordering::Relaxed);
    }

    /// The semaphore (for tests).
    pub fn sem(&self) -> &HostSem {
        &self.sem
    }
}

impl Default for StdPort {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: heap_alloc returns NULL or a fresh `std::alloc::alloc(layout)` block, and heap_free
// deallocates exactly such blocks.
unsafe impl Port for StdPort {
    fn now_ms(&self) -> u32 {
        self.start.elapsed().as_millis() as u32
    }
    fn in_isr(&self) -> bool {
        IN_ISR.with(|c| c.get())
    }
    /// Microseconds since the port was created (wrapping after 71 minutes).
    fn cycles(&self) -> u32 {
        self.start.elapsed().as_micros() as u32
    }
    /// 1 MHz: [`cycles`](Port::cycles) counts microseconds.
    fn cycles_per_sec(&self) -> u32 {
        1_000_000
    }
    fn sem_take(&self, timeout: Timeout) -> bool {
        self.sem.take(timeout)
    }
    fn sem_give(&self) {
        self.sem.give()
    }
    fn heap_alloc(&self, layout: Layout) -> *mut u8 {
        let budget = self
            .heap_budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1));
        if budget.is_err() || layout.size() == 0 {
            return core::ptr::null_mut();
        }
        // SAFETY: non-zero size checked above.
        unsafe { std::alloc::alloc(layout) }
    }
    unsafe fn heap_free(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `heap_alloc(layout)`, i.e. `std::alloc::alloc(layout)`.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
}

struct Ring {
    buf: Vec<u8>,
    head: usize,
    len: usize,
}

/// A bounded FIFO of fixed-size items with `k_msgq` semantics (put never blocks here).
pub struct HostQueue {
    item_size: usize,
    depth: usize,
    ring: Mutex<Ring>,
    not_empty: Condvar,
}

impl HostQueue {
    /// A queue of `depth` items of `item_size` bytes.
    pub fn new(item_size: usize, depth: usize) -> Self {
        HostQueue {
            item_size,
            depth,
            ring: Mutex::new(Ring {
                buf: std::vec![0; item_size * depth],
                head: 0,
                len: 0,
            }),
            not_empty: Condvar::new(),
        }
    }
    /// A pointer-mode queue (items of one pointer).
    pub fn pointers(depth: usize) -> Self {
        Self::new(core::mem::size_of::<usize>(), depth)
    }
    /// A value-mode queue of whole messages of `item_size` bytes.
    pub fn values(depth: usize, item_size: usize) -> Self {
        Self::new(item_size, depth)
    }
    /// Bytes of queue storage (what a `k_msgq` buffer costs).
    pub fn buffer_bytes(&self) -> usize {
        self.item_size * self.depth
    }
}

// SAFETY: a ring behind a mutex: `get` copies out what `try_put` copied in, FIFO, each item once;
// no other method inserts items.
unsafe impl Queue for HostQueue {
    fn item_size(&self) -> usize {
        self.item_size
    }
    unsafe fn try_put(&self, item: *const u8, len: usize) -> bool {
        assert!(len <= self.item_size, "try_put: len above the item size");
        let mut r = lock(&self.ring);
        if r.len == self.depth {
            return false;
        }
        let slot = (r.head + r.len) % self.depth * self.item_size;
        // SAFETY: caller guarantees `item` has `len` readable bytes; the slot is in `buf`.
        let src = unsafe { core::slice::from_raw_parts(item, len) };
        r.buf[slot..slot + len].copy_from_slice(src);
        r.buf[slot + len..slot + self.item_size].fill(0);
        r.len += 1;
        drop(r);
        self.not_empty.notify_one();
        true
    }
    unsafe fn get(&self, out: *mut u8, timeout: Timeout) -> bool {
        let mut r = lock(&self.ring);
        let deadline = match timeout {
            Timeout::Millis(ms) => Some(Instant::now() + Duration::from_millis(ms.into())),
            _ => None,
        };
        while r.len == 0 {
            match (timeout, deadline) {
                (Timeout::NoWait, _) => return false,
                (Timeout::Forever, _) => {
                    r = self.not_empty.wait(r).unwrap_or_else(|e| e.into_inner())
                }
                (_, Some(d)) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    r = self
                        .not_empty
                        .wait_timeout(r, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                (_, None) => return false,
            }
        }
        let slot = r.head * self.item_size;
        // SAFETY: caller guarantees `out` has item_size writable bytes.
        let dst = unsafe { core::slice::from_raw_parts_mut(out, self.item_size) };
        dst.copy_from_slice(&r.buf[slot..slot + self.item_size]);
        r.head = (r.head + 1) % self.depth;
        r.len -= 1;
        true
    }
    unsafe fn peek_at(&self, idx: usize, out: *mut u8) -> bool {
        let r = lock(&self.ring);
        if idx >= r.len {
            return false;
        }
        let slot = (r.head + idx) % self.depth * self.item_size;
        // SAFETY: caller guarantees `out` has item_size writable bytes.
        let dst = unsafe { core::slice::from_raw_parts_mut(out, self.item_size) };
        dst.copy_from_slice(&r.buf[slot..slot + self.item_size]);
        true
    }
    fn len(&self) -> usize {
        lock(&self.ring).len
    }
    fn purge(&self) -> usize {
        let mut r = lock(&self.ring);
        let n = r.len;
        r.len = 0;
        n
    }
}

/// Memory for one pool on the host heap: descriptors and a message region.
pub struct HostMemory {
    cfg: PoolConfig,
    descs: &'static mut [Descriptor],
    region: &'static mut [u8],
}

/// A pool that owns its memory (the host's stand-in for static arrays), generic over the port.
///
/// Borrow the pool with [`pool`](OwnedPool::pool); it frees its memory when dropped.
pub struct OwnedPool<P: Port> {
    pool: core::mem::ManuallyDrop<Pool<'static, P>>,
    descs: *mut [Descriptor],
    region: *mut [u64],
}

/// An [`OwnedPool`] with the std port.
pub type HostPool = OwnedPool<StdPort>;

// SAFETY: the raw pointers are only used in `drop` to free the memory the pool borrows; the
// pool itself is Send + Sync when its port is.
unsafe impl<P: Port + Send> Send for OwnedPool<P> {}
// SAFETY: as above; shared access goes through `Pool`, which is Sync.
unsafe impl<P: Port> Sync for OwnedPool<P> {}

fn alloc_memory(cfg: PoolConfig) -> Result<(*mut [Descriptor], *mut [u64], usize), PoolError> {
    let layout = cfg.layout()?;
    let descs: Box<[Descriptor]> = (0..layout.descriptors())
        .map(|_| Descriptor::new())
        .collect();
    let words = layout.region_bytes().div_ceil(8).max(1);
    let region: Box<[u64]> = std::vec![0u64; words].into_boxed_slice();
    Ok((
        Box::into_raw(descs),
        Box::into_raw(region),
        layout.region_bytes(),
    ))
}

impl OwnedPool<StdPort> {
    /// A pool with the std port and memory from the heap.
    pub fn new(cfg: PoolConfig) -> Result<Self, PoolError> {
        Self::with_port(StdPort::new(), cfg)
    }

    /// Memory that is never freed, for a [`crate::global::GlobalPool`] or a `'static` pool.
    pub fn leak_memory(cfg: PoolConfig) -> Result<HostMemory, PoolError> {
        let (descs, region, bytes) = alloc_memory(cfg)?;
        // SAFETY: fresh, unaliased allocations that are never freed.
        let (descs, region) = unsafe {
            (
                &mut *descs,
                core::slice::from_raw_parts_mut((*region).as_mut_ptr().cast::<u8>(), bytes),
            )
        };
        Ok(HostMemory { cfg, descs, region })
    }
}

impl<P: Port> OwnedPool<P> {
    /// A pool with the given port and memory from the heap.
    pub fn with_port(port: P, cfg: PoolConfig) -> Result<Self, PoolError> {
        let (descs, region, bytes) = alloc_memory(cfg)?;
        // SAFETY: both pointers come from `Box::into_raw` just above and are unaliased; the
        // pool borrows them until `drop`, which drops the pool first.
        let (d, r) = unsafe {
            (
                &mut *descs,
                core::slice::from_raw_parts_mut((*region).as_mut_ptr().cast::<u8>(), bytes),
            )
        };
        match Pool::new(port, cfg, d, r) {
            Ok(pool) => Ok(OwnedPool {
                pool: core::mem::ManuallyDrop::new(pool),
                descs,
                region,
            }),
            Err(e) => {
                // SAFETY: not borrowed by anything (Pool::new failed).
                unsafe { drop((Box::from_raw(descs), Box::from_raw(region))) };
                Err(e)
            }
        }
    }

    /// The pool, borrowed for as long as `self`.
    pub fn pool(&self) -> &Pool<'_, P> {
        &self.pool
    }
}

impl HostMemory {
    /// Builds the `'static` pool over this memory.
    pub fn into_pool<P: Port>(self, port: P) -> Result<Pool<'static, P>, PoolError> {
        Pool::new(port, self.cfg, self.descs, self.region)
    }
}

impl<P: Port> Drop for OwnedPool<P> {
    fn drop(&mut self) {
        // Heap fallback messages still alive are leaked by their holders, not freed here.
        // SAFETY: dropped exactly once, before the memory it borrows.
        unsafe { core::mem::ManuallyDrop::drop(&mut self.pool) };
        // SAFETY: from Box::into_raw in `with_port`; the pool that borrowed them is gone.
        unsafe { drop((Box::from_raw(self.descs), Box::from_raw(self.region))) };
    }
}
