//! Targets: init, broadcast, receive, purge and their counters. A target is not tied to a
//! pool: it carries entries of any pool, and each entry's pool is found by its address.

use crate::convert::{code, count, target, target_list, to_c, write_out};
use crate::extern_port::ExternQueue;
use crate::registry::entry_of;
use crate::types::{dispatcher_msg_t, k_msgq, msg_target_t, pool_msg_t};
use core::ffi::c_int;
use core::mem::size_of;
use pool_core::metrics::TargetStats;
use pool_core::{Descriptor, Mode, PoolError, Queue, Target, Timeout};

/// Initialises a target over queue `q` in `mode` (`DISPATCH_MODE_POINTER` or
/// `DISPATCH_MODE_VALUE`) with id `id` (the holder shown in leak reports). The queue's item
/// size must be `sizeof(void *)` in pointer mode and at least `dispatcher_msg_header_size()`
/// and at most `sizeof(dispatcher_msg_t)` in value mode (`sizeof(dispatcher_msg_t)` for the
/// old path: then messages of any pool fit).
/// Resets the target's counters.
///
/// Returns 0 or -EINVAL (NULL `t` or `q`, an unknown `mode`, item size unfit). Thread
/// context; not while the target is in use (broadcast, receive, purge).
///
/// # Safety
/// `t` is NULL or points to writable `msg_target_t` storage; `q` is NULL or an
/// initialised `k_msgq` that outlives the target's use.
#[no_mangle]
pub unsafe extern "C" fn msg_target_init(
    t: *mut msg_target_t,
    q: *mut k_msgq,
    mode: u8,
    id: u16,
) -> c_int {
    let t = t.cast::<Target<ExternQueue>>();
    if t.is_null() || !t.is_aligned() || q.is_null() {
        return code(Err(PoolError::Null));
    }
    let Some(mode) = Mode::from_c(mode) else {
        return code(Err(PoolError::BadTargetQueue));
    };
    // SAFETY: `q` is an initialised queue that outlives the target (caller contract).
    let queue = unsafe { ExternQueue::new(q) };
    // `msg_receive` copies value items into a `dispatcher_msg_t`.
    if mode == Mode::Value && queue.item_size() > size_of::<dispatcher_msg_t>() {
        return code(Err(PoolError::BadTargetQueue));
    }
    match Target::new(queue, mode, id) {
        Ok(target) => {
            // SAFETY: non-null, aligned, writable storage of the right size (const-asserted);
            // nobody else uses it during init (caller contract). The old contents have no drop glue.
            unsafe { t.write(target) };
            0
        }
        Err(e) => code(Err(e)),
    }
}

/// Broadcasts entry `p` (of any pool) to `n_targets` targets: pointer-mode targets get the
/// pointer (one reference each), value-mode targets a copy of the header and `message_len`
/// payload bytes (the rest of their item zero-filled). Never blocks; ISR-safe. Returns how
/// many targets received it (0 is a counted drop) or a negative errno.
///
/// The caller's (producer's) reference is always consumed when `p` is a held entry, also when
/// the call is refused with -EINVAL (`n_targets` == 0, NULL `targets` or a NULL entry, an
/// uninitialised target) or -EMSGSIZE (`message_len` > the pool's payload size): the entry is
/// then released and the drop counted; do not touch `p` afterwards. A NULL (-EINVAL), foreign
/// or misaligned (-EFAULT) or free (-EINVAL) `p` changes nothing (`p` is checked before the
/// target list); -ENODEV before any pool exists.
///
/// A value-mode target whose item is too small for the message is skipped and counted as an
/// enqueue failure.
///
/// # Safety
/// `targets` is NULL or points to `n_targets` readable pointers, each NULL or to a live
/// `msg_target_t` not being re-initialised.
#[no_mangle]
pub unsafe extern "C" fn msg_broadcast(
    p: *mut pool_msg_t,
    targets: *const *mut msg_target_t,
    n_targets: usize,
) -> c_int {
    let (pool, e) = match entry_of(p.cast::<Descriptor>()) {
        Ok((pool, e)) => (pool, e),
        Err(r) => return code(Err(r.err)),
    };
    // SAFETY: forwarded caller contract on `targets`.
    match unsafe { target_list(targets, n_targets) } {
        // SAFETY: the C contract: the caller gives up the producer's reference it holds; `e`
        // came from `pool`.
        Ok(list) => count(unsafe { pool.broadcast_entry(e, list) }),
        Err(err) => {
            // Consume the producer's reference and count the drop, as for any refused broadcast.
            // SAFETY: as above.
            let _ = unsafe { pool.broadcast_entry::<ExternQueue>(e, &[]) };
            code(Err(err))
        }
    }
}

/// Receives one item from target `t`, waiting up to `timeout_ms` (0 = no wait, < 0 =
/// forever; only 0 in an ISR).
///
/// Pointer mode: stores the entry in `*out_ptr`; the caller owns one reference and must
/// `msg_unref` it when done. Value mode: copies the item into `*out_value` (which must be a
/// whole `dispatcher_msg_t`) and stores NULL in `*out_ptr` if `out_ptr` is not NULL.
/// On any error `*out_ptr` (when not NULL) is set to NULL and `*out_value` may have been
/// partly written only for value mode.
///
/// Returns 0, -EAGAIN (nothing arrived in time), -EPERM (a non-zero timeout in an ISR),
/// -EINVAL (NULL or uninitialised `t`, NULL `out_ptr` in pointer mode, NULL `out_value` in
/// value mode), -ENOSPC (the queue's item is larger than `dispatcher_msg_t`), -EFAULT (the
/// queue held a pointer that is no pool's entry; it is dropped).
///
/// # Safety
/// `t` as for `msg_target_stats`; `out_ptr` is NULL or writable; `out_value` is NULL or
/// points to a writable `dispatcher_msg_t`.
#[no_mangle]
pub unsafe extern "C" fn msg_receive(
    t: *mut msg_target_t,
    timeout_ms: i32,
    out_ptr: *mut *mut pool_msg_t,
    out_value: *mut dispatcher_msg_t,
) -> c_int {
    // SAFETY: forwarded caller contract on `t`.
    let r = unsafe { target(t) }.and_then(|t| {
        let mode = t.mode()?;
        if timeout_ms != 0 && crate::extern_port::in_isr() {
            return Err(PoolError::BlockingInIsr);
        }
        match mode {
            // SAFETY: forwarded caller contract on `out_ptr`.
            Mode::Pointer => unsafe { receive_pointer(t, timeout_ms, out_ptr) },
            // SAFETY: forwarded caller contract on `out_ptr` and `out_value`.
            Mode::Value => unsafe { receive_value(t, timeout_ms, out_ptr, out_value) },
        }
    });
    match r {
        Ok(()) => 0,
        Err(e) => {
            // SAFETY: `out_ptr` is NULL or writable (caller contract).
            unsafe { write_out(out_ptr, core::ptr::null_mut()) };
            code(Err(e))
        }
    }
}

/// `msg_receive` of a pointer-mode target: the queue's item, located once, adopted.
///
/// # Safety
/// `out_ptr` is NULL or writable.
#[inline(always)]
unsafe fn receive_pointer(
    t: &Target<ExternQueue>,
    timeout_ms: i32,
    out_ptr: *mut *mut pool_msg_t,
) -> Result<(), PoolError> {
    if out_ptr.is_null() || !out_ptr.is_aligned() {
        return Err(PoolError::Null);
    }
    let p = t.receive_ptr(Timeout::from_c_ms(timeout_ms))?;
    let (pool, e) = entry_of(p).map_err(|r| {
        // The reference the item claimed to carry is lost: counted as a refused unref.
        crate::refs::refused_unref(r);
        r.err
    })?;
    // SAFETY: `p` came out of `t`'s queue, so it carries one reference; `e` came from `pool`.
    let m = unsafe { pool.accept_entry(e, t) }?;
    // SAFETY: non-null, aligned (checked) and writable (caller contract).
    unsafe { out_ptr.write(to_c(m.into_raw().as_ref())) };
    Ok(())
}

/// `msg_receive` of a value-mode target: a copy into `*out_value`.
///
/// # Safety
/// `out_ptr` is NULL or writable; `out_value` is NULL or points to a writable
/// `dispatcher_msg_t`.
#[inline(never)]
unsafe fn receive_value(
    t: &Target<ExternQueue>,
    timeout_ms: i32,
    out_ptr: *mut *mut pool_msg_t,
    out_value: *mut dispatcher_msg_t,
) -> Result<(), PoolError> {
    // SAFETY: `out_ptr` is NULL or writable (caller contract).
    unsafe { write_out(out_ptr, core::ptr::null_mut()) };
    if out_value.is_null() || !out_value.is_aligned() {
        return Err(PoolError::Null);
    }
    // SAFETY: `out_value` points to a writable `dispatcher_msg_t` (caller contract), viewed as
    // bytes; nothing else accesses it during the call.
    let buf = unsafe {
        core::slice::from_raw_parts_mut(out_value.cast::<u8>(), size_of::<dispatcher_msg_t>())
    };
    t.receive_value(buf, Timeout::from_c_ms(timeout_ms))
        .map(|_| ())
}

/// Drains target `t`'s queue (a crashed or stopped module) and releases every message in it,
/// to whichever pool each belongs. Returns how many were released, or -EINVAL (NULL or
/// uninitialised `t`). Thread context; the module must not be receiving meanwhile.
///
/// # Safety
/// As for `msg_target_stats`.
#[no_mangle]
pub unsafe extern "C" fn msg_target_purge(t: *mut msg_target_t) -> c_int {
    // SAFETY: forwarded caller contract on `t`.
    let r = unsafe { target(t) }.and_then(|t| {
        t.drain_ptrs(|p| match entry_of(p) {
            // SAFETY: a queue item carries one reference, which the purge gives up; `e` came
            // from `pool`.
            Ok((pool, e)) => unsafe { pool.release_purged_entry(e) }.is_ok(),
            Err(r) => {
                crate::refs::refused_unref(r);
                false
            }
        })
    });
    count(r)
}

/// Copies target `t`'s counters into `*out`. Returns 0 or -EINVAL (NULL or uninitialised `t`,
/// NULL `out`). ISR-safe.
///
/// # Safety
/// `t` is NULL or points to a live `msg_target_t` (zeroed or initialised) that is not
/// being re-initialised; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn msg_target_stats(t: *const msg_target_t, out: *mut TargetStats) -> c_int {
    if out.is_null() || !out.is_aligned() {
        return code(Err(PoolError::Null));
    }
    // SAFETY: forwarded caller contract on `t`.
    let r = unsafe { target(t) }.and_then(|t| {
        t.mode()?;
        // SAFETY: non-null, aligned, writable (checked, caller contract).
        unsafe { write_out(out, t.stats()) };
        Ok(())
    });
    code(r)
}
