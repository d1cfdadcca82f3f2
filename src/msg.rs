//! [`Msg`]: the Rust handle to one reference of a message; dropping it releases the reference.
//!
//! Safe code cannot make two handles that write one payload: writing needs `&mut Msg` and a
//! refcount of 1, and every way to drop a reference without a handle is `unsafe`:
//!
//! ```compile_fail,E0133
//! # use dispatcher_pool::{host::HostPool, PoolConfig};
//! let host = HostPool::new(PoolConfig::new(1, 8)).unwrap();
//! let pool = host.pool();
//! let a = pool.try_alloc().unwrap();
//! pool.unref_raw(a.descriptor()).unwrap(); // error[E0133]: call to unsafe function
//! let b = pool.try_alloc().unwrap();       // would be a second handle to `a`'s payload
//! ```
//!
//! ```compile_fail,E0624
//! # use dispatcher_pool::{host::HostPool, PoolConfig};
//! let host = HostPool::new(PoolConfig::new(1, 8)).unwrap();
//! let d = &host.pool().descriptors()[0]; // error[E0624]: method `descriptors` is private
//! ```
//!
//! (rustdoc on stable does not check the error codes; these twins compile, so the marked line
//! is the only error above. The first breaks the contract, which only `unsafe` code can do.)
//!
//! ```no_run
//! # use dispatcher_pool::{host::HostPool, PoolConfig};
//! let host = HostPool::new(PoolConfig::new(1, 8)).unwrap();
//! let pool = host.pool();
//! let a = pool.try_alloc().unwrap();
//! unsafe { pool.unref_raw(a.descriptor()) }.unwrap(); // a contract violation, in unsafe code
//! let b = pool.try_alloc().unwrap();
//! let d = host.pool().descriptor_ptr(0); // a raw pointer: acting on it is unsafe
//! ```
//!
//! In safe code a second reference makes both handles read-only, and the pool refuses a
//! second allocation:
//!
//! ```
//! # use dispatcher_pool::{host::HostPool, PoolConfig, PoolError};
//! let host = HostPool::new(PoolConfig::new(1, 8)).unwrap();
//! let pool = host.pool();
//! let mut a = pool.try_alloc().unwrap();
//! assert_eq!(pool.try_alloc().err(), Some(PoolError::Exhausted));
//! let b = a.try_clone().unwrap();                      // a second reference...
//! assert_eq!(a.write(b"x").err(), Some(PoolError::Shared)); // ...makes both read-only
//! drop(b);
//! assert!(a.write(b"x").is_ok());
//! ```

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::header::MsgHeader;
use crate::pool::{Fallback, Pool};
use crate::port::{Port, Timeout};
use crate::sync::Ordering;
use core::ptr::NonNull;

/// One reference to a pool message. `Drop` releases it (the last one recycles the entry).
///
/// Reading is always allowed; writing ([`write`](Msg::write), [`header_mut`](Msg::header_mut),
/// [`payload_mut`](Msg::payload_mut)) only while this is the only reference, as the design's
/// "read-only while shared" rule says.
pub struct Msg<'p, 'a, P: Port> {
    pool: &'p Pool<'a, P>,
    desc: &'a Descriptor,
}

impl<'a, P: Port> Pool<'a, P> {
    /// Takes a free entry without waiting.
    pub fn try_alloc(&self) -> Result<Msg<'_, 'a, P>, PoolError> {
        self.try_alloc_raw().map(|desc| Msg { pool: self, desc })
    }

    /// Takes a free entry or applies `fallback` when the pool is empty.
    pub fn try_alloc_or(&self, fallback: Fallback) -> Result<Msg<'_, 'a, P>, PoolError> {
        self.try_alloc_or_raw(fallback)
            .map(|desc| Msg { pool: self, desc })
    }

    /// Takes a free entry, waiting up to `timeout`.
    pub fn alloc_blocking(&self, timeout: Timeout) -> Result<Msg<'_, 'a, P>, PoolError> {
        self.alloc_blocking_raw(timeout)
            .map(|desc| Msg { pool: self, desc })
    }

    /// Adopts one reference held through a raw pointer (from [`Msg::into_raw`], a queue, or C).
    ///
    /// Validates the pointer and that the entry is held; refusals change nothing.
    ///
    /// # Safety
    /// The caller owns one reference to `p` and hands it to the returned handle.
    pub unsafe fn from_raw(&self, p: *const Descriptor) -> Result<Msg<'_, 'a, P>, PoolError> {
        self.held(p).map(|desc| Msg { pool: self, desc })
    }
}

impl<'p, 'a, P: Port> Msg<'p, 'a, P> {
    /// The handle of one reference to `desc`, checked by the caller.
    ///
    /// # Safety
    /// `desc` is one of `pool`'s descriptors, held, and the caller hands one reference it owns
    /// to the handle.
    #[inline]
    pub(crate) unsafe fn adopt(pool: &'p Pool<'a, P>, desc: &'a Descriptor) -> Self {
        Msg { pool, desc }
    }
}

impl<'p, 'a, P: Port> Msg<'p, 'a, P> {
    /// The descriptor (what queues and C carry).
    pub fn descriptor(&self) -> &'a Descriptor {
        self.desc
    }

    /// The pool this message belongs to.
    pub fn pool(&self) -> &'p Pool<'a, P> {
        self.pool
    }

    /// Gives up the handle without releasing its reference.
    pub fn into_raw(self) -> NonNull<Descriptor> {
        let p = NonNull::from(self.desc);
        core::mem::forget(self);
        p
    }

    /// Adds a reference, returning a second handle. Fails at [`crate::descriptor::MAX_REFS`].
    pub fn try_clone(&self) -> Result<Self, PoolError> {
        // The handle's descriptor is one of this pool's (no pointer checks) and it owns a
        // reference, so the entry stays live; saturation is still refused and counted.
        self.desc
            .try_ref()
            .inspect_err(|&e| self.pool.refused_ref(e))?;
        Ok(Msg {
            pool: self.pool,
            desc: self.desc,
        })
    }

    /// `true` while this is the only reference.
    pub fn is_unique(&self) -> bool {
        // Acquire: pairs with the Release of other owners' unrefs, so their reads are done.
        self.desc.refcount.load(Ordering::Acquire) == 1
    }

    /// The header.
    pub fn header(&self) -> &MsgHeader {
        // SAFETY: the message is valid while we hold a reference; the header is only written
        // through `header_mut`, which needs `&mut self` and uniqueness.
        unsafe { &*self.desc.msg_ptr() }
    }

    /// The header, mutably, if this is the only reference ([`PoolError::Shared`] otherwise).
    pub fn header_mut(&mut self) -> Result<&mut MsgHeader, PoolError> {
        if !self.is_unique() {
            return Err(PoolError::Shared);
        }
        // SAFETY: unique reference (refcount 1, held by `self`), borrowed mutably.
        Ok(unsafe { &mut *self.desc.msg_ptr() })
    }

    /// Payload capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.pool.layout().payload_size
    }

    /// The payload's `message_len` bytes (clamped to the capacity).
    pub fn payload(&self) -> &[u8] {
        let len = (self.header().message_len as usize).min(self.capacity());
        // SAFETY: the payload has `capacity` bytes after the header; read-only while shared.
        unsafe { core::slice::from_raw_parts(Pool::<P>::payload_ptr(self.desc), len) }
    }

    /// The whole payload buffer, mutably, if this is the only reference.
    pub fn payload_mut(&mut self) -> Result<&mut [u8], PoolError> {
        if !self.is_unique() {
            return Err(PoolError::Shared);
        }
        let cap = self.capacity();
        // SAFETY: unique reference; `capacity` bytes follow the header.
        Ok(unsafe { core::slice::from_raw_parts_mut(Pool::<P>::payload_ptr(self.desc), cap) })
    }

    /// Copies `bytes` into the payload and sets `message_len`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), PoolError> {
        if bytes.len() > self.capacity() {
            return Err(PoolError::MessageTooLong);
        }
        self.payload_mut()?[..bytes.len()].copy_from_slice(bytes);
        self.header_mut()?.message_len = bytes.len() as u32;
        Ok(())
    }

    /// The refcount now (racy).
    pub fn refcount(&self) -> u32 {
        self.desc.refcount()
    }
}

impl<P: Port> Drop for Msg<'_, '_, P> {
    fn drop(&mut self) {
        // The handle owns a reference of one of this pool's descriptors: skip the pointer checks
        // (the index is needed only to recycle, after the last reference).
        self.pool.unref_own(self.desc);
    }
}

impl<P: Port> core::fmt::Debug for Msg<'_, '_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Msg")
            .field("index", &self.pool.index_of(self.desc).ok())
            .field("refcount", &self.refcount())
            .field("message_len", &self.header().message_len)
            .finish()
    }
}
