"""Ctrl-C and other signals during blocking calls: a real SIGINT sent to a real Python process
blocked in the broker raises KeyboardInterrupt there at once, and the interrupted request takes
nothing (it is cancelled at the broker); a handler that does not raise lets the call go on
waiting, as Python's own blocking calls do (PEP 475)."""

import os
import signal

from support import eventually, python_worker, waits_on

# Each worker installs Python's own SIGINT handler explicitly: a process started in the
# background by a non-interactive shell inherits SIGINT ignored, and Python then leaves it so.
_PRELUDE = """
import signal, sys, time, xproc
signal.signal(signal.SIGINT, signal.default_int_handler)
c = xproc.connect()
"""

_GET = (
    _PRELUDE
    + """
q = c.Queue(sys.argv[1])
print("ready", flush=True)
try:
    print("got", q.get(), flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
# The connection is still good: the cancelled get left nothing behind.
q.put("after")
print("then", q.get(timeout=10), flush=True)
"""
)


def test_ctrl_c_interrupts_a_blocked_get_which_takes_nothing(broker, client, name):
    q = client.Queue(name)
    worker = python_worker(broker, _GET, name)
    assert worker.stdout.readline().strip() == "ready"
    eventually("the get blocks", lambda: waits_on(client, f"queue.get {name}", worker.pid))
    worker.send_signal(signal.SIGINT)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert out.split("\n")[:2] == ["interrupted", "then after"], out + err
    # No item was taken on the cancelled get's behalf.
    q.put("kept")
    assert q.qsize() == 1
    assert q.get(timeout=5) == "kept"


_LOCK = (
    _PRELUDE
    + """
lock = c.Lock(sys.argv[1])
print("ready", flush=True)
try:
    lock.acquire()
    print("acquired", flush=True)
except KeyboardInterrupt:
    print("interrupted", lock.holder_pid, flush=True)
"""
)


def test_ctrl_c_interrupts_a_blocked_lock_acquire(broker, client, name):
    lock = client.Lock(name)
    assert lock.acquire()
    worker = python_worker(broker, _LOCK, name)
    assert worker.stdout.readline().strip() == "ready"
    eventually("the acquire blocks", lambda: waits_on(client, f"lock.acquire {name}", worker.pid))
    worker.send_signal(signal.SIGINT)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    # The worker never got the lock: it is still ours.
    assert out.strip() == f"interrupted {os.getpid()}", out + err
    lock.release()
    assert not lock.locked()


_PATIENT = (
    _PRELUDE
    + """
seen = []
def note(signum, frame):
    seen.append(signum)
    print("signalled", flush=True)
signal.signal(signal.SIGUSR1, note)
q = c.Queue(sys.argv[1])
print("ready", flush=True)
item = q.get(timeout=60)
print(item, seen == [signal.SIGUSR1], flush=True)
"""
)


def test_a_handler_that_returns_lets_the_call_wait_on(broker, client, name):
    q = client.Queue(name)
    worker = python_worker(broker, _PATIENT, name)
    assert worker.stdout.readline().strip() == "ready"
    eventually("the get blocks", lambda: waits_on(client, f"queue.get {name}", worker.pid))
    worker.send_signal(signal.SIGUSR1)
    # The handler runs once the interrupted get is cancelled; the binding then makes the get
    # again, and it waits once more.
    assert worker.stdout.readline().strip() == "signalled"
    eventually("the get blocks again", lambda: waits_on(client, f"queue.get {name}", worker.pid))
    q.put("late")
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert out.strip() == "late True", out + err
