//! Build-time sizes of the C API, from the environment of cargo (the Zephyr CMake passes the
//! Kconfig values):
//! * `DISPATCHER_PAYLOAD_MAX` (default 1024): length of `dispatcher_msg_t.data[]` and the
//!   largest `payload_size` `pool_init` accepts;
//! * `DISPATCHER_POOL_HEAP_SLOTS` (default 0): heap fallback slots of `pool_init`
//!   (`pool_init_ex` takes them as a parameter).
//!
//! `DISPATCHER_TARGETS_MAX` is read by the core's build script.
use std::{env, fs, path::PathBuf};

fn var(name: &str, default: usize) -> usize {
    println!("cargo:rerun-if-env-changed={name}");
    env::var(name)
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name} must be an integer, got {v:?}"))
        })
        .unwrap_or(default)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let payload = var("DISPATCHER_PAYLOAD_MAX", 1024);
    assert!(
        (1..=16 * 1024).contains(&payload),
        "DISPATCHER_PAYLOAD_MAX must be in 1..=16384 (the core's payload limit)"
    );
    let heap_slots = var("DISPATCHER_POOL_HEAP_SLOTS", 0);
    assert!(
        heap_slots <= 64,
        "DISPATCHER_POOL_HEAP_SLOTS must be at most 64 (the core's MAX_HEAP_SLOTS)"
    );
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("config.rs");
    fs::write(
        out,
        format!(
            "/// Length of `dispatcher_msg_t.data[]` (build-time `DISPATCHER_PAYLOAD_MAX`, default 1024).\n\
             pub const DISPATCHER_PAYLOAD_MAX: usize = {payload};\n\
             /// Heap fallback slots `pool_init` reserves (build-time `DISPATCHER_POOL_HEAP_SLOTS`, default 0).\n\
             pub const DISPATCHER_POOL_HEAP_SLOTS: usize = {heap_slots};\n"
        ),
    )
    .unwrap();
}
