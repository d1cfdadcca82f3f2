//! Build-time sizes shared with C, read in this one place for every crate of the workspace:
//! * `DISPATCHER_TARGETS_MAX` (default 16, a multiple of 8 in 8..=248): length of
//!   `dispatcher_msg_t.targets[]`;
//! * `DISPATCHER_PAYLOAD_MAX` (default 1024, 1..=16384): length of `dispatcher_msg_t.data[]`,
//!   the largest payload a C pool may have.
//!
//! Each comes from cargo's environment (the Zephyr CMake passes the Kconfig values); failing
//! that, from the Zephyr `.config` named by `DOTCONFIG` (zephyr-lang-rust sets it for a `rustapp`
//! and its dependencies): `CONFIG_DISPATCHER_POOL_TARGETS_MAX`, `CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE`.
use std::{env, fs, path::PathBuf};

/// The Zephyr `.config` named by `DOTCONFIG`, read once.
fn dotconfig() -> Option<String> {
    println!("cargo:rerun-if-env-changed=DOTCONFIG");
    let path = env::var("DOTCONFIG").ok()?;
    println!("cargo:rerun-if-changed={path}");
    fs::read_to_string(path).ok()
}

/// `name` from the environment, else `kconfig` from the `.config`, else `default`.
fn setting(dotconfig: Option<&str>, name: &str, kconfig: &str, default: usize) -> usize {
    println!("cargo:rerun-if-env-changed={name}");
    let prefix = format!("{kconfig}=");
    env::var(name)
        .ok()
        .or_else(|| {
            dotconfig?
                .lines()
                .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
        })
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be an integer, got {v:?}"))
        })
        .unwrap_or(default)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let config = dotconfig();
    let targets = setting(
        config.as_deref(),
        "DISPATCHER_TARGETS_MAX",
        "CONFIG_DISPATCHER_POOL_TARGETS_MAX",
        16,
    );
    // A multiple of 8 keeps `data[]` right after `targets[]` with no padding on 32- and 64-bit
    // targets, so the C struct and `MsgHeader::SIZE` agree.
    assert!(
        (8..=248).contains(&targets) && targets.is_multiple_of(8),
        "DISPATCHER_TARGETS_MAX must be a multiple of 8 in 8..=248"
    );
    let payload = setting(
        config.as_deref(),
        "DISPATCHER_PAYLOAD_MAX",
        "CONFIG_DISPATCHER_POOL_PAYLOAD_SIZE",
        1024,
    );
    assert!(
        (1..=16 * 1024).contains(&payload),
        "DISPATCHER_PAYLOAD_MAX must be in 1..=16384 (the core's payload limit)"
    );
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("config.rs");
    fs::write(
        out,
        format!(
            "/// Length of `dispatcher_msg_t.targets[]` (build-time `DISPATCHER_TARGETS_MAX`, default 16).\n\
             pub const DISPATCHER_TARGETS_MAX: usize = {targets};\n\
             /// Length of `dispatcher_msg_t.data[]`: the largest payload of a C pool (build-time \
             `DISPATCHER_PAYLOAD_MAX`, default 1024).\n\
             pub const DISPATCHER_PAYLOAD_MAX: usize = {payload};\n"
        ),
    )
    .unwrap();
}
