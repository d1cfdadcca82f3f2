//! Build-time sizes shared with C: `DISPATCHER_TARGETS_MAX` (length of `dispatcher_msg_t.targets[]`).
//! Set it in the environment of cargo (the Zephyr CMake passes the Kconfig value); default 16.
use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=DISPATCHER_TARGETS_MAX");
    println!("cargo:rerun-if-changed=build.rs");
    let targets: usize = env::var("DISPATCHER_TARGETS_MAX")
        .ok()
        .map(|v| {
            v.parse()
                .expect("DISPATCHER_TARGETS_MAX must be an integer")
        })
        .unwrap_or(16);
    // A multiple of 8 keeps `data[]` right after `targets[]` with no padding on 32- and 64-bit
    // targets, so the C struct and `MsgHeader::SIZE` agree.
    assert!(
        (8..=248).contains(&targets) && targets % 8 == 0,
        "DISPATCHER_TARGETS_MAX must be a multiple of 8 in 8..=248"
    );
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("config.rs");
    fs::write(
        out,
        format!("/// Length of `dispatcher_msg_t.targets[]` (build-time `DISPATCHER_TARGETS_MAX`, default 16).\npub const DISPATCHER_TARGETS_MAX: usize = {targets};\n"),
    )
    .unwrap();
}
