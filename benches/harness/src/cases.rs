//! The benchmark cases: each is a set-up state plus an operation run `iters` times inside
//! [`bench_measured`], the one function callgrind collects (`--toggle-collect=bench_measured`).

use crate::queues::{BenchPort, ByteRing, PtrQueue};
use core::sync::atomic::{fence, AtomicU32, Ordering};
use crossbeam_queue::ArrayQueue;
use dispatcher_pool::host::HostPool;
use dispatcher_pool::pool::{Pool, PoolConfig};
use dispatcher_pool::target::{Mode, Target};
use dispatcher_pool::Received;
use dispatcher_pool::{Msg, Queue, Timeout};
use heapless::pool::arc::ArcBlock;
use std::hint::black_box;
use std::sync::{Arc, Once};

/// Payload bytes of every message.
pub const PAYLOAD: usize = 1024;
/// Payload bytes of the 4 KiB rows (value copy ÷ ours at 4 KiB).
pub const PAYLOAD_4K: usize = 4096;
/// Fan-outs measured.
pub const FANOUTS: [usize; 4] = [1, 4, 8, 16];
/// Pool entries (and heapless blocks) of every pool.
pub const ENTRIES: usize = 16;
/// Depth of every target queue (one item is in flight at a time).
pub const DEPTH: usize = 4;

/// Our pool with the bench port, `'static` (its memory is leaked).
pub type BenchPool = Pool<'static, BenchPort>;

heapless::arc_pool!(HlU32: u32);
heapless::arc_pool!(Hl1k: [u8; PAYLOAD]);
heapless::arc_pool!(HlU32Contended: u32);

/// Runs `op` `iters` times. The only function callgrind collects; its own per-iteration cost
/// (loop, indirect call, return) is measured by the `empty` case and subtracted.
#[no_mangle]
#[inline(never)]
pub fn bench_measured(iters: u64, op: &mut dyn FnMut()) {
    for _ in 0..iters {
        op();
    }
}

/// A case ready to run.
pub struct Bench {
    /// One iteration.
    pub op: Box<dyn FnMut()>,
    /// Checks the state after `n` iterations (nothing leaked, everything delivered).
    pub check: Box<dyn Fn(u64) -> Result<(), String>>,
}

/// One case family (a row of the tables).
pub struct Family {
    /// Case name prefix.
    pub key: &'static str,
    /// Row label.
    pub label: &'static str,
    /// Measured per fan-out (`key_n{N}`) or once.
    pub fanout: bool,
}

/// Every family, in table order.
pub const FAMILIES: &[Family] = &[
    Family { key: "empty", label: "empty iteration (measurement overhead, subtracted from every row)", fanout: false },
    Family { key: "ours_alloc_unref", label: "**ours** `try_alloc` + last unref (`Msg` drop)", fanout: false },
    Family { key: "ours_ref_unref", label: "**ours** `ref_raw` + `unref_raw` (not last)", fanout: false },
    Family { key: "ours_blocking_unref", label: "**ours** `alloc_blocking(Forever)` that does not wait + unref", fanout: false },
    Family { key: "ours_fill_unref", label: "**ours** `try_alloc` + write 1 KiB in place + unref", fanout: false },
    Family { key: "heapless_u32", label: "heapless `ArcPool<u32>` alloc + drop", fanout: false },
    Family { key: "heapless_1k", label: "heapless `ArcPool<[u8; 1024]>` alloc (moves 1 KiB in) + drop", fanout: false },
    Family { key: "std_arc_1k", label: "std `Arc<[u8; 1024]>` new + drop", fanout: false },
    Family { key: "ours_bcast", label: "**ours** broadcast by pointer (ArrayQueue), consumers receive + unref", fanout: true },
    Family { key: "ours_bcast_ring", label: "**ours** broadcast by pointer (byte ring, 8-byte items)", fanout: true },
    Family { key: "crossbeam_bcast", label: "crossbeam `ArrayQueue<usize>` + atomic refcount + ArrayQueue free list", fanout: true },
    Family { key: "value_copy", label: "value copy: 1 KiB message memcpy into N byte rings + pop (k_msgq style)", fanout: true },
    Family { key: "queue_only", label: "the queue alone: `ArrayQueue<usize>` put + get per target (included in the two rows using it)", fanout: true },
    Family { key: "ours_clone", label: "**ours** alloc + `try_clone` per target + drop all (no queue)", fanout: true },
    Family { key: "heapless_1k_clone", label: "heapless `ArcPool<[u8; 1024]>` alloc + clone per target + drop all", fanout: true },
    Family { key: "std_arc_1k_clone", label: "std `Arc<[u8; 1024]>` new + clone per target + drop all", fanout: true },
    Family { key: "value_copy_4k_x8", label: "value copy, 4 KiB message into 8 byte rings + pop", fanout: false },
    Family { key: "ours_bcast_ring_4k_x8", label: "**ours** broadcast of a 4 KiB message by pointer to 8 byte rings (8-byte items), receive + unref", fanout: false },
];

/// Every case name, in table order.
pub fn names() -> Vec<String> {
    let mut v = Vec::new();
    for f in FAMILIES {
        if f.fanout {
            v.extend(FANOUTS.iter().map(|n| format!("{}_n{n}", f.key)));
        } else {
            v.push(f.key.to_string());
        }
    }
    v
}

/// Splits `key_nN` into the family key and N (0 for single cases).
pub fn parse(name: &str) -> Option<(&'static Family, usize)> {
    for f in FAMILIES {
        if f.fanout {
            if let Some(n) = name.strip_prefix(f.key).and_then(|r| r.strip_prefix("_n")) {
                let n: usize = n.parse().ok()?;
                return (n >= 1).then_some((f, n));
            }
        } else if name == f.key {
            return Some((f, 0));
        }
    }
    None
}

/// A `'static` pool of [`ENTRIES`] messages of [`PAYLOAD`] bytes.
pub fn make_pool() -> &'static BenchPool {
    make_pool_of(PAYLOAD)
}

/// A `'static` pool of [`ENTRIES`] messages of `payload` bytes.
fn make_pool_of(payload: usize) -> &'static BenchPool {
    let mut cfg = PoolConfig::new(ENTRIES, payload);
    cfg.max_payload = cfg.max_payload.max(payload);
    let memory = HostPool::leak_memory(cfg).expect("pool memory");
    Box::leak(Box::new(memory.into_pool(BenchPort::new()).expect("pool")))
}

/// Bytes of one whole message (header + payload): what a value queue item is.
pub fn stride() -> usize {
    stride_of(PAYLOAD)
}

/// [`stride`] for a `payload`.
fn stride_of(payload: usize) -> usize {
    dispatcher_pool::pool::stride_for(payload)
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Vec::leak(v)
}

fn pool_is_idle(pool: &BenchPool) -> Result<(), String> {
    let report = pool.check().map_err(|e| format!("pool check: {e}"))?;
    if report.held != 0 {
        return Err(format!("{} entries still held", report.held));
    }
    let s = pool.snapshot();
    if s.invalid_unrefs != 0 || s.invalid_refs != 0 || s.pool_alloc_failures != 0 {
        return Err(format!("unexpected counters: {s:?}"));
    }
    Ok(())
}

fn manage_heapless() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for _ in 0..ENTRIES {
            HlU32.manage(Box::leak(Box::new(ArcBlock::new())));
            Hl1k.manage(Box::leak(Box::new(ArcBlock::new())));
            HlU32Contended.manage(Box::leak(Box::new(ArcBlock::new())));
        }
    });
}

fn heapless_idle() -> Result<(), String> {
    // Every block must be back: allocate them all.
    let all: Vec<_> = (0..ENTRIES)
        .map_while(|_| Hl1k.alloc([0; PAYLOAD]).ok())
        .collect();
    let u32s: Vec<_> = (0..ENTRIES)
        .map_while(|i| HlU32.alloc(i as u32).ok())
        .collect();
    if all.len() == ENTRIES && u32s.len() == ENTRIES {
        Ok(())
    } else {
        Err(format!(
            "heapless pool leaked blocks: {} / {} free",
            all.len().min(u32s.len()),
            ENTRIES
        ))
    }
}

fn message(payload: usize) -> Vec<u8> {
    (0..stride_of(payload)).map(|i| (i * 7 + 3) as u8).collect()
}

/// Builds the case `name`.
pub fn build(name: &str) -> Option<Bench> {
    let (family, n) = parse(name)?;
    manage_heapless();
    let bench = match family.key {
        "empty" => Bench {
            op: Box::new(|| {}),
            check: Box::new(|_| Ok(())),
        },
        "ours_alloc_unref" => {
            let pool = make_pool();
            Bench {
                op: Box::new(move || {
                    let m = pool.try_alloc().expect("alloc");
                    drop(black_box(m));
                }),
                check: Box::new(move |_| pool_is_idle(pool)),
            }
        }
        "ours_ref_unref" => {
            let pool = make_pool();
            let held = pool.try_alloc_raw().expect("alloc");
            Bench {
                op: Box::new(move || {
                    // SAFETY: `held` carries the reference from the alloc above, kept for the
                    // whole bench; each round adds one and drops it again.
                    unsafe { pool.ref_raw(black_box(held)) }.expect("ref");
                    // SAFETY: drops the reference just added.
                    unsafe { pool.unref_raw(black_box(held)) }.expect("unref");
                }),
                check: Box::new(move |_| {
                    if held.refcount() != 1 {
                        return Err(format!("refcount {} != 1", held.refcount()));
                    }
                    Ok(())
                }),
            }
        }
        "ours_blocking_unref" => {
            let pool = make_pool();
            Bench {
                op: Box::new(move || {
                    let m = pool.alloc_blocking(Timeout::Forever).expect("alloc");
                    drop(black_box(m));
                }),
                check: Box::new(move |_| pool_is_idle(pool)),
            }
        }
        "ours_fill_unref" => {
            let pool = make_pool();
            let src = vec![0x5au8; PAYLOAD];
            Bench {
                op: Box::new(move || {
                    let mut m = pool.try_alloc().expect("alloc");
                    m.write(black_box(&src)).expect("write");
                    drop(black_box(m));
                }),
                check: Box::new(move |_| pool_is_idle(pool)),
            }
        }
        "heapless_u32" => Bench {
            op: Box::new(|| {
                let a = HlU32.alloc(black_box(7)).expect("heapless alloc");
                drop(black_box(a));
            }),
            check: Box::new(|_| heapless_idle()),
        },
        "heapless_1k" => {
            let src = Box::new([0x5au8; PAYLOAD]);
            Bench {
                op: Box::new(move || {
                    let a = Hl1k.alloc(*black_box(&*src)).expect("heapless alloc");
                    drop(black_box(a));
                }),
                check: Box::new(|_| heapless_idle()),
            }
        }
        "std_arc_1k" => {
            let src = Box::new([0x5au8; PAYLOAD]);
            Bench {
                op: Box::new(move || {
                    let a = Arc::new(*black_box(&*src));
                    drop(black_box(a));
                }),
                check: Box::new(|_| Ok(())),
            }
        }
        "ours_bcast" => ours_broadcast(n, PAYLOAD, || PtrQueue::new(DEPTH)),
        "ours_bcast_ring" => ours_broadcast(n, PAYLOAD, || {
            ByteRing::new(core::mem::size_of::<usize>(), DEPTH)
        }),
        "ours_bcast_ring_4k_x8" => ours_broadcast(8, PAYLOAD_4K, || {
            ByteRing::new(core::mem::size_of::<usize>(), DEPTH)
        }),
        "value_copy_4k_x8" => value_copy(8, PAYLOAD_4K),
        "crossbeam_bcast" => crossbeam_broadcast(n),
        "value_copy" => value_copy(n, PAYLOAD),
        "queue_only" => {
            let queues: &'static [PtrQueue] = leak((0..n).map(|_| PtrQueue::new(DEPTH)).collect());
            Bench {
                op: Box::new(move || {
                    let p = black_box(0x1000usize);
                    for q in queues {
                        // SAFETY: a usize item for a usize queue.
                        assert!(unsafe {
                            q.try_put((&p as *const usize).cast(), core::mem::size_of::<usize>())
                        });
                    }
                    for q in queues {
                        let mut item = 0usize;
                        // SAFETY: a usize item for a usize queue.
                        assert!(unsafe {
                            q.get((&mut item as *mut usize).cast(), Timeout::NoWait)
                        });
                        black_box(item);
                    }
                }),
                check: Box::new(move |_| {
                    if queues.iter().all(|q| q.is_empty()) {
                        Ok(())
                    } else {
                        Err("queues not empty".into())
                    }
                }),
            }
        }
        "ours_clone" => {
            let pool = make_pool();
            let mut held: Vec<Msg<'static, 'static, BenchPort>> = Vec::with_capacity(n);
            Bench {
                op: Box::new(move || {
                    let m = pool.try_alloc().expect("alloc");
                    for _ in 0..n {
                        held.push(m.try_clone().expect("clone"));
                    }
                    drop(black_box(m));
                    held.clear();
                }),
                check: Box::new(move |_| pool_is_idle(pool)),
            }
        }
        "heapless_1k_clone" => {
            let src = Box::new([0x5au8; PAYLOAD]);
            let mut held = Vec::with_capacity(n);
            Bench {
                op: Box::new(move || {
                    let a = Hl1k.alloc(*black_box(&*src)).expect("heapless alloc");
                    for _ in 0..n {
                        held.push(a.clone());
                    }
                    drop(black_box(a));
                    held.clear();
                }),
                check: Box::new(|_| heapless_idle()),
            }
        }
        "std_arc_1k_clone" => {
            let src = Box::new([0x5au8; PAYLOAD]);
            let mut held = Vec::with_capacity(n);
            Bench {
                op: Box::new(move || {
                    let a = Arc::new(*black_box(&*src));
                    for _ in 0..n {
                        held.push(a.clone());
                    }
                    drop(black_box(a));
                    held.clear();
                }),
                check: Box::new(|_| Ok(())),
            }
        }
        _ => return None,
    };
    Some(bench)
}

/// Our broadcast to `n` pointer targets over queues from `make`; every consumer then receives
/// and drops its reference (the last one recycles the entry).
fn ours_broadcast<Q: Queue + 'static>(n: usize, payload: usize, make: impl Fn() -> Q) -> Bench {
    let pool = make_pool_of(payload);
    let targets: &'static [Target<Q>] = leak(
        (0..n)
            .map(|i| Target::new(make(), Mode::Pointer, i as u16).expect("target"))
            .collect(),
    );
    let refs: Vec<&'static Target<Q>> = targets.iter().collect();
    Bench {
        op: Box::new(move || {
            let mut m = pool.try_alloc().expect("alloc");
            m.header_mut().expect("unique").message_len = payload as u32;
            black_box(pool.broadcast(m, &refs).expect("broadcast"));
            for t in &refs {
                match pool.receive(*t, None, Timeout::NoWait) {
                    Ok(Received::Msg(m)) => drop(black_box(m)),
                    _ => panic!("nothing received"),
                }
            }
        }),
        check: Box::new(move |iters| {
            pool_is_idle(pool)?;
            for t in targets {
                let s = t.stats();
                if s.delivered as u64 != iters || s.failed != 0 || s.queued != 0 {
                    return Err(format!(
                        "target {}: {s:?}, expected {iters} delivered",
                        t.id()
                    ));
                }
            }
            Ok(())
        }),
    }
}

/// A pool slot of the crossbeam baseline: refcount + pointer to its 1 KiB message.
struct CbSlot {
    refs: AtomicU32,
    msg: *mut u8,
}

/// The off-the-shelf way: a free list of slot pointers in an `ArrayQueue`, an atomic refcount
/// per slot (same protocol as ours: ref before put, undo on failure, last unref frees), and
/// pointer queues of the same type our broadcast uses.
fn crossbeam_broadcast(n: usize) -> Bench {
    let region: &'static mut [u64] = Vec::leak(vec![0u64; ENTRIES * stride() / 8 + 1]);
    let base = region.as_mut_ptr().cast::<u8>();
    let slots: &'static [CbSlot] = leak(
        (0..ENTRIES)
            .map(|i| CbSlot {
                refs: AtomicU32::new(0),
                msg: base.wrapping_add(i * stride()),
            })
            .collect(),
    );
    let free: &'static ArrayQueue<usize> = Box::leak(Box::new(ArrayQueue::new(ENTRIES)));
    for s in slots {
        free.push(s as *const CbSlot as usize).expect("free list");
    }
    let queues: &'static [PtrQueue] = leak((0..n).map(|_| PtrQueue::new(DEPTH)).collect());
    let release = move |p: usize| {
        // SAFETY: `p` is the address of one of `slots` (the only values the free list and the
        // queues carry), which live for 'static.
        let slot = unsafe { &*(p as *const CbSlot) };
        if slot.refs.fetch_sub(1, Ordering::Release) == 1 {
            fence(Ordering::Acquire);
            free.push(p).expect("free list overflow");
        }
    };
    Bench {
        op: Box::new(move || {
            let p = free.pop().expect("alloc");
            // SAFETY: `p` came from the free list, so it is one of `slots`.
            let slot = unsafe { &*(p as *const CbSlot) };
            slot.refs.store(1, Ordering::Relaxed);
            // SAFETY: the slot is ours alone (refcount 1) and its message has `stride` bytes.
            unsafe { slot.msg.cast::<u32>().write_unaligned(PAYLOAD as u32) };
            for q in queues {
                slot.refs.fetch_add(1, Ordering::Relaxed);
                // SAFETY: a usize item for a usize queue.
                if !unsafe { q.try_put((&p as *const usize).cast(), core::mem::size_of::<usize>()) }
                {
                    slot.refs.fetch_sub(1, Ordering::Relaxed);
                }
            }
            release(p);
            for q in queues {
                let mut item = 0usize;
                // SAFETY: a usize item for a usize queue.
                assert!(unsafe { q.get((&mut item as *mut usize).cast(), Timeout::NoWait) });
                black_box(item);
                release(item);
            }
        }),
        check: Box::new(move |_| {
            if free.len() == ENTRIES && queues.iter().all(|q| q.is_empty()) {
                Ok(())
            } else {
                Err(format!("crossbeam pool: {} / {ENTRIES} free", free.len()))
            }
        }),
    }
}

/// The old path: the whole message copied into each of `n` value rings, then popped.
fn value_copy(n: usize, payload: usize) -> Bench {
    let msg = message(payload);
    let mut out = vec![0u8; stride_of(payload)];
    let rings: &'static [ByteRing] = leak(
        (0..n)
            .map(|_| ByteRing::new(stride_of(payload), DEPTH))
            .collect(),
    );
    let expected = msg.clone();
    let last: &'static std::sync::Mutex<Vec<u8>> =
        Box::leak(Box::new(std::sync::Mutex::new(Vec::new())));
    let mut first = true;
    Bench {
        op: Box::new(move || {
            for r in rings {
                // SAFETY: `msg` has stride() = item_size() bytes.
                assert!(unsafe { r.try_put(black_box(&msg).as_ptr(), msg.len()) });
            }
            for r in rings {
                // SAFETY: `out` has stride() = item_size() bytes.
                assert!(unsafe { r.get(out.as_mut_ptr(), Timeout::NoWait) });
                black_box(&mut out);
            }
            if first {
                first = false;
                *last.lock().expect("lock") = out.clone();
            }
        }),
        check: Box::new(move |_| {
            if *last.lock().expect("lock") != expected {
                return Err("value copy corrupted the message".into());
            }
            if rings.iter().any(|r| !r.is_empty()) {
                return Err("value rings not empty".into());
            }
            Ok(())
        }),
    }
}

/// Wall-clock throughput (ops/s) of `n` threads each running `op` for `ms` milliseconds.
pub fn threads(n: usize, ms: u64, op: &(dyn Fn() + Sync)) -> f64 {
    use std::sync::atomic::AtomicBool;
    use std::sync::Barrier;
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(n + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..256 {
                            op();
                        }
                        n += 256;
                    }
                    n
                })
            })
            .collect();
        barrier.wait();
        let t0 = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(ms));
        stop.store(true, Ordering::Relaxed);
        let total: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        total as f64 / t0.elapsed().as_secs_f64()
    })
}

/// One contended run each, ours then heapless (or the reverse when `reverse`): (ours, heapless) ops/s.
pub fn contended_pair(pool: &'static BenchPool, ms: u64, reverse: bool) -> (f64, f64) {
    pair(2, pool, ms, reverse)
}

/// [`contended_pair`] with `n` threads (1: the uncontended single-thread rate).
pub fn pair(n: usize, pool: &'static BenchPool, ms: u64, reverse: bool) -> (f64, f64) {
    manage_heapless();
    let ours = || {
        let m = pool.try_alloc().expect("ours: pool empty under 2 threads");
        drop(black_box(m));
    };
    let theirs = || {
        let a = HlU32Contended
            .alloc(black_box(1))
            .expect("heapless: pool empty under 2 threads");
        drop(black_box(a));
    };
    if reverse {
        let h = threads(n, ms, &theirs);
        (threads(n, ms, &ours), h)
    } else {
        let o = threads(n, ms, &ours);
        (o, threads(n, ms, &theirs))
    }
}
