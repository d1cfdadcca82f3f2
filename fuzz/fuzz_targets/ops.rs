//! Fuzz target `ops`: arbitrary operation sequences through the Rust API (allocation from the
//! pool, the heap fallback and the blocking path with no wait, refs and clones, unrefs, writes,
//! broadcasts to subsets of pointer and value targets, receives, purges, leak reports, bad
//! pointers), each step checked against the reference model of `tests/model.rs`, with
//! `check()` and the whole snapshot compared after every step.
#![no_main]

#[path = "../../tests/common/model.rs"]
mod reference;

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use reference::Op;

/// Longest sequence one input decodes to.
const MAX_OPS: usize = 512;

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    Ok(match u.int_in_range(0u8..=19)? {
        0 | 1 => Op::Alloc,
        2 => Op::AllocDrop,
        3 => Op::AllocHeap,
        4 => Op::AllocNoWait,
        5 => Op::AllocZeroTimeout,
        6 => Op::HeapBudget(u.arbitrary()?),
        7 => Op::Ref(u.arbitrary()?),
        8 => Op::Unref(u.arbitrary()?),
        9 => Op::Write {
            held: u.arbitrary()?,
            len: u.arbitrary()?,
        },
        10 => Op::Broadcast {
            held: u.arbitrary()?,
            targets: u.arbitrary()?,
            oversize: u.ratio(1, 16)?,
        },
        11 => Op::Consume(u.arbitrary()?),
        12 => Op::Purge(u.arbitrary()?),
        13 => Op::Leaks {
            targets: u.arbitrary()?,
            cap: u.arbitrary()?,
            old: u.arbitrary()?,
        },
        14 => Op::DoubleUnref(u.arbitrary()?),
        15 => Op::RefFree(u.arbitrary()?),
        16 => Op::BroadcastFree(u.arbitrary()?),
        17 => Op::UnrefNull,
        18 => Op::UnrefMisaligned(u.arbitrary()?),
        _ => Op::UnrefForeign(u.arbitrary()?),
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_OPS {
        match op(&mut u) {
            Ok(o) => ops.push(o),
            Err(_) => break,
        }
    }
    reference::run(ops);
});
