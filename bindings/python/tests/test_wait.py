"""xproc.wait (multiprocessing.connection.wait's contract over broker objects) and
xproc.get_any, against a real broker, with producers in other processes."""

from __future__ import annotations

import multiprocessing
import queue
import time

import pytest

import xproc


def _produce(path: str, name: str, values: list, delay: float) -> None:
    time.sleep(delay)
    with xproc.connect(path) as c:
        q = c.Queue(name)
        for v in values:
            q.put(v)


@pytest.fixture
def names(name):
    """Names unique to this test: names("a") -> "<test>-a"."""
    return lambda suffix: f"{name[:150]}-{suffix}"


def _spawn(broker, name, values, delay=0.05):
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=_produce, args=(broker.path, name, values, delay))
    p.start()
    return p


def test_get_any_takes_from_the_first_queue_with_an_item(client, names):
    a, b = client.Queue(names("a")), client.Queue(names("b"))
    with pytest.raises(queue.Empty):
        xproc.get_any([a, b], block=False)
    t = time.monotonic()
    with pytest.raises(queue.Empty):
        xproc.get_any([a, b], timeout=0.05)
    assert time.monotonic() - t >= 0.05
    b.put("x")
    a.put("y")
    assert xproc.get_any([b, a]) == (b, "x")
    assert xproc.get_any([b, a]) == (a, "y")
    with pytest.raises(ValueError):
        xproc.get_any([a, a])
    with pytest.raises(ValueError):
        xproc.get_any([])
    with pytest.raises(TypeError):
        xproc.get_any([a, client.dict(names("d"))])


def test_get_any_is_woken_by_another_process_and_takes_every_item_once(broker, client, names):
    a, b = client.Queue(names("a")), client.Queue(names("b"))
    pa = _spawn(broker, a.name, list(range(0, 200)))
    pb = _spawn(broker, b.name, list(range(1000, 1200)))
    got = {a.name: [], b.name: []}
    for _ in range(400):
        q, v = xproc.get_any([a, b], timeout=10)
        got[q.name].append(v)
    pa.join(10)
    pb.join(10)
    assert got[a.name] == list(range(0, 200))
    assert got[b.name] == list(range(1000, 1200))
    assert a.qsize() == b.qsize() == 0


def test_wait_has_the_contract_of_multiprocessing_connection_wait(broker, client, names):
    other = xproc.connect(broker.path)
    try:
        q = client.Queue(names("q"))
        ev = client.Event(names("ev"))
        lock = client.Lock(names("lock"))
        sem = client.Semaphore(names("sem"), 0)
        r, w = client.Pipe(names("pipe"))
        held = other.Lock(lock.name)
        held.acquire()
        objs = [q, ev, lock, sem, r]
        assert xproc.wait(objs, timeout=0) == []
        t = time.monotonic()
        assert xproc.wait(objs, timeout=0.05) == []
        assert time.monotonic() - t >= 0.05
        assert xproc.wait([]) == []

        p = _spawn(broker, q.name, [5])
        assert xproc.wait(objs) == [q]
        p.join(10)
        assert q.qsize() == 1  # nothing was taken
        other.Event(ev.name).set()
        w.send("m")
        assert xproc.wait(objs, timeout=5) == [q, ev, r]
        assert xproc.wait([r, q, r], timeout=0) == [r, q, r]
        held.release()
        sem.release()
        assert xproc.wait(objs) == objs
        with pytest.raises(TypeError):
            xproc.wait([client.dict(names("d"))])
    finally:
        other.close()


def test_a_pipe_end_at_eof_is_ready(broker, client, names):
    r, w = client.Pipe(names("eof"), duplex=False)
    w.close()
    assert xproc.wait([r], timeout=5) == [r]
    with pytest.raises(EOFError):
        r.recv()
