"""The master of the four-language master/worker example (README.md beside this file).

The multiprocessing docs' distributed master/worker, across languages: this Python master
puts 10 random integers on ``task_queue``; workers in C#, C, Rust, Go, Java and Node.js,
running at once, take
them, compute n * n and put ``"n * n = n² (by <lang> worker <pid>)"`` on ``result_queue``;
the master reads the 10 results, waiting at most 10 seconds for each, checks every one, and
prints who did what. Then it puts one ``None`` per worker: the stop sentinel.

    python3 master.py [--workers N]    N workers (default 6): wait up to 30 s for N workers
                                       to be waiting for tasks before putting any, so that
                                       each has a fair chance; N stop sentinels at the end
    python3 master.py --reset          delete task_queue and result_queue (what an earlier,
                                       interrupted run left there), then exit

Exits 0 when all 10 results arrived and each is the right square of a task that was sent,
answered once; 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import queue
import random
import re
import sys
import time

import xproc

TASKS = 10
#: How long the master waits for each result, as in the multiprocessing docs' example.
RESULT_TIMEOUT = 10.0
#: How long the master waits for the workers to be ready before it starts anyway.
READY_TIMEOUT = 30.0
LANGS = ("csharp", "c", "rust", "go", "java", "node")
RESULT = re.compile(r"^(-?\d+) \* (-?\d+) = (-?\d+) \(by (\w+) worker (\d+)\)$")


def wait_for_workers(c: xproc.Client, workers: int) -> None:
    """Waits until ``workers`` gets are blocked on ``task_queue`` (the broker counts them), so
    that a worker still starting up (Mono takes a moment) does not miss every task."""
    deadline = time.monotonic() + READY_TIMEOUT
    getters = most = 0
    while time.monotonic() < deadline:
        getters = c.stat("task_queue")["info"]["getters"]
        most = max(most, getters)
        if getters >= workers:
            print(f"{getters} workers are waiting for tasks")
            return
        time.sleep(0.05)
    print(f"only {getters} of {workers} workers are waiting after {READY_TIMEOUT:g} s "
          f"(at most {most} at once); starting anyway")


def check(results: xproc.Queue, sent: list[int]) -> tuple[dict, list[str]]:
    """Reads one result per task; returns the tasks each worker did and what was wrong."""
    pending = collections.Counter(sent)
    by_worker: dict[tuple[str, int], list[int]] = collections.defaultdict(list)
    problems = []
    for _ in sent:
        try:
            r = results.get(timeout=RESULT_TIMEOUT)
        except queue.Empty:
            problems.append(f"no result within {RESULT_TIMEOUT:g} s")
            break
        print(f"Result: {r}")
        m = RESULT.match(r) if isinstance(r, str) else None
        if not m:
            problems.append(f"malformed result {r!r}")
            continue
        n, again, square, lang, pid = m.groups()
        n = int(n)
        if int(again) != n or int(square) != n * n:
            problems.append(f"wrong result {r!r}")
        if pending[n] <= 0:
            problems.append(f"result for a task not sent, or answered twice: {r!r}")
        pending[n] -= 1
        by_worker[(lang, int(pid))].append(n)
    missing = [str(n) for n, count in pending.items() for _ in range(max(count, 0))]
    if missing:
        problems.append(f"no result for task(s) {', '.join(missing)}")
    return by_worker, problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--reset", action="store_true")
    args = ap.parse_args()

    with xproc.connect() as c:
        if args.reset:
            for name in ("task_queue", "result_queue"):
                c.delete(name)
            return 0

        tasks = c.Queue("task_queue")
        results = c.Queue("result_queue")
        wait_for_workers(c, args.workers)

        sent = [random.randint(0, 10000) for _ in range(TASKS)]
        for n in sent:
            print(f"Put task {n}...")
            tasks.put(n)
        print("Try get results...")
        by_worker, problems = check(results, sent)

        print("\nWho did what:")
        for (lang, pid), done in sorted(by_worker.items()):
            print(f"  {lang:>6} worker {pid}: {len(done)} task(s): {', '.join(map(str, done))}")
        idle = sorted(set(LANGS) - {lang for lang, _ in by_worker})
        if idle:
            print(f"  no task for: {', '.join(idle)} (it is a race; that is allowed)")

        for p in problems:
            print(f"FAIL: {p}")
        if not problems:
            print(f"OK: all {TASKS} results arrived and are correct")
        sys.stdout.flush()

        for _ in range(args.workers):
            tasks.put(None)
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
