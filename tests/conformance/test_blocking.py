"""§5 Blocking and timeouts, and cancel."""

import time

from wire import err, ok, value


def test_timeout_0_is_the_would_block_outcome(c):
    c.call({"op": "open", "name": "q", "kind": "queue", "maxsize": 1})
    err(c.call({"op": "queue.get", "name": "q", "timeout_ms": 0}), "Empty")
    ok(c.call({"op": "queue.put", "name": "q", "value": value(1), "timeout_ms": 0}))
    err(c.call({"op": "queue.put", "name": "q", "value": value(2), "timeout_ms": 0}), "Full")
    c.call({"op": "open", "name": "l", "kind": "lock"})
    ok(c.call({"op": "lock.acquire", "name": "l", "timeout_ms": 0}), acquired=True)
    c.call({"op": "open", "name": "e", "kind": "event"})
    ok(c.call({"op": "event.wait", "name": "e", "timeout_ms": 0}), set=False)
    c.call({"op": "open", "name": "p", "kind": "pipe", "end": "a"})
    ok(c.call({"op": "pipe.poll", "name": "p", "end": "a"}), ready=False)  # default 0
    err(c.call({"op": "pipe.recv", "name": "p", "end": "a", "timeout_ms": 0}), "Empty")


def test_timeout_outcome(c):
    c.call({"op": "open", "name": "q", "kind": "queue"})
    t = time.monotonic()
    err(c.call({"op": "queue.get", "name": "q", "timeout_ms": 100}), "Timeout")
    assert time.monotonic() - t >= 0.09
    c.call({"op": "open", "name": "b", "kind": "barrier", "parties": 2})
    err(c.call({"op": "barrier.wait", "name": "b", "timeout_ms": 0}), "BrokenBarrier")
    ok(c.call({"op": "barrier.state", "name": "b"}), parties=2, n_waiting=0, broken=True)


def test_waiters_are_served_first_come_first_served(broker):
    a, b, p = broker.client(), broker.client(), broker.client()
    p.call({"op": "open", "name": "q", "kind": "queue"})
    a.send({"id": 1, "op": "queue.get", "name": "q"})
    time.sleep(0.05)
    b.send({"id": 1, "op": "queue.get", "name": "q"})
    time.sleep(0.05)
    p.call({"op": "queue.put", "name": "q", "value": value("first")})
    p.call({"op": "queue.put", "name": "q", "value": value("second")})
    assert a.recv() == {"id": 1, "value": value("first")}
    assert b.recv() == {"id": 1, "value": value("second")}


def test_disconnected_waiter_takes_nothing(broker):
    a, p = broker.client(), broker.client()
    p.call({"op": "open", "name": "q", "kind": "queue"})
    a.send({"op": "queue.get", "name": "q"})
    time.sleep(0.05)
    a.close()
    time.sleep(0.05)
    p.call({"op": "queue.put", "name": "q", "value": value(1)})
    assert p.call({"op": "queue.qsize", "name": "q"})["len"] == 1


def test_delete_answers_waiters_not_found(broker):
    a, p = broker.client(), broker.client()
    p.call({"op": "open", "name": "q", "kind": "queue"})
    a.send({"id": 3, "op": "queue.get", "name": "q"})
    time.sleep(0.05)
    ok(p.call({"op": "delete", "name": "q"}), deleted=True)
    err(a.recv(), "NotFound", id_=3)
    ok(p.call({"op": "delete", "name": "q"}), deleted=False)


def test_cancel_answers_the_target_first_with_its_timeout_outcome(c):
    c.call({"op": "open", "name": "q", "kind": "queue"})
    c.send({"id": 50, "op": "queue.get", "name": "q"})
    c.send({"id": 51, "op": "cancel", "target": 50})
    err(c.recv(), "Timeout", id_=50)
    assert c.recv() == {"id": 51, "cancelled": True}
    assert c.call({"id": 52, "op": "cancel", "target": 50}) == {"id": 52, "cancelled": False}
    err(c.call({"op": "cancel"}), "BadRequest")


def test_shutdown_answers_blocked_requests(broker):
    c = broker.client()
    c.call({"op": "open", "name": "q", "kind": "queue"})
    c.send({"id": 9, "op": "queue.get", "name": "q"})
    c.call({"op": "ping"})  # the get is blocked by now
    broker.proc.terminate()
    err(c.recv(), "ShuttingDown", id_=9)
