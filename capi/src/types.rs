//! The C types of the API. Layout-shared types carry `const` assertions against the core.
#![allow(non_camel_case_types)]

use crate::config::DISPATCHER_PAYLOAD_MAX;
use crate::extern_port::ExternQueue;
use core::ffi::c_void;
use core::mem::{align_of, offset_of, size_of};
use pool_core::{Descriptor, MsgHeader, Target, DISPATCHER_TARGETS_MAX};

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
    /// Payload bytes.
    pub data: [u8; DISPATCHER_PAYLOAD_MAX],
}

const _: () = {
    assert!(offset_of!(dispatcher_msg_t, message_len) == offset_of!(MsgHeader, message_len));
    assert!(offset_of!(dispatcher_msg_t, source) == offset_of!(MsgHeader, source));
    assert!(offset_of!(dispatcher_msg_t, n_targets) == offset_of!(MsgHeader, n_targets));
    assert!(offset_of!(dispatcher_msg_t, context) == offset_of!(MsgHeader, context));
    assert!(offset_of!(dispatcher_msg_t, targets) == offset_of!(MsgHeader, targets));
    assert!(offset_of!(dispatcher_msg_t, data) == MsgHeader::SIZE);
    assert!(align_of::<dispatcher_msg_t>() == MsgHeader::ALIGN);
};

/// A pool entry (the core's descriptor, in internal RAM): what pointer-mode queues carry and
/// what `msg_ref`/`msg_unref`/`dispatcher_broadcast_ptr` take. Read the message through `msg`;
/// never write the rest.
#[repr(C)]
pub struct pool_msg_t {
    /// The message. Valid while the caller holds a reference; writable only while the
    /// caller holds the only one (after allocation, before the broadcast).
    pub msg: *mut dispatcher_msg_t,
    /// Private (refcount, free-list link, holder, allocation time).
    _private: [u32; 3],
}

const _: () = {
    assert!(size_of::<pool_msg_t>() == size_of::<Descriptor>());
    assert!(align_of::<pool_msg_t>() == align_of::<Descriptor>());
    assert!(offset_of!(pool_msg_t, msg) == 0);
};

/// A dispatch target: a module's queue plus its mode, as opaque storage. Initialise it with
/// `dispatch_target_init`; a zero-initialised one is refused with -EINVAL by every call.
/// Do not copy or move an initialised target while it is in use.
#[repr(C)]
pub struct dispatch_target_t {
    /// Private.
    _private: [u32; 4],
    /// Private.
    _queue: *mut c_void,
}

const _: () = {
    assert!(size_of::<dispatch_target_t>() == size_of::<Target<ExternQueue>>());
    assert!(align_of::<dispatch_target_t>() == align_of::<Target<ExternQueue>>());
};

/// How a target's queue carries messages.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dispatch_mode {
    /// Items are one `pool_msg_t *` (queue item size `sizeof(void *)`); the receiver calls `msg_unref`.
    Pointer = 1,
    /// Items are whole `dispatcher_msg_t` values (the old path); the receiver gets a copy.
    Value = 2,
}

/// What `pool_try_alloc_or` does when the pool is empty.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pool_fallback {
    /// Give up (counted in `pool_drop_count`).
    Drop = 0,
    /// Allocate a one-off message from the port heap (needs `heap_slots` > 0); `msg_unref`
    /// returns it to the heap. If the heap fails too it is a drop.
    Heap = 1,
}

/// Parameters of `pool_init_ex`.
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

/// Every pool counter, read by `pool_stats` in one call. Counters wrap at 2^32.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pool_stats {
    /// Entries in the pool.
    pub pool_total: u32,
    /// Pool entries held now.
    pub pool_in_use: u32,
    /// Allocations that found the pool empty, or blocking allocations that timed out.
    pub pool_alloc_failures: u32,
    /// Messages the producer gave up on: dropped by the drop policy, refused by a broadcast,
    /// or delivered to no target.
    pub pool_drop_count: u32,
    /// Puts refused by a full queue (or a value queue too small for the message), summed over targets.
    pub enqueue_failures: u32,
    /// Highest `pool_in_use` seen.
    pub high_water: u32,
    /// Successful pool allocations.
    pub allocations: u32,
    /// Pool entries returned to the free list.
    pub frees: u32,
    /// Refused `msg_unref` calls (double unref, NULL, foreign or misaligned pointer).
    pub invalid_unrefs: u32,
    /// Refused `msg_ref` calls (free entry, saturation, bad pointer).
    pub invalid_refs: u32,
    /// Messages allocated from the heap because the pool was empty.
    pub fallback_allocs: u32,
    /// Heap fallback messages held now.
    pub fallback_in_use: u32,
    /// Broadcasts performed.
    pub broadcasts: u32,
    /// Messages released by `dispatch_target_purge`.
    pub purged: u32,
    /// Payload bytes per message.
    pub payload_size: u32,
    /// Bytes from one message to the next in the message region.
    pub stride: u32,
    /// True when the message region is in external RAM (PSRAM), as the port reported.
    pub region_external: bool,
}

/// One target's counters, from `dispatch_target_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct dispatch_target_stats {
    /// Messages delivered to its queue.
    pub delivered: u32,
    /// Puts refused (queue full, or message too long for a value queue).
    pub failed: u32,
    /// Items in its queue now (a snapshot).
    pub queued: u32,
    /// The target's id.
    pub id: u16,
}

/// What `pool_check` found.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pool_check_report {
    /// Entries on the free list.
    pub free: usize,
    /// Pool entries with a refcount > 0.
    pub held: usize,
    /// Heap fallback messages alive.
    pub heap_held: usize,
}

/// One entry held longer than the asked age, from `pool_leaks`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pool_leak {
    /// Descriptor index (heap fallback slots follow the pool entries).
    pub index: u16,
    /// Last holder: a target id, or 0xFFFF for the producer (not yet delivered).
    pub holder: u16,
    /// Its refcount now.
    pub refcount: u32,
    /// Milliseconds since it was allocated.
    pub age_ms: u32,
}
