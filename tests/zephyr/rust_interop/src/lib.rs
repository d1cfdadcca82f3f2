// SPDX-License-Identifier: Apache-2.0
//! dispatcher-pool interop: Rust and C use the same pool (one copy of its statics in the image).
#![no_std]

use dispatcher_pool_capi::default_pool;
use log::{error, info};

extern "C" {
    fn c_side_broadcast() -> i32;
    fn c_side_consume() -> i32;
    fn c_side_stats(allocations: *mut u32, in_use: *mut u32, frees: *mut u32) -> i32;
}

fn c_stats() -> (u32, u32, u32) {
    let (mut a, mut u, mut f) = (0, 0, 0);
    // SAFETY: three valid, writable u32s; the C function only writes them.
    let rc = unsafe { c_side_stats(&mut a, &mut u, &mut f) };
    assert_eq!(rc, 0, "pool_stats from C failed");
    (a, u, f)
}

fn run() -> Result<(), &'static str> {
    // Created at boot by the module's SYS_INIT (C), reached from Rust.
    let pool = default_pool().map_err(|_| "default_pool: not initialised")?;
    let before = pool.snapshot();
    let (c_alloc0, _, c_free0) = c_stats();
    if before.allocations != c_alloc0 || before.frees != c_free0 {
        return Err("Rust and C see different counters at start");
    }

    // Rust allocates: C must see it.
    let d = pool.try_alloc_raw().map_err(|_| "Rust try_alloc failed")?;
    let (c_alloc, c_in_use, _) = c_stats();
    info!("after Rust alloc: C sees allocations {} in_use {}", c_alloc, c_in_use);
    if c_alloc != before.allocations + 1 || c_in_use != before.pool_in_use + 1 {
        return Err("C does not see the Rust allocation");
    }

    // C allocates and broadcasts: Rust must see it.
    // SAFETY: plain C function without arguments.
    let delivered = unsafe { c_side_broadcast() };
    if delivered != 1 {
        error!("c_side_broadcast: {}", delivered);
        return Err("C broadcast failed");
    }
    let mid = pool.snapshot();
    info!("after C alloc: Rust sees allocations {} in_use {}", mid.allocations, mid.pool_in_use);
    if mid.allocations != before.allocations + 2 || mid.pool_in_use != before.pool_in_use + 2 {
        return Err("Rust does not see the C allocation");
    }

    // Release both, each from the other side's allocation path.
    // SAFETY: `d` came from `try_alloc_raw` above and its one reference (the producer's) is
    // owned here; nothing else uses it, and it is given up by this call.
    unsafe { pool.unref_raw(d) }.map_err(|_| "Rust unref failed")?;
    // SAFETY: plain C function without arguments.
    if unsafe { c_side_consume() } != 0xC0 {
        return Err("C consume failed");
    }
    let end = pool.snapshot();
    let (c_alloc, c_in_use, c_free) = c_stats();
    info!(
        "end: Rust allocations {} frees {} in_use {}; C allocations {} frees {} in_use {}",
        end.allocations, end.frees, end.pool_in_use, c_alloc, c_free, c_in_use
    );
    if end.pool_in_use != 0 || c_in_use != 0 || end.allocations != c_alloc || end.frees != c_free
    {
        return Err("counters differ at the end");
    }
    pool.check().map_err(|_| "pool check failed")?;
    Ok(())
}

#[no_mangle]
extern "C" fn rust_main() {
    // SAFETY: called once at startup before any other Rust code runs.
    unsafe {
        zephyr::set_logger().unwrap();
    }
    match run() {
        Ok(()) => info!("rust_interop: PASS"),
        Err(e) => error!("rust_interop: FAIL: {}", e),
    }
}
