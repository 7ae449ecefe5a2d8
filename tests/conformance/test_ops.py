"""§6 Operations (exact reply fields of each family) and §7 error codes."""

import os

import pytest

from wire import err, ok, pack, value


def test_open_replies_and_options(c):
    ok(c.call({"op": "open", "name": "q", "kind": "queue", "maxsize": 3}),
       kind="queue", created=True, maxsize=3, max_attempts=5)
    ok(c.call({"op": "open", "name": "q", "kind": "queue"}),
       kind="queue", created=False, maxsize=3, max_attempts=5)
    assert "maxsize" in err(c.call({"op": "open", "name": "q", "kind": "queue", "maxsize": 4}),
                            "OptionMismatch")
    assert "dict" in err(c.call({"op": "open", "name": "q", "kind": "dict"}), "TypeMismatch")
    ok(c.call({"op": "open", "name": "s", "kind": "semaphore"}),
       kind="semaphore", created=True, initial=1)
    ok(c.call({"op": "open", "name": "b", "kind": "barrier", "parties": 2}),
       kind="barrier", created=True, parties=2)
    ok(c.call({"op": "open", "name": "p", "kind": "pipe"}),
       kind="pipe", created=True, duplex=True, capacity=1024)
    ok(c.call({"op": "open", "name": "d", "kind": "dict"}), kind="dict", created=True)


@pytest.mark.parametrize("req,code", [
    ({"kind": "frobnicator"}, "InvalidArgument"),
    ({"kind": "pipe", "end": "c"}, "InvalidArgument"),
    ({"kind": "pipe", "capacity": 0}, "InvalidArgument"),
    ({"kind": "barrier", "parties": 0}, "InvalidArgument"),
    ({"kind": "barrier"}, "BadRequest"),
])
def test_open_argument_errors(c, req, code):
    err(c.call({"op": "open", "name": "x", **req}), code)
    assert c.is_open()


@pytest.mark.parametrize("name,code", [
    ("", "InvalidName"), ("n" * 256, "InvalidName"), (b"bin-name", "BadRequest"),
])
def test_names(c, name, code):
    err(c.call({"op": "open", "name": name, "kind": "queue"}), code)


def test_name_that_is_not_utf8_is_invalid_name(c):
    # {"id": 2, "op": "stat", "name": <str a3 ff fe 41>}
    c.send_payload(b"\x83\xa2id\x02\xa2op\xa4stat\xa4name\xa3\xff\xfe\x41")
    assert "UTF-8" in err(c.recv(), "InvalidName", id_=2)
    assert c.is_open()


def test_names_of_255_bytes_and_unicode(c):
    ok(c.call({"op": "open", "name": "n" * 255, "kind": "event"}), kind="event", created=True)
    ok(c.call({"op": "open", "name": "名前", "kind": "event"}), kind="event", created=True)


def test_not_found_and_type_mismatch(c):
    err(c.call({"op": "queue.get", "name": "nope", "timeout_ms": 0}), "NotFound")
    c.call({"op": "open", "name": "d", "kind": "dict"})
    err(c.call({"op": "queue.get", "name": "d", "timeout_ms": 0}), "TypeMismatch")


def test_admin_ops(broker):
    c = broker.client()
    c.call({"op": "open", "name": "q", "kind": "queue"})
    c.call({"op": "queue.put", "name": "q", "value": value(1)})
    assert c.call({"id": 3, "op": "ping"}) == {"id": 3}
    ok(c.call({"op": "list"}), objects=[{"name": "q", "kind": "queue", "len": 1, "waiters": 0}])
    r = c.call({"op": "stat", "name": "q"})
    assert r["kind"] == "queue" and r["info"]["len"] == 1 and r["info"]["maxsize"] == 0
    mine = [x for x in c.call({"op": "clients"})["clients"] if x["conn_id"] == c.conn_id]
    assert mine == [{"conn_id": c.conn_id, "pid": os.getpid(), "uid": os.getuid(),
                     "gid": os.getgid(), "name": "conformance", "lang": "python",
                     "holds": [], "waits": []}]


def test_queue_ops(c):
    c.call({"op": "open", "name": "j", "kind": "joinable_queue"})
    ok(c.call({"op": "queue.put", "name": "j", "value": value("a")}))
    ok(c.call({"op": "queue.qsize", "name": "j"}), len=1, maxsize=0, unfinished=1)
    ok(c.call({"op": "queue.get", "name": "j"}), value=value("a"))
    ok(c.call({"op": "queue.task_done", "name": "j"}))
    err(c.call({"op": "queue.task_done", "name": "j"}), "InvalidArgument")
    ok(c.call({"op": "queue.join", "name": "j", "timeout_ms": 0}))
    c.call({"op": "open", "name": "q", "kind": "queue"})
    err(c.call({"op": "queue.task_done", "name": "q"}), "TypeMismatch")


def test_leases(c):
    c.call({"op": "open", "name": "q", "kind": "queue"})
    c.call({"op": "queue.put", "name": "q", "value": value("t")})
    err(c.call({"op": "queue.get_leased", "name": "q", "lease_ms": 0}), "InvalidArgument")
    r = c.call({"op": "queue.get_leased", "name": "q", "timeout_ms": 0})
    assert set(r) == {"id", "value", "delivery", "attempt"} and r["attempt"] == 1
    ok(c.call({"op": "queue.nack", "name": "q", "delivery": r["delivery"]}))
    r2 = c.call({"op": "queue.get_leased", "name": "q", "timeout_ms": 0})
    assert r2["attempt"] == 2 and r2["delivery"] != r["delivery"]
    ok(c.call({"op": "queue.ack", "name": "q", "delivery": r2["delivery"]}))
    err(c.call({"op": "queue.ack", "name": "q", "delivery": r2["delivery"]}), "UnknownDelivery")
    err(c.call({"op": "queue.ack", "name": "q"}), "BadRequest")


def test_unlease_gives_a_delivery_back_without_counting_the_attempt(c):
    ok(c.call({"op": "open", "name": "ul", "kind": "joinable_queue", "max_attempts": 1}),
       created=True, kind="joinable_queue", maxsize=0, max_attempts=1)
    c.call({"op": "queue.put", "name": "ul", "value": value("a")})
    c.call({"op": "queue.put", "name": "ul", "value": value("b")})
    r = c.call({"op": "queue.get_leased", "name": "ul", "timeout_ms": 0})
    assert r["value"] == value("a") and r["attempt"] == 1
    ok(c.call({"op": "queue.unlease", "name": "ul", "delivery": r["delivery"]}))
    # Back at the head, still a first attempt (max_attempts 1: a nack would dead-letter it),
    # and still unfinished on the joinable queue.
    ok(c.call({"op": "queue.qsize", "name": "ul"}), len=2, maxsize=0, unfinished=2)
    r2 = c.call({"op": "queue.get_leased", "name": "ul", "timeout_ms": 0})
    assert r2["value"] == value("a") and r2["attempt"] == 1 and r2["delivery"] != r["delivery"]
    err(c.call({"op": "queue.unlease", "name": "ul", "delivery": r["delivery"]}),
        "UnknownDelivery")
    err(c.call({"op": "queue.unlease", "name": "ul"}), "BadRequest")
    err(c.call({"op": "queue.unlease", "name": "nope", "delivery": r2["delivery"]}), "NotFound")
    ok(c.call({"op": "queue.ack", "name": "ul", "delivery": r2["delivery"]}))


def test_dict_ops(c):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    k, v = value("k"), value(1)
    ok(c.call({"op": "dict.set", "name": "d", "key": k, "value": v}))
    ok(c.call({"op": "dict.get", "name": "d", "key": k}), value=v)
    ok(c.call({"op": "dict.contains", "name": "d", "key": k}), found=True)
    ok(c.call({"op": "dict.len", "name": "d"}), len=1)
    ok(c.call({"op": "dict.update", "name": "d", "items": [[value("z"), value(2)]]}))
    ok(c.call({"op": "dict.keys", "name": "d"}), keys=[k, value("z")])
    ok(c.call({"op": "dict.values", "name": "d"}), values=[v, value(2)])
    ok(c.call({"op": "dict.items", "name": "d"}), items=[[k, v], [value("z"), value(2)]])
    ok(c.call({"op": "dict.get_many", "name": "d", "keys": [k, value("no")]}), values=[v, None])
    ok(c.call({"op": "dict.incr", "name": "d", "key": k, "delta": 4}), n=5)
    ok(c.call({"op": "dict.get", "name": "d", "key": k}), value=pack(5))
    ok(c.call({"op": "dict.incr", "name": "d", "key": k, "delta": -6}), n=-1)
    ok(c.call({"op": "dict.set", "name": "d", "key": value("s"), "value": value("str")}))
    err(c.call({"op": "dict.incr", "name": "d", "key": value("s")}), "WrongType")
    ok(c.call({"op": "dict.set", "name": "d", "key": value("big"), "value": pack(2**63 - 1)}))
    err(c.call({"op": "dict.incr", "name": "d", "key": value("big")}), "InvalidArgument")
    ok(c.call({"op": "dict.compare_and_set", "name": "d", "key": value("new"),
               "value": v}), swapped=True)
    ok(c.call({"op": "dict.compare_and_set", "name": "d", "key": value("new"),
               "expected": value(9), "value": v}), swapped=False)
    ok(c.call({"op": "dict.setdefault", "name": "d", "key": value("new"), "value": value(7)}),
       value=v)
    ok(c.call({"op": "dict.pop", "name": "d", "key": value("new")}), value=v)
    err(c.call({"op": "dict.pop", "name": "d", "key": value("new")}), "KeyNotFound")
    ok(c.call({"op": "dict.popitem", "name": "d"}), key=value("big"), value=pack(2**63 - 1))
    ok(c.call({"op": "dict.delete", "name": "d", "key": value("s")}))
    err(c.call({"op": "dict.delete", "name": "d", "key": value("s")}), "KeyNotFound")
    ok(c.call({"op": "dict.clear", "name": "d"}))
    err(c.call({"op": "dict.popitem", "name": "d"}), "KeyNotFound")


def test_dict_insertion_order(c):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    for key in ("a", "b", "c"):
        c.call({"op": "dict.set", "name": "d", "key": value(key), "value": value(0)})
    c.call({"op": "dict.set", "name": "d", "key": value("a"), "value": value(1)})  # keeps place
    c.call({"op": "dict.delete", "name": "d", "key": value("b")})
    c.call({"op": "dict.set", "name": "d", "key": value("b"), "value": value(0)})  # to the end
    ok(c.call({"op": "dict.keys", "name": "d"}), keys=[value("a"), value("c"), value("b")])


def test_pipe_ops(broker):
    a, b = broker.client(), broker.client()
    ok(a.call({"op": "open", "name": "p", "kind": "pipe", "end": "a"}),
       kind="pipe", created=True, duplex=True, capacity=1024)
    err(b.call({"op": "open", "name": "p", "kind": "pipe", "end": "a"}), "Busy")
    err(b.call({"op": "pipe.send", "name": "p", "end": "a", "value": value(1)}), "NotOwner")
    b.call({"op": "open", "name": "p", "kind": "pipe", "end": "b"})
    ok(a.call({"op": "pipe.send", "name": "p", "end": "a", "value": value(1)}))
    ok(b.call({"op": "pipe.poll", "name": "p", "end": "b"}), ready=True)
    ok(b.call({"op": "pipe.recv", "name": "p", "end": "b"}), value=value(1))
    err(b.call({"op": "pipe.recv", "name": "p", "end": "x"}), "InvalidArgument")
    ok(a.call({"op": "pipe.close", "name": "p", "end": "a"}))
    err(b.call({"op": "pipe.recv", "name": "p", "end": "b", "timeout_ms": 0}), "Closed")
    err(b.call({"op": "pipe.send", "name": "p", "end": "b", "value": value(1)}), "Closed")


def test_one_way_pipe(c):
    c.call({"op": "open", "name": "p", "kind": "pipe", "duplex": False, "end": "b"})
    err(c.call({"op": "pipe.send", "name": "p", "end": "b", "value": value(1)}),
        "InvalidArgument")


def test_lock_ops_and_abandonment(broker):
    a, b = broker.client(), broker.client()
    a.call({"op": "open", "name": "l", "kind": "lock"})
    ok(a.call({"op": "lock.acquire", "name": "l"}), acquired=True)
    ok(b.call({"op": "lock.acquire", "name": "l", "timeout_ms": 0}), acquired=False)
    err(b.call({"op": "lock.release", "name": "l"}), "NotOwner")
    a.close()
    r = b.call({"op": "lock.acquire", "name": "l", "timeout_ms": 5000})
    ok(r, acquired=True, abandoned_by=os.getpid())
    ok(b.call({"op": "lock.release", "name": "l"}))


def test_condition_ops(c):
    c.call({"op": "open", "name": "cv", "kind": "condition"})
    err(c.call({"op": "condition.wait", "name": "cv", "timeout_ms": 0}), "NotOwner")
    ok(c.call({"op": "condition.acquire", "name": "cv"}), acquired=True)
    ok(c.call({"op": "condition.notify", "name": "cv"}), n=0)
    ok(c.call({"op": "condition.notify_all", "name": "cv"}), n=0)
    ok(c.call({"op": "condition.wait", "name": "cv", "timeout_ms": 10}), notified=False)
    ok(c.call({"op": "condition.release", "name": "cv"}))


def test_semaphore_event_barrier_ops(c):
    c.call({"op": "open", "name": "s", "kind": "bounded_semaphore", "initial": 1})
    ok(c.call({"op": "semaphore.acquire", "name": "s"}), acquired=True)
    ok(c.call({"op": "semaphore.release", "name": "s"}))
    err(c.call({"op": "semaphore.release", "name": "s"}), "InvalidArgument")
    c.call({"op": "open", "name": "e", "kind": "event"})
    ok(c.call({"op": "event.set", "name": "e"}))
    ok(c.call({"op": "event.is_set", "name": "e"}), set=True)
    ok(c.call({"op": "event.wait", "name": "e"}), set=True)
    ok(c.call({"op": "event.clear", "name": "e"}))
    c.call({"op": "open", "name": "b", "kind": "barrier", "parties": 1})
    ok(c.call({"op": "barrier.wait", "name": "b"}), index=0)
    ok(c.call({"op": "barrier.abort", "name": "b"}))
    err(c.call({"op": "barrier.wait", "name": "b"}), "BrokenBarrier")
    ok(c.call({"op": "barrier.reset", "name": "b"}))
    ok(c.call({"op": "barrier.state", "name": "b"}), parties=1, n_waiting=0, broken=False)


def test_limit_errors_name_the_limit():
    from conftest import Broker
    b = Broker("--max-objects", "1", "--max-blocked", "1", "--memory-limit", "1K")
    try:
        c = b.client()
        c.call({"op": "open", "name": "q", "kind": "queue"})
        assert "max_objects" in err(c.call({"op": "open", "name": "r", "kind": "queue"}),
                                    "LimitExceeded")
        assert "memory_limit" in err(c.call({"op": "queue.put", "name": "q",
                                             "value": value("x" * 2000)}), "LimitExceeded")
        c.send({"op": "queue.get", "name": "q"})
        assert "max_blocked" in err(c.call({"op": "queue.get", "name": "q"}), "LimitExceeded")
    finally:
        b.stop()
