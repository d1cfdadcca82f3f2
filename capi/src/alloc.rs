//! Allocation from a pool (`msg_pool_*`) and from the default pool (the seed's `pool_*`).

use crate::convert::{code, to_c, write_out};
use crate::init::on_default;
use crate::registry::pool;
use crate::types::{msg_pool, pool_msg_t};
use core::ffi::c_int;
use pool_core::{Fallback, PoolError, Timeout};

fn ptr_or_null(r: Result<&pool_core::Descriptor, PoolError>) -> *mut pool_msg_t {
    r.map_or(core::ptr::null_mut(), to_c)
}

/// Takes a free entry of pool `p` without waiting: refcount 1, the caller's (producer's)
/// reference. NULL when the pool is empty (counted in `pool_alloc_failures`), not created or
/// `p` is NULL. ISR-safe. Hand the reference on with `msg_broadcast` or drop it
/// with `msg_unref`.
///
/// # Safety
/// `p` is NULL or a `struct msg_pool` (the `msg_pool_init` contract).
#[no_mangle]
pub unsafe extern "C" fn msg_pool_try_alloc(p: *const msg_pool) -> *mut pool_msg_t {
    // SAFETY: forwarded caller contract.
    ptr_or_null(unsafe { pool(p) }.and_then(|p| p.try_alloc_raw()))
}

/// `msg_pool_try_alloc`, applying `fallback` when the pool is empty: `POOL_FALLBACK_DROP`
/// returns NULL and counts a drop; `POOL_FALLBACK_HEAP` allocates a one-off message from the
/// port heap (NULL and a drop if no heap slot is free or the heap fails). Any other value of
/// `fallback` is refused with NULL, changing nothing. Never blocks; ISR-safe if the port heap is.
///
/// # Safety
/// As for `msg_pool_try_alloc`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_try_alloc_or(
    p: *const msg_pool,
    fallback: u8,
) -> *mut pool_msg_t {
    let Some(f) = Fallback::from_c(fallback) else {
        return core::ptr::null_mut();
    };
    // SAFETY: forwarded caller contract.
    ptr_or_null(unsafe { pool(p) }.and_then(|p| p.try_alloc_or_raw(f)))
}

/// Takes a free entry of pool `p`, waiting up to `timeout_ms` (0 = no wait, < 0 = forever)
/// for one to be freed to this pool. NULL on timeout, in an ISR with a non-zero timeout, or
/// for a pool not created; `msg_pool_alloc` says which.
///
/// # Safety
/// As for `msg_pool_try_alloc`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_alloc_blocking(
    p: *const msg_pool,
    timeout_ms: i32,
) -> *mut pool_msg_t {
    // SAFETY: forwarded caller contract.
    ptr_or_null(
        unsafe { pool(p) }.and_then(|p| p.alloc_blocking_raw(Timeout::from_c_ms(timeout_ms))),
    )
}

/// `msg_pool_alloc_blocking` with an error code: stores the entry in `*out` (NULL on failure)
/// and returns 0, -ENOMEM (empty, `timeout_ms` == 0), -EAGAIN (timed out), -EPERM (non-zero
/// timeout in an ISR), -ENODEV (pool not created), -EINVAL (NULL `p` or `out`).
///
/// # Safety
/// As for `msg_pool_try_alloc`; `out` is NULL or points to a writable `pool_msg_t *`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_alloc(
    p: *const msg_pool,
    timeout_ms: i32,
    out: *mut *mut pool_msg_t,
) -> c_int {
    if out.is_null() || !out.is_aligned() {
        return code(Err(PoolError::Null));
    }
    // SAFETY: forwarded caller contract.
    let r = unsafe { pool(p) }.and_then(|p| p.alloc_blocking_raw(Timeout::from_c_ms(timeout_ms)));
    // SAFETY: `out` is non-null, aligned and writable (checked, caller contract).
    unsafe { write_out(out, ptr_or_null(r)) };
    code(r.map(|_| ()))
}

// ----- the seed's calls, on the default pool -------------------------------------------------

/// The default pool, or NULL (which the `msg_pool_*` calls refuse with NULL).
fn default_ptr() -> *const msg_pool {
    crate::registry::default_def()
}

/// `msg_pool_try_alloc` on the default pool.
#[no_mangle]
pub extern "C" fn pool_try_alloc() -> *mut pool_msg_t {
    // SAFETY: the default pool satisfies the `msg_pool` contract (`msg_pool_set_default`).
    unsafe { msg_pool_try_alloc(default_ptr()) }
}

/// `msg_pool_try_alloc_or` on the default pool (`POOL_FALLBACK_DROP` or `POOL_FALLBACK_HEAP`).
#[no_mangle]
pub extern "C" fn pool_try_alloc_or(fallback: u8) -> *mut pool_msg_t {
    // SAFETY: as for `pool_try_alloc`.
    unsafe { msg_pool_try_alloc_or(default_ptr(), fallback) }
}

/// `msg_pool_alloc_blocking` on the default pool.
#[no_mangle]
pub extern "C" fn pool_alloc_blocking(timeout_ms: i32) -> *mut pool_msg_t {
    // SAFETY: as for `pool_try_alloc`.
    unsafe { msg_pool_alloc_blocking(default_ptr(), timeout_ms) }
}

/// `msg_pool_alloc` on the default pool (-ENODEV before `pool_init`).
///
/// # Safety
/// `out` is NULL or points to a writable `pool_msg_t *`.
#[no_mangle]
pub unsafe extern "C" fn pool_alloc(timeout_ms: i32, out: *mut *mut pool_msg_t) -> c_int {
    // SAFETY: `out` is NULL or writable (caller contract).
    unsafe { write_out(out, core::ptr::null_mut()) };
    // SAFETY: as for `pool_try_alloc`; `out` is the caller's.
    on_default(|p| unsafe { msg_pool_alloc(p, timeout_ms, out) })
}
