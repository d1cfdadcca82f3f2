//! `dispatcher-pool-bench`: benchmarks of dispatcher-pool against value copies, heapless
//! `ArcPool`, std `Arc` and a crossbeam-queue pointer broadcast.
//!
//! ```text
//! dispatcher-pool-bench list                      case names
//! dispatcher-pool-bench run CASE ITERS            one case (what callgrind runs)
//! dispatcher-pool-bench smoke                     every case once, quickly, checked; no valgrind
//! dispatcher-pool-bench contended [REPS] [MS]     2-thread alloc/free throughput, ours vs heapless
//! dispatcher-pool-bench report [options]          everything, Markdown to stdout and --out
//! ```
//!
//! `scripts/bench` is the front end; see docs/PERFORMANCE.md for the method.

mod cases;
mod queues;
mod report;

use std::process::ExitCode;
use std::time::Instant;

fn run_case(name: &str, iters: u64) -> Result<(), String> {
    let mut bench = cases::build(name).ok_or_else(|| format!("unknown case {name:?}"))?;
    // Warm-up outside the measurement: lazy symbol binding, first touches of memory.
    const WARMUP: u64 = 64;
    for _ in 0..WARMUP {
        (bench.op)();
    }
    cases::bench_measured(iters, &mut *bench.op);
    (bench.check)(iters + WARMUP)
}

fn smoke() -> Result<(), String> {
    let t0 = Instant::now();
    println!("| case | ns/iter (wall clock, rough, not the benchmark) |");
    println!("|---|---:|");
    for name in cases::names() {
        let mut bench = cases::build(&name).ok_or("unknown case")?;
        let iters = 2000;
        let t = Instant::now();
        cases::bench_measured(iters, &mut *bench.op);
        let ns = t.elapsed().as_nanos() as f64 / iters as f64;
        (bench.check)(iters).map_err(|e| format!("{name}: {e}"))?;
        println!("| {name} | {ns:.0} |");
    }
    let pool = cases::make_pool();
    let (ours, theirs) = cases::contended_pair(pool, 40, false);
    if !(ours > 0.0 && theirs > 0.0) {
        return Err("contended run did no work".into());
    }
    pool.check()
        .map_err(|e| format!("contended: pool check {e}"))?;
    println!(
        "\ncontended 2 threads (40 ms, one repetition): ours {:.1} Mops/s, heapless {:.1} Mops/s, ratio {:.2}",
        ours / 1e6,
        theirs / 1e6,
        ours / theirs
    );
    println!(
        "smoke OK: {} cases in {:.1} s",
        cases::names().len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("list") => {
            for n in cases::names() {
                println!("{n}");
            }
            Ok(())
        }
        Some("run") if args.len() == 3 => match args[2].parse() {
            Ok(iters) => run_case(&args[1], iters),
            Err(e) => Err(format!("bad iteration count: {e}")),
        },
        Some("smoke") => smoke(),
        // One wall-clock pair (what `report` runs under `taskset` for the time-sliced rows).
        Some("pair") if args.len() == 4 => {
            let n = args[1].parse().map_err(|e| format!("threads: {e}"));
            let ms = args[2].parse().map_err(|e| format!("ms: {e}"));
            match (n, ms) {
                (Ok(n), Ok(ms)) => {
                    let (o, h) = cases::pair(n, cases::make_pool(), ms, args[3] == "1");
                    println!("{o} {h}");
                    Ok(())
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        Some("contended") => {
            let reps = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(7);
            let ms = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
            let c = report::contended(reps, ms);
            println!("{}", c.markdown());
            Ok(())
        }
        Some("report") => report::main(&args[1..]),
        _ => Err("usage: dispatcher-pool-bench list | run CASE ITERS | smoke | pair THREADS MS REVERSE | contended [REPS] [MS] | report [--out FILE] [--iters N] [--probe FILE] [--cx16-exe EXE] [--command TEXT]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
