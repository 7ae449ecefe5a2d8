#!/usr/bin/env python3
"""Instructions per op, server and client, under valgrind's callgrind.

Wall-clock numbers on this shared VM move ±10-25 % between runs; instruction counts do not.
This runs each server (xprocd, redis-server) and each client under callgrind twice, with a
small and a large op count, and reports (Ir(large) - Ir(small)) / (ops difference): the
user-space instructions one op costs, start-up and shutdown cancelled out. Kernel time (the
syscalls, the context switches, most of a round trip here) is not counted: see
docs/BENCHMARKS.md, "Where the time goes".

    python3 bench/profile.py [--only xproc-putget,xproc-dict,redis-list,redis-hash]
                             [--small 2000] [--large 12000] [--top 15]

With --top N it also prints the N costliest functions (inclusive) of the large xprocd run and of
its client. Client figures include the harness's own per-op work (one clock read, and sorting
the latency samples at the end), the same for every client.
Needs valgrind (apt-get install valgrind) and the release binaries (built if missing).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RELEASE = os.path.join(ROOT, "target", "release")
BENCH = os.path.join(RELEASE, "xproc-bench")

# scenario -> which server it talks to
SCENARIOS = {"xproc-putget": "xprocd", "xproc-dict": "xprocd",
             "redis-list": "redis-server", "redis-hash": "redis-server"}


def wait_socket(path, proc, secs=60):
    deadline = time.time() + secs  # valgrind start-up is slow
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return
        except OSError:
            time.sleep(0.1)
        finally:
            s.close()
    raise RuntimeError(f"nothing accepted on {path} within {secs} s")


def total_ir(outfile):
    """The 'totals:' (or 'summary:') line of a callgrind output file."""
    with open(outfile) as f:
        for line in f:
            m = re.match(r"(?:totals|summary):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError(f"no totals in {outfile}")


def one(tmp, scenario, ops, tag):
    """Server and client under callgrind for `ops` ops; returns (server Ir, client Ir, files)."""
    server = SCENARIOS[scenario]
    sock = os.path.join(tmp, f"{tag}.sock")
    s_out = os.path.join(tmp, f"cg.server.{tag}")
    c_out = os.path.join(tmp, f"cg.client.{tag}")
    vg = ["valgrind", "--tool=callgrind", "--quiet"]
    if server == "xprocd":
        cmd = [os.path.join(RELEASE, "xprocd"), "--socket", sock, "--log-level", "warn"]
    else:
        cmd = ["redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
               "--save", "", "--appendonly", "no"]
    srv = subprocess.Popen(vg + [f"--callgrind-out-file={s_out}"] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_socket(sock, srv)
        subprocess.run(vg + [f"--callgrind-out-file={c_out}", BENCH, scenario, "--socket", sock,
                             "--iters", str(ops), "--secs", "600", "--warmup", "0"],
                       check=True, stdout=subprocess.DEVNULL, timeout=900)
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    return total_ir(s_out), total_ir(c_out), (s_out, c_out)


def main():
    p = argparse.ArgumentParser(description="User-space instructions per op, under callgrind.")
    p.add_argument("--only", help="comma-separated: " + ",".join(SCENARIOS))
    p.add_argument("--small", type=int, default=2000)
    p.add_argument("--large", type=int, default=12000)
    p.add_argument("--top", type=int, default=0,
                   help="print the N costliest functions of xprocd and of the xproc client")
    a = p.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found: apt-get install valgrind")
    scen = a.only.split(",") if a.only else list(SCENARIOS)
    for s in scen:
        if s not in SCENARIOS:
            sys.exit(f"unknown scenario {s}")
    if not (os.path.exists(BENCH) and os.path.exists(os.path.join(RELEASE, "xprocd"))):
        subprocess.run(["cargo", "build", "--release", "-p", "xproc-broker", "-p", "xproc-bench"],
                       cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="xpb-cg-", dir="/tmp")
    try:
        print("| scenario | server | server Ir/op | client Ir/op |\n|---|---|---|---|")
        for s in scen:
            s1, c1, _ = one(tmp, s, a.small, f"{s}-s")
            s2, c2, files = one(tmp, s, a.large, f"{s}-l")
            d = a.large - a.small
            print(f"| {s} | {SCENARIOS[s]} | {(s2 - s1) / d:,.0f} | {(c2 - c1) / d:,.0f} |",
                  flush=True)
            if a.top and SCENARIOS[s] == "xprocd":
                for who, path in zip(("xprocd", "client"), files):
                    r = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                                       capture_output=True, text=True)
                    rows = [l for l in r.stdout.splitlines() if re.match(r"\s*[\d,]+ \(", l)]
                    print(f"\n{s}: costliest {who} functions, inclusive, {a.large} ops:")
                    for l in rows[:a.top]:
                        print("   ", l[:170])
                print()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
