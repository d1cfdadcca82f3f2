//! The one error type of the crate and its errno mapping.

use core::fmt;

/// Everything that can go wrong; each variant maps to one negative errno for C (see [`PoolError::errno`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PoolError {
    /// `entries` is 0 or above the configured maximum (`-EINVAL`).
    BadEntryCount,
    /// `payload_size` is 0 or above the configured maximum (`-EINVAL`).
    BadPayloadSize,
    /// The descriptor slice or message region is too small for the configuration (`-ENOMEM`).
    RegionTooSmall,
    /// The message region is not aligned for [`crate::header::MsgHeader`] (`-EFAULT`).
    RegionMisaligned,
    /// The pool was already initialised (`-EALREADY`).
    AlreadyInitialized,
    /// The pool has not been initialised yet (`-ENODEV`).
    NotInitialized,
    /// A NULL message pointer (`-EINVAL`).
    Null,
    /// A pointer that is not one of this pool's descriptors (`-EFAULT`).
    ForeignPointer,
    /// A pointer into this pool's descriptor array that is not at a descriptor's start (`-EFAULT`).
    MisalignedPointer,
    /// Unref of an entry whose refcount is already 0 (`-EALREADY`).
    DoubleUnref,
    /// Ref of an entry that is free (refcount 0) (`-EINVAL`).
    RefOfFree,
    /// The refcount is at [`crate::descriptor::MAX_REFS`] (`-EOVERFLOW`).
    RefOverflow,
    /// `message_len` is larger than the payload the pool or a value queue can hold (`-EMSGSIZE`).
    MessageTooLong,
    /// Broadcast to an empty target list (`-EINVAL`).
    NoTargets,
    /// A target that was never initialised (`-EINVAL`).
    TargetUninit,
    /// A target's queue item size does not fit its mode (`-EINVAL`).
    BadTargetQueue,
    /// No free entry (`-ENOMEM`).
    Exhausted,
    /// A blocking operation timed out (`-EAGAIN`).
    Timeout,
    /// A blocking wait with a non-zero timeout was requested from an ISR (`-EPERM`).
    BlockingInIsr,
    /// The output buffer is too small (`-ENOSPC`).
    BufferTooSmall,
    /// The message was mutated while shared, or a mutable access was asked of a shared message (`-EBUSY`).
    Shared,
    /// The self-check found an inconsistency (`-EIO`).
    Corrupt,
}

/// Number of [`Errno`] names (C: `DISPATCHER_ERRNO_COUNT`, the length of `dispatcher_port_errno`).
pub const DISPATCHER_ERRNO_COUNT: usize = 12;

/// The errno names the C API uses (C: `enum dispatcher_errno`, `DISPATCHER_ERRNO_EINVAL`, ...:
/// the indices into the C port's `dispatcher_port_errno` table). Their numbers differ between C libraries (glibc, picolibc
/// and Zephyr's minimal libc disagree on `EALREADY`, `EMSGSIZE`, `EOVERFLOW`), so the number is
/// looked up on the C side, compiled against the right `errno.h` (see `capi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Errno {
    /// Invalid argument.
    EINVAL = 0,
    /// Out of memory / no free entry.
    ENOMEM,
    /// Bad address.
    EFAULT,
    /// Already done.
    EALREADY,
    /// Not initialised.
    ENODEV,
    /// Value too large.
    EOVERFLOW,
    /// Message too long.
    EMSGSIZE,
    /// Try again / timed out.
    EAGAIN,
    /// Not permitted in this context.
    EPERM,
    /// No space left in the buffer.
    ENOSPC,
    /// Busy.
    EBUSY,
    /// Internal inconsistency.
    EIO,
}

const _: () = assert!(Errno::EIO as usize + 1 == DISPATCHER_ERRNO_COUNT);

impl PoolError {
    /// The errno name the C API returns (negated) for this error.
    pub const fn errno(self) -> Errno {
        use Errno::*;
        match self {
            Self::BadEntryCount | Self::BadPayloadSize => EINVAL,
            Self::RegionTooSmall => ENOMEM,
            Self::RegionMisaligned => EFAULT,
            Self::AlreadyInitialized => EALREADY,
            Self::NotInitialized => ENODEV,
            Self::Null => EINVAL,
            Self::ForeignPointer | Self::MisalignedPointer => EFAULT,
            Self::DoubleUnref => EALREADY,
            Self::RefOfFree => EINVAL,
            Self::RefOverflow => EOVERFLOW,
            Self::MessageTooLong => EMSGSIZE,
            Self::NoTargets | Self::TargetUninit | Self::BadTargetQueue => EINVAL,
            Self::Exhausted => ENOMEM,
            Self::Timeout => EAGAIN,
            Self::BlockingInIsr => EPERM,
            Self::BufferTooSmall => ENOSPC,
            Self::Shared => EBUSY,
            Self::Corrupt => EIO,
        }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::BadEntryCount => "entry count out of range",
            Self::BadPayloadSize => "payload size out of range",
            Self::RegionTooSmall => "memory region too small",
            Self::RegionMisaligned => "message region misaligned",
            Self::AlreadyInitialized => "pool already initialised",
            Self::NotInitialized => "pool not initialised",
            Self::Null => "null message pointer",
            Self::ForeignPointer => "pointer is not a descriptor of this pool",
            Self::MisalignedPointer => "pointer is inside a descriptor, not at its start",
            Self::DoubleUnref => "unref of an entry that is already free",
            Self::RefOfFree => "ref of a free entry",
            Self::RefOverflow => "refcount saturated",
            Self::MessageTooLong => "message_len too large",
            Self::NoTargets => "no targets",
            Self::TargetUninit => "target not initialised",
            Self::BadTargetQueue => "target queue item size does not fit its mode",
            Self::Exhausted => "pool exhausted",
            Self::Timeout => "timed out",
            Self::BlockingInIsr => "blocking wait requested in ISR context",
            Self::BufferTooSmall => "buffer too small",
            Self::Shared => "message is shared",
            Self::Corrupt => "pool self-check failed",
        };
        f.write_str(s)
    }
}
