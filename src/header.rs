//! The message layout: a `dispatcher_msg_t` header followed by the payload bytes.
//!
//! Messages live in the caller's message region (PSRAM on target), one every
//! [`stride`](crate::pool::Layout::stride) bytes. They hold no atomics: the refcount and the
//! free-list link are in the [`Descriptor`](crate::descriptor::Descriptor), in internal RAM.

use core::ffi::c_void;

include!(concat!(env!("OUT_DIR"), "/config.rs"));

/// The fixed part of `dispatcher_msg_t` (the C type adds `uint8_t data[DISPATCHER_PAYLOAD_MAX]`).
///
/// The seed's fields, in an order without padding holes on 32- and 64-bit targets.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MsgHeader {
    /// Bytes of `data[]` in use; must not exceed the pool's payload size.
    pub message_len: u32,
    /// Sender module id.
    pub source: u16,
    /// Entries of `targets` in use.
    pub n_targets: u16,
    /// Opaque pointer for the receivers; must stay valid while the message is referenced.
    pub context: *mut c_void,
    /// Ids of the modules the message is addressed to (informational).
    pub targets: [u8; DISPATCHER_TARGETS_MAX],
}

impl MsgHeader {
    /// Size of the header; the payload starts this many bytes into a message.
    pub const SIZE: usize = core::mem::size_of::<MsgHeader>();
    /// Alignment the message region and the stride must have.
    pub const ALIGN: usize = core::mem::align_of::<MsgHeader>();

    /// An empty header (all zero, `context` NULL).
    pub const fn empty() -> Self {
        MsgHeader {
            message_len: 0,
            source: 0,
            n_targets: 0,
            context: core::ptr::null_mut(),
            targets: [0; DISPATCHER_TARGETS_MAX],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_has_no_tail_padding_beyond_alignment() {
        assert_eq!(MsgHeader::SIZE % MsgHeader::ALIGN, 0);
        // data[] follows targets[] directly in C; the Rust header must end exactly there.
        assert_eq!(
            core::mem::offset_of!(MsgHeader, targets) + DISPATCHER_TARGETS_MAX,
            MsgHeader::SIZE
        );
    }
}
