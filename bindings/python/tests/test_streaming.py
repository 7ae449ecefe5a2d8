"""Streaming queues against a real broker: ``put_buffered`` + ``flush``, ``get_many``,
``get_many_leased`` + ``ack_many``, ``iter(batch=...)``, a bounded queue under a fast
producer, a refused batch, and a consumer killed holding a leased batch."""

from __future__ import annotations

import queue
import signal
import threading

import pytest
from support import python_worker

import xproc


def test_put_buffered_then_flush_and_get_many_in_order(client, name):
    q = client.Queue(name)
    for i in range(5000):
        q.put_buffered({"n": i})
    q.flush()
    assert q.qsize() == 5000
    got = []
    while len(got) < 5000:
        batch = q.get_many(333, block=False)
        assert 1 <= len(batch) <= 333
        got.extend(batch)
    assert got == [{"n": i} for i in range(5000)]
    with pytest.raises(queue.Empty):
        q.get_many(10, block=False)
    with pytest.raises(queue.Empty):
        q.get_many(10, timeout=0.05)
    with pytest.raises(ValueError):
        q.get_many(0)


def test_a_later_call_sees_buffered_items(client, name):
    q = client.Queue(name)
    q.put_buffered(1)
    q.put_buffered(2)
    assert q.qsize() == 2


def test_iter_yields_in_batches_and_ends_on_idle(client, name):
    q = client.Queue(name)
    for i in range(100):
        q.put_buffered(i)
    q.flush()
    assert list(q.iter(batch=7, timeout=0.1)) == list(range(100))


def test_a_refused_batch_is_reported_with_its_position(client, connect, name):
    q = client.Queue(name)
    q.put_buffered("kept")
    q.flush()
    assert connect().delete(name)
    q.put_buffered("lost")
    with pytest.raises(xproc.NotFoundError, match="put_async item 1"):
        q.flush()
    q.flush()  # reported once


def test_a_bounded_queue_stays_bounded_under_a_fast_producer(client, connect, name):
    q = client.Queue(name, maxsize=50)
    watcher = connect().Queue(name)
    most = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            most[0] = max(most[0], watcher.qsize())

    t = threading.Thread(target=sample)
    t.start()
    producer = connect().Queue(name)

    def produce() -> None:
        for i in range(3000):
            producer.put_buffered(i)
        producer.flush()

    p = threading.Thread(target=produce)
    p.start()
    got = []
    while len(got) < 3000:
        got.extend(q.get_many(17, timeout=30))
    p.join()
    stop.set()
    t.join()
    assert got == list(range(3000))
    assert most[0] <= 50


_LEASE_BATCH_AND_HANG = """
import sys, time, xproc
q = xproc.connect().Queue(sys.argv[1])
batch = q.get_many_leased(10, timeout=30)
print(len(batch), flush=True)
time.sleep(3600)
"""


def test_leased_batches_are_acked_together_and_a_dead_consumers_come_back(broker, client, name):
    q = client.Queue(name)
    for i in range(15):
        q.put_buffered(i)
    q.flush()
    ds = q.get_many_leased(5, timeout=5)
    assert [d.value for d in ds] == [0, 1, 2, 3, 4] and all(d.attempt == 1 for d in ds)
    assert q.ack_many(ds) == 5
    assert q.ack_many(ds) == 0  # acked already
    worker = python_worker(broker, _LEASE_BATCH_AND_HANG, name)
    assert worker.stdout.readline().strip() == "10"
    assert q.qsize() == 0
    worker.send_signal(signal.SIGKILL)
    worker.wait(30)
    again = q.get_many_leased(100, timeout=30)
    while len(again) < 10:
        again.extend(q.get_many_leased(100, timeout=30))
    assert sorted(d.value for d in again) == list(range(5, 15))
    assert all(d.attempt == 2 for d in again)
    assert q.ack_many(again) == 10
