//! Model-based test: random sequences of allocations (pool, heap fallback, blocking with a
//! zero timeout), refs and clones, unrefs, writes, broadcasts to pointer and value targets,
//! receives, purges, leak reports and bad calls, run against the pool and against the
//! reference model in `tests/common/model.rs` (which the `ops` fuzz target shares). After every
//! step the pool's `check()` must pass and its snapshot, refcounts and queue lengths must equal
//! the model's.

#[path = "common/model.rs"]
mod reference;

use proptest::prelude::*;
use reference::Op;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Alloc),
        1 => Just(Op::AllocDrop),
        2 => Just(Op::AllocHeap),
        1 => Just(Op::AllocNoWait),
        1 => Just(Op::AllocZeroTimeout),
        1 => any::<u8>().prop_map(|n| Op::HeapBudget(n % 4)),
        2 => any::<usize>().prop_map(Op::Ref),
        3 => any::<usize>().prop_map(Op::Unref),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(held, len)| Op::Write { held, len }),
        4 => (any::<usize>(), 0u8..16, prop::bool::weighted(0.1))
            .prop_map(|(held, targets, oversize)| Op::Broadcast { held, targets, oversize }),
        4 => (0usize..4).prop_map(Op::Consume),
        1 => (0usize..4).prop_map(Op::Purge),
        1 => (any::<u8>(), any::<u8>(), prop::bool::weighted(0.2))
            .prop_map(|(targets, cap, old)| Op::Leaks { targets, cap, old }),
        1 => any::<usize>().prop_map(Op::DoubleUnref),
        1 => any::<usize>().prop_map(Op::RefFree),
        1 => any::<usize>().prop_map(Op::BroadcastFree),
        1 => Just(Op::UnrefNull),
        1 => any::<usize>().prop_map(Op::UnrefMisaligned),
        1 => any::<usize>().prop_map(Op::UnrefForeign),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn pool_matches_the_reference_model(ops in prop::collection::vec(op(), 1..120)) {
        reference::run(ops);
    }
}
