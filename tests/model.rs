//! Model-based test: random sequences of alloc / ref / unref / broadcast / consume / purge /
//! bad calls run against the pool and against a plain reference model (a free stack, a
//! refcount per entry, a `VecDeque` per queue, expected counters). After every step the pool's
//! `check()` must pass and its counters, refcounts and queue lengths must equal the model's.

use dispatcher_pool::host::{HostPool, HostQueue};
use dispatcher_pool::{
    Descriptor, Fallback, Mode, MsgHeader, PoolConfig, PoolError, Queue, Received, Target, Timeout,
};
use proptest::prelude::*;
use std::collections::VecDeque;

const ENTRIES: usize = 4;
const PAYLOAD: usize = 16;

#[derive(Debug, Clone)]
enum Op {
    Alloc,
    AllocDrop,
    Ref(usize),
    Unref(usize),
    Broadcast {
        held: usize,
        targets: u8,
        oversize: bool,
    },
    Consume(usize),
    Purge(usize),
    DoubleUnref(usize),
    RefFree(usize),
    UnrefNull,
    UnrefMisaligned(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Alloc),
        1 => Just(Op::AllocDrop),
        2 => any::<usize>().prop_map(Op::Ref),
        3 => any::<usize>().prop_map(Op::Unref),
        4 => (any::<usize>(), 0u8..8, prop::bool::weighted(0.1))
            .prop_map(|(held, targets, oversize)| Op::Broadcast { held, targets, oversize }),
        4 => (0usize..3).prop_map(Op::Consume),
        1 => (0usize..3).prop_map(Op::Purge),
        1 => any::<usize>().prop_map(Op::DoubleUnref),
        1 => any::<usize>().prop_map(Op::RefFree),
        1 => Just(Op::UnrefNull),
        1 => any::<usize>().prop_map(Op::UnrefMisaligned),
    ]
}

#[derive(Default, Debug)]
struct Model {
    free: Vec<usize>,
    refs: [u32; ENTRIES],
    /// References the test itself holds (producer or extra), by entry index.
    held: Vec<usize>,
    /// Payload tag written at allocation, per entry.
    tag: [u8; ENTRIES],
    queues: [VecDeque<(usize, u8)>; 3],
    alloc_failures: u32,
    drops: u32,
    enqueue_failures: u32,
    invalid_unrefs: u32,
    invalid_refs: u32,
}

const DEPTH: [usize; 3] = [2, 3, 2];
const MODES: [Mode; 3] = [Mode::Pointer, Mode::Pointer, Mode::Value];

impl Model {
    fn unref(&mut self, i: usize) {
        self.refs[i] -= 1;
        if self.refs[i] == 0 {
            self.free.push(i);
        }
    }
}

fn run(ops: Vec<Op>) {
    let h = HostPool::new(PoolConfig::new(ENTRIES, PAYLOAD)).unwrap();
    let p = h.pool();
    let stride = p.layout().stride;
    let targets: Vec<Target<HostQueue>> = (0..3)
        .map(|k| {
            let q = match MODES[k] {
                Mode::Pointer => HostQueue::pointers(DEPTH[k]),
                Mode::Value => HostQueue::values(DEPTH[k], stride),
            };
            Target::new(q, MODES[k], k as u16).unwrap()
        })
        .collect();
    let mut m = Model {
        free: (0..ENTRIES).rev().collect(),
        ..Model::default()
    };
    let ptr = |i: usize| p.descriptor_ptr(i).unwrap();
    let mut next_tag = 1u8;
    let mut value_buf = vec![0u8; stride];

    for op in ops {
        match op {
            Op::Alloc | Op::AllocDrop => {
                let r = if matches!(op, Op::Alloc) {
                    p.try_alloc_raw()
                } else {
                    p.try_alloc_or_raw(Fallback::Drop)
                };
                match m.free.pop() {
                    Some(i) => {
                        let d = r.expect("model has a free entry");
                        assert_eq!(p.index_of(d), Ok(i), "LIFO order");
                        m.refs[i] = 1;
                        m.held.push(i);
                        m.tag[i] = next_tag;
                        // SAFETY: we hold the only reference; the payload has PAYLOAD bytes.
                        unsafe {
                            let msg = d.msg_ptr();
                            (*msg).message_len = 1;
                            *msg.cast::<u8>().add(MsgHeader::SIZE) = next_tag;
                        }
                        next_tag = next_tag.wrapping_add(1).max(1);
                    }
                    None => {
                        assert_eq!(r.err(), Some(PoolError::Exhausted));
                        m.alloc_failures += 1;
                        if matches!(op, Op::AllocDrop) {
                            m.drops += 1;
                        }
                    }
                }
            }
            Op::Ref(k) if !m.held.is_empty() => {
                let i = m.held[k % m.held.len()];
                // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                assert_eq!(unsafe { p.ref_raw(ptr(i)) }, Ok(m.refs[i] + 1));
                m.refs[i] += 1;
                m.held.push(i);
            }
            Op::Unref(k) if !m.held.is_empty() => {
                let i = m.held.swap_remove(k % m.held.len());
                // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                unsafe { p.unref_raw(ptr(i)) }.unwrap();
                m.unref(i);
            }
            Op::Broadcast {
                held,
                targets: mask,
                oversize,
            } if !m.held.is_empty() => {
                let i = m.held.swap_remove(held % m.held.len());
                let chosen: Vec<&Target<HostQueue>> = (0..3)
                    .filter(|k| mask & (1 << k) != 0)
                    .map(|k| &targets[k])
                    .collect();
                if oversize {
                    // SAFETY: test-side write of the header of an entry we hold (a bad message_len).
                    unsafe { (*(*ptr(i)).msg_ptr()).message_len = PAYLOAD as u32 + 1 };
                }
                // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
                let r = unsafe { p.broadcast_raw(ptr(i), &chosen) };
                if chosen.is_empty() || oversize {
                    let e = if chosen.is_empty() {
                        PoolError::NoTargets
                    } else {
                        PoolError::MessageTooLong
                    };
                    assert_eq!(r, Err(e));
                    m.drops += 1;
                    if oversize {
                        // SAFETY: restore the header if we still hold it elsewhere (readers see len 1).
                        unsafe { (*(*ptr(i)).msg_ptr()).message_len = 1 };
                    }
                } else {
                    let mut delivered = 0;
                    for k in (0..3).filter(|k| mask & (1 << k) != 0) {
                        if m.queues[k].len() < DEPTH[k] {
                            m.queues[k].push_back((i, m.tag[i]));
                            if MODES[k] == Mode::Pointer {
                                m.refs[i] += 1;
                            }
                            delivered += 1;
                        } else {
                            m.enqueue_failures += 1;
                        }
                    }
                    if delivered == 0 {
                        m.drops += 1;
                    }
                    assert_eq!(r, Ok(delivered));
                }
                m.unref(i);
            }
            Op::Consume(k) => {
                let r = p.receive(&targets[k], Some(&mut value_buf), Timeout::NoWait);
                match m.queues[k].pop_front() {
                    None => assert!(matches!(r, Err(PoolError::Timeout))),
                    Some((i, tag)) => match r {
                        Ok(Received::Msg(msg)) => {
                            assert_eq!(p.index_of(msg.descriptor()), Ok(i));
                            assert_eq!(msg.payload(), &[tag]);
                            drop(msg);
                            m.unref(i);
                        }
                        Ok(Received::Value(n)) => {
                            assert_eq!(n, stride);
                            assert_eq!(value_buf[MsgHeader::SIZE], tag);
                        }
                        Err(e) => panic!("receive failed: {e}"),
                    },
                }
            }
            Op::Purge(k) => {
                let items: Vec<_> = m.queues[k].drain(..).collect();
                assert_eq!(p.purge(&targets[k]), Ok(items.len()));
                if MODES[k] == Mode::Pointer {
                    for (i, _) in items {
                        m.unref(i);
                    }
                }
            }
            Op::DoubleUnref(k) => {
                if let Some(&i) = m.free.get(k % ENTRIES.max(1)).or(m.free.first()) {
                    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                    assert_eq!(unsafe { p.unref_raw(ptr(i)) }, Err(PoolError::DoubleUnref));
                    m.invalid_unrefs += 1;
                }
            }
            Op::RefFree(k) => {
                if let Some(&i) = m.free.get(k % ENTRIES).or(m.free.first()) {
                    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                    assert_eq!(unsafe { p.ref_raw(ptr(i)) }, Err(PoolError::RefOfFree));
                    m.invalid_refs += 1;
                }
            }
            Op::UnrefNull => {
                // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                let r = unsafe { p.unref_raw(core::ptr::null()) };
                assert_eq!(r, Err(PoolError::Null));
                m.invalid_unrefs += 1;
            }
            Op::UnrefMisaligned(k) => {
                let i = k % ENTRIES;
                let bad = (ptr(i) as *const u8)
                    .wrapping_add(1 + k % 7)
                    .cast::<Descriptor>();
                // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
                let r = unsafe { p.unref_raw(bad) };
                assert_eq!(r, Err(PoolError::MisalignedPointer));
                m.invalid_unrefs += 1;
            }
            _ => {}
        }

        // Invariants after every step.
        let report = p.check().expect("check() after step");
        assert_eq!(report.free, m.free.len());
        for i in 0..ENTRIES {
            let d = p.descriptor(ptr(i)).unwrap();
            assert_eq!(d.refcount(), m.refs[i], "refcount of entry {i}");
        }
        for (t, q) in targets.iter().zip(&m.queues) {
            assert_eq!(t.queue().len(), q.len());
        }
        let s = p.snapshot();
        assert_eq!(s.pool_in_use as usize, ENTRIES - m.free.len());
        assert_eq!(
            (
                s.pool_alloc_failures,
                s.pool_drop_count,
                s.enqueue_failures,
                s.invalid_unrefs,
                s.invalid_refs
            ),
            (
                m.alloc_failures,
                m.drops,
                m.enqueue_failures,
                m.invalid_unrefs,
                m.invalid_refs
            )
        );
        let delivered: u32 = targets.iter().map(|t| t.stats().delivered).sum();
        let failed: u32 = targets.iter().map(|t| t.stats().failed).sum();
        assert_eq!(failed, s.enqueue_failures);
        assert!(delivered >= targets.iter().map(|t| t.stats().queued).sum::<u32>());
    }

    // Drain everything: the pool must come back whole.
    for t in &targets {
        p.purge(t).unwrap();
    }
    for i in std::mem::take(&mut m.held) {
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(ptr(i)) }.unwrap();
    }
    let s = p.snapshot();
    assert_eq!((s.pool_in_use, s.allocations), (0, s.frees));
    assert_eq!(p.check().unwrap().free, ENTRIES);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn pool_matches_the_reference_model(ops in prop::collection::vec(op(), 1..120)) {
        run(ops);
    }
}
