"""§6.4 cursor scans (`dict.scan`) and §6.1 `scan` of the object list: bounded pages, and the
guarantee that every key present for the whole scan comes back exactly once."""

import random

import pytest

from wire import err, ok, pack, value


def scan_all(c, name, count=None, between=None):
    """Every entry of a dict by dict.scan, page by page; `between(page_no)` runs between pages."""
    cursor, seen, pages = 0, [], 0
    while True:
        req = {"op": "dict.scan", "name": name, "cursor": cursor}
        if count is not None:
            req["count"] = count
        r = c.call(req)
        assert set(r) == {"id", "items", "cursor"}, r
        assert r["items"] or r["cursor"] == 0, "only the last page may be empty"
        seen += [tuple(kv) for kv in r["items"]]
        pages += 1
        cursor = r["cursor"]
        if cursor == 0:
            return seen, pages
        if between:
            between(pages)


def test_pages_in_insertion_order(c):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    for i in range(25):
        c.call({"op": "dict.set", "name": "d", "key": value(i), "value": value(-i)})
    seen, pages = scan_all(c, "d", count=10)
    assert seen == [(value(i), value(-i)) for i in range(25)] and pages == 3
    ok(c.call({"op": "dict.scan", "name": "d", "count": 1000}),
       items=[[value(i), value(-i)] for i in range(25)], cursor=0)


def test_default_and_capped_count(c):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    c.call({"op": "dict.update", "name": "d",
            "items": [[value(i), value(0)] for i in range(1500)]})
    assert len(c.call({"op": "dict.scan", "name": "d"})["items"]) == 100
    assert len(c.call({"op": "dict.scan", "name": "d", "count": 5000})["items"]) == 1000
    err(c.call({"op": "dict.scan", "name": "d", "count": 0}), "InvalidArgument")


def test_empty_dict_and_errors(c):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    ok(c.call({"op": "dict.scan", "name": "d"}), items=[], cursor=0)
    err(c.call({"op": "dict.scan", "name": "nope"}), "NotFound")
    c.call({"op": "open", "name": "q", "kind": "queue"})
    err(c.call({"op": "dict.scan", "name": "q"}), "TypeMismatch")
    err(c.call({"op": "dict.scan", "name": "d", "cursor": "x"}), "BadRequest")


def test_dict_bigger_than_max_frame_is_enumerated_completely(small_broker):
    c = small_broker.client()
    c.call({"op": "open", "name": "big", "kind": "dict"})
    want = []
    for i in range(200):
        k, v = value(f"key-{i}"), value("v" * 40)
        c.call({"op": "dict.set", "name": "big", "key": k, "value": v})
        want.append((k, v))
    # The snapshot would be ~10 KiB, over max_frame (4 KiB): refused, the connection stays.
    err(c.call({"op": "dict.items", "name": "big"}), "TooLarge")
    seen, pages = scan_all(c, "big", count=50)
    assert seen == want and pages > 4  # 50 a page asked; half of max_frame allows fewer


def test_page_is_bounded_by_bytes(c):
    c.call({"op": "open", "name": "d", "kind": "dict"})
    big = value(b"x" * (400 * 1024))
    for i in range(5):
        c.call({"op": "dict.set", "name": "d", "key": value(i), "value": big})
    r = c.call({"op": "dict.scan", "name": "d", "count": 1000})
    assert len(r["items"]) == 2 and r["cursor"] != 0  # 3 x 400 KiB would pass 1 MiB
    seen, _ = scan_all(c, "d")
    assert len(seen) == 5


def test_concurrent_inserts_and_deletes_keep_the_guarantee(broker):
    c, w = broker.client(), broker.client()
    c.call({"op": "open", "name": "d", "kind": "dict"})
    stable = [value(f"stable-{i}") for i in range(300)]
    churn = [value(f"churn-{i}") for i in range(300)]
    keys = stable + churn
    random.Random(7).shuffle(keys)
    for k in keys:
        c.call({"op": "dict.set", "name": "d", "key": k, "value": value(0)})
    rng = random.Random(12)
    added = []

    def writer(page):
        # Another connection deletes and re-sets churn keys, overwrites stable ones (which
        # keeps their place) and adds new keys, between every two pages.
        for _ in range(20):
            k = rng.choice(churn)
            if rng.random() < 0.5:
                w.call({"op": "dict.delete", "name": "d", "key": k})
            else:
                w.call({"op": "dict.set", "name": "d", "key": k, "value": value(page)})
            w.call({"op": "dict.set", "name": "d", "key": rng.choice(stable),
                    "value": value(page)})
        k = value(f"new-{page}")
        w.call({"op": "dict.set", "name": "d", "key": k, "value": value(0)})
        added.append(k)

    seen, pages = scan_all(c, "d", count=37, between=writer)
    assert pages > 10
    got = [k for k, _ in seen]
    for k in stable:
        assert got.count(k) == 1, "a key present for the whole scan comes exactly once"
    for k in added:
        assert got.count(k) == 1, "a key added during the scan goes to the end"
    for k in churn:
        assert got.count(k) <= 2


def test_scan_of_the_object_list(c):
    names = [f"obj-{i:03}" for i in range(25)]
    for n in reversed(names):
        c.call({"op": "open", "name": n, "kind": "event"})
    r = c.call({"op": "scan", "count": 10})
    assert set(r) == {"id", "objects", "next"}
    assert [o["name"] for o in r["objects"]] == names[:10] and r["next"] == names[9]
    assert r["objects"][0] == {"name": "obj-000", "kind": "event", "len": 0, "waiters": 0}
    r = c.call({"op": "scan", "after": r["next"], "count": 10})
    assert [o["name"] for o in r["objects"]] == names[10:20]
    r = c.call({"op": "scan", "after": r["next"], "count": 10})
    assert [o["name"] for o in r["objects"]] == names[20:] and "next" not in r
    r = c.call({"op": "scan"})
    assert len(r["objects"]) == 25 and "next" not in r
    err(c.call({"op": "scan", "count": 0}), "InvalidArgument")
    err(c.call({"op": "scan", "after": 5}), "BadRequest")


def test_object_scan_with_creates_and_deletes(c):
    for i in range(100):
        c.call({"op": "open", "name": f"s-{i:03}", "kind": "lock"})
    seen, after, page = [], None, 0
    while True:
        req = {"op": "scan", "count": 7}
        if after is not None:
            req["after"] = after
        r = c.call(req)
        seen += [o["name"] for o in r["objects"]]
        if "next" not in r:
            break
        after = r["next"]
        page += 1
        c.call({"op": "delete", "name": f"t-{page}"})
        c.call({"op": "open", "name": f"t-{page}", "kind": "event"})
    assert all(seen.count(f"s-{i:03}") == 1 for i in range(100))
    assert seen == sorted(seen)


def test_object_scan_page_fits_a_small_max_frame(small_broker):
    c = small_broker.client()
    names = [f"object-{i:04}-" + "n" * 40 for i in range(150)]
    for n in names:
        c.call({"op": "open", "name": n, "kind": "event"})
    seen, after = [], None
    while True:
        req = {"op": "scan", "count": 1000}
        if after:
            req["after"] = after
        r = c.call(req)  # a reply over max_frame would be refused with TooLarge
        assert "error" not in r, r
        seen += [o["name"] for o in r["objects"]]
        after = r.get("next")
        if after is None:
            break
    assert seen == names
    err(c.call({"op": "list"}), "TooLarge")
