#!/usr/bin/env python3
"""process_queue.py — CPython's twin of scripts/bench/process_queue.lua's
queue half: N integers through a multiprocessing.Queue from the parent to a
child (fork), the clock started after the child took a first item, stopped
when the child reports its count. Prints the same line shape:

    python3 bench/process_queue.py [items=200000]
    process_queue items=<N> seconds=<s> items_per_s=<rate>

Run it beside `gilrun scripts/bench/process_queue.lua`, interleaved, so both
see the same machine.
"""
import multiprocessing as mp
import sys
import time


def consume(q, done):
    n = 0
    while q.get() != -1:
        n += 1
    done.put(n)


def main():
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    ctx = mp.get_context("fork")
    q, done = ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=consume, args=(q, done))
    child.start()
    q.put(0)  # let the consumer start before the clock does
    t0 = time.monotonic()
    for i in range(1, items + 1):
        q.put(i)
    q.put(-1)
    received = done.get()
    seconds = time.monotonic() - t0
    child.join()
    assert received == items + 1, received
    print("process_queue items=%d seconds=%.3f items_per_s=%.0f" % (items, seconds, items / seconds))


if __name__ == "__main__":
    main()
