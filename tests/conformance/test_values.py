"""§4 Values: bin holding exactly one well-formed MessagePack value, handed back byte for byte."""

import pytest

from wire import err, ok, pack, value


@pytest.fixture
def q(c):
    c.call({"op": "open", "name": "q", "kind": "queue"})
    return c


def test_value_sent_as_str_is_refused_not_reinterpreted(q):
    # "x" would otherwise be stored as the integer 120.
    m = err(q.call({"id": 5, "op": "queue.put", "name": "q", "value": "x"}), "BadRequest", 5)
    assert "'value'" in m and "bin" in m
    assert q.call({"op": "queue.qsize", "name": "q"})["len"] == 0
    assert q.is_open()


@pytest.mark.parametrize("wrong", [120, True, None, [value(1)], {"v": 1}, 1.5])
def test_value_of_another_type_is_refused(q, wrong):
    r = q.call({"id": 6, "op": "queue.put", "name": "q", "value": wrong})
    if wrong is None:
        assert "'value'" in err(r, "BadRequest", 6)  # nil = absent = missing
    else:
        assert "bin" in err(r, "BadRequest", 6)


def test_dict_key_and_expected_must_be_bin(c):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    err(c.call({"op": "dict.set", "name": "d", "key": "k", "value": value(1)}), "BadRequest")
    err(c.call({"op": "dict.compare_and_set", "name": "d", "key": value("k"), "expected": "1",
                "value": value(2)}), "BadRequest")
    assert c.call({"op": "dict.len", "name": "d"}) == {"id": c.next_id - 1, "len": 0}


@pytest.mark.parametrize("bad", [
    b"", b"\xc1", b"\x01\x02", b"\x92\x01", b"\xa2\xff\xfe", b"\xd5\xff\x00\x00",
    b"\x91" * 101 + b"\xc0",
], ids=["empty", "c1", "trailing", "truncated", "bad-utf8", "bad-timestamp", "too-deep"])
def test_malformed_value_is_invalid_value(q, bad):
    err(q.call({"id": 7, "op": "queue.put", "name": "q", "value": bad}), "InvalidValue", 7)
    assert q.call({"op": "queue.qsize", "name": "q"})["len"] == 0


@pytest.mark.parametrize("v", [
    None, True, 0, -1, 2**64 - 1, -(2**63), 1.5, "héllo", b"\x00\x01", [1, [2]], {"k": [None]},
])
def test_values_come_back_byte_for_byte(q, v):
    raw = pack(v)
    q.call({"op": "queue.put", "name": "q", "value": raw})
    ok(q.call({"op": "queue.get", "name": "q", "timeout_ms": 0}), value=raw)


def test_opaque_extension_and_timestamp_are_kept(q):
    for raw in (b"\xd4\x05\x01", b"\xd6\xff\x00\x00\x00\x01", b"\xd7\xff" + b"\x00" * 8):
        q.call({"op": "queue.put", "name": "q", "value": raw})
        ok(q.call({"op": "queue.get", "name": "q", "timeout_ms": 0}), value=raw)


def test_depth_100_is_accepted(q):
    raw = b"\x91" * 99 + b"\xc0"
    ok(q.call({"op": "queue.put", "name": "q", "value": raw}))


def test_dict_keys_compare_by_encoded_bytes(c):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    c.call({"op": "dict.set", "name": "d", "key": b"\x01", "value": value("short")})
    # 1 as uint8 (cc 01) is another key than the shortest form.
    r = c.call({"op": "dict.get", "name": "d", "key": b"\xcc\x01"})
    err(r, "KeyNotFound")
    ok(c.call({"op": "dict.get", "name": "d", "key": pack(1)}), value=value("short"))
