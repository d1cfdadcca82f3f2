//! The core's [`Port`] and [`Queue`] over the C port functions of
//! `include/dispatcher_pool_port.h` (`dispatcher_port_*`).

use crate::types::k_msgq;
use core::alloc::Layout;
use core::ffi::{c_int, c_void};
use pool_core::error::DISPATCHER_ERRNO_COUNT;
use pool_core::{Port, Queue, Timeout};

extern "C" {
    fn dispatcher_port_now_ms() -> u32;
    fn dispatcher_port_in_isr() -> bool;
    fn dispatcher_port_sem_take(sem: *mut c_void, timeout_ms: i32) -> bool;
    fn dispatcher_port_sem_give(sem: *mut c_void);
    fn dispatcher_port_heap_alloc(size: usize, align: usize) -> *mut c_void;
    fn dispatcher_port_heap_free(p: *mut c_void);
    fn dispatcher_port_msgq_put(q: *mut k_msgq, item: *const c_void, len: usize) -> bool;
    fn dispatcher_port_msgq_get(q: *mut k_msgq, item: *mut c_void, timeout_ms: i32) -> bool;
    fn dispatcher_port_msgq_peek_at(q: *mut k_msgq, item: *mut c_void, idx: usize) -> bool;
    fn dispatcher_port_msgq_item_size(q: *mut k_msgq) -> usize;
    fn dispatcher_port_msgq_len(q: *mut k_msgq) -> usize;
    fn dispatcher_port_msgq_purge(q: *mut k_msgq) -> usize;
    static dispatcher_port_errno: [c_int; DISPATCHER_ERRNO_COUNT];
}

/// Zephyr without userspace: pointer items go straight to the kernel's `k_msgq_put` and
/// `k_msgq_get` implementations (what Zephyr's inline syscall wrappers call when
/// `CONFIG_USERSPACE` is off), not through the port. The module's CMake enables this feature
/// only then, and `zephyr-timeout-64bit` with `CONFIG_TIMEOUT_64BIT`; the port checks the
/// `k_timeout_t` layout against it at compile time (zephyr/dispatcher_pool_port.c).
#[cfg(feature = "zephyr-kernel")]
mod kernel {
    use super::k_msgq;
    use core::ffi::{c_int, c_void};

    #[cfg(feature = "zephyr-timeout-64bit")]
    type Ticks = i64;
    #[cfg(feature = "zephyr-timeout-64bit")]
    const TICKS_FOREVER: Ticks = -1;
    #[cfg(not(feature = "zephyr-timeout-64bit"))]
    type Ticks = u32;
    #[cfg(not(feature = "zephyr-timeout-64bit"))]
    const TICKS_FOREVER: Ticks = u32::MAX;

    /// Zephyr's `k_timeout_t`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub(super) struct KTimeout {
        ticks: Ticks,
    }

    /// `K_NO_WAIT`.
    pub(super) const NO_WAIT: KTimeout = KTimeout { ticks: 0 };
    /// `K_FOREVER` (`K_TICKS_FOREVER`, `(k_ticks_t)-1`).
    pub(super) const FOREVER: KTimeout = KTimeout {
        ticks: TICKS_FOREVER,
    };

    extern "C" {
        pub(super) fn z_impl_k_msgq_put(q: *mut k_msgq, data: *const c_void, t: KTimeout) -> c_int;
        pub(super) fn z_impl_k_msgq_get(q: *mut k_msgq, data: *mut c_void, t: KTimeout) -> c_int;
    }
}

#[cfg(feature = "timing")]
extern "C" {
    fn dispatcher_port_cycles() -> u32;
    fn dispatcher_port_cycles_per_sec() -> u32;
}

/// The C convention for a timeout: 0 = no wait, negative = forever, positive = milliseconds.
fn timeout_ms(t: Timeout) -> i32 {
    match t {
        Timeout::NoWait => 0,
        Timeout::Forever => -1,
        Timeout::Millis(ms) => ms.min(i32::MAX as u32) as i32,
    }
}

/// The negative errno C gets for `e`, looked up in the port's `dispatcher_port_errno` table
/// (compiled against the platform's `errno.h`).
pub(crate) fn neg_errno(e: pool_core::PoolError) -> c_int {
    // SAFETY: `dispatcher_port_errno` is a constant array of `DISPATCHER_ERRNO_COUNT` ints defined by the
    // C port, never written; every `Errno` discriminant is below it (const-asserted in the core).
    let n = unsafe { dispatcher_port_errno[e.errno() as usize] };
    -n
}

/// `true` in interrupt context (the C port's `dispatcher_port_in_isr`).
pub(crate) fn in_isr() -> bool {
    // SAFETY: C port function without arguments or preconditions.
    unsafe { dispatcher_port_in_isr() }
}

/// The OS port of the C API: every call goes to a `dispatcher_port_*` C function. Each pool
/// has its own, carrying the pool's semaphore (`msg_pool.sem`).
#[derive(Debug, Clone, Copy)]
pub struct ExternPort {
    sem: *mut c_void,
}

// SAFETY: the semaphore is a kernel object (`k_sem`) made for use from many threads and ISRs;
// the pointer is never written after the pool is initialised.
unsafe impl Sync for ExternPort {}
// SAFETY: as above; it is not tied to the thread that created it.
unsafe impl Send for ExternPort {}

impl ExternPort {
    /// A port over semaphore `sem`.
    ///
    /// # Safety
    /// `sem` is what the C port's `dispatcher_port_sem_take/give` accept (an initialised
    /// `k_sem` on Zephyr) and outlives every use of the port.
    pub const unsafe fn new(sem: *mut c_void) -> Self {
        ExternPort { sem }
    }
}

// SAFETY: `dispatcher_port_heap_alloc` returns NULL or a fresh block of `size` bytes aligned to
// `align` (its C contract in dispatcher_pool_port.h), and `dispatcher_port_heap_free` takes it back.
unsafe impl Port for ExternPort {
    fn now_ms(&self) -> u32 {
        // SAFETY: C port function without arguments or preconditions.
        unsafe { dispatcher_port_now_ms() }
    }
    fn in_isr(&self) -> bool {
        in_isr()
    }
    fn sem_take(&self, timeout: Timeout) -> bool {
        // SAFETY: C port function on this pool's semaphore (valid by `ExternPort::new`); any
        // timeout value is valid (k_sem_take semantics).
        unsafe { dispatcher_port_sem_take(self.sem, timeout_ms(timeout)) }
    }
    fn sem_give(&self) {
        // SAFETY: C port function on this pool's semaphore (valid by `ExternPort::new`);
        // ISR-safe by contract.
        unsafe { dispatcher_port_sem_give(self.sem) }
    }
    fn heap_alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: C port function; it returns NULL or a block of `size` bytes aligned to `align`.
        unsafe { dispatcher_port_heap_alloc(layout.size(), layout.align()) }.cast()
    }
    unsafe fn heap_free(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller guarantees `ptr` came from `heap_alloc`, i.e. from
        // `dispatcher_port_heap_alloc`, and is not used afterwards.
        unsafe { dispatcher_port_heap_free(ptr.cast()) }
    }
    #[cfg(feature = "timing")]
    fn cycles(&self) -> u32 {
        // SAFETY: C port function without arguments or preconditions (ISR-safe).
        unsafe { dispatcher_port_cycles() }
    }
    #[cfg(feature = "timing")]
    fn cycles_per_sec(&self) -> u32 {
        // SAFETY: C port function without arguments or preconditions (ISR-safe).
        unsafe { dispatcher_port_cycles_per_sec() }
    }
}

/// A target's queue: a C `struct k_msgq *` (Zephyr's `k_msgq`, or the host test double).
///
/// A NULL queue (what a zero-initialised `msg_target_t` holds) has item size 0, is
/// always empty and refuses every put.
#[derive(Debug, Clone, Copy)]
#[repr(transparent)]
pub struct ExternQueue(*mut k_msgq);

// SAFETY: a `k_msgq` is a kernel object made for use from many threads and ISRs at once; the
// pointer itself is never written after the target is initialised.
unsafe impl Sync for ExternQueue {}
// SAFETY: as above; the queue is not tied to the thread that created it.
unsafe impl Send for ExternQueue {}

impl ExternQueue {
    /// Wraps a queue pointer.
    ///
    /// # Safety
    /// `q` is NULL or a `k_msgq` initialised by the C side that outlives every use of the
    /// returned value (and of any target built over it).
    pub const unsafe fn new(q: *mut k_msgq) -> Self {
        ExternQueue(q)
    }

    /// The queue pointer.
    pub fn as_ptr(&self) -> *mut k_msgq {
        self.0
    }
}

// SAFETY: a `k_msgq`: `get` copies out what `try_put` copied in, FIFO, each item once. C code
// that puts its own items into a pointer-mode target's queue breaks the C API's contract
// (`msg_target_init`: only the library puts into a pointer-mode queue).
unsafe impl Queue for ExternQueue {
    fn item_size(&self) -> usize {
        if self.0.is_null() {
            return 0;
        }
        // SAFETY: non-null queue, valid by the contract of `ExternQueue::new`.
        unsafe { dispatcher_port_msgq_item_size(self.0) }
    }
    unsafe fn try_put(&self, item: *const u8, len: usize) -> bool {
        if self.0.is_null() {
            return false;
        }
        #[cfg(feature = "zephyr-kernel")]
        if len == core::mem::size_of::<usize>() {
            // A pointer item: the only items of one word (a value item holds at least a
            // header), and a pointer-mode queue's whole item (checked in `Target::new`).
            // SAFETY: valid, initialised queue (see `new`) whose item is `len` bytes, all
            // readable at `item` (caller contract); the kernel copies exactly the item.
            return unsafe { kernel::z_impl_k_msgq_put(self.0, item.cast(), kernel::NO_WAIT) } == 0;
        }
        // SAFETY: valid queue (see `new`); the caller guarantees `item` has `len <= item_size()`
        // readable bytes, which is what the port copies (zero-filling the rest of the item).
        unsafe { dispatcher_port_msgq_put(self.0, item.cast(), len) }
    }
    unsafe fn peek_at(&self, idx: usize, out: *mut u8) -> bool {
        if self.0.is_null() {
            return false;
        }
        // SAFETY: valid queue (see `new`); the caller guarantees `out` has `item_size()`
        // writable bytes, which is what the peek copies.
        unsafe { dispatcher_port_msgq_peek_at(self.0, out.cast(), idx) }
    }
    unsafe fn get(&self, out: *mut u8, timeout: Timeout) -> bool {
        if self.0.is_null() {
            return false;
        }
        #[cfg(feature = "zephyr-kernel")]
        {
            let t = match timeout {
                Timeout::NoWait => kernel::NO_WAIT,
                Timeout::Forever => kernel::FOREVER,
                // Milliseconds to ticks is the port's (the tick rate is a Kconfig value).
                Timeout::Millis(_) => {
                    // SAFETY: valid queue (see `new`); the caller guarantees `out` has
                    // `item_size()` writable bytes, which is what the get copies.
                    return unsafe {
                        dispatcher_port_msgq_get(self.0, out.cast(), timeout_ms(timeout))
                    };
                }
            };
            // SAFETY: valid, initialised queue (see `new`); the caller guarantees `out` has
            // `item_size()` writable bytes, which is what the kernel copies.
            unsafe { kernel::z_impl_k_msgq_get(self.0, out.cast(), t) == 0 }
        }
        #[cfg(not(feature = "zephyr-kernel"))]
        // SAFETY: valid queue (see `new`); the caller guarantees `out` has `item_size()`
        // writable bytes, which is what the get copies.
        unsafe {
            dispatcher_port_msgq_get(self.0, out.cast(), timeout_ms(timeout))
        }
    }
    fn len(&self) -> usize {
        if self.0.is_null() {
            return 0;
        }
        // SAFETY: non-null queue, valid by the contract of `ExternQueue::new`.
        unsafe { dispatcher_port_msgq_len(self.0) }
    }
    fn purge(&self) -> usize {
        if self.0.is_null() {
            return 0;
        }
        // SAFETY: non-null queue, valid by the contract of `ExternQueue::new`.
        unsafe { dispatcher_port_msgq_purge(self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_the_c_convention() {
        assert_eq!(timeout_ms(Timeout::NoWait), 0);
        assert_eq!(timeout_ms(Timeout::Forever), -1);
        assert_eq!(timeout_ms(Timeout::Millis(25)), 25);
        assert_eq!(timeout_ms(Timeout::Millis(u32::MAX)), i32::MAX);
        for ms in [-5, 0, 1, 1000, i32::MAX] {
            assert_eq!(timeout_ms(Timeout::from_c_ms(ms)), ms.max(-1));
        }
    }
}
