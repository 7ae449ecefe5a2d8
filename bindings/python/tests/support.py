"""Test support: a real ``xprocd`` (:class:`Broker`), finding the workspace's binaries, and
helpers for waiting on other processes (the fixtures are in conftest.py).

The broker binary is ``$XPROCD``, else ``target/release/xprocd``, else ``target/debug/xprocd``
(``run_tests.sh`` builds it). A missing binary fails the tests with the command that builds
it; nothing is skipped. Each module's broker listens on its own short socket path (sun_path
holds ~107 bytes), is stopped with SIGTERM (never SIGINT: a background process may ignore
it), and is killed by a watchdog if a test hangs, so that blocked calls fail instead of
hanging CI.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

import xproc

#: How long one module may keep its broker before the watchdog kills it.
WATCHDOG_SECS = 300.0

#: How long to wait for something the test expects to happen soon (a worker to start, the
#: broker to list a waiter). Generous: the machine is small and shared.
PATIENCE = 30.0


def find_binary(name: str, env: Optional[str], build: str) -> str:
    """``$env`` if set, else ``target/release/NAME``, else ``target/debug/NAME``; fails the
    test (with ``build``, the command that makes it) when none exists."""
    if env and os.environ.get(env):
        return os.environ[env]
    for profile in ("release", "debug"):
        path = os.path.join(ROOT, "target", profile, name)
        if os.path.isfile(path):
            return path
    pytest.fail(f"{name} not found in target/release or target/debug: run `{build}` first")


def xprocd_path() -> str:
    """The broker binary."""
    return find_binary("xprocd", "XPROCD", "cargo build --release -p xproc-broker")


class Broker:
    """One ``xprocd`` process on its own socket."""

    def __init__(self, *args: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="xpy-", dir="/tmp")
        self.path = os.path.join(self.dir, "x.sock")
        self.log_path = os.path.join(self.dir, "xprocd.log")
        env = dict(os.environ)
        env.pop("XPROC_SOCKET", None)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [xprocd_path(), "--socket", self.path, "--log-level", "info", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )
        # The watchdog is a process, not a thread: tests fork, and forking a multi-threaded
        # process is deprecated (Python 3.12+ warns).
        self._watchdog = subprocess.Popen(
            [
                "sh",
                "-c",
                f"sleep {WATCHDOG_SECS:.0f} && echo 'watchdog: tests ran longer than "
                f"{WATCHDOG_SECS:.0f}s; killing xprocd {self.pid}' >&2 && kill -9 {self.pid}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + PATIENCE
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"xprocd exited at startup; its log:\n{self.log()}")
            if os.path.exists(self.path):
                try:
                    xproc.connect(self.path).close()
                    return
                except xproc.DeniedError:
                    return  # it answered (an allow-list test)
                except xproc.XprocError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"xprocd did not start; its log:\n{self.log()}")
            time.sleep(0.01)

    @property
    def pid(self) -> int:
        """The broker's pid."""
        return self.proc.pid

    def log(self) -> str:
        """What the broker logged so far."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def env(self) -> dict:
        """An environment for worker processes: ``XPROC_SOCKET`` points here, and the
        package and library are found as in this process."""
        env = dict(os.environ, XPROC_SOCKET=self.path)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env.setdefault("XPROC_LIB", xproc.LIB_PATH)
        return env

    def stop(self) -> int:
        """SIGTERM, then wait (SIGKILL after PATIENCE); returns the exit status."""
        self._watchdog.kill()
        self._watchdog.wait()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(PATIENCE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


def eventually(what: str, check: Callable[[], bool], patience: float = PATIENCE) -> None:
    """Polls ``check`` until true; fails naming ``what`` after ``patience`` seconds. For
    waiting on other processes without sleeping and hoping."""
    deadline = time.monotonic() + patience
    pause = 0.001
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {patience}s waiting for: {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def waits_on(client: xproc.Client, what: str, pid: Optional[int] = None) -> bool:
    """Whether the broker lists a client (with ``pid``, if given) blocked in ``what``
    (e.g. ``"queue.get tasks"``)."""
    return any(
        (pid is None or c["pid"] == pid) and any(what in w for w in c["waits"])
        for c in client.clients()
    )


def python_worker(broker: Broker, code: str, *args: str) -> subprocess.Popen:
    """Starts ``python -c code args...`` connected to ``broker`` (``XPROC_SOCKET``), with
    stdout and stderr captured."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=broker.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def same(expected, got) -> bool:
    """Equal, with the same types all the way down (``1 == 1.0 == True`` is not enough), and
    floats compared with their sign."""
    if type(expected) is not type(got):
        return False
    if isinstance(expected, float):
        return (math.isnan(expected) and math.isnan(got)) or (
            expected == got and math.copysign(1, expected) == math.copysign(1, got)
        )
    if isinstance(expected, list):
        return len(expected) == len(got) and all(same(a, b) for a, b in zip(expected, got))
    if isinstance(expected, dict):
        return list(expected) == list(got) and all(same(expected[k], got[k]) for k in expected)
    return bool(expected == got)
