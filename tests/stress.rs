//! Multi-threaded stress: 4 producers and 8 consumers move 1,000,000 messages (release build;
//! 100,000 in debug; `STRESS_MESSAGES=10000000` for the long run of `scripts/test --long`)
//! through try_alloc, blocking alloc, heap fallback, broadcast to pointer and value targets
//! and extra refs. Checked independently of the pool's counters: every payload is intact;
//! each consumer sees each producer's messages in order, each at most once; and the sum of a
//! hash of every payload received equals the producers' sum of hash x receivers. At the end
//! the pool is empty, `check()` passes and the counters agree with what the threads counted.

use dispatcher_pool::host::{HostPool, HostQueue};
use dispatcher_pool::{Fallback, Mode, PoolConfig, PoolError, Received, Target, Timeout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 8;
const PAYLOAD: usize = 64;

fn fill(buf: &mut [u8], producer: usize, seq: u64) -> usize {
    let len = 8 + (seq % 48) as usize;
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    for (k, b) in buf[8..len].iter_mut().enumerate() {
        *b = (seq as u8).wrapping_mul(31).wrapping_add(k as u8) ^ producer as u8;
    }
    len
}

/// FNV-1a of the payload: what producers and consumers sum independently of the pool.
fn hash(payload: &[u8]) -> u64 {
    payload.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Checks the payload and returns its sequence number.
fn verify(payload: &[u8], source: u16) -> u64 {
    assert!(payload.len() >= 8, "short payload");
    let seq = u64::from_le_bytes(payload[..8].try_into().unwrap());
    let mut expect = [0u8; PAYLOAD];
    let len = fill(&mut expect, source as usize, seq);
    assert_eq!(
        payload,
        &expect[..len],
        "payload corrupted (seq {seq}, producer {source})"
    );
    seq
}

/// Per consumer: the last sequence number seen from each producer (FIFO, no duplicates).
struct Order([Option<u64>; PRODUCERS]);

impl Order {
    fn see(&mut self, source: u16, seq: u64, consumer: usize) {
        let last = &mut self.0[source as usize];
        assert!(
            last.is_none_or(|l| seq > l),
            "consumer {consumer}: producer {source} seq {seq} after {last:?} (reordered or duplicated)"
        );
        *last = Some(seq);
    }
}

#[test]
fn many_producers_and_consumers_leave_the_pool_whole() {
    let total: u64 = match std::env::var("STRESS_MESSAGES") {
        Ok(v) => v
            .parse()
            .expect("STRESS_MESSAGES: a number of messages, e.g. 10000000"),
        Err(_) if cfg!(debug_assertions) => 100_000,
        Err(_) => 1_000_000,
    };
    // The pool's counters are u32 (they wrap at 2^32); the exact comparisons below need the
    // run to stay under that.
    assert!(
        total * CONSUMERS as u64 <= u32::MAX as u64,
        "STRESS_MESSAGES above {} would wrap the pool's 32-bit counters",
        u32::MAX as u64 / CONSUMERS as u64
    );
    let h = HostPool::new(PoolConfig::new(64, PAYLOAD).with_heap_slots(8)).unwrap();
    let p = h.pool();
    let stride = p.layout().stride;
    let targets: Vec<Target<HostQueue>> = (0..CONSUMERS)
        .map(|k| {
            if k < 6 {
                Target::new(HostQueue::pointers(16), Mode::Pointer, k as u16).unwrap()
            } else {
                Target::new(HostQueue::values(8, stride), Mode::Value, k as u16).unwrap()
            }
        })
        .collect();
    let stop = AtomicBool::new(false);
    let consumed = AtomicU64::new(0);
    let sent = AtomicU64::new(0);
    let delivered_sum = AtomicU64::new(0);
    let (hash_sent, hash_received) = (AtomicU64::new(0), AtomicU64::new(0));
    let t0 = Instant::now();

    std::thread::scope(|s| {
        for (k, t) in targets.iter().enumerate() {
            let (stop, consumed, hash_received) = (&stop, &consumed, &hash_received);
            s.spawn(move || {
                let mut buf = vec![0u8; stride];
                let slow = k == 0; // one deliberately slow consumer
                let mut order = Order([None; PRODUCERS]);
                let mut hashes = 0u64;
                loop {
                    match p.receive(t, Some(&mut buf), Timeout::Millis(2)) {
                        Ok(Received::Msg(m)) => {
                            let seq = verify(m.payload(), m.header().source);
                            order.see(m.header().source, seq, k);
                            hashes = hashes.wrapping_add(hash(m.payload()));
                            if slow {
                                std::hint::spin_loop();
                            }
                        }
                        Ok(Received::Value(_)) => {
                            // SAFETY: the value copy starts with a MsgHeader.
                            let hdr = unsafe {
                                buf.as_ptr()
                                    .cast::<dispatcher_pool::MsgHeader>()
                                    .read_unaligned()
                            };
                            let start = dispatcher_pool::MsgHeader::SIZE;
                            let payload = &buf[start..start + hdr.message_len as usize];
                            let seq = verify(payload, hdr.source);
                            order.see(hdr.source, seq, k);
                            hashes = hashes.wrapping_add(hash(payload));
                        }
                        Err(PoolError::Timeout) => {
                            if stop.load(Ordering::Acquire) && t.is_empty() {
                                hash_received.fetch_add(hashes, Ordering::Relaxed);
                                return;
                            }
                            continue;
                        }
                        Err(e) => panic!("receive: {e}"),
                    }
                    consumed.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|id| {
                let (targets, sent, delivered_sum, hash_sent) =
                    (&targets, &sent, &delivered_sum, &hash_sent);
                s.spawn(move || {
                    let per = total / PRODUCERS as u64;
                    let mut seq = 0u64;
                    while seq < per {
                        let m = match id {
                            0 | 1 => p.try_alloc(),
                            2 => p.alloc_blocking(Timeout::Millis(5)),
                            _ => p.try_alloc_or(Fallback::Heap),
                        };
                        let Ok(mut m) = m else {
                            std::thread::yield_now();
                            continue;
                        };
                        let mut buf = [0u8; PAYLOAD];
                        let len = fill(&mut buf, id, seq);
                        m.write(&buf[..len]).unwrap();
                        m.header_mut().unwrap().source = id as u16;
                        let extra = seq.is_multiple_of(7).then(|| m.try_clone().unwrap());
                        let mask = (seq.wrapping_mul(2654435761) >> 7) as usize | 1;
                        let chosen: Vec<&Target<HostQueue>> = targets
                            .iter()
                            .enumerate()
                            .filter(|(k, _)| mask & (1 << k) != 0)
                            .map(|(_, t)| t)
                            .collect();
                        let n = p.broadcast(m, &chosen).unwrap();
                        let h = hash(&buf[..len]).wrapping_mul(n as u64);
                        hash_sent.fetch_add(h, Ordering::Relaxed);
                        if let Some(extra) = extra {
                            verify(extra.payload(), id as u16);
                        }
                        delivered_sum.fetch_add(n as u64, Ordering::Relaxed);
                        sent.fetch_add(1, Ordering::Relaxed);
                        seq += 1;
                    }
                })
            })
            .collect();
        for t in producers {
            t.join().unwrap();
        }
        stop.store(true, Ordering::Release);
    });

    let secs = t0.elapsed().as_secs_f64();
    let s = p.snapshot();
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "stress: {sent} messages, {} deliveries in {secs:.2}s ({:.0} msg/s, {:.0} deliveries/s); \
         alloc_failures {} drops {} enqueue_failures {} fallback {} high_water {}",
        consumed.load(Ordering::Relaxed),
        sent as f64 / secs,
        consumed.load(Ordering::Relaxed) as f64 / secs,
        s.pool_alloc_failures,
        s.pool_drop_count,
        s.enqueue_failures,
        s.fallback_allocs,
        s.high_water
    );
    assert_eq!(
        hash_received.load(Ordering::Relaxed),
        hash_sent.load(Ordering::Relaxed),
        "the payloads received are not the payloads sent times their receivers"
    );
    assert_eq!(s.pool_in_use, 0);
    assert!(
        s.high_water > 0 && s.high_water <= 64,
        "high water {}",
        s.high_water
    );
    assert_eq!(s.fallback_in_use, 0);
    assert_eq!(s.broadcasts as u64, sent);
    assert_eq!(s.invalid_unrefs + s.invalid_refs, 0);
    let delivered: u64 = targets.iter().map(|t| t.stats().delivered as u64).sum();
    let failed: u64 = targets.iter().map(|t| t.stats().failed as u64).sum();
    assert_eq!(delivered, delivered_sum.load(Ordering::Relaxed));
    assert_eq!(delivered, consumed.load(Ordering::Relaxed));
    assert_eq!(failed, s.enqueue_failures as u64);
    assert_eq!(s.allocations as u64 + s.fallback_allocs as u64, sent);
    let report = p.check().unwrap();
    assert_eq!((report.free, report.held, report.heap_held), (64, 0, 0));
}
