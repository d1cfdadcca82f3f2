//! Host simulation of the line-sensor dispatcher (the README's main job).
//!
//! * a streaming producer (the line sensor) broadcasts 1 KiB frames as fast as it can pace
//!   itself, with `try_alloc_or(Fallback::Drop)`: when the pool is empty it drops (counted);
//! * a control producer (battery override) uses `alloc_blocking` with a timeout and must never
//!   lose a message;
//! * four consumer modules of different speeds: `fast`, `logger`, `slow` (deliberately slow)
//!   on pointer queues, `legacy` still on a value queue (the old path), plus `battery` that
//!   receives only control messages.
//!
//! It prints the pool metrics every second and a summary at the end.
//! `cargo run --release --example line_sensor_sim -- [seconds]` (default 5).

use dispatcher_pool::host::{HostPool, HostQueue};
use dispatcher_pool::metrics::TargetStats;
use dispatcher_pool::{
    Fallback, Mode, MsgHeader, PoolConfig, PoolError, Queue, Received, Target, Timeout,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PAYLOAD: usize = 1024;
const SENSOR: u16 = 1;
const BATTERY: u16 = 2;
const NAMES: [&str; 5] = ["fast", "logger", "slow", "legacy", "battery"];

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let entries = dispatcher_pool::sizing::pool_entries(5, 250, 2) as usize; // 5 targets -> the minimum, 8
    let host = HostPool::new(PoolConfig::new(entries, PAYLOAD)).expect("pool");
    let pool = host.pool();
    let stride = pool.layout().stride;
    let targets: Vec<Target<HostQueue>> = vec![
        Target::new(HostQueue::pointers(16), Mode::Pointer, 0).unwrap(),
        Target::new(HostQueue::pointers(16), Mode::Pointer, 1).unwrap(),
        Target::new(HostQueue::pointers(8), Mode::Pointer, 2).unwrap(),
        Target::new(HostQueue::values(4, stride), Mode::Value, 3).unwrap(),
        Target::new(HostQueue::pointers(8), Mode::Pointer, 4).unwrap(),
    ];
    println!(
        "pool: {entries} entries x {PAYLOAD} B payload ({} B message region, {} B descriptors); \
         queues: pointer items {} B, value items {stride} B",
        pool.layout().region_bytes(),
        pool.layout().descriptor_bytes(),
        core::mem::size_of::<usize>()
    );
    let stop = AtomicBool::new(false);
    let producers_done = AtomicBool::new(false);
    let (control_sent, control_received, corrupt) =
        (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let (frames, frames_dropped) = (AtomicU64::new(0), AtomicU64::new(0));
    let start = Instant::now();

    std::thread::scope(|s| {
        // Consumers.
        for (k, t) in targets.iter().enumerate() {
            let (producers_done, control_received, corrupt) =
                (&producers_done, &control_received, &corrupt);
            s.spawn(move || {
                let mut value = vec![0u8; stride];
                let delay = match k {
                    0 => Duration::ZERO,
                    1 => Duration::from_micros(50),
                    2 => Duration::from_millis(2),
                    _ => Duration::from_micros(200),
                };
                loop {
                    match pool.receive(t, Some(&mut value), Timeout::Millis(10)) {
                        Ok(Received::Msg(m)) => {
                            let p = m.payload();
                            if p.is_empty() || p.iter().any(|&b| b != p[0]) {
                                corrupt.fetch_add(1, Ordering::Relaxed);
                            }
                            if k == 4 && m.header().source == BATTERY {
                                control_received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(Received::Value(_)) => {
                            let len = u32::from_ne_bytes(value[..4].try_into().unwrap()) as usize;
                            let p = &value[MsgHeader::SIZE..MsgHeader::SIZE + len.min(PAYLOAD)];
                            if p.iter().any(|&b| b != p[0]) {
                                corrupt.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(PoolError::Timeout) => {
                            if producers_done.load(Ordering::Acquire) && t.queue().is_empty() {
                                return;
                            }
                            continue;
                        }
                        Err(e) => panic!("receive: {e}"),
                    }
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                }
            });
        }
        // Streaming producer: the line sensor.
        let sensor = {
            let (targets, stop, frames, frames_dropped) =
                (&targets, &stop, &frames, &frames_dropped);
            s.spawn(move || {
                let all: Vec<&Target<HostQueue>> = targets[..4].iter().collect();
                let mut seq = 0u8;
                while !stop.load(Ordering::Relaxed) {
                    match pool.try_alloc_or(Fallback::Drop) {
                        Ok(mut m) => {
                            m.payload_mut().unwrap().fill(seq);
                            m.header_mut().unwrap().message_len = PAYLOAD as u32;
                            m.header_mut().unwrap().source = SENSOR;
                            pool.broadcast(m, &all).unwrap();
                            frames.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            frames_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    seq = seq.wrapping_add(1);
                    std::thread::sleep(Duration::from_micros(5));
                }
            })
        };
        // Control producer: battery override, must never be lost.
        let control = {
            let (targets, stop, control_sent) = (&targets, &stop, &control_sent);
            s.spawn(move || {
                let to = [&targets[4], &targets[0]];
                while !stop.load(Ordering::Relaxed) {
                    let mut m = pool
                        .alloc_blocking(Timeout::Millis(500))
                        .expect("control alloc timed out");
                    m.write(&[0xB7; 16]).unwrap();
                    m.header_mut().unwrap().source = BATTERY;
                    let n = pool.broadcast(m, &to).unwrap();
                    assert!(n >= 1, "control message reached nobody");
                    control_sent.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(25));
                }
            })
        };
        // Metrics every second.
        for sec in 1..=seconds {
            std::thread::sleep(
                Duration::from_secs(1)
                    .saturating_sub(start.elapsed().saturating_sub(Duration::from_secs(sec - 1))),
            );
            let m = pool.snapshot();
            if sec == 1 {
                println!(
                    "{:>4} {:>8} {:>6} {:>8} {:>8} {:>9} {:>6} {:>8}",
                    "sec",
                    "frames",
                    "in_use",
                    "high_wtr",
                    "alloc_f",
                    "enq_fail",
                    "drops",
                    "control"
                );
            }
            println!(
                "{:>4} {:>8} {:>6} {:>8} {:>8} {:>9} {:>6} {:>8}",
                sec,
                frames.load(Ordering::Relaxed),
                m.pool_in_use,
                m.high_water,
                m.pool_alloc_failures,
                m.enqueue_failures,
                m.pool_drop_count,
                control_sent.load(Ordering::Relaxed)
            );
        }
        stop.store(true, Ordering::Relaxed);
        sensor.join().unwrap();
        control.join().unwrap();
        producers_done.store(true, Ordering::Release);
    });

    let m = pool.snapshot();
    let stats: Vec<TargetStats> = targets.iter().map(|t| t.stats()).collect();
    println!("\nper target:");
    for (t, name) in stats.iter().zip(NAMES) {
        println!(
            "  {name:<8} delivered {:>8}  failed {:>8}",
            t.delivered, t.failed
        );
    }
    let mut json = [0u8; 1024];
    let n = m.write_json("", &stats, &mut json).unwrap();
    println!(
        "\nmetrics JSON: {}",
        std::str::from_utf8(&json[..n]).unwrap()
    );
    let check = pool.check();
    let (sent, received) = (
        control_sent.load(Ordering::Relaxed),
        control_received.load(Ordering::Relaxed),
    );
    println!(
        "\nSUMMARY frames={} frames_dropped={} pool_alloc_failures={} enqueue_failures={} \
         control_sent={sent} control_received={received} corrupt={} in_use={} high_water={}/{} check={}",
        frames.load(Ordering::Relaxed),
        frames_dropped.load(Ordering::Relaxed),
        m.pool_alloc_failures,
        m.enqueue_failures,
        corrupt.load(Ordering::Relaxed),
        m.pool_in_use,
        m.high_water,
        m.pool_total,
        if check.is_ok() { "ok" } else { "FAILED" }
    );
    let ok = check.is_ok()
        && m.pool_in_use == 0
        && sent == received
        && corrupt.load(Ordering::Relaxed) == 0;
    if !ok {
        eprintln!("FAILED: the pool did not come back whole, a control message was lost, or a payload was corrupt");
        std::process::exit(1);
    }
}
