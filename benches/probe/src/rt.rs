//! The minimal runtime every probe binary shares: an entry point that keeps `ROOTS` alive and
//! a panic handler. No linker script: only section sizes matter, not addresses.

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Entry point: makes every address in `roots` reachable so `--gc-sections` keeps it.
pub fn start(roots: &[usize]) -> ! {
    core::hint::black_box(roots);
    loop {
        core::hint::spin_loop();
    }
}
