//! # dispatcher-pool-capi
//!
//! The C API of [`dispatcher-pool`](pool_core): pools whose memory C hands in (`struct
//! msg_pool`, `msg_pool_init`; on Zephyr `DISPATCHER_POOL_DEFINE`), allocation per pool
//! (`msg_pool_try_alloc`, `msg_pool_alloc_blocking`), `msg_ref`/`msg_unref` (an entry knows
//! its pool), targets, `msg_broadcast`, `msg_receive` and the metrics, as
//! `extern "C"` functions whose header, `include/msg_pool.h`, cbindgen generates from
//! this crate and the core's `#[repr(C)]` types. The seed's calls (`pool_init`,
//! `pool_try_alloc`, `pool_stats`, ...) act on the default pool (`msg_pool_set_default`).
//!
//! The OS port is written in C (`include/dispatcher_pool_port.h`: `dispatcher_port_*`): this
//! crate implements the core's [`Port`](pool_core::Port) and [`Queue`](pool_core::Queue) over
//! those functions ([`ExternPort`], [`ExternQueue`]). The port only does what the OS must do at
//! run time: a semaphore per pool, queue put/get/peek, the clock, the ISR test and the heap
//! for fallback messages; all pool memory comes in through `struct msg_pool`.
//!
//! Rust code (a zephyr-lang-rust app) that depends on this crate shares the default pool with
//! C through [`default_pool`]; the core's items are re-exported here, so such an app needs no
//! second dependency.
//!
//! This crate is an `rlib`; the C static library `libdispatcher_pool.a` is the thin wrapper
//! crate `capi/staticlib` (which adds the panic handler a bare-metal static library needs).
//!
//! | file | what |
//! |---|---|
//! | `types.rs` | the C types defined here (`dispatcher_msg_t`, `pool_msg_t`, `msg_target_t`, `struct msg_pool`, `struct pool_config`) |
//! | `registry.rs` | the list of created pools, finding an entry's pool, the default pool |
//! | `init.rs` | `msg_pool_init`, `msg_pool_set_default`, `pool_init`, `pool_init_ex` |
//! | `alloc.rs` | allocation per pool and on the default pool |
//! | `refs.rs` | `msg_ref`, `msg_unref`, `msg_pool_of`, `msg_message`, `pool_msg_from_msg` |
//! | `targets.rs` | targets, broadcast, receive, purge |
//! | `diagnostics.rs` | stats, JSON, check, leaks; sizes |
//! | `extern_port.rs`, `convert.rs` | the C port behind the core's traits; C-boundary helpers |
//!
//! # Features
//! * `critical-section`, `single-core`: passed to the core for targets without native CAS.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(test)]
extern crate std;

mod alloc;
mod convert;
mod diagnostics;
mod extern_port;
mod init;
mod refs;
mod registry;
mod targets;
mod types;

pub use alloc::*;
pub use diagnostics::*;
pub use extern_port::{ExternPort, ExternQueue};
pub use init::*;
pub use pool_core::*;
pub use refs::*;
pub use targets::*;
pub use types::*;
