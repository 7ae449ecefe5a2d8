"""The Python peer of the cross-language matrix (tests/cross-language/README.md).

    peer.py <send|recv> <queue|pipe|dict> <object-name>     (broker: $XPROC_SOCKET)

The sender puts every value case on the object through the ``xproc`` binding; the receiver
takes each one and checks it against its own copy of the case, built here natively. Both
print one line per step, ``ok <step>`` or ``FAIL <step>: expected ..., got ...``, and exit 1
if any step failed (2 on a usage error).
"""

from __future__ import annotations

import math
import queue
import sys
from typing import Any, Callable, List, Optional, Tuple

import xproc

#: How long a receiver waits for each value, and the dict receiver for the done event:
#: generous, because the sender may still be starting (a cold Mono or Python start).
RECV_TIMEOUT = 30.0
#: How long a sender waits for room (only a broken broker makes it wait at all).
SEND_TIMEOUT = 30.0
MIB = 1 << 20


def pattern(n: int) -> bytes:
    """`n` bytes, byte i = i % 251 (a prime, so a shifted or truncated copy shows)."""
    return (bytes(range(251)) * (n // 251 + 1))[:n]

#: The dict scenario's extra entry: an integer key, which every language must encode in its
#: shortest form for the receiver's own encoding of it to find the entry.
DICT_INT_KEY = 42
DICT_INT_VALUE = "answer"

#: Every case, in the order the queue and pipe scenarios carry them.
CASES: List[Tuple[str, Any]] = [
    ("nil", None),
    ("true", True),
    ("false", False),
    ("zero", 0),
    ("minus_one", -1),
    ("i64_min", -(2**63)),
    ("i64_max", 2**63 - 1),
    ("u64_max", 2**64 - 1),
    ("two_pow_53_plus_1", 2**53 + 1),
    ("float_1_5", 1.5),
    ("nan", math.nan),
    ("pos_inf", math.inf),
    ("neg_inf", -math.inf),
    ("neg_zero", -0.0),
    ("empty_string", ""),
    ("unicode_string", "héllo wörld ✓ 日本 🦀"),
    ("empty_bytes", b""),
    ("bytes_with_zeros", b"\x00\x01\x00\x00\xff\x00"),
    ("nested_array", [1, [2, [3, []]], [], [["deep"]]]),
    (
        "nested_map",
        {
            "name": "matrix",
            "inner": {"list": [1, 2, 3], "deep": {"x": -1, "empty": {}}},
            "empty_list": [],
        },
    ),
    ("int_key_map", {1: "one", -2: "minus two"}),
    ("mixed_array", [1, "two", 3.25, True, None, b"\x00\xff", {"k": "v"}, [-5]]),
    # Byte i is i % 251 (a prime, so a shifted or truncated copy shows).
    ("bytes_1mib", pattern(MIB)),
    # 16 MiB: between clients on the local socket it travels as a sealed memfd (PROTOCOL §4.1).
    ("bytes_16mib", pattern(16 * MIB)),
]


def describe(value: Any) -> str:
    """A short description of a value, with its type, for FAIL lines."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return f"bool {value}"
    if isinstance(value, int):
        return f"int {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, str):
        return f"str {value[:40]!r}" + (f"... ({len(value)} chars)" if len(value) > 40 else "")
    if isinstance(value, (bytes, bytearray)):
        head = bytes(value[:16]).hex(" ")
        return f"bytes [{head}]" + (f"... ({len(value)} bytes)" if len(value) > 16 else "")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{describe(k)}: {describe(v)}" for k, v in value.items()) + "}"
    return f"{type(value).__name__} {value!r:.60}"


def kind(value: Any) -> str:
    """The MessagePack family of a Python value (bool before int: bool is an int subclass)."""
    for name, types in (("nil", type(None)), ("bool", bool), ("int", int), ("float", float),
                        ("str", str), ("bytes", (bytes, bytearray)), ("array", (list, tuple)),
                        ("map", dict)):
        if isinstance(value, types):
            return name
    return type(value).__name__


def difference(expected: Any, got: Any, path: str = "") -> Optional[str]:
    """Where and how ``got`` differs from ``expected``, or None. Exact: same family (True is
    not 1, 1.0 is not 1, str is not bytes), same value, NaN matches NaN, zeros agree on the
    sign bit; maps compare as sets of entries, keys matched exactly too."""
    at = f"at {path}: " if path else ""
    mismatch = f"{at}expected {describe(expected)}, got {describe(got)}"
    k = kind(expected)
    if kind(got) != k:
        return mismatch
    if k == "float":
        if math.isnan(expected):
            return None if math.isnan(got) else mismatch
        same = expected == got and math.copysign(1, expected) == math.copysign(1, got)
        return None if same else mismatch
    if k == "bytes":
        if len(expected) != len(got):
            return f"{at}expected {len(expected)} bytes, got {len(got)} bytes"
        if expected != got:
            i = next(i for i, (a, b) in enumerate(zip(expected, got)) if a != b)
            return f"{at}expected byte {i} = 0x{expected[i]:02x}, got 0x{got[i]:02x}"
        return None
    if k == "array":
        if len(expected) != len(got):
            return mismatch
        for i, (e, g) in enumerate(zip(expected, got)):
            why = difference(e, g, f"{path}[{i}]")
            if why:
                return why
        return None
    if k == "map":
        if len(expected) != len(got):
            return mismatch
        for ek, ev in expected.items():
            # Python's dict would match True with 1: find the key by exact comparison.
            match = [gk for gk in got if difference(ek, gk) is None]
            if not match:
                return f"{at}expected a key {describe(ek)}, got {describe(got)}"
            why = difference(ev, got[match[0]], f"{path}[{describe(ek)}]")
            if why:
                return why
        return None
    return None if expected == got else mismatch


class Report:
    """Prints each step's outcome and counts the failures."""

    def __init__(self) -> None:
        self.failures = 0

    def ok(self, step: str) -> None:
        print(f"ok {step}", flush=True)

    def fail(self, step: str, why: str) -> None:
        self.failures += 1
        print(f"FAIL {step}: {why}", flush=True)

    def check(self, step: str, expected: Any, receive: Callable[[], Any]) -> bool:
        """Receives one value and checks it; False if nothing was received (a queue or pipe
        receiver stops there: every later wait would fail the same way)."""
        try:
            got = receive()
        except Exception as e:  # noqa: BLE001 — any failure to receive is this step's FAIL
            self.fail(step, f"expected {describe(expected)}, got {type(e).__name__}: {e}")
            return False
        why = difference(expected, got)
        if why:
            self.fail(step, why)
        else:
            self.ok(step)
        return True

    def sent(self, step: str, send: Callable[[], Any]) -> bool:
        """Runs one sending step; False (and a FAIL line) if it raised."""
        try:
            send()
        except Exception as e:  # noqa: BLE001 — any failure to send is this step's FAIL
            self.fail(step, f"send failed: {type(e).__name__}: {e}")
            return False
        self.ok(step)
        return True


def send(c: xproc.Client, scenario: str, name: str, report: Report) -> None:
    if scenario == "queue":
        q = c.Queue(name)
        for case, value in CASES:
            if not report.sent(case, lambda: q.put(value, timeout=SEND_TIMEOUT)):
                return
    elif scenario == "pipe":
        conn = c.Pipe(name, end="a")
        for case, value in CASES:
            if not report.sent(case, lambda: conn.send(value, timeout=SEND_TIMEOUT)):
                return
        # Closing is what tells the receiver that nothing more comes (end of file).
        report.sent("end", conn.close)
    else:
        d = c.dict(name)
        for case, value in CASES:
            if not report.sent(case, lambda: d.__setitem__(case, value)):
                return
        if report.sent("dict_int_key", lambda: d.__setitem__(DICT_INT_KEY, DICT_INT_VALUE)):
            report.sent("end", lambda: c.Event(f"{name}.done").set())


def recv(c: xproc.Client, scenario: str, name: str, report: Report) -> None:
    if scenario == "queue":
        q = c.Queue(name)
        for case, value in CASES:
            if not report.check(case, value, lambda: q.get(timeout=RECV_TIMEOUT)):
                return
        try:
            extra = q.get_nowait()
            report.fail("end", f"expected an empty queue, got {describe(extra)}")
        except queue.Empty:
            report.ok("end")
    elif scenario == "pipe":
        conn = c.Pipe(name, end="b")
        for case, value in CASES:
            if not report.check(case, value, lambda: conn.recv(timeout=RECV_TIMEOUT)):
                return
        try:
            extra = conn.recv(timeout=RECV_TIMEOUT)
            report.fail("end", f"expected end of file, got {describe(extra)}")
        except EOFError:
            report.ok("end")
        except Exception as e:  # noqa: BLE001
            report.fail("end", f"expected end of file (EOFError), got {type(e).__name__}: {e}")
    else:
        if not c.Event(f"{name}.done").wait(RECV_TIMEOUT):
            report.fail("done", "the sender's done event was not set in time")
            return
        d = c.dict(name)
        for case, value in CASES:
            # A missing key does not block: check every key.
            report.check(case, value, lambda: d[case])
        report.check("dict_int_key", DICT_INT_VALUE, lambda: d[DICT_INT_KEY])
        want = len(CASES) + 1
        n = len(d)
        if n == want:
            report.ok("end")
        else:
            report.fail("end", f"expected {want} entries, got {n}")


def main(argv: List[str]) -> int:
    if (len(argv) != 3 or argv[0] not in ("send", "recv")
            or argv[1] not in ("queue", "pipe", "dict")):
        print("usage: peer.py <send|recv> <queue|pipe|dict> <object-name>", file=sys.stderr)
        return 2
    role, scenario, name = argv
    report = Report()
    try:
        client = xproc.connect()
    except Exception as e:  # noqa: BLE001
        report.fail("connect", f"{type(e).__name__}: {e}")
        return 1
    with client:
        try:
            (send if role == "send" else recv)(client, scenario, name, report)
        except Exception as e:  # noqa: BLE001 — opening an object failed: report, don't trace
            report.fail("open", f"{type(e).__name__}: {e}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
