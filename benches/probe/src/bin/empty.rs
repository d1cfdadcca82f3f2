//! The probe without the core: the baseline subtracted from `probe-core`.
#![no_std]
#![no_main]

#[path = "../rt.rs"]
mod rt;

/// Entry point.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    rt::start(&[])
}
