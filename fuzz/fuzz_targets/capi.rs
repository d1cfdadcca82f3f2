//! Fuzz target `capi`: the C API (crate `dispatcher-pool-capi`) fed arbitrary calls and
//! arbitrary pointers, over an OS port written here in Rust (the `dispatcher_port_*` symbols):
//! a `k_msgq` double, a semaphore that never blocks (a timed wait "elapses" by advancing the
//! clock), a heap that can run dry or hand out misaligned blocks, a settable clock and ISR flag.
//!
//! Three pools are created once per process (`alpha`, the default pool, with heap fallback
//! slots; `beta` with a larger payload and one heap slot; `gamma` without), one is defined but
//! never created (`delta`), and a few definitions that `msg_pool_init` must refuse. Each input
//! builds five targets (two pointer queues, a value queue of whole `dispatcher_msg_t`s, a value
//! queue with room for 32 payload bytes, and a zeroed target never initialised) and runs a
//! sequence of calls; pointers are drawn from: NULL, references held, any descriptor of any
//! pool (free or held, heap slots included), descriptor interiors (misaligned), one before and
//! one past a descriptor array, message-region addresses, the never-created pool's descriptors,
//! live and freed heap-fallback blocks, the stack, and arbitrary integers.
//!
//! A model predicts every call's return value and side effects. Asserted after every call:
//! the return value (every refusal its documented errno), `msg_pool_check` clean with the
//! model's free/held/heap counts, every pool's `msg_pool_stats` equal to the model's counters,
//! the target counters and queue lengths, and that no entry is ever handed out while held.
//! The seed's default-pool calls (`pool_alloc`, `pool_stats`, `pool_check`, `pool_leaks`,
//! `pool_stats_json`, ...) act on `alpha`; `msg_target_init` is fed unfit queues too.
//! At the end of an input everything is released and every pool must be whole again.
#![no_main]

use arbitrary::{Result, Unstructured};
use c::descriptor::HOLDER_PRODUCER;
use c::metrics::{Snapshot, TargetStats};
use c::pool::{CheckReport, Leak, HOLDER_NONE};
use c::{dispatcher_msg_t, k_msgq, msg_pool, msg_target_t, pool_config, pool_msg_t};
use c::{Descriptor, MsgHeader};
use dispatcher_pool_capi as c;
use libfuzzer_sys::fuzz_target;
use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::mem::{size_of, zeroed};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

// ----- the OS port ----------------------------------------------------------------------------

// Linux's numbers (what the host C port's table holds on this machine).
const EINVAL: c_int = 22;
const ENOMEM: c_int = 12;
const EFAULT: c_int = 14;
const EALREADY: c_int = 114;
const ENODEV: c_int = 19;
const EOVERFLOW: c_int = 75;
const EMSGSIZE: c_int = 90;
const EAGAIN: c_int = 11;
const EPERM: c_int = 1;
const ENOSPC: c_int = 28;
const EBUSY: c_int = 16;
const EIO: c_int = 5;

/// `dispatcher_port_errno`, in `enum dispatcher_errno` order.
#[no_mangle]
pub static dispatcher_port_errno: [c_int; 12] = [
    EINVAL, ENOMEM, EFAULT, EALREADY, ENODEV, EOVERFLOW, EMSGSIZE, EAGAIN, EPERM, ENOSPC, EBUSY,
    EIO,
];

static NOW: AtomicU32 = AtomicU32::new(0);
static ISR: AtomicBool = AtomicBool::new(false);

#[no_mangle]
pub extern "C" fn dispatcher_port_now_ms() -> u32 {
    NOW.load(Ordering::Relaxed)
}

#[no_mangle]
pub extern "C" fn dispatcher_port_in_isr() -> bool {
    ISR.load(Ordering::Relaxed)
}

/// A semaphore that never blocks: a take with no token fails at once, and a timed take first
/// lets its timeout "elapse" on the clock.
struct Sem(AtomicU32);

/// # Safety
/// `sem` is one of the `Sem`s of `World`.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_sem_take(sem: *mut c_void, timeout_ms: i32) -> bool {
    // SAFETY: the library passes back the `msg_pool.sem` we set: a leaked `Sem`.
    let s = unsafe { &*(sem as *const Sem) };
    if s.0
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1))
        .is_ok()
    {
        return true;
    }
    assert!(
        timeout_ms >= 0,
        "a forever wait with nothing to wake it (the harness never asks for one)"
    );
    NOW.fetch_add(timeout_ms as u32, Ordering::Relaxed);
    false
}

/// # Safety
/// As for `dispatcher_port_sem_take`.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_sem_give(sem: *mut c_void) {
    // SAFETY: as in `dispatcher_port_sem_take`.
    let s = unsafe { &*(sem as *const Sem) };
    s.0.fetch_add(1, Ordering::Relaxed);
}

#[derive(Default)]
struct Heap {
    /// Successful allocations left (`None`: unlimited).
    budget: Option<u32>,
    /// Hand out blocks one byte off their alignment.
    misaligned: bool,
    /// Live blocks: (address handed out, base, layout).
    live: Vec<(usize, usize, Layout)>,
    /// Addresses handed out and freed since (for the pointer generator).
    freed: Vec<usize>,
}

static HEAP: Mutex<Heap> = Mutex::new(Heap {
    budget: None,
    misaligned: false,
    live: Vec::new(),
    freed: Vec::new(),
});

fn heap() -> std::sync::MutexGuard<'static, Heap> {
    HEAP.lock().unwrap_or_else(|e| e.into_inner())
}

#[no_mangle]
pub extern "C" fn dispatcher_port_heap_alloc(size: usize, align: usize) -> *mut c_void {
    let mut h = heap();
    match &mut h.budget {
        Some(0) => return std::ptr::null_mut(),
        Some(b) => *b -= 1,
        None => {}
    }
    let skew = h.misaligned as usize;
    let layout = Layout::from_size_align(size + skew, align).expect("a valid layout");
    // SAFETY: non-zero size (the library asks for a whole message).
    let base = unsafe { std::alloc::alloc(layout) };
    if base.is_null() {
        return std::ptr::null_mut();
    }
    let p = base as usize + skew;
    h.live.push((p, base as usize, layout));
    p as *mut c_void
}

/// # Safety
/// `p` is NULL or from `dispatcher_port_heap_alloc` (checked: anything else panics).
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_heap_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    let mut h = heap();
    let k = h
        .live
        .iter()
        .position(|b| b.0 == p as usize)
        .unwrap_or_else(|| panic!("heap_free of {p:?}, which the heap never handed out"));
    let (addr, base, layout) = h.live.swap_remove(k);
    // SAFETY: `base` came from `std::alloc::alloc(layout)` and is freed once (removed above).
    unsafe { std::alloc::dealloc(base as *mut u8, layout) };
    h.freed.push(addr);
    if h.freed.len() > 64 {
        h.freed.remove(0);
    }
}

/// The `k_msgq` double: a bounded FIFO of fixed-size items.
struct Msgq {
    item: usize,
    depth: usize,
    items: RefCell<VecDeque<Vec<u8>>>,
}

/// # Safety
/// `q` is a `Msgq` of this file (the targets are built over nothing else).
unsafe fn msgq<'a>(q: *mut k_msgq) -> &'a Msgq {
    // SAFETY: caller contract.
    unsafe { &*(q as *const Msgq) }
}

/// # Safety
/// `q` is a `Msgq`; `item` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_msgq_put(
    q: *mut k_msgq,
    item: *const c_void,
    len: usize,
) -> bool {
    // SAFETY: the library passes back the queue pointer of a target we initialised.
    let q = unsafe { msgq(q) };
    assert!(
        len <= q.item,
        "put of {len} bytes into a {}-byte item",
        q.item
    );
    let mut items = q.items.borrow_mut();
    if items.len() == q.depth {
        return false;
    }
    let mut v = vec![0u8; q.item];
    // SAFETY: `item` has `len` readable bytes (the port contract the library keeps).
    v[..len].copy_from_slice(unsafe { std::slice::from_raw_parts(item.cast::<u8>(), len) });
    items.push_back(v);
    true
}

/// # Safety
/// `q` is a `Msgq`; `out` has `item` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_msgq_get(
    q: *mut k_msgq,
    out: *mut c_void,
    _timeout_ms: i32,
) -> bool {
    // SAFETY: as in `dispatcher_port_msgq_put`.
    let q = unsafe { msgq(q) };
    let Some(v) = q.items.borrow_mut().pop_front() else {
        return false;
    };
    // SAFETY: `out` has `item` writable bytes (the port contract).
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out.cast::<u8>(), q.item) };
    true
}

/// # Safety
/// As for `dispatcher_port_msgq_get`.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_msgq_peek_at(
    q: *mut k_msgq,
    out: *mut c_void,
    idx: usize,
) -> bool {
    // SAFETY: as in `dispatcher_port_msgq_put`.
    let q = unsafe { msgq(q) };
    let items = q.items.borrow();
    let Some(v) = items.get(idx) else {
        return false;
    };
    // SAFETY: as in `dispatcher_port_msgq_get`.
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out.cast::<u8>(), q.item) };
    true
}

/// # Safety
/// `q` is a `Msgq`.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_msgq_item_size(q: *mut k_msgq) -> usize {
    // SAFETY: as in `dispatcher_port_msgq_put`.
    unsafe { msgq(q) }.item
}

/// # Safety
/// `q` is a `Msgq`.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_msgq_len(q: *mut k_msgq) -> usize {
    // SAFETY: as in `dispatcher_port_msgq_put`.
    unsafe { msgq(q) }.items.borrow().len()
}

/// # Safety
/// `q` is a `Msgq`.
#[no_mangle]
pub unsafe extern "C" fn dispatcher_port_msgq_purge(q: *mut k_msgq) -> usize {
    // SAFETY: as in `dispatcher_port_msgq_put`.
    let mut items = unsafe { msgq(q) }.items.borrow_mut();
    let n = items.len();
    items.clear();
    n
}

// ----- the pools (created once per process) -----------------------------------------------------

const DESC: usize = size_of::<Descriptor>();

/// One pool definition and where its memory is (addresses as integers: the world is shared).
struct Def {
    def: usize,
    name: &'static str,
    descs: usize,
    n_descs: usize,
    region: usize,
    region_bytes: usize,
    entries: usize,
    heap_slots: usize,
    payload: usize,
    stride: usize,
}

impl Def {
    fn ptr(&self) -> *mut msg_pool {
        self.def as *mut msg_pool
    }
    /// The descriptor index of `a` if it is a descriptor start of this pool.
    fn index(&self, a: usize) -> Option<usize> {
        let off = a.wrapping_sub(self.descs);
        (off < self.n_descs * DESC && off.is_multiple_of(DESC)).then_some(off / DESC)
    }
    fn contains(&self, a: usize) -> bool {
        a.wrapping_sub(self.descs) < self.n_descs * DESC
    }
    fn desc(&self, i: usize) -> usize {
        self.descs + i * DESC
    }
}

struct World {
    /// alpha (default), beta, gamma: created, in that order.
    pools: [Def; 3],
    /// Defined, never created.
    delta: Def,
    /// Definitions `msg_pool_init` refuses, with the errno it must return.
    bad: Vec<(Def, c_int)>,
}

/// Memory for one definition: the `msg_pool`, its descriptors, region and semaphore, leaked
/// (reachable from the `World` static until the process ends).
#[allow(clippy::too_many_arguments)]
fn define(
    name: &'static CStr,
    cfg: (usize, usize, usize),
    n_descs: usize,
    region_bytes: usize,
    region_skew: usize,
    sem: bool,
) -> Def {
    let (entries, payload, heap_slots) = cfg;
    let descs: &'static mut [Descriptor] =
        Box::leak((0..n_descs.max(1)).map(|_| Descriptor::new()).collect());
    let layout = Layout::from_size_align(region_bytes + region_skew + 8, 8).unwrap();
    // SAFETY: non-zero size; leaked on purpose (static memory of the pool).
    let region = unsafe { std::alloc::alloc_zeroed(layout) } as usize + region_skew;
    // SAFETY: all-zero bytes are a valid `msg_pool` (NULL pointers, zero sizes, "not created").
    let def: &'static mut msg_pool = Box::leak(Box::new(unsafe { zeroed::<msg_pool>() }));
    def.name = name.as_ptr();
    def.config = pool_config {
        entries,
        payload_size: payload,
        heap_slots,
    };
    def.descs = descs.as_mut_ptr().cast::<pool_msg_t>();
    def.n_descs = n_descs;
    def.region = region as *mut c_void;
    def.region_bytes = region_bytes;
    def.sem = if sem {
        Box::leak(Box::new(Sem(AtomicU32::new(0)))) as *mut Sem as *mut c_void
    } else {
        std::ptr::null_mut()
    };
    def.placement = c"fuzz heap".as_ptr();
    Def {
        def: def as *mut msg_pool as usize,
        name: name.to_str().unwrap(),
        descs: descs.as_ptr() as usize,
        n_descs,
        region,
        region_bytes,
        entries,
        heap_slots,
        payload,
        stride: c::msg_pool_stride(payload),
    }
}

fn exact(name: &'static CStr, entries: usize, payload: usize, heap_slots: usize) -> Def {
    let stride = c::msg_pool_stride(payload);
    define(
        name,
        (entries, payload, heap_slots),
        entries + heap_slots,
        entries * stride,
        0,
        true,
    )
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let pools = [
            exact(c"alpha", 4, 32, 2),
            exact(c"beta", 3, 200, 1),
            exact(c"gamma", 2, 16, 0),
        ];
        for p in &pools {
            // SAFETY: a leaked, never moved definition with the memory it names.
            assert_eq!(unsafe { c::msg_pool_init(p.ptr()) }, 0, "create {}", p.name);
        }
        // SAFETY: as above.
        assert_eq!(unsafe { c::msg_pool_set_default(pools[0].ptr()) }, 0);
        let s16 = c::msg_pool_stride(16);
        let bad = vec![
            (define(c"short", (4, 16, 0), 2, 4 * s16, 0, true), -ENOMEM),
            (
                define(c"small", (4, 16, 0), 4, 4 * s16 - 1, 0, true),
                -ENOMEM,
            ),
            (define(c"odd", (2, 16, 0), 2, 2 * s16, 1, true), -EFAULT),
            (define(c"nosem", (2, 16, 0), 2, 2 * s16, 0, false), -ENOMEM),
            (define(c"zero", (0, 16, 0), 2, 2 * s16, 0, true), -EINVAL),
            (
                define(
                    c"huge",
                    (2, 2000, 0),
                    2,
                    2 * c::msg_pool_stride(2000),
                    0,
                    true,
                ),
                -EINVAL,
            ),
            (define(c"slots", (2, 16, 65), 67, 2 * s16, 0, true), -EINVAL),
        ];
        World {
            pools,
            delta: exact(c"delta", 2, 16, 0),
            bad,
        }
    })
}

// ----- the model -------------------------------------------------------------------------------

struct PoolM {
    refs: Vec<u32>,
    holder: Vec<u16>,
    since: Vec<u32>,
    /// Heap slots: the live block (0: unclaimed).
    block: Vec<usize>,
    expect: Snapshot,
}

enum ItemM {
    /// A pointer item: the descriptor address.
    Ptr(usize),
    /// A value item: its bytes (item size).
    Value(Vec<u8>),
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Pointer,
    Value,
    Uninit,
}

struct TargetM {
    t: Box<msg_target_t>,
    q: Box<Msgq>,
    kind: Kind,
    id: u16,
    delivered: u32,
    failed: u32,
    items: VecDeque<ItemM>,
}

impl TargetM {
    fn ptr(&mut self) -> *mut msg_target_t {
        &mut *self.t
    }
}

struct Fuzz {
    w: &'static World,
    pools: Vec<PoolM>,
    targets: Vec<TargetM>,
    /// References the harness owns (descriptor addresses, one per reference).
    held: Vec<usize>,
}

fn stats(p: *const msg_pool) -> Snapshot {
    let mut s = Snapshot::default();
    // SAFETY: a created pool definition; `s` is writable.
    assert_eq!(unsafe { c::msg_pool_stats(p, &mut s) }, 0);
    s
}

impl Fuzz {
    fn new() -> Self {
        let w = world();
        let pools = w
            .pools
            .iter()
            .map(|d| PoolM {
                refs: vec![0; d.n_descs],
                holder: vec![HOLDER_PRODUCER; d.n_descs],
                since: vec![0; d.n_descs],
                block: vec![0; d.heap_slots],
                expect: stats(d.ptr()),
            })
            .collect();
        let whole = size_of::<dispatcher_msg_t>();
        let specs: [(Kind, usize, usize); 5] = [
            (Kind::Pointer, size_of::<usize>(), 2),
            (Kind::Pointer, size_of::<usize>(), 3),
            (Kind::Value, whole, 2),
            (Kind::Value, MsgHeader::SIZE + 32, 2),
            (Kind::Uninit, size_of::<usize>(), 1),
        ];
        let targets = specs
            .iter()
            .enumerate()
            .map(|(k, &(kind, item, depth))| {
                let mut t = TargetM {
                    // SAFETY: all-zero bytes are a valid (uninitialised) msg_target_t.
                    t: Box::new(unsafe { zeroed() }),
                    q: Box::new(Msgq {
                        item,
                        depth,
                        items: RefCell::new(VecDeque::new()),
                    }),
                    kind,
                    id: 10 + k as u16,
                    delivered: 0,
                    failed: 0,
                    items: VecDeque::new(),
                };
                let mode = match kind {
                    Kind::Pointer => 1,
                    Kind::Value => 2,
                    Kind::Uninit => return t,
                };
                let q = &*t.q as *const Msgq as *mut k_msgq;
                // SAFETY: writable target storage; the queue outlives the target's use.
                let r = unsafe { c::msg_target_init(t.ptr(), q, mode, t.id) };
                assert_eq!(r, 0);
                t
            })
            .collect();
        Fuzz {
            w,
            pools,
            targets,
            held: Vec::new(),
        }
    }

    /// (pool, descriptor index) of a descriptor start of a created pool.
    fn locate(&self, a: usize) -> Option<(usize, usize)> {
        self.w
            .pools
            .iter()
            .enumerate()
            .find_map(|(k, d)| d.index(a).map(|i| (k, i)))
    }

    fn owner(&self, a: usize) -> Option<usize> {
        self.w.pools.iter().position(|d| d.contains(a))
    }

    fn free_entries(&self, k: usize) -> usize {
        let d = &self.w.pools[k];
        self.pools[k].refs[..d.entries]
            .iter()
            .filter(|r| **r == 0)
            .count()
    }

    /// The errno a refused `msg_ref`/`msg_unref` of `a` returns, and the refusal counted where
    /// the API says (NULL and foreign pointers: in the default pool).
    fn refused(&mut self, a: usize, unref: bool) -> Option<c_int> {
        let (k, e) = if a == 0 {
            (0, -EINVAL)
        } else {
            match self.owner(a) {
                None => (0, -EFAULT),
                Some(k) => match self.w.pools[k].index(a) {
                    None => (k, -EFAULT),
                    Some(i) if self.pools[k].refs[i] == 0 => {
                        (k, if unref { -EALREADY } else { -EINVAL })
                    }
                    Some(_) => return None,
                },
            }
        };
        let ex = &mut self.pools[k].expect;
        if unref {
            ex.invalid_unrefs += 1;
        } else {
            ex.invalid_refs += 1;
        }
        Some(e)
    }

    /// Records an entry just handed out by pool `k` (or checks a NULL against the model).
    fn on_alloc(&mut self, k: usize, p: *mut pool_msg_t, heap: bool) {
        let d = &self.w.pools[k];
        let a = p as usize;
        let i = d
            .index(a)
            .unwrap_or_else(|| panic!("{}: handed out {p:?}, not one of its descriptors", d.name));
        let m = &mut self.pools[k];
        assert_eq!(m.refs[i], 0, "{}: entry {i} handed out while held", d.name);
        // SAFETY: a descriptor the pool just handed to us: its `msg` is readable.
        let msg = unsafe { (*p).msg } as usize;
        if i < d.entries {
            assert!(
                !heap,
                "{}: a pool entry where the heap was expected",
                d.name
            );
            assert_eq!(
                msg,
                d.region + i * d.stride,
                "{}: entry {i}'s message",
                d.name
            );
            m.expect.pool_in_use += 1;
            m.expect.allocations += 1;
            m.expect.high_water = m.expect.high_water.max(m.expect.pool_in_use);
        } else {
            assert!(heap, "{}: a heap slot while the pool had entries", d.name);
            let live = heap_live(msg);
            assert!(live, "{}: heap message {msg:#x} is no live block", d.name);
            assert!(
                msg.is_multiple_of(MsgHeader::ALIGN),
                "misaligned heap message accepted"
            );
            assert!(!m.block.contains(&msg), "one heap block in two slots");
            m.block[i - d.entries] = msg;
            m.expect.fallback_allocs += 1;
            m.expect.fallback_in_use += 1;
        }
        m.refs[i] = 1;
        m.holder[i] = HOLDER_PRODUCER;
        m.since[i] = NOW.load(Ordering::Relaxed);
        self.held.push(a);
    }

    fn drop_ref(&mut self, a: usize) {
        let (k, i) = self.locate(a).expect("a descriptor");
        let d = &self.w.pools[k];
        let m = &mut self.pools[k];
        m.refs[i] -= 1;
        if m.refs[i] == 0 {
            if i < d.entries {
                m.expect.pool_in_use -= 1;
                m.expect.frees += 1;
            } else {
                m.block[i - d.entries] = 0;
                m.expect.fallback_in_use -= 1;
            }
        }
    }

    /// Which pool an allocation call acts on: 0..3 the created ones, 3 `delta`, 4 NULL.
    fn pool_ptr(&self, which: u8) -> (*const msg_pool, Option<usize>, c_int) {
        match which % 5 {
            k @ 0..=2 => (self.w.pools[k as usize].ptr(), Some(k as usize), 0),
            3 => (self.w.delta.ptr(), None, -ENODEV),
            _ => (std::ptr::null(), None, -EINVAL),
        }
    }

    /// What an allocation from created pool `k` must do (and the counters it changes):
    /// `Ok(from the heap?)` or the errno (`msg_pool_alloc`'s; the other calls return NULL).
    /// `fallback`: the policy of `try_alloc_or`, `None` for the other calls.
    fn expect_alloc(&mut self, k: usize, fallback: Option<u8>, timeout: i32) -> Result2 {
        let isr = ISR.load(Ordering::Relaxed);
        if timeout != 0 && fallback.is_none() && isr {
            return Result2::Err(-EPERM);
        }
        if self.free_entries(k) > 0 {
            return Result2::Ok(false);
        }
        let m = &mut self.pools[k];
        m.expect.pool_alloc_failures += 1;
        match fallback {
            Some(1) => {
                let slot_free = m.block.contains(&0);
                let h = heap();
                let heap_ok = h.budget != Some(0) && !h.misaligned;
                drop(h);
                if slot_free && heap_ok {
                    return Result2::Ok(true);
                }
                m.expect.pool_drop_count += 1;
                Result2::Err(-ENOMEM)
            }
            Some(_) => {
                m.expect.pool_drop_count += 1;
                Result2::Err(-ENOMEM)
            }
            None if timeout > 0 => Result2::Err(-EAGAIN),
            None => Result2::Err(-ENOMEM),
        }
    }
}

enum Result2 {
    Ok(bool),
    Err(c_int),
}

fn heap_live(addr: usize) -> bool {
    heap().live.iter().any(|b| b.0 == addr)
}

fn main_loop(f: &mut Fuzz, u: &mut Unstructured<'_>) -> Result<()> {
    let mut steps = 0;
    while !u.is_empty() && steps < 400 {
        steps += 1;
        step(f, u)?;
        invariants(f);
    }
    Ok(())
}

/// A pointer drawn from the classes in the module docs.
fn pick_ptr(f: &Fuzz, u: &mut Unstructured<'_>) -> Result<usize> {
    let w = f.w;
    let any_pool =
        |u: &mut Unstructured<'_>| -> Result<&Def> { Ok(&w.pools[u.int_in_range(0..=2usize)?]) };
    Ok(match u.int_in_range(0u8..=11)? {
        0 => 0,
        1 | 2 if !f.held.is_empty() => f.held[u.choose_index(f.held.len())?],
        1..=3 => {
            let d = any_pool(u)?;
            d.desc(u.choose_index(d.n_descs)?)
        }
        4 => {
            let d = any_pool(u)?;
            d.desc(u.choose_index(d.n_descs)?) + u.int_in_range(1..=DESC - 1)?
        }
        5 => {
            let d = any_pool(u)?;
            if u.arbitrary()? {
                d.descs + d.n_descs * DESC
            } else {
                d.descs - DESC
            }
        }
        6 => {
            let d = any_pool(u)?;
            d.region + u.choose_index(d.entries)? * d.stride
        }
        7 => w.delta.desc(u.choose_index(w.delta.n_descs)?),
        8 => {
            let h = heap();
            let all: Vec<usize> = h
                .live
                .iter()
                .map(|b| b.0)
                .chain(h.freed.iter().copied())
                .collect();
            drop(h);
            if all.is_empty() {
                0
            } else {
                all[u.choose_index(all.len())?]
            }
        }
        9 => {
            let local = 0u64;
            &local as *const u64 as usize + u.int_in_range(0..=64)?
        }
        _ => u.arbitrary::<usize>()?,
    })
}

fn step(f: &mut Fuzz, u: &mut Unstructured<'_>) -> Result<()> {
    match u.int_in_range(0u8..=25)? {
        // --- allocation ---
        0..=2 => {
            let (p, k, refused) = f.pool_ptr(u.arbitrary()?);
            // 0 try_alloc, 1 try_alloc_or, 2 alloc_blocking, 3 msg_pool_alloc (with errno).
            let kind = u.int_in_range(0u8..=3)?;
            let policy = u.int_in_range(0u8..=3)?;
            let mut timeout = if kind >= 2 {
                u.int_in_range(-2i32..=3)?
            } else {
                0
            };
            if kind == 3 && u.ratio(1, 16)? {
                // SAFETY: NULL `out` is refused before anything else.
                let r = unsafe { c::msg_pool_alloc(p, timeout, std::ptr::null_mut()) };
                assert_eq!(r, -EINVAL);
                return Ok(());
            }
            if let Some(k) = k {
                // Never a forever wait on an empty pool: nothing would wake it.
                if timeout < 0 && f.free_entries(k) == 0 && !ISR.load(Ordering::Relaxed) {
                    timeout = 0;
                }
            }
            let fallback = (kind == 1).then_some(policy);
            let want = match (k, fallback) {
                (None, _) => Result2::Err(refused),
                (Some(_), Some(v)) if v > 1 => Result2::Err(-EINVAL), // unknown policy
                (Some(k), _) => f.expect_alloc(k, fallback, timeout),
            };
            let before = NOW.load(Ordering::Relaxed);
            let mut out: *mut pool_msg_t = std::ptr::dangling_mut::<pool_msg_t>();
            // SAFETY: `p` is NULL or a pool definition of `World`; `out` is writable.
            let (got, code) = unsafe {
                match kind {
                    0 => (c::msg_pool_try_alloc(p), None),
                    1 => (c::msg_pool_try_alloc_or(p, policy), None),
                    2 => (c::msg_pool_alloc_blocking(p, timeout), None),
                    _ => {
                        let code = c::msg_pool_alloc(p, timeout, &mut out);
                        (out, Some(code))
                    }
                }
            };
            match (want, k) {
                (Result2::Ok(heap), Some(k)) => {
                    assert!(
                        !got.is_null(),
                        "allocation failed where the model has an entry"
                    );
                    if let Some(code) = code {
                        assert_eq!(code, 0);
                    }
                    f.on_alloc(k, got, heap);
                }
                (Result2::Err(e), _) => {
                    assert!(
                        got.is_null(),
                        "allocation succeeded where the model has none"
                    );
                    if let Some(code) = code {
                        assert_eq!(code, e, "msg_pool_alloc errno");
                    }
                    let waited = NOW.load(Ordering::Relaxed).wrapping_sub(before);
                    // The simulated clock reads exact milliseconds; the pool cannot know that
                    // and, so as never to end early on a truncating clock, waits until more
                    // than the timeout has been read: exactly 1 ms more here.
                    let want_wait = if e == -EAGAIN { timeout as u32 + 1 } else { 0 };
                    assert_eq!(
                        waited, want_wait,
                        "a timed wait lasts its timeout and one clock step, no more"
                    );
                }
                (Result2::Ok(_), None) => unreachable!(),
            }
        }
        3 => {
            // The seed's calls on the default pool (alpha).
            let got = if u.arbitrary()? {
                let want = f.expect_alloc(0, None, 0);
                (c::pool_try_alloc(), want)
            } else {
                let v = u.int_in_range(0u8..=1)?;
                let want = f.expect_alloc(0, Some(v), 0);
                (c::pool_try_alloc_or(v), want)
            };
            match got {
                (p, Result2::Ok(heap)) => f.on_alloc(0, p, heap),
                (p, Result2::Err(_)) => assert!(p.is_null()),
            }
        }
        // --- references ---
        4 | 5 => {
            let a = pick_ptr(f, u)?;
            let unref = u.arbitrary()?;
            let want = f.refused(a, unref);
            if want.is_none() && !f.held.contains(&a) {
                // Held, but not by us: the call's contract forbids it. Skip.
                return Ok(());
            }
            let p = a as *mut pool_msg_t;
            let r = if unref {
                c::msg_unref(p)
            } else {
                c::msg_ref(p)
            };
            match want {
                Some(e) => assert_eq!(
                    r,
                    e,
                    "refused {} of {a:#x}",
                    if unref { "unref" } else { "ref" }
                ),
                None => {
                    assert_eq!(r, 0);
                    let (k, i) = f.locate(a).unwrap();
                    if unref {
                        let pos = f.held.iter().position(|&h| h == a).unwrap();
                        f.held.swap_remove(pos);
                        f.drop_ref(a);
                    } else {
                        f.pools[k].refs[i] += 1;
                        f.held.push(a);
                    }
                }
            }
        }
        6 => {
            let a = pick_ptr(f, u)?;
            let want = f
                .owner(a)
                .map(|k| f.w.pools[k].ptr())
                .unwrap_or(std::ptr::null_mut());
            assert_eq!(c::msg_pool_of(a as *const pool_msg_t), want);
        }
        7 => {
            // pool_msg_from_msg with message addresses, interiors, heap blocks, anything.
            let mut a = pick_ptr(f, u)?;
            if u.arbitrary()? {
                let d = &f.w.pools[u.int_in_range(0..=2usize)?];
                a = d.region + u.int_in_range(0..=d.region_bytes)?;
            }
            let want =
                f.w.pools
                    .iter()
                    .enumerate()
                    .rev() // the registry is newest first
                    .find_map(|(k, d)| {
                        let off = a.wrapping_sub(d.region);
                        let i = if off < d.region_bytes {
                            (off % d.stride == 0).then_some(off / d.stride)?
                        } else {
                            d.entries + f.pools[k].block.iter().position(|&b| b != 0 && b == a)?
                        };
                        (f.pools[k].refs[i] > 0).then(|| d.desc(i))
                    })
                    .unwrap_or(0);
            assert_eq!(
                c::pool_msg_from_msg(a as *const dispatcher_msg_t) as usize,
                want
            );
        }
        // --- writing a message we hold alone ---
        8 => {
            if f.held.is_empty() {
                return Ok(());
            }
            let a = f.held[u.choose_index(f.held.len())?];
            let (k, i) = f.locate(a).unwrap();
            if f.pools[k].refs[i] != 1 {
                return Ok(()); // shared: read-only
            }
            let payload = f.w.pools[k].payload;
            let len: usize = if u.ratio(1, 12)? {
                payload + 1 + u.int_in_range(0..=8)?
            } else {
                u.int_in_range(0..=payload)?
            };
            let fill: u8 = u.arbitrary()?;
            let p = a as *mut pool_msg_t;
            // SAFETY: we hold the only reference: header and `payload` data bytes are ours.
            unsafe {
                let msg = (*p).msg;
                (*msg).message_len = len as u32;
                let data = msg.cast::<u8>().add(MsgHeader::SIZE);
                std::ptr::write_bytes(data, fill, len.min(payload));
            }
        }
        // --- broadcast ---
        9..=11 => broadcast(f, u)?,
        // --- receive / purge ---
        12 | 13 => receive(f, u)?,
        14 => {
            let k = u.int_in_range(0..=5usize)?;
            if k == 5 {
                // SAFETY: NULL is refused.
                let r = unsafe { c::msg_target_purge(std::ptr::null_mut()) };
                assert_eq!(r, -EINVAL);
                return Ok(());
            }
            let tp = f.targets[k].ptr();
            // SAFETY: a live target of this input.
            let r = unsafe { c::msg_target_purge(tp) };
            match f.targets[k].kind {
                Kind::Uninit => assert_eq!(r, -EINVAL),
                Kind::Value => {
                    assert_eq!(r as usize, f.targets[k].items.len());
                    f.targets[k].items.clear();
                }
                Kind::Pointer => {
                    let items: Vec<ItemM> = f.targets[k].items.drain(..).collect();
                    assert_eq!(r as usize, items.len());
                    for it in items {
                        if let ItemM::Ptr(a) = it {
                            let (pk, _) = f.locate(a).unwrap();
                            f.pools[pk].expect.purged += 1;
                            f.drop_ref(a);
                        }
                    }
                }
            }
        }
        // --- diagnostics ---
        15 => leaks(f, u)?,
        16 => json(f, u)?,
        17 => {
            let (p, k, refused) = f.pool_ptr(u.arbitrary()?);
            let mut s = Snapshot::default();
            let null_out = u.ratio(1, 8)?;
            let out: *mut Snapshot = if null_out {
                std::ptr::null_mut()
            } else {
                &mut s
            };
            // SAFETY: `p` is NULL or a definition; `out` NULL or writable.
            let r = unsafe { c::msg_pool_stats(p, out) };
            match (null_out, k) {
                (true, _) => assert_eq!(r, -EINVAL),
                (false, None) => assert_eq!(r, refused),
                (false, Some(_)) => assert_eq!(r, 0),
            }
            let mut rep = CheckReport::default();
            // SAFETY: as above.
            let r = unsafe { c::msg_pool_check(p, &mut rep) };
            assert_eq!(r, if k.is_some() { 0 } else { refused });
            let k = u.int_in_range(0..=5usize)?;
            let mut ts = TargetStats::default();
            let tp = if k == 5 {
                std::ptr::null_mut()
            } else {
                f.targets[k].ptr()
            };
            // SAFETY: a live target or NULL; `ts` writable.
            let r = unsafe { c::msg_target_stats(tp, &mut ts) };
            if k == 5 || f.targets[k].kind == Kind::Uninit {
                assert_eq!(r, -EINVAL);
            } else {
                assert_eq!(r, 0);
            }
        }
        // --- creation, refused ---
        18 => {
            let w = f.w;
            let k = u.int_in_range(0..=w.bad.len() + 4)?;
            let (p, want) = if k < w.bad.len() {
                (w.bad[k].0.ptr(), w.bad[k].1)
            } else if k < w.bad.len() + 3 {
                (w.pools[k - w.bad.len()].ptr(), -EALREADY)
            } else {
                (std::ptr::null_mut(), -EINVAL)
            };
            // SAFETY: NULL or a leaked definition with the memory it names.
            assert_eq!(unsafe { c::msg_pool_init(p) }, want);
            // pool_init / pool_init_ex on the created default pool (alpha: 6 descriptors,
            // 4 * stride(32) bytes).
            let entries = u.int_in_range(0..=1100usize)?;
            let payload = u.int_in_range(0..=1100usize)?;
            let slots = u.int_in_range(0..=70usize)?;
            let alpha = &w.pools[0];
            let want = |slots: usize| {
                if entries == 0
                    || entries > 1024
                    || payload == 0
                    || payload > c::DISPATCHER_PAYLOAD_MAX
                    || slots > 64
                {
                    -EINVAL
                } else if entries + slots > alpha.n_descs
                    || entries * c::msg_pool_stride(payload) > alpha.region_bytes
                {
                    -ENOMEM
                } else {
                    -EALREADY
                }
            };
            assert_eq!(c::pool_init(entries, payload), want(alpha.heap_slots));
            let cfg = pool_config {
                entries,
                payload_size: payload,
                heap_slots: slots,
            };
            // SAFETY: a readable config, or NULL.
            assert_eq!(unsafe { c::pool_init_ex(&cfg) }, want(slots));
            // SAFETY: NULL is refused.
            assert_eq!(unsafe { c::pool_init_ex(std::ptr::null()) }, -EINVAL);
            // SAFETY: definitions of `World`.
            unsafe {
                assert_eq!(c::msg_pool_set_default(w.pools[0].ptr()), 0);
                assert_eq!(c::msg_pool_set_default(w.pools[1].ptr()), -EALREADY);
                assert_eq!(c::msg_pool_set_default(std::ptr::null_mut()), -EINVAL);
            }
            assert_eq!(c::msg_pool_default(), w.pools[0].ptr());
            // The pool list, newest first.
            let mut it = std::ptr::null();
            for d in w.pools.iter().rev() {
                // SAFETY: NULL or a pool the list returned.
                it = unsafe { c::msg_pool_next(it) };
                assert_eq!(it, d.ptr());
            }
            // SAFETY: as above.
            assert!(unsafe { c::msg_pool_next(it) }.is_null());
        }
        // --- the port ---
        19 => ISR.store(u.arbitrary()?, Ordering::Relaxed),
        20 => {
            let mut h = heap();
            h.budget = match u.int_in_range(0u8..=5)? {
                5 => None,
                n => Some(n as u32),
            };
            h.misaligned = u.ratio(1, 4)?;
        }
        // --- the seed's calls on the default pool (alpha) ---
        22 => {
            let mut timeout = u.int_in_range(-2i32..=3)?;
            if timeout < 0 && f.free_entries(0) == 0 && !ISR.load(Ordering::Relaxed) {
                timeout = 0; // nothing would wake a forever wait
            }
            let want = f.expect_alloc(0, None, timeout);
            let with_code = u.arbitrary()?;
            let mut out = std::ptr::dangling_mut::<pool_msg_t>();
            let (got, code) = if with_code {
                // SAFETY: `out` is writable.
                let code = unsafe { c::pool_alloc(timeout, &mut out) };
                (out, Some(code))
            } else {
                (c::pool_alloc_blocking(timeout), None)
            };
            match want {
                Result2::Ok(heap) => {
                    assert_eq!(code.unwrap_or(0), 0);
                    f.on_alloc(0, got, heap);
                }
                Result2::Err(e) => {
                    assert!(got.is_null());
                    assert_eq!(code.unwrap_or(e), e, "pool_alloc errno");
                }
            }
        }
        23 => {
            let alpha = &f.w.pools[0];
            let m = &f.pools[0];
            let mut s = Snapshot::default();
            // SAFETY: `s` is writable; NULL is refused.
            unsafe {
                assert_eq!(c::pool_stats(&mut s), 0);
                assert_eq!(c::pool_stats(std::ptr::null_mut()), -EINVAL);
            }
            assert_eq!(s, m.expect, "pool_stats");
            let mut rep = CheckReport::default();
            // SAFETY: `rep` is writable; NULL is allowed.
            unsafe {
                assert_eq!(c::pool_check(&mut rep), 0);
                assert_eq!(c::pool_check(std::ptr::null_mut()), 0);
            }
            assert_eq!(rep.free, f.free_entries(0));
            // pool_leaks: no targets, so nothing is queued and every reference is held.
            let max = u.int_in_range(0..=8usize)?;
            let mut out = vec![Leak::default(); max];
            // SAFETY: room for `max` records.
            let r = unsafe { c::pool_leaks(0, out.as_mut_ptr(), max) };
            let held: Vec<usize> = (0..alpha.n_descs).filter(|&i| m.refs[i] > 0).collect();
            assert_eq!(r as usize, held.len(), "pool_leaks count");
            for (l, &i) in out.iter().zip(&held) {
                assert_eq!(
                    (
                        l.index as usize,
                        l.queued,
                        l.queued_at,
                        l.held_by,
                        l.refcount
                    ),
                    (i, 0, HOLDER_NONE, m.holder[i], m.refs[i])
                );
            }
            if max > 0 {
                // SAFETY: NULL with max > 0 is refused.
                let r = unsafe { c::pool_leaks(0, std::ptr::null_mut(), max) };
                assert_eq!(r, -EINVAL);
            }
            let mut buf = vec![0u8; 4096];
            // SAFETY: `buf` has its length in writable bytes; no targets.
            let n = unsafe {
                c::pool_stats_json(buf.as_mut_ptr().cast(), buf.len(), std::ptr::null(), 0)
            };
            assert!(n > 0 && buf[n as usize] == 0);
            let v: serde_json::Value = serde_json::from_slice(&buf[..n as usize]).expect("JSON");
            assert_eq!(v["name"].as_str(), Some(alpha.name));
            for (key, val) in m.expect.fields() {
                assert_eq!(v[key].as_u64(), Some(val as u64), "pool_stats_json {key}");
            }
        }
        24 => {
            // msg_target_init: every refusal is -EINVAL; a fitting queue is accepted.
            let whole = size_of::<dispatcher_msg_t>();
            let item = *u.choose(&[
                0,
                4,
                size_of::<usize>(),
                MsgHeader::SIZE - 1,
                MsgHeader::SIZE,
                MsgHeader::SIZE + 32,
                whole,
                whole + 1,
            ])?;
            let mode = u.int_in_range(0u8..=3)?;
            let q = Box::new(Msgq {
                item,
                depth: 1,
                items: RefCell::new(VecDeque::new()),
            });
            let qp = if u.ratio(1, 8)? {
                std::ptr::null_mut()
            } else {
                &*q as *const Msgq as *mut k_msgq
            };
            // SAFETY: all-zero bytes are a valid msg_target_t.
            let mut t: Box<msg_target_t> = Box::new(unsafe { zeroed() });
            let tp: *mut msg_target_t = if u.ratio(1, 8)? {
                std::ptr::null_mut()
            } else {
                &mut *t
            };
            let fits = match mode {
                1 => item == size_of::<usize>(),
                2 => (MsgHeader::SIZE..=whole).contains(&item),
                _ => false,
            };
            let want = if tp.is_null() || qp.is_null() || !fits {
                -EINVAL
            } else {
                0
            };
            // SAFETY: `tp` NULL or writable target storage; `qp` NULL or a queue that outlives
            // the target (both dropped together below).
            assert_eq!(unsafe { c::msg_target_init(tp, qp, mode, 99) }, want);
            let mut s = TargetStats::default();
            // SAFETY: `t` is live (zeroed or initialised); `s` writable.
            let r = unsafe { c::msg_target_stats(&*t, &mut s) };
            if want == 0 {
                assert_eq!((r, s.id, s.delivered, s.failed, s.queued), (0, 99, 0, 0, 0));
            } else {
                assert_eq!(r, -EINVAL, "a refused init leaves the target uninitialised");
            }
        }
        _ => {
            let jump: u32 = if u.arbitrary()? {
                u.int_in_range(0..=100)?
            } else {
                u.arbitrary()?
            };
            NOW.fetch_add(jump, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// A target list: some of the five targets, maybe with a NULL in it, maybe a NULL list.
fn target_list(
    f: &mut Fuzz,
    u: &mut Unstructured<'_>,
) -> Result<(Vec<*mut msg_target_t>, Vec<usize>, bool, bool)> {
    let n = u.int_in_range(0..=6usize)?;
    let mut list = Vec::new();
    let mut idx = Vec::new();
    let mut has_null = false;
    for _ in 0..n {
        if u.ratio(1, 24)? {
            list.push(std::ptr::null_mut());
            has_null = true;
        } else {
            let k = u.int_in_range(0..=4usize)?;
            list.push(f.targets[k].ptr());
            idx.push(k);
        }
    }
    let null_list = n > 0 && u.ratio(1, 24)?;
    Ok((list, idx, has_null, null_list))
}

fn broadcast(f: &mut Fuzz, u: &mut Unstructured<'_>) -> Result<()> {
    let a = pick_ptr(f, u)?;
    let ours = f.held.contains(&a);
    let located = f.locate(a);
    let held_elsewhere = located.is_some_and(|(k, i)| f.pools[k].refs[i] > 0) && !ours;
    if held_elsewhere {
        return Ok(()); // the contract: only the producer's own reference may be broadcast
    }
    let (list, idx, has_null, null_list) = target_list(f, u)?;
    let n = list.len();
    let lp = if null_list {
        std::ptr::null()
    } else {
        list.as_ptr()
    };
    // What the pool must do.
    let want: c_int;
    if a == 0 {
        want = -EINVAL;
    } else if f.owner(a).is_none() {
        want = -EFAULT;
    } else if !ours {
        // Misaligned or free: nothing changes. The pointer is checked before the list: a
        // misaligned one is -EFAULT whatever the list, a free one -EINVAL.
        want = if located.is_none() { -EFAULT } else { -EINVAL };
    } else {
        let (k, i) = located.unwrap();
        let d = &f.w.pools[k];
        // SAFETY: we hold a reference: the header is readable.
        let msg = unsafe { (*(a as *const pool_msg_t)).msg };
        // SAFETY: as above.
        let len = unsafe { (*msg).message_len } as usize;
        let refused = if (n > 0 && (null_list || has_null)) || n == 0 {
            Some(-EINVAL)
        } else if len > d.payload {
            Some(-EMSGSIZE)
        } else if idx.iter().any(|&t| f.targets[t].kind == Kind::Uninit) {
            Some(-EINVAL)
        } else {
            None
        };
        let pos = f.held.iter().position(|&h| h == a).unwrap();
        f.held.swap_remove(pos);
        match refused {
            Some(e) => {
                f.pools[k].expect.pool_drop_count += 1;
                want = e;
            }
            None => {
                f.pools[k].expect.broadcasts += 1;
                let mut delivered = 0;
                for &t in &idx {
                    let tm = &mut f.targets[t];
                    let ok = match tm.kind {
                        Kind::Pointer => tm.items.len() < tm.q.depth,
                        _ => MsgHeader::SIZE + len <= tm.q.item && tm.items.len() < tm.q.depth,
                    };
                    if ok {
                        let item = match tm.kind {
                            Kind::Pointer => ItemM::Ptr(a),
                            _ => {
                                let mut v = vec![0u8; tm.q.item];
                                // SAFETY: the message has header + `len <= payload` readable bytes.
                                let src = unsafe {
                                    std::slice::from_raw_parts(
                                        msg.cast::<u8>(),
                                        MsgHeader::SIZE + len,
                                    )
                                };
                                v[..src.len()].copy_from_slice(src);
                                ItemM::Value(v)
                            }
                        };
                        if tm.kind == Kind::Pointer {
                            f.pools[k].refs[i] += 1;
                        }
                        let tm = &mut f.targets[t];
                        tm.items.push_back(item);
                        tm.delivered += 1;
                        delivered += 1;
                    } else {
                        tm.failed += 1;
                        f.pools[k].expect.enqueue_failures += 1;
                    }
                }
                if delivered == 0 {
                    f.pools[k].expect.pool_drop_count += 1;
                }
                want = delivered;
            }
        }
        f.drop_ref(a);
    }
    // SAFETY: `lp` is NULL or `n` pointers, each NULL or a live target; `a` is anything (only
    // an entry we hold is a valid one, and only that is handed over).
    let r = unsafe { c::msg_broadcast(a as *mut pool_msg_t, lp, n) };
    assert_eq!(r, want, "broadcast of {a:#x} to {n} targets");
    Ok(())
}

fn receive(f: &mut Fuzz, u: &mut Unstructured<'_>) -> Result<()> {
    let k = u.int_in_range(0..=5usize)?;
    let timeout = u.int_in_range(-1i32..=2)?;
    let null_ptr_out = u.ratio(1, 16)?;
    let null_value_out = u.ratio(1, 16)?;
    let mut out: *mut pool_msg_t = std::ptr::dangling_mut::<pool_msg_t>();
    let mut value: Box<dispatcher_msg_t> = {
        // SAFETY: all-zero bytes are a valid dispatcher_msg_t (integers, a NULL pointer).
        Box::new(unsafe { zeroed() })
    };
    let tp = if k == 5 {
        std::ptr::null_mut()
    } else {
        f.targets[k].ptr()
    };
    let op = if null_ptr_out {
        std::ptr::null_mut()
    } else {
        &mut out as *mut _
    };
    let ov = if null_value_out {
        std::ptr::null_mut()
    } else {
        &mut *value as *mut _
    };
    // SAFETY: a live target or NULL; the outputs are NULL or writable.
    let r = unsafe { c::msg_receive(tp, timeout, op, ov) };
    if !null_ptr_out && (k == 5 || r != 0 || f.targets[k].kind != Kind::Pointer) {
        assert!(
            out.is_null(),
            "*out_ptr is NULL unless a pointer was received"
        );
    }
    if k == 5 {
        assert_eq!(r, -EINVAL);
        return Ok(());
    }
    let isr = ISR.load(Ordering::Relaxed);
    let t = &mut f.targets[k];
    let want = match t.kind {
        Kind::Uninit => -EINVAL,
        _ if timeout != 0 && isr => -EPERM,
        Kind::Pointer if null_ptr_out => -EINVAL,
        Kind::Value if null_value_out => -EINVAL,
        _ if t.items.is_empty() => -EAGAIN,
        _ => 0,
    };
    assert_eq!(r, want, "receive from target {k}");
    if r != 0 {
        return Ok(());
    }
    match t.items.pop_front().unwrap() {
        ItemM::Ptr(a) => {
            assert_eq!(out as usize, a, "FIFO order of pointer items");
            let id = t.id;
            let (pk, i) = f.locate(a).unwrap();
            f.pools[pk].holder[i] = id;
            f.held.push(a);
        }
        ItemM::Value(mut v) => {
            // The copy's data_ptr points at its own payload, not the sender's.
            let at = std::mem::offset_of!(dispatcher_msg_t, data_ptr);
            let own = &value.data as *const _ as usize;
            v[at..at + std::mem::size_of::<usize>()].copy_from_slice(&own.to_ne_bytes());
            // SAFETY: `value` is a whole dispatcher_msg_t; we read its first `item` bytes.
            let got = unsafe {
                std::slice::from_raw_parts(&*value as *const dispatcher_msg_t as *const u8, v.len())
            };
            assert_eq!(got, &v[..], "value item bytes");
        }
    }
    Ok(())
}

fn leaks(f: &mut Fuzz, u: &mut Unstructured<'_>) -> Result<()> {
    let (p, k, refused) = f.pool_ptr(u.arbitrary()?);
    let (list, idx, has_null, null_list) = target_list(f, u)?;
    let max = u.int_in_range(0..=40usize)?;
    let null_out = u.ratio(1, 16)?;
    let min_age = match u.int_in_range(0u8..=3)? {
        0 => 0,
        1 => u.int_in_range(0..=200)?,
        2 => u32::MAX,
        _ => u.arbitrary()?,
    };
    let mut out = vec![Leak::default(); max];
    let op = if null_out {
        std::ptr::null_mut()
    } else {
        out.as_mut_ptr()
    };
    let lp = if null_list {
        std::ptr::null()
    } else {
        list.as_ptr()
    };
    // SAFETY: `p` NULL or a definition; `lp` NULL or `list.len()` NULL-or-live targets;
    // `op` NULL or room for `max` records.
    let r = unsafe { c::msg_pool_leaks(p, min_age, lp, list.len(), op, max) };
    let Some(k) = k else {
        assert_eq!(r, refused);
        return Ok(());
    };
    if max > 0 && null_out || !list.is_empty() && (null_list || has_null) {
        assert_eq!(r, -EINVAL);
        return Ok(());
    }
    let d = &f.w.pools[k];
    let m = &f.pools[k];
    let now = NOW.load(Ordering::Relaxed);
    let want: Vec<Leak> = (0..d.n_descs)
        .filter(|&i| m.refs[i] > 0 && now.wrapping_sub(m.since[i]) >= min_age)
        .map(|i| {
            let a = d.desc(i);
            let (mut queued, mut queued_at) = (0u16, HOLDER_NONE);
            for &t in &idx {
                let tm = &f.targets[t];
                if tm.kind != Kind::Pointer {
                    continue;
                }
                let here = tm
                    .items
                    .iter()
                    .filter(|it| matches!(it, ItemM::Ptr(x) if *x == a))
                    .count();
                if here > 0 && queued_at == HOLDER_NONE {
                    queued_at = tm.id;
                }
                queued += here as u16;
            }
            Leak {
                index: i as u16,
                queued_at,
                queued,
                held_by: if m.refs[i] > queued as u32 {
                    m.holder[i]
                } else {
                    HOLDER_NONE
                },
                refcount: m.refs[i],
                age_ms: now.wrapping_sub(m.since[i]),
            }
        })
        .collect();
    assert_eq!(r as usize, want.len(), "leak count of {}", d.name);
    let written = want.len().min(max).min(c::DISPATCHER_LEAKS_MAX);
    assert_eq!(&out[..written], &want[..written]);
    assert!(
        out[written..].iter().all(|l| *l == Leak::default()),
        "written past the count"
    );
    Ok(())
}

fn json(f: &mut Fuzz, u: &mut Unstructured<'_>) -> Result<()> {
    let all = u.ratio(1, 3)?;
    let (p, k, refused) = f.pool_ptr(u.arbitrary()?);
    let (list, idx, has_null, null_list) = target_list(f, u)?;
    let len = u.int_in_range(0..=2048usize)?;
    let null_buf = len > 0 && u.ratio(1, 16)?;
    let mut buf = vec![0x5Au8; len];
    let bp = if null_buf {
        std::ptr::null_mut()
    } else {
        buf.as_mut_ptr().cast::<c_char>()
    };
    let lp = if null_list {
        std::ptr::null()
    } else {
        list.as_ptr()
    };
    // SAFETY: `p` NULL or a definition; `bp` NULL or `len` writable bytes; `lp` as in `leaks`.
    let r = unsafe {
        if all {
            c::msg_pool_stats_json_all(bp, len, lp, list.len())
        } else {
            c::msg_pool_stats_json(p, bp, len, lp, list.len())
        }
    };
    if !all && k.is_none() {
        assert_eq!(r, refused);
        return Ok(());
    }
    let bad_list = !list.is_empty() && (null_list || has_null)
        || idx.iter().any(|&t| f.targets[t].kind == Kind::Uninit);
    if bad_list {
        assert_eq!(r, -EINVAL);
        return Ok(());
    }
    if len == 0 {
        assert_eq!(r, -ENOSPC);
        return Ok(());
    }
    if null_buf {
        assert_eq!(r, -EINVAL);
        return Ok(());
    }
    if r == -ENOSPC {
        // Must really be too short: the same call into a large buffer needs more than `len`.
        let mut big = vec![0u8; 64 * 1024];
        // SAFETY: as above, with a large buffer.
        let n = unsafe {
            if all {
                c::msg_pool_stats_json_all(big.as_mut_ptr().cast(), big.len(), lp, list.len())
            } else {
                c::msg_pool_stats_json(p, big.as_mut_ptr().cast(), big.len(), lp, list.len())
            }
        };
        assert!(
            n >= 0 && n as usize + 1 > len,
            "-ENOSPC with room for {n} + NUL in {len}"
        );
        return Ok(());
    }
    assert!(r >= 0, "json: {r}");
    let n = r as usize;
    assert_eq!(buf[n], 0, "NUL after the text");
    let v: serde_json::Value = serde_json::from_slice(&buf[..n]).expect("valid JSON");
    let check_pool = |o: &serde_json::Value, k: usize| {
        let d = &f.w.pools[k];
        assert_eq!(o["name"].as_str(), Some(d.name));
        for (key, val) in f.pools[k].expect.fields() {
            assert_eq!(o[key].as_u64(), Some(val as u64), "{}: {key}", d.name);
        }
    };
    if all {
        let pools = v["pools"].as_array().expect("pools");
        assert_eq!(pools.len(), 3);
        for (k, o) in pools.iter().enumerate() {
            check_pool(o, k);
        }
    } else {
        check_pool(&v, k.unwrap());
    }
    let ts = v["targets"].as_array().expect("targets");
    assert_eq!(ts.len(), idx.len());
    for (j, &t) in ts.iter().zip(&idx) {
        let tm = &f.targets[t];
        assert_eq!(j["id"].as_u64(), Some(tm.id as u64));
        assert_eq!(j["delivered"].as_u64(), Some(tm.delivered as u64));
        assert_eq!(j["failed"].as_u64(), Some(tm.failed as u64));
        assert_eq!(j["queued"].as_u64(), Some(tm.items.len() as u64));
    }
    Ok(())
}

/// After every call: every pool's check and counters, every target's counters and queue.
fn invariants(f: &Fuzz) {
    for (k, d) in f.w.pools.iter().enumerate() {
        let m = &f.pools[k];
        let mut rep = CheckReport::default();
        // SAFETY: a created pool; `rep` writable.
        let r = unsafe { c::msg_pool_check(d.ptr(), &mut rep) };
        assert_eq!(r, 0, "{} check", d.name);
        let held = m.refs[..d.entries].iter().filter(|r| **r > 0).count();
        let heap_held = m.block.iter().filter(|b| **b != 0).count();
        assert_eq!(
            (rep.free, rep.held, rep.heap_held),
            (d.entries - held, held, heap_held),
            "{} check report",
            d.name
        );
        assert_eq!(stats(d.ptr()), m.expect, "{} counters", d.name);
        for i in 0..d.n_descs {
            // SAFETY: the descriptor array of a created pool; only its refcount is read here,
            // through the core's accessor.
            let rc = unsafe { &*(d.desc(i) as *const Descriptor) }.refcount();
            assert_eq!(rc, m.refs[i], "{} refcount of {i}", d.name);
        }
    }
    for t in &f.targets {
        assert_eq!(
            t.q.items.borrow().len(),
            t.items.len(),
            "queue length of target {}",
            t.id
        );
        if t.kind != Kind::Uninit {
            let mut s = TargetStats::default();
            // SAFETY: a live initialised target; `s` writable.
            assert_eq!(unsafe { c::msg_target_stats(&*t.t, &mut s) }, 0);
            assert_eq!(
                (s.id, s.delivered, s.failed, s.queued as usize),
                (t.id, t.delivered, t.failed, t.items.len())
            );
        }
    }
    // No reference we hold is to a free entry.
    for &a in &f.held {
        let (k, i) = f.locate(a).unwrap();
        assert!(f.pools[k].refs[i] > 0);
    }
}

/// Releases everything and checks every pool is whole.
fn finish(mut f: Fuzz) {
    ISR.store(false, Ordering::Relaxed);
    for k in 0..4 {
        let tp = f.targets[k].ptr();
        // SAFETY: a live target of this input.
        let r = unsafe { c::msg_target_purge(tp) };
        let items: Vec<ItemM> = f.targets[k].items.drain(..).collect();
        assert_eq!(r as usize, items.len());
        for it in items {
            if let ItemM::Ptr(a) = it {
                let (pk, _) = f.locate(a).unwrap();
                f.pools[pk].expect.purged += 1;
                f.drop_ref(a);
            }
        }
    }
    for a in std::mem::take(&mut f.held) {
        assert_eq!(c::msg_unref(a as *mut pool_msg_t), 0);
        f.drop_ref(a);
    }
    invariants(&f);
    for d in &f.w.pools {
        let s = stats(d.ptr());
        assert_eq!(
            (s.pool_in_use, s.fallback_in_use),
            (0, 0),
            "{} whole",
            d.name
        );
    }
    let mut h = heap();
    assert!(
        h.live.is_empty(),
        "heap blocks still allocated: {:?}",
        h.live
    );
    h.budget = None;
    h.misaligned = false;
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fuzz::new();
    let mut u = Unstructured::new(data);
    let _ = main_loop(&mut f, &mut u);
    finish(f);
});
