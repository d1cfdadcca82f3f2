//! Targets: a module's queue plus its mode and counters. Delivery is in `broadcast.rs`, the
//! consumer side (`receive`, `purge`) in `receive.rs`.

use crate::error::PoolError;
use crate::header::MsgHeader;
use crate::metrics::TargetStats;
use crate::port::Queue;
use crate::sync::{AtomicU32, Ordering};

/// How a target's queue carries messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Items are one descriptor pointer (`size_of::<usize>()` bytes); the receiver unrefs.
    Pointer = 1,
    /// Items are whole `dispatcher_msg_t` values (the old path); the receiver gets a copy.
    Value = 2,
}

impl Mode {
    /// The mode for a C value (`DISPATCH_MODE_POINTER`, `DISPATCH_MODE_VALUE`), `None` otherwise.
    pub const fn from_c(v: u8) -> Option<Self> {
        match v {
            1 => Some(Mode::Pointer),
            2 => Some(Mode::Value),
            _ => None,
        }
    }
}

/// `state` of an initialised target: a magic value with the mode in its low byte, so that
/// [`Target::mode`] is one load and one comparison per mode (a zero-initialised or garbage
/// target matches neither).
const TARGET_READY: u32 = 0x7A56_E700;

/// A module's queue plus its mode and counters.
///
/// An all-zero `Target` (a zero-initialised C `msg_target_t`) is a valid value that
/// every operation refuses with [`PoolError::TargetUninit`].
#[repr(C)]
pub struct Target<Q: Queue> {
    state: AtomicU32,
    pub(crate) mode: u8,
    pub(crate) id: u16,
    pub(crate) delivered: AtomicU32,
    pub(crate) failed: AtomicU32,
    pub(crate) queue: Q,
    /// Feature `timing`: queue depth and latency (last, so the fields above keep their offsets).
    #[cfg(feature = "timing")]
    pub(crate) timing: crate::timing::TargetTiming,
}

impl<Q: Queue> Target<Q> {
    /// A target with id `id` (shown as the holder in leak reports) over `queue`.
    ///
    /// Refuses ([`PoolError::BadTargetQueue`]) a pointer-mode queue whose item is not one
    /// pointer, or a value-mode queue whose item is smaller than the message header.
    pub fn new(queue: Q, mode: Mode, id: u16) -> Result<Self, PoolError> {
        let item = queue.item_size();
        let fits = match mode {
            Mode::Pointer => item == core::mem::size_of::<usize>(),
            Mode::Value => item >= MsgHeader::SIZE,
        };
        if !fits {
            return Err(PoolError::BadTargetQueue);
        }
        Ok(Target {
            state: AtomicU32::new(TARGET_READY | mode as u32),
            mode: mode as u8,
            id,
            delivered: AtomicU32::new(0),
            failed: AtomicU32::new(0),
            queue,
            #[cfg(feature = "timing")]
            timing: crate::timing::TargetTiming::new(),
        })
    }

    /// Its mode, or [`PoolError::TargetUninit`] for a never-initialised target.
    pub fn mode(&self) -> Result<Mode, PoolError> {
        const POINTER: u32 = TARGET_READY | Mode::Pointer as u32;
        const VALUE: u32 = TARGET_READY | Mode::Value as u32;
        // Relaxed: `state` is written with the rest of the target by its initialisation, which
        // happens before any use by other means (the `msg_target_init` contract: not while the
        // target is in use), so an Acquire here would order nothing; it would cost a barrier
        // per target per broadcast and per receive on the MCUs.
        match self.state.load(Ordering::Relaxed) {
            POINTER => Ok(Mode::Pointer),
            VALUE => Ok(Mode::Value),
            _ => Err(PoolError::TargetUninit),
        }
    }

    /// Its id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Its queue: crate-private, because an item put into a pointer-mode queue is an owned
    /// reference that `receive` adopts. Safe code sees only the queue's fill:
    ///
    /// ```compile_fail,E0624
    /// # use dispatcher_pool::{host::HostQueue, target::{Mode, Target}};
    /// let t = Target::new(HostQueue::pointers(4), Mode::Pointer, 1).unwrap();
    /// let q = t.queue(); // error[E0624]: method `queue` is private
    /// ```
    pub(crate) fn queue(&self) -> &Q {
        &self.queue
    }

    /// Items queued now (a racy snapshot).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// `true` when nothing is queued (a racy snapshot).
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The size of one queue item in bytes.
    pub fn item_size(&self) -> usize {
        self.queue.item_size()
    }

    /// Its counters (and, with the `timing` feature, its queue depth and latency).
    pub fn stats(&self) -> TargetStats {
        #[cfg(feature = "timing")]
        let t = self.timing.stats();
        TargetStats {
            id: self.id,
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            queued: self.queue.len() as u32,
            #[cfg(feature = "timing")]
            avg_depth_x100: t.avg_depth_x100,
            #[cfg(feature = "timing")]
            depth_samples: t.depth_samples,
            #[cfg(feature = "timing")]
            latency_count: t.latency_count,
            #[cfg(feature = "timing")]
            latency_min_us: t.latency_min_us,
            #[cfg(feature = "timing")]
            latency_p50_us: t.latency_p50_us,
            #[cfg(feature = "timing")]
            latency_p99_us: t.latency_p99_us,
            #[cfg(feature = "timing")]
            latency_max_us: t.latency_max_us,
        }
    }
}
