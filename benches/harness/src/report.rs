//! `report`: runs every case under callgrind, the contended wall-clock runs and the footprint
//! computation, and writes docs/PERFORMANCE.md.

use crate::cases::{self, FAMILIES, FANOUTS, PAYLOAD};
use dispatcher_pool::header::MsgHeader;
use dispatcher_pool::pool::Pool;
use dispatcher_pool::sizing::pool_entries;
use dispatcher_pool::target::Target;
use dispatcher_pool::{Descriptor, Port, Queue, Timeout};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Results of the contended runs.
pub struct Contended {
    /// (ours, heapless) ops/s per repetition.
    pub reps: Vec<(f64, f64)>,
    /// Duration of each run.
    pub ms: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl Contended {
    /// Median of the per-repetition ratios ours / heapless.
    pub fn ratio(&self) -> f64 {
        median(self.reps.iter().map(|(o, h)| o / h).collect())
    }

    /// A Markdown table.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| repetition | ours (Mops/s) | heapless ArcPool<u32> (Mops/s) | ours / heapless |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|");
        for (i, (o, h)) in self.reps.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.2} | {:.2} |",
                i + 1,
                o / 1e6,
                h / 1e6,
                o / h
            );
        }
        let _ = writeln!(
            s,
            "| **median** | **{:.2}** | **{:.2}** | **{:.2}** |",
            median(self.reps.iter().map(|r| r.0).collect()) / 1e6,
            median(self.reps.iter().map(|r| r.1).collect()) / 1e6,
            self.ratio()
        );
        s
    }
}

/// `reps` repetitions of `ms` ms each, alternating which pool runs first.
pub fn contended(reps: usize, ms: u64) -> Contended {
    let pool = cases::make_pool();
    let _ = cases::contended_pair(pool, ms / 4 + 1, false); // warm-up (threads, pages)
    let reps = (0..reps)
        .map(|i| cases::contended_pair(pool, ms, i % 2 == 1))
        .collect();
    Contended { reps, ms }
}

fn callgrind(
    valgrind: &str,
    exe: &Path,
    case: &str,
    iters: u64,
    dir: &Path,
) -> Result<u64, String> {
    let out = dir.join(format!("callgrind.{case}.out"));
    let o = Command::new(valgrind)
        .arg("--tool=callgrind")
        .arg("--toggle-collect=bench_measured")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["run", case, &iters.to_string()])
        .output()
        .map_err(|e| format!("cannot run {valgrind}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{case} under callgrind failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no totals in {}", out.display()))
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn lock_versions() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                if [
                    "heapless",
                    "crossbeam-queue",
                    "crossbeam-utils",
                    "portable-atomic",
                    "dispatcher-pool",
                ]
                .contains(&n.as_str())
                {
                    out.entry(n)
                        .or_insert_with(String::new)
                        .push_str(&format!(" {}", v.trim_matches('"')));
                }
            }
        }
    }
    out
}

/// A port and a queue of size 0, to measure `Pool` and `Target` overheads.
struct ZstPort;
impl Port for ZstPort {
    fn now_ms(&self) -> u32 {
        0
    }
    fn sem_take(&self, _: Timeout) -> bool {
        false
    }
    fn sem_give(&self) {}
}
struct ZstQueue;
impl Queue for ZstQueue {
    fn item_size(&self) -> usize {
        0
    }
    unsafe fn try_put(&self, _: *const u8, _: usize) -> bool {
        false
    }
    unsafe fn get(&self, _: *mut u8, _: Timeout) -> bool {
        false
    }
    fn len(&self) -> usize {
        0
    }
    fn purge(&self) -> usize {
        0
    }
}

/// Type sizes on one target.
struct Sizes {
    target: String,
    descriptor: usize,
    header: usize,
    header_align: usize,
    pool: usize,
    target_overhead: usize,
    ptr: usize,
}

impl Sizes {
    fn host() -> Self {
        Sizes {
            target: format!("{} (host)", std::env::consts::ARCH),
            descriptor: core::mem::size_of::<Descriptor>(),
            header: MsgHeader::SIZE,
            header_align: MsgHeader::ALIGN,
            pool: core::mem::size_of::<Pool<'static, ZstPort>>(),
            target_overhead: core::mem::size_of::<Target<ZstQueue>>(),
            ptr: core::mem::size_of::<usize>(),
        }
    }
    fn from_probe(p: &BTreeMap<String, String>) -> Option<Self> {
        let g = |k: &str| p.get(k)?.parse().ok();
        Some(Sizes {
            target: p.get("target")?.clone(),
            descriptor: g("sizeof.descriptor")?,
            header: g("sizeof.header")?,
            header_align: g("alignof.header")?,
            pool: g("sizeof.pool")?,
            target_overhead: g("sizeof.target")?,
            ptr: g("sizeof.ptr")?,
        })
    }
    fn stride(&self) -> usize {
        (self.header + PAYLOAD).next_multiple_of(self.header_align)
    }
}

/// A footprint table row: label and the size it shows.
type SizeRow = (&'static str, fn(&Sizes) -> usize);

fn read_probe(path: Option<&str>) -> BTreeMap<String, String> {
    let Some(path) = path else {
        return BTreeMap::new();
    };
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn kib(bytes: usize) -> String {
    if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn footprint(probe: &BTreeMap<String, String>) -> String {
    let mut s = String::new();
    let host = Sizes::host();
    let thumb = Sizes::from_probe(probe);
    let _ = writeln!(s, "### Type sizes (from `size_of`, not typed in)\n");
    let _ = writeln!(
        s,
        "| type | {} | {} |",
        thumb
            .as_ref()
            .map_or("32-bit (probe missing)", |t| t.target.as_str()),
        host.target
    );
    let _ = writeln!(s, "|---|---:|---:|");
    let t = |f: fn(&Sizes) -> usize| {
        thumb
            .as_ref()
            .map_or("n/a".to_string(), |t| f(t).to_string())
    };
    let rows: [SizeRow; 6] = [
        ("`Descriptor` (bytes per pool entry, internal SRAM)", |s| {
            s.descriptor
        }),
        ("`MsgHeader` (`dispatcher_msg_t` without `data[]`)", |s| {
            s.header
        }),
        (
            "one message: header + 1 KiB payload (value-queue item, PSRAM entry)",
            |s| s.stride(),
        ),
        ("pointer-queue item", |s| s.ptr),
        (
            "`Pool` (free-list head, counters, layout; zero-size port)",
            |s| s.pool,
        ),
        ("`Target` without its queue (same in both modes)", |s| {
            s.target_overhead
        }),
    ];
    for (label, f) in rows {
        let _ = writeln!(s, "| {label} | {} | {} |", t(f), f(&host));
    }
    let sz = thumb.as_ref().unwrap_or(&host);
    let _ = writeln!(
        s,
        "\n### Internal SRAM: N targets × queue depth D × 1 KiB messages ({})\n",
        sz.target
    );
    let _ = writeln!(
        s,
        "Value mode: every queue slot holds a whole message (N·D·{stride} B). Pointer mode: queue slots of \
         {ptr} B plus one {desc}-byte descriptor per pool entry plus the `Pool` ({pool} B); the messages \
         (entries × {stride} B) go to PSRAM. E = `sizing::pool_entries(N, 250, 2)` (the default heuristic, \
         F = 0.25, C = 2); \"no-drop\" sizes the pool for every queue slot full of distinct messages \
         (E = min(N·D, 1024)). `Target` structs and `k_msgq` control blocks are the same in both modes and \
         not counted.\n",
        stride = sz.stride(),
        ptr = sz.ptr,
        desc = sz.descriptor,
        pool = sz.pool
    );
    let _ = writeln!(
        s,
        "| N | D | value mode SRAM | pointer mode SRAM (E) | E | PSRAM (E) | pointer SRAM, no-drop E | no-drop E | PSRAM (no-drop) | SRAM saved |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, d) in [
        (4usize, 8usize),
        (8, 8),
        (16, 8),
        (16, 16),
        (32, 4),
        (32, 16),
    ] {
        let value = n * d * sz.stride();
        let e = pool_entries(n as u32, 250, 2) as usize;
        let ptr_sram = |e: usize| n * d * sz.ptr + e * sz.descriptor + sz.pool;
        let e_all = (n * d).min(1024);
        let _ = writeln!(
            s,
            "| {n} | {d} | {} | {} | {e} | {} | {} | {e_all} | {} | {:.0}× |",
            kib(value),
            kib(ptr_sram(e)),
            kib(e * sz.stride()),
            kib(ptr_sram(e_all)),
            kib(e_all * sz.stride()),
            value as f64 / ptr_sram(e_all) as f64
        );
    }
    let sections = ["text", "rodata", "data", "bss"];
    let get = |k: String| probe.get(&k).and_then(|v| v.parse::<i64>().ok());
    if sections
        .iter()
        .all(|sec| get(format!("core.{sec}")).is_some() && get(format!("empty.{sec}")).is_some())
    {
        let _ = writeln!(
            s,
            "\n### Code size of the core on {} ({})\n",
            probe.get("target").map_or("?", String::as_str),
            probe.get("profile").map_or("?", String::as_str)
        );
        let _ = writeln!(
            s,
            "A `no_std` probe binary (`benches/probe`) that calls the whole API ({}), minus the same \
             binary without the core; measured with `{}`.\n",
            probe.get("api").map_or("?", String::as_str),
            probe.get("size_tool").map_or("size", String::as_str)
        );
        let _ = writeln!(
            s,
            "| section | core (bytes) | probe with core | empty probe |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|");
        for sec in sections {
            let (c, e) = (
                get(format!("core.{sec}")).unwrap_or(0),
                get(format!("empty.{sec}")).unwrap_or(0),
            );
            let _ = writeln!(s, "| .{sec} | {} | {c} | {e} |", c - e);
        }
    } else {
        let _ = writeln!(
            s,
            "\n(thumbv7m code-size probe not available: run `scripts/bench`.)"
        );
    }
    s
}

struct Opts {
    out: Option<PathBuf>,
    iters: u64,
    probe: Option<String>,
    cx16_exe: Option<PathBuf>,
    valgrind: String,
    command: String,
    reps: usize,
    ms: u64,
}

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        out: None,
        iters: 20_000,
        probe: None,
        cx16_exe: None,
        valgrind: "valgrind".into(),
        command: "scripts/bench".into(),
        reps: 11,
        ms: 200,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--out" => o.out = Some(val()?.into()),
            "--iters" => o.iters = val()?.parse().map_err(|e| format!("--iters: {e}"))?,
            "--probe" => o.probe = Some(val()?),
            "--cx16-exe" => o.cx16_exe = Some(val()?.into()),
            "--valgrind" => o.valgrind = val()?,
            "--command" => o.command = val()?,
            "--reps" => o.reps = val()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--ms" => o.ms = val()?.parse().map_err(|e| format!("--ms: {e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**not met**"
    }
}

/// The `report` subcommand.
pub fn main(args: &[String]) -> Result<(), String> {
    let o = parse_opts(args)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("dispatcher-pool-bench.{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;

    // Instruction counts.
    let mut raw = BTreeMap::new();
    for name in cases::names() {
        let ir = callgrind(&o.valgrind, &exe, &name, o.iters, &dir)?;
        eprintln!(
            "  callgrind {name:<24} {:>10.1} Ir/iter (raw)",
            ir as f64 / o.iters as f64
        );
        raw.insert(name, ir);
    }
    let empty = raw["empty"] as f64 / o.iters as f64;
    let ir = |name: &str| {
        raw.get(name)
            .map_or(f64::NAN, |&v| v as f64 / o.iters as f64 - empty)
    };
    let mut cx16 = None;
    if let Some(exe16) = &o.cx16_exe {
        let mut m = BTreeMap::new();
        for name in [
            "empty",
            "ours_alloc_unref",
            "heapless_u32",
            "heapless_1k_clone_n8",
            "ours_clone_n8",
        ] {
            m.insert(
                name,
                callgrind(&o.valgrind, exe16, name, o.iters, &dir)? as f64 / o.iters as f64,
            );
        }
        eprintln!("  callgrind (+cmpxchg16b build) done");
        cx16 = Some(m);
    }
    let _ = std::fs::remove_dir_all(&dir);

    eprintln!("  contended: {} × 2 × {} ms", o.reps, o.ms);
    let cont = contended(o.reps, o.ms);
    let probe = read_probe(o.probe.as_deref());

    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Performance\n");
    let _ = writeln!(
        w,
        "Generated by `{}` (do not edit by hand). Everything below was measured in one run on one machine.\n",
        o.command
    );
    let _ = writeln!(w, "## Machine and versions\n");
    let cpu = command_line("lscpu", &[])
        .lines()
        .find_map(|l| l.strip_prefix("Model name:").map(|m| m.trim().to_string()))
        .unwrap_or_else(|| "unknown".into());
    let _ = writeln!(
        w,
        "- CPU: {cpu}, {} cores online (`nproc`)",
        command_line("nproc", &[])
    );
    let _ = writeln!(w, "- {}", command_line("rustc", &["--version"]));
    let _ = writeln!(w, "- {}", command_line(&o.valgrind, &["--version"]));
    for (k, v) in lock_versions() {
        let _ = writeln!(w, "- crate `{k}`{v}");
    }
    let _ = writeln!(
        w,
        "- build: `cargo build --release -p dispatcher-pool-bench` (workspace release profile: opt-level 3, \
         debug = 1), target `{}-{}`, RUSTFLAGS=`{}` (no `target-cpu`)",
        std::env::consts::ARCH,
        std::env::consts::OS,
        std::env::var("RUSTFLAGS").unwrap_or_default()
    );
    let _ = writeln!(
        w,
        "- load average when the run started (`/proc/loadavg`; other jobs skew the wall-clock table only): {}",
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    let _ = writeln!(w, "- command: `{}`\n", o.command);

    let _ = writeln!(w, "## Method\n");
    let _ = writeln!(
        w,
        "- Instruction counts: each case runs in its own process under `valgrind --tool=callgrind \
         --toggle-collect=bench_measured`; `bench_measured` (`#[no_mangle]`, `#[inline(never)]`) calls the case's \
         operation {} times through a `&mut dyn FnMut()` after 64 warm-up iterations outside the collection \
         (lazy binding, first touches). Reported: collected instructions / iterations − the empty operation's \
         ({empty:.1} instructions: loop + indirect call). Deterministic: reruns give the same numbers to ±1.\n\
         - Queues: `dispatcher_pool::host::HostQueue` is a `Mutex` + `Condvar` `k_msgq` model and would dominate \
         every number, so the bench plugs its own queues into the core's `Queue` trait (`benches/harness/src/queues.rs`): \
         `PtrQueue` = `crossbeam_queue::ArrayQueue<usize>` (lock-free MPMC) for **both** our pointer broadcast and the \
         crossbeam baseline, and `ByteRing` (bounded ring, one try-lock per end, `memcpy` of whole items like \
         `k_msgq`) for the value-copy baseline; one extra row runs our broadcast over `ByteRing` with 8-byte items \
         to show the same queue as the value copy. Queue depth {}, pool {} entries of {} B payload.\n\
         - Port: the bench port's `now_ms` is one relaxed atomic load. On Zephyr `k_uptime_get()` is likewise a \
         cheap read of the kernel tick counter (no syscall on the kernel side, a few instructions), so the \
         allocation path's timestamp for the leak report costs about the same there. The semaphore is never \
         touched here (no waiter), as on Zephyr, where the hot path makes no kernel call without a waiter.\n\
         - Producers' payload filling is not counted on either side (a value sender has its message built \
         already; a pool user builds it in place): every broadcast row sets `message_len`, the value rows copy the \
         whole {}-byte `dispatcher_msg_t` (header + 1 KiB) in and out.\n\
         - heapless 0.9 `ArcPool` needs a 128-bit CAS on x86_64: it is built with its `portable-atomic` feature, \
         which (in a default build without `-C target-feature=+cmpxchg16b`) picks `cmpxchg16b` at run time through \
         CPU detection.{}\n",
        o.iters,
        cases::DEPTH,
        cases::ENTRIES,
        PAYLOAD,
        cases::stride(),
        if cx16.is_some() {
            " The extra table below repeats the heapless rows from a build with `RUSTFLAGS=\"-C target-feature=+cmpxchg16b\"`, where that CAS is inlined."
        } else {
            ""
        }
    );

    let _ = writeln!(w, "## Instructions per operation (x86_64, callgrind)\n");
    let _ = writeln!(w, "| operation | instructions |");
    let _ = writeln!(w, "|---|---:|");
    for f in FAMILIES.iter().filter(|f| !f.fanout && f.key != "empty") {
        let _ = writeln!(w, "| {} | {:.0} |", f.label, ir(f.key));
    }
    let _ = writeln!(w, "| {} | {:.1} |", FAMILIES[0].label, empty);
    let _ = writeln!(
        w,
        "\n### Fan-out to N targets (one message, every consumer done with it)\n"
    );
    let mut head = String::from("| operation |");
    let mut rule = String::from("|---|");
    for n in FANOUTS {
        let _ = write!(head, " N={n} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(w, "{head} per extra target |\n{rule}---:|");
    let (lo, hi) = (FANOUTS[0], FANOUTS[FANOUTS.len() - 1]);
    for f in FAMILIES.iter().filter(|f| f.fanout) {
        let mut row = format!("| {} |", f.label);
        for n in FANOUTS {
            let _ = write!(row, " {:.0} |", ir(&format!("{}_n{n}", f.key)));
        }
        let slope =
            (ir(&format!("{}_n{hi}", f.key)) - ir(&format!("{}_n{lo}", f.key))) / (hi - lo) as f64;
        let _ = writeln!(w, "{row} {slope:.0} |");
    }
    for (label, other) in [
        ("value copy ÷ ours (×)", "value_copy"),
        ("crossbeam ÷ ours (×)", "crossbeam_bcast"),
    ] {
        let mut row = format!("| *{label}* |");
        for n in FANOUTS {
            let _ = write!(
                row,
                " {:.1} |",
                ir(&format!("{other}_n{n}")) / ir(&format!("ours_bcast_n{n}"))
            );
        }
        let _ = writeln!(w, "{row} |");
    }

    if let Some(m) = &cx16 {
        let e = m["empty"];
        let _ = writeln!(
            w,
            "\n### Same rows from a `-C target-feature=+cmpxchg16b` build\n"
        );
        let _ = writeln!(w, "| operation | instructions |");
        let _ = writeln!(w, "|---|---:|");
        for (k, label) in [
            ("ours_alloc_unref", "**ours** `try_alloc` + last unref"),
            ("heapless_u32", "heapless `ArcPool<u32>` alloc + drop"),
            (
                "ours_clone_n8",
                "**ours** alloc + 8 × `try_clone` + drop all",
            ),
            (
                "heapless_1k_clone_n8",
                "heapless `ArcPool<[u8; 1024]>` alloc + 8 clones + drop all",
            ),
        ] {
            let _ = writeln!(w, "| {label} | {:.0} |", m[k] - e);
        }
    }

    let _ = writeln!(w, "\n## Contended throughput (wall clock, 2 threads)\n");
    let _ = writeln!(
        w,
        "Two threads each loop alloc + drop on one shared pool ({} entries) for {} ms; ours (`try_alloc` + `Msg` \
         drop) and heapless `ArcPool<u32>` (`alloc` + drop) alternate, {} repetitions, the ratio is the median of \
         the per-repetition ratios. Wall-clock numbers vary with the machine's load; the ratio is what to read.\n",
        cases::ENTRIES,
        cont.ms,
        cont.reps.len()
    );
    let _ = writeln!(w, "{}", cont.markdown());

    let a1 = ir("ours_alloc_unref") / ir("heapless_u32");
    let b8 = ir("value_copy_n8") / ir("ours_bcast_n8");
    let c8 = ir("ours_bcast_n8") < ir("crossbeam_bcast_n8");
    let ct = cont.ratio();
    let _ = writeln!(w, "## Aims\n");
    let _ = writeln!(w, "| aim | measured | verdict |");
    let _ = writeln!(w, "|---|---|---|");
    let _ = writeln!(
        w,
        "| `try_alloc` + last unref ≤ heapless `ArcPool<u32>` alloc + drop | {:.0} vs {:.0} instructions ({a1:.2}×) | {} |",
        ir("ours_alloc_unref"),
        ir("heapless_u32"),
        verdict(a1 <= 1.0)
    );
    let _ = writeln!(
        w,
        "| pointer broadcast to 8 ≥ 10× fewer instructions than the value copy | {:.0} vs {:.0} ({b8:.1}×) | {} |",
        ir("ours_bcast_n8"),
        ir("value_copy_n8"),
        verdict(b8 >= 10.0)
    );
    let _ = writeln!(
        w,
        "| pointer broadcast to 8 below the crossbeam pointer broadcast | {:.0} vs {:.0} | {} |",
        ir("ours_bcast_n8"),
        ir("crossbeam_bcast_n8"),
        verdict(c8)
    );
    let _ = writeln!(
        w,
        "| contended 2-thread throughput ≥ heapless | {ct:.2}× | {} |",
        verdict(ct >= 1.0)
    );

    let q8 = ir("queue_only_n8");
    let per = |k: &str| (ir(&format!("{k}_n{hi}")) - ir(&format!("{k}_n{lo}"))) / (hi - lo) as f64;
    let _ = writeln!(w, "\n### Where the numbers fall short, and why\n");
    let _ = writeln!(
        w,
        "- **Value copy vs pointer, instruction counts.** The queue traffic alone (8 × `ArrayQueue` put + get) is \
         {q8:.0} instructions, so no pointer scheme that pays for a lock-free queue per target can be 10× below the \
         value copy's {:.0} on this CPU: glibc's AVX2 `memcpy` moves a 1 KiB message in ~{:.0} instructions \
         (32-byte vectors). Instruction counts undersell the copy: it moves {} bytes per target through the cache \
         (twice), and on a 32-bit MCU (4-byte registers, no vector unit) the same copy is at least {} word loads + \
         stores per target, while the pointer path does not grow with the message size. The SRAM table below is the \
         other half of the trade.",
        ir("value_copy_n8"),
        (ir("value_copy_n8") / 16.0),
        cases::stride(),
        cases::stride() / 4 * 2 * 2
    );
    let _ = writeln!(
        w,
        "- **Pointer broadcast vs crossbeam.** Per extra target, on top of the same queue ({:.0} instructions): \
         ours {:.0}, the crossbeam baseline {:.0}. The baseline trusts every pointer and does one `fetch_add` / \
         `fetch_sub`; ours pays for what the design asks: the producer checks every target's state, the \
         references of all pointer targets are taken in one CAS (saturation refused) and the leftovers given back in \
         one, each put bumps the target's `delivered` counter, the last holder is recorded; the consumer checks the \
         target, validates the queue item (NULL / foreign / misaligned / free), records the holder, and unref is a \
         CAS loop that refuses a double unref. Closing the gap means dropping per-target checks or counters the \
         design requires (per-target delivered/failed, the leak report's holder, bad-pointer refusal), not a \
         different queue.",
        per("queue_only"),
        per("ours_bcast") - per("queue_only"),
        per("crossbeam_bcast") - per("queue_only")
    );
    let _ = writeln!(
        w,
        "- **Contended throughput.** Besides the free-list head, every allocation does relaxed RMWs on the \
         pool-wide `allocations` and `pool_in_use` counters (exact in-use and high-water mark) and every free one on \
         `pool_in_use` plus the SeqCst fence of the no-lost-wake-up protocol (see docs/DESIGN.md: the fence-free \
         variant could not be proven with loom); heapless touches only its stack head and the block's refcount. On \
         the product's target this cost does not exist: Zephyr runs the ESP32-S3 single-core, so no cache line \
         bounces between cores. Sharding the counters per core would close it on SMP hosts."
    );

    let _ = writeln!(w, "\n## Memory footprint\n");
    let _ = writeln!(w, "{}", footprint(&probe));

    let ratios = format!(
        "RATIOS alloc_unref_vs_heapless_arc_u32={a1:.2} broadcast8_copy_over_ptr={b8:.1} contended_vs_heapless={ct:.2}"
    );
    let _ = writeln!(w, "## Summary line\n\n```\n{ratios}\n```");
    if let Some(out) = &o.out {
        std::fs::write(out, &md).map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!("  wrote {}", out.display());
    }
    println!("{md}");
    println!("{ratios}");
    Ok(())
}
