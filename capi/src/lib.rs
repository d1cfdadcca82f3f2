//! # dispatcher-pool-capi
//!
//! The C API of [`dispatcher-pool`](pool_core): one default pool set up by `pool_init`,
//! `pool_try_alloc`/`pool_alloc_blocking`, `msg_ref`/`msg_unref`, `dispatch_target_*`,
//! `dispatcher_broadcast_ptr`, `dispatcher_receive` and the metrics, as `extern "C"` functions
//! whose header, `include/dispatcher_pool.h`, cbindgen generates from this crate.
//!
//! The OS port is written in C (`include/dispatcher_pool_port.h`: `dispatcher_port_*`): this
//! crate implements the core's [`Port`](pool_core::Port) and [`Queue`](pool_core::Queue) over
//! those functions ([`ExternPort`], [`ExternQueue`]). `tests/c/host_port.c` implements them with
//! pthreads on the host, `zephyr/dispatcher_pool_port.c` with `k_sem`/`k_msgq` on Zephyr.
//!
//! Rust code (a zephyr-lang-rust app) that depends on this crate shares the one pool with C
//! through [`default_pool`]; the core's items are re-exported here, so such an app needs no
//! second dependency.
//!
//! This crate is an `rlib`; the C static library `libdispatcher_pool.a` is the thin wrapper
//! crate `capi/staticlib` (which adds the panic handler a bare-metal static library needs).
//!
//! # Features
//! * `critical-section`, `single-core`: passed to the core for targets without native CAS.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(test)]
extern crate std;

mod api;
mod extern_port;
mod types;

pub use api::*;
pub use extern_port::{ExternPort, ExternQueue};
pub use pool_core::*;
pub use types::*;

/// Build-time sizes (`DISPATCHER_PAYLOAD_MAX`, `DISPATCHER_POOL_HEAP_SLOTS`), see `build.rs`.
mod config {
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}
pub use config::{DISPATCHER_PAYLOAD_MAX, DISPATCHER_POOL_HEAP_SLOTS};
