//! Metrics, JSON, the self-check and the leak report, per pool (`msg_pool_*`) and for the
//! default pool (the seed's `pool_*`); sizes of the C types as compiled.

use crate::convert::{code, count, target_list, write_out};
use crate::init::on_default;
use crate::registry::{pool, pools};
use crate::types::{dispatcher_msg_t, msg_pool, msg_target_t};
use core::ffi::{c_char, c_int, CStr};
use core::mem::size_of;
use pool_core::metrics::{write_targets, JsonWriter, Snapshot, TargetStats};
use pool_core::pool::{CheckReport, Leak};
use pool_core::{MsgHeader, PoolError};

/// Most targets the JSON writers report in one call.
pub const DISPATCHER_JSON_TARGETS_MAX: usize = 32;
/// Most entries `msg_pool_leaks` fills in one call.
pub const DISPATCHER_LEAKS_MAX: usize = 32;
/// Most pools `msg_pool_stats_json_all` lists.
pub const DISPATCHER_JSON_POOLS_MAX: usize = 16;
/// `pool_leak.held_by` of an entry never received: its producer holds it.
pub const POOL_HOLDER_PRODUCER: u16 = 0xFFFF;
/// `pool_leak.queued_at` / `held_by`: nobody (no queue holds it / every reference is queued).
pub const POOL_HOLDER_NONE: u16 = 0xFFFE;
/// `pool_leak.age_ms` when the library was built without leak ages
/// (`CONFIG_DISPATCHER_POOL_LEAK_AGE=n`): not recorded, and `min_age_ms` selects every held entry.
pub const POOL_AGE_UNKNOWN: u32 = 0xFFFF_FFFF;
/// Length of the C port's `dispatcher_port_errno` table (one per `enum dispatcher_errno`).
pub const DISPATCHER_ERRNO_COUNT: usize = 12;

/// Fewest entries the sizing heuristic proposes (`pool_entries_for`, `DISPATCHER_POOL_ENTRIES_FOR`).
pub const DISPATCHER_POOL_MIN_ENTRIES: u32 = 8;
/// Most entries the sizing heuristic proposes, and the most a pool accepts by default.
pub const DISPATCHER_POOL_MAX_ENTRIES: u32 = 1024;

// The C names of the core's constants (cbindgen does not export a dependency's constants).
const _: () = {
    assert!(DISPATCHER_POOL_MIN_ENTRIES == pool_core::sizing::DISPATCHER_POOL_MIN_ENTRIES);
    assert!(DISPATCHER_POOL_MAX_ENTRIES == pool_core::sizing::DISPATCHER_POOL_MAX_ENTRIES);
    assert!(POOL_HOLDER_PRODUCER == pool_core::descriptor::HOLDER_PRODUCER);
    assert!(POOL_HOLDER_NONE == pool_core::pool::HOLDER_NONE);
    assert!(POOL_AGE_UNKNOWN == pool_core::pool::AGE_UNKNOWN);
    assert!(DISPATCHER_ERRNO_COUNT == pool_core::error::DISPATCHER_ERRNO_COUNT);
};

/// The pool's name as a `&str` (empty when NULL or not UTF-8).
///
/// # Safety
/// `p` satisfies the `msg_pool` contract; its `name` is NULL or a NUL-terminated static string.
unsafe fn name_of<'n>(p: *const msg_pool) -> &'n str {
    // SAFETY: plain data of a valid `msg_pool` (caller contract).
    let name = unsafe { (*p).name };
    if name.is_null() {
        return "";
    }
    // SAFETY: NUL-terminated static string (the `msg_pool` contract).
    unsafe { CStr::from_ptr(name) }.to_str().unwrap_or("")
}

/// The counters of `n` C targets.
///
/// # Safety
/// As for `target_list`.
unsafe fn target_stats(
    targets: *const *mut msg_target_t,
    n: usize,
    out: &mut [TargetStats; DISPATCHER_JSON_TARGETS_MAX],
) -> Result<&[TargetStats], PoolError> {
    if n > DISPATCHER_JSON_TARGETS_MAX {
        return Err(PoolError::NoTargets);
    }
    // SAFETY: forwarded caller contract.
    let list = unsafe { target_list(targets, n) }?;
    for (s, t) in out.iter_mut().zip(list) {
        t.mode()?;
        *s = t.stats();
    }
    Ok(&out[..n])
}

/// The caller's JSON buffer.
///
/// # Safety
/// `buf` is NULL or has `len` writable bytes.
unsafe fn json_buf<'b>(buf: *mut c_char, len: usize) -> Result<&'b mut [u8], PoolError> {
    if len == 0 {
        return Err(PoolError::BufferTooSmall);
    }
    if buf.is_null() {
        return Err(PoolError::Null);
    }
    // SAFETY: `buf` has `len` writable bytes (caller contract), non-null, len > 0.
    Ok(unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) })
}

/// Copies every counter of pool `p` into `*out` in one call. Returns 0, -EINVAL (NULL `p` or
/// `out`) or -ENODEV (not created). ISR-safe.
///
/// # Safety
/// `p` as for `msg_pool_try_alloc`; `out` is NULL or points to a writable `struct pool_stats`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_stats(p: *const msg_pool, out: *mut Snapshot) -> c_int {
    if out.is_null() || !out.is_aligned() {
        return code(Err(PoolError::Null));
    }
    // SAFETY: forwarded caller contract on `p`.
    let r = unsafe { pool(p) }.map(|pool| {
        // SAFETY: `out` is non-null, aligned (checked) and writable (caller contract).
        unsafe { write_out(out, pool.snapshot()) };
    });
    code(r)
}

/// Writes pool `p`'s name and counters and the counters of `n_targets` targets (at most
/// `DISPATCHER_JSON_TARGETS_MAX`, 32) as one JSON object into `buf`, NUL-terminated:
/// `{"name":"streaming","pool_total":32,...,"targets":[{"id":1,...}]}`. Returns the bytes
/// written excluding the NUL, -ENOSPC (`len` too small; the contents are then unusable),
/// -EINVAL (NULL `p`, NULL `buf` with `len` > 0, NULL `targets` with `n_targets` > 0, a NULL
/// or uninitialised target, more than 32 targets) or -ENODEV. Thread context.
///
/// # Safety
/// `p` as for `msg_pool_try_alloc`; `buf` is NULL or has `len` writable bytes; `targets` as
/// for `msg_broadcast`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_stats_json(
    p: *const msg_pool,
    buf: *mut c_char,
    len: usize,
    targets: *const *mut msg_target_t,
    n_targets: usize,
) -> c_int {
    let mut stats = [TargetStats::default(); DISPATCHER_JSON_TARGETS_MAX];
    // SAFETY: forwarded caller contract on `p`.
    let r = unsafe { pool(p) }.and_then(|pool| {
        // SAFETY: forwarded caller contract on `targets`.
        let list = unsafe { target_stats(targets, n_targets, &mut stats) }?;
        // SAFETY: forwarded caller contract on `buf`.
        let out = unsafe { json_buf(buf, len) }?;
        // SAFETY: `p` is a created pool (checked by `pool`), so a valid `msg_pool`.
        pool.snapshot().write_json(unsafe { name_of(p) }, list, out)
    });
    count(r)
}

/// Every created pool (oldest first, at most `DISPATCHER_JSON_POOLS_MAX`) and `n_targets`
/// targets as one JSON object: `{"pools":[{"name":...,...},...],"targets":[...]}`.
/// Returns what `msg_pool_stats_json` returns (no pool is an empty array, not an error).
///
/// # Safety
/// `buf` is NULL or has `len` writable bytes; `targets` as for `msg_broadcast`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_stats_json_all(
    buf: *mut c_char,
    len: usize,
    targets: *const *mut msg_target_t,
    n_targets: usize,
) -> c_int {
    let mut stats = [TargetStats::default(); DISPATCHER_JSON_TARGETS_MAX];
    let r = (|| {
        // SAFETY: forwarded caller contract on `targets`.
        let list = unsafe { target_stats(targets, n_targets, &mut stats) }?;
        // SAFETY: forwarded caller contract on `buf`.
        let out = unsafe { json_buf(buf, len) }?;
        let mut all = [core::ptr::null::<msg_pool>(); DISPATCHER_JSON_POOLS_MAX];
        let mut n = 0;
        for (c, _) in pools().take(DISPATCHER_JSON_POOLS_MAX) {
            all[n] = c;
            n += 1;
        }
        let mut w = JsonWriter::new(out);
        w.raw(b"{\"pools\":[");
        for (i, &c) in all[..n].iter().rev().enumerate() {
            if i > 0 {
                w.raw(b",");
            }
            // SAFETY: `c` is a created pool (from the registry).
            let pool = unsafe { pool(c) }?;
            // SAFETY: as above.
            let name = unsafe { name_of(c) };
            pool.snapshot().write_json_to(name, None, &mut w);
        }
        w.raw(b"],");
        write_targets(list, &mut w);
        w.raw(b"}");
        w.finish()
    })();
    count(r)
}

/// Proves free list + held entries = all entries of pool `p` and that its counters agree;
/// fills `*out` (if not NULL). Returns 0, -EIO (inconsistent), -EINVAL (NULL `p`) or -ENODEV.
/// Exact only while no other thread uses the pool (tests, an idle shell). Thread context.
///
/// # Safety
/// `p` as for `msg_pool_try_alloc`; `out` is NULL or points to a writable `struct pool_check_report`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_check(p: *const msg_pool, out: *mut CheckReport) -> c_int {
    // SAFETY: forwarded caller contract on `p`.
    code(unsafe { pool(p) }.and_then(|p| p.check()).map(|c| {
        // SAFETY: `out` is NULL or writable (caller contract); `write_out` checks it.
        unsafe { write_out(out, c) };
    }))
}

/// Lists entries of pool `p` held for at least `min_age_ms` into `out` (at most `max`, and at
/// most `DISPATCHER_LEAKS_MAX` = 32 per call), in index order, each with where it is now:
/// `queued_at` (the first of `targets` whose queue holds it) and `queued` (how many of their
/// queue items point at it), and `held_by` for the references not in a queue (the last target
/// that received it, `POOL_HOLDER_PRODUCER` if never received, `POOL_HOLDER_NONE` if all are
/// queued). Returns how many such entries exist (may exceed what was written), -EINVAL (NULL
/// `p`, NULL `out` with `max` > 0, bad `targets`) or -ENODEV. Thread context; exact while idle.
///
/// # Safety
/// `p` as for `msg_pool_try_alloc`; `out` is NULL or has room for `max` `struct pool_leak`;
/// `targets` as for `msg_broadcast`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_leaks(
    p: *const msg_pool,
    min_age_ms: u32,
    targets: *const *mut msg_target_t,
    n_targets: usize,
    out: *mut Leak,
    max: usize,
) -> c_int {
    // SAFETY: forwarded caller contracts.
    let r = unsafe { pool(p) }.and_then(|pool| {
        if max > 0 && (out.is_null() || !out.is_aligned()) {
            return Err(PoolError::Null);
        }
        // SAFETY: forwarded caller contract on `targets`.
        let list = unsafe { target_list(targets, n_targets) }?;
        let mut buf = [Leak::default(); DISPATCHER_LEAKS_MAX];
        let cap = max.min(DISPATCHER_LEAKS_MAX);
        let n = pool.leaks(min_age_ms, list, &mut buf[..cap]);
        for (i, l) in buf[..n.min(cap)].iter().enumerate() {
            // SAFETY: i < cap <= max, and `out` has room for `max` entries (caller contract).
            unsafe { out.add(i).write(*l) };
        }
        Ok(n)
    });
    count(r)
}

// ----- the seed's calls, on the default pool -------------------------------------------------

/// `msg_pool_stats` on the default pool (-ENODEV before `pool_init`).
///
/// # Safety
/// `out` is NULL or points to a writable `struct pool_stats`.
#[no_mangle]
pub unsafe extern "C" fn pool_stats(out: *mut Snapshot) -> c_int {
    // SAFETY: the default pool satisfies the `msg_pool` contract; `out` is the caller's.
    on_default(|p| unsafe { msg_pool_stats(p, out) })
}

/// `msg_pool_stats_json` on the default pool.
///
/// # Safety
/// As for `msg_pool_stats_json`.
#[no_mangle]
pub unsafe extern "C" fn pool_stats_json(
    buf: *mut c_char,
    len: usize,
    targets: *const *mut msg_target_t,
    n_targets: usize,
) -> c_int {
    // SAFETY: as for `pool_stats`.
    on_default(|p| unsafe { msg_pool_stats_json(p, buf, len, targets, n_targets) })
}

/// `msg_pool_check` on the default pool.
///
/// # Safety
/// `out` is NULL or points to a writable `struct pool_check_report`.
#[no_mangle]
pub unsafe extern "C" fn pool_check(out: *mut CheckReport) -> c_int {
    // SAFETY: as for `pool_stats`.
    on_default(|p| unsafe { msg_pool_check(p, out) })
}

/// `msg_pool_leaks` on the default pool with no targets (so `queued` is 0 and `held_by` names
/// the last receiver or the producer; pass targets to `msg_pool_leaks` to see queued entries).
///
/// # Safety
/// `out` is NULL or has room for `max` writable `struct pool_leak`.
#[no_mangle]
pub unsafe extern "C" fn pool_leaks(min_age_ms: u32, out: *mut Leak, max: usize) -> c_int {
    // SAFETY: as for `pool_stats`.
    on_default(|p| unsafe { msg_pool_leaks(p, min_age_ms, core::ptr::null(), 0, out, max) })
}

// ----- sizing and ABI -------------------------------------------------------------------------

/// The boot-time sizing heuristic: `clamp(ceil(targets * fanout_permille / 1000 *
/// concurrency), 8, 1024)` (defaults in the design: fan-out 250 permille, concurrency 2).
#[no_mangle]
pub extern "C" fn pool_entries_for(targets: u32, fanout_permille: u32, concurrency: u32) -> usize {
    pool_core::sizing::pool_entries(targets, fanout_permille, concurrency) as usize
}

/// `sizeof(dispatcher_msg_t)` as the library was compiled (with its `DISPATCHER_TARGETS_MAX`
/// and `DISPATCHER_PAYLOAD_MAX`); compare with the C `sizeof` (see `DISPATCHER_POOL_ABI_OK`).
#[no_mangle]
pub extern "C" fn dispatcher_msg_size() -> usize {
    size_of::<dispatcher_msg_t>()
}

/// Bytes of the `dispatcher_msg_t` header as compiled: `offsetof(dispatcher_msg_t, data)`.
#[no_mangle]
pub extern "C" fn dispatcher_msg_header_size() -> usize {
    MsgHeader::SIZE
}
