"""§2 Frames and §3 requests: what is a request, which errors close the connection, which id
they carry, and how fields are read."""

import struct

import msgpack
import pytest

from wire import Closed, err, frame, ok, pack, value


# §2: the length is checked from the header alone.
def test_frame_above_max_frame_is_refused_from_its_header(small_broker):
    other = small_broker.client()
    c = small_broker.client()
    c.send_raw(struct.pack(">I", 4097))  # no payload follows
    r = c.recv()
    assert "4096" in err(r, "TooLarge", id_=0)
    c.expect_eof()
    assert other.is_open(), "only that connection is closed"


def test_frame_of_exactly_max_frame_is_read(small_broker):
    c = small_broker.client()
    pad = "x" * 4096
    payload = pack({"id": 7, "op": "ping", "pad": pad})
    payload = pack({"id": 7, "op": "ping", "pad": pad[: len(pad) - (len(payload) - 4096)]})
    assert len(payload) == 4096
    c.send_payload(payload)
    ok(c.recv())
    assert c.is_open()


# §2: what is not a request map: BadRequest, id 0, close.
NOT_REQUEST_MAPS = {
    "positional array": pack([9, "queue.put", "q", value(1)]),
    "array with named pairs": pack([["id", 9], ["op", "ping"]]),
    "integer": pack(5),
    "string": pack("ping"),
    "nil": pack(None),
    "not msgpack": b"\xc1\xc1\xc1",
    "truncated map": pack({"id": 9, "op": "ping"})[:-2],
    "trailing bytes after the map": pack({"id": 9, "op": "ping"}) + b"\x00",
    "two maps": pack({"id": 9, "op": "ping"}) * 2,
    "no id": pack({"op": "ping"}),
    "nil id": pack({"id": None, "op": "ping"}),
    "negative id": pack({"id": -1, "op": "ping"}),
    "str id": pack({"id": "9", "op": "ping"}),
    "float id": pack({"id": 9.0, "op": "ping"}),
    "id twice": b"\x83\xa2id\x09\xa2op\xa4ping\xa2id\x0a",
    "integer key": b"\x83\xa2id\x09\xa2op\xa4ping\x01\x02",
    "empty payload": b"",
}


@pytest.mark.parametrize("payload", NOT_REQUEST_MAPS.values(), ids=NOT_REQUEST_MAPS.keys())
def test_not_a_request_map_closes_with_id_0(broker, payload):
    c = broker.client()
    c.send_payload(payload)
    err(c.recv(), "BadRequest", id_=0)
    c.expect_eof()


def test_positional_put_is_not_executed(broker):
    c = broker.client()
    ok(c.call({"op": "open", "name": "q", "kind": "queue"}), kind="queue", created=True,
       maxsize=0, max_attempts=5)
    bad = broker.client()
    bad.send_payload(pack([9, "queue.put", "q", value(1)]))
    err(bad.recv(), "BadRequest", id_=0)
    bad.expect_eof()
    assert c.call({"op": "queue.qsize", "name": "q"})["len"] == 0


def test_not_a_request_map_before_hello_is_bad_request(broker):
    c = broker.raw()
    c.send_payload(pack([0, "hello", 1]))
    err(c.recv(), "BadRequest", id_=0)
    c.expect_eof()


# §3: errors in a sound request map keep the connection and carry the request's id.
def test_mistyped_op_keeps_the_connection(c):
    assert "'op'" in err(c.call({"id": 5, "op": 1}), "BadRequest", id_=5)
    assert c.is_open()


def test_missing_op_keeps_the_connection(c):
    err(c.call({"id": 5}), "BadRequest", id_=5)
    assert c.is_open()


def test_unknown_op_keeps_the_connection(c):
    assert "queue.frobnicate" in err(c.call({"id": 6, "op": "queue.frobnicate"}), "UnknownOp", 6)
    assert c.is_open()


@pytest.mark.parametrize("req,field", [
    ({"op": "queue.get", "name": 5}, "name"),
    ({"op": "queue.get", "name": "q", "timeout_ms": "10"}, "timeout_ms"),
    ({"op": "queue.get", "name": "q", "timeout_ms": -1}, "timeout_ms"),
    ({"op": "queue.get", "name": "q", "timeout_ms": 1.5}, "timeout_ms"),
    ({"op": "open", "name": "p", "kind": "pipe", "duplex": 1}, "duplex"),
    ({"op": "open", "name": "q", "kind": 1}, "kind"),
    ({"op": "dict.incr", "name": "d", "key": value("k"), "delta": "1"}, "delta"),
    ({"op": "dict.incr", "name": "d", "key": value("k"), "delta": 2**63}, "delta"),
    ({"op": "dict.get_many", "name": "d", "keys": value("k")}, "keys"),
    ({"op": "dict.get_many", "name": "d", "keys": ["k"]}, "keys"),
    ({"op": "dict.update", "name": "d", "items": [[value(1)]]}, "items"),
    ({"op": "cancel", "target": "x"}, "target"),
])
def test_mistyped_field_is_bad_request_naming_it(c, req, field):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    c.call({"op": "open", "name": "q", "kind": "queue"})
    m = err(c.call({"id": 40, **req}), "BadRequest", id_=40)
    assert f"'{field}'" in m, m
    assert c.is_open()


def test_missing_required_field_is_bad_request(c):
    c.call({"op": "open", "name": "q", "kind": "queue"})
    assert "'value'" in err(c.call({"id": 3, "op": "queue.put", "name": "q"}), "BadRequest", 3)
    assert c.is_open()


def test_nil_means_absent(c):
    c.call({"op": "open", "name": "q", "kind": "queue", "maxsize": None})
    # nil timeout_ms: wait forever (§5) — here an item is there, so it answers at once.
    c.call({"op": "queue.put", "name": "q", "value": value(1), "timeout_ms": None})
    ok(c.call({"op": "queue.get", "name": "q", "timeout_ms": None}), value=value(1))
    # nil in a required field: missing.
    assert "'name'" in err(c.call({"op": "queue.get", "name": None}), "BadRequest")


def test_field_given_twice_is_bad_request(c):
    # {"id": 8, "op": "ping", "name": "a", "name": "b"}
    c.send_payload(b"\x84\xa2id\x08\xa2op\xa4ping\xa4name\xa1a\xa4name\xa1b")
    assert "'name'" in err(c.recv(), "BadRequest", id_=8)
    assert c.is_open()


@pytest.mark.parametrize("extra", [
    {"name": 5},
    {"value": "not bin"},
    {"timeout_ms": "soon"},
    {"future": [1, {"x": None}]},
    {"key": -3, "end": 9, "delta": "x"},
])
def test_fields_the_op_does_not_read_are_ignored(c, extra):
    assert c.call({"id": 11, "op": "ping", **extra}) == {"id": 11}


def test_fields_of_other_ops_are_ignored_by_open(c):
    r = c.call({"op": "open", "name": "e", "kind": "event", "value": "not bin",
                "timeout_ms": "soon", "delta": "x"})
    ok(r, kind="event", created=True)


def test_any_integer_encoding_is_a_uint(c):
    c.call({"op": "open", "name": "q", "kind": "queue"})
    c.call({"op": "queue.put", "name": "q", "value": value(1)})
    # {"id": 0xd0 09 (int 8), "op": "queue.get", "name": "q", "timeout_ms": 0xcf 0...0 (uint 64)}
    payload = (b"\x84\xa2id\xd0\x09\xa2op\xa9queue.get\xa4name\xa1q\xaatimeout_ms"
               b"\xcf\x00\x00\x00\x00\x00\x00\x00\x00")
    c.send_payload(payload)
    ok(c.recv(), value=value(1))


def test_pid_above_u32_is_bad_request(broker):
    c = broker.raw()
    r = c.call({"id": 1, "op": "hello", "version": 1, "pid": 2**32})
    assert "'pid'" in err(r, "BadRequest", id_=1)
    c.expect_eof()


def test_ids_are_echoed_and_need_not_be_unique(c):
    for i in (0, 1, 1, 2**64 - 1):
        assert c.call({"id": i, "op": "ping"}) == {"id": i}


def test_pipelined_non_blocking_requests_are_answered_in_order(c):
    c.call({"op": "open", "name": "q", "kind": "queue"})
    ids = []
    batch = b""
    for i in range(50):
        batch += frame(pack({"id": 100 + i, "op": "queue.put", "name": "q", "value": value(i)}))
        ids.append(100 + i)
    c.send_raw(batch)
    assert [c.recv()["id"] for _ in ids] == ids


def test_blocking_reply_may_come_after_later_ones(c):
    c.call({"op": "open", "name": "q", "kind": "queue"})
    c.send({"id": 1, "op": "queue.get", "name": "q", "timeout_ms": 5000})
    assert c.call({"id": 2, "op": "queue.put", "name": "q", "value": value("x")}) == {"id": 2}
    assert c.recv() == {"id": 1, "value": value("x")}


# §3 / §6.1: the handshake.
def test_op_before_hello_is_hello_required_and_closes(broker):
    c = broker.raw()
    err(c.call({"id": 4, "op": "queue.qsize", "name": "q"}), "HelloRequired", id_=4)
    c.expect_eof()


def test_unknown_op_before_hello_is_hello_required(broker):
    c = broker.raw()
    err(c.call({"id": 4, "op": "frobnicate"}), "HelloRequired", id_=4)
    c.expect_eof()


def test_bad_hello_before_handshake_closes(broker):
    c = broker.raw()
    assert "'version'" in err(c.call({"id": 2, "op": "hello"}), "BadRequest", id_=2)
    c.expect_eof()
    c = broker.raw()
    err(c.call({"id": 2, "op": "hello", "version": "1"}), "BadRequest", id_=2)
    c.expect_eof()


def test_other_version_is_bad_version_and_closes(broker):
    c = broker.raw()
    m = err(c.call({"id": 3, "op": "hello", "version": 2}), "BadVersion", id_=3)
    assert "1" in m
    c.expect_eof()


def test_hello_reply(broker):
    c = broker.raw()
    r = c.call({"id": 0, "op": "hello", "version": 1, "client": "t", "lang": "py", "pid": 1})
    assert set(r) == {"id", "version", "server", "conn_id", "limits"}
    assert r["version"] == 1 and isinstance(r["server"], str) and r["conn_id"] >= 1
    assert r["limits"] == {"max_frame": 16 << 20, "max_clients": 1024, "max_objects": 65536,
                           "memory_limit": 1 << 30}


def test_second_hello_is_bad_request_and_changes_nothing(broker):
    c = broker.raw()
    c.hello(client="first")
    err(c.call({"id": 9, "op": "hello", "version": 1, "client": "second"}), "BadRequest", 9)
    assert c.is_open()
    clients = c.call({"op": "clients"})["clients"]
    assert [x["name"] for x in clients if x["conn_id"] == c.conn_id] == ["first"]


def test_pid_comes_from_peer_credentials_not_hello(broker):
    import os
    c = broker.raw()
    c.hello(pid=1)
    clients = c.call({"op": "clients"})["clients"]
    assert [x["pid"] for x in clients if x["conn_id"] == c.conn_id] == [os.getpid()]
