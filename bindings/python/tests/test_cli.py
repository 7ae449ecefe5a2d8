"""``python -m xproc`` as a user runs it: real processes against a real broker, output and
exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

import msgpack


def cli(broker, *args: str, socket: bool = True) -> subprocess.CompletedProcess:
    env = broker.env()
    if not socket:
        env.pop("XPROC_SOCKET")
    return subprocess.run(
        [sys.executable, "-m", "xproc", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ping(broker):
    r = cli(broker, "ping")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"pong from {broker.path}: round trip ")


def test_put_ls_stat_get(broker, client, name):
    r = cli(broker, "put", name, '{"n": 7, "blob": {"$bin": "0102"}}')
    assert r.returncode == 0, r.stderr
    assert cli(broker, "put", name, "-7").returncode == 0
    ls = cli(broker, "ls")
    assert ls.returncode == 0
    assert ls.stdout.splitlines()[0].split() == ["NAME", "TYPE", "LENGTH", "WAITERS"]
    assert [name, "queue", "2", "0"] in [line.split() for line in ls.stdout.splitlines()]
    stat = cli(broker, "stat", name)
    fields = dict(line.split(None, 1) for line in stat.stdout.splitlines())
    assert fields["name"] == name and fields["kind"] == "queue" and fields["len"] == "2"
    got = cli(broker, "get", name)
    assert got.stdout == '{"n":7,"blob":{"$bin":"0102"}}\n'
    assert client.Queue(name).get() == -7


def test_values_the_python_side_put_print_as_json(broker, client, name):
    q = client.Queue(name)
    q.put({1: "int key", "ts": msgpack.Timestamp(0, 5), "nan": float("nan"), "b": b"\xff"})
    out = cli(broker, "get", name).stdout
    assert json.loads(out) == {
        "$map": [
            [1, "int key"],
            ["ts", {"$timestamp": "1970-01-01T00:00:00.000000005Z"}],
            ["nan", {"$float": "NaN"}],
            ["b", {"$bin": "ff"}],
        ]
    }


def test_dict_commands(broker, client, name):
    assert cli(broker, "dict", "set", name, "host", '"db"').returncode == 0
    assert cli(broker, "dict", "set", name, "42", "[1, 2]").returncode == 0
    assert client.dict(name).copy() == {"host": "db", 42: [1, 2]}
    assert cli(broker, "dict", "get", name, "42").stdout == "[1,2]\n"
    assert cli(broker, "dict", "keys", name).stdout == '"host"\n42\n'
    assert cli(broker, "dict", "items", name).stdout == '["host","db"]\n[42,[1,2]]\n'
    assert cli(broker, "dict", "del", name, "host").returncode == 0
    missing = cli(broker, "dict", "get", name, "host")
    assert missing.returncode == 1 and missing.stderr.startswith("xproc: ")
    assert cli(broker, "dict", "keys", name + "-none").returncode == 1


def test_clients_and_delete(broker, client, name):
    client.Lock(name).acquire()
    r = cli(broker, "clients")
    assert r.returncode == 0
    assert f"lock {name}" in r.stdout and "python" in r.stdout
    assert cli(broker, "delete", name).returncode == 0
    assert name not in cli(broker, "ls").stdout


def test_exit_statuses(broker, name):
    empty = cli(broker, "get", name, "--timeout", "0")
    assert empty.returncode == 1
    assert empty.stderr == f"xproc: queue {name!r} is empty\n"
    bad = cli(broker, "put", name, "hello")
    assert bad.returncode == 2 and "a string needs quotes" in bad.stderr
    nobody = cli(broker, "--socket", "/tmp/xproc-no-such.sock", "ls")
    assert nobody.returncode == 3 and "no broker at /tmp/xproc-no-such.sock" in nobody.stderr
    usage = cli(broker, "frobnicate")
    assert usage.returncode == 2
