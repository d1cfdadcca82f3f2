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
    /// Where this message's payload starts (`data` in C): set by the pool for every message,
    /// and by `msg_receive` in a value copy, so that the header can also be read as the real
    /// firmware's `dispatcher_msg_ptr_t` (the same fields with `uint8_t *data`). Never
    /// written by producers or receivers.
    pub data_ptr: *mut u8,
}

impl MsgHeader {
    /// Size of the header; the payload starts this many bytes into a message.
    pub const SIZE: usize = core::mem::size_of::<MsgHeader>();
    /// Alignment the message region and the stride must have.
    pub const ALIGN: usize = core::mem::align_of::<MsgHeader>();

    /// An empty header (all zero, `context` NULL) for the message at `at`: its `data_ptr` is
    /// the payload that follows the header there (`at` is only offset, never dereferenced).
    pub fn empty_at(at: *mut MsgHeader) -> Self {
        MsgHeader {
            message_len: 0,
            source: 0,
            n_targets: 0,
            context: core::ptr::null_mut(),
            targets: [0; DISPATCHER_TARGETS_MAX],
            data_ptr: at.cast::<u8>().wrapping_add(Self::SIZE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_has_no_tail_padding_beyond_alignment() {
        assert_eq!(MsgHeader::SIZE % MsgHeader::ALIGN, 0);
        // data_ptr follows targets[] without padding (DISPATCHER_TARGETS_MAX is a multiple of
        // 8), and data[] follows data_ptr directly in C: the Rust header must end exactly there.
        assert_eq!(
            core::mem::offset_of!(MsgHeader, targets) + DISPATCHER_TARGETS_MAX,
            core::mem::offset_of!(MsgHeader, data_ptr)
        );
        assert_eq!(
            core::mem::offset_of!(MsgHeader, data_ptr) + core::mem::size_of::<*mut u8>(),
            MsgHeader::SIZE
        );
    }

    #[test]
    fn empty_at_points_data_ptr_past_the_header() {
        let mut buf = [0u64; 64];
        let at = buf.as_mut_ptr().cast::<MsgHeader>();
        let h = MsgHeader::empty_at(at);
        assert_eq!(h.data_ptr as usize, at as usize + MsgHeader::SIZE);
    }
}
