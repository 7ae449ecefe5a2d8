#!/usr/bin/env python3
"""Python half of the issue-15 async scenarios: N workers doing put then get on ONE connection,
as asyncio coroutines (xproc.aio, the event descriptor) or as threads (the blocking binding).
One op = one put or one get. Prints one JSON line. Never asserts on speed.

    python3 bench/async_py.py asyncio|threads --socket PATH [--secs S] [--workers 100] [--size 64]
"""
import argparse
import asyncio
import json
import threading
import time

import xproc
import xproc.aio


def run_threads(path, secs, workers, value):
    c = xproc.connect(path)
    q = c.Queue(f"bench.pythreads.{id(c)}")
    stop, counting = threading.Event(), threading.Event()
    counts = [0] * workers

    def work(i):
        n = 0
        while not stop.is_set():
            q.put(value)
            q.get()
            if counting.is_set():
                n += 2
        counts[i] = n

    ts = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    counting.set()
    t0 = time.monotonic()
    time.sleep(secs)
    stop.set()
    elapsed = time.monotonic() - t0
    for t in ts:
        t.join()
    c.delete(q.name)
    c.close()
    return sum(counts), elapsed


async def run_asyncio(path, secs, workers, value):
    c = xproc.aio.connect(path)
    q = c.Queue(f"bench.pyasyncio.{id(c)}")
    state = {"stop": False, "counting": False, "ops": 0}

    async def work():
        while not state["stop"]:
            await q.put(value)
            await q.get()
            if state["counting"]:
                state["ops"] += 2

    tasks = [asyncio.ensure_future(work()) for _ in range(workers)]
    await asyncio.sleep(0.3)
    state["counting"] = True
    t0 = time.monotonic()
    await asyncio.sleep(secs)
    ops = state["ops"]
    elapsed = time.monotonic() - t0
    state["stop"] = True
    await asyncio.gather(*tasks)
    c.delete(q.name)
    c.close()
    return ops, elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["asyncio", "threads"])
    p.add_argument("--socket", required=True)
    p.add_argument("--secs", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=100)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--iters", type=int, default=0, help="ignored (run.py's common flag)")
    a = p.parse_args()
    value = b"x" * a.size
    if a.mode == "threads":
        ops, elapsed = run_threads(a.socket, a.secs, a.workers, value)
    else:
        ops, elapsed = asyncio.run(run_asyncio(a.socket, a.secs, a.workers, value))
    print(json.dumps({
        "scenario": f"py_{a.mode}_{a.workers}",
        "ops": ops,
        "secs": elapsed,
        "ops_per_s": ops / elapsed if elapsed else 0.0,
        "note": f"{a.workers} {'coroutines' if a.mode == 'asyncio' else 'threads'}, one connection, put+get",
    }))


if __name__ == "__main__":
    main()
