"""Locks, semaphores, events, conditions and barriers against a real broker, across
connections and processes — including a lock holder killed with SIGKILL."""

from __future__ import annotations

import signal
import threading

import pytest
from support import eventually, python_worker, waits_on

import xproc

# ------------------------------------------------------------------------------ locks


def test_lock_acquire_release(client, connect, name):
    lock = client.Lock(name)
    other = connect().Lock(name)
    assert lock.acquire() is True
    assert lock.locked()
    assert lock.holder_pid is not None
    assert other.acquire(block=False) is False
    assert other.acquire(timeout=0.05) is False
    assert lock.acquire(timeout=0.05) is False  # a plain Lock is not reentrant
    with pytest.raises(xproc.NotOwnerError) as e:
        other.release()
    assert isinstance(e.value, RuntimeError)
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()
    with other as got:
        assert got is True
        assert not lock.acquire(block=False)
    assert lock.acquire(block=False)
    lock.release()


def test_lock_waiter_gets_it_on_release(client, connect, name):
    lock = client.Lock(name)
    other = connect()
    lock.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(other.Lock(name).acquire(timeout=30)))
    t.start()
    eventually("the acquire to block", lambda: waits_on(client, f"lock.acquire {name}"))
    lock.release()
    t.join(30)
    assert got == [True]


def test_closing_the_client_releases_its_lock(client, connect, name):
    holder = connect()
    assert holder.Lock(name).acquire()
    assert not client.Lock(name).acquire(block=False)
    holder.close()
    lock = client.Lock(name)
    assert lock.acquire(timeout=30)
    assert lock.abandoned is True  # released by the broker, not by its holder


_HOLD_LOCK = """
import sys, time, xproc
c = xproc.connect()
lock = c.Lock(sys.argv[1])
assert lock.acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_lock_of_a_killed_process_is_released_and_reported(broker, client, name):
    worker = python_worker(broker, _HOLD_LOCK, name)
    assert worker.stdout.readline().strip() == "locked"
    lock = client.Lock(name)
    assert lock.acquire(timeout=0.05) is False
    assert lock.holder_pid == worker.pid
    worker.send_signal(signal.SIGKILL)
    worker.wait(30)
    assert lock.acquire(timeout=30) is True
    assert lock.abandoned is True
    assert lock.abandoned_by == worker.pid
    lock.release()
    # Reported once: the next acquire is a normal one.
    assert lock.acquire(timeout=30) is True
    assert lock.abandoned is False and lock.abandoned_by is None
    lock.release()


def test_waiting_acquire_gets_the_lock_of_a_killed_holder(broker, client, name):
    worker = python_worker(broker, _HOLD_LOCK, name)
    assert worker.stdout.readline().strip() == "locked"
    lock = client.Lock(name)
    results = []
    t = threading.Thread(target=lambda: results.append(lock.acquire(timeout=60)))
    t.start()
    eventually("the acquire to block", lambda: waits_on(client, f"lock.acquire {name}"))
    worker.send_signal(signal.SIGKILL)
    worker.wait(30)
    t.join(60)
    assert results == [True]
    assert lock.abandoned_by == worker.pid


def test_rlock_is_reentrant_per_connection(client, connect, name):
    r = client.RLock(name)
    other = connect().RLock(name)
    assert r.acquire() and r.acquire()
    assert other.acquire(block=False) is False
    r.release()
    assert other.acquire(block=False) is False
    r.release()
    assert other.acquire(block=False) is True
    other.release()
    with r, r:
        assert r.locked()
    assert not r.locked()
    with pytest.raises(xproc.TypeMismatchError):
        client.Lock(name)


def test_lock_shared_by_threads_of_one_client_is_one_owner(client, name):
    # Ownership is per connection: another thread of the same client may release it.
    lock = client.Lock(name)
    lock.acquire()
    t = threading.Thread(target=lock.release)
    t.start()
    t.join(30)
    assert not lock.locked()


# ------------------------------------------------------------------------------ semaphores


def test_semaphore(client, connect, name):
    s = client.Semaphore(name, 2)
    assert client.Semaphore(name).get_value() == 2  # value not given: the existing one
    with pytest.raises(xproc.OptionMismatchError):
        client.Semaphore(name, 3)
    assert s.acquire() and s.acquire(timeout=1)
    assert s.acquire(block=False) is False
    assert s.acquire(timeout=0.05) is False
    assert s.get_value() == 0
    s.release(2)
    assert s.get_value() == 2
    with s:
        assert s.get_value() == 1
    assert s.get_value() == 2
    s.release()  # a plain semaphore may go above its initial value
    assert s.get_value() == 3


def test_semaphore_permits_of_a_closed_connection_return(client, connect, name):
    s = client.Semaphore(name, 1)
    holder = connect()
    assert holder.Semaphore(name).acquire()
    assert s.acquire(block=False) is False
    holder.close()
    assert s.acquire(timeout=30) is True


def test_bounded_semaphore(client, name):
    b = client.BoundedSemaphore(name, 1)
    with pytest.raises(ValueError, match="too many"):
        b.release()
    assert b.acquire()
    b.release()
    with pytest.raises(ValueError):
        b.release()
    with pytest.raises(xproc.TypeMismatchError):
        client.Semaphore(name, 1)


# ------------------------------------------------------------------------------ events


_WAIT_EVENT = """
import sys, xproc
print(xproc.connect().Event(sys.argv[1]).wait(timeout=60), flush=True)
"""


def test_event_across_processes(broker, client, name):
    e = client.Event(name)
    assert not e.is_set()
    assert e.wait(0.05) is False
    assert e.wait(0) is False
    worker = python_worker(broker, _WAIT_EVENT, name)
    eventually("the worker to wait", lambda: waits_on(client, f"event.wait {name}", worker.pid))
    e.set()
    out, err = worker.communicate(timeout=60)
    assert out.strip() == "True", err
    assert e.is_set() and e.wait() is True
    e.clear()
    assert not e.is_set()


# ------------------------------------------------------------------------------ conditions


def test_condition_wait_notify(client, connect, name):
    cond = client.Condition(name)
    other = connect().Condition(name)
    state = client.dict(name + "-state")
    state["ready"] = False
    results = []

    def waiter() -> None:
        with other:
            results.append(other.wait_for(lambda: state["ready"], timeout=60))

    t = threading.Thread(target=waiter)
    t.start()
    eventually("the waiter to park", lambda: client.stat(name)["info"]["waiting"] == 1)
    with cond:
        state["ready"] = True
        assert cond.notify() == 1
    t.join(60)
    assert results == [True]


def test_condition_wait_timeout_and_errors(client, name):
    cond = client.Condition(name)
    with pytest.raises(xproc.NotOwnerError) as e:
        cond.wait(0.01)
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(RuntimeError):
        cond.notify()
    with cond:
        assert cond.wait(0.05) is False
        assert cond.locked()  # reacquired after the timeout
        assert cond.wait_for(lambda: 0, timeout=0.05) == 0
        assert cond.wait_for(lambda: "yes", timeout=0) == "yes"
        assert cond.notify_all() == 0
    assert not cond.locked()


def test_notify_all_wakes_every_waiter(client, connect, name):
    conns = [connect().Condition(name) for _ in range(3)]
    results = []

    def wait(c: xproc.Condition) -> None:
        with c:
            results.append(c.wait(timeout=60))

    threads = [threading.Thread(target=wait, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    eventually("3 waiters", lambda: client.stat(name)["info"]["waiting"] == 3)
    cond = client.Condition(name)
    with cond:
        assert cond.notify_all() == 3
    for t in threads:
        t.join(60)
    assert results == [True, True, True]


# ------------------------------------------------------------------------------ barriers


_BARRIER = """
import sys, xproc
b = xproc.connect().Barrier(sys.argv[1], int(sys.argv[2]))
print(b.wait(timeout=60), flush=True)
"""


def test_barrier_across_processes(broker, client, name):
    b = client.Barrier(name, 4)
    assert (b.parties, b.n_waiting, b.broken) == (4, 0, False)
    workers = [python_worker(broker, _BARRIER, name, "4") for _ in range(3)]
    eventually("3 parties waiting", lambda: b.n_waiting == 3)
    mine = b.wait(timeout=60)
    indices = [mine]
    for w in workers:
        out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err
        indices.append(int(out))
    assert sorted(indices) == [0, 1, 2, 3]
    assert mine == 3  # the last to arrive
    assert client.Barrier(name).parties == 4  # parties not given: the existing barrier


def test_barrier_abort_timeout_reset(client, connect, name):
    b = client.Barrier(name, 2)
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(timeout=0.05)  # nobody else came: the timeout breaks it
    assert b.broken
    with pytest.raises(threading.BrokenBarrierError):
        b.wait()
    b.reset()
    assert not b.broken
    other = connect().Barrier(name)
    errors = []

    def wait() -> None:
        try:
            other.wait(timeout=60)
        except threading.BrokenBarrierError as e:
            errors.append(e)

    t = threading.Thread(target=wait)
    t.start()
    eventually("one party waiting", lambda: b.n_waiting == 1)
    b.abort()
    t.join(60)
    assert len(errors) == 1 and b.broken
    with pytest.raises(xproc.OptionMismatchError):
        client.Barrier(name, 3)
    with pytest.raises(ValueError):
        client.Barrier(name + "-missing")  # parties needed to create it


_BARRIER_ACTION = """
import sys, xproc
c = xproc.connect()
runs = c.dict(sys.argv[1] + ".runs")
b = c.Barrier(sys.argv[1], int(sys.argv[2]), action=lambda: runs.incr("ran"))
print(b.wait(timeout=60), flush=True)
"""


def test_barrier_action_runs_once_in_the_last_party(broker, client, name):
    # Every party has an action (as after multiprocessing pickles one to its children):
    # only the last to arrive runs it, once per opening.
    runs = client.dict(name + ".runs")
    b = client.Barrier(name, 3, action=lambda: runs.incr("ran"))
    for cycle in (1, 2):
        workers = [python_worker(broker, _BARRIER_ACTION, name, "3") for _ in range(2)]
        eventually("2 parties waiting", lambda: b.n_waiting == 2)
        assert b.wait(timeout=60) == 2  # the last to arrive, so this process ran the action
        for w in workers:
            out, err = w.communicate(timeout=60)
            assert w.returncode == 0, err
            assert int(out) in (0, 1)
        assert runs["ran"] == cycle


def test_barrier_action_that_raises_breaks_the_barrier(client, connect, name):
    def fail() -> None:
        raise RuntimeError("action failed")

    b = client.Barrier(name, 2, action=fail)
    other = connect().Barrier(name)
    got = []
    t = threading.Thread(target=lambda: got.append(other.wait(timeout=60)))
    t.start()
    eventually("one party waiting", lambda: b.n_waiting == 1)
    with pytest.raises(RuntimeError, match="action failed"):
        b.wait(timeout=60)
    t.join(60)
    assert got == [0]  # already released by the broker when the action ran
    assert b.broken
    with pytest.raises(threading.BrokenBarrierError):
        other.wait(timeout=60)
    with pytest.raises(TypeError):
        client.Barrier(name + "-x", 2, action="not callable")


def test_barrier_default_timeout(client, name):
    b = client.Barrier(name, 2, timeout=0.05)
    with pytest.raises(threading.BrokenBarrierError):
        b.wait()
