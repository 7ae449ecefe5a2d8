"""Python exchanging every value type with Rust processes, both ways, through a queue, a pipe
and a dict.

The Rust side is the cross-language matrix's peer, ``tests/src/bin/matrix_peer.rs`` (see
tests/cross-language/README.md for its contract): its receiver checks each value against its
own natively built copy, and its sender's values are checked here, types included. The
MessagePack types the matrix leaves out — float 32, timestamps, other extensions, maps with
non-string keys of every kind — go through the Rust ``xproc`` CLI instead.
"""

from __future__ import annotations

import json
import math
import subprocess
from typing import Iterator

import msgpack
import pytest
from support import Broker, find_binary, same

import xproc

RECV_TIMEOUT = 30.0

# The matrix's cases, built natively here (names and values as in the README's table).
CASES = [
    ("nil", None),
    ("true", True),
    ("false", False),
    ("zero", 0),
    ("minus_one", -1),
    ("i64_min", -(2**63)),
    ("i64_max", 2**63 - 1),
    ("u64_max", 2**64 - 1),
    ("two_pow_53_plus_1", 9007199254740993),
    ("float_1_5", 1.5),
    ("nan", math.nan),
    ("pos_inf", math.inf),
    ("neg_inf", -math.inf),
    ("neg_zero", -0.0),
    ("empty_string", ""),
    ("unicode_string", "héllo wörld ✓ 日本 🦀"),
    ("empty_bytes", b""),
    ("bytes_with_zeros", bytes([0, 1, 0, 0, 0xFF, 0])),
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
    ("bytes_1mib", bytes(i % 251 for i in range(1 << 20))),
    # 16 MiB, byte i = i % 251 as the peer builds it: a sealed memfd between these clients.
    ("bytes_16mib", (bytes(range(251)) * ((16 << 20) // 251 + 1))[: 16 << 20]),
]


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """The module's broker, with room for the 16 MiB case: its MessagePack header takes it
    past the default max_frame (as in tests/cross-language/run.sh)."""
    b = Broker("--max-frame", "32M")
    yield b
    status = b.stop()
    assert status == 0, f"xprocd exited with {status}; its log:\n{b.log()}"


def matrix_peer(broker, role: str, scenario: str, name: str) -> subprocess.Popen:
    exe = find_binary(
        "matrix_peer", "XPROC_MATRIX_PEER", "cargo build --release -p xproc-tests --bin matrix_peer"
    )
    return subprocess.Popen(
        [exe, role, scenario, name],
        env=broker.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(peer: subprocess.Popen, steps) -> None:
    """Waits for the peer; requires exit 0 and an ``ok`` line for every step."""
    out, err = peer.communicate(timeout=120)
    assert peer.returncode == 0, f"matrix_peer failed:\n{out}\n{err}"
    oks = {line[3:] for line in out.splitlines() if line.startswith("ok ")}
    missing = [s for s in steps if s not in oks]
    assert not missing, f"matrix_peer did not report {missing}:\n{out}\n{err}"


def check(case: str, expected, got) -> None:
    assert same(expected, got), f"{case}: expected {expected!r:.80}, got {got!r:.80}"


# ------------------------------------------------------------------------------ Python -> Rust


def test_queue_python_to_rust(broker, client, name):
    q = client.Queue(name)
    for _, value in CASES:
        q.put(value)
    finish(matrix_peer(broker, "recv", "queue", name), [c for c, _ in CASES] + ["end"])


def test_pipe_python_to_rust(broker, client, name):
    a = client.Pipe(name, end="a")
    for _, value in CASES:
        a.send(value)
    a.close()  # end of file after the last case
    finish(matrix_peer(broker, "recv", "pipe", name), [c for c, _ in CASES] + ["end"])


def test_dict_python_to_rust(broker, client, name):
    d = client.dict(name)
    for case, value in CASES:
        d[case] = value
    d[42] = "answer"
    client.Event(f"{name}.done").set()
    finish(
        matrix_peer(broker, "recv", "dict", name),
        [c for c, _ in CASES] + ["dict_int_key", "end"],
    )


# ------------------------------------------------------------------------------ Rust -> Python


def test_queue_rust_to_python(broker, client, name):
    q = client.Queue(name)
    peer = matrix_peer(broker, "send", "queue", name)
    for case, expected in CASES:
        check(case, expected, q.get(timeout=RECV_TIMEOUT))
    finish(peer, [c for c, _ in CASES])
    assert q.qsize() == 0


def test_pipe_rust_to_python(broker, client, name):
    b = client.Pipe(name, end="b")
    peer = matrix_peer(broker, "send", "pipe", name)
    for case, expected in CASES:
        check(case, expected, b.recv(timeout=RECV_TIMEOUT))
    with pytest.raises(EOFError):
        b.recv(timeout=RECV_TIMEOUT)
    finish(peer, [c for c, _ in CASES] + ["end"])


def test_dict_rust_to_python(broker, client, name):
    peer = matrix_peer(broker, "send", "dict", name)
    assert client.Event(f"{name}.done").wait(RECV_TIMEOUT)
    finish(peer, [c for c, _ in CASES] + ["dict_int_key", "end"])
    d = client.dict(name)
    for case, expected in CASES:
        check(case, expected, d[case])
    assert d[42] == "answer"
    assert len(d) == len(CASES) + 1


# ---------------------------------------------------------------- the rest, via the Rust CLI


def rust_cli(broker, *args: str) -> str:
    exe = find_binary("xproc", "XPROC_CLI", "cargo build --release -p xproc-cli")
    r = subprocess.run([exe, *args], env=broker.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


RUST_TO_PYTHON = [
    ('{"$f32": 0.5}', 0.5),
    ('{"$f32": "-inf"}', -math.inf),
    ('{"$timestamp": "2024-05-01T12:00:00.25Z"}', msgpack.Timestamp(1714564800, 250_000_000)),
    ('{"$timestamp": [-1, 999999999]}', msgpack.Timestamp(-1, 999_999_999)),
    ('{"$ext": [5, "0102"]}', msgpack.ExtType(5, b"\x01\x02")),
    ('{"$ext": [-5, "ab"]}', xproc.ExtType(-5, b"\xab")),
    (
        '{"$map": [[true, "t"], [null, "nil"], [[1, 2], "pair"], [{"$bin": "ff"}, "bin"]]}',
        {True: "t", None: "nil", (1, 2): "pair", b"\xff": "bin"},
    ),
]


@pytest.mark.parametrize("text, expected", RUST_TO_PYTHON, ids=[t for t, _ in RUST_TO_PYTHON])
def test_more_types_rust_to_python(broker, client, name, text, expected):
    rust_cli(broker, "put", name, text)
    got = client.Queue(name).get(timeout=RECV_TIMEOUT)
    assert same(expected, got), (expected, got)


PYTHON_TO_RUST = [
    (msgpack.Timestamp(1714564800, 250_000_000), {"$timestamp": "2024-05-01T12:00:00.25Z"}),
    (xproc.ExtType(-5, b"\xab"), {"$ext": [-5, "ab"]}),
    (msgpack.ExtType(5, b""), {"$ext": [5, ""]}),
    ({(1, 2): "pair", 7: "seven"}, {"$map": [[[1, 2], "pair"], [7, "seven"]]}),
    ({"$bin": "looks like a tag"}, {"$map": [["$bin", "looks like a tag"]]}),
    ([2**64 - 1, -(2**63), 1.0], [18446744073709551615, -9223372036854775808, 1.0]),
]


@pytest.mark.parametrize(
    "value, printed", PYTHON_TO_RUST, ids=[str(i) for i in range(len(PYTHON_TO_RUST))]
)
def test_more_types_python_to_rust(broker, client, name, value, printed):
    client.Queue(name).put(value)
    out = rust_cli(broker, "get", name, "--timeout", "30")
    assert json.loads(out) == printed, out
    if isinstance(value, list):
        assert "1.0" in out  # still a float on the Rust side


def test_python_cli_reads_what_the_rust_cli_wrote(broker, name):
    rust_cli(broker, "put", name, '{"n": 7, "blob": {"$bin": "0102"}}')
    r = subprocess.run(
        [__import__("sys").executable, "-m", "xproc", "get", name, "--timeout", "30"],
        env=broker.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '{"n":7,"blob":{"$bin":"0102"}}'
    assert xproc.decode(xproc.encode({"n": 7})) == {"n": 7}
