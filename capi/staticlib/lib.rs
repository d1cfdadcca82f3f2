//! `libdispatcher_pool.a`: the `extern "C"` functions of `dispatcher-pool-capi` in a static
//! library for C firmware, plus the panic handler a bare-metal static library needs
//! (feature `panic-handler`; on the host, feature `std` provides it).
//!
//! Rust applications (zephyr-lang-rust) do not use this crate: they depend on
//! `dispatcher-pool-capi` directly and their own static library exports the same functions.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]

#[cfg(all(feature = "std", feature = "panic-handler"))]
compile_error!("features `std` and `panic-handler` are exclusive: use `--no-default-features --features panic-handler` for bare metal");

#[cfg(feature = "std")]
extern crate std;

// Linked in full: its `#[no_mangle]` functions are the library's exports.
pub use dispatcher_pool_capi;

#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    extern "C" {
        fn abort() -> !;
    }
    // SAFETY: `abort` is the C library's (Zephyr's minimal libc and picolibc both provide it);
    // it takes no arguments and does not return.
    unsafe { abort() }
}
