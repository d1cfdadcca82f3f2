//! Build-time sizes of the C API, from the environment of cargo (the Zephyr CMake passes the
//! Kconfig values):
//! * `DISPATCHER_PAYLOAD_MAX` (default 1024): length of `dispatcher_msg_t.data[]` and the
//!   largest `payload_size` `pool_init` accepts;
//! * `DISPATCHER_POOL_HEAP_SLOTS` (default 0): heap fallback slots of `pool_init`
//!   (`pool_init_ex` takes them as a parameter).
//!
//! Failing the environment, each is read from the Zephyr `.config` named by `DOTCONFIG`
//! (zephyr-lang-rust sets it for a `rustapp` and its dependencies):
//! `CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE`, `CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS`.
//!
//! `DISPATCHER_TARGETS_MAX` is read by the core's build script.
use std::{env, fs, path::PathBuf};

fn kconfig(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed=DOTCONFIG");
    let path = env::var("DOTCONFIG").ok()?;
    println!("cargo:rerun-if-changed={path}");
    let text = fs::read_to_string(path).ok()?;
    let prefix = format!("{name}=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
}

fn var(name: &str, config: &str, default: usize) -> usize {
    println!("cargo:rerun-if-env-changed={name}");
    env::var(name)
        .ok()
        .or_else(|| kconfig(config))
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name} must be an integer, got {v:?}"))
        })
        .unwrap_or(default)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let payload = var(
        "DISPATCHER_PAYLOAD_MAX",
        "CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE",
        1024,
    );
    assert!(
        (1..=16 * 1024).contains(&payload),
        "DISPATCHER_PAYLOAD_MAX must be in 1..=16384 (the core's payload limit)"
    );
    let heap_slots = var(
        "DISPATCHER_POOL_HEAP_SLOTS",
        "CONFIG_DISPATCHER_POOL_HEAP_FALLBACK_SLOTS",
        0,
    );
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
