//! The C types of the API. Layout-shared types carry `const` assertions against the core.
#![allow(non_camel_case_types)]

use crate::extern_port::ExternPort;
use crate::extern_port::ExternQueue;
use core::ffi::{c_char, c_void};
use core::mem::{align_of, offset_of, size_of};
use pool_core::global::GlobalPool;
use pool_core::{
    Descriptor, MsgHeader, Pool, Target, DISPATCHER_PAYLOAD_MAX, DISPATCHER_TARGETS_MAX,
};

/// A Zephyr message queue (`struct k_msgq`); opaque here, declared by `<zephyr/kernel.h>` on
/// Zephyr and by the host test double in `tests/c/host_port.h`.
#[repr(C)]
pub struct k_msgq {
    _opaque: [u8; 0],
}

/// A dispatcher message: header, then `data[]`. In pointer mode it lives in the pool's
/// message region (PSRAM on target) and is reached through `pool_msg_t.msg`; in value mode
/// the queue item is a whole `dispatcher_msg_t`.
///
/// A pool message has room for the pool's `payload_size` bytes of `data[]` (at most
/// `DISPATCHER_PAYLOAD_MAX`), not necessarily all of `data[]`: never write past `payload_size`.
/// Header and data are read-only while the message is shared (after a broadcast) and valid
/// while a reference is held.
#[repr(C)]
pub struct dispatcher_msg_t {
    /// Bytes of `data[]` in use; at most the pool's `payload_size` (else broadcast fails with -EMSGSIZE).
    pub message_len: u32,
    /// Sender module id.
    pub source: u16,
    /// Entries of `targets[]` in use.
    pub n_targets: u16,
    /// Opaque pointer for the receivers; must stay valid while the message is referenced.
    pub context: *mut c_void,
    /// Ids of the modules the message is addressed to (informational).
    pub targets: [u8; DISPATCHER_TARGETS_MAX],
    /// `data`, as a pointer: set by the pool for every message and by `msg_receive` in a value
    /// copy, so that the header reads as the firmware's `dispatcher_msg_ptr_t` (dispatcher_pool.h).
    /// Never write it.
    pub data_ptr: *mut u8,
    /// Payload bytes.
    pub data: [u8; DISPATCHER_PAYLOAD_MAX],
}

const _: () = {
    assert!(offset_of!(dispatcher_msg_t, message_len) == offset_of!(MsgHeader, message_len));
    assert!(offset_of!(dispatcher_msg_t, source) == offset_of!(MsgHeader, source));
    assert!(offset_of!(dispatcher_msg_t, n_targets) == offset_of!(MsgHeader, n_targets));
    assert!(offset_of!(dispatcher_msg_t, context) == offset_of!(MsgHeader, context));
    assert!(offset_of!(dispatcher_msg_t, targets) == offset_of!(MsgHeader, targets));
    assert!(offset_of!(dispatcher_msg_t, data_ptr) == offset_of!(MsgHeader, data_ptr));
    assert!(offset_of!(dispatcher_msg_t, data) == MsgHeader::SIZE);
    assert!(align_of::<dispatcher_msg_t>() == MsgHeader::ALIGN);
};

/// A pool entry (the core's descriptor, in internal RAM): what pointer-mode queues carry and
/// what `msg_ref`/`msg_unref`/`msg_broadcast` take. Read the message through `msg`;
/// never write the rest.
#[repr(C)]
pub struct pool_msg_t {
    /// The message. Valid while the caller holds a reference; writable only while the
    /// caller holds the only one (after allocation, before the broadcast).
    pub msg: *mut dispatcher_msg_t,
    /// Private (refcount, free-list link, holder, allocation time, allocation count).
    pub _private: [u32; 4],
    /// Private (`CONFIG_DISPATCHER_POOL_TIMING`: the broadcast's cycle stamp).
    #[cfg(feature = "timing")]
    pub _timing: u32,
}

const _: () = {
    assert!(
        size_of::<pool_msg_t>() == size_of::<Descriptor>(),
        "pool_msg_t != Descriptor: the core's `timing` feature is on, this crate's is off"
    );
    assert!(align_of::<pool_msg_t>() == align_of::<Descriptor>());
    assert!(offset_of!(pool_msg_t, msg) == 0);
};

/// A dispatch target: a module's queue plus its mode, as opaque storage. Initialise it with
/// `msg_target_init`; a zero-initialised one is refused with -EINVAL by every call.
/// Do not copy or move an initialised target while it is in use. A target is not tied to a
/// pool: it carries entries of any pool.
#[repr(C)]
pub struct msg_target_t {
    /// Private.
    pub _private: [u32; 4],
    /// Private.
    pub _queue: *mut c_void,
    /// Private (`CONFIG_DISPATCHER_POOL_TIMING`: queue depth and latency histogram, 196 bytes).
    #[cfg(feature = "timing")]
    pub _timing: [u32; 49],
}

const _: () = {
    #[cfg(feature = "timing")]
    assert!(size_of::<[u32; 49]>() == size_of::<pool_core::timing::TargetTiming>());
    assert!(
        size_of::<msg_target_t>() == size_of::<Target<ExternQueue>>(),
        "msg_target_t != Target: the core's `timing` feature is on, this crate's is off"
    );
    assert!(align_of::<msg_target_t>() == align_of::<Target<ExternQueue>>());
};

/// Parameters of a pool: what `DISPATCHER_POOL_DEFINE` records and `pool_init_ex` takes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pool_config {
    /// Pool entries, 1..=1024.
    pub entries: usize,
    /// Payload bytes per message, 1..=`DISPATCHER_PAYLOAD_MAX`.
    pub payload_size: usize,
    /// Descriptors reserved for heap fallback messages, 0..=64 (0 disables `POOL_FALLBACK_HEAP`).
    pub heap_slots: usize,
}

/// Words of private storage in a `struct msg_pool` (the pool's state once initialised).
pub const MSG_POOL_PRIVATE_WORDS: usize = 40;

/// A message pool with the memory it runs on. Define one at file scope with
/// `DISPATCHER_POOL_DEFINE(name, entries, payload_size)` (Zephyr) or fill the public fields
/// by hand (static storage; see `msg_pool_init`), then never move, copy or write it again.
///
/// The descriptors (refcounts, free-list links: the atomics) must be internal RAM; the message
/// region may be PSRAM.
#[repr(C)]
pub struct msg_pool {
    /// Name for logs, the shell and JSON (a static string), e.g. "streaming".
    pub name: *const c_char,
    /// What `msg_pool_init` creates: entries, payload size, heap fallback slots.
    pub config: pool_config,
    /// Descriptor storage, `n_descs` entries (at least `entries + heap_slots`), internal RAM.
    pub descs: *mut pool_msg_t,
    /// Length of `descs`.
    pub n_descs: usize,
    /// Message region, `region_bytes` bytes aligned to `DISPATCHER_MSG_ALIGN`; at least
    /// `entries * DISPATCHER_POOL_STRIDE(payload_size)` bytes.
    pub region: *mut c_void,
    /// Length of `region`.
    pub region_bytes: usize,
    /// This pool's semaphore, handed to `dispatcher_port_sem_take/give` (`struct k_sem *` on
    /// Zephyr): blocking allocations of this pool wait on it alone.
    pub sem: *mut c_void,
    /// Where the region is, for logs and the shell (e.g. "internal RAM", "PSRAM").
    pub placement: *const c_char,
    /// Created by the boot hook (Zephyr, `DISPATCHER_POOL_DEFINE`).
    pub boot_init: bool,
    /// Private: the pool once initialised. Zero-initialised storage is "not initialised".
    pub _private: [usize; MSG_POOL_PRIVATE_WORDS],
}

/// What `msg_pool._private` holds: the pool and the link of the list of initialised pools.
/// All-zero bytes are a valid value: not initialised, end of list.
#[repr(C)]
pub(crate) struct PoolSlot {
    pub(crate) pool: GlobalPool<ExternPort>,
    pub(crate) next: portable_atomic::AtomicPtr<msg_pool>,
}

const _: () = {
    assert!(size_of::<PoolSlot>() <= size_of::<[usize; MSG_POOL_PRIVATE_WORDS]>());
    assert!(align_of::<PoolSlot>() <= align_of::<usize>());
};

/// The pool type behind every `msg_pool`.
pub type CPool = Pool<'static, ExternPort>;
