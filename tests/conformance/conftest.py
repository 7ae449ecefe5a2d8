"""Starts a real xprocd per test (or per module when asked) on a socket in a temp dir."""

import os
import pathlib
import subprocess
import tempfile
import time

import pytest

from wire import Conn

ROOT = pathlib.Path(__file__).resolve().parents[2]


def xprocd_path():
    path = os.environ.get("XPROCD") or str(ROOT / "target" / "debug" / "xprocd")
    if not os.access(path, os.X_OK):
        pytest.exit(f"no xprocd at {path}: build it (cargo build -p xproc-broker) or set XPROCD",
                    returncode=2)
    return path


class Broker:
    def __init__(self, *flags):
        self.dir = tempfile.mkdtemp(prefix="xpc-", dir="/tmp")
        self.path = os.path.join(self.dir, "x.sock")
        self.log = open(os.path.join(self.dir, "xprocd.log"), "wb")
        self.proc = subprocess.Popen([xprocd_path(), "--socket", self.path, *flags],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        # §1: the socket file appears only once the broker accepts connections.
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path):
            assert self.proc.poll() is None, "xprocd exited at start"
            assert time.monotonic() < deadline, "xprocd did not start"
            time.sleep(0.01)

    def raw(self) -> Conn:
        return Conn(self.path)

    def client(self) -> Conn:
        c = Conn(self.path)
        c.hello()
        return c

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def broker():
    b = Broker()
    yield b
    b.stop()


@pytest.fixture
def small_broker():
    """A broker with a small max_frame (4 KiB), for the size rules."""
    b = Broker("--max-frame", "4096")
    yield b
    b.stop()


@pytest.fixture
def c(broker):
    conn = broker.client()
    yield conn
    conn.close()
