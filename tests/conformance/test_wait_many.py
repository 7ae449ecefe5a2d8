"""§6.9 Waiting on many objects: queue.get_any and wait."""

import time

from wire import err, ok, value


def open_all(c, *specs):
    for name, kind in specs:
        assert "error" not in c.call({"op": "open", "name": name, "kind": kind})


def test_get_any_takes_from_the_first_queue_that_has_an_item(c):
    open_all(c, ("a", "queue"), ("b", "joinable_queue"))
    err(c.call({"op": "queue.get_any", "names": ["a", "b"], "timeout_ms": 0}), "Empty")
    c.call({"op": "queue.put", "name": "b", "value": value("x")})
    c.call({"op": "queue.put", "name": "a", "value": value("y")})
    ok(c.call({"op": "queue.get_any", "names": ["b", "a"]}), value=value("x"), index=0)
    ok(c.call({"op": "queue.get_any", "names": ["b", "a"]}), value=value("y"), index=1)
    t = time.monotonic()
    err(c.call({"op": "queue.get_any", "names": ["a", "b"], "timeout_ms": 100}), "Timeout")
    assert time.monotonic() - t >= 0.09


def test_a_blocked_get_any_is_one_getter_in_each_fifo_and_takes_one_item(broker):
    first, anyc, p = broker.client(), broker.client(), broker.client()
    open_all(p, ("a", "queue"), ("b", "queue"))
    first.send({"id": 1, "op": "queue.get", "name": "a"})
    time.sleep(0.05)
    anyc.send({"id": 2, "op": "queue.get_any", "names": ["b", "a"]})
    time.sleep(0.05)
    p.call({"op": "queue.put", "name": "a", "value": value(1)})
    p.call({"op": "queue.put", "name": "a", "value": value(2)})
    p.call({"op": "queue.put", "name": "b", "value": value(3)})
    assert first.recv() == {"id": 1, "value": value(1)}
    assert anyc.recv() == {"id": 2, "value": value(2), "index": 1}
    assert p.call({"op": "queue.qsize", "name": "b"})["len"] == 1
    info = p.call({"op": "stat", "name": "b"})["info"]
    assert info["getters"] == 0


def test_cancel_and_disconnect_take_nothing(broker):
    a, p = broker.client(), broker.client()
    open_all(p, ("a", "queue"), ("b", "queue"))
    a.send({"id": 7, "op": "queue.get_any", "names": ["a", "b"]})
    a.send({"id": 8, "op": "cancel", "target": 7})
    err(a.recv(), "Timeout", 7)
    ok(a.recv(), cancelled=True)
    a.send({"id": 9, "op": "queue.get_any", "names": ["a", "b"]})
    time.sleep(0.05)
    a.close()
    time.sleep(0.05)
    p.call({"op": "queue.put", "name": "a", "value": value(1)})
    assert p.call({"op": "queue.qsize", "name": "a"})["len"] == 1


def test_bad_sets(c):
    open_all(c, ("a", "queue"), ("d", "dict"))
    err(c.call({"op": "queue.get_any", "names": ["a", "a"]}), "InvalidArgument")
    err(c.call({"op": "queue.get_any", "names": []}), "InvalidArgument")
    err(c.call({"op": "queue.get_any", "names": ["a", "zz"]}), "NotFound")
    err(c.call({"op": "queue.get_any", "names": ["a", "d"]}), "TypeMismatch")
    err(c.call({"op": "queue.get_any", "names": "a"}), "BadRequest")
    err(c.call({"op": "queue.get_any"}), "BadRequest")
    m = err(c.call({"op": "queue.get_any", "names": [f"q{i}" for i in range(16385)]}), "LimitExceeded")
    assert "max_wait_objects" in m
    err(c.call({"op": "wait", "names": ["d"]}), "TypeMismatch")
    err(c.call({"op": "wait", "names": ["a"], "ends": ["a", "b"]}), "InvalidArgument")
    err(c.call({"op": "wait", "names": ["a"], "ends": ["x"]}), "InvalidArgument")


def test_wait_reports_every_ready_object(broker):
    c, other = broker.client(), broker.client()
    open_all(c, ("q", "queue"), ("e", "event"), ("l", "lock"), ("s", "semaphore"))
    c.call({"op": "open", "name": "p", "kind": "pipe", "end": "a"})
    other.call({"op": "open", "name": "p", "kind": "pipe", "end": "b"})
    ok(other.call({"op": "lock.acquire", "name": "l"}), acquired=True)
    names, ends = ["q", "e", "l", "s", "p"], ["", "", "", "", "a"]
    # A semaphore created with the default initial 1 is ready.
    ok(c.call({"op": "wait", "names": names, "ends": ends, "timeout_ms": 0}), indices=[3])
    ok(c.call({"op": "semaphore.acquire", "name": "s"}), acquired=True)
    ok(c.call({"op": "wait", "names": names, "ends": ends, "timeout_ms": 0}), indices=[])
    c.send({"id": 40, "op": "wait", "names": names, "ends": ends})
    time.sleep(0.05)
    other.call({"op": "event.set", "name": "e"})
    assert c.recv() == {"id": 40, "indices": [1]}
    other.call({"op": "pipe.send", "name": "p", "end": "b", "value": value("m")})
    c.call({"op": "queue.put", "name": "q", "value": value(1)})
    ok(c.call({"op": "wait", "names": names, "ends": ends}), indices=[0, 1, 4])
    assert c.call({"op": "queue.qsize", "name": "q"})["len"] == 1
    err(c.call({"op": "wait", "names": ["p"], "ends": ["b"]}), "NotOwner")
    err(c.call({"op": "wait", "names": ["p"]}), "InvalidArgument")
    c.send({"id": 41, "op": "wait", "names": ["l"]})
    time.sleep(0.05)
    other.close()
    assert c.recv() == {"id": 41, "indices": [0]}


def test_unget_goes_back_to_the_head_past_maxsize(c):
    ok(c.call({"op": "open", "name": "u", "kind": "queue", "maxsize": 1}), created=True,
       kind="queue", maxsize=1, max_attempts=5)
    c.call({"op": "queue.put", "name": "u", "value": value(1)})
    ok(c.call({"op": "queue.unget", "name": "u", "value": value(0)}))
    assert c.call({"op": "queue.qsize", "name": "u"})["len"] == 2
    ok(c.call({"op": "queue.get", "name": "u"}), value=value(0))
    err(c.call({"op": "queue.unget", "name": "u", "value": "x"}), "BadRequest")
    err(c.call({"op": "queue.unget", "name": "nope", "value": value(0)}), "NotFound")
