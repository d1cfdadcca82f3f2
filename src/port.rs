//! The OS port: what the pool needs from the operating system, and the target queues.
//!
//! Two implementations ship: `host` (feature `std`: std threads; tests, benches, demo) and the
//! C port through the `capi` crate (`zephyr/dispatcher_pool_port.c`: `k_sem`, `k_msgq`,
//! `k_aligned_alloc`, `k_uptime_get_32`, `k_is_in_isr`; `port/posix/` on Linux).
//!
//! Every pool owns its port value, so each pool has its own semaphore: waiters of one pool are
//! woken only by frees of that pool.

use core::alloc::Layout;

/// How long a blocking call may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// Do not wait (`K_NO_WAIT`).
    NoWait,
    /// Wait as long as it takes (`K_FOREVER`).
    Forever,
    /// Wait at most this many milliseconds (`K_MSEC(ms)`, rounded up to ticks by the kernel).
    Millis(u32),
}

impl Timeout {
    /// The C convention: 0 = no wait, negative = forever, positive = milliseconds.
    pub const fn from_c_ms(ms: i32) -> Self {
        if ms == 0 {
            Timeout::NoWait
        } else if ms < 0 {
            Timeout::Forever
        } else {
            Timeout::Millis(ms as u32)
        }
    }
}

/// What the pool asks of the OS.
///
/// # Safety
///
/// The pool writes a message header through what [`heap_alloc`](Port::heap_alloc) returns and
/// trusts it for memory safety. An implementation must return either NULL or a pointer to
/// `layout.size()` bytes, aligned to `layout.align()`, readable and writable, used by nothing
/// else until it is given back to [`heap_free`](Port::heap_free) (which must accept exactly
/// such blocks). A port without a heap keeps the default (always NULL).
///
/// A safe `impl` is refused, so a port cannot hand the pool memory it does not own from safe
/// code:
///
/// ```compile_fail,E0200
/// # use dispatcher_pool::port::{Port, Timeout};
/// struct ReadOnlyHeap;
/// static EIGHT: [u8; 8] = [0; 8];
/// impl Port for ReadOnlyHeap { // error[E0200]: the trait `Port` requires an `unsafe impl`
///     fn now_ms(&self) -> u32 { 0 }
///     fn sem_take(&self, _: Timeout) -> bool { false }
///     fn sem_give(&self) {}
///     fn heap_alloc(&self, _: core::alloc::Layout) -> *mut u8 { EIGHT.as_ptr().cast_mut() }
/// }
/// ```
///
/// # Semaphore contract
///
/// `sem_take`/`sem_give` must behave like Zephyr's `k_sem` with a limit ≥ 1: a give with a
/// thread waiting wakes exactly one waiter (and the count stays 0); a give with nobody waiting
/// increments the count unless it is at the limit (then it is ignored); a take returns at once
/// while the count is positive. The pool's blocking allocation is proven correct (no lost
/// wake-up) under exactly these rules, including a limit of 1, in the loom models. (A port that
/// breaks them can make an allocation wait too long or give up early, never unsound.)
pub unsafe trait Port: Sync {
    /// Milliseconds since some fixed point (wrapping); used for the leak report's ages.
    fn now_ms(&self) -> u32;
    /// `true` in interrupt context (blocking waits are then refused).
    fn in_isr(&self) -> bool {
        false
    }
    /// Waits for a give; `true` if one was taken, `false` on timeout.
    fn sem_take(&self, timeout: Timeout) -> bool;
    /// Gives the semaphore (ISR-safe on Zephyr).
    fn sem_give(&self);
    /// Allocates a heap block for a fallback message (NULL when none or unsupported).
    fn heap_alloc(&self, layout: Layout) -> *mut u8 {
        let _ = layout;
        core::ptr::null_mut()
    }
    /// Frees a block from [`heap_alloc`](Port::heap_alloc).
    ///
    /// # Safety
    /// `ptr` came from `heap_alloc(layout)` on this port and is not used afterwards.
    unsafe fn heap_free(&self, ptr: *mut u8, layout: Layout) {
        let _ = (ptr, layout);
    }
    /// A free-running cycle counter (wrapping), for the latency figures of the `timing`
    /// feature (`k_cycle_get_32` on Zephyr). Only called with that feature on.
    fn cycles(&self) -> u32 {
        0
    }
    /// The rate of [`cycles`](Port::cycles) in Hz; 0 (the default) means no clock: latency
    /// is then not recorded. Only called with the `timing` feature on.
    fn cycles_per_sec(&self) -> u32 {
        0
    }
}

/// A bounded FIFO of fixed-size items: what a target's `k_msgq` is.
///
/// Pointer-mode targets use an item of `size_of::<usize>()` bytes (one descriptor address);
/// value-mode targets an item of a whole `dispatcher_msg_t`.
///
/// # Safety
///
/// A pointer-mode item is an owned reference: the pool adopts what [`get`](Queue::get) returns
/// as one. An implementation must deliver only items that [`try_put`](Queue::try_put) accepted
/// on this queue, each at most once and unchanged; [`item_size`](Queue::item_size) never
/// changes; [`peek_at`](Queue::peek_at) copies an item without removing it. Its type offers no
/// safe way to insert items (only the unsafe `try_put`, whose contract the pool keeps).
///
/// A safe `impl` is refused, so a queue cannot hand the pool a forged message from safe code:
///
/// ```compile_fail,E0200
/// # use dispatcher_pool::port::{Queue, Timeout};
/// struct Forger(usize);
/// impl Queue for Forger { // error[E0200]: the trait `Queue` requires an `unsafe impl`
///     fn item_size(&self) -> usize { core::mem::size_of::<usize>() }
///     unsafe fn try_put(&self, _: *const u8, _: usize) -> bool { false }
///     unsafe fn get(&self, out: *mut u8, _: Timeout) -> bool {
///         unsafe { out.cast::<usize>().write_unaligned(self.0) }; // a live entry's address
///         true
///     }
///     fn len(&self) -> usize { 1 }
///     fn purge(&self) -> usize { 0 }
/// }
/// ```
pub unsafe trait Queue: Sync {
    /// Size of one item in bytes.
    fn item_size(&self) -> usize;
    /// Copies `len` bytes from `item` in as one item without waiting, zero-filling the rest of
    /// the item (`len < item_size()` when a small pool message goes to a value queue);
    /// `false` when full.
    ///
    /// # Safety
    /// `item` points to `len` readable bytes and `len <= item_size()`. In a pointer-mode
    /// target's queue the item is a descriptor address carrying one reference, which the queue
    /// owns from then on (only the pool's broadcast puts such items).
    unsafe fn try_put(&self, item: *const u8, len: usize) -> bool;
    /// Copies one item out, waiting up to `timeout`; `false` when none arrived.
    ///
    /// # Safety
    /// `out` points to `item_size()` writable bytes.
    unsafe fn get(&self, out: *mut u8, timeout: Timeout) -> bool;
    /// Copies the `idx`-th queued item (0 = the next to be received) into `out` without
    /// removing it; `false` if there is none or the queue cannot peek (the default). Used
    /// only by the leak report.
    ///
    /// # Safety
    /// `out` points to `item_size()` writable bytes.
    unsafe fn peek_at(&self, idx: usize, out: *mut u8) -> bool {
        let _ = (idx, out);
        false
    }
    /// Items currently queued (a racy snapshot).
    fn len(&self) -> usize;
    /// Discards every queued item (`k_msgq_purge`); returns how many there were.
    fn purge(&self) -> usize;
    /// `true` when nothing is queued (a racy snapshot).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// SAFETY: forwards every call to `P`, whose `unsafe impl` keeps the contract.
unsafe impl<P: Port + ?Sized> Port for &P {
    fn now_ms(&self) -> u32 {
        (**self).now_ms()
    }
    fn in_isr(&self) -> bool {
        (**self).in_isr()
    }
    fn sem_take(&self, timeout: Timeout) -> bool {
        (**self).sem_take(timeout)
    }
    fn sem_give(&self) {
        (**self).sem_give()
    }
    fn heap_alloc(&self, layout: Layout) -> *mut u8 {
        (**self).heap_alloc(layout)
    }
    unsafe fn heap_free(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { (**self).heap_free(ptr, layout) }
    }
    fn cycles(&self) -> u32 {
        (**self).cycles()
    }
    fn cycles_per_sec(&self) -> u32 {
        (**self).cycles_per_sec()
    }
}
