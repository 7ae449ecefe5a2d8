"""Every Python value type through the broker and back — in a queue, a pipe, and a dict as
key and as value — and the values xproc refuses before sending anything."""

from __future__ import annotations

import datetime
import math

import msgpack
import pytest
from support import Broker, same

import xproc

# (value sent, value expected back): tuples come back as lists.
ROUND_TRIPS = [
    (None, None),
    (True, True),
    (False, False),
    (0, 0),
    (-1, -1),
    (127, 127),
    (-(2**63), -(2**63)),
    (2**63 - 1, 2**63 - 1),
    (2**64 - 1, 2**64 - 1),
    (1.5, 1.5),
    (-0.0, -0.0),
    (float("inf"), float("inf")),
    (1e308, 1e308),
    ("", ""),
    ("héllo wörld ✓ 日本 🦀", "héllo wörld ✓ 日本 🦀"),
    ("a\x00b", "a\x00b"),
    (b"", b""),
    (b"\x00\x01\xff", b"\x00\x01\xff"),
    (bytearray(b"ba"), b"ba"),
    (memoryview(b"mv"), b"mv"),
    ([], []),
    ([1, [2, [3, []]], "x"], [1, [2, [3, []]], "x"]),
    ((1, (2, 3)), [1, [2, 3]]),
    ({}, {}),
    ({"a": 1, "b": {"c": [None]}}, {"a": 1, "b": {"c": [None]}}),
    (
        {1: "one", -2: "minus two", None: "nil", b"k": "bytes key"},
        {1: "one", -2: "minus two", None: "nil", b"k": "bytes key"},
    ),
    ({(1, 2): "tuple key"}, {(1, 2): "tuple key"}),
    (msgpack.Timestamp(1, 500), msgpack.Timestamp(1, 500)),
    (msgpack.Timestamp(-10, 0), msgpack.Timestamp(-10, 0)),
    (msgpack.ExtType(5, b"\x01\x02"), msgpack.ExtType(5, b"\x01\x02")),
    (b"\xab" * (1 << 20), b"\xab" * (1 << 20)),
]

IDS = [type(v).__name__ + str(i) for i, (v, _) in enumerate(ROUND_TRIPS)]


@pytest.mark.parametrize("value, expected", ROUND_TRIPS, ids=IDS)
def test_queue_round_trip(client, name, value, expected):
    q = client.Queue(name)
    q.put(value)
    got = q.get(timeout=5)
    assert same(expected, got), (expected, got)


@pytest.mark.parametrize("value, expected", ROUND_TRIPS, ids=IDS)
def test_pipe_round_trip(client, name, value, expected):
    a, b = client.Pipe(name)
    a.send(value)
    assert same(expected, b.recv(timeout=5))


@pytest.mark.parametrize("value, expected", ROUND_TRIPS, ids=IDS)
def test_dict_value_round_trip(client, name, value, expected):
    d = client.dict(name)
    d["k"] = value
    assert same(expected, d["k"])
    assert same(expected, d.items()[0][1])


HASHABLE_KEYS = [
    None,
    True,
    0,
    -(2**63),
    2**64 - 1,
    2.5,
    "",
    "ключ",
    b"\x00",
    (1, "a"),
    msgpack.Timestamp(3, 0),
]


@pytest.mark.parametrize("key", HASHABLE_KEYS, ids=[repr(k) for k in HASHABLE_KEYS])
def test_dict_key_round_trip(client, name, key):
    d = client.dict(name)
    d[key] = "v"
    assert d[key] == "v"
    assert key in d
    (got,) = d.keys()
    assert same(list(key) if isinstance(key, tuple) else key, got)
    del d[key]
    assert len(d) == 0


def test_nan_round_trip(client, name):
    q = client.Queue(name)
    q.put(float("nan"))
    assert math.isnan(q.get())


def test_aware_datetime_is_sent_as_a_timestamp(client, name):
    q = client.Queue(name)
    when = datetime.datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=datetime.timezone.utc)
    q.put(when)
    got = q.get()
    assert isinstance(got, msgpack.Timestamp)
    assert got.to_datetime() == when


OUT_OF_RANGE = [2**64, -(2**63) - 1, 10**40, [1, 2**64], {"k": [-(2**70)]}, {2**64: 1}]


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=[str(i) for i in range(len(OUT_OF_RANGE))])
def test_out_of_range_ints_are_refused_before_sending(client, name, value):
    q = client.Queue(name)
    with pytest.raises(xproc.IntegerRangeError, match="64") as e:
        q.put(value)
    assert isinstance(e.value, xproc.EncodeError)
    assert isinstance(e.value, OverflowError)
    assert isinstance(e.value, ValueError)
    a, b = client.Pipe(name + "-pipe")
    with pytest.raises(xproc.IntegerRangeError):
        a.send(value)
    d = client.dict(name + "-dict")
    with pytest.raises(xproc.IntegerRangeError):
        d["k"] = value
    with pytest.raises(xproc.IntegerRangeError):
        d[value if not isinstance(value, (list, dict)) else 2**64] = 1
    # Nothing reached the broker.
    assert q.qsize() == 0 and not b.poll() and len(d) == 0


def test_the_message_names_the_int(client, name):
    with pytest.raises(xproc.IntegerRangeError, match=str(2**64)):
        client.Queue(name).put([0, 2**64])


@pytest.mark.parametrize("value", [{1, 2}, object(), 1j, datetime.datetime(2024, 1, 1)])
def test_unsupported_types_are_refused(client, name, value):
    q = client.Queue(name)
    with pytest.raises(xproc.EncodeError, match="cannot send"):
        q.put(value)
    assert q.qsize() == 0


def test_a_value_above_max_frame_is_refused_before_sending(name):
    b = Broker("--max-frame", "64K")
    try:
        with xproc.connect(b.path) as c:
            assert c.limits.max_frame == 65536
            q = c.Queue(name)
            with pytest.raises(xproc.LimitError, match="max_frame"):
                q.put(b"x" * 100_000)
            q.put(b"x" * 1000)  # the connection is still good
            assert q.get() == b"x" * 1000
    finally:
        assert b.stop() == 0


def test_encode_decode_helpers():
    for value, expected in ROUND_TRIPS:
        assert same(expected, xproc.decode(xproc.encode(value)))
    with pytest.raises(xproc.DecodeError):
        xproc.decode(b"\xc1")
