//! The one place atomics come from: `loom` under `--cfg loom`, `portable-atomic` otherwise.
//!
//! `portable-atomic` gives 32-bit CAS on every target we build for (Xtensa, Cortex-M0,
//! RISC-V without the A extension); loom replaces it in the concurrency models so the
//! same code is model-checked.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU16, AtomicU32};
#[cfg(not(loom))]
pub(crate) use portable_atomic::{fence, AtomicPtr, AtomicU16, AtomicU32};

pub(crate) use core::sync::atomic::Ordering;

/// Defines a constructor that is `const` outside loom (loom atomics have no `const fn new`).
macro_rules! const_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident() -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$m])*
        $vis const fn $name() -> $ret $body
        #[cfg(loom)]
        $(#[$m])*
        $vis fn $name() -> $ret $body
    };
}
pub(crate) use const_fn;
