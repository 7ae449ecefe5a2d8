#!/usr/bin/env python3
"""The Python-side alternatives xproc is compared with, one scenario per call.

Each subcommand runs one bounded loop (a count *and* a wall-clock cap) and prints one JSON line
with the same fields as the Rust `xproc-bench` binary: scenario, ops, secs, ops_per_s, p50_us,
p99_us, note. `run.py` calls it; it never asserts on speed.

    python3 alternatives.py manager-queue  [--iters N --secs S --size B]
    python3 alternatives.py manager-dict
    python3 alternatives.py mp-pipe            # Pipe send/recv (pickled bytes), 2 processes
    python3 alternatives.py mp-pipe-bytes      # Pipe send_bytes/recv_bytes, 2 processes
    python3 alternatives.py redispy-list  --socket /path/redis.sock   # LPUSH/RPOP
    python3 alternatives.py redispy-hash  --socket /path/redis.sock   # HSET/HGET
    python3 alternatives.py zmq-stream         # ZeroMQ PUSH -> PULL over ipc://, 2 processes
    python3 alternatives.py mp-queue-stream    # multiprocessing.Queue, producer -> consumer
    python3 alternatives.py xproc-py-stream --socket /path/xproc.sock   # put_buffered -> get_many

The *-stream scenarios are one-way: a producer process sends --iters values (or for --secs),
then an end marker; this process receives; one op = one value received, the clock running
from the producer's start signal to the end marker. Both processes are clients (pinned to
--client-cpus).

One op = one request/response: one put or one get, one set or one get, one round trip for
the pipes. Everything is driven from this (the main) process over one connection.

--server-cpus / --client-cpus (e.g. "0" and "1") pin the helper process that plays the server
(the Manager process, the Pipe's echoing child) and this process, as run.py pins xprocd and
redis-server and their clients.
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time

KEYS = 1000  # distinct dict keys / hash fields cycled through, as in the Rust scenarios


def payload(size):
    """The same bytes pattern the Rust side sends."""
    return bytes(ord("a") + (i % 26) for i in range(size))


def measure(scenario, args, call, note=None, after_warmup=None):
    """Run call(i) for args.warmup untimed then up to args.iters timed calls or args.secs
    seconds; return the result dict. Warm-up is rounded to even so put/get parity holds.
    after_warmup() runs between the two (pinning threads that the warm-up created)."""
    warmup = args.warmup + args.warmup % 2
    for i in range(warmup):
        call(i)
    if after_warmup:
        after_warmup()
    samples = []
    clock = time.perf_counter_ns
    start = prev = clock()
    deadline = start + int(args.secs * 1e9)
    i = warmup
    n = 0
    while n < args.iters:
        call(i)
        now = clock()
        samples.append(now - prev)
        prev = now
        i += 1
        n += 1
        if now >= deadline:
            break
    secs = (prev - start) / 1e9
    samples.sort()

    def pct(q):
        return samples[min(len(samples) - 1, round((len(samples) - 1) * q))] / 1000.0 if samples else None

    return {"scenario": scenario, "ops": n, "secs": secs, "ops_per_s": n / secs if secs > 0 else 0.0,
            "p50_us": pct(0.5), "p99_us": pct(0.99), "note": note}


def parse_cpus(text):
    return {int(c) for c in text.split(",")} if text else None


def pin(args, server_pid):
    """Pin every thread of the server-role process, and this (client) process, as the
    placement says. The Manager serves each connection on a thread of its own, created when
    a proxy first connects, so this runs again after the warm-up."""
    server, client = parse_cpus(args.server_cpus), parse_cpus(args.client_cpus)
    if server is not None and server_pid is not None:
        try:
            tids = os.listdir(f"/proc/{server_pid}/task")
        except OSError:
            tids = [str(server_pid)]
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), server)
            except OSError:
                pass  # a thread that just ended
    if client is not None:
        os.sched_setaffinity(0, client)


def manager_pid(m):
    # SyncManager keeps its server process in _process (CPython 3.8+); without it, no pinning.
    proc = getattr(m, "_process", None)
    return proc.pid if proc is not None else None


def manager_queue(args):
    with mp.Manager() as m:
        pin(args, manager_pid(m))
        q = m.Queue()
        v = payload(args.size)

        def call(i):
            if i % 2 == 0:
                q.put(v)
            elif q.get() != v:
                raise RuntimeError("Manager queue returned another value")
        return measure("mp_manager_queue", args, call, "Manager().Queue() put/get, pickled bytes",
                       after_warmup=lambda: pin(args, manager_pid(m)))


def manager_dict(args):
    with mp.Manager() as m:
        pin(args, manager_pid(m))
        d = m.dict()
        v = payload(args.size)
        keys = [f"key:{k:06}" for k in range(KEYS)]

        def call(i):
            k = keys[(i // 2) % KEYS]
            if i % 2 == 0:
                d[k] = v
            elif d[k] != v:
                raise RuntimeError("Manager dict returned another value")
        return measure("mp_manager_dict", args, call, "Manager().dict() set/get, 1000 keys",
                       after_warmup=lambda: pin(args, manager_pid(m)))


def _pipe_echo(conn, raw):
    """Child: echo until the parent sends the empty stop message."""
    while True:
        if raw:
            m = conn.recv_bytes()
            conn.send_bytes(m)
        else:
            m = conn.recv()
            conn.send(m)
        if not m:
            return


def mp_pipe(args, raw):
    a, b = mp.Pipe()
    child = mp.Process(target=_pipe_echo, args=(b, raw), daemon=True)
    child.start()
    pin(args, child.pid)
    v = payload(args.size)
    try:
        if raw:
            def call(_):
                a.send_bytes(v)
                if a.recv_bytes() != v:
                    raise RuntimeError("pipe echoed another value")
            name, note = "mp_pipe_bytes", "Pipe send_bytes/recv_bytes ping-pong"
        else:
            def call(_):
                a.send(v)
                if a.recv() != v:
                    raise RuntimeError("pipe echoed another value")
            name, note = "mp_pipe", "Pipe send/recv (pickled bytes) ping-pong"
        out = measure(name, args, call, note)
        if raw:
            a.send_bytes(b"")
            a.recv_bytes()
        else:
            a.send(b"")
            a.recv()
        return out
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join()


def _redis(args):
    import redis  # redis-py; run.py installs it if missing
    if not args.socket:
        sys.exit("alternatives.py: --socket (redis Unix socket) is required")
    r = redis.Redis(unix_socket_path=args.socket)
    r.ping()
    return r


def redispy_list(args):
    r = _redis(args)
    key = f"bench:pylist:{os.getpid()}"
    v = payload(args.size)
    r.delete(key)

    def call(i):
        if i % 2 == 0:
            r.lpush(key, v)
        elif r.rpop(key) != v:
            raise RuntimeError("RPOP returned another value")
    out = measure("redispy_lpush_rpop", args, call, _redis_note())
    r.delete(key)
    return out


def redispy_hash(args):
    r = _redis(args)
    key = f"bench:pyhash:{os.getpid()}"
    v = payload(args.size)
    keys = [f"key:{k:06}" for k in range(KEYS)]
    r.delete(key)

    def call(i):
        k = keys[(i // 2) % KEYS]
        if i % 2 == 0:
            r.hset(key, k, v)
        elif r.hget(key, k) != v:
            raise RuntimeError("HGET returned another value")
    out = measure("redispy_hset_hget", args, call, _redis_note())
    r.delete(key)
    return out


def _redis_note():
    import redis
    try:
        import hiredis  # noqa: F401
        parser = "hiredis parser"
    except ImportError:
        parser = "pure-Python parser"
    return f"redis-py {redis.__version__}, {parser}"


def _stream(name, note, produce, consume, args):
    """Runs `produce(args, ready, go)` in a child process (it sets `ready`, waits for `go`,
    sends, then sends the end marker) and `consume(args)` here; returns the result row."""
    ready, go = mp.Event(), mp.Event()
    child = mp.Process(target=produce, args=(args, ready, go), daemon=True)
    child.start()
    try:
        pin(args, None)
        client = parse_cpus(args.client_cpus)
        if client is not None:
            os.sched_setaffinity(child.pid, client)
        if not ready.wait(30):
            raise RuntimeError("producer did not start")
        got, secs = consume(args, go)
        return {"scenario": name, "ops": got, "secs": secs,
                "ops_per_s": got / secs if secs > 0 else 0.0, "p50_us": None, "p99_us": None,
                "note": note}
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join()


def _timed_sends(args, send):
    """Calls send() up to args.iters times or for args.secs; returns how many."""
    deadline = time.perf_counter() + args.secs
    n = 0
    while n < args.iters:
        send()
        n += 1
        if n & 0xfff == 0 and time.perf_counter() >= deadline:
            break
    return n


def _zmq_produce(args, ready, go):
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(args.zmq_endpoint)
    ready.set()
    go.wait()
    v = payload(args.size)
    _timed_sends(args, lambda: s.send(v, copy=False))
    s.send(b"")
    s.close(linger=-1)
    ctx.term()


def _zmq_consume(args, go):
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.bind(args.zmq_endpoint)
    time.sleep(0.05)  # let the producer connect
    go.set()
    start = time.perf_counter()
    n = 0
    while True:
        m = s.recv(copy=False)
        if len(m) == 0:
            break
        n += 1
    secs = time.perf_counter() - start
    s.close()
    ctx.term()
    return n, secs


def zmq_stream(args):
    import zmq
    args.zmq_endpoint = f"ipc:///tmp/xpb-zmq-{os.getpid()}"
    note = f"pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()}), PUSH -> PULL, ipc://, default HWM"
    return _stream("zmq_stream", note, _zmq_produce, _zmq_consume, args)


def _mpq_produce(args, ready, go):
    q = args.mp_queue
    ready.set()
    go.wait()
    v = payload(args.size)
    _timed_sends(args, lambda: q.put(v))
    q.put(b"")


def _mpq_consume(args, go):
    q = args.mp_queue
    go.set()
    start = time.perf_counter()
    n = 0
    while True:
        m = q.get()
        if not m:
            break
        n += 1
    return n, time.perf_counter() - start


def mp_queue_stream(args):
    args.mp_queue = mp.Queue(10_000)
    return _stream("mp_queue_stream", "multiprocessing.Queue(10000), put -> get",
                   _mpq_produce, _mpq_consume, args)


def _xproc_queue(args):
    import xproc  # bindings/python, on PYTHONPATH (run.py sets it)
    c = xproc.connect(args.socket)
    return c, c.Queue(args.xproc_name, maxsize=10_000)


def _xpy_produce(args, ready, go):
    c, q = _xproc_queue(args)
    ready.set()
    go.wait()
    v = payload(args.size)
    _timed_sends(args, lambda: q.put_buffered(v))
    q.put_buffered(b"")
    q.flush()
    c.close()


def _xpy_consume(args, go):
    c, q = _xproc_queue(args)
    go.set()
    start = time.perf_counter()
    n = 0
    end = False
    while not end:
        for m in q.get_many(1024, timeout=30):
            if not m:
                end = True
            else:
                n += 1
    secs = time.perf_counter() - start
    c.delete(args.xproc_name)
    c.close()
    return n, secs


def xproc_py_stream(args):
    args.xproc_name = f"bench.pystream.{os.getpid()}"
    return _stream("py_xproc_stream", "Python put_buffered -> get_many(1024), queue maxsize 10000",
                   _xpy_produce, _xpy_consume, args)


SCENARIOS = {
    "zmq-stream": zmq_stream,
    "mp-queue-stream": mp_queue_stream,
    "xproc-py-stream": xproc_py_stream,
    "manager-queue": manager_queue,
    "manager-dict": manager_dict,
    "mp-pipe": lambda a: mp_pipe(a, raw=False),
    "mp-pipe-bytes": lambda a: mp_pipe(a, raw=True),
    "redispy-list": redispy_list,
    "redispy-hash": redispy_hash,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--socket", help="redis-server Unix socket (redispy-*), xprocd's (xproc-*)")
    p.add_argument("--iters", type=int, default=50_000)
    p.add_argument("--secs", type=float, default=5.0)
    p.add_argument("--warmup", type=int, default=1_000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--server-cpus", help="CPUs for the server-role helper process, e.g. 0")
    p.add_argument("--client-cpus", help="CPUs for this (client) process, e.g. 1")
    args = p.parse_args()
    print(json.dumps(SCENARIOS[args.scenario](args)), flush=True)


if __name__ == "__main__":
    main()
