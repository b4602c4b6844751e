#!/usr/bin/env python3
"""process_start.py — how fast a child process starts, and what that does to
a short parallel job: gilrun's start methods (spawn, forkserver) beside
CPython's multiprocessing with fork, measured side by side in one run.

    python3 bench/process_start.py [--gilrun build/bindings/cli/gilrun]
                                   [--baseline OTHER_GILRUN] [--rounds 9]

Each round runs every variant once, in a fresh process, in turn (so a change
in the machine's load hits all alike); a variant's round measures
  start:  spawn -> joined result of a child returning 1 (median of 20; the
          first spawn, which also starts gilrun's fork server, is 'cold')
  ratio:  a ~0.1 s CPU job in 2 child processes (start included) / the job
          twice in the parent
Printed: medians over the rounds with the interquartile range, and each
variant's ratio against CPython fork's from the same rounds. --baseline adds
another gilrun binary (e.g. a build from before the fork server) run with its
default start method.
"""
import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def job(n):
    x = 0
    for i in range(n):
        x += i % 7
    return x


def child(conn, n):
    conn.send(job(n) if n else 1)
    conn.close()


def cpython_round(spawns=20, job_s=0.1):
    ctx = mp.get_context("fork")

    def run(n):
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=child, args=(w, n))
        p.start()
        w.close()
        return p, r

    def start_ms():
        t0 = time.perf_counter()
        p, r = run(0)
        assert r.recv() == 1
        p.join()
        return (time.perf_counter() - t0) * 1e3

    n = 20000
    while True:
        t0 = time.perf_counter()
        job(n)
        dt = time.perf_counter() - t0
        if dt > 0.02:
            n = int(n * job_s / dt)
            break
        n *= 4
    cold = start_ms()
    ms = sorted(start_ms() for _ in range(spawns))
    expected = job(n)
    t0 = time.perf_counter()
    assert job(n) == expected and job(n) == expected
    seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    (pa, ra), (pb, rb) = run(n), run(n)
    assert ra.recv() == expected and rb.recv() == expected
    pa.join()
    pb.join()
    par = time.perf_counter() - t0
    print("cold_ms=%.3f start_ms=%.3f seq_s=%.4f par_s=%.4f ratio=%.4f"
          % (cold, ms[(spawns - 1) // 2], seq, par, par / seq))


def parse(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split())}


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 4:
        return xs[0], statistics.median(xs), xs[-1]
    q = statistics.quantiles(xs, n=4)
    return q[0], q[1], q[2]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--cpython-round":
        cpython_round()
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--gilrun", default="build/bindings/cli/gilrun")
    ap.add_argument("--baseline")
    ap.add_argument("--rounds", type=int, default=9)
    a = ap.parse_args()
    lua = os.path.join(HERE, "..", "scripts", "bench", "process_start.lua")
    variants = [("gilrun spawn", [a.gilrun, lua, "spawn"]),
                ("gilrun forkserver", [a.gilrun, lua, "forkserver"]),
                ("CPython fork", [sys.executable, os.path.abspath(__file__), "--cpython-round"])]
    if a.baseline:
        variants.insert(0, ("baseline gilrun", [a.baseline, lua, "default"]))
    print("load average before:", " ".join(open("/proc/loadavg").read().split()[:3]))
    print("host: %d CPUs; %s" % (os.cpu_count(), sys.version.split()[0]))
    results = {name: [] for name, _ in variants}
    for _ in range(a.rounds):
        for name, cmd in variants:
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[name].append(parse(out.strip().splitlines()[-1]))
    print("load average after: ", " ".join(open("/proc/loadavg").read().split()[:3]))
    print("medians of %d interleaved rounds [IQR]" % a.rounds)
    print("%-19s %-24s %-10s %-26s %s" % ("variant", "spawn->result ms", "cold ms",
                                          "2 procs / sequential", "ratio / CPython's"))
    cp = statistics.median(r["ratio"] for r in results["CPython fork"])
    for name, _ in variants:
        rs = results[name]
        s = quartiles([r["start_ms"] for r in rs])
        c = statistics.median(r["cold_ms"] for r in rs)
        q = quartiles([r["ratio"] for r in rs])
        print("%-19s %5.2f [%5.2f-%5.2f]      %-10.2f %5.3f [%5.3f-%5.3f]        %.3f"
              % (name, s[1], s[0], s[2], c, q[1], q[0], q[2], q[1] / cp))


if __name__ == "__main__":
    main()
