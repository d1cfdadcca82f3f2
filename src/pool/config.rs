//! Pool parameters ([`PoolConfig`]) and the memory layout they imply ([`Layout`]).

use crate::descriptor::Descriptor;
use crate::error::PoolError;
use crate::freelist::MAX_INDEX_ENTRIES;
use crate::header::MsgHeader;

/// Default upper bound on `entries` (the design's 1..=1024).
pub const DEFAULT_MAX_ENTRIES: usize = crate::sizing::DISPATCHER_POOL_MAX_ENTRIES as usize;
/// Default upper bound on `payload_size`.
pub const DEFAULT_MAX_PAYLOAD: usize = 16 * 1024;
/// Most heap fallback messages that can be alive at once.
pub const MAX_HEAP_SLOTS: usize = 64;

/// Pool parameters, checked by [`Pool::new`](crate::Pool::new).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Pool entries, `1..=max_entries`.
    pub entries: usize,
    /// Payload bytes per message, `1..=max_payload`.
    pub payload_size: usize,
    /// Upper bound on `entries` (default 1024; at most 65,470).
    pub max_entries: usize,
    /// Upper bound on `payload_size` (default 16 KiB). Whatever it is, a configuration whose
    /// region (`entries * stride_for(payload_size)`) exceeds `u32::MAX` bytes is refused.
    pub max_payload: usize,
    /// Descriptors reserved for heap fallback messages (0 disables [`Fallback::Heap`](crate::Fallback::Heap)).
    pub heap_slots: usize,
}

impl PoolConfig {
    /// `entries` messages of `payload_size` bytes, default limits, no heap fallback.
    pub const fn new(entries: usize, payload_size: usize) -> Self {
        PoolConfig {
            entries,
            payload_size,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_payload: DEFAULT_MAX_PAYLOAD,
            heap_slots: 0,
        }
    }

    /// The same with `slots` heap fallback descriptors.
    pub const fn with_heap_slots(mut self, slots: usize) -> Self {
        self.heap_slots = slots;
        self
    }

    /// Checks the parameters and computes the memory layout.
    pub const fn layout(&self) -> Result<Layout, PoolError> {
        let limit = MAX_INDEX_ENTRIES - MAX_HEAP_SLOTS;
        let max_entries = if self.max_entries < limit {
            self.max_entries
        } else {
            limit
        };
        if self.entries == 0 || self.entries > max_entries {
            return Err(PoolError::BadEntryCount);
        }
        if self.payload_size == 0
            || self.payload_size > self.max_payload
            || self.payload_size > u32::MAX as usize / 2
        {
            return Err(PoolError::BadPayloadSize);
        }
        if self.heap_slots > MAX_HEAP_SLOTS {
            return Err(PoolError::BadEntryCount);
        }
        let stride = stride_for(self.payload_size);
        // The region (entries * stride bytes) must be addressable on the 32-bit targets: a
        // product above u32::MAX wraps there, and `Pool::new` would then accept a region far
        // too small and write headers past its end. Refused on every target alike.
        match self.entries.checked_mul(stride) {
            Some(bytes) if bytes <= u32::MAX as usize => {}
            _ => return Err(PoolError::BadPayloadSize),
        }
        Ok(Layout {
            entries: self.entries,
            heap_slots: self.heap_slots,
            payload_size: self.payload_size,
            stride,
        })
    }
}

/// Bytes from one message to the next for `payload_size` payload bytes: the header plus the
/// payload, rounded up to the header's alignment (C: `DISPATCHER_POOL_STRIDE(payload)`).
pub const fn stride_for(payload_size: usize) -> usize {
    (MsgHeader::SIZE + payload_size).next_multiple_of(MsgHeader::ALIGN)
}

/// Where things go, computed from a [`PoolConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Pool entries.
    pub entries: usize,
    /// Heap fallback descriptors after the pool's.
    pub heap_slots: usize,
    /// Payload bytes per message.
    pub payload_size: usize,
    /// Bytes from one message to the next ([`stride_for`] of the payload size).
    pub stride: usize,
}

impl Layout {
    /// Descriptors the pool needs (`entries + heap_slots`).
    pub const fn descriptors(&self) -> usize {
        self.entries + self.heap_slots
    }
    /// Bytes the message region needs.
    pub const fn region_bytes(&self) -> usize {
        self.entries * self.stride
    }
    /// Alignment the message region needs.
    pub const fn region_align(&self) -> usize {
        MsgHeader::ALIGN
    }
    /// Bytes of the descriptor slice (internal RAM).
    pub const fn descriptor_bytes(&self) -> usize {
        self.descriptors() * core::mem::size_of::<Descriptor>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked() {
        assert_eq!(
            PoolConfig::new(0, 8).layout().err(),
            Some(PoolError::BadEntryCount)
        );
        assert_eq!(
            PoolConfig::new(1025, 8).layout().err(),
            Some(PoolError::BadEntryCount)
        );
        assert_eq!(
            PoolConfig::new(8, 0).layout().err(),
            Some(PoolError::BadPayloadSize)
        );
        assert_eq!(
            PoolConfig::new(8, DEFAULT_MAX_PAYLOAD + 1).layout().err(),
            Some(PoolError::BadPayloadSize)
        );
        assert_eq!(
            PoolConfig::new(1, 1)
                .with_heap_slots(MAX_HEAP_SLOTS + 1)
                .layout()
                .err(),
            Some(PoolError::BadEntryCount)
        );
        let l = PoolConfig::new(1024, 1).layout().unwrap();
        assert_eq!(l.stride % MsgHeader::ALIGN, 0);
        assert!(l.stride > MsgHeader::SIZE);
    }

    #[test]
    fn a_region_above_4_gib_is_refused_on_every_target() {
        // Found by the `json` fuzz target's layout property: 2 * stride_for(2^31 - 1) is
        // 4,294,967,360, which wraps to 64 on a 32-bit usize.
        let mut cfg = PoolConfig::new(2, (1 << 31) - 1);
        cfg.max_payload = usize::MAX;
        assert_eq!(cfg.layout().err(), Some(PoolError::BadPayloadSize));
        let mut cfg = PoolConfig::new(1, (1 << 31) - 1);
        cfg.max_payload = usize::MAX;
        let l = cfg.layout().unwrap();
        assert!(l.region_bytes() as u64 <= u32::MAX as u64);
        let mut cfg = PoolConfig::new(65_470, 65_600);
        (cfg.max_entries, cfg.max_payload) = (usize::MAX, usize::MAX);
        assert_eq!(cfg.layout().err(), Some(PoolError::BadPayloadSize));
    }

    #[test]
    fn region_costs_header_plus_payload_per_entry() {
        let l = PoolConfig::new(32, 64).layout().unwrap();
        assert_eq!(l.stride, MsgHeader::SIZE + 64);
        assert_eq!(l.region_bytes(), 32 * (MsgHeader::SIZE + 64));
        let l = PoolConfig::new(4, 255).layout().unwrap();
        assert_eq!(l.stride % MsgHeader::ALIGN, 0);
        assert!(l.stride - (MsgHeader::SIZE + 255) < MsgHeader::ALIGN);
    }
}
