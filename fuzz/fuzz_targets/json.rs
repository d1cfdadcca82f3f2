//! Fuzz target `json`: the JSON writer with arbitrary snapshots, names, target lists and buffer
//! lengths (`Snapshot::write_json`, `write_json_to` into a shared `JsonWriter`, `JsonWriter`'s
//! own calls with arbitrary bytes), and `PoolConfig::layout` with arbitrary parameters.
//!
//! Asserted: nothing panics; when the writer says Ok the text is valid JSON (parsed with
//! serde_json) whose values are exactly the inputs, its length is exact and a NUL follows it;
//! every buffer shorter than length + 1 is refused with `BufferTooSmall`, every longer one
//! gets the same bytes. A layout that is Ok has a region size that fits a 32-bit `usize`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use dispatcher_pool::metrics::{JsonWriter, Snapshot, TargetStats};
use dispatcher_pool::{PoolConfig, PoolError};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn snapshot(u: &mut Unstructured<'_>) -> arbitrary::Result<Snapshot> {
    Ok(Snapshot {
        pool_total: u.arbitrary()?,
        pool_in_use: u.arbitrary()?,
        pool_alloc_failures: u.arbitrary()?,
        pool_drop_count: u.arbitrary()?,
        enqueue_failures: u.arbitrary()?,
        high_water: u.arbitrary()?,
        allocations: u.arbitrary()?,
        frees: u.arbitrary()?,
        invalid_unrefs: u.arbitrary()?,
        invalid_refs: u.arbitrary()?,
        fallback_allocs: u.arbitrary()?,
        fallback_in_use: u.arbitrary()?,
        broadcasts: u.arbitrary()?,
        purged: u.arbitrary()?,
        payload_size: u.arbitrary()?,
        stride: u.arbitrary()?,
    })
}

fn target(u: &mut Unstructured<'_>) -> arbitrary::Result<TargetStats> {
    Ok(TargetStats {
        delivered: u.arbitrary()?,
        failed: u.arbitrary()?,
        queued: u.arbitrary()?,
        id: u.arbitrary()?,
    })
}

/// The object `write_json_to` wrote for `s`, `name` and `targets`.
fn check_object(v: &Value, s: &Snapshot, name: &str, targets: Option<&[TargetStats]>) {
    let o = v.as_object().expect("a JSON object");
    let mut keys = 0;
    if !name.is_empty() {
        assert_eq!(o["name"].as_str(), Some(name), "name round trip");
        keys += 1;
    } else {
        assert!(!o.contains_key("name"));
    }
    for (key, value) in s.fields() {
        assert_eq!(o[key].as_u64(), Some(value as u64), "{key}");
        keys += 1;
    }
    if let Some(targets) = targets {
        let list = o["targets"].as_array().expect("targets array");
        assert_eq!(list.len(), targets.len());
        for (j, t) in list.iter().zip(targets) {
            assert_eq!(j["id"].as_u64(), Some(t.id as u64));
            assert_eq!(j["delivered"].as_u64(), Some(t.delivered as u64));
            assert_eq!(j["failed"].as_u64(), Some(t.failed as u64));
            assert_eq!(j["queued"].as_u64(), Some(t.queued as u64));
            assert_eq!(j.as_object().unwrap().len(), 4);
        }
        keys += 1;
    }
    assert_eq!(o.len(), keys, "no key twice, no extra key");
}

/// `write_json` into buffers of every interesting length.
fn write_json(s: &Snapshot, name: &str, targets: &[TargetStats], len: usize) {
    let mut big = vec![0xAAu8; 64 * 1024 + name.len() * 6 + targets.len() * 96];
    let n = s
        .write_json(name, targets, &mut big)
        .expect("a large buffer is enough");
    assert_eq!(big[n], 0, "NUL after the text");
    let text = std::str::from_utf8(&big[..n]).expect("UTF-8");
    assert!(!text.contains('\0'));
    let v: Value = serde_json::from_str(text).expect("valid JSON");
    check_object(&v, s, name, Some(targets));
    for len in [len, n, n + 1, n.saturating_sub(1), len % (n + 2)] {
        let mut buf = vec![0x55u8; len];
        let r = s.write_json(name, targets, &mut buf);
        if len > n {
            assert_eq!(r, Ok(n), "a buffer of {len} fits {n} + NUL");
            assert_eq!(&buf[..=n], &big[..=n]);
        } else {
            assert_eq!(
                r,
                Err(PoolError::BufferTooSmall),
                "{len} bytes for {n} + NUL"
            );
        }
    }
}

/// Several objects in one writer, as `msg_pool_stats_json_all` does.
fn write_many(snaps: &[(Snapshot, String)], targets: &[TargetStats], len: usize) {
    let mut buf = vec![0u8; len];
    let mut w = JsonWriter::new(&mut buf);
    w.raw(b"{\"pools\":[");
    for (i, (s, name)) in snaps.iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        s.write_json_to(name, None, &mut w);
    }
    w.raw(b"],");
    dispatcher_pool::metrics::write_targets(targets, &mut w);
    w.raw(b"}");
    let wrote = w.len();
    match w.finish() {
        Ok(n) => {
            assert_eq!(n, wrote);
            assert_eq!(buf[n], 0);
            let v: Value = serde_json::from_slice(&buf[..n]).expect("valid JSON");
            let pools = v["pools"].as_array().unwrap();
            assert_eq!(pools.len(), snaps.len());
            for (p, (s, name)) in pools.iter().zip(snaps) {
                check_object(p, s, name, None);
            }
        }
        Err(e) => assert_eq!(e, PoolError::BufferTooSmall),
    }
}

/// `JsonWriter::string` and `uint` with arbitrary bytes: valid JSON that decodes to the input
/// (invalid UTF-8 sequences as U+FFFD, as `String::from_utf8_lossy` does).
fn write_string(bytes: &[u8], v: u32, len: usize) {
    let mut buf = vec![0u8; len];
    let mut w = JsonWriter::new(&mut buf);
    w.raw(b"[").string(bytes).raw(b",").uint(v).raw(b"]");
    if let Ok(n) = w.finish() {
        let text = std::str::from_utf8(&buf[..n]).expect("the writer's output is UTF-8");
        let parsed: Value = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(
            parsed[0].as_str(),
            Some(&*String::from_utf8_lossy(bytes)),
            "string round trip"
        );
        assert_eq!(parsed[1].as_u64(), Some(v as u64));
    }
}

/// `PoolConfig::layout`: never panics; an Ok layout is self-consistent and its sizes fit the
/// 32-bit targets the library runs on.
fn layout(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let mut cfg = PoolConfig::new(u.arbitrary()?, u.arbitrary()?).with_heap_slots(u.arbitrary()?);
    if u.arbitrary()? {
        cfg.max_entries = u.arbitrary()?;
        cfg.max_payload = u.arbitrary()?;
    }
    if let Ok(l) = cfg.layout() {
        assert!(l.entries >= 1 && l.entries <= cfg.max_entries && l.entries <= 65_470);
        assert!(l.payload_size >= 1 && l.payload_size <= cfg.max_payload);
        assert!(l.stride >= l.payload_size && l.stride % l.region_align() == 0);
        let region = (l.entries as u128) * (l.stride as u128);
        assert_eq!(region, l.region_bytes() as u128);
        assert!(
            region <= u32::MAX as u128,
            "{cfg:?}: a {region}-byte region overflows a 32-bit usize"
        );
    }
    Ok(())
}

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    match u.int_in_range(0u8..=3)? {
        0 => {
            let s = snapshot(u)?;
            let name = String::arbitrary(u)?;
            let n = u.int_in_range(0..=40)?;
            let targets = (0..n).map(|_| target(u)).collect::<Result<Vec<_>, _>>()?;
            let len = u.int_in_range(0..=8192)?;
            write_json(&s, &name, &targets, len);
        }
        1 => {
            let n = u.int_in_range(0..=16)?;
            let mut snaps = Vec::new();
            for _ in 0..n {
                snaps.push((snapshot(u)?, String::arbitrary(u)?));
            }
            let k = u.int_in_range(0..=8)?;
            let targets = (0..k).map(|_| target(u)).collect::<Result<Vec<_>, _>>()?;
            let len = u.int_in_range(0..=16384)?;
            write_many(&snaps, &targets, len);
        }
        2 => {
            let len = u.int_in_range(0..=4096)?;
            let v = u.arbitrary()?;
            let bytes: &[u8] = u.arbitrary()?;
            write_string(bytes, v, len);
        }
        _ => layout(u)?,
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
