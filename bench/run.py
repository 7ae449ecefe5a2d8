#!/usr/bin/env python3
"""xproc benchmark harness: one command, every scenario, interleaved, with repeats.

    python3 bench/run.py [--quick] [--repeats N] [--secs S] [--only a,b] [--out DIR]

What it does, in order:
  1. builds `xprocd` and `xproc-bench` in release mode (and libxproc when the Python binding's
     bench script exists);
  2. installs what is missing: `redis-server` (apt-get), `redis` (redis-py), `msgpack` and
     `matplotlib` (pip);
  3. starts its own xprocd, redis-server and raw echo server on Unix sockets in a fresh temp
     directory, and stops them by pid at the end, also on failure or Ctrl-C;
  4. runs every scenario once per repeat, in a rotated order (interleaved, so a slow minute on
     this shared 2-vCPU VM hits all systems alike), after waiting until the machine is idle;
  5. writes bench/results/latest.{md,json,png}: ops/s medians and spread, the target ratios,
     broker peak memory and the machine facts.

It never asserts on speed; it measures. A scenario that cannot run (a missing object type in the
broker, a missing Python binding) is reported as "not run: <reason>", never given a number.

Contract for bindings/python/bench_python.py (owned by the Python binding): it is called as
    python3 bindings/python/bench_python.py --socket XPROC_SOCK --iters N --secs S --size 64
with XPROC_SOCKET and XPROC_LIB also set in its environment, and prints one JSON line per
scenario with at least "scenario" and "ops_per_s" (optionally ops, secs, p50_us, p99_us, note).
Scenarios whose name contains "queue" count as Python put/get, "dict" as Python dict set/get.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import report  # noqa: E402  (bench/report.py: tables and plot)
import tcp  # noqa: E402  (bench/tcp.py: the TCP loopback rows, their own servers)
import async_scenarios  # noqa: E402  (issue 15: event loops, get_any)

RELEASE = os.path.join(ROOT, "target", "release")
PY_BENCH = os.path.join(ROOT, "bindings", "python", "bench_python.py")

# ----------------------------------------------------------------------------- scenarios
#
# Each scenario: key, the system it measures, what one op is, and how to run it. "rust" rows run
# the xproc-bench binary, "py" rows bench/alternatives.py, "redis-benchmark" and "bench_python"
# rows produce several results per run.

SCENARIOS = [
    # key, system, label, unit of one op, kind, argument
    ("echo_rt", "raw UDS", "echo round trip, Rust std, 1 in flight", "round trip", "rust", "echo"),
    ("xproc_put_get", "xproc", "queue put+get, unpipelined, Rust client", "put or get", "rust",
     "xproc-putget"),
    ("xproc_put_many", "xproc", "queue put_many (pipelined, 1000 per call), Rust", "put", "rust",
     "xproc-put-many"),
    ("xproc_prodcons", "xproc", "queue, producer process -> consumer process, Rust",
     "item delivered", "rust", "xproc-prodcons"),
    ("xproc_dict", "xproc", "dict set+get, unpipelined, 1000 keys, Rust", "set or get", "rust",
     "xproc-dict"),
    ("xproc_pipe", "xproc", "pipe ping-pong, 2 processes, Rust (direct: peer to peer)", "round trip", "rust", "xproc-pipe"),
    ("xproc_pipe_stream", "xproc", "pipe one-way stream, 64 B, producer -> consumer process, Rust (direct)",
     "item delivered", "rust", "xproc-pipe-stream"),
    ("redis_lpush_rpop", "Redis", "LPUSH+RPOP, own RESP client (Rust), 1 conn", "command", "rust",
     "redis-list"),
    ("redis_hset_hget", "Redis", "HSET+HGET, 1000 fields, own RESP client (Rust)", "command", "rust",
     "redis-hash"),
    ("redis_benchmark", "Redis", "redis-benchmark -c 1 -P 1 -d 64", "command", "redis-benchmark", None),
    ("mp_manager_queue", "multiprocessing", "Manager().Queue() put+get, Python", "put or get", "py",
     "manager-queue"),
    ("mp_manager_dict", "multiprocessing", "Manager().dict() set+get, 1000 keys, Python",
     "set or get", "py", "manager-dict"),
    ("mp_pipe", "multiprocessing", "Pipe send/recv ping-pong (pickled 64 B), 2 processes",
     "round trip", "py", "mp-pipe"),
    ("mp_pipe_bytes", "multiprocessing", "Pipe send_bytes/recv_bytes ping-pong, 2 processes",
     "round trip", "py", "mp-pipe-bytes"),
    ("redispy_lpush_rpop", "redis-py", "LPUSH+RPOP via redis-py, Python", "command", "py",
     "redispy-list"),
    ("redispy_hset_hget", "redis-py", "HSET+HGET via redis-py, 1000 fields, Python", "command", "py",
     "redispy-hash"),
    ("python", "xproc (Python)", "bindings/python/bench_python.py", "op", "bench_python", None),
    # The Go, Java, Node.js and C# bindings' bench programs (bindings/*/bench*), same contract
    # as bench_python.py; rows "<lang>_queue_put_get" (put or get) and "<lang>_prodcons" (item
    # delivered, producer process -> consumer process).
    ("bindings", "xproc (Go, Java, Node.js, C#)", "Go, Java, Node.js and C# bindings' bench programs",
     "op", "bindings", None),
    # bench/tcp.py: xproc over TCP loopback with an authkey vs a SyncManager over TCP,
    # redis-benchmark -h 127.0.0.1 and ZeroMQ over tcp://; rows tcp_*, with servers of its own.
    ("tcp", "xproc over TCP", "bench/tcp.py: TCP loopback rows", "op", "tcp", None),
    # Streaming (issue 10): one-way, a producer process -> a consumer process.
    ("xproc_stream", "xproc", "queue put_async -> get_many(1024), producer -> consumer process, Rust",
     "item delivered", "rust", "xproc-stream"),
    ("py_xproc_stream", "xproc (Python)", "put_buffered -> get_many(1024), producer -> consumer process, Python",
     "item delivered", "py-xproc", "xproc-py-stream"),
    ("c_stream", "xproc (C)", "xproc_queue_put_async_raw -> xproc_queue_get_many(1024), producer -> consumer process, C",
     "item delivered", "native", "c"),
    ("csharp_stream", "xproc (C#)", "Queue.Post -> GetMany(1024), producer -> consumer process, C# (Mono)",
     "item delivered", "native", "csharp"),
    ("zmq_stream", "ZeroMQ", "pyzmq PUSH -> PULL over ipc://, producer -> consumer process",
     "item delivered", "py", "zmq-stream"),
    ("mp_queue_stream", "multiprocessing", "multiprocessing.Queue put -> get, producer -> consumer process",
     "item delivered", "py", "mp-queue-stream"),
    # Many connections at once, and a ping's latency beside a stream.
    ("xproc_conns50", "xproc", "50 connections (a thread each), unpipelined put+get, aggregate, Rust",
     "put or get", "rust", "xproc-conns"),
    ("xproc_evconns50", "xproc", "50 connections driven by one poll(2) loop (as redis-benchmark does), unpipelined put+get, aggregate, Rust",
     "put or get", "rust", "xproc-evconns"),
    ("redis_benchmark_c50", "Redis", "redis-benchmark -c 50 -P 1 -d 64 LPUSH, RPOP", "command",
     "redis-benchmark-c50", None),
    ("xproc_ping_stream", "xproc", "ping on a 2nd connection: idle, then while a producer streams",
     "ping", "rust", "xproc-ping-stream"),
    # The idle strategy (opt-in): the same put/get loops against a broker started with
    # --busy-poll, clients polling too (XPROC_BUSY_POLL_US), beside the default rows.
    ("xproc_put_get_poll", "xproc (busy-poll)", "queue put+get, unpipelined, Rust, busy-poll 50 µs both sides",
     "put or get", "rust-poll", "xproc-putget"),
    ("python_poll", "xproc (Python, busy-poll)", "bench_python.py, busy-poll 50 µs both sides", "op",
     "bench_python_poll", None),
]

# The busy poll (µs) of the second broker and of the clients of the "*_poll" rows.
BUSY_POLL_US = 50

# The memory measurement: this many 64 B values in one queue of a fresh xprocd and one list
# of a fresh redis-server; RSS growth per item (docs/BENCHMARKS.md).
MEMORY_ITEMS = 1_000_000

# redis-benchmark tests run by the "redis_benchmark" scenario, and the row each one becomes.
REDIS_BENCHMARK_TESTS = {"LPUSH": "redisbench_lpush", "RPOP": "redisbench_rpop",
                         "HSET": "redisbench_hset"}
# The 50-connection run (-c 50) and the rows it becomes.
REDIS_BENCHMARK_C50 = {"LPUSH": "redisbench50_lpush", "RPOP": "redisbench50_rpop"}

# Ratios the targets name: (key, label, numerator row, denominator row, target).
# A numerator given as "py:queue" / "py:dict" means the Python binding's row of that kind.
RATIOS = [
    ("put_get_vs_redis", "xproc put/get (Rust, unpipelined) / Redis LPUSH+RPOP (own RESP client)",
     "xproc_put_get", "redis_lpush_rpop", 1.3),
    ("put_get_vs_raw", "xproc put/get (Rust, unpipelined) / raw UDS echo round trips",
     "xproc_put_get", "echo_rt", 0.7),
    ("dict_vs_manager", "xproc dict (Rust) / Manager().dict() (Python)",
     "xproc_dict", "mp_manager_dict", 3.0),
    ("dict_vs_redis", "xproc dict (Rust) / Redis HSET+HGET (own RESP client)",
     "xproc_dict", "redis_hset_hget", 1.3),
    ("py_queue_vs_manager", "xproc put/get (Python) / Manager().Queue()",
     "py:queue", "mp_manager_queue", 2.0),
    ("py_queue_vs_redispy", "xproc put/get (Python) / redis-py LPUSH+RPOP",
     "py:queue", "redispy_lpush_rpop", 3.0),
    ("py_dict_vs_manager", "xproc dict (Python) / Manager().dict()",
     "py:dict", "mp_manager_dict", 2.0),
    ("py_dict_vs_redispy", "xproc dict (Python) / redis-py HSET+HGET",
     "py:dict", "redispy_hset_hget", 3.0),
    # The same targets against redis-benchmark, the method the anchors (shared/anchors) used to
    # set them; its event-loop client is slower than a blocking one, so these ratios are higher.
    ("put_get_vs_redis_benchmark", "xproc put/get (Rust) / redis-benchmark LPUSH+RPOP mix",
     "xproc_put_get", "redisbench_lpush_rpop", 1.3),
    ("dict_vs_redis_benchmark", "xproc dict (Rust) / redis-benchmark HSET (it has no HGET test)",
     "xproc_dict", "redisbench_hset", 1.3),
    # Streaming and load (issue 10).
    ("stream_vs_zmq", "xproc put_async -> get_many (Rust) / ZeroMQ PUSH/PULL (pyzmq, ipc://)",
     "xproc_stream", "zmq_stream", 1.0),
    ("py_stream_vs_mp_queue", "xproc put_buffered -> get_many (Python) / multiprocessing.Queue",
     "py_xproc_stream", "mp_queue_stream", 1.5),
    ("evconns50_vs_redis_benchmark", "50 connections put+get, one event loop (Rust) / redis-benchmark -c 50 LPUSH+RPOP",
     "xproc_evconns50", "redisbench50_lpush_rpop", 1.5),
    ("conns50_vs_redis_benchmark", "50 connections put+get, a thread each (Rust) / redis-benchmark -c 50 LPUSH+RPOP",
     "xproc_conns50", "redisbench50_lpush_rpop", None),
    ("ping_p99_streaming_vs_idle", "p99 of a ping while a producer streams / its p99 idle (at most)",
     "p99:xproc_ping_streaming", "p99:xproc_ping_idle", ("max", 2.0)),
    ("py_queue_poll_vs_manager", "xproc put/get (Python, busy-poll) / Manager().Queue()",
     "pypoll:queue", "mp_manager_queue", 1.5),
    ("py_dict_poll_vs_manager", "xproc dict (Python, busy-poll) / Manager().dict()",
     "pypoll:dict", "mp_manager_dict", 1.5),
    # context, no target
    ("pipe_vs_mp_pipe", "xproc pipe ping-pong (Rust) / multiprocessing.Pipe ping-pong (context)",
     "xproc_pipe", "mp_pipe", None),
    # Direct pipes (issue 11): peer to peer once both ends are local.
    ("pipe_vs_mp_pipe_bytes", "xproc pipe ping-pong, direct (Rust) / multiprocessing.Pipe send_bytes/recv_bytes",
     "xproc_pipe", "mp_pipe_bytes", 1.0),
    ("pipe_vs_raw", "xproc pipe ping-pong, direct (Rust) / raw UDS echo round trips",
     "xproc_pipe", "echo_rt", 0.9),
    ("pipe_stream_vs_zmq", "xproc pipe one-way stream, direct (Rust) / ZeroMQ PUSH/PULL (pyzmq, ipc://)",
     "xproc_pipe_stream", "zmq_stream", 1.0),
] + tcp.RATIOS


SCENARIOS += async_scenarios.SCENARIOS
RATIOS += async_scenarios.RATIOS


# Where the processes run. On this 2-vCPU VM a round trip between processes on the same vCPU
# costs a few µs, while one that wakes the other vCPU can cost several times more and varies
# from minute to minute, so an unpinned run is a lottery of scheduler placement (seen: the same
# echo loop at 14 k and at 82 k round trips/s). Every placement pins every system the same way.
PLACEMENTS = {
    "same": "servers and clients all on one vCPU (wakeups are cheap: the work per op shows)",
    "split": "servers on one vCPU, clients on the other (every request crosses vCPUs)",
    "free": "no pinning: the scheduler decides, as for an application that does not pin (noisiest)",
}


def placement_cpus(name):
    """(server CPUs, client CPUs) for a placement, from the CPUs this process may use."""
    cpus = sorted(os.sched_getaffinity(0))
    if name == "same":
        return {cpus[0]}, {cpus[0]}
    if name == "split":
        if len(cpus) < 2:
            raise RuntimeError("placement 'split' needs 2 CPUs")
        return {cpus[0]}, {cpus[1]}
    return set(cpus), set(cpus)


def cpu_list(cpus):
    return ",".join(str(c) for c in sorted(cpus))


# ----------------------------------------------------------------------------- helpers

def log(msg):
    print(f"[bench] {msg}", flush=True)


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v[:8])


def cpu_busy(interval=0.3):
    """Fraction of all CPUs busy over `interval` seconds."""
    i0, t0 = cpu_times()
    time.sleep(interval)
    i1, t1 = cpu_times()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(threshold, max_wait):
    """Wait until the shared box is nearly idle; return the last busy fraction seen."""
    t0 = time.time()
    busy = cpu_busy()
    while busy > threshold and time.time() - t0 < max_wait:
        time.sleep(1.0)
        busy = cpu_busy()
    if busy > threshold:
        log(f"machine still {busy:.0%} busy after {max_wait:.0f}s; measuring anyway (recorded)")
    return busy


def run_cmd(cmd, **kw):
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, **kw)


def have_module(name):
    r = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True)
    return r.returncode == 0


def ensure_tools(allow_install):
    """Install redis-server and the Python packages the harness needs, if missing."""
    if shutil.which("redis-server") is None or shutil.which("redis-benchmark") is None:
        if not allow_install:
            sys.exit("redis-server not found (run without --no-install, or apt-get install redis-server)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run_cmd(["apt-get", "update", "-qq"], check=True, env=env)
        run_cmd(["apt-get", "install", "-y", "-qq", "redis-server", "redis-tools"], check=True, env=env)
    missing = [pkg for mod, pkg in (("redis", "redis"), ("msgpack", "msgpack"),
                                    ("matplotlib", "matplotlib")) if not have_module(mod)]
    if missing:
        if not allow_install:
            sys.exit(f"missing Python packages: {' '.join(missing)}")
        run_cmd([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *missing], check=True)


def build(with_c):
    """Release build of what the harness runs; exits with cargo's message on failure."""
    cmd = ["cargo", "build", "--release", "-p", "xproc-broker", "-p", "xproc-bench"]
    if with_c:
        cmd += ["-p", "xproc-c"]
    r = run_cmd(cmd, cwd=ROOT)
    if r.returncode != 0:
        sys.exit("bench: release build failed (see cargo's output above); nothing measured")
    if with_c:
        # The Python binding's C speedups, built in place: the checkout's package then makes
        # the same calls as a pip-installed one (bench_python.py reports which path it took).
        r = run_cmd([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                    cwd=os.path.join(ROOT, "bindings", "python"))
        if r.returncode != 0:
            print("bench: the Python speedups did not build; Python rows use ctypes", flush=True)


class Servers:
    """The servers under test, each started here and stopped here by its own pid."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.xproc_sock = os.path.join(tmp, "xproc.sock")
        self.xproc_poll_sock = os.path.join(tmp, "xproc-poll.sock")
        self.redis_sock = os.path.join(tmp, "redis.sock")
        self.echo_sock = os.path.join(tmp, "echo.sock")
        self.procs = {}
        self.down = {}  # server name -> why it is not running (its scenarios are "not run")

    def _start(self, name, cmd, sock, logname):
        logf = open(os.path.join(self.tmp, logname), "w")
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs[name] = p
        deadline = time.time() + 15
        while time.time() < deadline:
            if p.poll() is not None:
                logf.flush()
                raise RuntimeError(f"exited with {p.returncode}: {tail(open(logf.name).read())}")
            if os.path.exists(sock):
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(sock)
                    return p.pid
                except OSError:
                    pass
                finally:
                    s.close()
            time.sleep(0.02)
        raise RuntimeError(f"{name} did not accept on {sock} within 15 s")

    def start(self):
        """Start every server; one that fails is recorded in `down`, the others still run."""
        specs = [
            ("xprocd", [os.path.join(RELEASE, "xprocd"), "--socket", self.xproc_sock,
                        "--log-level", "warn"], self.xproc_sock, "xprocd.log"),
            ("xprocd-poll", [os.path.join(RELEASE, "xprocd"), "--socket", self.xproc_poll_sock,
                             "--log-level", "warn", "--busy-poll", str(BUSY_POLL_US)],
             self.xproc_poll_sock, "xprocd-poll.log"),
            ("redis-server", ["redis-server", "--port", "0", "--unixsocket", self.redis_sock,
                              "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                              "--daemonize", "no"], self.redis_sock, "redis.log"),
            ("echo", [os.path.join(RELEASE, "xproc-bench"), "echo-serve", "--socket",
                      self.echo_sock], self.echo_sock, "echo.log"),
        ]
        for name, cmd, sock, logname in specs:
            try:
                self._start(name, cmd, sock, logname)
            except (RuntimeError, OSError) as e:
                self.down[name] = f"{name} did not start: {e}"
                log(self.down[name])

    def pin(self, cpus):
        """Move every thread of every server onto `cpus`."""
        for name, p in self.procs.items():
            try:
                tids = os.listdir(f"/proc/{p.pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    os.sched_setaffinity(int(tid), cpus)
                except OSError:
                    pass  # a thread that just exited

    def pid(self, name):
        p = self.procs.get(name)
        return p.pid if p else None

    def status(self, name, field):
        """A field of /proc/<pid>/status in KiB (VmHWM, VmRSS), or None."""
        pid = self.pid(name)
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except (OSError, ValueError, TypeError):
            return None
        return None

    def stop(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs.items():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {p.pid}) ignored SIGTERM; killing it")
                p.kill()
                p.wait()


def parse_json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def tail(text, n=300):
    text = (text or "").strip().replace("\n", " | ")
    return text[-n:]


# ----------------------------------------------------------------------------- one run

class Runner:
    def __init__(self, args, servers):
        self.a = args
        self.s = servers
        self.bench_bin = os.path.join(RELEASE, "xproc-bench")
        self.timeout = args.secs * 6 + 60

    def bounds(self, iters):
        return ["--iters", str(iters), "--secs", str(self.a.secs), "--size", str(self.a.size)]

    def needs(self, kind, arg):
        """The server a scenario talks to (None for the multiprocessing and ZeroMQ ones)."""
        if kind in ("rust-poll", "bench_python_poll"):
            return "xprocd-poll"
        if kind in ("redis-benchmark", "redis-benchmark-c50") or (arg or "").startswith(("redis", "redispy")):
            return "redis-server"
        if arg == "echo":
            return "echo"
        if kind in ("bench_python", "bindings", "py-xproc", "native", "async_py") or (arg or "").startswith("xproc"):
            return "xprocd"
        return None

    def cpu_seconds(self, server):
        """CPU time (user + system, s) the server process has used, or None."""
        pid = self.s.pid(server) if server else None
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, TypeError):
            return None

    def run_measured(self, key, kind, arg, placement):
        """`run`, with the CPU time the server and the client processes used during it
        attached to every row it returns (`cpu`: server_s, client_s, wall_s)."""
        server = self.needs(kind, arg)
        s0, c0, t0 = self.cpu_seconds(server), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
        rows = self.run(key, kind, arg, placement)
        s1, c1, t1 = self.cpu_seconds(server), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
        cpu = {"server_s": None if s0 is None or s1 is None else round(s1 - s0, 3),
               "client_s": round((c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime), 3),
               "wall_s": round(t1 - t0, 3)}
        for r in rows.values():
            r["cpu"] = cpu
        return rows

    def run(self, key, kind, arg, placement):
        """Run one scenario once under `placement` (the servers are already pinned for it);
        return {row_key: result dict} or raise with a reason."""
        server = self.needs(kind, arg)
        if server in self.s.down:
            raise RuntimeError(self.s.down[server])
        self.server_cpus, self.client_cpus = placement_cpus(placement)
        if kind == "rust":
            sock = {"echo": self.s.echo_sock, "redis-list": self.s.redis_sock,
                    "redis-hash": self.s.redis_sock}.get(arg, self.s.xproc_sock)
            cmd = [self.bench_bin, arg, "--socket", sock, *self.bounds(self.a.iters),
                   "--warmup", str(self.a.warmup)]
            if arg == "xproc-ping-stream":
                # Two rows: the ping idle, then while a producer streams.
                return {r["scenario"]: r for r in self._rows(cmd)}
            return {key: self._one(cmd)}
        if kind == "rust-poll":
            cmd = [self.bench_bin, arg, "--socket", self.s.xproc_poll_sock,
                   *self.bounds(self.a.iters), "--warmup", str(self.a.warmup)]
            row = self._one(cmd, env=dict(os.environ, XPROC_BUSY_POLL_US=str(BUSY_POLL_US)))
            row["scenario"] = key
            return {key: row}
        if kind == "py-xproc":
            cmd = [sys.executable, os.path.join(HERE, "alternatives.py"), arg,
                   "--socket", self.s.xproc_sock, *self.bounds(self.a.iters),
                   "--client-cpus", cpu_list(self.client_cpus)]
            return {key: self._one(cmd, env=self._py_env(self.s.xproc_sock))}
        if kind == "py":
            # alternatives.py pins its own helper processes (Manager, Pipe peer) as servers.
            cmd = [sys.executable, os.path.join(HERE, "alternatives.py"), arg,
                   "--socket", self.s.redis_sock, *self.bounds(self.a.py_iters),
                   "--warmup", str(self.a.warmup // 2),
                   "--server-cpus", cpu_list(self.server_cpus),
                   "--client-cpus", cpu_list(self.client_cpus)]
            return {key: self._one(cmd)}
        if kind == "native":
            cmd = self._build_native().get(arg)
            if isinstance(cmd, str):
                raise RuntimeError(cmd)
            return {key: self._one([*cmd, self.s.xproc_sock, str(self.a.iters),
                                    str(self.a.secs), str(self.a.size)])}
        if kind == "redis-benchmark":
            return self._redis_benchmark()
        if kind == "redis-benchmark-c50":
            return self._redis_benchmark(conns=50)
        if kind == "bench_python":
            return self._bench_python()
        if kind == "bench_python_poll":
            return self._bench_python(poll=True)
        if kind == "bindings":
            return self._bindings()
        if kind == "tcp":
            return tcp.run(self.a, self.server_cpus, self.client_cpus)
        if kind == "async_py":
            return async_scenarios.run_python(self)
        raise ValueError(kind)

    def _exec(self, cmd, timeout, env=None):
        """Run a client command pinned to the placement's client CPUs."""
        cpus = self.client_cpus
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              preexec_fn=lambda: os.sched_setaffinity(0, cpus))

    def _rows(self, cmd, env=None):
        r = self._exec(cmd, self.timeout, env=env)
        rows = parse_json_lines(r.stdout)
        if r.returncode != 0 or not rows:
            raise RuntimeError(f"exit {r.returncode}: {tail(r.stderr) or tail(r.stdout)}")
        return rows

    def _one(self, cmd, env=None):
        return self._rows(cmd, env)[-1]

    def _py_env(self, sock, poll=False):
        env = dict(os.environ, XPROC_SOCKET=sock)
        lib = os.path.join(RELEASE, "libxproc.so")
        if os.path.exists(lib):
            env["XPROC_LIB"] = lib
        pkg = os.path.join(ROOT, "bindings", "python")
        env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
        if poll:
            env["XPROC_BUSY_POLL_US"] = str(BUSY_POLL_US)
        return env

    def _redis_benchmark(self, conns=1):
        tests = REDIS_BENCHMARK_TESTS if conns == 1 else REDIS_BENCHMARK_C50
        prefix = "redisbench" if conns == 1 else "redisbench50"
        n = max(1000, int(self.a.secs * 30_000 * (2 if conns > 1 else 1)))
        cmd = ["redis-benchmark", "-s", self.s.redis_sock, "-c", str(conns), "-P", "1", "-d",
               str(self.a.size), "-n", str(n), "-t", ",".join(t.lower() for t in tests),
               "--csv"]
        r = self._exec(cmd, self.timeout)
        if r.returncode != 0:
            raise RuntimeError(f"redis-benchmark exit {r.returncode}: {tail(r.stderr)}")
        out = {}
        for line in r.stdout.splitlines():
            cells = [c.strip('"') for c in line.split(",")]
            if len(cells) < 2 or cells[0] == "test":
                continue
            name = cells[0].split()[0].upper()
            if name in tests:
                try:
                    rps = float(cells[1])
                except ValueError:
                    continue
                p50 = float(cells[4]) * 1000 if len(cells) > 4 else None
                out[tests[name]] = {
                    "scenario": tests[name], "ops": n, "secs": n / rps if rps else None,
                    "ops_per_s": rps, "p50_us": p50, "p99_us": None,
                    "note": f"redis-benchmark -c {conns} -P 1 -d {self.a.size} -t {name.lower()}"}
        if not out:
            raise RuntimeError(f"redis-benchmark printed no result rows: {tail(r.stdout)}")
        push, pop = out.get(f"{prefix}_lpush"), out.get(f"{prefix}_rpop")
        if push and pop and push["ops_per_s"] and pop["ops_per_s"]:
            # An alternating LPUSH/RPOP loop would spend 1/a + 1/b per pair: harmonic mean.
            mix = 2.0 / (1.0 / push["ops_per_s"] + 1.0 / pop["ops_per_s"])
            out[f"{prefix}_lpush_rpop"] = {
                "scenario": f"{prefix}_lpush_rpop", "ops": 2 * n, "secs": 2 * n / mix,
                "ops_per_s": mix, "p50_us": None, "p99_us": None,
                "note": "harmonic mean of the LPUSH and RPOP rows"}
        return out

    def _bench_python(self, poll=False):
        if not os.path.exists(PY_BENCH):
            raise FileNotFoundError("bindings/python/bench_python.py does not exist yet")
        sock = self.s.xproc_poll_sock if poll else self.s.xproc_sock
        env = self._py_env(sock, poll)
        cmd = [sys.executable, PY_BENCH, "--socket", sock,
               *self.bounds(self.a.py_iters)]
        r = self._exec(cmd, self.timeout * 4, env=env)
        if r.returncode == 2 and "usage" in r.stderr.lower():
            # The script does not take our flags: fall back to the environment alone.
            r = self._exec([sys.executable, PY_BENCH], self.timeout * 4, env=env)
        rows = [x for x in parse_json_lines(r.stdout) if "scenario" in x and "ops_per_s" in x]
        if r.returncode != 0 or not rows:
            raise RuntimeError(f"bench_python.py exit {r.returncode}: {tail(r.stderr) or tail(r.stdout)}")
        prefix = "pypoll_" if poll else "py_"

        def row_key(name):
            name = name[3:] if name.startswith("py_") else name
            return prefix + name
        return {row_key(str(x["scenario"])): x for x in rows}


    def _build_native(self):
        """Builds the C and C# streaming programs (bench/c/stream.c, bench/csharp/Stream.cs)
        once, untimed; returns {"c" / "csharp": argv, or why it could not be built}."""
        if hasattr(self, "_native_cmds"):
            return self._native_cmds
        out = {}
        lib = os.path.join(RELEASE, "libxproc.so")
        build = os.path.join(ROOT, "target", "bench-native")
        libdir = os.path.join(build, "lib")
        os.makedirs(libdir, exist_ok=True)
        for name in ("libxproc.so.0", "libxproc.so"):
            link = os.path.join(libdir, name)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(lib, link)
        exe = os.path.join(build, "c-stream")
        r = run_cmd(["gcc", "-O2", "-Wall", "-o", exe, os.path.join(HERE, "c", "stream.c"),
                     f"-I{ROOT}/client-c/include", f"-L{libdir}", "-lxproc", f"-Wl,-rpath,{libdir}"])
        out["c"] = [exe] if r.returncode == 0 else f"gcc failed (exit {r.returncode})"
        cs = os.path.join(build, "cs")
        os.makedirs(cs, exist_ok=True)
        shutil.copy(lib, os.path.join(cs, "libxproc.so"))  # DllImport finds it beside the .exe
        src = os.path.join(ROOT, "bindings", "csharp", "src")
        r = run_cmd(["mcs", "-langversion:7.2", "-target:library", "-optimize+",
                     f"-out:{cs}/XProc.dll",
                     *sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith(".cs"))])
        if r.returncode == 0:
            r = run_cmd(["mcs", "-langversion:7.2", "-target:exe", "-optimize+",
                         f"-r:{cs}/XProc.dll", f"-out:{cs}/Stream.exe",
                         os.path.join(HERE, "csharp", "Stream.cs")])
        out["csharp"] = (["mono", os.path.join(cs, "Stream.exe")] if r.returncode == 0
                         else f"mcs failed (exit {r.returncode})")
        self._native_cmds = out
        return out

    def _build_bindings(self):
        """Builds the Go, Java, Node and C# bench programs once; returns {lang: argv or error}."""
        if hasattr(self, "_binding_cmds"):
            return self._binding_cmds
        out = {}
        lib = os.path.join(RELEASE, "libxproc.so")
        build = os.path.join(ROOT, "target", "bench-bindings")  # built once, not timed
        os.makedirs(os.path.join(build, "lib"), exist_ok=True)
        for name in ("libxproc.so.0", "libxproc.so"):
            link = os.path.join(build, "lib", name)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(lib, link)
        libdir = os.path.join(build, "lib")
        go = os.path.join(ROOT, "bindings", "go")
        env = dict(os.environ, CGO_ENABLED="1", CGO_CFLAGS=f"-I{ROOT}/client-c/include",
                   CGO_LDFLAGS=f"-L{libdir} -lxproc -Wl,-rpath,{libdir}")
        exe = os.path.join(build, "go-bench")
        r = run_cmd(["go", "build", "-tags", "xproc_no_pkgconfig", "-o", exe, "./cmd/xproc-bench"],
                    cwd=go, env=env)
        out["go"] = [exe] if r.returncode == 0 else f"go build failed (exit {r.returncode})"
        java = os.path.join(ROOT, "bindings", "java")
        cpfile = os.path.join(build, "java-classpath.txt")
        classes = os.path.join(build, "java")
        r = run_cmd(["mvn", "-B", "-q", "-ntp", "compile", "dependency:build-classpath",
                     "-Dmdep.includeScope=runtime", f"-Dmdep.outputFile={cpfile}"], cwd=java)
        if r.returncode == 0:
            cp = os.pathsep.join([os.path.join(java, "target", "classes"), read_text(cpfile).strip()])
            r = run_cmd(["javac", "-d", classes, "-cp", cp, os.path.join(java, "bench", "Bench.java")])
        out["java"] = (["java", f"-Dxproc.library.path={lib}", "-cp", os.pathsep.join([classes, cp]),
                        "Bench"] if r.returncode == 0 else f"java build failed (exit {r.returncode})")
        node = os.path.join(ROOT, "bindings", "node")
        r = run_cmd(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--omit=dev"],
                    cwd=node)
        out["node"] = (["node", os.path.join(node, "bench", "bench.js")] if r.returncode == 0
                       else f"npm install failed (exit {r.returncode})")
        # C#: Bench.cs compiled with the binding's sources by Mono's mcs; DllImport("xproc")
        # finds the libxproc.so copied beside the exe.
        csharp = os.path.join(ROOT, "bindings", "csharp")
        csdir = os.path.join(build, "csharp")
        os.makedirs(csdir, exist_ok=True)
        shutil.copyfile(lib, os.path.join(csdir, "libxproc.so"))
        exe = os.path.join(csdir, "Bench.exe")
        srcs = sorted(os.path.join(csharp, "src", f) for f in os.listdir(os.path.join(csharp, "src"))
                      if f.endswith(".cs"))
        r = run_cmd(["mcs", "-langversion:7.2", "-optimize+", "-nologo", f"-out:{exe}",
                     os.path.join(csharp, "bench", "Bench.cs"), *srcs])
        out["csharp"] = (["mono", exe] if r.returncode == 0
                         else f"mcs failed (exit {r.returncode})")
        self._binding_cmds = out
        return out

    def _bindings(self):
        rows, failures = {}, []
        env = dict(os.environ, XPROC_SOCKET=self.s.xproc_sock,
                   XPROC_LIB=os.path.join(RELEASE, "libxproc.so"))
        for lang, cmd in self._build_bindings().items():
            if isinstance(cmd, str):
                failures.append(f"{lang}: {cmd}")
                continue
            r = self._exec([*cmd, "--socket", self.s.xproc_sock, *self.bounds(self.a.py_iters)],
                           self.timeout * 4, env=env)
            got = [x for x in parse_json_lines(r.stdout) if "scenario" in x and "ops_per_s" in x]
            if r.returncode != 0 or not got:
                failures.append(f"{lang}: exit {r.returncode}: {tail(r.stderr) or tail(r.stdout)}")
            rows.update({x["scenario"]: x for x in got})
        if not rows:
            raise RuntimeError("; ".join(failures))
        for f in failures:
            log(f"bindings: {f}")
        return rows


def machine_facts(servers):
    def cmd_out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None

    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split()[1] + " kB"
    except OSError:
        pass

    def pymod_version(mod):
        return cmd_out([sys.executable, "-c", f"import {mod}; print({mod}.__version__)"]) or "absent"

    git = cmd_out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = cmd_out(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu,
        "vcpus": os.cpu_count(),
        "memory": mem,
        "kernel": os.uname().release,
        "glibc": os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None,
        "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", "(unset)"),
        "rustc": cmd_out(["rustc", "-V"]),
        "python": sys.version.split()[0],
        "redis_server": cmd_out(["redis-server", "--version"]),
        "redis_py": pymod_version("redis"),
        "hiredis": pymod_version("hiredis"),
        "msgpack": pymod_version("msgpack"),
        "xproc_commit": (git or "?") + (" (+local changes)" if dirty else ""),
        # How an idle vCPU sleeps decides what a cross-vCPU wakeup costs (see docs/BENCHMARKS.md).
        "cpuidle_driver": read_text("/sys/devices/system/cpu/cpuidle/current_driver"),
        "guest_halt_poll_ns": read_text("/sys/module/haltpoll/parameters/guest_halt_poll_ns"),
        "loadavg_at_start": os.getloadavg(),
    }


def measure_memory(tmp, size):
    """RSS growth per item of MEMORY_ITEMS values of `size` bytes: in one queue of a fresh
    xprocd, and in one list of a fresh redis-server (fresh, so that no memory freed by an
    earlier scenario is reused and hides the growth). Returns a dict for the report."""
    out = {"items": MEMORY_ITEMS, "value_bytes": size}
    d = os.path.join(tmp, "mem")
    os.makedirs(d, exist_ok=True)
    servers = Servers(d)
    bench = os.path.join(RELEASE, "xproc-bench")
    try:
        xp = servers._start("xprocd", [os.path.join(RELEASE, "xprocd"), "--socket",
                                       servers.xproc_sock, "--log-level", "warn"],
                            servers.xproc_sock, "xprocd.log")
        rd = servers._start("redis-server", ["redis-server", "--port", "0", "--unixsocket",
                                             servers.redis_sock, "--unixsocketperm", "700",
                                             "--save", "", "--appendonly", "no",
                                             "--daemonize", "no"], servers.redis_sock, "redis.log")
        for key, name, sub, sock in (("xprocd_bytes_per_item", "xprocd", "fill-queue", servers.xproc_sock),
                                     ("redis_bytes_per_item", "redis-server", "redis-fill", servers.redis_sock)):
            before = servers.status(name, "VmRSS")
            r = run_cmd([bench, sub, "--socket", sock, "--name", "bench.mem",
                         "--count", str(MEMORY_ITEMS), "--size", str(size)],
                        capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                raise RuntimeError(f"{sub}: {tail(r.stderr)}")
            after = servers.status(name, "VmRSS")
            out[key] = (after - before) * 1024 / MEMORY_ITEMS
            log(f"memory: {name} {out[key]:.1f} B of RSS per {size} B item")
        del xp, rd
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        out["error"] = str(e)
        log(f"memory: not measured: {e}")
    finally:
        servers.stop()
    return out


def on_sigterm(_signum, _frame):
    raise KeyboardInterrupt


def parse_args():
    p = argparse.ArgumentParser(description="Run every xproc benchmark scenario, interleaved.")
    p.add_argument("--quick", action="store_true",
                   help="2 repeats of ~0.6 s each: validates the harness, numbers are rough")
    p.add_argument("--repeats", type=int, help="repeats per scenario (default 5; quick 2)")
    p.add_argument("--secs", type=float, help="wall-clock cap per scenario run (default 2; quick 0.6)")
    p.add_argument("--iters", type=int, help="op cap per Rust scenario run (default 300000)")
    p.add_argument("--py-iters", type=int, help="op cap per Python scenario run (default 150000)")
    p.add_argument("--warmup", type=int, default=2000, help="untimed ops before each run")
    p.add_argument("--size", type=int, default=64, help="value bytes (default 64, Redis -d 64)")
    p.add_argument("--only", help="comma-separated scenario keys (see SCENARIOS in run.py)")
    p.add_argument("--placements", default="same,split,free",
                   help="comma-separated CPU placements to run: " +
                        "; ".join(f"{k}: {v}" for k, v in PLACEMENTS.items()) + " (default same,split,free)")
    p.add_argument("--idle-threshold", type=float, default=0.15,
                   help="CPU busy fraction below which the box counts as idle (default 0.15)")
    p.add_argument("--max-idle-wait", type=float, help="seconds to wait for idle (default 300; quick 20)")
    p.add_argument("--no-install", action="store_true", help="fail instead of installing packages")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help=f"skip the memory-per-item measurement ({MEMORY_ITEMS:,} items, fresh servers)")
    p.add_argument("--no-build", action="store_true", help="use the existing release binaries")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="output directory")
    a = p.parse_args()
    q = a.quick
    a.repeats = a.repeats or (2 if q else 5)
    a.secs = a.secs or (0.6 if q else 2.0)
    a.iters = a.iters or (60_000 if q else 300_000)
    a.py_iters = a.py_iters or (20_000 if q else 150_000)
    a.max_idle_wait = a.max_idle_wait if a.max_idle_wait is not None else (20.0 if q else 300.0)
    a.placements = [x for x in a.placements.split(",") if x]
    bad = [x for x in a.placements if x not in PLACEMENTS]
    if bad or not a.placements:
        p.error(f"unknown placement(s) {bad}; choose from {', '.join(PLACEMENTS)}")
    if q:
        a.warmup = min(a.warmup, 500)
    return a


def main():
    a = parse_args()
    scenarios = SCENARIOS
    if a.only:
        keep = set(a.only.split(","))
        unknown = keep - {s[0] for s in SCENARIOS}
        if unknown:
            sys.exit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        scenarios = [s for s in SCENARIOS if s[0] in keep]
    for pl in a.placements:
        placement_cpus(pl)  # fails early on a 1-CPU machine asked for "split"

    ensure_tools(not a.no_install)
    if not a.no_build:
        build(with_c=os.path.exists(PY_BENCH))

    # SIGTERM (e.g. from a CI timeout) must still stop the servers: turn it into an exception.
    signal.signal(signal.SIGTERM, on_sigterm)

    tmp = tempfile.mkdtemp(prefix="xpb-", dir="/tmp")  # short path: sun_path is ~107 bytes
    servers = Servers(tmp)
    # placement -> row key -> per-repeat result dicts (None where a repeat failed)
    results = {pl: {} for pl in a.placements}
    errors = {pl: {} for pl in a.placements}  # placement -> row key -> last error message
    busy_seen = []
    started = time.time()
    try:
        per_item = measure_memory(tmp, a.size) if a.memory else None
        servers.start()
        facts = machine_facts(servers)
        rss_start = servers.status("xprocd", "VmRSS")
        runner = Runner(a, servers)
        log(f"{len(scenarios)} scenarios x {len(a.placements)} placements x {a.repeats} repeats, "
            f"{a.secs:g} s cap each{' (quick)' if a.quick else ''}; servers in {tmp}")
        for rep in range(a.repeats):
            # Rotate both orders every repeat so no system always runs first or last.
            pls = a.placements[rep % len(a.placements):] + a.placements[:rep % len(a.placements)]
            for pl in pls:
                servers.pin(placement_cpus(pl)[0])
                shift = rep % len(scenarios)
                for key, _system, _label, _unit, kind, arg in scenarios[shift:] + scenarios[:shift]:
                    busy_seen.append(wait_idle(a.idle_threshold, a.max_idle_wait))
                    try:
                        got = runner.run_measured(key, kind, arg, pl)
                    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                        errors[pl][key] = str(e)
                        results[pl].setdefault(key, [None] * a.repeats)
                        log(f"repeat {rep + 1} [{pl}]: {key}: not run: {e}")
                        continue
                    for row, res in got.items():
                        results[pl].setdefault(row, [None] * a.repeats)[rep] = res
                        errors[pl].pop(row, None)
                        log(f"repeat {rep + 1} [{pl}]: {row}: {res['ops_per_s']:,.0f} ops/s")
        memory = {
            "xprocd_rss_start_kib": rss_start,
            "xprocd_vmhwm_kib": servers.status("xprocd", "VmHWM"),
            "xprocd_rss_end_kib": servers.status("xprocd", "VmRSS"),
            "redis_vmhwm_kib": servers.status("redis-server", "VmHWM"),
            "per_item": per_item,
            "note": (f"peak includes the put_many scenario, which holds up to {a.iters:,} "
                     f"items of {a.size} B in one queue before deleting it"),
        }
    except KeyboardInterrupt:
        log("interrupted; stopping servers")
        raise
    finally:
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    doc = report.build(a, SCENARIOS + tcp.ROWS, RATIOS, PLACEMENTS, results, errors, memory, facts,
                       busy_seen, time.time() - started)
    os.makedirs(a.out, exist_ok=True)
    report.write_all(doc, a.out)
    log(f"wrote {os.path.join(a.out, 'latest.md')} (+ .json, .png)")
    print(open(os.path.join(a.out, "latest.md")).read())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; servers stopped, nothing written")
