"""Acknowledged delivery (``Queue.get_leased``) against a real broker: ack, nack, lease
expiry, a consumer killed while holding a lease, dead-lettering and ``max_attempts``, the context
manager."""

from __future__ import annotations

import pickle
import queue
import signal

import pytest
from support import python_worker

import xproc


def test_ack_removes_the_item(client, name):
    q = client.Queue(name)
    q.put({"job": 1})
    d = q.get_leased(timeout=5)
    assert d.value == {"job": 1} and d.attempt == 1 and d.id > 0
    assert q.qsize() == 0  # in flight, not ready
    assert client.stat(name)["info"]["in_flight"] == 1
    d.ack()
    assert d.settled
    assert client.stat(name)["info"]["in_flight"] == 0
    with pytest.raises(xproc.UnknownDeliveryError):
        d.ack()  # settled exactly once
    with pytest.raises(queue.Empty):
        q.get_leased(block=False)


def test_nack_returns_the_item_to_the_head(client, name):
    q = client.Queue(name)
    q.put("first")
    q.put("second")
    d = q.get_leased()
    d.nack()
    again = q.get_leased(timeout=5)
    assert again.value == "first" and again.attempt == 2 and again.id != d.id
    again.ack()
    assert q.get() == "second"


def test_an_expired_lease_gives_the_item_back(client, name):
    q = client.Queue(name)
    q.put("x")
    d = q.get_leased(lease=0.05)
    assert q.get(timeout=30) == "x"  # back at the head once the lease ran out
    with pytest.raises(xproc.UnknownDeliveryError):
        d.ack()


def test_only_the_holding_connection_settles(client, connect, name):
    q = client.Queue(name)
    q.put(1)
    d = q.get_leased()
    other = connect().Queue(name)
    with pytest.raises(xproc.UnknownDeliveryError):
        other._settle(d.id, None)
    d.ack()


_LEASE_AND_HANG = """
import sys, time, xproc
d = xproc.connect().Queue(sys.argv[1]).get_leased(timeout=60)
print(d.value, flush=True)
time.sleep(600)
"""


def test_a_killed_consumer_gives_its_item_back(broker, client, name):
    q = client.Queue(name)
    q.put("work")
    worker = python_worker(broker, _LEASE_AND_HANG, name)
    assert worker.stdout.readline().strip() == "work"
    assert q.qsize() == 0
    worker.send_signal(signal.SIGKILL)
    worker.wait(30)
    d = q.get_leased(timeout=30)
    assert d.value == "work" and d.attempt == 2
    d.ack()


def test_context_manager_acks_or_nacks(client, name):
    q = client.Queue(name)
    q.put("ok")
    with q.get_leased() as d:
        assert d.value == "ok"
    assert d.settled and q.qsize() == 0
    q.put("fails")
    with pytest.raises(RuntimeError), q.get_leased():
        raise RuntimeError("processing failed")
    again = q.get_leased(timeout=5)
    assert again.value == "fails" and again.attempt == 2
    with again:
        again.nack(delay=0)  # settled inside: the block does not settle it again
    assert q.get(timeout=5) == "fails"


def test_items_that_keep_failing_go_to_the_dead_letter_queue(client, name):
    q = client.Queue(name)
    q.put("poison")
    for attempt in range(1, 6):
        d = q.get_leased(timeout=5)
        assert d.attempt == attempt
        d.nack()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    assert client.Queue(name + ".dead").get(timeout=5) == "poison"


def test_ack_on_a_joinable_queue_counts_as_task_done(client, name):
    jq = client.JoinableQueue(name)
    jq.put(1)
    jq.get_leased().ack()
    jq.join(timeout=5)
    assert jq.unfinished() == 0


def test_max_attempts_sets_when_items_are_dead_lettered(client, name):
    q = client.Queue(name, max_attempts=2)
    assert client.stat(name)["info"]["max_attempts"] == 2
    q.put("nacked")
    q.put("expired")
    for attempt in (1, 2):
        d = q.get_leased(timeout=5)
        assert (d.value, d.attempt) == ("nacked", attempt)
        d.nack()
    dead = client.Queue(name + ".dead")
    assert dead.get(timeout=5) == "nacked"
    # Expired leases count too.
    q.get_leased(timeout=5, lease=0.05)
    d = q.get_leased(timeout=30, lease=0.05)
    assert (d.value, d.attempt) == ("expired", 2)
    assert dead.get(timeout=30) == "expired"
    with pytest.raises(queue.Empty):
        q.get(block=False)


def test_max_attempts_zero_never_dead_letters(client, name):
    q = client.JoinableQueue(name, max_attempts=0)
    q.put("again")
    for attempt in range(1, 8):
        d = q.get_leased(timeout=5)
        assert d.attempt == attempt
        d.nack()
    q.get_leased(timeout=5).ack()
    q.join(timeout=5)
    assert client.stat(name)["info"]["dead_lettered"] == 0


def test_max_attempts_is_fixed_at_creation(client, name):
    client.Queue(name, max_attempts=3)
    client.Queue(name)  # not given: the existing value is accepted
    client.Queue(name, max_attempts=3)
    with pytest.raises(xproc.OptionMismatchError, match="max_attempts"):
        client.Queue(name, max_attempts=4)
    # Created without it: the broker's default, 5.
    client.Queue(name + "-default")
    assert client.stat(name + "-default")["info"]["max_attempts"] == 5
    with pytest.raises(xproc.OptionMismatchError, match="max_attempts"):
        client.Queue(name + "-default", max_attempts=0)
    client.JoinableQueue(name + "-jq", maxsize=2, max_attempts=1)
    with pytest.raises(xproc.OptionMismatchError, match="max_attempts"):
        client.JoinableQueue(name + "-jq", max_attempts=2)
    with pytest.raises(ValueError):
        client.Queue(name + "-bad", max_attempts=-1)
    with pytest.raises(TypeError):
        client.Queue(name + "-bad", max_attempts="1")


def test_max_attempts_survives_pickling(client, name):
    q = client.Queue(name, max_attempts=1)
    again = pickle.loads(pickle.dumps(q))
    again.put("x")
    again.get_leased(timeout=5).nack()
    assert client.Queue(name + ".dead").get(timeout=5) == "x"
