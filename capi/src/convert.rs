//! Conversions at the C boundary: results to return codes, descriptors to `pool_msg_t *`,
//! C target pointers to targets.

use crate::extern_port::{neg_errno, ExternQueue};
use crate::types::{msg_target_t, pool_msg_t};
use core::ffi::c_int;
use pool_core::{Descriptor, PoolError, Target};

/// 0 or a negative errno.
pub(crate) fn code(r: Result<(), PoolError>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => neg_errno(e),
    }
}

/// A count (saturated to `INT_MAX`) or a negative errno.
pub(crate) fn count(r: Result<usize, PoolError>) -> c_int {
    match r {
        Ok(n) => n.min(c_int::MAX as usize) as c_int,
        Err(e) => neg_errno(e),
    }
}

/// The C handle of a descriptor.
pub(crate) fn to_c(d: &Descriptor) -> *mut pool_msg_t {
    (d as *const Descriptor).cast_mut().cast()
}

/// The target behind a C pointer.
///
/// # Safety
/// `t` is NULL or points to a `msg_target_t` (initialised or zeroed) that lives for `'t`
/// and is not re-initialised meanwhile.
pub(crate) unsafe fn target<'t>(
    t: *const msg_target_t,
) -> Result<&'t Target<ExternQueue>, PoolError> {
    let t = t.cast::<Target<ExternQueue>>();
    if t.is_null() || !t.is_aligned() {
        return Err(PoolError::Null);
    }
    // SAFETY: non-null and aligned; `msg_target_t` has the size and alignment of
    // `Target<ExternQueue>` (const-asserted in `types`), and every bit pattern a C caller can
    // hold there (zeroed, or written by `msg_target_init`) is a valid `Target`: its
    // fields are integers, atomics and a raw pointer.
    Ok(unsafe { &*t })
}

/// The targets behind a C array, all checked to be non-NULL and aligned.
///
/// # Safety
/// `targets` points to `n` readable pointers, each valid for [`target`].
pub(crate) unsafe fn target_list<'t>(
    targets: *const *mut msg_target_t,
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

/// Writes `v` through a C out-pointer if it is non-NULL and aligned; `false` otherwise.
///
/// # Safety
/// `out` is NULL or points to writable storage for a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, v: T) -> bool {
    if out.is_null() || !out.is_aligned() {
        return false;
    }
    // SAFETY: non-null, aligned, writable (caller contract).
    unsafe { out.write(v) };
    true
}
