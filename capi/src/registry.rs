//! The pools of the image: each `msg_pool` the C side initialised, in a lock-free list (pools
//! are only ever added), and the default pool the seed's `pool_*` calls act on.
//!
//! An entry knows its pool by address: [`pool_of`] finds the pool whose descriptor array holds
//! a pointer by comparing addresses only (never dereferencing the pointer), so `msg_ref` and
//! `msg_unref` need no pool argument and refuse pointers that belong to no pool.

use crate::types::{msg_pool, CPool, PoolSlot};
use pool_core::{Descriptor, Entry, PoolError};
use portable_atomic::{AtomicPtr, Ordering};

/// Head of the list of initialised pools (newest first).
static POOLS: AtomicPtr<msg_pool> = AtomicPtr::new(core::ptr::null_mut());
/// The pool the seed's `pool_*` calls act on (set by `msg_pool_set_default`).
static DEFAULT: AtomicPtr<msg_pool> = AtomicPtr::new(core::ptr::null_mut());

/// The private slot of a pool.
///
/// # Safety
/// `p` is non-null, aligned and points to a `msg_pool` in static storage that is never moved,
/// freed or written by C after its definition (the `msg_pool` contract).
pub(crate) unsafe fn slot(p: *const msg_pool) -> &'static PoolSlot {
    // SAFETY: `_private` is at least as large and aligned as `PoolSlot` (const-asserted in
    // `types`), every bit pattern C can leave there (zero from static storage, or what
    // `msg_pool_init` wrote) is a valid `PoolSlot`, and it is only accessed through shared
    // references to its atomics and `GlobalPool`'s once-initialised cell.
    unsafe { &*core::ptr::addr_of!((*p)._private).cast::<PoolSlot>() }
}

/// The initialised pool behind a C pointer: [`PoolError::Null`] for NULL or misaligned,
/// [`PoolError::NotInitialized`] before `msg_pool_init`.
///
/// # Safety
/// `p` is NULL or satisfies the contract of [`slot`].
pub(crate) unsafe fn pool(p: *const msg_pool) -> Result<&'static CPool, PoolError> {
    if p.is_null() || !p.is_aligned() {
        return Err(PoolError::Null);
    }
    // SAFETY: non-null, aligned; the rest is the caller's contract.
    unsafe { slot(p) }.pool.get()
}

/// Puts a just-written pool on the list (from `GlobalPool::init_with`'s publish step).
///
/// # Safety
/// As for [`slot`]; `p`'s pool is written and `p` is not on the list yet.
pub(crate) unsafe fn push(p: *mut msg_pool) {
    // SAFETY: forwarded contract.
    let s = unsafe { slot(p) };
    let mut head = POOLS.load(Ordering::Acquire);
    loop {
        s.next.store(head, Ordering::Relaxed);
        match POOLS.compare_exchange_weak(head, p, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(h) => head = h,
        }
    }
}

/// The pool of a listed definition.
///
/// # Safety
/// `p` was read from the list (`POOLS` or a `next` link) with an Acquire load.
unsafe fn listed(p: *mut msg_pool) -> (&'static PoolSlot, &'static CPool) {
    // SAFETY: only `push` puts pools on the list, and only pools that satisfy the `slot`
    // contract; they are never removed.
    let s = unsafe { slot(p) };
    // SAFETY: `push` publishes a pool (Release CAS) only after `init_with` wrote it, and the
    // caller's Acquire load of `p` synchronises with that CAS.
    (s, unsafe { s.pool.get_unchecked() })
}

/// The initialised pools, newest first.
pub(crate) fn pools() -> impl Iterator<Item = (*mut msg_pool, &'static CPool)> {
    let mut cur = POOLS.load(Ordering::Acquire);
    core::iter::from_fn(move || {
        if cur.is_null() {
            return None;
        }
        let p = cur;
        // SAFETY: `cur` came from an Acquire load of the list.
        let (s, pool) = unsafe { listed(p) };
        cur = s.next.load(Ordering::Acquire);
        Some((p, pool))
    })
}

/// Why a pointer is not an entry, and the pool to count the refusal in: the pool whose
/// descriptors it points into (misaligned), else the [`fallback_counter`].
#[derive(Clone, Copy)]
pub(crate) struct Refused {
    pub(crate) err: PoolError,
    pub(crate) counter: Option<&'static CPool>,
}

/// The pool whose descriptors hold `p` and the entry `p` is in it (by address only), or why
/// there is none: [`PoolError::Null`] for NULL, [`PoolError::NotInitialized`] when no pool
/// exists yet, [`PoolError::MisalignedPointer`] for a pointer into the middle of a descriptor,
/// [`PoolError::ForeignPointer`] otherwise.
///
/// The one check of a C pointer on the hot path of `msg_unref`, `msg_ref`, `msg_broadcast`
/// and `msg_receive`; the core's `_entry` operations take its result without checking again.
/// One Acquire load per pool passed over (newest pool first).
#[inline]
pub(crate) fn entry_of(p: *const Descriptor) -> Result<(&'static CPool, Entry<'static>), Refused> {
    let mut cur = POOLS.load(Ordering::Acquire);
    while !cur.is_null() {
        // SAFETY: `cur` came from an Acquire load of the list.
        let (s, pool) = unsafe { listed(cur) };
        match pool.entry(p) {
            Ok(e) => return Ok((pool, e)),
            // Inside this pool's descriptors, between two of them.
            Err(err @ PoolError::MisalignedPointer) => {
                return Err(Refused {
                    err,
                    counter: Some(pool),
                })
            }
            // Outside them (NULL is outside every pool's): the next pool.
            Err(_) => cur = s.next.load(Ordering::Acquire),
        }
    }
    Err(unowned(p))
}

/// The refusal of a pointer no pool holds (cold: told apart only here).
#[cold]
fn unowned(p: *const Descriptor) -> Refused {
    let counter = fallback_counter();
    let err = if counter.is_none() {
        PoolError::NotInitialized
    } else if p.is_null() {
        PoolError::Null
    } else {
        PoolError::ForeignPointer
    };
    Refused { err, counter }
}

/// The pool whose descriptor array `p` points into (it may be misaligned or free), by address
/// only: `msg_pool_of`.
pub(crate) fn pool_of(p: *const Descriptor) -> Option<*mut msg_pool> {
    pools().find(|(_, pool)| pool.owns(p)).map(|(c, _)| c)
}

/// The pool that counts refusals no pool can be blamed for (NULL and foreign pointers): the
/// default pool if it is created, else the newest pool.
pub(crate) fn fallback_counter() -> Option<&'static CPool> {
    let default = default_def();
    // SAFETY: a default pool satisfies the `msg_pool` contract (`msg_pool_set_default`);
    // `pool` accepts NULL.
    unsafe { pool(default) }
        .ok()
        .or_else(|| pools().next().map(|(_, p)| p))
}

/// The default pool's definition (NULL until `msg_pool_set_default`).
pub(crate) fn default_def() -> *mut msg_pool {
    DEFAULT.load(Ordering::Acquire)
}

/// Makes `p` the default pool unless another one is: `Ok(())` if `p` is (now) the default.
pub(crate) fn set_default(p: *mut msg_pool) -> Result<(), PoolError> {
    match DEFAULT.compare_exchange(
        core::ptr::null_mut(),
        p,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => Ok(()),
        Err(cur) if cur == p => Ok(()),
        Err(_) => Err(PoolError::AlreadyInitialized),
    }
}
