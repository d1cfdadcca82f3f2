//! Counters, the metrics snapshot and its JSON writer (into a caller's buffer, no heap).
//!
//! Counters are relaxed `u32` atomics (Xtensa has no 64-bit atomics); they wrap after
//! 2³² events and differences such as `allocations - frees` are taken with wrapping arithmetic.

use crate::sync::{const_fn, AtomicU32, Ordering};
use core::fmt::{self, Write};

/// The pool's live counters.
pub(crate) struct Counters {
    pub(crate) allocations: AtomicU32,
    /// Exact: incremented at allocation, decremented at the last unref.
    pub(crate) in_use: AtomicU32,
    pub(crate) alloc_failures: AtomicU32,
    pub(crate) drops: AtomicU32,
    pub(crate) enqueue_failures: AtomicU32,
    pub(crate) high_water: AtomicU32,
    pub(crate) invalid_unrefs: AtomicU32,
    pub(crate) invalid_refs: AtomicU32,
    pub(crate) fallback_allocs: AtomicU32,
    pub(crate) fallback_frees: AtomicU32,
    pub(crate) broadcasts: AtomicU32,
    pub(crate) purged: AtomicU32,
}

impl Counters {
    const_fn! {
        pub(crate) fn new() -> Counters {
            Counters {
                allocations: AtomicU32::new(0),
                in_use: AtomicU32::new(0),
                alloc_failures: AtomicU32::new(0),
                drops: AtomicU32::new(0),
                enqueue_failures: AtomicU32::new(0),
                high_water: AtomicU32::new(0),
                invalid_unrefs: AtomicU32::new(0),
                invalid_refs: AtomicU32::new(0),
                fallback_allocs: AtomicU32::new(0),
                fallback_frees: AtomicU32::new(0),
                broadcasts: AtomicU32::new(0),
                purged: AtomicU32::new(0),
            }
        }
    }

    #[inline]
    pub(crate) fn bump(c: &AtomicU32) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an allocation of a pool entry and raises the high-water mark.
    #[inline]
    pub(crate) fn on_alloc(&self) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        let in_use = self.in_use.fetch_add(1, Ordering::Relaxed) + 1;
        if in_use > self.high_water.load(Ordering::Relaxed) {
            self.high_water.fetch_max(in_use, Ordering::Relaxed);
        }
    }

    /// Records a pool entry returned to the free list.
    #[inline]
    pub(crate) fn on_free(&self) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
    }

    /// Entries of the pool held now.
    #[inline]
    pub(crate) fn in_use(&self) -> u32 {
        self.in_use.load(Ordering::Relaxed)
    }
}

/// A copy of every pool counter, read in one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Entries in the pool.
    pub pool_total: u32,
    /// Pool entries held now.
    pub pool_in_use: u32,
    /// `try_alloc` found the pool empty, or a blocking allocation timed out.
    pub pool_alloc_failures: u32,
    /// Messages the producer gave up on: dropped by the drop policy, or delivered to no target.
    pub pool_drop_count: u32,
    /// Puts refused by a full queue, summed over targets.
    pub enqueue_failures: u32,
    /// Highest `pool_in_use` seen.
    pub high_water: u32,
    /// Successful pool allocations.
    pub allocations: u32,
    /// Pool entries returned to the free list (`allocations - pool_in_use`).
    pub frees: u32,
    /// Refused `unref` calls (double unref, NULL, foreign or misaligned pointer).
    pub invalid_unrefs: u32,
    /// Refused `ref` calls (free entry, saturation, bad pointer).
    pub invalid_refs: u32,
    /// Messages allocated from the heap because the pool was empty.
    pub fallback_allocs: u32,
    /// Heap fallback messages held now.
    pub fallback_in_use: u32,
    /// Broadcasts performed.
    pub broadcasts: u32,
    /// Messages released by `target_purge`.
    pub purged: u32,
    /// Payload bytes per message.
    pub payload_size: u32,
    /// Bytes between two messages in the message region.
    pub stride: u32,
}

impl Counters {
    pub(crate) fn snapshot(&self, pool_total: u32, payload_size: u32, stride: u32) -> Snapshot {
        let r = |c: &AtomicU32| c.load(Ordering::Relaxed);
        let fallback_allocs = r(&self.fallback_allocs);
        let in_use = self.in_use();
        let allocations = r(&self.allocations);
        Snapshot {
            pool_total,
            pool_in_use: in_use,
            pool_alloc_failures: r(&self.alloc_failures),
            pool_drop_count: r(&self.drops),
            enqueue_failures: r(&self.enqueue_failures),
            high_water: r(&self.high_water),
            allocations,
            frees: allocations.wrapping_sub(in_use),
            invalid_unrefs: r(&self.invalid_unrefs),
            invalid_refs: r(&self.invalid_refs),
            fallback_allocs,
            fallback_in_use: fallback_allocs.wrapping_sub(r(&self.fallback_frees)),
            broadcasts: r(&self.broadcasts),
            purged: r(&self.purged),
            payload_size,
            stride,
        }
    }
}

/// One target's counters, for the JSON writer and the shell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetStats {
    /// The target's id.
    pub id: u16,
    /// Messages delivered to its queue.
    pub delivered: u32,
    /// Puts refused (queue full or message too long for a value queue).
    pub failed: u32,
    /// Items in its queue now.
    pub queued: u32,
}

/// A `fmt::Write` over a byte slice that fails instead of truncating.
pub struct SliceWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> SliceWriter<'b> {
    /// A writer filling `buf` from the start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        SliceWriter { buf, len: 0 }
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }
    /// `true` when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Snapshot {
    /// Writes the snapshot (and `targets`, if any) as one JSON object into `buf`, followed by
    /// a NUL byte not counted in the returned length (so C can print it as a string).
    ///
    /// ```
    /// use dispatcher_pool::metrics::Snapshot;
    /// let s = Snapshot { pool_total: 8, pool_in_use: 3, ..Snapshot::default() };
    /// let mut buf = [0u8; 512];
    /// let n = s.write_json(&[], &mut buf).unwrap();
    /// let json = core::str::from_utf8(&buf[..n]).unwrap();
    /// assert!(json.starts_with("{\"pool_total\":8,\"pool_in_use\":3,"));
    /// ```
    pub fn write_json(
        &self,
        targets: &[TargetStats],
        buf: &mut [u8],
    ) -> Result<usize, crate::PoolError> {
        let mut w = SliceWriter::new(buf);
        self.write_json_fmt(targets, &mut w)
            .map_err(|_| crate::PoolError::BufferTooSmall)?;
        let n = w.len();
        // NUL terminator for C.
        w.write_str("\0")
            .map_err(|_| crate::PoolError::BufferTooSmall)?;
        Ok(n)
    }

    fn write_json_fmt(&self, targets: &[TargetStats], w: &mut impl Write) -> fmt::Result {
        write!(
            w,
            "{{\"pool_total\":{},\"pool_in_use\":{},\"pool_alloc_failures\":{},\"pool_drop_count\":{},\
             \"enqueue_failures\":{},\"high_water\":{},\"allocations\":{},\"frees\":{},\
             \"invalid_unrefs\":{},\"invalid_refs\":{},\"fallback_allocs\":{},\"fallback_in_use\":{},\
             \"broadcasts\":{},\"purged\":{},\"payload_size\":{},\"stride\":{},\"targets\":[",
            self.pool_total,
            self.pool_in_use,
            self.pool_alloc_failures,
            self.pool_drop_count,
            self.enqueue_failures,
            self.high_water,
            self.allocations,
            self.frees,
            self.invalid_unrefs,
            self.invalid_refs,
            self.fallback_allocs,
            self.fallback_in_use,
            self.broadcasts,
            self.purged,
            self.payload_size,
            self.stride,
        )?;
        for (i, t) in targets.iter().enumerate() {
            if i > 0 {
                w.write_str(",")?;
            }
            write!(
                w,
                "{{\"id\":{},\"delivered\":{},\"failed\":{},\"queued\":{}}}",
                t.id, t.delivered, t.failed, t.queued
            )?;
        }
        w.write_str("]}")
    }
}

impl fmt::Display for Snapshot {
    /// A two-column table, as the shell prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: [(&str, u32); 16] = [
            ("pool_total", self.pool_total),
            ("pool_in_use", self.pool_in_use),
            ("pool_alloc_failures", self.pool_alloc_failures),
            ("pool_drop_count", self.pool_drop_count),
            ("enqueue_failures", self.enqueue_failures),
            ("high_water", self.high_water),
            ("allocations", self.allocations),
            ("frees", self.frees),
            ("invalid_unrefs", self.invalid_unrefs),
            ("invalid_refs", self.invalid_refs),
            ("fallback_allocs", self.fallback_allocs),
            ("fallback_in_use", self.fallback_in_use),
            ("broadcasts", self.broadcasts),
            ("purged", self.purged),
            ("payload_size", self.payload_size),
            ("stride", self.stride),
        ];
        for (name, v) in rows {
            writeln!(f, "{name:<20} {v}")?;
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn json_refuses_a_short_buffer_instead_of_truncating() {
        let s = Snapshot::default();
        let mut buf = [0u8; 40];
        assert_eq!(
            s.write_json(&[], &mut buf),
            Err(crate::PoolError::BufferTooSmall)
        );
    }

    #[test]
    fn json_lists_targets_and_is_nul_terminated() {
        let s = Snapshot {
            enqueue_failures: 7,
            ..Snapshot::default()
        };
        let t = [
            TargetStats {
                id: 1,
                delivered: 5,
                failed: 0,
                queued: 2,
            },
            TargetStats {
                id: 2,
                delivered: 3,
                failed: 7,
                queued: 0,
            },
        ];
        let mut buf = [0xffu8; 1024];
        let n = s.write_json(&t, &mut buf).unwrap();
        let json = core::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(buf[n], 0);
        assert!(json.contains("\"enqueue_failures\":7"));
        assert!(json.ends_with(
            "\"targets\":[{\"id\":1,\"delivered\":5,\"failed\":0,\"queued\":2},{\"id\":2,\"delivered\":3,\"failed\":7,\"queued\":0}]}"
        ));
    }

    #[test]
    fn high_water_follows_the_peak() {
        let c = Counters::new();
        c.on_alloc();
        c.on_alloc();
        c.on_free();
        c.on_alloc();
        assert_eq!(c.high_water.load(Ordering::Relaxed), 2);
        assert_eq!(c.in_use(), 2);
    }
}
