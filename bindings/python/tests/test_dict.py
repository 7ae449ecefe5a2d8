"""The shared dict against a real broker: the ``MutableMapping`` interface, its exceptions,
and the atomic ``incr`` and ``compare_and_set``."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import MutableMapping

import pytest

import xproc


def test_mapping_basics(client, name):
    d = client.dict(name)
    assert isinstance(d, MutableMapping)
    assert len(d) == 0
    d["host"] = "db"
    d["port"] = 5432
    d[1] = "int key"
    assert d["host"] == "db" and d["port"] == 5432 and d[1] == "int key"
    assert "host" in d and "nope" not in d
    assert len(d) == 3
    assert d.keys() == ["host", "port", 1]
    assert d.values() == ["db", 5432, "int key"]
    assert d.items() == [("host", "db"), ("port", 5432), (1, "int key")]
    assert list(d) == ["host", "port", 1]
    assert d.copy() == {"host": "db", "port": 5432, 1: "int key"}
    assert d == {"host": "db", "port": 5432, 1: "int key"}
    assert d == client.dict(name)
    assert d.get("nope") is None and d.get("nope", 7) == 7 and d.get("port") == 5432
    del d["host"]
    assert "host" not in d


def test_missing_keys_raise_key_error(client, name):
    d = client.dict(name)
    with pytest.raises(KeyError) as e:
        d["missing"]
    assert e.value.args == ("missing",)
    with pytest.raises(KeyError):
        del d["missing"]
    with pytest.raises(KeyError):
        d.pop("missing")
    assert d.pop("missing", None) is None
    with pytest.raises(KeyError, match="empty"):
        d.popitem()


def test_insertion_order_pop_popitem_setdefault_clear(client, name):
    d = client.dict(name)
    d.update({"a": 1, "b": 2}, c=3)
    d.update([("d", 4)])
    d["a"] = 10  # overwriting keeps the place
    assert d.keys() == ["a", "b", "c", "d"]
    assert d.pop("b") == 2
    d["b"] = 20  # re-set after delete moves to the end
    assert d.keys() == ["a", "c", "d", "b"]
    assert d.popitem() == ("b", 20)
    assert d.setdefault("a", 99) == 10
    assert d.setdefault("e") is None and d["e"] is None
    assert d.setdefault("f", [1]) == [1]
    d.clear()
    assert len(d) == 0 and d.items() == []


def test_keys_compare_by_encoded_bytes(client, name):
    d = client.dict(name)
    d[1] = "int"
    d[1.0] = "float"
    d[True] = "bool"
    d["1"] = "str"
    d[b"1"] = "bytes"
    assert len(d) == 5
    assert d[1] == "int" and d[1.0] == "float" and d[True] == "bool"
    d[(1, 2)] = "tuple"
    assert d[[1, 2]] == "tuple"  # a tuple and a list are the same MessagePack array
    assert [1, 2] in d.keys()
    assert d.copy()[(1, 2)] == "tuple"  # array keys become tuples in a plain dict


def test_incr(client, name):
    d = client.dict(name)
    assert d.incr("hits") == 1
    assert d.incr("hits", 10) == 11
    assert d.incr("hits", -20) == -9
    assert d["hits"] == -9
    d["big"] = 2**63 - 1
    with pytest.raises(xproc.InvalidArgumentError) as e:
        d.incr("big")
    assert isinstance(e.value, ValueError)
    d["text"] = "abc"
    with pytest.raises(xproc.WrongTypeError) as e2:
        d.incr("text")
    assert isinstance(e2.value, TypeError)
    with pytest.raises(xproc.IntegerRangeError):
        d.incr("hits", 2**63)


def test_compare_and_set(client, name):
    d = client.dict(name)
    assert d.compare_and_set("k", xproc.ABSENT, 1) is True
    assert d.compare_and_set("k", xproc.ABSENT, 2) is False
    assert d.compare_and_set("k", 2, 3) is False
    assert d.compare_and_set("k", 1.0, 3) is False  # 1.0 is not 1, byte for byte
    assert d.compare_and_set("k", 1, {"v": 3}) is True
    assert d["k"] == {"v": 3}
    assert d.compare_and_set("k", {"v": 3}, None) is True
    assert d["k"] is None


def _add_many(socket_path: str, dict_name: str, count: int) -> None:
    with xproc.connect(socket_path) as c:
        d = c.dict(dict_name)
        d.setdefault("cas", 0)
        for _ in range(count):
            d.incr("n")
            # A read-modify-write made atomic with compare_and_set.
            while True:
                old = d["cas"]
                if d.compare_and_set("cas", old, old + 1):
                    break


def test_atomic_counters_across_processes(broker, client, name):
    procs = [
        multiprocessing.get_context("fork").Process(target=_add_many, args=(broker.path, name, 50))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    d = client.dict(name)
    assert d["n"] == 200
    assert d["cas"] == 200


def test_dict_shared_by_threads(client, name):
    d = client.dict(name)

    def work(t: int) -> None:
        for i in range(100):
            d[f"{t}-{i}"] = i
            d.incr("total")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert d["total"] == 800
    assert len(d) == 801


def test_limit_error_names_the_limit(name):
    from support import Broker

    b = Broker("--memory-limit", "4K")
    try:
        with xproc.connect(b.path) as c:
            d = c.dict(name)
            with pytest.raises(xproc.LimitError, match="memory"):
                d["big"] = b"x" * 10000
            with pytest.raises(xproc.LimitError):
                d.update({"a": b"x" * 3000, "b": b"y" * 3000})
            assert len(d) == 0  # the update set nothing
    finally:
        assert b.stop() == 0


def test_scan_reads_a_dict_bigger_than_max_frame():
    from support import Broker

    b = Broker("--max-frame", "4096")
    try:
        with xproc.connect(b.path) as c:
            d = c.dict("big")
            want = [(f"key-{i:04}", "v" * 40) for i in range(300)]
            d.update(want[:50])
            for k, v in want[50:]:
                d[k] = v
            with pytest.raises(xproc.LimitError):
                d.items()  # one snapshot: over max_frame
            assert list(d.scan()) == want
            assert list(d.scan(count=7)) == want
            assert list(d) == [k for k, _ in want]  # iteration scans too
            assert "key-0299" in d and len(d) == 300
    finally:
        b.stop()


def test_scan_during_writes_returns_each_stable_key_once(connect, name) -> None:
    client = connect()
    d = client.dict(name)
    d.update([(f"stable-{i}", 0) for i in range(500)])
    d.update([(f"churn-{i}", 0) for i in range(500)])
    w = connect().dict(name)  # another connection writes between pages
    seen = {}
    for i, (k, _) in enumerate(d.scan(count=25)):
        seen[k] = seen.get(k, 0) + 1
        if i % 10 == 0:
            w[f"stable-{i % 500}"] = i  # overwriting keeps the key's place
            w.pop(f"churn-{i % 500}", None)
            w[f"churn-{(i + 7) % 500}"] = i  # may move to the end
            w[f"new-{i}"] = i  # added at the end: comes once
    assert all(seen[f"stable-{i}"] == 1 for i in range(500))
    assert all(n == 1 for k, n in seen.items() if k.startswith("new-"))
    assert all(n <= 2 for n in seen.values())
