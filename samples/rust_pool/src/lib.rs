// SPDX-License-Identifier: Apache-2.0
//! rust_pool: the dispatcher pool from a zephyr-lang-rust application.
//!
//! The pool is created at boot by the module (C, SYS_INIT); Rust reaches the same pool with
//! `dispatcher_pool_capi::default_pool()`, which re-exports the core's Rust API: `Msg` handles
//! (dropping one releases its reference), `Target`s over the C `k_msgq`s, `broadcast`,
//! `receive`, `snapshot`. A C module (src/c_module.c) receives on one of the two targets with
//! msg_pool_module.h, so one message is shared by Rust and C.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt::Write;
use dispatcher_pool_capi::{default_pool, k_msgq, ExternQueue, Mode, Received, Target, Timeout};
use log::{error, info};

const ROUNDS: u32 = 10;

extern "C" {
    fn sample_queue(i: i32) -> *mut k_msgq;
    fn c_module_init() -> i32;
    fn c_module_drain() -> i32;
    fn c_pool_counters(allocations: *mut u32, in_use: *mut u32) -> i32;
}

/// "frame <n>" into a small stack buffer.
struct Line {
    buf: [u8; 16],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        let end = self.len + b.len();
        if end > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(b);
        self.len = end;
        Ok(())
    }
}

fn frame(n: u32) -> Line {
    let mut l = Line { buf: [0; 16], len: 0 };
    let _ = write!(l, "frame {}", n);
    l
}

fn run() -> Result<(), &'static str> {
    let pool = default_pool().map_err(|_| "default_pool(): the boot-time pool is missing")?;
    let s0 = pool.snapshot();
    info!(
        "rust_pool: pool of {} entries x {} B payload (stride {} B) on {}",
        s0.pool_total,
        s0.payload_size,
        s0.stride,
        zephyr::kconfig::CONFIG_BOARD
    );

    // Two pointer-mode targets over the C queues: Rust receives on the first, C on the second.
    // SAFETY: the queues are static K_MSGQ_DEFINE objects, initialised before main.
    let (qa, qb) = unsafe { (ExternQueue::new(sample_queue(0)), ExternQueue::new(sample_queue(1))) };
    let rust_t = Target::new(qa, Mode::Pointer, 100).map_err(|_| "Target::new(rust)")?;
    let c_t = Target::new(qb, Mode::Pointer, 200).map_err(|_| "Target::new(c)")?;
    // SAFETY: plain C function, thread context.
    if unsafe { c_module_init() } != 0 {
        return Err("c_module_init");
    }

    let mut rust_received = 0u32;
    let mut c_received = 0i32;
    for n in 0..ROUNDS {
        // Control-style allocation: wait up to 100 ms for a free entry.
        let mut m = pool
            .alloc_blocking(Timeout::Millis(100))
            .map_err(|_| "alloc_blocking")?;
        let text = frame(n);
        m.write(&text.buf[..text.len]).map_err(|_| "Msg::write")?;
        // A second handle on the same entry: refcount 2; dropping it gives the reference back.
        let extra = m.try_clone().map_err(|_| "Msg::try_clone")?;
        if m.refcount() != 2 {
            return Err("refcount after try_clone is not 2");
        }
        drop(extra);
        // One pointer per target, no copy; the producer's reference is consumed.
        let got = pool.broadcast(m, &[&rust_t, &c_t]).map_err(|_| "broadcast")?;
        if got != 2 {
            return Err("broadcast did not reach both targets");
        }
        match pool.receive(&rust_t, None, Timeout::NoWait) {
            Ok(Received::Msg(r)) => {
                if r.payload() != &text.buf[..text.len] {
                    return Err("payload differs");
                }
                rust_received += 1;
            } // r dropped: Rust's reference released
            _ => return Err("receive on the Rust target"),
        }
        // The C module processes its copy of the pointer (and releases the last reference).
        // SAFETY: plain C function, thread context; nobody else receives on the C queue.
        c_received = unsafe { c_module_drain() };
        if c_received < 0 {
            return Err("C module receive failed");
        }
    }

    // Exhaust the pool: try_alloc fails (never waits), alloc_blocking times out.
    let mut held = Vec::new();
    while let Ok(m) = pool.try_alloc() {
        held.push(m);
    }
    let exhausted_at = held.len();
    let timed_out = pool.alloc_blocking(Timeout::Millis(20)).is_err();
    drop(held); // every reference released: the entries go back to the pool

    let s = pool.snapshot();
    let (mut c_alloc, mut c_in_use) = (0u32, 0u32);
    // SAFETY: two writable u32s.
    if unsafe { c_pool_counters(&mut c_alloc, &mut c_in_use) } != 0 {
        return Err("pool_stats from C");
    }
    let same_pool = c_alloc == s.allocations && c_in_use == s.pool_in_use;
    let ok = rust_received == ROUNDS
        && c_received as u32 == ROUNDS
        && exhausted_at == s.pool_total as usize
        && timed_out
        && s.pool_in_use == 0
        && same_pool
        && s.invalid_unrefs == 0;
    info!(
        "SUMMARY rust_pool: rounds={} rust_received={} c_received={} exhausted_at={} alloc_failures={} in_use={} same_pool={} errors={}",
        ROUNDS,
        rust_received,
        c_received,
        exhausted_at,
        s.pool_alloc_failures,
        s.pool_in_use,
        if same_pool { "yes" } else { "no" },
        if ok { 0 } else { 1 }
    );
    if ok {
        Ok(())
    } else {
        Err("a check failed")
    }
}

#[no_mangle]
extern "C" fn rust_main() {
    // SAFETY: called once at startup, before any other Rust code uses the logger.
    unsafe {
        zephyr::set_logger().unwrap();
    }
    match run() {
        Ok(()) => info!("RESULT: PASS"),
        Err(e) => {
            error!("rust_pool: {}", e);
            info!("RESULT: FAIL");
        }
    }
}
