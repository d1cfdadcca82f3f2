//! Creating pools over the memory C hands in, and the default pool of the seed's `pool_*` calls.

use crate::convert::code;
use crate::extern_port::ExternPort;
use crate::registry::{self, slot};
use crate::types::{dispatcher_msg_t, msg_pool, pool_config, CPool};
use core::ffi::c_int;
use pool_core::pool::DEFAULT_MAX_ENTRIES;
use pool_core::{Descriptor, Pool, PoolConfig, PoolError, DISPATCHER_PAYLOAD_MAX};

/// Creates pool `p` with `cfg` over the memory `p` names.
///
/// # Safety
/// `p` is NULL or satisfies the `msg_pool` contract (see `msg_pool_init`).
unsafe fn init(p: *mut msg_pool, cfg: pool_config) -> Result<&'static CPool, PoolError> {
    if p.is_null() || !p.is_aligned() {
        return Err(PoolError::Null);
    }
    // SAFETY: non-null and aligned; the public fields are plain data, read once here.
    let (descs, n_descs, region, region_bytes, sem) = unsafe {
        (
            (*p).descs,
            (*p).n_descs,
            (*p).region,
            (*p).region_bytes,
            (*p).sem,
        )
    };
    let mut config = PoolConfig::new(cfg.entries, cfg.payload_size).with_heap_slots(cfg.heap_slots);
    // A C pool message must fit a `dispatcher_msg_t` (value-mode targets copy it into one).
    config.max_payload = DISPATCHER_PAYLOAD_MAX;
    config.max_entries = DEFAULT_MAX_ENTRIES;
    let layout = config.layout()?;
    if descs.is_null() || region.is_null() || sem.is_null() {
        return Err(PoolError::RegionTooSmall);
    }
    if n_descs < layout.descriptors() || region_bytes < layout.region_bytes() {
        return Err(PoolError::RegionTooSmall);
    }
    let descs = descs.cast::<Descriptor>();
    if !descs.is_aligned() || !region.cast::<dispatcher_msg_t>().is_aligned() {
        return Err(PoolError::RegionMisaligned);
    }
    // SAFETY: `p` satisfies the `msg_pool` contract (caller).
    let s = unsafe { slot(p) };
    let make = || {
        // SAFETY: the `msg_pool` contract: `descs` has `n_descs` descriptors and `region`
        // `region_bytes` bytes, static, used by this pool alone; `GlobalPool::init_with` runs this
        // closure at most once per pool (a second init is refused before it), so these are
        // the only references to that memory. `pool_msg_t` is `Descriptor`'s C view
        // (const-asserted in `types`), and any bytes are a valid region.
        let (descs, region) = unsafe {
            (
                core::slice::from_raw_parts_mut(descs, layout.descriptors()),
                core::slice::from_raw_parts_mut(region.cast::<u8>(), layout.region_bytes()),
            )
        };
        // SAFETY: `sem` is this pool's semaphore (the `msg_pool` contract).
        let port = unsafe { ExternPort::new(sem) };
        Pool::new(port, config, descs, region)
    };
    // On the registry before `get` can return it (before the first allocation): every entry
    // an allocation hands out can be found by `msg_unref` and `msg_broadcast`.
    // SAFETY: written just now, by this call alone (the GlobalPool state machine), not listed.
    let pool = s.pool.init_with(make, |_| unsafe { registry::push(p) })?;
    Ok(pool)
}

/// Creates pool `p` from its `config` over the memory its fields name. Returns 0, -EINVAL
/// (NULL `p`; `entries` not in 1..=1024, `payload_size` not in 1..=`DISPATCHER_PAYLOAD_MAX`,
/// `heap_slots` above 64), -ENOMEM (NULL memory or semaphore, fewer than `entries +
/// heap_slots` descriptors, a region smaller than `entries * DISPATCHER_POOL_STRIDE(payload)`),
/// -EFAULT (misaligned memory), -EALREADY (already created, or being created). Thread context.
///
/// Once created the pool can be found by its entries (`msg_ref`, `msg_unref` and the other
/// entry calls need no pool argument) and by `msg_pool_next`. Zephyr's boot hook calls this for
/// every `DISPATCHER_POOL_DEFINE`.
///
/// # Safety
/// `p` is NULL or points to a `struct msg_pool` in static storage that is never moved, freed or
/// written after this call; `descs`, `region` and `sem` are valid for the sizes given, static,
/// and used by this pool alone; `sem` is what the port's `dispatcher_port_sem_*` accept.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_init(p: *mut msg_pool) -> c_int {
    if p.is_null() || !p.is_aligned() {
        return code(Err(PoolError::Null));
    }
    // SAFETY: non-null, aligned, readable (caller contract); plain data.
    let cfg = unsafe { (*p).config };
    // SAFETY: forwarded caller contract.
    code(unsafe { init(p, cfg) }.map(|_| ()))
}

/// Makes `p` the default pool, the one the seed's calls (`pool_init`, `pool_try_alloc`,
/// `pool_stats`, ...) act on. Returns 0 (also if `p` already is the default), -EINVAL (NULL),
/// -EALREADY (another pool is the default). The Zephyr port sets its Kconfig-sized pool at boot.
///
/// # Safety
/// As for `msg_pool_init`.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_set_default(p: *mut msg_pool) -> c_int {
    if p.is_null() || !p.is_aligned() {
        return code(Err(PoolError::Null));
    }
    code(registry::set_default(p))
}

/// The default pool (see `msg_pool_set_default`), or NULL.
#[no_mangle]
pub extern "C" fn msg_pool_default() -> *mut msg_pool {
    registry::default_def()
}

/// The created pools one by one: the first for NULL, else the one after `prev`; NULL at the
/// end. Newest first.
///
/// # Safety
/// `prev` is NULL or a pool this function returned.
#[no_mangle]
pub unsafe extern "C" fn msg_pool_next(prev: *const msg_pool) -> *mut msg_pool {
    let mut it = registry::pools().map(|(c, _)| c);
    if prev.is_null() {
        return it.next().unwrap_or(core::ptr::null_mut());
    }
    for c in it.by_ref() {
        if core::ptr::eq(c, prev) {
            break;
        }
    }
    it.next().unwrap_or(core::ptr::null_mut())
}

/// The pool the seed's calls act on, created or not.
pub(crate) fn default_pool_def() -> Result<*mut msg_pool, PoolError> {
    let p = registry::default_def();
    if p.is_null() {
        Err(PoolError::NotInitialized)
    } else {
        Ok(p)
    }
}

/// Runs a seed call on the default pool, or returns -ENODEV when there is none (the seed's
/// calls return it before `pool_init`).
pub(crate) fn on_default(f: impl FnOnce(*const msg_pool) -> c_int) -> c_int {
    match default_pool_def() {
        Ok(p) => f(p),
        Err(e) => code(Err(e)),
    }
}

/// The default pool, created (for Rust code in the same image, e.g. a zephyr-lang-rust app).
pub fn default_pool() -> Result<&'static CPool, PoolError> {
    // SAFETY: the default pool was set by `msg_pool_set_default`, whose contract is the
    // `msg_pool` contract.
    unsafe { registry::pool(default_pool_def()?) }
}

/// Creates the default pool with `entries` messages of `payload_size` payload bytes and the
/// heap fallback slots of its definition. Returns what `msg_pool_init` returns, and -ENODEV
/// when there is no default pool (see `msg_pool_set_default`). Thread context; once, at boot.
///
/// The default pool's memory is fixed (on Zephyr, Kconfig-sized): more entries or a larger
/// payload than it was defined with is -ENOMEM. A message costs `DISPATCHER_POOL_STRIDE(payload)`
/// bytes of the region (header + payload), whatever `DISPATCHER_PAYLOAD_MAX` is.
#[no_mangle]
pub extern "C" fn pool_init(entries: usize, payload_size: usize) -> c_int {
    let r = default_pool_def().and_then(|p| {
        // SAFETY: `p` was set by `msg_pool_set_default` (the `msg_pool` contract).
        let heap_slots = unsafe { (*p).config.heap_slots };
        let cfg = pool_config {
            entries,
            payload_size,
            heap_slots,
        };
        // SAFETY: as above.
        unsafe { init(p, cfg) }.map(|_| ())
    });
    code(r)
}

/// `pool_init` with every parameter, `cfg->heap_slots` (0..=64, within the definition's
/// descriptors) included. Returns what `pool_init` returns; -EINVAL also for a NULL `cfg`.
///
/// # Safety
/// `cfg` is NULL or points to a readable `struct pool_config`.
#[no_mangle]
pub unsafe extern "C" fn pool_init_ex(cfg: *const pool_config) -> c_int {
    if cfg.is_null() || !cfg.is_aligned() {
        return code(Err(PoolError::Null));
    }
    // SAFETY: non-null, aligned, readable (caller contract); plain data.
    let cfg = unsafe { cfg.read() };
    // SAFETY: the default pool was set by `msg_pool_set_default` (the `msg_pool` contract).
    code(default_pool_def().and_then(|p| unsafe { init(p, cfg) }.map(|_| ())))
}

/// `DISPATCHER_POOL_STRIDE(payload_size)` as the library computes it: the bytes one message of
/// that payload occupies in a region (header + payload, rounded up to the header's alignment).
#[no_mangle]
pub extern "C" fn msg_pool_stride(payload_size: usize) -> usize {
    pool_core::pool::stride_for(payload_size)
}
