//! The exported `extern "C"` functions and the default pool they share with Rust code.
//!
//! Every function returns 0 (or a count) on success and a negative errno on failure; the
//! numbers come from the C port's `dispatcher_port_errno` table (see [`crate::ExternPort`]).

use crate::config::{DISPATCHER_PAYLOAD_MAX, DISPATCHER_POOL_HEAP_SLOTS};
use crate::extern_port::{
    dispatcher_port_descriptors_alloc, dispatcher_port_region_alloc, neg_errno, ExternPort,
    ExternQueue,
};
use crate::types::{
    dispatch_mode, dispatch_target_stats, dispatch_target_t, dispatcher_msg_t, k_msgq,
    pool_check_report, pool_config, pool_fallback, pool_leak, pool_msg_t, pool_stats,
};
use core::ffi::{c_char, c_int};
use core::mem::{align_of, size_of};
use core::sync::atomic::{AtomicBool, Ordering};
use pool_core::global::GlobalPool;
use pool_core::metrics::TargetStats;
use pool_core::pool::{Leak, DEFAULT_MAX_ENTRIES};
use pool_core::target::Received;
use pool_core::{
    Descriptor, Fallback, Mode, MsgHeader, Pool, PoolConfig, PoolError, Queue, Target, Timeout,
};

/// The one pool of the image, shared by C (`pool_*`) and Rust ([`default_pool`]).
static POOL: GlobalPool<ExternPort> = GlobalPool::new();
/// What `dispatcher_port_region_alloc` said about the message region.
static REGION_EXTERNAL: AtomicBool = AtomicBool::new(false);

/// Most targets `pool_stats_json` reports in one call.
pub const DISPATCHER_JSON_TARGETS_MAX: usize = 32;
/// Most entries `pool_leaks` fills in one call.
pub const DISPATCHER_LEAKS_MAX: usize = 32;

/// The default pool (the one C's `pool_init` set up), for Rust code in the same image.
///
/// [`PoolError::NotInitialized`] until `pool_init` (or [`init_default_pool`]) succeeded.
pub fn default_pool() -> Result<&'static Pool<'static, ExternPort>, PoolError> {
    POOL.get()
}

/// Sets up the default pool from Rust (what `pool_init_ex` does): checks `cfg`, then takes the
/// descriptors and the message region from the C port. `cfg.max_payload` is lowered to
/// `DISPATCHER_PAYLOAD_MAX` and `cfg.max_entries` to 1024.
///
/// Memory is never returned: if the region allocation fails after the descriptors were
/// allocated, the descriptors stay allocated (a later retry allocates again).
pub fn init_default_pool(
    mut cfg: PoolConfig,
) -> Result<&'static Pool<'static, ExternPort>, PoolError> {
    cfg.max_payload = cfg.max_payload.min(DISPATCHER_PAYLOAD_MAX);
    cfg.max_entries = cfg.max_entries.min(DEFAULT_MAX_ENTRIES);
    // Whole `dispatcher_msg_t` values can be copied to value-mode queues whatever the payload.
    cfg.min_stride = cfg
        .min_stride
        .max(core::mem::size_of::<crate::types::dispatcher_msg_t>());
    POOL.init(|| {
        let layout = cfg.layout()?;
        let n = layout.descriptors();
        // SAFETY: C port function; it returns NULL or `descriptor_bytes` bytes aligned as asked.
        let descs = unsafe {
            dispatcher_port_descriptors_alloc(layout.descriptor_bytes(), align_of::<Descriptor>())
        }
        .cast::<Descriptor>();
        if descs.is_null() {
            return Err(PoolError::RegionTooSmall);
        }
        if !descs.is_aligned() {
            return Err(PoolError::RegionMisaligned);
        }
        for i in 0..n {
            // SAFETY: `descs` has room for `n` aligned descriptors (allocated just above, unshared).
            unsafe { descs.add(i).write(Descriptor::new()) };
        }
        let mut external = false;
        // SAFETY: C port function; `external` is a valid bool to write; it returns NULL or
        // `region_bytes` bytes aligned as asked.
        let region = unsafe {
            dispatcher_port_region_alloc(
                layout.region_bytes(),
                layout.region_align(),
                &mut external,
            )
        }
        .cast::<u8>();
        if region.is_null() {
            return Err(PoolError::RegionTooSmall);
        }
        // SAFETY: `region` has `region_bytes` writable bytes, allocated just above, unshared.
        unsafe { region.write_bytes(0, layout.region_bytes()) };
        // SAFETY: both blocks are fresh, initialised above, never freed and owned by the pool
        // from here on, so `'static` exclusive slices over them are sound.
        let (descs, region) = unsafe {
            (
                core::slice::from_raw_parts_mut(descs, n),
                core::slice::from_raw_parts_mut(region, layout.region_bytes()),
            )
        };
        REGION_EXTERNAL.store(external, Ordering::Relaxed);
        Pool::new(ExternPort, cfg, descs, region)
    })
}

fn code(r: Result<(), PoolError>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => neg_errno(e),
    }
}

fn count(r: Result<usize, PoolError>) -> c_int {
    match r {
        Ok(n) => n.min(c_int::MAX as usize) as c_int,
        Err(e) => neg_errno(e),
    }
}

fn to_c(d: &Descriptor) -> *mut pool_msg_t {
    (d as *const Descriptor).cast_mut().cast()
}

/// The target behind a C pointer.
///
/// # Safety
/// `t` is NULL or points to a `dispatch_target_t` (initialised or zeroed) that lives for `'t`
/// and is not re-initialised meanwhile.
unsafe fn target<'t>(t: *const dispatch_target_t) -> Result<&'t Target<ExternQueue>, PoolError> {
    let t = t.cast::<Target<ExternQueue>>();
    if t.is_null() || !t.is_aligned() {
        return Err(PoolError::Null);
    }
    // SAFETY: non-null and aligned; `dispatch_target_t` has the size and alignment of
    // `Target<ExternQueue>` (const-asserted in `types`), and every bit pattern a C caller can
    // hold there (zeroed, or written by `dispatch_target_init`) is a valid `Target`: its
    // fields are integers, atomics and a raw pointer.
    Ok(unsafe { &*t })
}

/// The targets behind a C array, all checked to be non-NULL and aligned.
///
/// # Safety
/// `targets` points to `n` readable pointers, each valid for [`target`].
unsafe fn target_list<'t>(
    targets: *const *mut dispatch_target_t,
    n: usize,
) -> Result<&'t [&'t Target<ExternQueue>], PoolError> {
    if n == 0 {
        return Ok(&[]);
    }
    if targets.is_null() || !targets.is_aligned() {
        return Err(PoolError::Null);
    }
    for i in 0..n {
        // SAFETY: `targets` has `n` readable pointers (caller contract).
        let t = unsafe { *targets.add(i) }.cast::<Target<ExternQueue>>();
        if t.is_null() || !t.is_aligned() {
            return Err(PoolError::Null);
        }
    }
    // SAFETY: all `n` pointers are non-null and aligned (checked above) and point to live
    // targets (caller contract), so they are valid `&Target`, which has the layout of a pointer.
    Ok(unsafe { core::slice::from_raw_parts(targets.cast::<&Target<ExternQueue>>(), n) })
}

// ----- init ---------------------------------------------------------------------------------

/// Sets up the default pool: `entries` messages of `payload_size` payload bytes, with
/// `DISPATCHER_POOL_HEAP_SLOTS` (build time, default 0) heap fallback slots.
///
/// Descriptors come from `dispatcher_port_descriptors_alloc` (internal RAM) and the message
/// region from `dispatcher_port_region_alloc` (PSRAM on target); neither is ever freed.
///
/// Returns 0, -EINVAL (`entries` not in 1..=1024, `payload_size` not in
/// 1..=`DISPATCHER_PAYLOAD_MAX`), -EALREADY (already initialised, or being initialised by
/// another thread), -ENOMEM (the port could not allocate), -EFAULT (the port returned
/// misaligned memory). Thread context only; call once at boot.
///
/// Every message occupies at least `sizeof(dispatcher_msg_t)` bytes of the region, so
/// value-mode targets (item `sizeof(dispatcher_msg_t)`) work whatever `payload_size` is;
/// `payload_size` bounds `message_len`.
#[no_mangle]
pub extern "C" fn pool_init(entries: usize, payload_size: usize) -> c_int {
    code(
        init_default_pool(
            PoolConfig::new(entries, payload_size).with_heap_slots(DISPATCHER_POOL_HEAP_SLOTS),
        )
        .map(|_| ()),
    )
}

/// `pool_init` with every parameter: `cfg->heap_slots` (0..=64) heap fallback slots.
///
/// Returns what `pool_init` returns; -EINVAL also for a NULL `cfg` or `heap_slots` > 64.
///
/// # Safety
/// `cfg` is NULL or points to a readable `struct pool_config`.
#[no_mangle]
pub unsafe extern "C" fn pool_init_ex(cfg: *const pool_config) -> c_int {
    if cfg.is_null() || !cfg.is_aligned() {
        return neg_errno(PoolError::Null);
    }
    // SAFETY: non-null, aligned, readable (caller contract); `pool_config` is plain data.
    let c = unsafe { cfg.read() };
    code(
        init_default_pool(PoolConfig::new(c.entries, c.payload_size).with_heap_slots(c.heap_slots))
            .map(|_| ()),
    )
}

// ----- allocation ---------------------------------------------------------------------------

/// Takes a free entry without waiting: refcount 1, the caller's (producer's) reference.
/// Returns NULL when the pool is empty (counted in `pool_alloc_failures`) or not initialised.
/// ISR-safe. Hand the reference on with `dispatcher_broadcast_ptr` or drop it with `msg_unref`.
#[no_mangle]
pub extern "C" fn pool_try_alloc() -> *mut pool_msg_t {
    POOL.get()
        .and_then(|p| p.try_alloc_raw())
        .map_or(core::ptr::null_mut(), to_c)
}

/// `pool_try_alloc`, applying `f` when the pool is empty: `POOL_FALLBACK_DROP` returns NULL
/// and counts a drop; `POOL_FALLBACK_HEAP` allocates a one-off message from the port heap
/// (NULL and a drop if there is no free heap slot or the heap fails). Never blocks; ISR-safe
/// if the port heap is. `f` must be one of the enumerators.
#[no_mangle]
pub extern "C" fn pool_try_alloc_or(f: pool_fallback) -> *mut pool_msg_t {
    let f = match f {
        pool_fallback::Drop => Fallback::Drop,
        pool_fallback::Heap => Fallback::Heap,
    };
    POOL.get()
        .and_then(|p| p.try_alloc_or_raw(f))
        .map_or(core::ptr::null_mut(), to_c)
}

/// Takes a free entry, waiting up to `timeout_ms` (0 = no wait, < 0 = forever) for one to be
/// freed. Returns NULL on timeout, in an ISR with a non-zero timeout, or before `pool_init`;
/// `pool_alloc` says which.
#[no_mangle]
pub extern "C" fn pool_alloc_blocking(timeout_ms: i32) -> *mut pool_msg_t {
    POOL.get()
        .and_then(|p| p.alloc_blocking_raw(Timeout::from_c_ms(timeout_ms)))
        .map_or(core::ptr::null_mut(), to_c)
}

/// `pool_alloc_blocking` with an error code: stores the entry in `*out` (NULL on failure) and
/// returns 0, -ENOMEM (empty, `timeout_ms` == 0), -EAGAIN (timed out), -EPERM (non-zero
/// timeout in an ISR), -ENODEV (before `pool_init`) or -EINVAL (`out` is NULL).
///
/// # Safety
/// `out` is NULL or points to a writable `pool_msg_t *`.
#[no_mangle]
pub unsafe extern "C" fn pool_alloc(timeout_ms: i32, out: *mut *mut pool_msg_t) -> c_int {
    if out.is_null() || !out.is_aligned() {
        return neg_errno(PoolError::Null);
    }
    let r = POOL
        .get()
        .and_then(|p| p.alloc_blocking_raw(Timeout::from_c_ms(timeout_ms)));
    // SAFETY: non-null, aligned, writable (caller contract).
    unsafe { out.write(r.map_or(core::ptr::null_mut(), to_c)) };
    code(r.map(|_| ()))
}

// ----- references ---------------------------------------------------------------------------

/// Adds a reference to a held entry, e.g. to keep a received message after `process_msg`
/// returns. Returns 0, -EINVAL (NULL, or a free entry), -EFAULT (not a descriptor of the pool,
/// or a pointer into the middle of one), -EOVERFLOW (refcount at its maximum, 65535), -ENODEV.
/// Refusals change nothing and are counted in `invalid_refs`. ISR-safe.
///
/// `p` is only compared against the pool's descriptor array, never dereferenced unless it is
/// one of its descriptors, so any pointer value is safe to pass.
#[no_mangle]
pub extern "C" fn msg_ref(p: *mut pool_msg_t) -> c_int {
    code(
        POOL.get()
            .and_then(|pool| pool.ref_raw(p.cast::<Descriptor>()))
            .map(|_| ()),
    )
}

/// Drops a reference; the last one returns the entry to the pool (or a heap fallback message
/// to the heap) and wakes a blocked allocator. Returns 0, -EINVAL (NULL), -EFAULT (foreign or
/// misaligned pointer), -EALREADY (the entry is already free: double unref), -ENODEV.
/// Refusals change nothing and are counted in `invalid_unrefs`. ISR-safe.
///
/// After it returns, the caller must not touch `p->msg` any more.
#[no_mangle]
pub extern "C" fn msg_unref(p: *mut pool_msg_t) -> c_int {
    code(
        POOL.get()
            .and_then(|pool| pool.unref_raw(p.cast::<Descriptor>())),
    )
}

/// The entry whose message is `msg`, or NULL when `msg` is not the message of a held pool
/// entry (for example a value-mode copy, which the caller owns and must copy to keep).
/// Lets a `process_msg(const dispatcher_msg_t *)` callback take a reference with `msg_ref`.
/// Never dereferences `msg`. ISR-safe.
#[no_mangle]
pub extern "C" fn pool_msg_from_msg(msg: *const dispatcher_msg_t) -> *mut pool_msg_t {
    let Ok(pool) = POOL.get() else {
        return core::ptr::null_mut();
    };
    let layout = pool.layout();
    let descs = pool.descriptors();
    let offset = (msg as usize).wrapping_sub(pool.region().as_ptr() as usize);
    let found = if offset < layout.region_bytes() {
        if offset % layout.stride == 0 {
            descs.get(offset / layout.stride)
        } else {
            None
        }
    } else {
        descs[layout.entries..].iter().find(|d| {
            !msg.is_null() && core::ptr::eq(d.msg_ptr().cast_const(), msg.cast::<MsgHeader>())
        })
    };
    match found {
        Some(d) if d.refcount() > 0 => to_c(d),
        _ => core::ptr::null_mut(),
    }
}

// ----- targets ------------------------------------------------------------------------------

/// Initialises a target over queue `q` in `mode` with id `id` (the holder shown in leak
/// reports). The queue's item size must be `sizeof(void *)` in pointer mode and at least
/// `dispatcher_msg_header_size()` in value mode (`sizeof(dispatcher_msg_t)` for the old path).
/// Once the pool is initialised, a value-mode item larger than the pool's stride is refused too
/// (see `pool_init`). Resets the target's counters.
///
/// Returns 0 or -EINVAL (NULL `t` or `q`, item size unfit). `mode` must be one of the
/// enumerators. Thread context; not while the target is in use (broadcast, receive, purge).
///
/// # Safety
/// `t` is NULL or points to writable `dispatch_target_t` storage; `q` is NULL or an
/// initialised `k_msgq` that outlives the target's use.
#[no_mangle]
pub unsafe extern "C" fn dispatch_target_init(
    t: *mut dispatch_target_t,
    q: *mut k_msgq,
    mode: dispatch_mode,
    id: u16,
) -> c_int {
    let t = t.cast::<Target<ExternQueue>>();
    if t.is_null() || !t.is_aligned() || q.is_null() {
        return neg_errno(PoolError::Null);
    }
    let mode = match mode {
        dispatch_mode::Pointer => Mode::Pointer,
        dispatch_mode::Value => Mode::Value,
    };
    // SAFETY: `q` is an initialised queue that outlives the target (caller contract).
    let queue = unsafe { ExternQueue::new(q) };
    if let (Mode::Value, Ok(pool)) = (mode, POOL.get()) {
        if queue.item_size() > pool.layout().stride {
            return neg_errno(PoolError::BadTargetQueue);
        }
    }
    match Target::new(queue, mode, id) {
        Ok(target) => {
            // SAFETY: non-null, aligned, writable storage of the right size (const-asserted);
            // nobody else uses it during init (caller contract). The old contents have no drop glue.
            unsafe { t.write(target) };
            0
        }
        Err(e) => neg_errno(e),
    }
}

/// Broadcasts entry `p` to `n_targets` targets: pointer-mode targets get the pointer (one
/// reference each), value-mode targets a copy. Never blocks; ISR-safe. Returns how many
/// targets received it (0 is a counted drop) or a negative errno.
///
/// The caller's (producer's) reference is always consumed when `p` is a held entry, also when
/// the call is refused with -EINVAL (`n_targets` == 0, NULL `targets` or a NULL entry, an
/// uninitialised target) or -EMSGSIZE (`message_len` > the pool's payload size): the entry is
/// then released and the drop counted; do not touch `p` afterwards. A NULL (-EINVAL), foreign
/// or misaligned (-EFAULT) or free (-EINVAL) `p` changes nothing. -ENODEV before `pool_init`.
///
/// A value-mode target whose item is larger than the pool's stride, or too small for the
/// message, is skipped and counted as an enqueue failure.
///
/// # Safety
/// `targets` is NULL or points to `n_targets` readable pointers, each NULL or to a live
/// `dispatch_target_t` not being re-initialised.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_broadcast_ptr(
    p: *mut pool_msg_t,
    targets: *const *mut dispatch_target_t,
    n_targets: usize,
) -> c_int {
    let pool = match POOL.get() {
        Ok(pool) => pool,
        Err(e) => return neg_errno(e),
    };
    let p = p.cast::<Descriptor>().cast_const();
    // SAFETY: forwarded caller contract on `targets`.
    match unsafe { target_list(targets, n_targets) } {
        Ok(list) => count(pool.broadcast_raw(p, list)),
        Err(e) => {
            // Consume the producer's reference and count the drop, as for any refused broadcast.
            let _ = pool.broadcast_raw::<ExternQueue>(p, &[]);
            neg_errno(e)
        }
    }
}

/// Receives one item from target `t`, waiting up to `timeout_ms` (0 = no wait, < 0 =
/// forever; only 0 in an ISR).
///
/// Pointer mode: stores the entry in `*out_ptr`; the caller owns one reference and must
/// `msg_unref` it when done. Value mode: copies the item into `*out_value` (which must be a
/// whole `dispatcher_msg_t`) and stores NULL in `*out_ptr` if `out_ptr` is not NULL.
///
/// ISR-safe with `timeout_ms == 0` only.
///
/// Returns 0, -EAGAIN (nothing arrived in time), -EPERM (a non-zero timeout in an ISR),
/// -EINVAL (NULL or uninitialised `t`, NULL
/// `out_ptr` in pointer mode, NULL `out_value` in value mode), -ENOSPC (the queue's item is
/// larger than `dispatcher_msg_t`), -EFAULT (the queue held a pointer that is not an entry of
/// the pool), -ENODEV (before `pool_init`).
///
/// # Safety
/// `t` as for `dispatch_target_stats`; `out_ptr` is NULL or writable; `out_value` is NULL or
/// points to a writable `dispatcher_msg_t`.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_receive(
    t: *mut dispatch_target_t,
    timeout_ms: i32,
    out_ptr: *mut *mut pool_msg_t,
    out_value: *mut dispatcher_msg_t,
) -> c_int {
    // SAFETY: forwarded caller contract on `t`.
    let r = unsafe { target(t) }.and_then(|t| {
        let mode = t.mode()?;
        let pool = POOL.get()?;
        let timeout = Timeout::from_c_ms(timeout_ms);
        match mode {
            Mode::Pointer => {
                if out_ptr.is_null() || !out_ptr.is_aligned() {
                    return Err(PoolError::Null);
                }
                if let Received::Msg(m) = pool.receive(t, None, timeout)? {
                    // SAFETY: non-null, aligned, writable (caller contract).
                    unsafe { out_ptr.write(to_c(m.into_raw().as_ref())) };
                }
                Ok(())
            }
            Mode::Value => {
                if out_value.is_null() || !out_value.is_aligned() {
                    return Err(PoolError::Null);
                }
                // SAFETY: `out_value` points to a writable `dispatcher_msg_t` (caller contract),
                // viewed as bytes; nothing else accesses it during the call.
                let buf = unsafe {
                    core::slice::from_raw_parts_mut(
                        out_value.cast::<u8>(),
                        size_of::<dispatcher_msg_t>(),
                    )
                };
                pool.receive(t, Some(buf), timeout)?;
                if !out_ptr.is_null() && out_ptr.is_aligned() {
                    // SAFETY: non-null, aligned, writable (caller contract).
                    unsafe { out_ptr.write(core::ptr::null_mut()) };
                }
                Ok(())
            }
        }
    });
    code(r)
}

/// Drains target `t`'s queue (a crashed or stopped module) and releases every message in it.
/// Returns how many were released, -EINVAL (NULL or uninitialised `t`) or -ENODEV. Thread
/// context; the module must not be receiving meanwhile.
///
/// # Safety
/// As for `dispatch_target_stats`.
#[no_mangle]
pub unsafe extern "C" fn dispatch_target_purge(t: *mut dispatch_target_t) -> c_int {
    // SAFETY: forwarded caller contract on `t`.
    count(unsafe { target(t) }.and_then(|t| POOL.get()?.purge(t)))
}

/// Copies target `t`'s counters into `*out`. Returns 0 or -EINVAL (NULL or uninitialised `t`,
/// NULL `out`). Works before `pool_init`. ISR-safe.
///
/// # Safety
/// `t` is NULL or points to a live `dispatch_target_t` (zeroed or initialised) that is not
/// being re-initialised; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dispatch_target_stats(
    t: *const dispatch_target_t,
    out: *mut dispatch_target_stats,
) -> c_int {
    if out.is_null() || !out.is_aligned() {
        return neg_errno(PoolError::Null);
    }
    // SAFETY: forwarded caller contract on `t`.
    let r = unsafe { target(t) }.and_then(|t| {
        t.mode()?;
        let s = t.stats();
        // SAFETY: non-null, aligned, writable (caller contract).
        unsafe {
            out.write(dispatch_target_stats {
                delivered: s.delivered,
                failed: s.failed,
                queued: s.queued,
                id: s.id,
            })
        };
        Ok(())
    });
    code(r)
}

// ----- metrics and diagnostics ----------------------------------------------------------------

/// Copies every pool counter into `*out` in one call. Returns 0, -EINVAL (NULL `out`) or
/// -ENODEV. ISR-safe.
///
/// # Safety
/// `out` is NULL or points to a writable `struct pool_stats`.
#[no_mangle]
pub unsafe extern "C" fn pool_stats(out: *mut pool_stats) -> c_int {
    if out.is_null() || !out.is_aligned() {
        return neg_errno(PoolError::Null);
    }
    let r = POOL.get().map(|p| {
        let s = p.snapshot();
        let stats = pool_stats {
            pool_total: s.pool_total,
            pool_in_use: s.pool_in_use,
            pool_alloc_failures: s.pool_alloc_failures,
            pool_drop_count: s.pool_drop_count,
            enqueue_failures: s.enqueue_failures,
            high_water: s.high_water,
            allocations: s.allocations,
            frees: s.frees,
            invalid_unrefs: s.invalid_unrefs,
            invalid_refs: s.invalid_refs,
            fallback_allocs: s.fallback_allocs,
            fallback_in_use: s.fallback_in_use,
            broadcasts: s.broadcasts,
            purged: s.purged,
            payload_size: s.payload_size,
            stride: s.stride,
            region_external: REGION_EXTERNAL.load(Ordering::Relaxed),
        };
        // SAFETY: non-null, aligned, writable (caller contract).
        unsafe { out.write(stats) };
    });
    code(r)
}

/// Writes the pool counters and the counters of `n_targets` targets (at most
/// `DISPATCHER_JSON_TARGETS_MAX`, 32) as one JSON object into `buf`, NUL-terminated. Returns
/// the bytes written excluding the NUL, -ENOSPC (`len` too small; nothing usable is written),
/// -EINVAL (NULL `buf` with `len` > 0, NULL `targets` with `n_targets` > 0, a NULL or
/// uninitialised target, more than 32 targets) or -ENODEV. Thread context.
///
/// # Safety
/// `buf` is NULL or has `len` writable bytes; `targets` as for `dispatcher_broadcast_ptr`.
#[no_mangle]
pub unsafe extern "C" fn pool_stats_json(
    buf: *mut c_char,
    len: usize,
    targets: *const *mut dispatch_target_t,
    n_targets: usize,
) -> c_int {
    let r = POOL.get().and_then(|pool| {
        if n_targets > DISPATCHER_JSON_TARGETS_MAX {
            return Err(PoolError::NoTargets);
        }
        // SAFETY: forwarded caller contract on `targets`.
        let list = unsafe { target_list(targets, n_targets) }?;
        let mut stats = [TargetStats::default(); DISPATCHER_JSON_TARGETS_MAX];
        for (s, t) in stats.iter_mut().zip(list) {
            t.mode()?;
            *s = t.stats();
        }
        if len == 0 {
            return Err(PoolError::BufferTooSmall);
        }
        if buf.is_null() {
            return Err(PoolError::Null);
        }
        // SAFETY: `buf` has `len` writable bytes (caller contract), non-null, len > 0.
        let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        pool.snapshot().write_json(&stats[..n_targets], out)
    });
    count(r)
}

/// Proves free list + held entries = all entries and that the counters agree; fills `*out`
/// (if not NULL). Returns 0, -EIO (inconsistent) or -ENODEV. Exact only while no other
/// thread uses the pool (tests, an idle shell). Thread context.
///
/// # Safety
/// `out` is NULL or points to a writable `struct pool_check_report`.
#[no_mangle]
pub unsafe extern "C" fn pool_check(out: *mut pool_check_report) -> c_int {
    let r = POOL.get().and_then(|p| p.check()).map(|c| {
        if !out.is_null() && out.is_aligned() {
            let report = pool_check_report {
                free: c.free,
                held: c.held,
                heap_held: c.heap_held,
            };
            // SAFETY: non-null, aligned, writable (caller contract).
            unsafe { out.write(report) };
        }
    });
    code(r)
}

/// Lists entries held for at least `min_age_ms` into `out` (at most `max`, and at most
/// `DISPATCHER_LEAKS_MAX` = 32 per call), in index order. Returns how many such entries
/// exist (may exceed what was written), -EINVAL (NULL `out` with `max` > 0) or -ENODEV.
/// Thread context.
///
/// # Safety
/// `out` is NULL or has room for `max` writable `struct pool_leak`.
#[no_mangle]
pub unsafe extern "C" fn pool_leaks(min_age_ms: u32, out: *mut pool_leak, max: usize) -> c_int {
    let r = POOL.get().and_then(|pool| {
        if max > 0 && (out.is_null() || !out.is_aligned()) {
            return Err(PoolError::Null);
        }
        let mut buf = [Leak {
            index: 0,
            refcount: 0,
            age_ms: 0,
            holder: 0,
        }; DISPATCHER_LEAKS_MAX];
        let cap = max.min(DISPATCHER_LEAKS_MAX);
        let n = pool.leaks(min_age_ms, &mut buf[..cap]);
        for (i, l) in buf[..n.min(cap)].iter().enumerate() {
            let leak = pool_leak {
                index: l.index,
                holder: l.holder,
                refcount: l.refcount,
                age_ms: l.age_ms,
            };
            // SAFETY: i < cap <= max, and `out` has room for `max` entries (caller contract).
            unsafe { out.add(i).write(leak) };
        }
        Ok(n)
    });
    count(r)
}

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
