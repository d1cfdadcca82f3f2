//! References: `msg_ref`, `msg_unref` and finding an entry's pool. An entry knows its pool by
//! address (see `registry`), so none of these takes a pool.

use crate::convert::{code, to_c};
use crate::registry::{entry_of, pool_of, pools, Refused};
use crate::types::{dispatcher_msg_t, msg_pool, pool_msg_t};
use core::ffi::c_int;
use pool_core::{Descriptor, MsgHeader};

/// Adds a reference to a held entry of any pool, e.g. to keep a received message after
/// `process_msg` returns. Returns 0, -EINVAL (NULL, or a free entry), -EFAULT (not a
/// descriptor of any pool, or a pointer into the middle of one), -EOVERFLOW (refcount at its
/// maximum, 65535), -ENODEV (no pool created yet). Refusals change nothing and are counted in
/// `invalid_refs` of the entry's pool (NULL and foreign pointers: of the default pool). ISR-safe.
///
/// `p` is only compared against the pools' descriptor arrays, never dereferenced unless it is
/// one of their descriptors, so any pointer value is safe to pass. The caller must hold a
/// reference (else a racing last `msg_unref` may recycle the entry in between).
#[no_mangle]
pub extern "C" fn msg_ref(p: *mut pool_msg_t) -> c_int {
    match entry_of(p.cast::<Descriptor>()) {
        // SAFETY: the C contract above: the caller holds a reference; anything else was
        // refused by address checks before any access.
        Ok((pool, e)) => code(unsafe { pool.ref_entry(e) }.map(|_| ())),
        Err(r) => {
            if let Some(pool) = r.counter {
                pool.refused_ref(r.err);
            }
            code(Err(r.err))
        }
    }
}

/// Drops a reference; the last one returns the entry to its pool (or a heap fallback message
/// to the heap) and wakes a thread blocked allocating from that pool. Returns 0, -EINVAL
/// (NULL), -EFAULT (not a descriptor of any pool, or misaligned), -EALREADY (the entry is
/// already free: double unref), -ENODEV (no pool created yet). Refusals change nothing and
/// are counted in `invalid_unrefs` of the entry's pool (NULL and foreign pointers: of the
/// default pool).
/// ISR-safe.
///
/// After it returns, the caller must not touch `p->msg` any more.
#[no_mangle]
pub extern "C" fn msg_unref(p: *mut pool_msg_t) -> c_int {
    match entry_of(p.cast::<Descriptor>()) {
        // SAFETY: the C contract: the caller gives up a reference it holds; free entries are
        // refused without a change.
        Ok((pool, e)) => code(unsafe { pool.unref_entry(e) }),
        Err(r) => {
            refused_unref(r);
            code(Err(r.err))
        }
    }
}

/// Counts a refused unref in the pool the refusal belongs to.
pub(crate) fn refused_unref(r: Refused) {
    if let Some(pool) = r.counter {
        pool.refused_unref(r.err);
    }
}

/// The pool whose descriptor array `p` points into (a misaligned pointer or a free entry
/// included), or NULL when it is no pool's (never dereferences `p`).
#[no_mangle]
pub extern "C" fn msg_pool_of(p: *const pool_msg_t) -> *mut msg_pool {
    pool_of(p.cast()).unwrap_or(core::ptr::null_mut())
}

/// The message of a held entry of any pool, or NULL when `p` is NULL, no pool's descriptor,
/// a pointer into the middle of one, or a free entry (never dereferenced before those checks).
/// What the firmware layer reads a received entry through (`dispatcher_pool_get_msg`,
/// `dispatcher_module_process_ptr_compat`). ISR-safe.
///
/// The caller must hold a reference for the message to stay valid after the call.
#[no_mangle]
pub extern "C" fn msg_message(p: *const pool_msg_t) -> *mut dispatcher_msg_t {
    entry_of(p.cast::<Descriptor>())
        .ok()
        .and_then(|(_, e)| e.held().ok())
        .map_or(core::ptr::null_mut(), |d| d.msg_ptr().cast())
}

/// The held entry whose message is `msg`, in any pool, or NULL when `msg` is not the message
/// of a held entry (for example a value-mode copy, which the caller owns and must copy to keep).
/// Lets a `process_msg(const dispatcher_msg_t *)` callback take a reference with `msg_ref`.
/// Never dereferences `msg`. ISR-safe.
#[no_mangle]
pub extern "C" fn pool_msg_from_msg(msg: *const dispatcher_msg_t) -> *mut pool_msg_t {
    let msg = msg.cast::<MsgHeader>();
    pools()
        .find_map(|(_, pool)| pool.entry_of_message(msg))
        .map_or(core::ptr::null_mut(), to_c)
}
