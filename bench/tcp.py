#!/usr/bin/env python3
"""TCP scenarios (issue 14): xproc over TCP loopback with an authkey, side by side with the
alternatives over TCP loopback, in one run.

    python3 bench/tcp.py [--quick] [--repeats N] [--secs S] [--iters N] [--stream-items N]

run.py runs it as its "tcp" scenario (rows tcp_*, ratios tcp_*); run alone it prints each row's
median over the repeats and the three ratios. It starts its own servers on 127.0.0.1 — an
xprocd with `--listen tcp://127.0.0.1:0 --authkey-file` and a redis-server on a free port —
and stops them by pid, also on failure. It never asserts on speed; it measures.

| row | what one op is |
|---|---|
| tcp_py_put_get | one put or one get, Python binding over tcp:// with the authkey (bench_python.py) |
| tcp_mp_manager_dict | one d[k] = v or d[k], a SyncManager dict at ('127.0.0.1', port) with an authkey |
| tcp_rust_put_get | one put or one get, Rust client over tcp:// (xproc-bench xproc-putget) |
| tcp_redisbench_lpush_rpop | one command, redis-benchmark -h 127.0.0.1 -c 1 -P 1 -d 64 (LPUSH/RPOP mix) |
| tcp_py_stream | one item delivered: put_buffered in a producer process -> get_many(1000) in a consumer |
| tcp_zmq_push_pull | one message delivered: pyzmq PUSH in a producer process -> PULL in a consumer |

Both streaming rows are Python on both ends (pyzmq over libzmq, xproc over libxproc), the
same item count and size, timed by the consumer from its first item to its last.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RELEASE = os.path.join(ROOT, "target", "release")
sys.path.insert(0, HERE)
import alternatives  # noqa: E402  (measure, payload, pin: the same loop as the other rows)

#: The authkey every xproc and multiprocessing row proves.
AUTHKEY = b"bench-tcp-authkey"

# Rows the "tcp" scenario of run.py fans out to, as run.py's SCENARIOS rows (for the report's
# labels); the "tcp-row" kind is never run on its own.
ROWS = [
    ("tcp_py_put_get", "xproc (Python, TCP)",
     "queue put+get over TCP loopback with authkey, Python, 1 conn", "put or get", "tcp-row", None),
    ("tcp_mp_manager_dict", "multiprocessing (TCP)",
     "SyncManager dict set+get over TCP loopback with authkey, 1000 keys", "set or get",
     "tcp-row", None),
    ("tcp_rust_put_get", "xproc (TCP)",
     "queue put+get over TCP loopback with authkey, Rust, unpipelined", "put or get", "tcp-row",
     None),
    ("tcp_redisbench_lpush_rpop", "Redis (TCP)",
     "redis-benchmark -h 127.0.0.1 -c 1 -P 1 -d 64, LPUSH+RPOP mix", "command", "tcp-row", None),
    ("tcp_py_stream", "xproc (Python, TCP)",
     "streaming put_buffered -> get_many(1000) over TCP, 2 processes", "item delivered",
     "tcp-row", None),
    ("tcp_zmq_push_pull", "ZeroMQ (pyzmq, TCP)",
     "PUSH -> PULL over tcp://127.0.0.1, 2 processes", "item delivered", "tcp-row", None),
]

# (key, label, numerator row, denominator row, target), as run.py's RATIOS.
RATIOS = [
    ("tcp_py_vs_manager", "xproc put/get over TCP (Python) / SyncManager dict over TCP",
     "tcp_py_put_get", "tcp_mp_manager_dict", 3.0),
    ("tcp_rust_vs_redis_benchmark",
     "xproc put/get over TCP (Rust) / redis-benchmark -h 127.0.0.1 LPUSH+RPOP",
     "tcp_rust_put_get", "tcp_redisbench_lpush_rpop", 1.3),
    ("tcp_stream_vs_zmq", "xproc streaming over TCP (Python) / ZeroMQ PUSH/PULL over TCP (pyzmq)",
     "tcp_py_stream", "tcp_zmq_push_pull", 1.0),
]


def log(msg):
    print(f"[bench tcp] {msg}", file=sys.stderr, flush=True)


def free_port():
    """A port nobody listens on now (127.0.0.1 only; the tiny race is acceptable here)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin_pid(pid, cpus):
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass


class Servers:
    """xprocd (local socket + TCP with the authkey) and redis-server on TCP, in `tmp`."""

    def __init__(self, tmp, server_cpus):
        self.tmp = tmp
        self.procs = []
        self.key = os.path.join(tmp, "authkey")
        fd = os.open(self.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(AUTHKEY + b"\n")
        log_path = os.path.join(tmp, "xprocd.log")
        self._spawn([os.path.join(RELEASE, "xprocd"), "--socket", os.path.join(tmp, "x.sock"),
                     "--listen", "tcp://127.0.0.1:0", "--authkey-file", self.key,
                     "--log-level", "info"], log_path)
        self.endpoint = None
        deadline = time.time() + 15
        while self.endpoint is None:
            m = re.search(r"listening on TCP.*addr=(\S+)", open(log_path).read())
            if m:
                self.endpoint = f"tcp://{m.group(1)}"
            elif time.time() > deadline or self.procs[-1].poll() is not None:
                raise RuntimeError(f"xprocd did not listen on TCP: {open(log_path).read()[-300:]}")
            else:
                time.sleep(0.02)
        self.redis_port = free_port()
        self._spawn(["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--daemonize", "no"],
                    os.path.join(tmp, "redis.log"))
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.redis_port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline or self.procs[-1].poll() is not None:
                    raise RuntimeError("redis-server did not listen on TCP")
                time.sleep(0.02)
        for p in self.procs:
            pin_pid(p.pid, server_cpus)

    def _spawn(self, cmd, log_path):
        with open(log_path, "w") as logf:
            self.procs.append(subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ----------------------------------------------------------------------------- child roles
# Run as `python3 bench/tcp.py _ROLE ...` in a process of their own (the client side).

def role_mp_dict(a):
    """SyncManager at ('127.0.0.1', 0) with the authkey; this process is its TCP client."""
    from multiprocessing.managers import SyncManager
    m = SyncManager(address=("127.0.0.1", 0), authkey=AUTHKEY)
    m.start()
    try:
        client = SyncManager(address=m.address, authkey=AUTHKEY)
        client.connect()
        server_pid = m._process.pid
        alternatives.pin(a, server_pid)
        d = client.dict()
        v = alternatives.payload(a.size)
        keys = [f"key:{k:06}" for k in range(1000)]

        def call(i):
            k = keys[(i // 2) % 1000]
            if i % 2 == 0:
                d[k] = v
            elif d[k] != v:
                raise RuntimeError("the manager's dict returned another value")
        return alternatives.measure(
            "tcp_mp_manager_dict", a, call,
            f"SyncManager dict over TCP {m.address[0]}:{m.address[1]} with authkey, pickled bytes",
            after_warmup=lambda: alternatives.pin(a, server_pid))
    finally:
        m.shutdown()


def role_stream_consume(a):
    import xproc
    with xproc.connect(a.endpoint) as c:
        q = c.Queue(a.name)
        print("ready", flush=True)
        got = q.get_many(1000, timeout=30)
        first = time.perf_counter()
        n = len(got)
        while n < a.items:
            n += len(q.get_many(1000, timeout=30))
        secs = time.perf_counter() - first
        c.delete(a.name)
    return {"scenario": "tcp_py_stream", "ops": n, "secs": secs, "ops_per_s": n / secs,
            "p50_us": None, "p99_us": None,
            "note": f"{n} items of {a.size} B, put_buffered -> get_many(1000), consumer-timed"}


def role_stream_produce(a):
    import xproc
    v = alternatives.payload(a.size)
    with xproc.connect(a.endpoint) as c:
        q = c.Queue(a.name)
        put = q.put_buffered
        for _ in range(a.items):
            put(v)
        q.flush()
    return None


def role_zmq_pull(a):
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.bind(f"tcp://127.0.0.1:{a.port}")
    print("ready", flush=True)
    recv = s.recv
    recv()
    first = time.perf_counter()
    for _ in range(a.items - 1):
        recv()
    secs = time.perf_counter() - first
    s.close(linger=0)
    ctx.term()
    return {"scenario": "tcp_zmq_push_pull", "ops": a.items, "secs": secs,
            "ops_per_s": a.items / secs, "p50_us": None, "p99_us": None,
            "note": f"{a.items} messages of {a.size} B, pyzmq {zmq.__version__} "
                    f"(libzmq {zmq.zmq_version()}), default HWM, consumer-timed"}


def role_zmq_push(a):
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(f"tcp://127.0.0.1:{a.port}")
    v = alternatives.payload(a.size)
    send = s.send
    for _ in range(a.items):
        send(v)
    s.close(linger=-1)  # until every message is handed over
    ctx.term()
    return None


ROLES = {"_mp-dict": role_mp_dict, "_stream-consume": role_stream_consume,
         "_stream-produce": role_stream_produce, "_zmq-pull": role_zmq_pull,
         "_zmq-push": role_zmq_push}


# ----------------------------------------------------------------------------- one run

def _env(servers):
    env = dict(os.environ, XPROC_AUTHKEY_FILE=servers.key,
               XPROC_LIB=os.path.join(RELEASE, "libxproc.so"))
    env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("XPROC_SOCKET", None)
    return env


def _pinned(cpus):
    return lambda: os.sched_setaffinity(0, cpus)


def _json_row(text, what):
    rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    if not rows:
        raise RuntimeError(f"{what} printed no result")
    return rows[-1]


def _run_client(cmd, env, cpus, timeout, what):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                       preexec_fn=_pinned(cpus))
    if r.returncode != 0:
        raise RuntimeError(f"{what}: exit {r.returncode}: {(r.stderr or r.stdout)[-300:]}")
    return r.stdout


def _pair(consumer, producer, env, cpus, timeout, what):
    """Starts the consumer, waits for its `ready`, runs the producer, returns the consumer's row."""
    c = subprocess.Popen(consumer, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, preexec_fn=_pinned(cpus))
    try:
        if c.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{what}: the consumer did not start: {c.stderr.read()[-300:]}")
        _run_client(producer, env, cpus, timeout, what + " producer")
        out, err = c.communicate(timeout=timeout)
        if c.returncode != 0:
            raise RuntimeError(f"{what}: consumer exit {c.returncode}: {err[-300:]}")
        return _json_row(out, what)
    finally:
        if c.poll() is None:
            c.kill()
            c.wait()


def run(a, server_cpus, client_cpus):
    """One run of every TCP row: {row key: result dict}. `a` has run.py's secs, iters,
    py_iters, warmup, size and quick (and stream_items when run alone)."""
    a.stream_items = getattr(a, "stream_items", None) or (50_000 if a.quick else 200_000)
    tmp = tempfile.mkdtemp(prefix="xpb-tcp-", dir="/tmp")
    servers = Servers(tmp, server_cpus)
    env = _env(servers)
    timeout = a.secs * 10 + 60
    me = [sys.executable, os.path.abspath(__file__)]
    bounds = ["--secs", str(a.secs), "--size", str(a.size)]
    cpus = ["--server-cpus", ",".join(map(str, sorted(server_cpus))),
            "--client-cpus", ",".join(map(str, sorted(client_cpus)))]
    out = {}
    try:
        steps = {
            "tcp_py_put_get": lambda: _json_row(_run_client(
                [sys.executable, os.path.join(ROOT, "bindings", "python", "bench_python.py"),
                 "--socket", servers.endpoint, "--only", "py_queue_put_get",
                 "--iters", str(a.py_iters), "--warmup", str(a.warmup // 2), *bounds],
                env, client_cpus, timeout, "bench_python.py over TCP"), "bench_python.py"),
            "tcp_mp_manager_dict": lambda: _json_row(_run_client(
                [*me, "_mp-dict", "--iters", str(a.py_iters), "--warmup", str(a.warmup // 2),
                 *bounds, *cpus], env, client_cpus, timeout, "SyncManager over TCP"),
                "SyncManager over TCP"),
            "tcp_rust_put_get": lambda: _json_row(_run_client(
                [os.path.join(RELEASE, "xproc-bench"), "xproc-putget", "--socket",
                 servers.endpoint, "--iters", str(a.iters), "--warmup", str(a.warmup), *bounds],
                env, client_cpus, timeout, "xproc-bench over TCP"), "xproc-bench"),
            "tcp_redisbench_lpush_rpop": lambda: _redis_benchmark(a, servers, env, client_cpus,
                                                                 timeout),
            "tcp_py_stream": lambda: _pair(
                [*me, "_stream-consume", "--endpoint", servers.endpoint, "--name", "bench:tcpstream",
                 "--items", str(a.stream_items), *bounds],
                [*me, "_stream-produce", "--endpoint", servers.endpoint, "--name",
                 "bench:tcpstream", "--items", str(a.stream_items), *bounds],
                env, client_cpus, timeout, "xproc streaming over TCP"),
            "tcp_zmq_push_pull": lambda: _zmq(a, me, bounds, env, client_cpus, timeout),
        }
        for key, step in steps.items():
            try:
                row = step()
                row["scenario"] = key
                out[key] = row
            except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as e:
                log(f"{key}: not run: {e}")
    finally:
        servers.stop()
        subprocess.run(["rm", "-rf", tmp])
    if not out:
        raise RuntimeError("no TCP row ran (see the log)")
    return out


def _redis_benchmark(a, servers, env, cpus, timeout):
    n = max(1000, int(a.secs * 30_000))
    r = _run_client(["redis-benchmark", "-h", "127.0.0.1", "-p", str(servers.redis_port), "-c", "1",
                     "-P", "1", "-d", str(a.size), "-n", str(n), "-t", "lpush,rpop", "--csv"],
                    env, cpus, timeout, "redis-benchmark")
    rps = {}
    for line in r.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) >= 2 and cells[0].split()[0].upper() in ("LPUSH", "RPOP"):
            rps[cells[0].split()[0].upper()] = float(cells[1])
    if len(rps) != 2:
        raise RuntimeError(f"redis-benchmark printed no LPUSH/RPOP rows: {r[-300:]}")
    # An alternating LPUSH/RPOP loop spends 1/a + 1/b per pair: the harmonic mean, as run.py.
    mix = 2.0 / (1.0 / rps["LPUSH"] + 1.0 / rps["RPOP"])
    return {"scenario": "tcp_redisbench_lpush_rpop", "ops": 2 * n, "secs": 2 * n / mix,
            "ops_per_s": mix, "p50_us": None, "p99_us": None,
            "note": f"redis-benchmark -h 127.0.0.1 -c 1 -P 1 -d {a.size}: LPUSH {rps['LPUSH']:,.0f}/s, "
                    f"RPOP {rps['RPOP']:,.0f}/s, harmonic mean"}


def _zmq(a, me, bounds, env, cpus, timeout):
    port = str(free_port())
    return _pair([*me, "_zmq-pull", "--port", port, "--items", str(a.stream_items), *bounds],
                 [*me, "_zmq-push", "--port", port, "--items", str(a.stream_items), *bounds],
                 env, cpus, timeout, "ZeroMQ PUSH/PULL over TCP")


# ----------------------------------------------------------------------------- standalone

def main():
    if len(sys.argv) > 1 and sys.argv[1] in ROLES:
        p = argparse.ArgumentParser()
        for flag, kind, default in (("--secs", float, 2.0), ("--size", int, 64),
                                    ("--iters", int, 100_000), ("--warmup", int, 1000),
                                    ("--items", int, 100_000), ("--port", int, 0)):
            p.add_argument(flag, type=kind, default=default)
        for flag in ("--endpoint", "--name", "--server-cpus", "--client-cpus"):
            p.add_argument(flag)
        a = p.parse_args(sys.argv[2:])
        row = ROLES[sys.argv[1]](a)
        if row is not None:
            print(json.dumps(row), flush=True)
        return 0

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 short repeats (rough numbers)")
    p.add_argument("--repeats", type=int)
    p.add_argument("--secs", type=float)
    p.add_argument("--iters", type=int)
    p.add_argument("--py-iters", type=int)
    p.add_argument("--stream-items", type=int)
    p.add_argument("--warmup", type=int, default=2000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--placement", choices=("same", "split", "free"), default="free",
                   help="servers and clients on one vCPU, on different vCPUs, or unpinned")
    a = p.parse_args()
    q = a.quick
    a.repeats = a.repeats or (2 if q else 3)
    a.secs = a.secs or (0.6 if q else 2.0)
    a.iters = a.iters or (60_000 if q else 300_000)
    a.py_iters = a.py_iters or (20_000 if q else 150_000)
    a.stream_items = a.stream_items or (50_000 if q else 200_000)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, client_cpus = {"same": ({cpus[0]}, {cpus[0]}),
                                "split": ({cpus[0]}, {cpus[-1]}),
                                "free": (set(cpus), set(cpus))}[a.placement]
    runs = {}
    for rep in range(a.repeats):
        for key, row in run(a, server_cpus, client_cpus).items():
            runs.setdefault(key, []).append(row["ops_per_s"])
            log(f"repeat {rep + 1}: {key}: {row['ops_per_s']:,.0f} ops/s")
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"placement {a.placement}, {a.repeats} repeats, median ops/s:")
    for key, _system, label, unit, _k, _a in ROWS:
        got = f"{med[key]:>12,.0f}" if key in med else "     not run"
        print(f"  {key:<28} {got}  {label} (one op = {unit})")
    for key, label, num, den, target in RATIOS:
        if num in med and den in med:
            print(f"  {key:<28} {med[num] / med[den]:>11.2f}x  {label} (target {target}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
