//! The reference model of one pool, shared by the proptest in `tests/model.rs` and the
//! libFuzzer target `fuzz/fuzz_targets/ops.rs` (which includes this file with `#[path]`).
//!
//! A [`Harness`] runs each [`Op`] against a real pool (4 entries of 16 bytes, 2 heap fallback
//! slots, the std port) and against a plain model: a free stack, a refcount per descriptor,
//! claimed heap slots, a `VecDeque` per target queue, the expected holder and payload of every
//! entry, and every counter of the snapshot. After every step `check()` must pass and the
//! pool's snapshot, refcounts and queue lengths must equal the model's exactly.

use dispatcher_pool::descriptor::HOLDER_PRODUCER;
use dispatcher_pool::host::{HostPool, HostQueue, StdPort};
use dispatcher_pool::metrics::Snapshot;
use dispatcher_pool::pool::{Leak, HOLDER_NONE};
use dispatcher_pool::{
    Descriptor, Fallback, Mode, Msg, MsgHeader, Pool, PoolConfig, PoolError, Received, Target,
    Timeout,
};
use std::collections::VecDeque;

/// Pool entries.
pub const ENTRIES: usize = 4;
/// Heap fallback slots (descriptors `ENTRIES..ENTRIES + HEAP_SLOTS`).
pub const HEAP_SLOTS: usize = 2;
/// Payload bytes per message.
pub const PAYLOAD: usize = 16;
const DESCS: usize = ENTRIES + HEAP_SLOTS;
/// Targets: two pointer queues, a value queue of whole messages, a value queue with room for
/// only 8 payload bytes (longer messages are enqueue failures there).
pub const TARGETS: usize = 4;
const DEPTH: [usize; TARGETS] = [2, 3, 2, 1];
const MODES: [Mode; TARGETS] = [Mode::Pointer, Mode::Pointer, Mode::Value, Mode::Value];
const SMALL_VALUE_PAYLOAD: usize = 8;

/// One step. Indices (`usize`, masks) are taken modulo whatever they select from.
#[derive(Debug, Clone)]
pub enum Op {
    /// `try_alloc_raw` (a raw reference).
    Alloc,
    /// `try_alloc_or_raw(Fallback::Drop)` (a raw reference).
    AllocDrop,
    /// `try_alloc_or(Fallback::Heap)` (a handle).
    AllocHeap,
    /// `alloc_blocking(Timeout::NoWait)` (a handle).
    AllocNoWait,
    /// `alloc_blocking(Timeout::Millis(0))` (a handle; times out at once when empty).
    AllocZeroTimeout,
    /// Only `n` more heap fallback allocations succeed (255: unlimited).
    HeapBudget(u8),
    /// `ref_raw` of a raw reference, `try_clone` of a handle.
    Ref(usize),
    /// `unref_raw` of a raw reference, drop of a handle.
    Unref(usize),
    /// `Msg::write` of `len` bytes through a handle (refused while shared or too long).
    Write { held: usize, len: u8 },
    /// Broadcast of a held reference to the targets in `targets` (a bit mask), with a
    /// `message_len` above the payload size if `oversize`.
    Broadcast {
        held: usize,
        targets: u8,
        oversize: bool,
    },
    /// `receive` from a target (NoWait).
    Consume(usize),
    /// `purge` of a target.
    Purge(usize),
    /// `leaks` over the targets in `targets` (a mask) into a buffer of `cap % 8` records,
    /// with a minimum age of 0 or (if `old`) `u32::MAX`.
    Leaks { targets: u8, cap: u8, old: bool },
    /// Unref of a free descriptor (pool entry or heap slot).
    DoubleUnref(usize),
    /// Ref of a free descriptor.
    RefFree(usize),
    /// Broadcast of a free descriptor.
    BroadcastFree(usize),
    /// Unref of NULL.
    UnrefNull,
    /// Unref of a pointer into the middle of a descriptor.
    UnrefMisaligned(usize),
    /// Unref of a pointer outside the descriptors (stack, one before, one past the end).
    UnrefForeign(usize),
}

/// A reference the test holds: raw (through the `unsafe` entry points) or a handle.
enum Held<'p> {
    Raw(usize),
    Handle(Msg<'p, 'p, StdPort>),
}

/// What a queue item is in the model.
#[derive(Debug, Clone)]
enum Item {
    /// A pointer item: the descriptor index.
    Ptr(usize),
    /// A value copy: the payload of the entry it was copied from, as it was then.
    Value(Vec<u8>),
}

#[derive(Default, Debug)]
struct Model {
    free: Vec<usize>,
    refs: [u32; DESCS],
    heap_claimed: [bool; HEAP_SLOTS],
    heap_budget: Option<u32>,
    /// Payload of every held entry (what `message_len` bytes must read).
    payload: [Vec<u8>; DESCS],
    holder: [u16; DESCS],
    queues: [VecDeque<Item>; TARGETS],
    expect: Snapshot,
}

impl Model {
    fn unref(&mut self, i: usize) {
        assert!(self.refs[i] > 0, "model: unref of a free entry {i}");
        self.refs[i] -= 1;
        if self.refs[i] == 0 {
            if i < ENTRIES {
                self.free.push(i);
                self.expect.pool_in_use -= 1;
                self.expect.frees += 1;
            } else {
                self.heap_claimed[i - ENTRIES] = false;
                self.expect.fallback_in_use -= 1;
            }
        }
    }

    /// A pool allocation: the entry the pool must return, or `None` (counted failure).
    fn alloc(&mut self) -> Option<usize> {
        match self.free.pop() {
            Some(i) => {
                self.refs[i] = 1;
                self.holder[i] = HOLDER_PRODUCER;
                self.expect.pool_in_use += 1;
                self.expect.allocations += 1;
                self.expect.high_water = self.expect.high_water.max(self.expect.pool_in_use);
                Some(i)
            }
            None => {
                self.expect.pool_alloc_failures += 1;
                None
            }
        }
    }

    /// A heap fallback allocation after the pool was found empty.
    fn heap_alloc(&mut self) -> Option<usize> {
        let k = self.heap_claimed.iter().position(|c| !c)?;
        match &mut self.heap_budget {
            Some(0) => return None,
            Some(b) => *b -= 1,
            None => {}
        }
        let i = ENTRIES + k;
        self.heap_claimed[k] = true;
        self.refs[i] = 1;
        self.holder[i] = HOLDER_PRODUCER;
        self.expect.fallback_allocs += 1;
        self.expect.fallback_in_use += 1;
        Some(i)
    }
}

/// Builds the pool the model describes.
pub fn pool() -> HostPool {
    HostPool::new(PoolConfig::new(ENTRIES, PAYLOAD).with_heap_slots(HEAP_SLOTS)).unwrap()
}

/// Builds the targets the model describes, for a pool of `stride` bytes per message.
pub fn targets(stride: usize) -> Vec<Target<HostQueue>> {
    (0..TARGETS)
        .map(|k| {
            let q = match k {
                2 => HostQueue::values(DEPTH[k], stride),
                3 => HostQueue::values(DEPTH[k], MsgHeader::SIZE + SMALL_VALUE_PAYLOAD),
                _ => HostQueue::pointers(DEPTH[k]),
            };
            Target::new(q, MODES[k], k as u16).unwrap()
        })
        .collect()
}

/// Runs `ops` on a fresh pool against the model, then drains everything and checks that the
/// pool comes back whole.
pub fn run(ops: impl IntoIterator<Item = Op>) {
    let h = pool();
    let targets = targets(h.pool().layout().stride);
    let mut harness = Harness::new(h.pool(), &targets);
    for op in ops {
        harness.step(op);
    }
    harness.finish();
}

/// A pool, its targets and the model, stepped together.
pub struct Harness<'p> {
    p: &'p Pool<'p, StdPort>,
    targets: &'p [Target<HostQueue>],
    m: Model,
    held: Vec<Held<'p>>,
    next_tag: u8,
    value_buf: Vec<u8>,
}

impl<'p> Harness<'p> {
    /// A harness over a fresh pool from [`pool`] and targets from [`targets`].
    pub fn new(p: &'p Pool<'p, StdPort>, targets: &'p [Target<HostQueue>]) -> Self {
        let stride = p.layout().stride;
        let m = Model {
            free: (0..ENTRIES).rev().collect(),
            expect: Snapshot {
                pool_total: ENTRIES as u32,
                payload_size: PAYLOAD as u32,
                stride: stride as u32,
                ..Snapshot::default()
            },
            ..Model::default()
        };
        Harness {
            p,
            targets,
            m,
            held: Vec::new(),
            next_tag: 1,
            value_buf: vec![0u8; stride],
        }
    }

    fn ptr(&self, i: usize) -> *const Descriptor {
        self.p.descriptor_ptr(i).unwrap()
    }

    fn index(&self, h: &Held<'p>) -> usize {
        match h {
            Held::Raw(i) => *i,
            Held::Handle(m) => self.p.index_of(m.descriptor()).unwrap(),
        }
    }

    fn tag(&mut self) -> u8 {
        let t = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1).max(1);
        t
    }

    /// Writes the fresh payload of a just-allocated entry through its raw pointer.
    fn fill_raw(&mut self, i: usize) {
        let tag = self.tag();
        // SAFETY: the test holds the only reference to entry `i` (just allocated); its
        // payload has PAYLOAD >= 1 bytes after the header.
        unsafe {
            let msg = (*self.ptr(i)).msg_ptr();
            (*msg).message_len = 1;
            *msg.cast::<u8>().add(MsgHeader::SIZE) = tag;
        }
        self.m.payload[i] = vec![tag];
    }

    fn adopt(&mut self, r: Result<Msg<'p, 'p, StdPort>, PoolError>, expected: Option<usize>) {
        match expected {
            Some(i) => {
                let mut msg = r.expect("the model has an entry for this allocation");
                assert_eq!(self.p.index_of(msg.descriptor()), Ok(i), "allocation order");
                let tag = self.tag();
                msg.write(&[tag]).unwrap();
                self.m.payload[i] = vec![tag];
                self.held.push(Held::Handle(msg));
            }
            None => assert!(r.is_err(), "the model has no entry, the pool gave one"),
        }
    }

    /// Runs one step on pool and model, then checks every invariant.
    pub fn step(&mut self, op: Op) {
        let p = self.p;
        match op {
            Op::Alloc | Op::AllocDrop => {
                let r = if matches!(op, Op::Alloc) {
                    p.try_alloc_raw()
                } else {
                    p.try_alloc_or_raw(Fallback::Drop)
                };
                match self.m.alloc() {
                    Some(i) => {
                        let d = r.expect("model has a free entry");
                        assert_eq!(p.index_of(d), Ok(i), "LIFO order");
                        self.fill_raw(i);
                        self.held.push(Held::Raw(i));
                    }
                    None => {
                        assert_eq!(r.err(), Some(PoolError::Exhausted));
                        if matches!(op, Op::AllocDrop) {
                            self.m.expect.pool_drop_count += 1;
                        }
                    }
                }
            }
            Op::AllocHeap => {
                let r = p.try_alloc_or(Fallback::Heap);
                let i = self.m.alloc().or_else(|| self.m.heap_alloc());
                if i.is_none() {
                    self.m.expect.pool_drop_count += 1;
                    assert_eq!(r.as_ref().err(), Some(&PoolError::Exhausted));
                }
                self.adopt(r, i);
            }
            Op::AllocNoWait => {
                let r = p.alloc_blocking(Timeout::NoWait);
                let i = self.m.alloc();
                if i.is_none() {
                    assert_eq!(r.as_ref().err(), Some(&PoolError::Exhausted));
                }
                self.adopt(r, i);
            }
            Op::AllocZeroTimeout => {
                let r = p.alloc_blocking(Timeout::Millis(0));
                let i = self.m.alloc();
                if i.is_none() {
                    assert_eq!(r.as_ref().err(), Some(&PoolError::Timeout));
                }
                self.adopt(r, i);
                assert_eq!(p.waiters(), 0);
            }
            Op::HeapBudget(n) => {
                let budget = (n != u8::MAX).then_some(n as u32);
                p.port()
                    .set_heap_budget(budget.map_or(usize::MAX, |b| b as usize));
                self.m.heap_budget = budget;
            }
            Op::Ref(k) if !self.held.is_empty() => {
                let k = k % self.held.len();
                let i = self.index(&self.held[k]);
                let new = match &self.held[k] {
                    Held::Raw(_) => {
                        // SAFETY: the test holds this reference (from an alloc, a ref or a receive).
                        assert_eq!(unsafe { p.ref_raw(self.ptr(i)) }, Ok(self.m.refs[i] + 1));
                        Held::Raw(i)
                    }
                    Held::Handle(m) => Held::Handle(m.try_clone().unwrap()),
                };
                self.m.refs[i] += 1;
                self.held.push(new);
            }
            Op::Unref(k) if !self.held.is_empty() => {
                let h = self.held.swap_remove(k % self.held.len());
                let i = self.index(&h);
                match h {
                    // SAFETY: the test holds this reference and gives it up.
                    Held::Raw(i) => unsafe { p.unref_raw(self.ptr(i)) }.unwrap(),
                    Held::Handle(m) => drop(m),
                }
                self.m.unref(i);
            }
            Op::Write { held, len } if !self.held.is_empty() => {
                let k = held % self.held.len();
                let i = self.index(&self.held[k]);
                let tag = self.tag();
                let bytes = vec![tag; len as usize % (PAYLOAD + 4)];
                if let Held::Handle(m) = &mut self.held[k] {
                    let r = m.write(&bytes);
                    if bytes.len() > PAYLOAD {
                        assert_eq!(r, Err(PoolError::MessageTooLong));
                    } else if self.m.refs[i] > 1 {
                        assert_eq!(r, Err(PoolError::Shared));
                    } else {
                        assert_eq!(r, Ok(()));
                        self.m.payload[i] = bytes;
                    }
                }
            }
            Op::Broadcast {
                held,
                targets: mask,
                oversize,
            } if !self.held.is_empty() => self.broadcast(held, mask, oversize),
            Op::Consume(k) => self.consume(k % TARGETS),
            Op::Purge(k) => {
                let k = k % TARGETS;
                let items: Vec<Item> = self.m.queues[k].drain(..).collect();
                assert_eq!(p.purge(&self.targets[k]), Ok(items.len()));
                self.m.expect.purged += items.len() as u32;
                for item in items {
                    if let Item::Ptr(i) = item {
                        self.m.unref(i);
                    }
                }
            }
            Op::Leaks { targets, cap, old } => self.leaks(targets, cap as usize % 8, old),
            Op::DoubleUnref(k) => {
                if let Some(i) = self.free_descriptor(k) {
                    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                    let r = unsafe { p.unref_raw(self.ptr(i)) };
                    assert_eq!(r, Err(PoolError::DoubleUnref));
                    self.m.expect.invalid_unrefs += 1;
                }
            }
            Op::RefFree(k) => {
                if let Some(i) = self.free_descriptor(k) {
                    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                    assert_eq!(unsafe { p.ref_raw(self.ptr(i)) }, Err(PoolError::RefOfFree));
                    self.m.expect.invalid_refs += 1;
                }
            }
            Op::BroadcastFree(k) => {
                if let Some(i) = self.free_descriptor(k) {
                    let all: Vec<&Target<HostQueue>> = self.targets.iter().collect();
                    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                    let r = unsafe { p.broadcast_raw(self.ptr(i), &all) };
                    assert_eq!(r, Err(PoolError::RefOfFree));
                }
            }
            Op::UnrefNull => {
                // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                let r = unsafe { p.unref_raw(core::ptr::null()) };
                assert_eq!(r, Err(PoolError::Null));
                self.m.expect.invalid_unrefs += 1;
            }
            Op::UnrefMisaligned(k) => {
                let i = k % DESCS;
                let bad = (self.ptr(i) as *const u8)
                    .wrapping_add(1 + k % (core::mem::size_of::<Descriptor>() - 1))
                    .cast::<Descriptor>();
                // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                let r = unsafe { p.unref_raw(bad) };
                assert_eq!(r, Err(PoolError::MisalignedPointer));
                self.m.expect.invalid_unrefs += 1;
            }
            Op::UnrefForeign(k) => {
                let stack = Descriptor::new();
                let bad = match k % 3 {
                    0 => &stack as *const Descriptor,
                    1 => self.ptr(0).wrapping_sub(1),
                    _ => self.ptr(DESCS - 1).wrapping_add(1),
                };
                // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                let r = unsafe { p.unref_raw(bad) };
                assert_eq!(r, Err(PoolError::ForeignPointer));
                self.m.expect.invalid_unrefs += 1;
            }
            _ => {}
        }
        self.invariants();
    }

    /// A free descriptor (pool entry or heap slot) chosen by `k`, if any.
    fn free_descriptor(&self, k: usize) -> Option<usize> {
        let free: Vec<usize> = (0..DESCS).filter(|&i| self.m.refs[i] == 0).collect();
        (!free.is_empty()).then(|| free[k % free.len()])
    }

    fn broadcast(&mut self, held: usize, mask: u8, oversize: bool) {
        let p = self.p;
        let all = self.targets;
        let h = self.held.swap_remove(held % self.held.len());
        let i = self.index(&h);
        let chosen: Vec<&Target<HostQueue>> = (0..TARGETS)
            .filter(|k| mask & (1 << k) != 0)
            .map(|k| &all[k])
            .collect();
        let len = self.m.payload[i].len();
        if oversize {
            // SAFETY: test-side write of the header of an entry the test holds (a bad
            // message_len); no reference into the header is alive.
            unsafe { (*(*self.ptr(i)).msg_ptr()).message_len = PAYLOAD as u32 + 1 };
        }
        let r = match h {
            // SAFETY: the test holds this reference and hands it to the broadcast.
            Held::Raw(i) => unsafe { p.broadcast_raw(self.ptr(i), &chosen) },
            Held::Handle(m) => p.broadcast(m, &chosen),
        };
        if chosen.is_empty() || oversize {
            let e = if chosen.is_empty() {
                PoolError::NoTargets
            } else {
                PoolError::MessageTooLong
            };
            assert_eq!(r, Err(e));
            self.m.expect.pool_drop_count += 1;
            if oversize && self.m.refs[i] > 1 {
                // SAFETY: restore the header of an entry still held elsewhere (nobody reads it now).
                unsafe { (*(*self.ptr(i)).msg_ptr()).message_len = len as u32 };
            }
        } else {
            self.m.expect.broadcasts += 1;
            let mut delivered = 0;
            for k in (0..TARGETS).filter(|k| mask & (1 << k) != 0) {
                let fits = match k {
                    3 => len <= SMALL_VALUE_PAYLOAD,
                    _ => true,
                };
                if fits && self.m.queues[k].len() < DEPTH[k] {
                    let item = if MODES[k] == Mode::Pointer {
                        self.m.refs[i] += 1;
                        Item::Ptr(i)
                    } else {
                        Item::Value(self.m.payload[i].clone())
                    };
                    self.m.queues[k].push_back(item);
                    delivered += 1;
                } else {
                    self.m.expect.enqueue_failures += 1;
                }
            }
            if delivered == 0 {
                self.m.expect.pool_drop_count += 1;
            }
            assert_eq!(r, Ok(delivered));
        }
        self.m.unref(i);
    }

    fn consume(&mut self, k: usize) {
        let p = self.p;
        let r = p.receive(&self.targets[k], Some(&mut self.value_buf), Timeout::NoWait);
        match self.m.queues[k].pop_front() {
            None => assert!(matches!(r, Err(PoolError::Timeout))),
            Some(Item::Ptr(i)) => match r {
                Ok(Received::Msg(msg)) => {
                    assert_eq!(p.index_of(msg.descriptor()), Ok(i));
                    assert_eq!(msg.payload(), &self.m.payload[i][..]);
                    self.m.holder[i] = k as u16;
                    self.held.push(Held::Handle(msg));
                }
                _ => panic!("expected a pointer item"),
            },
            Some(Item::Value(bytes)) => match r {
                Ok(Received::Value(n)) => {
                    assert_eq!(n, self.targets[k].item_size());
                    // SAFETY: the value copy starts with a whole MsgHeader.
                    let hdr =
                        unsafe { self.value_buf.as_ptr().cast::<MsgHeader>().read_unaligned() };
                    assert_eq!(hdr.message_len as usize, bytes.len());
                    let data = &self.value_buf[MsgHeader::SIZE..n];
                    assert_eq!(&data[..bytes.len()], &bytes[..]);
                    assert!(
                        data[bytes.len()..].iter().all(|&b| b == 0),
                        "value item not zero-filled"
                    );
                }
                _ => panic!("expected a value item"),
            },
        }
    }

    fn leaks(&mut self, mask: u8, cap: usize, old: bool) {
        let all = self.targets;
        let chosen: Vec<&Target<HostQueue>> = (0..TARGETS)
            .filter(|k| mask & (1 << k) != 0)
            .map(|k| &all[k])
            .collect();
        let mut out = [Leak::default(); 8];
        let min_age = if old { u32::MAX } else { 0 };
        let n = self.p.leaks(min_age, &chosen, &mut out[..cap]);
        let expect: Vec<Leak> = if old {
            Vec::new()
        } else {
            (0..DESCS)
                .filter(|&i| self.m.refs[i] > 0)
                .map(|i| {
                    let mut queued = 0u16;
                    let mut queued_at = HOLDER_NONE;
                    for k in (0..TARGETS).filter(|k| mask & (1 << k) != 0) {
                        let here = self.m.queues[k]
                            .iter()
                            .filter(|it| matches!(it, Item::Ptr(j) if *j == i))
                            .count();
                        if here > 0 && queued_at == HOLDER_NONE {
                            queued_at = k as u16;
                        }
                        queued += here as u16;
                    }
                    Leak {
                        index: i as u16,
                        queued_at,
                        queued,
                        held_by: if self.m.refs[i] > queued as u32 {
                            self.m.holder[i]
                        } else {
                            HOLDER_NONE
                        },
                        refcount: self.m.refs[i],
                        age_ms: 0,
                    }
                })
                .collect()
        };
        assert_eq!(n, expect.len(), "leak count");
        for (got, want) in out[..cap.min(n)].iter().zip(&expect) {
            assert_eq!(Leak { age_ms: 0, ..*got }, *want);
            assert!(got.age_ms < 60_000, "age {} ms", got.age_ms);
        }
    }

    /// Every invariant: `check()`, refcounts, queue lengths, the whole snapshot.
    pub fn invariants(&self) {
        let p = self.p;
        let report = p.check().expect("check() after step");
        assert_eq!(report.free, self.m.free.len());
        assert_eq!(
            report.heap_held,
            self.m.heap_claimed.iter().filter(|c| **c).count()
        );
        for i in 0..DESCS {
            let d = p.descriptor(self.ptr(i)).unwrap();
            assert_eq!(d.refcount(), self.m.refs[i], "refcount of descriptor {i}");
        }
        for (t, q) in self.targets.iter().zip(&self.m.queues) {
            assert_eq!(t.queued(), q.len());
        }
        assert_eq!(p.snapshot(), self.m.expect);
        let failed: u32 = self.targets.iter().map(|t| t.stats().failed).sum();
        assert_eq!(failed, self.m.expect.enqueue_failures);
        let delivered: u32 = self.targets.iter().map(|t| t.stats().delivered).sum();
        assert!(delivered >= self.targets.iter().map(|t| t.stats().queued).sum::<u32>());
        // No entry is held twice: every held index has a refcount at least its holders.
        let mut holders = [0u32; DESCS];
        for h in &self.held {
            holders[self.index(h)] += 1;
        }
        for q in &self.m.queues {
            for it in q {
                if let Item::Ptr(i) = it {
                    holders[*i] += 1;
                }
            }
        }
        assert_eq!(holders, self.m.refs, "references held vs refcounts");
    }

    /// Drains every queue, releases every reference and checks the pool is whole again.
    pub fn finish(mut self) {
        for k in 0..TARGETS {
            self.step(Op::Purge(k));
        }
        while !self.held.is_empty() {
            self.step(Op::Unref(0));
        }
        let s = self.p.snapshot();
        assert_eq!((s.pool_in_use, s.fallback_in_use), (0, 0));
        assert_eq!(s.allocations, s.frees);
        assert_eq!(self.p.check().unwrap().free, ENTRIES);
    }
}
