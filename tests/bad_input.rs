//! One test per bad-input class (design.md "Refcount protocol" and "Errors"): each asserts the
//! exact error, that a refusal is counted where the design says so, and that `check()` passes.

use dispatcher_pool::descriptor::MAX_REFS;
use dispatcher_pool::global::GlobalPool;
use dispatcher_pool::host::{as_isr, HostPool, HostQueue, StdPort};
use dispatcher_pool::{Descriptor, Mode, PoolConfig, PoolError, Queue, Received, Target, Timeout};

fn host(entries: usize) -> HostPool {
    HostPool::new(PoolConfig::new(entries, 64)).unwrap()
}

#[test]
fn init_with_zero_entries() {
    assert_eq!(
        HostPool::new(PoolConfig::new(0, 64)).err(),
        Some(PoolError::BadEntryCount)
    );
}

#[test]
fn init_with_too_many_entries() {
    assert_eq!(
        HostPool::new(PoolConfig::new(1025, 64)).err(),
        Some(PoolError::BadEntryCount)
    );
    let mut cfg = PoolConfig::new(70_000, 64);
    cfg.max_entries = usize::MAX; // the index limit still applies
    assert_eq!(cfg.layout().err(), Some(PoolError::BadEntryCount));
}

#[test]
fn init_with_zero_payload() {
    assert_eq!(
        HostPool::new(PoolConfig::new(8, 0)).err(),
        Some(PoolError::BadPayloadSize)
    );
}

#[test]
fn init_with_oversized_payload() {
    let mut cfg = PoolConfig::new(8, 2048);
    cfg.max_payload = 1024;
    assert_eq!(HostPool::new(cfg).err(), Some(PoolError::BadPayloadSize));
}

#[test]
fn init_twice_and_use_before_init() {
    static POOL: GlobalPool<StdPort> = GlobalPool::new();
    assert_eq!(POOL.get().err(), Some(PoolError::NotInitialized));
    // A failed init leaves it uninitialised.
    assert_eq!(
        POOL.init(|| HostPool::leak_memory(PoolConfig::new(0, 8))?.into_pool(StdPort::new()))
            .err(),
        Some(PoolError::BadEntryCount)
    );
    assert_eq!(POOL.get().err(), Some(PoolError::NotInitialized));
    let mem = HostPool::leak_memory(PoolConfig::new(4, 8)).unwrap();
    let pool = POOL.init(|| mem.into_pool(StdPort::new())).unwrap();
    let mem2 = HostPool::leak_memory(PoolConfig::new(4, 8)).unwrap();
    assert_eq!(
        POOL.init(|| mem2.into_pool(StdPort::new())).err(),
        Some(PoolError::AlreadyInitialized)
    );
    assert_eq!(pool.check().unwrap().free, 4);
}

#[test]
fn unref_of_null() {
    let h = host(2);
    let p = h.pool();
    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
    let r = unsafe { p.unref_raw(core::ptr::null()) };
    assert_eq!(r, Err(PoolError::Null));
    assert_eq!(p.snapshot().invalid_unrefs, 1);
    p.check().unwrap();
}

#[test]
fn unref_of_a_foreign_pointer() {
    let h = host(2);
    let other = host(2);
    let p = h.pool();
    let stack = Descriptor::new();
    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
    let r = unsafe { p.unref_raw(&stack) };
    assert_eq!(r, Err(PoolError::ForeignPointer));
    // A live entry of another pool is foreign too, and stays held there.
    let theirs = other.pool().try_alloc_raw().unwrap();
    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
    let r = unsafe { p.unref_raw(theirs) };
    assert_eq!(r, Err(PoolError::ForeignPointer));
    assert_eq!(theirs.refcount(), 1);
    assert_eq!(p.snapshot().invalid_unrefs, 2);
    p.check().unwrap();
}

#[test]
fn unref_of_a_misaligned_pointer() {
    let h = host(2);
    let p = h.pool();
    let d = p.try_alloc_raw().unwrap();
    let inside = (d as *const Descriptor as *const u8)
        .wrapping_add(4)
        .cast::<Descriptor>();
    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
    let r = unsafe { p.unref_raw(inside) };
    assert_eq!(r, Err(PoolError::MisalignedPointer));
    assert_eq!(d.refcount(), 1);
    // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
    unsafe { p.unref_raw(d) }.unwrap();
    p.check().unwrap();
}

#[test]
fn double_unref() {
    let h = host(2);
    let p = h.pool();
    let d = p.try_alloc_raw().unwrap();
    // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
    unsafe { p.unref_raw(d) }.unwrap();
    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
    assert_eq!(unsafe { p.unref_raw(d) }, Err(PoolError::DoubleUnref));
    assert_eq!(p.snapshot().invalid_unrefs, 1);
    assert_eq!(p.check().unwrap().free, 2);
}

#[test]
fn ref_of_a_free_entry() {
    let h = host(2);
    let p = h.pool();
    let d = p.descriptor(p.descriptor_ptr(1).unwrap()).unwrap();
    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
    assert_eq!(unsafe { p.ref_raw(d) }, Err(PoolError::RefOfFree));
    assert_eq!(d.refcount(), 0);
    assert_eq!(p.snapshot().invalid_refs, 1);
    p.check().unwrap();
}

#[test]
#[cfg_attr(
    miri,
    ignore = "131,070 CAS loops take minutes under miri; the saturation logic is covered by descriptor::tests::ref_saturates_at_max_refs"
)]
fn ref_saturation() {
    let h = host(1);
    let p = h.pool();
    let d = p.try_alloc_raw().unwrap();
    for _ in 1..MAX_REFS {
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.ref_raw(d) }.unwrap();
    }
    // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
    assert_eq!(unsafe { p.ref_raw(d) }, Err(PoolError::RefOverflow));
    assert_eq!(d.refcount(), MAX_REFS);
    for _ in 0..MAX_REFS {
        // SAFETY: this code holds the reference it hands over (from an alloc, a ref or a receive).
        unsafe { p.unref_raw(d) }.unwrap();
    }
    assert_eq!(p.check().unwrap().free, 1);
}

#[test]
fn oversized_message_len_at_broadcast() {
    let h = host(2);
    let p = h.pool();
    let t = Target::new(HostQueue::pointers(4), Mode::Pointer, 1).unwrap();
    let mut m = p.try_alloc().unwrap();
    m.header_mut().unwrap().message_len = 65;
    assert_eq!(p.broadcast(m, &[&t]), Err(PoolError::MessageTooLong));
    let s = p.snapshot();
    assert_eq!(
        (s.pool_in_use, s.pool_drop_count, t.stats().delivered),
        (0, 1, 0)
    );
    p.check().unwrap();
}

#[test]
fn write_of_an_oversized_payload() {
    let h = host(1);
    let p = h.pool();
    let mut m = p.try_alloc().unwrap();
    assert_eq!(m.write(&[0u8; 65]), Err(PoolError::MessageTooLong));
    assert_eq!(m.header().message_len, 0);
}

#[test]
fn broadcast_to_zero_targets() {
    let h = host(2);
    let p = h.pool();
    let m = p.try_alloc().unwrap();
    assert_eq!(p.broadcast::<HostQueue>(m, &[]), Err(PoolError::NoTargets));
    assert_eq!(p.snapshot().pool_in_use, 0);
    p.check().unwrap();
}

/// A queue handle for which all-zero bytes are a valid value (`None`), like the C API's
/// `struct k_msgq *`, so an all-zero `Target` can be built the way C zero-initialises one.
struct OptQueue(Option<&'static HostQueue>);

// SAFETY: forwards to a HostQueue (or holds nothing).
unsafe impl Queue for OptQueue {
    fn item_size(&self) -> usize {
        self.0.map_or(0, |q| q.item_size())
    }
    unsafe fn try_put(&self, item: *const u8, len: usize) -> bool {
        // SAFETY: forwarded contract.
        self.0.is_some_and(|q| unsafe { q.try_put(item, len) })
    }
    unsafe fn get(&self, out: *mut u8, t: Timeout) -> bool {
        // SAFETY: forwarded contract.
        self.0.is_some_and(|q| unsafe { q.get(out, t) })
    }
    fn len(&self) -> usize {
        self.0.map_or(0, |q| q.len())
    }
    fn purge(&self) -> usize {
        self.0.map_or(0, |q| q.purge())
    }
}

#[test]
fn broadcast_to_an_uninitialised_target() {
    let h = host(2);
    let p = h.pool();
    let q: &'static HostQueue = Box::leak(Box::new(HostQueue::pointers(4)));
    let good = Target::new(OptQueue(Some(q)), Mode::Pointer, 1).unwrap();
    // SAFETY: every field of Target<OptQueue> is valid when all-zero (atomics, integers, None).
    let zeroed: Target<OptQueue> = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    assert_eq!(zeroed.mode(), Err(PoolError::TargetUninit));
    let m = p.try_alloc().unwrap();
    assert_eq!(
        p.broadcast(m, &[&good, &zeroed]),
        Err(PoolError::TargetUninit)
    );
    // Nothing was delivered to the good target either: arguments are checked first.
    assert_eq!((good.stats().delivered, q.len()), (0, 0));
    assert_eq!(p.snapshot().pool_in_use, 0);
    assert_eq!(p.purge(&zeroed), Err(PoolError::TargetUninit));
    assert!(p.receive(&zeroed, None, Timeout::NoWait).is_err());
    p.check().unwrap();
}

#[test]
fn broadcast_of_a_free_or_foreign_entry_changes_nothing() {
    let h = host(2);
    let p = h.pool();
    let t = Target::new(HostQueue::pointers(4), Mode::Pointer, 1).unwrap();
    assert_eq!(
        // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
        unsafe { p.broadcast_raw(p.descriptor_ptr(0).unwrap(), &[&t]) },
        Err(PoolError::RefOfFree)
    );
    assert_eq!(
        // SAFETY: outside the contract on purpose: the pool must refuse it without touching memory.
        unsafe { p.broadcast_raw(core::ptr::null(), &[&t]) },
        Err(PoolError::Null)
    );
    assert_eq!(t.queued(), 0);
    assert_eq!(p.check().unwrap().free, 2);
}

#[test]
fn target_with_a_wrong_item_size() {
    assert_eq!(
        Target::new(HostQueue::new(3, 4), Mode::Pointer, 1).err(),
        Some(PoolError::BadTargetQueue)
    );
    assert_eq!(
        Target::new(HostQueue::new(8, 4), Mode::Value, 1).err(),
        Some(PoolError::BadTargetQueue)
    );
}

#[test]
fn blocking_alloc_from_interrupt_context_with_a_timeout() {
    let h = host(1);
    let p = h.pool();
    let held = p.try_alloc().unwrap();
    as_isr(|| {
        assert_eq!(
            p.alloc_blocking(Timeout::Millis(10)).err(),
            Some(PoolError::BlockingInIsr)
        );
        assert_eq!(
            p.alloc_blocking(Timeout::NoWait).err(),
            Some(PoolError::Exhausted)
        );
    });
    drop(held);
    p.check().unwrap();
}

#[test]
fn mutation_of_a_shared_message_is_refused() {
    let h = host(1);
    let p = h.pool();
    let mut m = p.try_alloc().unwrap();
    let m2 = m.try_clone().unwrap();
    assert_eq!(m.write(b"x").err(), Some(PoolError::Shared));
    assert_eq!(m.payload_mut().err(), Some(PoolError::Shared));
    drop(m2);
    m.write(b"x").unwrap();
}

#[test]
fn json_into_a_short_buffer() {
    let h = host(1);
    let mut buf = [0u8; 16];
    assert_eq!(
        h.pool().snapshot().write_json("", &[], &mut buf),
        Err(PoolError::BufferTooSmall)
    );
}

#[test]
fn broadcast_of_a_message_of_another_pool_goes_through_its_own_pool() {
    let (ha, hb) = (host(2), host(2));
    let (a, b) = (ha.pool(), hb.pool());
    let t = Target::new(HostQueue::pointers(4), Mode::Pointer, 1).unwrap();
    let mut m = b.try_alloc().unwrap();
    m.write(b"of b").unwrap();
    // Through pool `a`: delivered by `b`, nothing refused, nothing pinned.
    assert_eq!(a.broadcast(m, &[&t]), Ok(1));
    assert_eq!((a.snapshot().broadcasts, b.snapshot().broadcasts), (0, 1));
    match b.receive(&t, None, Timeout::NoWait) {
        Ok(Received::Msg(m)) => assert_eq!(m.payload(), b"of b"),
        _ => panic!("the message of pool b did not arrive"),
    }
    assert_eq!((a.snapshot().pool_in_use, b.snapshot().pool_in_use), (0, 0));
    a.check().unwrap();
    b.check().unwrap();
}

#[test]
fn an_allocation_never_hands_out_the_previous_message_header() {
    let h = host(1);
    let p = h.pool();
    let mut ctx = 7u32;
    let mut m = p.try_alloc().unwrap();
    m.write(b"old").unwrap();
    {
        let hd = m.header_mut().unwrap();
        hd.source = 3;
        hd.n_targets = 2;
        hd.targets[0] = 5;
        hd.context = (&mut ctx as *mut u32).cast();
    }
    drop(m);
    let m = p.try_alloc().unwrap(); // the same entry (a pool of one)
    let hd = m.header();
    assert_eq!(
        (
            hd.message_len,
            hd.source,
            hd.n_targets,
            hd.context.is_null()
        ),
        (0, 0, 0, true)
    );
    assert!(hd.targets.iter().all(|&t| t == 0));
    assert_eq!(hd.data_ptr.cast_const(), m.payload().as_ptr());
}
