#!/usr/bin/env python3
"""Profile one row of `cargo xtask bench` for one engine, and nothing else.

It starts the benchmark's worker process directly (the protocol is in benches/src/worker.rs),
runs the setup rows the profiled row needs, attaches `perf record` (or `strace -c -w`) to the
worker, runs the row, and detaches. So the profile holds the row alone, not the bulk load before
it.

    cargo build --release -p redwood-benches
    python3 benches/scripts/profile_row.py --engine redwood --scale 0.3 \
        --setup bulk_load --row random_reads --tool perf --out target/profile/random_reads

Writes OUT.data (perf) and OUT.txt (the top symbols, self time), OUT.stat (stat), or
OUT.strace. Needs perf
(Debian: linux-perf) or strace on PATH; run as root or with perf_event_paranoid <= 1.
"""
import argparse, json, os, shutil, signal, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plan(scale):
    # The same counts as Plan::new in benches/src/workload.rs.
    at = lambda full: max(1, round(full * scale))
    return dict(entries=max(10, at(1_000_000)), individual_writes=at(1000), batches=at(100),
                batch_entries=1000, range_reads=at(500_000), ycsb_ops=at(20_000),
                large_values=at(1000))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", default="redwood")
    p.add_argument("--scale", type=float, default=0.3)
    p.add_argument("--setup", default="bulk_load", help="rows to run first, comma-separated")
    p.add_argument("--row", required=True)
    p.add_argument("--tool", choices=["perf", "stat", "strace"], default="perf",
                   help="perf: a sampled profile; stat: perf stat counters (cycles, instructions, "
                        "cache and TLB misses); strace: system calls")
    p.add_argument("--cache-mib", type=int, default=512)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    exe = os.environ.get("REDWOOD_BENCH_EXE") or os.path.join(ROOT, "target", "release", "redwood-bench")
    data = os.path.join(ROOT, "target", "profile-data", a.engine)
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    args = dict(engine=a.engine, dir=data, seed=0x5EED, plan=plan(a.scale),
                cache_bytes=a.cache_mib << 20)
    worker = subprocess.Popen([exe, "worker", json.dumps(args)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def ask(row):
        worker.stdin.write(row + "\n")
        worker.stdin.flush()
        answer = json.loads(worker.stdout.readline())
        if "error" in answer:
            sys.exit(f"{row}: {answer['error']}")
        print(f"{row}: {answer}", file=sys.stderr)

    worker.stdout.readline()  # ready
    for row in filter(None, a.setup.split(",")):
        ask(row)
    if a.tool == "perf":
        tracer = ["perf", "record", "-F", "1999", "--call-graph", "dwarf,16384",
                  "-p", str(worker.pid), "-o", a.out + ".data"]
    elif a.tool == "stat":
        events = "task-clock,cycles,instructions,cache-misses,dTLB-load-misses,L1-dcache-load-misses"
        tracer = ["perf", "stat", "-e", events, "-p", str(worker.pid), "-o", a.out + ".stat"]
    else:
        tracer = ["strace", "-f", "-w", "-c", "-p", str(worker.pid), "-o", a.out + ".strace"]
    tracing = subprocess.Popen(tracer, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let the tracer attach
    ask(a.row)
    tracing.send_signal(signal.SIGINT)
    tracing.wait()
    worker.stdin.close()
    worker.wait()
    if a.tool == "perf":
        report = subprocess.run(["perf", "report", "-i", a.out + ".data", "--no-children",
                                 "--sort", "symbol", "--stdio", "-g", "none"],
                                capture_output=True, text=True).stdout
        top = [line.rstrip() for line in report.splitlines() if line.strip()[:1].isdigit()]
        with open(a.out + ".txt", "w") as out:
            out.write("\n".join(top[:30]) + "\n")
        print("\n".join(top[:15]))
    else:
        with open(a.out + (".stat" if a.tool == "stat" else ".strace")) as summary:
            print(summary.read())


if __name__ == "__main__":
    main()
