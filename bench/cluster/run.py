#!/usr/bin/env python3
"""Cluster benchmarks (issue 14): gilrun workers against Python Celery on one private Redis.

    flock /tmp/gilrun-build.lock python3 bench/cluster/run.py build/bindings/cli/gilrun [--rounds 5]

1. throughput: trivial tasks ("noop", results stored) through ONE gilrun worker
   (--concurrency=1) vs ONE Celery prefork worker (--concurrency=1, its default
   prefetch), both running side by side on the same Redis, each on its own
   queue, rounds interleaved (the order alternates). A round: M Celery
   protocol v2 messages are pushed to a staging list, then RENAMEd onto the
   worker's queue in one step (the worker's BRPOP wakes); the clock stops when
   the last message's result is stored (polled with EXISTS every 0.5 ms), and
   every one of the M results must be there. Goal: >= 5x.
2. map: `executor():map(fib, {27} * 40)` through 2 gilrun workers
   (--concurrency=1 each) vs the same 40 fib(27) sequentially in one gilrun,
   timed inside the gilrun script (time.monotonic). Goal: <= 0.55x on 2 cores.
3. latency: one round trip send -> result from one Python Celery client
   (send_task(...).get()), to the gilrun worker vs to the Celery worker,
   alternating; median and p90.
Prints medians and ratios, and `uptime` before and after (figures taken at a
load average above 2 are indicative only).
"""
import argparse
import base64
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "cluster"))
import harness  # noqa: E402


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def envelope(task, task_id, queue, args=()):
    """A task message exactly as Celery 5.2's send_task writes it (protocol v2, JSON, kombu's Redis envelope)."""
    body = json.dumps([list(args), {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
    return json.dumps({
        "body": base64.b64encode(body.encode()).decode(),
        "content-encoding": "utf-8", "content-type": "application/json",
        "headers": {"lang": "py", "task": task, "id": task_id, "shadow": None, "eta": None, "expires": None,
                    "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
                    "root_id": task_id, "parent_id": None, "argsrepr": repr(list(args)), "kwargsrepr": "{}",
                    "origin": "bench", "ignore_result": False},
        "properties": {"correlation_id": task_id, "reply_to": str(uuid.uuid4()), "delivery_mode": 2,
                       "delivery_info": {"exchange": "", "routing_key": queue}, "priority": 0,
                       "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())}})


def throughput_round(redis_server, queue, m):
    """Tasks/s of the worker consuming `queue` over a batch of m noop tasks."""
    r = redis_server.client()
    ids = [str(uuid.uuid4()) for _ in range(m)]
    stage = f"stage-{queue}"
    pipe = r.pipeline(transaction=False)
    pipe.delete(stage)
    for task_id in ids:
        pipe.lpush(stage, envelope("noop", task_id, queue))
    pipe.execute()
    # The clock stops when the last message's result is stored (one worker
    # process takes a queue in order), checked every half millisecond with
    # one EXISTS: a client that counted every PUBLISH in Python cost more CPU
    # than the gilrun worker it measured, on the same 2 cores.
    last = f"celery-task-meta-{ids[-1]}"
    start = time.perf_counter()
    r.rename(stage, queue)
    deadline = time.monotonic() + 120
    while not r.exists(last):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the last of {m} results of {queue} did not arrive")
        time.sleep(0.0005)
    stop_at = time.perf_counter()
    stored = sum(r.exists(*[f"celery-task-meta-{i}" for i in ids[k:k + 500]]) for k in range(0, m, 500))
    if stored != m:
        raise RuntimeError(f"{queue}: {stored} of {m} results stored")
    r.delete(*[f"celery-task-meta-{i}" for i in ids])
    return m / (stop_at - start)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


MAP_LUA = r'''
local cluster = require "cluster"
local time = require "time"
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local list = {}
for i = 1, 40 do list[i] = 27 end
local mode, url = ...
local results
local t0 = time.monotonic()
if mode == "seq" then
  results = {}
  for i, n in ipairs(list) do results[i] = fib(n) end
else
  local app = cluster.connect{broker = url, backend = url}
  results = assert(app:executor():map(fib, list))
end
local dt = time.monotonic() - t0
for i = 1, 40 do assert(results[i] == 196418, "wrong result " .. tostring(results[i])) end
print(dt)
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gilrun")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per throughput round")
    parser.add_argument("--round-trips", type=int, default=200, help="round trips per latency sample set")
    parser.add_argument("--loglevel", default="warning", help="both workers' --loglevel (info logs every task)")
    args = parser.parse_args()
    harness.skip_unless_runnable()
    gilrun = os.path.abspath(args.gilrun)
    has_worker = subprocess.run([gilrun, "worker", "--help"], capture_output=True).returncode == 0
    print(f"before: {uptime()}")
    print(f"machine: {os.cpu_count()} CPUs; gilrun {gilrun}; rounds {args.rounds}")
    if not has_worker:
        print("NOTE: this gilrun has no `worker` command: only the Celery figures are measured")
    work = harness.Workdir(prefix="gilrun-cluster-bench-")
    try:
        redis_server = harness.RedisServer(work.path)
        url = redis_server.url()
        os.environ["GILRUN_TEST_BROKER"] = url
        before = redis_server.blocked_poppers()
        celery = harness.CeleryWorker(work.path, url, queues="bench-celery", name="bench-celery",
                                      loglevel=args.loglevel)
        celery.wait_ready(redis_server=redis_server, before=before)
        tasks = os.path.join(HERE, "tasks.lua")
        gil = None
        if has_worker:
            before = redis_server.blocked_poppers()
            gil = harness.GilrunWorker(work.path, gilrun, url, tasks, queues="bench-gilrun", concurrency=1,
                                       name="bench-gilrun", loglevel=args.loglevel)
            gil.wait_ready(redis_server, before)
        # Warm both (imports, first connections) before measuring.
        throughput_round(redis_server, "bench-celery", 50)
        if gil:
            throughput_round(redis_server, "bench-gilrun", 50)

        # 1. throughput, interleaved
        rates = {"gilrun": [], "celery": []}
        for k in range(args.rounds):
            order = ["gilrun", "celery"] if k % 2 == 0 else ["celery", "gilrun"]
            for who in order:
                if who == "gilrun" and not gil:
                    continue
                rates[who].append(throughput_round(redis_server, f"bench-{who}", args.tasks))
        print(f"\n1. throughput, {args.tasks} noop tasks per round, 1 worker process each (tasks/s)")
        for who, vals in rates.items():
            if vals:
                print(f"   {who:7s} median {statistics.median(vals):9.0f}   runs {' '.join(f'{v:.0f}' for v in vals)}")
        if rates["gilrun"]:
            ratio = statistics.median(rates["gilrun"]) / statistics.median(rates["celery"])
            print(f"   ratio gilrun/celery: {ratio:.1f}x   (goal >= 5x)")

        # 3. latency (before map, which adds two more workers)
        from celery import Celery
        app = Celery("bench-client", broker=url, backend=url)
        app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
        lat = {"gilrun": [], "celery": []}
        for who in lat:
            if who == "gilrun" and not gil:
                continue
            for _ in range(10):
                app.send_task("noop", queue=f"bench-{who}").get(timeout=10)
        for k in range(args.round_trips):
            for who in (("gilrun", "celery") if k % 2 == 0 else ("celery", "gilrun")):
                if who == "gilrun" and not gil:
                    continue
                t = time.perf_counter()
                app.send_task("noop", queue=f"bench-{who}").get(timeout=10)
                lat[who].append((time.perf_counter() - t) * 1000)
        app.close()
        del app
        gc.collect()  # collected results unsubscribe now, while Redis is up
        print(f"\n3. latency, one round trip send -> result from a Python Celery client, {args.round_trips} each (ms)")
        for who, vals in lat.items():
            if vals:
                print(f"   {who:7s} median {statistics.median(vals):6.2f}   p90 {pct(vals, 90):6.2f}")
        if lat["gilrun"]:
            print(f"   ratio gilrun/celery: median {statistics.median(lat['gilrun']) / statistics.median(lat['celery']):.2f}x"
                  f"   p90 {pct(lat['gilrun'], 90) / pct(lat['celery'], 90):.2f}x")

        # 2. map(fib, {27} * 40): 2 gilrun workers vs sequential
        if gil:
            celery.stop()
            gil.stop()
            before = redis_server.blocked_poppers()
            workers = [harness.GilrunWorker(work.path, gilrun, url, tasks, queues="celery", concurrency=1,
                                            name=f"map-worker-{i}", loglevel=args.loglevel) for i in range(2)]
            for w in workers:
                w.wait_ready(redis_server, before, poppers=2)
            script = os.path.join(work.path, "map.lua")
            with open(script, "w") as f:
                f.write(MAP_LUA)

            def timed(mode):
                done = harness.run([gilrun, script, mode, url], timeout=120)
                if done.returncode != 0:
                    raise RuntimeError(f"map.lua {mode} failed:\n{done.stdout}\n{done.stderr}\n"
                                       + harness.describe([w.proc for w in workers]))
                return float(done.stdout.split()[-1])

            timed("cluster")  # warm: the workers load the function once
            times = {"seq": [], "cluster": []}
            for k in range(args.rounds):
                for mode in (("seq", "cluster") if k % 2 == 0 else ("cluster", "seq")):
                    times[mode].append(timed(mode))
            print("\n2. map(fib, {27} * 40): 2 gilrun workers (concurrency 1 each) vs sequential in one gilrun (s)")
            for mode, vals in times.items():
                print(f"   {mode:7s} median {statistics.median(vals):6.3f}   runs {' '.join(f'{v:.3f}' for v in vals)}")
            print(f"   ratio cluster/sequential: {statistics.median(times['cluster']) / statistics.median(times['seq']):.2f}x"
                  "   (goal <= 0.55x on 2 cores)")
            for w in workers:
                w.stop()
    finally:
        harness.stop_all()
        work.cleanup()
        print(f"\nafter:  {uptime()}")


if __name__ == "__main__":
    main()
