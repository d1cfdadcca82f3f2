//! [`GlobalPool`]: one pool in a `static`, initialised once at run time (C's `pool_init`, the
//! Zephyr boot hook). Use before init is [`PoolError::NotInitialized`], a second init
//! [`PoolError::AlreadyInitialized`].

use crate::error::PoolError;
use crate::pool::Pool;
use crate::port::Port;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use portable_atomic::{AtomicU8, Ordering};

const UNINIT: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

/// A pool in a `static`, set up once.
///
/// ```
/// use dispatcher_pool::{global::GlobalPool, host::{HostPool, StdPort}, PoolError, PoolConfig};
/// static POOL: GlobalPool<StdPort> = GlobalPool::new();
/// assert_eq!(POOL.get().err(), Some(PoolError::NotInitialized));
/// let memory = HostPool::leak_memory(PoolConfig::new(8, 64)).unwrap();
/// POOL.init(|| memory.into_pool(StdPort::new())).unwrap();
/// assert!(POOL.get().unwrap().try_alloc().is_ok());
/// assert_eq!(POOL.init(|| unreachable!()).err(), Some(PoolError::AlreadyInitialized));
/// ```
pub struct GlobalPool<P: Port + 'static> {
    state: AtomicU8,
    pool: UnsafeCell<MaybeUninit<Pool<'static, P>>>,
}

// SAFETY: `pool` is written once, by the thread that moved `state` UNINIT -> BUSY, before it
// publishes READY with Release; readers only touch it after an Acquire load of READY, and
// `Pool` is `Sync`.
unsafe impl<P: Port + 'static> Sync for GlobalPool<P> {}

impl<P: Port + 'static> GlobalPool<P> {
    /// An uninitialised pool.
    pub const fn new() -> Self {
        GlobalPool {
            state: AtomicU8::new(UNINIT),
            pool: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Builds the pool with `make` unless it exists (or is being built) already.
    /// If `make` fails the pool stays uninitialised and a later `init` may retry.
    pub fn init(
        &self,
        make: impl FnOnce() -> Result<Pool<'static, P>, PoolError>,
    ) -> Result<&Pool<'static, P>, PoolError> {
        self.init_with(make, |_| {})
    }

    /// [`init`](Self::init), and `publish` runs on the new pool after it is written and before
    /// [`get`](Self::get) can return it: whatever `publish` sets up (a registry that finds the
    /// pool by its entries) is in place before the first allocation.
    ///
    /// ```
    /// use dispatcher_pool::{global::GlobalPool, host::{HostPool, StdPort}, PoolError, PoolConfig};
    /// static POOL: GlobalPool<StdPort> = GlobalPool::new();
    /// let memory = HostPool::leak_memory(PoolConfig::new(2, 8)).unwrap();
    /// POOL.init_with(|| memory.into_pool(StdPort::new()), |_| {
    ///     // Not yet allocatable while published.
    ///     assert_eq!(POOL.get().err(), Some(PoolError::NotInitialized));
    /// })
    /// .unwrap();
    /// assert!(POOL.get().is_ok());
    /// ```
    pub fn init_with(
        &self,
        make: impl FnOnce() -> Result<Pool<'static, P>, PoolError>,
        publish: impl FnOnce(&Pool<'static, P>),
    ) -> Result<&Pool<'static, P>, PoolError> {
        if self
            .state
            .compare_exchange(UNINIT, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(PoolError::AlreadyInitialized);
        }
        match make() {
            Ok(pool) => {
                // SAFETY: we own the BUSY state, so nobody else writes `pool`, and nobody reads
                // it before `publish` (which gets the only reference) or READY.
                let pool = unsafe { (*self.pool.get()).write(pool) };
                publish(pool);
                self.state.store(READY, Ordering::Release);
                self.get()
            }
            Err(e) => {
                self.state.store(UNINIT, Ordering::Release);
                Err(e)
            }
        }
    }

    /// The pool, or [`PoolError::NotInitialized`].
    #[inline]
    pub fn get(&self) -> Result<&Pool<'static, P>, PoolError> {
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: READY is stored (Release) only after the pool was written, never reset.
            Ok(unsafe { (*self.pool.get()).assume_init_ref() })
        } else {
            Err(PoolError::NotInitialized)
        }
    }

    /// The pool, without checking that it is initialised (for a registry that lists only
    /// pools whose [`init_with`](Self::init_with) wrote them).
    ///
    /// # Safety
    /// The pool was written by [`init_with`](Self::init_with) (its `publish` ran, or `init`
    /// returned `Ok`) and that happens before this call (for example: the caller found the
    /// pool through an Acquire load of a pointer that `publish` stored with Release).
    #[inline]
    pub unsafe fn get_unchecked(&self) -> &Pool<'static, P> {
        // SAFETY: by the contract, the pool was written and that write happens before this
        // read; a written pool is never reset or written again.
        unsafe { (*self.pool.get()).assume_init_ref() }
    }
}

impl<P: Port + 'static> Default for GlobalPool<P> {
    fn default() -> Self {
        Self::new()
    }
}
