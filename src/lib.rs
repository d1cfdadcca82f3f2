//! # dispatcher-pool
//!
//! A pool of preallocated, reference-counted dispatcher messages that are broadcast **by
//! pointer** to many modules' queues, for Zephyr (and any `no_std` target) with a `std` host
//! port for tests.
//!
//! ```text
//!  internal SRAM                         PSRAM (message region)
//!  ┌──────────────┐ msg  ┌────────────────────────────────────────┐
//!  │ descriptor 0 │─────▶│ dispatcher_msg_t header │ payload …     │
//!  │ refcount=3   │      └────────────────────────────────────────┘
//!  │ next, holder │
//!  └──────────────┘
//!     ▲   ▲   ▲   one pointer per queue slot, not a 1 KiB copy
//!  ┌──┴┐┌─┴─┐┌┴──┐
//!  │ q ││ q ││ q │  module queues (k_msgq)
//!  └───┘└───┘└───┘
//! ```
//!
//! Where things are:
//! * `freelist` (private, `src/freelist.rs`): the lock-free, ABA-safe LIFO of free entries;
//! * [`descriptor`]: the per-entry bookkeeping and the refcount protocol;
//! * [`header`]: [`MsgHeader`], the fixed part of `dispatcher_msg_t`; [`msg`]: [`Msg`], the handle;
//! * [`pool`]: a pool over the caller's memory: config and layout, allocation (non-blocking,
//!   blocking, heap fallback), `ref`/`unref`, self-check and leak report (one file each);
//! * [`target`]: targets in pointer or value mode; [`broadcast`](Pool::broadcast) in
//!   `broadcast.rs`; [`receive`](Pool::receive) and [`purge`](Pool::purge) in `receive.rs`;
//! * [`port`]: the OS port trait and the queue trait;
//! * [`metrics`]: counters, snapshot, JSON writer; [`sizing`]: the boot-time heuristic;
//! * `timing` (feature `timing`): per-target queue depth and latency histogram;
//! * [`global`]: one static pool (what C's `pool_init` sets up);
//! * `host` (feature `std`): the std port used by tests, benches and the demo.
//!
//! Targets without native CAS (thumbv6m, riscv32imc) need the `critical-section` or the
//! `single-core` feature (see `Cargo.toml`).
//!
//! # Features
//!
//! * `std` (default): the `host` module, a port over std threads for tests, simulations and
//!   host tools. **Firmware depends on the crate with `default-features = false`**:
//!   `dispatcher-pool = { version = "0.1", default-features = false }`.
//! * `critical-section` / `single-core`: CAS for targets without it (pick one).
//! * `timing` (off): per-target average queue depth and broadcast-to-receive latency
//!   (min/p50/p99/max µs) in [`TargetStats`](metrics::TargetStats); see the `timing` module.
//!   Costs 196 bytes per target, 4 per descriptor, a cycle-counter read per broadcast and
//!   per pointer receive, and a queue-length read per delivered target.
//!
//! # Example
//!
//! A pool of 8 messages with 1 KiB payloads, one pointer-mode target, one broadcast (with the
//! `std` host port; on a target, [`Pool::new`] over static memory and your OS [`Port`]):
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use dispatcher_pool::host::{HostPool, HostQueue};
//! use dispatcher_pool::{Mode, PoolConfig, Received, Target, Timeout};
//!
//! let host = HostPool::new(PoolConfig::new(8, 1024)).unwrap();
//! let pool = host.pool();
//! // A module's queue carries one pointer per message (16 slots).
//! let lidar = Target::new(HostQueue::pointers(16), Mode::Pointer, 1).unwrap();
//!
//! let mut m = pool.try_alloc().unwrap(); // never blocks: Err when the pool is empty
//! m.write(b"scan line").unwrap(); // writable while the producer holds the only reference
//! assert_eq!(pool.broadcast(m, &[&lidar]), Ok(1)); // delivered to one target
//!
//! match pool.receive(&lidar, None, Timeout::NoWait) {
//!     Ok(Received::Msg(m)) => assert_eq!(m.payload(), b"scan line"),
//!     _ => unreachable!(),
//! } // the handle is dropped: its reference is released and the entry is free again
//! assert_eq!(pool.snapshot().pool_in_use, 0);
//! assert!(pool.check().is_ok());
//! # }
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod sync;

mod broadcast;
pub mod descriptor;
pub mod error;
mod freelist;
pub mod global;
pub mod header;
pub mod metrics;
pub mod msg;
pub mod pool;
pub mod port;
mod receive;
pub mod sizing;
pub mod target;
#[cfg(feature = "timing")]
pub mod timing;

#[cfg(feature = "std")]
pub mod host;

#[cfg(all(test, loom))]
mod loom_models;

pub use descriptor::Descriptor;
pub use error::PoolError;
pub use header::{MsgHeader, DISPATCHER_PAYLOAD_MAX, DISPATCHER_TARGETS_MAX};
pub use msg::Msg;
pub use pool::{Entry, Fallback, Pool, PoolConfig};
pub use port::{Port, Queue, Timeout};
pub use receive::Received;
pub use target::{Mode, Target};

/// The README's Rust example, compiled and run as a doc test.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
