#!/usr/bin/env python3
"""The cross-language matrix runner (README.md beside this file says what it checks).

For each scenario (queue, pipe, direct_pipe, dict) and each ordered pair of languages (sender, receiver),
it runs the receiver's and the sender's peer programs as two concurrent processes against one
real xprocd, on an object name of their own, and counts the case passed when both exit 0 and
each printed `ok` for every step it owes. It then prints a pass/fail table per scenario and a
summary, stops the broker and exits 1 on any failure.

It builds what it needs first: libxproc and xprocd (release), the Rust peer, the C peer (gcc),
the C# peer (mcs), the Go peer (go build), the Java binding and peer (mvn, javac), the Node
binding's dependency (npm); and checks that the Python and Node bindings load. A language whose toolchain or
binding is missing is not skipped: every case involving it fails, with the reason.

It also runs one canary per receiving language: a corrupting sender (python/corrupt.py) puts
the cases with some values subtly wrong, and the receiver must fail exactly those. A checker
that cannot fail would otherwise pass the whole matrix.

Usage: run.py [--langs rust,c,python,csharp,go,java,node] [--scenarios queue,pipe,direct_pipe,dict] [--timeout SECS]
              [--jobs N] [--verbose] [--no-canary] [--no-cargo-build]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = HERE / "build"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"

LANGS = ("rust", "c", "python", "csharp", "go", "java", "node")
SCENARIOS = ("queue", "pipe", "direct_pipe", "dict")
# `direct_pipe` is the peers' `pipe` scenario with the receiver holding its end before the
# sender opens the other: the broker then makes the pipe direct (docs/PROTOCOL.md §6.5.1) and
# every value, 16 MiB included, goes peer to peer on a socketpair between the two languages.
# (In `pipe` the sender bursts before the receiver opens, so the values wait in the broker.)
# The broker's log must say that the pipe went direct, or the case fails.
PEER_SCENARIO = {"direct_pipe": "pipe"}

# The value cases, by name, in the order the queue and pipe scenarios carry them. Each peer
# hard-codes the values natively; the runner holds the names only, to check that every peer
# sent and checked every one of them (a peer that skipped a case would otherwise pass).
CASES = (
    "nil", "true", "false", "zero", "minus_one", "i64_min", "i64_max", "u64_max",
    "two_pow_53_plus_1", "float_1_5", "nan", "pos_inf", "neg_inf", "neg_zero",
    "empty_string", "unicode_string", "empty_bytes", "bytes_with_zeros", "nested_array",
    "nested_map", "int_key_map", "mixed_array", "bytes_1mib", "bytes_16mib",
)


def owed(role: str, scenario: str) -> list[str]:
    """The `ok` lines a peer in `role` must print for `scenario`: every case, then the dict's
    integer key, then `end` (receiver: nothing more was there; sender: pipe closed or the dict's
    done event set)."""
    steps = list(CASES)
    if scenario == "dict":
        steps.append("dict_int_key")
    if role == "recv" or scenario != "queue":
        steps.append("end")
    return steps


@dataclass
class Peer:
    """How to start one language's peer, or why it cannot be started."""

    lang: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def run_step(what: str, argv: list[str], env: dict | None = None,
             stream: bool = False) -> str | None:
    """Runs one build command from the repository root, echoing it; returns None on success,
    else why it failed (with the tail of its output, unless `stream` showed it as it ran:
    cargo, whose cold build takes minutes and should not look hung)."""
    print(f"  $ {' '.join(str(a) for a in argv)}", flush=True)
    try:
        proc = subprocess.run(argv, cwd=ROOT, env=env, text=True,
                              stdout=None if stream else subprocess.PIPE,
                              stderr=None if stream else subprocess.STDOUT)
    except FileNotFoundError:
        return f"{what}: {argv[0]} not found"
    if proc.returncode != 0:
        if stream:
            return f"{what} failed (exit {proc.returncode}); its output is above"
        tail = "\n".join(proc.stdout.strip().splitlines()[-30:])
        return f"{what} failed (exit {proc.returncode}):\n{tail}"
    return None


def build_cargo() -> str | None:
    """Builds xprocd, libxproc and the Rust peer (release: the other languages load the
    release libxproc). The broker is needed by every case, so a failure here stops the run."""
    if shutil.which("cargo") is None:
        return "cargo not found: install Rust (rustup) to build xprocd and libxproc"
    return (run_step("building xprocd and libxproc",
                     ["cargo", "build", "--release", "-p", "xproc-broker", "-p", "xproc-c"],
                     stream=True)
            or run_step("building the Rust peer",
                        ["cargo", "build", "--release", "-p", "xproc-tests",
                         "--bin", "matrix_peer"], stream=True))


def lib_dir() -> Path:
    """A directory holding libxproc.so under its SONAME (libxproc.so.0) and its link name,
    laid out as an install would; the C peer's rpath and Mono's search path point here."""
    lib = BUILD / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    for name in ("libxproc.so.0", "libxproc.so"):
        link = lib / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(TARGET / "libxproc.so")
    return lib


def build_rust() -> Peer:
    exe = TARGET / "matrix_peer"
    if not exe.is_file():
        return Peer("rust", error=f"{exe} was not built")
    return Peer("rust", argv=[str(exe)])


def build_c() -> Peer:
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        return Peer("c", error=f"{cc} not found: install gcc (Debian: apt-get install gcc)")
    lib = lib_dir()
    exe = BUILD / "c_peer"
    err = run_step("compiling the C peer", [
        cc, "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic",
        "-I", str(ROOT / "client-c" / "include"), "-o", str(exe), str(HERE / "c" / "peer.c"),
        "-L", str(lib), "-lxproc", f"-Wl,-rpath,{lib}", "-lm",
    ])
    if err:
        return Peer("c", error=err)
    return Peer("c", argv=[str(exe)])


def build_python() -> Peer:
    """The Python peer runs the binding from the source tree (bindings/python) over the
    release libxproc; the check imports it once so a broken binding fails with its own
    traceback rather than 16 times over."""
    python = shutil.which("python3") or sys.executable
    package = ROOT / "bindings" / "python"
    if not package.is_dir():
        return Peer("python", error=f"the Python binding is missing: {package} does not exist")
    env = {
        "PYTHONPATH": os.pathsep.join([str(package), str(package / "src")]),
        "XPROC_LIB": str(TARGET / "libxproc.so"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    err = run_step("importing the Python binding", [python, "-c", "import xproc"],
                   env={**os.environ, **env})
    if err:
        return Peer("python", error=err)
    return Peer("python", argv=[python, str(HERE / "python" / "peer.py")], env=env)


def build_csharp() -> Peer:
    """Compiles Peer.cs with the binding's sources into one exe (Mono's mcs, C# 7.2)."""
    for tool, package in (("mcs", "mono-mcs"), ("mono", "mono-runtime")):
        if shutil.which(tool) is None:
            return Peer("csharp", error=f"{tool} not found: install Mono "
                                        f"(Debian: apt-get install {package})")
    binding = ROOT / "bindings" / "csharp"
    sources = sorted(p for p in (binding / "src").rglob("*.cs")) if binding.is_dir() else []
    if not sources:
        return Peer("csharp", error=f"the C# binding is missing: no sources in {binding}/src")
    lib = lib_dir()
    exe = BUILD / "Peer.exe"
    # One exe holding the peer and the binding's sources, compiled as the binding's own tests
    # are: no separate assembly to locate at run time.
    err = run_step("compiling the C# peer", [
        "mcs", "-langversion:7.2", "-nologo", f"-out:{exe}", str(HERE / "csharp" / "Peer.cs"),
        *map(str, sources),
    ])
    if err:
        return Peer("csharp", error=err)
    return Peer("csharp", argv=["mono", "--debug", str(exe)],
                env={"LD_LIBRARY_PATH": os.pathsep.join(
                    filter(None, [str(lib), os.environ.get("LD_LIBRARY_PATH")]))})


def build_go() -> Peer:
    """Builds go/peer.go with the Go binding (cgo), the flags given directly
    (-tags xproc_no_pkgconfig) for the header in client-c/include and the lib/ layout."""
    if shutil.which("go") is None:
        return Peer("go", error="go not found: install Go 1.21+ (https://go.dev/dl, or Debian's golang)")
    lib = lib_dir()
    exe = BUILD / "go_peer"
    env = {**os.environ, "CGO_ENABLED": "1",
           "CGO_CFLAGS": f"-I{ROOT / 'client-c' / 'include'}",
           "CGO_LDFLAGS": f"-L{lib} -lxproc -Wl,-rpath,{lib}"}
    err = run_step("building the Go peer", [
        "go", "build", "-C", str(HERE / "go"), "-tags", "xproc_no_pkgconfig", "-o", str(exe), ".",
    ], env=env)
    if err:
        return Peer("go", error=err)
    return Peer("go", argv=[str(exe)])


def build_java() -> Peer:
    """Compiles the Java binding (mvn, which fetches JNA from Maven Central) and java/Peer.java
    against it; the peer runs with -Dxproc.library.path at the release libxproc."""
    for tool in ("java", "javac", "mvn"):
        if shutil.which(tool) is None:
            return Peer("java", error=f"{tool} not found: install a JDK 17+ and Maven")
    binding = ROOT / "bindings" / "java"
    classpath = BUILD / "java-classpath.txt"
    err = run_step("building the Java binding", [
        "mvn", "-B", "-q", "-ntp", "-f", str(binding / "pom.xml"), "compile",
        "dependency:build-classpath", "-Dmdep.includeScope=runtime",
        f"-Dmdep.outputFile={classpath}",
    ])
    if err:
        return Peer("java", error=err)
    cp = os.pathsep.join([str(binding / "target" / "classes"), classpath.read_text().strip()])
    out = BUILD / "java"
    out.mkdir(parents=True, exist_ok=True)
    err = run_step("compiling the Java peer", [
        "javac", "-d", str(out), "-cp", cp, str(HERE / "java" / "Peer.java"),
    ])
    if err:
        return Peer("java", error=err)
    return Peer("java", argv=["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                              f"-Dxproc.library.path={TARGET / 'libxproc.so'}",
                              "-cp", os.pathsep.join([str(out), cp]), "Peer"])


def build_node() -> Peer:
    """Installs the Node binding's dependency (koffi, from the npm registry) and checks that it
    loads libxproc."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return Peer("node", error=f"{tool} not found: install Node.js 18+ with npm")
    binding = ROOT / "bindings" / "node"
    err = run_step("installing the Node binding's dependencies", [
        "npm", "install", "--prefix", str(binding), "--no-audit", "--no-fund", "--loglevel=error",
        "--omit=dev",
    ])
    env = {"XPROC_LIB": str(TARGET / "libxproc.so")}
    err = err or run_step("loading the Node binding", [
        "node", "-e", f"console.log(require({str(binding)!r}).libraryVersion())",
    ], env={**os.environ, **env})
    if err:
        return Peer("node", error=err)
    return Peer("node", argv=["node", str(HERE / "node" / "peer.js")], env=env)


BUILDERS = {"rust": build_rust, "c": build_c, "python": build_python, "csharp": build_csharp,
            "go": build_go, "java": build_java, "node": build_node}


class Broker:
    """One xprocd on a temporary socket for the whole run; stopped with SIGTERM (its
    shutdown path), then SIGKILL if it hangs."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="xproc-matrix."))
        self.socket = self.dir / "xprocd.sock"
        self.log = self.dir / "xprocd.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> str | None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(TARGET / "xprocd"), "--socket", str(self.socket),
                 # info: the `direct_pipe` cases look for "pipe goes direct" in the log.
                 "--log-level", "info",
                 # bytes_16mib: a 16 MiB value (16 MiB + 5 bytes encoded) is above the default
                 # max_frame, inline or as a memfd alike (PROTOCOL.md §4.1, §8).
                 "--max-frame", "32M"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.socket.exists():
                return None
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return f"xprocd did not start; its log:\n{self.log.read_text(errors='replace')}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> str | None:
        """Stops the broker; returns a complaint if it had died or did not stop cleanly."""
        complaint = None
        if self.proc is not None:
            if self.proc.poll() is not None:
                complaint = f"xprocd died during the run (exit {self.proc.returncode})"
            else:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    code = self.proc.wait(timeout=10)
                    if code != 0:
                        complaint = f"xprocd exited {code} on SIGTERM"
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    complaint = "xprocd did not stop within 10 s of SIGTERM"
            if complaint:
                complaint += f"; its log:\n{self.log.read_text(errors='replace')}"
        shutil.rmtree(self.dir, ignore_errors=True)
        return complaint


@dataclass
class Outcome:
    """One case's result: passed, or the lines that explain why not."""

    name: str
    passed: bool
    details: list[str]


def run_peer(peer: Peer, role: str, scenario: str, obj: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([*peer.argv, role, scenario, obj],
                            env={**env, **peer.env}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", start_new_session=True)


def finish(proc: subprocess.Popen, deadline: float) -> tuple[int | None, str, str]:
    """Waits for a peer until `deadline`; kills its process group if it is still running then.
    Returns (exit code or None if it was killed, stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return None, out, err


def judge(lang: str, role: str, scenario: str, code: int | None, out: str, err: str,
          timeout: float) -> list[str]:
    """Everything wrong with one peer's run (empty: it did its part)."""
    who = f"{role} ({lang})"
    problems = []
    lines = out.splitlines()
    problems += [f"{who}: {line}" for line in lines if line.startswith("FAIL")]
    done = {line[3:] for line in lines if line.startswith("ok ")}
    missing = [step for step in owed(role, scenario) if step not in done]
    if missing:
        problems.append(f"{who}: never reported {', '.join(missing)}")
    if code is None:
        problems.append(f"{who}: still running after {timeout:g} s; killed")
    elif code != 0:
        problems.append(f"{who}: exited {code}")
    if problems and err.strip():
        problems += [f"{who} stderr: {line}" for line in err.strip().splitlines()[-15:]]
    return problems


def run_case(scenario: str, sender: Peer, receiver: Peer, socket: Path, timeout: float,
             seq: int) -> Outcome:
    name = f"{scenario}_{sender.lang}_to_{receiver.lang}"
    broken = {p.lang: p.error for p in (sender, receiver) if p.error}
    if broken:
        return Outcome(name, False, [f"{lang} peer unavailable: {err.splitlines()[0]}"
                                     for lang, err in broken.items()])
    # A unique object per case (and per run), so no case can see another's leftovers.
    obj = f"matrix-{os.getpid()}-{seq}-{name}"
    env = {**os.environ, "XPROC_SOCKET": str(socket)}
    deadline = time.monotonic() + timeout
    peer_scenario = PEER_SCENARIO.get(scenario, scenario)
    recv = run_peer(receiver, "recv", peer_scenario, obj, env)
    if scenario == "direct_pipe":
        held = wait_for_reader(obj, env, deadline)
        if held:
            os.killpg(recv.pid, signal.SIGKILL)
            recv.communicate()
            return Outcome(name, False, [held])
    send = run_peer(sender, "send", peer_scenario, obj, env)
    # Collect the sender first (it finishes first); the receiver's pipe buffer is roomy
    # enough for its ~25 short lines.
    s_code, s_out, s_err = finish(send, deadline)
    r_code, r_out, r_err = finish(recv, deadline)
    details = (judge(receiver.lang, "recv", peer_scenario, r_code, r_out, r_err, timeout)
               + judge(sender.lang, "send", peer_scenario, s_code, s_out, s_err, timeout))
    if scenario == "direct_pipe" and not went_direct(socket.parent / "xprocd.log", obj):
        details.append(f"the broker's log never says that pipe {obj} went direct")
    return Outcome(name, not details, details)


def wait_for_reader(obj: str, env: dict, deadline: float) -> str | None:
    """Waits until the receiver holds end b of pipe `obj` (the Rust CLI's `stat`); returns
    what went wrong, if anything."""
    while time.monotonic() < deadline:
        r = subprocess.run([str(TARGET / "xproc"), "stat", obj], env=env, capture_output=True,
                           text=True, timeout=30)
        for line in r.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == "b_holder_pid" and value.strip() not in ("", "-"):
                return None
        time.sleep(0.05)
    return f"the receiver never held end b of {obj}"


def went_direct(log: Path, obj: str) -> bool:
    """Whether the broker logged that pipe `obj` went direct (an info line, PROTOCOL.md
    §6.5.1), matching the name exactly."""
    text = log.read_text(errors="replace")
    return any("pipe goes direct" in line and f'pipe="{obj}"' in line
               for line in text.splitlines())


def run_canary(receiver: Peer, python: Peer, socket: Path, timeout: float, seq: int) -> Outcome:
    """Runs the canary sender (python/corrupt.py: the cases with some values subtly wrong)
    against `receiver`, which passes only if it fails exactly the mutated cases: a checker
    that cannot fail would otherwise pass the whole matrix."""
    name = f"canary_queue_to_{receiver.lang}"
    broken = {p.lang: p.error for p in (python, receiver) if p.error}
    if broken:
        return Outcome(name, False, [f"{lang} peer unavailable: {err.splitlines()[0]}"
                                     for lang, err in broken.items()])
    corrupt = Peer("python", argv=[python.argv[0], str(HERE / "python" / "corrupt.py")],
                   env=python.env)
    obj = f"matrix-{os.getpid()}-{seq}-{name}"
    env = {**os.environ, "XPROC_SOCKET": str(socket)}
    deadline = time.monotonic() + timeout
    # The sender goes first and alone: its extra item must be queued before the receiver
    # looks for one (run together, the receiver could find the queue empty a moment early).
    s_code, s_out, s_err = finish(run_peer(corrupt, "send", "queue", obj, env), deadline)
    r_code, r_out, r_err = finish(run_peer(receiver, "recv", "queue", obj, env), deadline)
    details = []
    if s_code != 0:
        details.append(f"canary sender exited {s_code}: {s_err.strip()[-2000:]}")
    mutated = {line.split()[1] for line in s_out.splitlines() if line.startswith("mutated ")}
    lines = r_out.splitlines()
    failed = {line[5:].split(":")[0] for line in lines if line.startswith("FAIL ")}
    passed = {line[3:] for line in lines if line.startswith("ok ")}
    want_failed = mutated | {"end"}
    want_passed = set(CASES) - mutated
    if failed != want_failed:
        details.append(f"recv ({receiver.lang}) should have failed exactly "
                       f"{', '.join(sorted(want_failed))}; it failed "
                       f"{', '.join(sorted(failed)) or 'nothing'}")
    if passed != want_passed:
        details.append(f"recv ({receiver.lang}) should have passed exactly the "
                       f"{len(want_passed)} unchanged cases; wrong: "
                       f"{', '.join(sorted(passed ^ want_passed))}")
    if r_code != 1:
        details.append(f"recv ({receiver.lang}) exited {r_code}, not 1")
    if details:
        details += [f"recv ({receiver.lang}): {line}" for line in lines]
        details += [f"recv ({receiver.lang}) stderr: {line}"
                    for line in r_err.strip().splitlines()[-15:]]
    return Outcome(name, not details, details)


def table(scenario: str, langs: list[str], results: dict[str, Outcome]) -> str:
    corner = f"{scenario}: sender \\ receiver"
    first = len(corner) + 2
    width = max(len(x) for x in langs) + 2
    rows = [corner.ljust(first) + "".join(r.ljust(width) for r in langs).rstrip()]
    for s in langs:
        cells = []
        for r in langs:
            outcome = results.get(f"{scenario}_{s}_to_{r}")
            cells.append("-" if outcome is None else "pass" if outcome.passed else "FAIL")
        rows.append(s.rjust(first - 2).ljust(first) + "".join(c.ljust(width) for c in cells).rstrip())
    return "\n".join(rows)


def parse_list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in items if x not in allowed]
    if unknown or not items:
        raise SystemExit(f"unknown {what}: {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(allowed)}")
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--langs", default=",".join(LANGS),
                    help="comma-separated languages (default: all seven)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated scenarios (default: queue,pipe,dict)")
    ap.add_argument("--timeout", type=float, default=90.0,
                    help="seconds one case (both peers) may take before it is killed")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    ap.add_argument("--verbose", action="store_true", help="print every case's details")
    ap.add_argument("--no-cargo-build", action="store_true",
                    help="use the xprocd, libxproc and Rust peer already in target/release "
                         "(while the workspace is mid-edit)")
    ap.add_argument("--no-canary", action="store_true",
                    help="skip the canaries (a corrupting sender that every receiver must "
                         "catch); they need the Python peer")
    args = ap.parse_args()
    langs = parse_list(args.langs, LANGS, "language")
    scenarios = parse_list(args.scenarios, SCENARIOS, "scenario")

    print("== building", flush=True)
    BUILD.mkdir(parents=True, exist_ok=True)
    err = None if args.no_cargo_build else build_cargo()
    if err:
        print(f"FAIL build: {err}", flush=True)
        print("matrix: 0 passed, 1 failed")
        return 1
    peers = {}
    if not args.no_canary and "python" not in langs:
        langs_to_build = [*langs, "python"]
    else:
        langs_to_build = langs
    for lang in langs_to_build:
        peers[lang] = BUILDERS[lang]()
        if peers[lang].error:
            print(f"FAIL {lang} peer: {peers[lang].error}", flush=True)

    broker = Broker()
    err = broker.start()
    if err:
        print(f"FAIL broker: {err}")
        broker.stop()
        print("matrix: 0 passed, 1 failed")
        return 1
    canaries = 0 if args.no_canary else len(langs)
    print(f"== running {len(scenarios) * len(langs) ** 2} cases and {canaries} canaries "
          f"against xprocd at {broker.socket}", flush=True)

    results: dict[str, Outcome] = {}
    print_lock = threading.Lock()
    plan = [(sc, s, r) for sc in scenarios for s in langs for r in langs]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_case, sc, peers[s], peers[r], broker.socket,
                                   args.timeout, i) for i, (sc, s, r) in enumerate(plan)]
            if not args.no_canary:
                futures += [pool.submit(run_canary, peers[r], peers["python"], broker.socket,
                                        args.timeout, len(plan) + i)
                            for i, r in enumerate(langs)]
            for future in concurrent.futures.as_completed(futures):
                outcome = future.result()
                results[outcome.name] = outcome
                with print_lock:
                    print(f"{'ok  ' if outcome.passed else 'FAIL'} {outcome.name}", flush=True)
                    if args.verbose or not outcome.passed:
                        for line in outcome.details:
                            print(f"       {line}")
    finally:
        complaint = broker.stop()

    print()
    for sc in scenarios:
        print(table(sc, langs, results))
        print()
    if not args.no_canary:
        print("canaries (a corrupting sender; the receiver must catch exactly its changes): "
              + ", ".join(f"{r} {'pass' if results[f'canary_queue_to_{r}'].passed else 'FAIL'}"
                          for r in langs if f"canary_queue_to_{r}" in results))
        print()
    failed = sorted(name for name, o in results.items() if not o.passed)
    passed = len(results) - len(failed)
    if complaint:
        print(f"FAIL broker: {complaint}")
    if failed:
        print("failed cases: " + ", ".join(failed))
    print(f"matrix: {passed} passed, {len(failed) + (1 if complaint else 0)} failed")
    return 1 if failed or complaint else 0


if __name__ == "__main__":
    sys.exit(main())
