//! Host simulation of the line-sensor dispatcher (the README's main job).
//!
//! * a streaming producer (the line sensor) broadcasts 1 KiB frames as fast as it can pace
//!   itself, with `try_alloc_or(Fallback::Drop)`: when the pool is empty it drops (counted);
//! * a control producer (battery override) uses `alloc_blocking` with a timeout and must never
//!   lose a message;
//! * consumer modules of different speeds: `fast`, `logger`, `slow` (deliberately slow) on
//!   pointer queues, `legacy` still on a value queue (the old path), and `battery` that
//!   receives the control messages.
//!
//! It prints a legend, one row per second (rates and totals), why frames were dropped, the
//! per-target counters and a final `PASS` or `FAIL: <reason>` line (exit code 1 on FAIL).
//!
//! `cargo run --release --example line_sensor_sim -- [SECONDS]` (whole seconds, default 5).
//! Bad arguments: a usage line on stderr, exit code 2. Ctrl-C (SIGINT) or SIGTERM stops it
//! early with the summary; a closed stdout (`| head`) stops it at once (a note on stderr).
//!
//! Test hook (scripts/test-demo shows the checks catch each fault): `LINE_SENSOR_SIM_FAULT` =
//! `lose-control` (one control message is sent to `fast` only), `corrupt` (one frame's last
//! payload byte is flipped) or `leak` (`fast` forgets one message without releasing it).

use dispatcher_pool::host::{HostPool, HostQueue};
use dispatcher_pool::metrics::TargetStats;
use dispatcher_pool::{
    Fallback, Mode, MsgHeader, PoolConfig, PoolError, Received, Target, Timeout,
};
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PAYLOAD: usize = 1024;
const SENSOR: u16 = 1;
const BATTERY: u16 = 2;
const DEFAULT_SECONDS: u64 = 5;
const MAX_SECONDS: u64 = 86_400;
/// How often the main thread samples the pool and checks for Ctrl-C / a closed stdout.
const TICK: Duration = Duration::from_millis(10);

/// A fault injected on purpose (`LINE_SENSOR_SIM_FAULT`), to show the checks catch it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    LoseControl,
    Corrupt,
    Leak,
}

fn fault() -> Result<Fault, String> {
    match std::env::var("LINE_SENSOR_SIM_FAULT").as_deref() {
        Err(_) | Ok("") => Ok(Fault::None),
        Ok("lose-control") => Ok(Fault::LoseControl),
        Ok("corrupt") => Ok(Fault::Corrupt),
        Ok("leak") => Ok(Fault::Leak),
        Ok(other) => Err(format!(
            "LINE_SENSOR_SIM_FAULT={other:?}: expected lose-control, corrupt or leak"
        )),
    }
}

/// One consumer module: name, queue, per-message work time.
struct Consumer {
    name: &'static str,
    mode: Mode,
    depth: usize,
    delay: Duration,
}

const CONSUMERS: [Consumer; 5] = [
    Consumer {
        name: "fast",
        mode: Mode::Pointer,
        depth: 16,
        delay: Duration::ZERO,
    },
    Consumer {
        name: "logger",
        mode: Mode::Pointer,
        depth: 16,
        delay: Duration::from_micros(50),
    },
    Consumer {
        name: "slow",
        mode: Mode::Pointer,
        depth: 8,
        delay: Duration::from_millis(2),
    },
    Consumer {
        name: "legacy",
        mode: Mode::Value,
        depth: 4,
        delay: Duration::from_micros(200),
    },
    Consumer {
        name: "battery",
        mode: Mode::Pointer,
        depth: 8,
        delay: Duration::from_micros(200),
    },
];
const SLOW: usize = 2;
const BATTERY_T: usize = 4;
/// The sensor's frames go to the first four; control messages to `battery` and `fast`.
const SENSOR_TARGETS: usize = 4;

fn usage(out: &mut dyn Write) {
    let _ = writeln!(
        out,
        "usage: line_sensor_sim [SECONDS]   (a whole number of seconds, 1..={MAX_SECONDS}; default {DEFAULT_SECONDS})"
    );
}

/// The run length from the command line, or the exit code to leave with.
fn parse_args() -> Result<u64, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bad = |why: String| {
        let mut e = io::stderr().lock();
        let _ = writeln!(e, "line_sensor_sim: {why}");
        usage(&mut e);
        Err(ExitCode::from(2))
    };
    match args.as_slice() {
        [] => Ok(DEFAULT_SECONDS),
        [h] if h == "-h" || h == "--help" => {
            usage(&mut io::stdout().lock());
            Err(ExitCode::SUCCESS)
        }
        [s] => match s.parse::<u64>() {
            Ok(n) if (1..=MAX_SECONDS).contains(&n) => Ok(n),
            _ => bad(format!("bad SECONDS {s:?}")),
        },
        _ => bad(format!("expected at most one argument, got {}", args.len())),
    }
}

/// Set by SIGINT / SIGTERM.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
mod os {
    use super::INTERRUPTED;
    use std::sync::atomic::Ordering;

    extern "C" fn on_signal(_: libc::c_int) {
        // Only an atomic store: async-signal-safe.
        INTERRUPTED.store(true, Ordering::Relaxed);
    }

    /// Ctrl-C (SIGINT) and SIGTERM set [`INTERRUPTED`] instead of killing the process.
    pub fn catch_signals() {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: `on_signal` has the signature `signal` expects and only does an atomic
            // store, which is async-signal-safe.
            unsafe { libc::signal(sig, handler) };
        }
    }

    /// True when stdout is a pipe whose reader is gone (poll reports POLLERR on the write end),
    /// so a `| head` is noticed at once, not only at the next write.
    pub fn stdout_closed() -> bool {
        let mut p = libc::pollfd {
            fd: 1,
            events: 0,
            revents: 0,
        };
        // SAFETY: `p` is one valid pollfd and the timeout is 0 (no wait).
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n > 0 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
    }
}

#[cfg(not(unix))]
mod os {
    pub fn catch_signals() {}
    pub fn stdout_closed() -> bool {
        false
    }
}

/// stdout, locked once; the first failed write (EPIPE) closes it for the rest of the run.
struct Out {
    lock: io::StdoutLock<'static>,
    closed: bool,
}

impl Out {
    fn line(&mut self, args: fmt::Arguments<'_>) {
        if !self.closed && (writeln!(self.lock, "{args}").is_err() || self.lock.flush().is_err()) {
            self.closed = true;
        }
    }
}

macro_rules! out {
    ($o:expr, $($t:tt)*) => { $o.line(format_args!($($t)*)) };
}

/// Per-consumer counters shared with the main thread.
#[derive(Default)]
struct Seen {
    /// Messages received and processed.
    processed: AtomicU64,
    /// 1 while the consumer holds a received pointer message (the entry it works on).
    in_hand: AtomicU32,
}

/// Running sums of one second's samples.
#[derive(Default, Clone, Copy)]
struct Sums {
    samples: u64,
    in_use: u64,
    held: [u64; 5],
}

fn main() -> ExitCode {
    let seconds = match parse_args() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let fault = match fault() {
        Ok(f) => f,
        Err(why) => {
            let _ = writeln!(io::stderr(), "line_sensor_sim: {why}");
            return ExitCode::from(2);
        }
    };
    os::catch_signals();
    let mut out = Out {
        lock: io::stdout().lock(),
        closed: false,
    };

    let entries = dispatcher_pool::sizing::pool_entries(5, 250, 2) as usize; // 5 targets -> the minimum, 8
    let host = match HostPool::new(PoolConfig::new(entries, PAYLOAD)) {
        Ok(h) => h,
        Err(e) => {
            out!(out, "FAIL: pool init: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pool = host.pool();
    let stride = pool.layout().stride;
    let targets: Vec<Target<HostQueue>> = CONSUMERS
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let q = match c.mode {
                Mode::Pointer => HostQueue::pointers(c.depth),
                Mode::Value => HostQueue::values(c.depth, stride),
            };
            Target::new(q, c.mode, k as u16).expect("target")
        })
        .collect();

    out!(
        out,
        "line_sensor_sim: {seconds} s; pool of {entries} entries x {PAYLOAD} B payload ({} B message region, {} B descriptors)",
        pool.layout().region_bytes(),
        pool.layout().descriptor_bytes()
    );
    out!(out, "  sensor  -> fast, logger, slow, legacy: try_alloc_or(Drop), a frame is dropped when the pool is empty");
    out!(
        out,
        "  battery -> battery, fast: alloc_blocking(500 ms), must never be lost"
    );
    for c in &CONSUMERS {
        let q = match c.mode {
            Mode::Pointer => format!(
                "pointer queue of {} ({} B items)",
                c.depth,
                size_of::<usize>()
            ),
            Mode::Value => format!(
                "value queue of {} ({stride} B copies, holds no entry)",
                c.depth
            ),
        };
        out!(
            out,
            "  consumer {:<8} {:>6.2} ms per message, {q}",
            c.name,
            c.delay.as_secs_f64() * 1e3
        );
    }
    out!(out, "");
    out!(
        out,
        "legend (one row per second; /s = during that second, tot = since the start):"
    );
    out!(out, "  frames/s  sensor frames broadcast      drop/s  frames dropped, pool empty   ctl/s  control messages sent");
    out!(
        out,
        "  in_use    pool entries in use, average over the second (of {entries})"
    );
    out!(out, "  slow, other  entries pinned by the slow consumer / by fast+logger+battery (queued in their");
    out!(out, "               pointer queue or being processed), averaged; a shared entry counts for each holder");
    out!(out, "  frames_tot drop_tot ctl_tot enqfail_tot  totals; enqfail = puts refused because a queue was full");
    out!(out, "");
    out!(
        out,
        "{:>4} {:>9} {:>8} {:>6} | {:>6} {:>5} {:>5} | {:>10} {:>9} {:>7} {:>11}",
        "sec",
        "frames/s",
        "drop/s",
        "ctl/s",
        "in_use",
        "slow",
        "other",
        "frames_tot",
        "drop_tot",
        "ctl_tot",
        "enqfail_tot"
    );

    let stop = AtomicBool::new(false);
    let producers_done = AtomicBool::new(false);
    let seen: Vec<Seen> = CONSUMERS.iter().map(|_| Seen::default()).collect();
    let (control_sent, control_received, corrupt) =
        (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let (frames, frames_dropped) = (AtomicU64::new(0), AtomicU64::new(0));
    let problems: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let problem = |p: String| problems.lock().unwrap_or_else(|e| e.into_inner()).push(p);
    let start = Instant::now();
    let mut total = Sums::default();
    let mut secs_done = 0u64;
    let mut why_stopped = None;

    std::thread::scope(|s| {
        // Consumers: run until the producers are done and their queue is empty.
        for (k, t) in targets.iter().enumerate() {
            let (producers_done, control_received, corrupt, seen, problem) = (
                &producers_done,
                &control_received,
                &corrupt,
                &seen[k],
                &problem,
            );
            s.spawn(move || {
                let mut value = vec![0u8; stride];
                let delay = CONSUMERS[k].delay;
                let mut leaked = false;
                loop {
                    match pool.receive(t, Some(&mut value), Timeout::Millis(10)) {
                        Ok(Received::Msg(m)) => {
                            seen.in_hand.store(1, Ordering::Relaxed);
                            let p = m.payload();
                            if p.is_empty() || p.iter().any(|&b| b != p[0]) {
                                corrupt.fetch_add(1, Ordering::Relaxed);
                            }
                            if k == BATTERY_T && m.header().source == BATTERY {
                                control_received.fetch_add(1, Ordering::Relaxed);
                            }
                            if !delay.is_zero() {
                                std::thread::sleep(delay); // the work, with the entry held
                            }
                            if k == 0 && fault == Fault::Leak && !leaked {
                                leaked = true;
                                std::mem::forget(m); // the injected fault: never released
                            } else {
                                drop(m);
                            }
                            seen.in_hand.store(0, Ordering::Relaxed);
                        }
                        Ok(Received::Value(_)) => {
                            let len = u32::from_ne_bytes(value[..4].try_into().unwrap()) as usize;
                            let p = &value[MsgHeader::SIZE..MsgHeader::SIZE + len.min(PAYLOAD)];
                            if p.is_empty() || p.iter().any(|&b| b != p[0]) {
                                corrupt.fetch_add(1, Ordering::Relaxed);
                            }
                            if !delay.is_zero() {
                                std::thread::sleep(delay);
                            }
                        }
                        Err(PoolError::Timeout) => {
                            if producers_done.load(Ordering::Acquire) && t.is_empty() {
                                return;
                            }
                            continue;
                        }
                        Err(e) => {
                            problem(format!("{}: receive failed: {e}", CONSUMERS[k].name));
                            return;
                        }
                    }
                    seen.processed.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Streaming producer: the line sensor.
        let sensor = {
            let (targets, stop, frames, frames_dropped, problem) =
                (&targets, &stop, &frames, &frames_dropped, &problem);
            s.spawn(move || {
                let to: Vec<&Target<HostQueue>> = targets[..SENSOR_TARGETS].iter().collect();
                let mut seq = 0u8;
                while !stop.load(Ordering::Relaxed) {
                    match pool.try_alloc_or(Fallback::Drop) {
                        Ok(mut m) => {
                            let p = m.payload_mut().unwrap();
                            p.fill(seq);
                            if fault == Fault::Corrupt && frames.load(Ordering::Relaxed) == 0 {
                                p[PAYLOAD - 1] ^= 0xFF; // the injected fault, first frame
                            }
                            let h = m.header_mut().unwrap();
                            h.message_len = PAYLOAD as u32;
                            h.source = SENSOR;
                            if let Err(e) = pool.broadcast(m, &to) {
                                problem(format!("sensor: broadcast failed: {e}"));
                                return;
                            }
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
            let (targets, stop, control_sent, problem) = (&targets, &stop, &control_sent, &problem);
            s.spawn(move || {
                let to = [&targets[BATTERY_T], &targets[0]];
                let mut first = true;
                while !stop.load(Ordering::Relaxed) {
                    let mut m = match pool.alloc_blocking(Timeout::Millis(500)) {
                        Ok(m) => m,
                        Err(e) => {
                            problem(format!("control: alloc_blocking(500 ms) failed: {e}"));
                            return;
                        }
                    };
                    m.write(&[0xB7; 16]).unwrap();
                    m.header_mut().unwrap().source = BATTERY;
                    control_sent.fetch_add(1, Ordering::Relaxed);
                    // The injected fault: the first control message skips `battery`.
                    let to: &[&Target<HostQueue>] = if first && fault == Fault::LoseControl {
                        &to[1..]
                    } else {
                        &to
                    };
                    first = false;
                    match pool.broadcast(m, to) {
                        Ok(n) if n >= 1 => {}
                        Ok(_) => problem("control: a control message reached nobody".into()),
                        Err(e) => problem(format!("control: broadcast failed: {e}")),
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
            })
        };

        // Main thread: sample every TICK, a row every second, until done or stopped.
        let mut sec_sums = Sums::default();
        let (mut last_frames, mut last_drops, mut last_ctl) = (0u64, 0u64, 0u64);
        loop {
            if INTERRUPTED.load(Ordering::Relaxed) {
                why_stopped = Some("interrupted");
                break;
            }
            if out.closed || os::stdout_closed() {
                out.closed = true;
                why_stopped = Some("stdout closed");
                break;
            }
            let m = pool.snapshot();
            sec_sums.samples += 1;
            sec_sums.in_use += u64::from(m.pool_in_use);
            for (k, t) in targets.iter().enumerate() {
                if CONSUMERS[k].mode == Mode::Pointer {
                    sec_sums.held[k] +=
                        t.queued() as u64 + u64::from(seen[k].in_hand.load(Ordering::Relaxed));
                }
            }
            if start.elapsed() >= Duration::from_secs(secs_done + 1) {
                secs_done += 1;
                let (f, d, c) = (
                    frames.load(Ordering::Relaxed),
                    frames_dropped.load(Ordering::Relaxed),
                    control_sent.load(Ordering::Relaxed),
                );
                let n = sec_sums.samples.max(1) as f64;
                let avg = |v: u64| v as f64 / n;
                let other = sec_sums.held[0] + sec_sums.held[1] + sec_sums.held[BATTERY_T];
                out!(
                    out,
                    "{:>4} {:>9} {:>8} {:>6} | {:>6.2} {:>5.2} {:>5.2} | {:>10} {:>9} {:>7} {:>11}",
                    secs_done,
                    f - last_frames,
                    d - last_drops,
                    c - last_ctl,
                    avg(sec_sums.in_use),
                    avg(sec_sums.held[SLOW]),
                    avg(other),
                    f,
                    d,
                    c,
                    m.enqueue_failures
                );
                (last_frames, last_drops, last_ctl) = (f, d, c);
                total.samples += sec_sums.samples;
                total.in_use += sec_sums.in_use;
                for k in 0..total.held.len() {
                    total.held[k] += sec_sums.held[k];
                }
                sec_sums = Sums::default();
                if secs_done >= seconds {
                    break;
                }
            }
            std::thread::sleep(TICK);
        }
        stop.store(true, Ordering::Relaxed);
        let _ = sensor.join();
        let _ = control.join();
        producers_done.store(true, Ordering::Release);
    });
    let elapsed = start.elapsed().as_secs_f64();

    // ----- summary and checks -----------------------------------------------------------------
    let m = pool.snapshot();
    let stats: Vec<TargetStats> = targets.iter().map(|t| t.stats()).collect();
    let (f, d) = (
        frames.load(Ordering::Relaxed),
        frames_dropped.load(Ordering::Relaxed),
    );
    let mut fails = problems.into_inner().unwrap_or_else(|e| e.into_inner());

    out!(out, "");
    if let Some(why) = why_stopped {
        out!(
            out,
            "stopped early after {elapsed:.1} s of {seconds} ({why})"
        );
    }
    out!(
        out,
        "per target (totals):   delivered  refused(queue full)  processed  avg entries pinned"
    );
    for (k, (t, c)) in stats.iter().zip(&CONSUMERS).enumerate() {
        let pinned = match c.mode {
            Mode::Pointer if total.samples > 0 => {
                format!("{:.2}", total.held[k] as f64 / total.samples as f64)
            }
            Mode::Pointer => "-".into(),
            Mode::Value => "0 (copies)".into(),
        };
        let processed = seen[k].processed.load(Ordering::Relaxed);
        out!(
            out,
            "  {:<8} {:>17} {:>20} {:>10}  {pinned:>18}",
            c.name,
            t.delivered,
            t.failed,
            processed
        );
        if u64::from(t.delivered) != processed {
            fails.push(format!(
                "{}: {} delivered but {processed} processed",
                c.name, t.delivered
            ));
        }
    }

    // Why frames were dropped: which consumer pinned the entries.
    let attempts = f + d;
    if d > 0 && total.samples > 0 {
        let (k, held) = (0..CONSUMERS.len())
            .filter(|&k| CONSUMERS[k].mode == Mode::Pointer)
            .map(|k| (k, total.held[k] as f64 / total.samples as f64))
            .fold((0, -1.0), |a, b| if b.1 > a.1 { b } else { a });
        let c = &CONSUMERS[k];
        out!(
            out,
            "why frames were dropped: {d} of {attempts} allocations ({:.1} %) found all {entries} entries in use. An entry",
            100.0 * d as f64 / attempts.max(1) as f64
        );
        out!(
            out,
            "  returns to the pool only when its last holder releases it, and `{}` ({:.2} ms per message, a pointer",
            c.name,
            c.delay.as_secs_f64() * 1e3
        );
        out!(
            out,
            "  queue of {}) pinned {held:.2} of the {entries} on average: the sensor can broadcast only about as fast",
            c.depth
        );
        out!(
            out,
            "  as `{}` releases entries ({:.0} frames/s here). More entries drop less.",
            c.name,
            f as f64 / elapsed.max(1e-9)
        );
    } else {
        out!(out, "no frame was dropped ({f} broadcast)");
    }

    let mut json = [0u8; 1024];
    match m.write_json("", &stats, &mut json) {
        Ok(n) => out!(out, "metrics JSON: {}", String::from_utf8_lossy(&json[..n])),
        Err(e) => fails.push(format!("metrics JSON: {e}")),
    }

    let (sent, received) = (
        control_sent.load(Ordering::Relaxed),
        control_received.load(Ordering::Relaxed),
    );
    let corrupt = corrupt.load(Ordering::Relaxed);
    let check = pool.check();
    out!(
        out,
        "checks: control sent {sent}, received {received}; corrupt payloads {corrupt}; pool_in_use {} of {}; pool check {}",
        m.pool_in_use,
        m.pool_total,
        match &check {
            Ok(r) => format!("ok (free {}, held {})", r.free, r.held),
            Err(e) => format!("failed: {e}"),
        }
    );
    if sent != received {
        fails.push(format!(
            "control messages lost: sent {sent}, received {received}"
        ));
    }
    if corrupt > 0 {
        fails.push(format!("{corrupt} corrupted payloads"));
    }
    match check {
        Ok(r) if r.held == 0 && r.free == m.pool_total as usize => {}
        Ok(r) => fails.push(format!(
            "pool not whole: {} free, {} held of {}",
            r.free, r.held, m.pool_total
        )),
        Err(e) => fails.push(format!("pool check failed: {e}")),
    }
    if m.pool_in_use != 0 {
        fails.push(format!(
            "pool_in_use is {} at the end, not 0",
            m.pool_in_use
        ));
    }

    let verdict = if fails.is_empty() {
        "PASS".to_string()
    } else {
        format!("FAIL: {}", fails.join("; "))
    };
    out!(out, "{verdict}");
    if out.closed {
        // Nowhere else to say it: stdout is gone.
        let _ = writeln!(
            io::stderr(),
            "line_sensor_sim: stdout closed, stopped after {elapsed:.1} s: {verdict}"
        );
    }
    if fails.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
