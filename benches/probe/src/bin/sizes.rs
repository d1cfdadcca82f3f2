//! Type sizes on the probe's target, as the sizes of symbols (`nm -S` reads them back).
#![no_std]
#![no_main]

#[path = "../rt.rs"]
mod rt;

use core::mem::{align_of, size_of};
use dispatcher_pool::header::MsgHeader;
use dispatcher_pool::pool::Pool;
use dispatcher_pool::target::Target;
use dispatcher_pool::{Descriptor, Port, Queue, Timeout};

/// A zero-size port, so `size_of::<Pool<ZPort>>()` is the pool's own state.
pub struct ZPort;
// SAFETY: no heap (the default NULL).
unsafe impl Port for ZPort {
    fn now_ms(&self) -> u32 {
        0
    }
    fn sem_take(&self, _: Timeout) -> bool {
        false
    }
    fn sem_give(&self) {}
}

/// A zero-size queue, so `size_of::<Target<ZQueue>>()` is a target's own state.
pub struct ZQueue;
// SAFETY: forwards to the C port's k_msgq (see capi's ExternQueue).
unsafe impl Queue for ZQueue {
    fn item_size(&self) -> usize {
        0
    }
    unsafe fn try_put(&self, _: *const u8, _: usize) -> bool {
        false
    }
    unsafe fn get(&self, _: *mut u8, _: Timeout) -> bool {
        false
    }
    fn len(&self) -> usize {
        0
    }
    fn purge(&self) -> usize {
        0
    }
}

macro_rules! size_symbol {
    ($name:ident, $n:expr) => {
        #[no_mangle]
        pub static $name: [u8; $n] = [0; $n];
    };
}
size_symbol!(PROBE_SIZEOF_DESCRIPTOR, size_of::<Descriptor>());
size_symbol!(PROBE_SIZEOF_HEADER, size_of::<MsgHeader>());
size_symbol!(PROBE_ALIGNOF_HEADER, align_of::<MsgHeader>());
size_symbol!(PROBE_SIZEOF_POOL, size_of::<Pool<'static, ZPort>>());
size_symbol!(PROBE_SIZEOF_TARGET, size_of::<Target<ZQueue>>());
size_symbol!(PROBE_SIZEOF_PTR, size_of::<usize>());

/// Entry point.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    rt::start(&[
        PROBE_SIZEOF_DESCRIPTOR.as_ptr() as usize,
        PROBE_SIZEOF_HEADER.as_ptr() as usize,
        PROBE_ALIGNOF_HEADER.as_ptr() as usize,
        PROBE_SIZEOF_POOL.as_ptr() as usize,
        PROBE_SIZEOF_TARGET.as_ptr() as usize,
        PROBE_SIZEOF_PTR.as_ptr() as usize,
    ])
}
