"""Issue 15's scenarios (event loops, waiting on many objects), hooked into run.py.

Rows:
  py_asyncio_100 / py_threads_100  100 coroutines (xproc.aio) vs 100 threads, one connection,
                                   put+get (bench/async_py.py)
  xproc_tokio / xproc_sync_pipelined  1000 tokio tasks on one connection vs the blocking client's
                                   pipelined put_many+get_many (xproc-bench, bench/src/aio.rs)
  xproc_sync_pipelined_single      the blocking client pipelining single requests: put_many 1000
                                   + 1000 single gets started together (the tokio tasks' requests)
  xproc_get_any8 / xproc_get_one   put + get_any over 8 queues vs put + get on one queue
Targets (issue 15): asyncio >= 1.0x threads; tokio >= 1.0x the sync pipelined rate; get_any
over 8 within 10 % of a single-queue get (ratio >= 0.9).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SCENARIOS = [
    ("xproc_get_one", "xproc", "queue put+get, 1 queue (baseline for get_any)", "put or get",
     "rust", "xproc-get-one"),
    ("xproc_get_any8", "xproc", "put to 1 of 8 queues + get_any over the 8, Rust", "put or get",
     "rust", "xproc-get-any8"),
    ("xproc_sync_pipelined", "xproc", "blocking client, put_many 1000 + get_many 1000, Rust",
     "put or get", "rust", "xproc-sync-pipelined"),
    ("xproc_sync_pipelined_single", "xproc",
     "blocking client, put_many 1000 + 1000 single gets pipelined (event-loop API), Rust",
     "put or get", "rust", "xproc-sync-pipelined-single"),
    ("xproc_tokio", "xproc", "1000 tokio tasks, 1 connection, put+get (xproc::aio)", "put or get",
     "rust", "xproc-tokio"),
    ("py_async", "xproc (Python)", "100 asyncio coroutines vs 100 threads, 1 connection",
     "put or get", "async_py", None),
]

RATIOS = [
    ("get_any8_vs_get", "get_any over 8 queues / get on 1 queue (Rust, put+get loop)",
     "xproc_get_any8", "xproc_get_one", 0.9),
    ("tokio_vs_sync_pipelined", "1000 tokio tasks put+get / blocking client pipelined put+get",
     "xproc_tokio", "xproc_sync_pipelined", 1.0),
    ("tokio_vs_sync_pipelined_single",
     "1000 tokio tasks put+get / blocking client pipelining single put and get requests",
     "xproc_tokio", "xproc_sync_pipelined_single", 1.0),
    ("py_asyncio_vs_threads", "100 asyncio coroutines / 100 threads, one connection (Python)",
     "py_asyncio_100", "py_threads_100", 1.0),
]


def run_python(runner):
    """Runs bench/async_py.py in both modes; returns {row: result}."""
    from run import RELEASE, parse_json_lines, tail  # noqa: E402  (run.py's helpers)

    env = dict(os.environ, XPROC_SOCKET=runner.s.xproc_sock)
    lib = os.path.join(RELEASE, "libxproc.so")
    if os.path.exists(lib):
        env["XPROC_LIB"] = lib
    pkg = os.path.join(os.path.dirname(HERE), "bindings", "python")
    env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
    out = {}
    for mode in ("threads", "asyncio"):
        cmd = [sys.executable, os.path.join(HERE, "async_py.py"), mode,
               "--socket", runner.s.xproc_sock, "--secs", str(max(1.0, runner.a.secs))]
        r = runner._exec(cmd, runner.timeout * 2, env=env)
        rows = parse_json_lines(r.stdout)
        if r.returncode != 0 or not rows:
            raise RuntimeError(f"async_py.py {mode} exit {r.returncode}: {tail(r.stderr)}")
        out[rows[-1]["scenario"]] = rows[-1]
    return out
