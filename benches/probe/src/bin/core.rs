//! The probe with the core: a C-like API over one global pool (what the Zephyr port links),
//! with stand-ins for the OS (`k_sem`, `k_msgq`, `k_uptime_get`) that are a few instructions.
#![no_std]
#![no_main]

#[path = "../rt.rs"]
mod rt;

use core::hint::black_box;
use core::sync::atomic::{AtomicU32, Ordering};
use dispatcher_pool::global::GlobalPool;
use dispatcher_pool::pool::{Fallback, Leak, Pool, PoolConfig};
use dispatcher_pool::sizing::pool_entries;
use dispatcher_pool::target::{Mode, Target};
use dispatcher_pool::Received;
use dispatcher_pool::{Descriptor, PoolError, Port, Queue, Timeout};

static TICKS: AtomicU32 = AtomicU32::new(0);

/// Stand-in for the Zephyr port (the real one calls into C).
pub struct ZPort;
// SAFETY: no heap (the default NULL).
unsafe impl Port for ZPort {
    fn now_ms(&self) -> u32 {
        TICKS.load(Ordering::Relaxed)
    }
    fn in_isr(&self) -> bool {
        black_box(false)
    }
    fn sem_take(&self, timeout: Timeout) -> bool {
        black_box(timeout) == Timeout::NoWait
    }
    fn sem_give(&self) {
        black_box(());
    }
}

/// Stand-in for a `k_msgq` (the real one is C).
pub struct ZQueue {
    item: usize,
}
// SAFETY: forwards to the C port's k_msgq (see capi's ExternQueue).
unsafe impl Queue for ZQueue {
    fn item_size(&self) -> usize {
        self.item
    }
    unsafe fn try_put(&self, item: *const u8, _len: usize) -> bool {
        black_box(item).is_null()
    }
    unsafe fn get(&self, out: *mut u8, _: Timeout) -> bool {
        black_box(out).is_null()
    }
    fn len(&self) -> usize {
        black_box(0)
    }
    fn purge(&self) -> usize {
        black_box(0)
    }
}

static POOL: GlobalPool<ZPort> = GlobalPool::new();

fn code(r: Result<(), PoolError>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => -(e.errno() as i32) - 1,
    }
}

fn pool() -> Result<&'static Pool<'static, ZPort>, PoolError> {
    POOL.get()
}

/// `pool_init`.
///
/// # Safety
/// The two regions are valid, exclusive and live forever.
#[no_mangle]
pub unsafe extern "C" fn dp_init(
    descs: *mut Descriptor,
    n: usize,
    region: *mut u8,
    len: usize,
    entries: usize,
    payload: usize,
) -> i32 {
    // SAFETY: the caller's contract.
    let (d, r) = unsafe {
        (
            core::slice::from_raw_parts_mut(descs, n),
            core::slice::from_raw_parts_mut(region, len),
        )
    };
    code(
        POOL.init(|| {
            Pool::new(
                ZPort,
                PoolConfig::new(entries, payload).with_heap_slots(4),
                d,
                r,
            )
        })
        .map(|_| ()),
    )
}

/// `msg_alloc(timeout)`.
#[no_mangle]
pub extern "C" fn dp_alloc(timeout_ms: i32) -> *const Descriptor {
    pool()
        .and_then(|p| p.alloc_blocking_raw(Timeout::from_c_ms(timeout_ms)))
        .map_or(core::ptr::null(), |d| d)
}

/// `msg_try_alloc_or(policy)`.
#[no_mangle]
pub extern "C" fn dp_try_alloc_or(heap: bool) -> *const Descriptor {
    let f = if heap { Fallback::Heap } else { Fallback::Drop };
    pool()
        .and_then(|p| p.try_alloc_or_raw(f))
        .map_or(core::ptr::null(), |d| d)
}

/// `msg_ref`.
#[no_mangle]
pub extern "C" fn dp_ref(p: *const Descriptor) -> i32 {
    // SAFETY: the C contract of `msg_ref`: the caller holds a reference.
    code(
        pool()
            .and_then(|pool| unsafe { pool.ref_raw(p) })
            .map(|_| ()),
    )
}

/// `msg_unref`.
#[no_mangle]
pub extern "C" fn dp_unref(p: *const Descriptor) -> i32 {
    // SAFETY: the C contract of `msg_unref`: the caller gives up a reference it holds.
    code(pool().and_then(|pool| unsafe { pool.unref_raw(p) }))
}

/// `target_init`.
///
/// # Safety
/// `t` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn dp_target_init(
    t: *mut Target<ZQueue>,
    pointer_mode: bool,
    item: usize,
    id: u16,
) -> i32 {
    let mode = if pointer_mode {
        Mode::Pointer
    } else {
        Mode::Value
    };
    code(Target::new(ZQueue { item }, mode, id).map(|target| {
        // SAFETY: the caller's contract.
        unsafe { t.write(target) }
    }))
}

/// `msg_broadcast`.
///
/// # Safety
/// `targets` points to `n` valid target references.
#[no_mangle]
pub unsafe extern "C" fn dp_broadcast(
    p: *const Descriptor,
    targets: *const &Target<ZQueue>,
    n: usize,
) -> i32 {
    // SAFETY: the caller's contract.
    let targets = unsafe { core::slice::from_raw_parts(targets, n) };
    // SAFETY: the C contract: the caller gives up the producer's reference.
    match pool().and_then(|pool| unsafe { pool.broadcast_raw(p, targets) }) {
        Ok(n) => n as i32,
        Err(e) => code(Err(e)),
    }
}

/// The module helper's receive: returns the descriptor (pointer mode) or copies (value mode).
///
/// # Safety
/// `buf` has `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn dp_receive(
    t: &Target<ZQueue>,
    buf: *mut u8,
    len: usize,
    timeout_ms: i32,
) -> *const Descriptor {
    let Ok(pool) = pool() else {
        return core::ptr::null();
    };
    // SAFETY: the caller's contract.
    let buf = (!buf.is_null()).then(|| unsafe { core::slice::from_raw_parts_mut(buf, len) });
    match pool.receive(t, buf, Timeout::from_c_ms(timeout_ms)) {
        Ok(Received::Msg(m)) => m.into_raw().as_ptr(),
        _ => core::ptr::null(),
    }
}

/// `target_purge`.
#[no_mangle]
pub extern "C" fn dp_purge(t: &Target<ZQueue>) -> i32 {
    match pool().and_then(|p| p.purge(t)) {
        Ok(n) => n as i32,
        Err(e) => code(Err(e)),
    }
}

/// The self-check.
#[no_mangle]
pub extern "C" fn dp_check() -> i32 {
    code(pool().and_then(|p| p.check()).map(|_| ()))
}

/// The leak report.
///
/// # Safety
/// `out` has room for `n` leaks.
#[no_mangle]
pub unsafe extern "C" fn dp_leaks(out: *mut Leak, n: usize, min_age_ms: u32) -> usize {
    // SAFETY: the caller's contract.
    let out = unsafe { core::slice::from_raw_parts_mut(out, n) };
    let none: &[&Target<ZQueue>] = &[];
    pool().map_or(0, |p| p.leaks(min_age_ms, none, out))
}

/// The metrics JSON writer (REST handler).
///
/// # Safety
/// `buf` has `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn dp_metrics_json(buf: *mut u8, len: usize) -> i32 {
    // SAFETY: the caller's contract.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    match pool().and_then(|p| p.snapshot().write_json("", &[], buf)) {
        Ok(n) => n as i32,
        Err(e) => code(Err(e)),
    }
}

/// The boot-time sizing heuristic.
#[no_mangle]
pub extern "C" fn dp_pool_entries(targets: u32, fanout_permille: u32, concurrency: u32) -> u32 {
    pool_entries(targets, fanout_permille, concurrency)
}

/// Entry point.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    rt::start(&[
        dp_init as *const () as usize,
        dp_alloc as *const () as usize,
        dp_try_alloc_or as *const () as usize,
        dp_ref as *const () as usize,
        dp_unref as *const () as usize,
        dp_target_init as *const () as usize,
        dp_broadcast as *const () as usize,
        dp_receive as *const () as usize,
        dp_purge as *const () as usize,
        dp_check as *const () as usize,
        dp_leaks as *const () as usize,
        dp_metrics_json as *const () as usize,
        dp_pool_entries as *const () as usize,
    ])
}
