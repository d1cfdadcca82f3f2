//! Build-time sizes shared with C: `DISPATCHER_TARGETS_MAX` (length of `dispatcher_msg_t.targets[]`).
//!
//! Taken from cargo's environment (the Zephyr CMake passes the Kconfig value); failing that,
//! from `CONFIG_DISPATCHER_POOL_TARGETS_MAX` in the Zephyr `.config` named by `DOTCONFIG`
//! (zephyr-lang-rust sets it for a `rustapp` and its dependencies); default 16.
use std::{env, fs, path::PathBuf};

/// `name` from the environment, else `kconfig` from `$DOTCONFIG`.
fn setting(name: &str, kconfig: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    println!("cargo:rerun-if-env-changed=DOTCONFIG");
    if let Ok(v) = env::var(name) {
        return Some(v);
    }
    let path = env::var("DOTCONFIG").ok()?;
    println!("cargo:rerun-if-changed={path}");
    let text = fs::read_to_string(path).ok()?;
    let prefix = format!("{kconfig}=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let targets: usize = setting(
        "DISPATCHER_TARGETS_MAX",
        "CONFIG_DISPATCHER_POOL_TARGETS_MAX",
    )
    .map(|v| {
        v.parse()
            .expect("DISPATCHER_TARGETS_MAX must be an integer")
    })
    .unwrap_or(16);
    // A multiple of 8 keeps `data[]` right after `targets[]` with no padding on 32- and 64-bit
    // targets, so the C struct and `MsgHeader::SIZE` agree.
    assert!(
        (8..=248).contains(&targets) && targets.is_multiple_of(8),
        "DISPATCHER_TARGETS_MAX must be a multiple of 8 in 8..=248"
    );
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("config.rs");
    fs::write(
        out,
        format!("/// Length of `dispatcher_msg_t.targets[]` (build-time `DISPATCHER_TARGETS_MAX`, default 16).\npub const DISPATCHER_TARGETS_MAX: usize = {targets};\n"),
    )
    .unwrap();
}
