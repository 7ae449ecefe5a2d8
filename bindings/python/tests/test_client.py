"""The client: connecting (and failing to), admin calls, closing, errors, threads sharing a
client, fork and pickling, and a broker that stops under a blocked call."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import threading

import pytest
from support import Broker, eventually, python_worker, waits_on

import xproc


def test_no_broker_is_a_clear_error(tmp_path):
    path = str(tmp_path / "nobody.sock")
    with pytest.raises(xproc.NoBrokerError, match="nobody.sock") as e:
        xproc.connect(path)
    assert isinstance(e.value, ConnectionError)
    assert isinstance(e.value, xproc.XprocError)
    assert e.value.status_name == "XPROC_NO_BROKER"


def test_default_endpoint_is_xproc_socket(broker, monkeypatch):
    monkeypatch.setenv("XPROC_SOCKET", broker.path)
    assert xproc.default_socket_path() == broker.path
    with xproc.connect() as c:
        assert c.path == broker.path
        c.ping()
    monkeypatch.delenv("XPROC_SOCKET")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    assert xproc.default_socket_path() == "/run/user/1234/xproc.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert xproc.default_socket_path() == f"/tmp/xproc-{os.getuid()}/xproc.sock"


def test_admin_calls(client, name):
    client.ping()
    assert client.conn_id > 0
    limits = client.limits
    assert limits.max_frame == 16 * 1024 * 1024 and limits.max_objects > 0
    q = client.Queue(name)
    q.put(1)
    q.put(2)
    listed = {o["name"]: o for o in client.list()}
    assert listed[name]["kind"] == "queue" and listed[name]["len"] == 2
    stat = client.stat(name)
    assert stat["kind"] == "queue" and stat["info"]["len"] == 2
    me = [c for c in client.clients() if c["conn_id"] == client.conn_id]
    assert len(me) == 1
    assert me[0]["pid"] == os.getpid() and me[0]["lang"] == "python"
    assert client.delete(name) is True
    assert client.delete(name) is False
    with pytest.raises(xproc.NotFoundError):
        client.stat(name)


def test_client_name_shows_in_clients(broker):
    with xproc.connect(broker.path, name="my-worker") as c:
        assert any(x["name"] == "my-worker" for x in c.clients())


def test_invalid_names(client):
    with pytest.raises(xproc.InvalidNameError) as e:
        client.Queue("")
    assert isinstance(e.value, ValueError)
    with pytest.raises(xproc.InvalidNameError):
        client.dict("x" * 256)
    client.dict("x" * 255)
    with pytest.raises(TypeError):
        client.Queue(b"bytes")


def test_close_and_context_manager(broker, name):
    with xproc.connect(broker.path) as c:
        q = c.Queue(name)
        lock = c.Lock(name + "-lock")
        assert lock.acquire()
    assert c.closed and q.closed and lock.closed
    with pytest.raises(ValueError, match="closed"):
        c.ping()
    with pytest.raises(ValueError, match="closed"):
        q.put(1)
    with pytest.raises(ValueError, match="closed"):
        c.Queue(name)
    c.close()  # twice is fine
    # The connection is gone: its lock is free again.
    with xproc.connect(broker.path) as other:
        assert other.Lock(name + "-lock").acquire(timeout=30)


def test_repr(client, name):
    assert repr(client).startswith("<xproc.Client ")
    assert repr(client.Queue(name)) == f"<xproc.Queue {name!r}>"
    assert "end a" in repr(client.Pipe(name + "-p", end="a"))


def test_exception_hierarchy():
    for cls in (
        xproc.NoBrokerError,
        xproc.DisconnectedError,
        xproc.TimeoutError,
        xproc.LimitError,
        xproc.TypeMismatchError,
        xproc.OptionMismatchError,
        xproc.InvalidNameError,
        xproc.InvalidValueError,
        xproc.WrongTypeError,
        xproc.NotFoundError,
        xproc.BusyError,
        xproc.NotOwnerError,
        xproc.InvalidArgumentError,
        xproc.EncodeError,
        xproc.IntegerRangeError,
        xproc.DecodeError,
        xproc.ProtocolError,
        xproc.BrokerError,
        xproc.ShuttingDownError,
        xproc.InternalError,
    ):
        assert issubclass(cls, xproc.XprocError), cls
    assert issubclass(xproc.TimeoutError, TimeoutError)
    assert issubclass(xproc.NotOwnerError, RuntimeError)
    assert issubclass(xproc.TypeMismatchError, TypeError)


# ------------------------------------------------------------------------------ threads


def test_threads_share_one_client(client, name):
    """Many threads put and get on one client at once: every item arrives exactly once, and
    a thread blocked in a get does not hold up the others."""
    q = client.Queue(name)
    results = client.Queue(name + "-results")
    d = client.dict(name + "-dict")
    per_thread = 200
    producers = 4
    got = []
    got_lock = threading.Lock()

    def produce(t: int) -> None:
        for i in range(per_thread):
            q.put((t, i))
            d.incr("puts")

    def consume() -> None:
        while True:
            item = q.get(timeout=60)
            if item is None:
                return
            with got_lock:
                got.append(tuple(item))

    blocked = threading.Thread(target=lambda: results.put(results.get(timeout=60)))
    blocked.start()  # parked in the broker for the whole test
    consumers = [threading.Thread(target=consume) for _ in range(4)]
    workers = [threading.Thread(target=produce, args=(t,)) for t in range(producers)]
    for t in consumers + workers:
        t.start()
    for t in workers:
        t.join(120)
    for _ in consumers:
        q.put(None)
    for t in consumers:
        t.join(120)
    assert sorted(got) == sorted((t, i) for t in range(producers) for i in range(per_thread))
    assert d["puts"] == producers * per_thread
    assert blocked.is_alive()
    results.put("release")
    blocked.join(60)
    assert results.get(timeout=5) == "release"


def test_closing_while_another_thread_is_blocked(client, connect, name):
    """close() never frees a handle under a running call: the blocked call finishes (here,
    served by another connection), then the connection closes."""
    q = client.Queue(name)
    got = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=60)))
    t.start()
    eventually("the get to block", lambda: waits_on(client, f"queue.get {name}"))
    client.close()
    connect().Queue(name).put("late")
    t.join(60)
    assert got == ["late"]


# ------------------------------------------------------------------------------ processes


def _child_uses_inherited(q: xproc.Queue, lock: xproc.Lock) -> None:
    q.put(("child", os.getpid()))
    # The parent holds the lock on its own connection; the child has a connection of its own.
    q.put(lock.acquire(timeout=0.05))


def test_objects_inherited_across_fork_reconnect(client, name):
    q = client.Queue(name)
    lock = client.Lock(name + "-lock")
    assert lock.acquire()
    p = multiprocessing.get_context("fork").Process(target=_child_uses_inherited, args=(q, lock))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert q.get(timeout=5) == ["child", p.pid]
    assert q.get(timeout=5) is False
    assert lock.locked()
    lock.release()
    client.ping()  # the parent's connection was not disturbed


def test_pickled_objects_reopen_by_name(client, name):
    q = client.Queue(name, maxsize=5)
    q.put("x")
    q2 = pickle.loads(pickle.dumps(q))
    assert q2.name == name and q2.maxsize == 5
    assert q2.get() == "x"
    assert pickle.loads(pickle.dumps(xproc.ABSENT)) is xproc.ABSENT
    c2 = pickle.loads(pickle.dumps(client))
    c2.ping()
    assert c2.conn_id != client.conn_id
    c2.close()


# ------------------------------------------------------------------------------ broker stops


def test_broker_shutdown_answers_blocked_calls(name):
    b = Broker()
    try:
        c = xproc.connect(b.path)
        q = c.Queue(name)
        errors = []

        def get() -> None:
            try:
                q.get(timeout=120)
            except Exception as e:  # noqa: BLE001 - inspected below
                errors.append(e)

        t = threading.Thread(target=get)
        t.start()
        eventually("the get to block", lambda: waits_on(c, f"queue.get {name}"))
        assert b.stop() == 0
        t.join(60)
        assert len(errors) == 1
        assert isinstance(errors[0], (xproc.ShuttingDownError, xproc.DisconnectedError)), errors
        assert not isinstance(errors[0], queue.Empty)
        with pytest.raises(xproc.DisconnectedError):
            q.put(1)
        with pytest.raises(xproc.DisconnectedError):
            c.ping()
    finally:
        b.stop()


_QUIT_HOLDING = """
import sys, xproc
c = xproc.connect()
c.Semaphore(sys.argv[1], 1).acquire()
"""


def test_a_process_exiting_normally_returns_its_permits(broker, client, name):
    s = client.Semaphore(name, 1)
    w = python_worker(broker, _QUIT_HOLDING, name)
    w.communicate(timeout=60)
    assert w.returncode == 0
    assert s.acquire(timeout=30)


def test_the_package_under_test():
    """run_tests.sh tests the pip-installed package (bundled libxproc) unless --dev."""
    import os as _os

    if _os.environ.get("XPROC_TEST_INSTALLED") == "1":
        assert "site-packages" in xproc.__file__
        assert _os.path.join(_os.path.dirname(xproc.__file__), "libxproc.so") == xproc.LIB_PATH
    assert xproc.__version__ == xproc.library_version()


def test_a_connection_refused_by_the_allow_list(tmp_path):
    b = Broker("--allow-uid", str(os.getuid() + 4242))
    try:
        with pytest.raises(xproc.DeniedError) as e:
            xproc.connect(b.path)
        assert isinstance(e.value, PermissionError)
    finally:
        b.stop()
