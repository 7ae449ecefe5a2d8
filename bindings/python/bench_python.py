#!/usr/bin/env python3
"""Speed of the Python binding on one connection: queue put/get and dict set/get ops/s.

    python3 bindings/python/bench_python.py [--socket PATH] [--iters N] [--secs S] [--size B]

bench/run.py calls it (with XPROC_SOCKET and XPROC_LIB set) and compares its rows with
``Manager()`` and redis-py; it can also be run by hand against any broker. It prints one JSON
line per scenario — scenario, ops, secs, ops_per_s, p50_us, p99_us, note — measured the way
bench/alternatives.py measures the alternatives: the same payload (``--size`` bytes of
``abc...``), one op = one request and its reply (one put or one get, one set or one get),
warm-up calls first, then up to ``--iters`` timed calls or ``--secs`` seconds, whichever ends
first. It never asserts on speed.

Scenarios:
  py_queue_put_get       put(v) and get() alternating on one queue
  py_dict_set_get        d[k] = v and d[k] alternating, cycling through 1000 keys
  py_pipelined_put_many  Queue.put_many, 1000 values per call (one op = one value put)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)  # the checkout's package, unless an installed one comes first

import xproc  # noqa: E402

KEYS = 1000  # distinct dict keys cycled through, as in the other scenarios
#: Which implementation served the per-item calls (xproc/_speedups.c or ctypes).
PATH = "; C speedups" if xproc._native.SPEEDUPS else "; ctypes (no C speedups built)"


def payload(size: int) -> bytes:
    """The bytes pattern every benchmark scenario sends."""
    return bytes(ord("a") + (i % 26) for i in range(size))


def measure(
    scenario: str,
    args: argparse.Namespace,
    call: Callable[[int], Any],
    note: str,
    ops_per_call: int = 1,
) -> Dict[str, Any]:
    """Runs ``call(i)`` for the warm-up, then timed until ``--iters`` or ``--secs``."""
    warmup = args.warmup + args.warmup % 2  # even: put/get parity holds
    for i in range(warmup):
        call(i)
    samples: List[int] = []
    clock = time.perf_counter_ns
    start = prev = clock()
    deadline = start + int(args.secs * 1e9)
    i, n = warmup, 0
    while n < args.iters:
        call(i)
        now = clock()
        samples.append(now - prev)
        prev = now
        i += 1
        n += ops_per_call
        if now >= deadline:
            break
    secs = (prev - start) / 1e9
    samples.sort()

    def pct(q: float) -> Optional[float]:
        if not samples:
            return None
        return samples[min(len(samples) - 1, round((len(samples) - 1) * q))] / 1000.0 / ops_per_call

    return {
        "scenario": scenario,
        "ops": n,
        "secs": secs,
        "ops_per_s": n / secs if secs > 0 else 0.0,
        "p50_us": pct(0.5),
        "p99_us": pct(0.99),
        "note": note,
    }


def queue_put_get(c: xproc.Client, args: argparse.Namespace) -> Dict[str, Any]:
    name = f"bench:pyqueue:{os.getpid()}"
    q = c.Queue(name)
    v = payload(args.size)

    def call(i: int) -> None:
        if i % 2 == 0:
            q.put(v)
        elif q.get() != v:
            raise RuntimeError("the queue returned another value")

    try:
        return measure(
            "py_queue_put_get", args, call, f"Queue.put/get, bytes values, one connection{PATH}"
        )
    finally:
        c.delete(name)


def dict_set_get(c: xproc.Client, args: argparse.Namespace) -> Dict[str, Any]:
    name = f"bench:pydict:{os.getpid()}"
    d = c.dict(name)
    v = payload(args.size)
    keys = [f"key:{k:06}" for k in range(KEYS)]

    def call(i: int) -> None:
        k = keys[(i // 2) % KEYS]
        if i % 2 == 0:
            d[k] = v
        elif d[k] != v:
            raise RuntimeError("the dict returned another value")

    try:
        return measure(
            "py_dict_set_get", args, call, f"d[k] = v / d[k], 1000 keys, one connection{PATH}"
        )
    finally:
        c.delete(name)


def pipelined_put_many(c: xproc.Client, args: argparse.Namespace) -> Dict[str, Any]:
    name = f"bench:pymany:{os.getpid()}"
    q = c.Queue(name)
    batch = [payload(args.size)] * 1000
    sent = 0

    def call(_: int) -> None:
        nonlocal sent, q
        q.put_many(batch)
        sent += len(batch)
        if sent >= 50_000:  # keep the broker's memory flat: start over on a fresh queue
            c.delete(name)
            q = c.Queue(name)
            sent = 0

    quick = argparse.Namespace(**{**vars(args), "warmup": 2, "iters": args.iters * 10})
    try:
        return measure(
            "py_pipelined_put_many",
            quick,
            call,
            "Queue.put_many, 1000 values per call (one op = one value put)",
            ops_per_call=len(batch),
        )
    finally:
        c.delete(name)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", default=None, help="broker socket (default: $XPROC_SOCKET, ...)")
    p.add_argument("--iters", type=int, default=100_000, help="most timed ops per scenario")
    p.add_argument("--secs", type=float, default=3.0, help="most seconds per scenario")
    p.add_argument("--size", type=int, default=64, help="value size in bytes")
    p.add_argument("--warmup", type=int, default=1000, help="untimed ops first")
    p.add_argument("--only", default=None, help="comma-separated scenario names")
    args = p.parse_args()
    scenarios = {
        "py_queue_put_get": queue_put_get,
        "py_dict_set_get": dict_set_get,
        "py_pipelined_put_many": pipelined_put_many,
    }
    chosen = args.only.split(",") if args.only else list(scenarios)
    with xproc.connect(args.socket, name="bench_python") as c:
        for key in chosen:
            print(json.dumps(scenarios[key](c, args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
