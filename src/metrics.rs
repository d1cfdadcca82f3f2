//! Counters, the metrics snapshot and its JSON writer (into a caller's buffer, no heap).
//!
//! Counters are relaxed `u32` atomics (Xtensa has no 64-bit atomics); they wrap after
//! 2³² events and differences such as `allocations - frees` are taken with wrapping arithmetic.

use crate::sync::{const_fn, AtomicU32, Ordering};
use core::fmt;

/// The pool's live counters: only events off the allocation fast path. `pool_in_use`,
/// `allocations`, `frees` and `high_water` are not kept here: [`Pool::snapshot`] derives them
/// from the entries (refcounts, per-entry allocation counts) and the free list's depth mark, so
/// a successful `try_alloc` + last unref touches no counter at all.
///
/// [`Pool::snapshot`]: crate::Pool::snapshot
pub(crate) struct Counters {
    pub(crate) alloc_failures: AtomicU32,
    pub(crate) drops: AtomicU32,
    pub(crate) enqueue_failures: AtomicU32,
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
                alloc_failures: AtomicU32::new(0),
                drops: AtomicU32::new(0),
                enqueue_failures: AtomicU32::new(0),
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
}

/// What [`Pool::snapshot`](crate::Pool::snapshot) derives from the entries at snapshot time.
pub(crate) struct Derived {
    pub(crate) pool_total: u32,
    pub(crate) in_use: u32,
    pub(crate) allocations: u32,
    pub(crate) high_water: u32,
    pub(crate) payload_size: u32,
    pub(crate) stride: u32,
}

/// A copy of every pool counter, read in one call (C: `struct pool_stats`). Counters wrap at 2³².
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Snapshot {
    /// Entries in the pool.
    pub pool_total: u32,
    /// Pool entries held now (entries whose refcount is not 0).
    pub pool_in_use: u32,
    /// `try_alloc` found the pool empty, or a blocking allocation timed out.
    pub pool_alloc_failures: u32,
    /// Messages the producer gave up on: dropped by the drop policy, or delivered to no target.
    pub pool_drop_count: u32,
    /// Puts refused by a full queue, summed over targets.
    pub enqueue_failures: u32,
    /// Highest `pool_in_use` seen (the number of distinct entries ever allocated: the free
    /// list is a LIFO that starts in index order, so it only reaches a new entry when every
    /// entry it handed out before is in use).
    pub high_water: u32,
    /// Successful pool allocations (the sum of the entries' allocation counts).
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
    /// Broadcasts that went ahead (refused calls are not counted here: they count a drop).
    pub broadcasts: u32,
    /// Messages released by `target_purge`.
    pub purged: u32,
    /// Payload bytes per message.
    pub payload_size: u32,
    /// Bytes between two messages in the message region.
    pub stride: u32,
}

// `Snapshot::values` relies on this: 16 `u32` fields, no padding.
const _: () = assert!(core::mem::size_of::<Snapshot>() == 16 * 4);

impl Counters {
    pub(crate) fn snapshot(&self, d: Derived) -> Snapshot {
        let r = |c: &AtomicU32| c.load(Ordering::Relaxed);
        let fallback_allocs = r(&self.fallback_allocs);
        Snapshot {
            pool_total: d.pool_total,
            pool_in_use: d.in_use,
            pool_alloc_failures: r(&self.alloc_failures),
            pool_drop_count: r(&self.drops),
            enqueue_failures: r(&self.enqueue_failures),
            high_water: d.high_water,
            allocations: d.allocations,
            frees: d.allocations.wrapping_sub(d.in_use),
            invalid_unrefs: r(&self.invalid_unrefs),
            invalid_refs: r(&self.invalid_refs),
            fallback_allocs,
            fallback_in_use: fallback_allocs.wrapping_sub(r(&self.fallback_frees)),
            broadcasts: r(&self.broadcasts),
            purged: r(&self.purged),
            payload_size: d.payload_size,
            stride: d.stride,
        }
    }
}

/// One target's counters, for the JSON writer and the shell (C: `struct msg_target_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct TargetStats {
    /// Messages delivered to its queue.
    pub delivered: u32,
    /// Puts refused (queue full or message too long for a value queue).
    pub failed: u32,
    /// Items in its queue now (a snapshot).
    pub queued: u32,
    /// Feature `timing` (as the six below; C: `CONFIG_DISPATCHER_POOL_TIMING`): the average
    /// queue length after a successful put, ×100 (250 = 2.5 items).
    #[cfg(feature = "timing")]
    pub avg_depth_x100: u32,
    /// Depth samples behind `avg_depth_x100` (halved with the sum before 2³¹).
    #[cfg(feature = "timing")]
    pub depth_samples: u32,
    /// Broadcast-to-receive latencies recorded (pointer-mode receives only; wrapping).
    #[cfg(feature = "timing")]
    pub latency_count: u32,
    /// Smallest latency, µs.
    #[cfg(feature = "timing")]
    pub latency_min_us: u32,
    /// Median latency, µs (log-histogram estimate, within 25 %).
    #[cfg(feature = "timing")]
    pub latency_p50_us: u32,
    /// 99th-percentile latency, µs (log-histogram estimate, within 25 %).
    #[cfg(feature = "timing")]
    pub latency_p99_us: u32,
    /// Largest latency, µs.
    #[cfg(feature = "timing")]
    pub latency_max_us: u32,
    /// The target's id.
    pub id: u16,
}

/// A JSON writer into a byte slice that fails instead of truncating. It formats integers
/// itself, so the JSON path pulls no `core::fmt` machinery into a firmware image.
pub struct JsonWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    overflow: bool,
}

impl<'b> JsonWriter<'b> {
    /// A writer filling `buf` from the start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        JsonWriter {
            buf,
            len: 0,
            overflow: false,
        }
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }
    /// `true` when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Appends raw bytes (already valid JSON).
    #[inline(never)]
    pub fn raw(&mut self, s: &[u8]) -> &mut Self {
        match self.len.checked_add(s.len()) {
            Some(end) if end <= self.buf.len() && !self.overflow => {
                self.buf[self.len..end].copy_from_slice(s);
                self.len = end;
            }
            _ => self.overflow = true,
        }
        self
    }
    /// Appends `v` in decimal.
    #[inline(never)]
    pub fn uint(&mut self, mut v: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.raw(&digits[i..])
    }
    /// Appends `s` as a JSON string (quoted; `"`, `\` and control characters escaped). JSON
    /// text is UTF-8: each invalid UTF-8 sequence in `s` is written as U+FFFD, as
    /// `String::from_utf8_lossy` does (found by the `json` fuzz target).
    #[inline(never)]
    pub fn string(&mut self, s: &[u8]) -> &mut Self {
        self.raw(b"\"");
        for chunk in s.utf8_chunks() {
            for &c in chunk.valid().as_bytes() {
                match c {
                    b'"' => self.raw(b"\\\""),
                    b'\\' => self.raw(b"\\\\"),
                    0..=0x1f => {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        self.raw(&[
                            b'\\',
                            b'u',
                            b'0',
                            b'0',
                            HEX[(c >> 4) as usize],
                            HEX[(c & 15) as usize],
                        ])
                    }
                    _ => self.raw(&[c]),
                };
            }
            if !chunk.invalid().is_empty() {
                self.raw("\u{FFFD}".as_bytes());
            }
        }
        self.raw(b"\"")
    }
    /// Appends `"key":v`, preceded by a comma unless `first`.
    pub fn field(&mut self, first: bool, key: &str, v: u32) -> &mut Self {
        if !first {
            self.raw(b",");
        }
        self.string(key.as_bytes()).raw(b":").uint(v)
    }
    /// [`field`](Self::field) for a key known to need no escaping (the crate's own names).
    #[inline(never)]
    fn plain_field(&mut self, first: bool, key: &str, v: u32) -> &mut Self {
        self.raw(if first { b"\"" } else { b",\"" })
            .raw(key.as_bytes())
            .raw(b"\":")
            .uint(v)
    }
    /// Ends the text with a NUL byte not counted in the length (for C); the length, or
    /// [`PoolError::BufferTooSmall`](crate::PoolError::BufferTooSmall) if anything did not fit.
    pub fn finish(mut self) -> Result<usize, crate::PoolError> {
        let n = self.len;
        self.raw(b"\0");
        if self.overflow {
            Err(crate::PoolError::BufferTooSmall)
        } else {
            Ok(n)
        }
    }
}

impl Snapshot {
    /// The counters' names, in field order (the order the JSON writer and the shell print them).
    pub const NAMES: [&'static str; 16] = [
        "pool_total",
        "pool_in_use",
        "pool_alloc_failures",
        "pool_drop_count",
        "enqueue_failures",
        "high_water",
        "allocations",
        "frees",
        "invalid_unrefs",
        "invalid_refs",
        "fallback_allocs",
        "fallback_in_use",
        "broadcasts",
        "purged",
        "payload_size",
        "stride",
    ];

    /// The counters as an array, in field order.
    pub fn values(&self) -> [u32; 16] {
        // SAFETY: `Snapshot` is `repr(C)` with exactly 16 `u32` fields and no padding (size
        // checked below), which is the layout of `[u32; 16]`; `Snapshot` is `Copy`.
        unsafe { core::mem::transmute::<Snapshot, [u32; 16]>(*self) }
    }

    /// The counters by name, in the order the JSON writer and the shell print them.
    pub fn fields(&self) -> [(&'static str, u32); 16] {
        let v = self.values();
        core::array::from_fn(|i| (Self::NAMES[i], v[i]))
    }

    /// Writes the snapshot (and `targets`, if any) as one JSON object into `buf`, followed by
    /// a NUL byte not counted in the returned length (so C can print it as a string). A
    /// non-empty `name` comes first as `"name":"..."`.
    ///
    /// ```
    /// use dispatcher_pool::metrics::Snapshot;
    /// let s = Snapshot { pool_total: 8, pool_in_use: 3, ..Snapshot::default() };
    /// let mut buf = [0u8; 512];
    /// let n = s.write_json("control", &[], &mut buf).unwrap();
    /// let json = core::str::from_utf8(&buf[..n]).unwrap();
    /// assert!(json.starts_with("{\"name\":\"control\",\"pool_total\":8,\"pool_in_use\":3,"));
    /// ```
    pub fn write_json(
        &self,
        name: &str,
        targets: &[TargetStats],
        buf: &mut [u8],
    ) -> Result<usize, crate::PoolError> {
        let mut w = JsonWriter::new(buf);
        self.write_json_to(name, Some(targets), &mut w);
        w.finish()
    }

    /// [`write_json`](Self::write_json) into a writer (to put several pools in one array);
    /// without `targets` the object has no `"targets"` key.
    pub fn write_json_to(
        &self,
        name: &str,
        targets: Option<&[TargetStats]>,
        w: &mut JsonWriter<'_>,
    ) {
        w.raw(b"{");
        let mut first = true;
        if !name.is_empty() {
            w.raw(b"\"name\":").string(name.as_bytes());
            first = false;
        }
        for (key, v) in Self::NAMES.iter().zip(self.values()) {
            w.plain_field(first, key, v);
            first = false;
        }
        if let Some(targets) = targets {
            w.raw(b",");
            write_targets(targets, w);
        }
        w.raw(b"}");
    }
}

/// Writes `"targets":[...]` (no leading comma).
pub fn write_targets(targets: &[TargetStats], w: &mut JsonWriter<'_>) {
    w.raw(b"\"targets\":[");
    for (i, t) in targets.iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        w.raw(b"{")
            .plain_field(true, "id", t.id.into())
            .plain_field(false, "delivered", t.delivered)
            .plain_field(false, "failed", t.failed)
            .plain_field(false, "queued", t.queued);
        #[cfg(feature = "timing")]
        w.plain_field(false, "avg_depth_x100", t.avg_depth_x100)
            .plain_field(false, "depth_samples", t.depth_samples)
            .plain_field(false, "latency_count", t.latency_count)
            .plain_field(false, "latency_min_us", t.latency_min_us)
            .plain_field(false, "latency_p50_us", t.latency_p50_us)
            .plain_field(false, "latency_p99_us", t.latency_p99_us)
            .plain_field(false, "latency_max_us", t.latency_max_us);
        w.raw(b"}");
    }
    w.raw(b"]");
}

impl fmt::Display for Snapshot {
    /// A two-column table, as the shell prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, v) in self.fields() {
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
            s.write_json("", &[], &mut buf),
            Err(crate::PoolError::BufferTooSmall)
        );
    }

    #[test]
    #[allow(clippy::needless_update)] // not needless with the `timing` feature
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
                ..TargetStats::default()
            },
            TargetStats {
                id: 2,
                delivered: 3,
                failed: 7,
                queued: 0,
                ..TargetStats::default()
            },
        ];
        let mut buf = [0xffu8; 1024];
        let n = s.write_json("", &t, &mut buf).unwrap();
        let json = core::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(buf[n], 0);
        assert!(json.contains("\"enqueue_failures\":7"));
        #[cfg(not(feature = "timing"))]
        assert!(json.ends_with(
            "\"targets\":[{\"id\":1,\"delivered\":5,\"failed\":0,\"queued\":2},{\"id\":2,\"delivered\":3,\"failed\":7,\"queued\":0}]}"
        ));
        #[cfg(feature = "timing")]
        assert!(json.contains(
            "\"queued\":0,\"avg_depth_x100\":0,\"depth_samples\":0,\"latency_count\":0,\"latency_min_us\":0,\"latency_p50_us\":0,\"latency_p99_us\":0,\"latency_max_us\":0}]}"
        ), "{json}");
    }

    #[cfg(feature = "timing")]
    #[test]
    fn json_target_objects_carry_the_timing_fields() {
        let t = [TargetStats {
            id: 4,
            avg_depth_x100: 250,
            depth_samples: 8,
            latency_count: 7,
            latency_min_us: 10,
            latency_p50_us: 20,
            latency_p99_us: 30,
            latency_max_us: 40,
            ..TargetStats::default()
        }];
        let mut buf = [0u8; 512];
        let n = Snapshot::default().write_json("", &t, &mut buf).unwrap();
        let json = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(json.ends_with(
            "{\"id\":4,\"delivered\":0,\"failed\":0,\"queued\":0,\"avg_depth_x100\":250,\"depth_samples\":8,\"latency_count\":7,\"latency_min_us\":10,\"latency_p50_us\":20,\"latency_p99_us\":30,\"latency_max_us\":40}]}"
        ), "{json}");
    }

    #[test]
    fn json_numbers_names_and_escapes() {
        let s = Snapshot {
            pool_total: u32::MAX,
            pool_in_use: 0,
            purged: 10,
            ..Snapshot::default()
        };
        let mut buf = [0u8; 1024];
        let n = s.write_json("a\"b\\\n", &[], &mut buf).unwrap();
        let json = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(
            json.starts_with(
                "{\"name\":\"a\\\"b\\\\\\u000a\",\"pool_total\":4294967295,\"pool_in_use\":0,"
            ),
            "{json}"
        );
        assert!(json.contains("\"purged\":10,"));
        // Every prefix length but the full one is refused.
        for len in 0..=n {
            let mut small = std::vec![0u8; len];
            assert_eq!(
                s.write_json("a\"b\\\n", &[], &mut small),
                Err(crate::PoolError::BufferTooSmall)
            );
        }
        let mut exact = std::vec![0u8; n + 1];
        assert_eq!(s.write_json("a\"b\\\n", &[], &mut exact), Ok(n));
    }

    #[test]
    fn json_strings_are_utf8_even_from_invalid_bytes() {
        // The `json` fuzz target's first crash: 0x95 0x80 were copied through verbatim.
        let mut buf = [0u8; 64];
        let mut w = JsonWriter::new(&mut buf);
        w.string(b"a\x95\x80\xdb-\xe2\x82\xac\xf0");
        let n = w.finish().unwrap();
        let text = core::str::from_utf8(&buf[..n]).expect("valid UTF-8");
        assert_eq!(text, "\"a\u{FFFD}\u{FFFD}\u{FFFD}-\u{20AC}\u{FFFD}\"");
    }
}
