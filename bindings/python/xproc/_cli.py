"""``python -m xproc``: a small command-line client, the Python twin of the ``xproc`` CLI.

    python -m xproc [--socket PATH] ping | ls | stat NAME | clients | delete NAME
                                    put NAME JSON [--timeout S] | get NAME [--timeout S]
                                    dict get|set|del|keys|items NAME [KEY [JSON]]

Values are JSON, with docs/CLI.md's one-key tags for MessagePack types JSON lacks:
``{"$bin": "hex"}``, ``{"$map": [[k, v], ...]}``, ``{"$float": "NaN"}``, ``{"$f32": x}`` (sent
as a float 64: the Python binding has no float 32), ``{"$ext": [type, "hex"]}``,
``{"$timestamp": "RFC 3339"}`` or ``{"$timestamp": [seconds, nanoseconds]}``.

Exit status: 0 success; 1 the operation failed (empty queue, missing key, ...); 2 bad usage or
JSON; 3 no broker, or the connection was lost.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import queue
import sys
import time
from typing import Any, List, Optional, Sequence, Tuple

import msgpack

from ._client import Client, connect, default_socket_path
from ._errors import DisconnectedError, NoBrokerError, NotFoundError, XprocError
from ._values import ExtType

_TAGS = ("$bin", "$map", "$float", "$f32", "$ext", "$timestamp")
_I64_MIN, _U64_MAX = -(2**63), 2**64 - 1


class UsageError(Exception):
    """Bad arguments or JSON: exit status 2."""


class OperationError(Exception):
    """The operation failed: exit status 1."""


# ------------------------------------------------------------------------------ JSON -> value


def _parse_int(text: str) -> Any:
    n = int(text)
    # Outside both integer ranges: read as a float 64, as JSON parsers generally do.
    return n if _I64_MIN <= n <= _U64_MAX else float(text)


def _key(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple((_key(k), _key(v)) for k, v in value.items())
    return value


def _tag(tag: str, arg: Any) -> Any:
    if tag == "$bin":
        if not isinstance(arg, str):
            raise UsageError('"$bin" takes a hex string')
        try:
            return bytes.fromhex(arg)
        except ValueError as e:
            raise UsageError(f'"$bin": {e}') from None
    if tag == "$map":
        if not isinstance(arg, list) or not all(
            isinstance(kv, list) and len(kv) == 2 for kv in arg
        ):
            raise UsageError('"$map" takes a list of [key, value] pairs')
        return {_key(k): v for k, v in arg}
    if tag in ("$float", "$f32"):
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return float(arg)
        names = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}
        if isinstance(arg, str) and arg.lower() in names:
            return names[arg.lower()]
        raise UsageError(f'"{tag}" takes a number, "NaN", "inf" or "-inf"')
    if tag == "$ext":
        if not (
            isinstance(arg, list)
            and len(arg) == 2
            and isinstance(arg[0], int)
            and -128 <= arg[0] <= 127
            and isinstance(arg[1], str)
        ):
            raise UsageError('"$ext" takes [type (-128..127), "hex"]')
        try:
            return ExtType(arg[0], bytes.fromhex(arg[1]))
        except ValueError as e:
            raise UsageError(f'"$ext": {e}') from None
    # $timestamp
    if isinstance(arg, list) and len(arg) == 2 and all(isinstance(x, int) for x in arg):
        return msgpack.Timestamp(arg[0], arg[1])
    if isinstance(arg, str):
        return _parse_rfc3339(arg)
    raise UsageError('"$timestamp" takes an RFC 3339 string or [seconds, nanoseconds]')


def _parse_rfc3339(text: str) -> msgpack.Timestamp:
    body, nanos = text, 0
    if "." in text:
        # datetime keeps microseconds: take the fraction (up to nanoseconds) by hand.
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        if not digits or len(digits) > 9:
            raise UsageError(f"invalid timestamp {text!r}")
        nanos = int(digits.ljust(9, "0"))
        body = head + rest
    try:
        when = datetime.datetime.fromisoformat(body.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"invalid timestamp {text!r}") from None
    if when.tzinfo is None:
        raise UsageError(f"timestamp {text!r} needs a zone (Z or an offset)")
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    delta = when - epoch
    seconds = delta.days * 86400 + delta.seconds
    return msgpack.Timestamp(seconds, nanos)


def _pairs(pairs: List[Tuple[str, Any]]) -> Any:
    if len(pairs) == 1 and pairs[0][0] in _TAGS:
        return _tag(*pairs[0])
    return dict(pairs)


def parse_value(text: str) -> Any:
    """A value from the command line's JSON (with tags)."""
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        hint = " (a string needs quotes: '\"text\"')" if text[:1] not in '[{"-0123456789tfn' else ""
        raise UsageError(f"invalid JSON value {text!r}: {e}{hint}") from None


def parse_key(text: str) -> Any:
    """A dict key: JSON when it parses as JSON, otherwise the text itself."""
    try:
        return _key(json.loads(text, object_pairs_hook=_pairs, parse_int=_parse_int))
    except (json.JSONDecodeError, UsageError):
        return text


# ------------------------------------------------------------------------------ value -> JSON


def _float(x: float) -> Any:
    if math.isnan(x):
        return {"$float": "NaN"}
    if math.isinf(x):
        return {"$float": "inf" if x > 0 else "-inf"}
    return x


def _timestamp(ts: msgpack.Timestamp) -> Any:
    try:
        when = datetime.datetime.fromtimestamp(ts.seconds, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return {"$timestamp": [ts.seconds, ts.nanoseconds]}
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.nanoseconds:
        text += "." + f"{ts.nanoseconds:09d}".rstrip("0")
    return {"$timestamp": text + "Z"}


def to_json(value: Any) -> Any:
    """A JSON-able form of a decoded value (tags for what JSON lacks)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, msgpack.ExtType):  # a tuple: test it first
        return {"$ext": [value.code, value.data.hex()]}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        plain = all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and next(iter(value)) in _TAGS
        )
        if plain:
            return {k: to_json(v) for k, v in value.items()}
        return {"$map": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if isinstance(value, msgpack.Timestamp):
        return _timestamp(value)
    return repr(value)


def dumps(value: Any) -> str:
    """One line of JSON for a decoded value."""
    return json.dumps(to_json(value), ensure_ascii=False, separators=(",", ":"))


# ------------------------------------------------------------------------------ commands


def _table(rows: List[List[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _queue(c: Client, name: str) -> Any:
    try:
        kind = c.stat(name)["kind"]
    except NotFoundError:
        return c.Queue(name)
    if kind == "queue":
        return c.Queue(name)
    if kind == "joinable_queue":
        return c.JoinableQueue(name)
    raise OperationError(f"{name!r} is a {kind}, not a queue")


def _existing_dict(c: Client, name: str) -> Any:
    try:
        kind = c.stat(name)["kind"]
    except NotFoundError:
        raise OperationError(f"no dict named {name!r}") from None
    if kind != "dict":
        raise OperationError(f"{name!r} is a {kind}, not a dict")
    return c.dict(name)


def run(args: argparse.Namespace) -> Optional[str]:
    """Runs one command; returns what to print (or ``None``)."""
    c = connect(args.socket, name="xproc-cli-py")
    try:
        cmd = args.command
        if cmd == "ping":
            start = time.perf_counter()
            c.ping()
            micros = (time.perf_counter() - start) * 1e6
            return f"pong from {c.path}: round trip {micros:.0f} µs"
        if cmd == "ls":
            rows = [["NAME", "TYPE", "LENGTH", "WAITERS"]]
            for o in c.list():
                rows.append([o["name"], o["kind"], str(o["len"]), str(o["waiters"])])
            return _table(rows)
        if cmd == "stat":
            stat = c.stat(args.name)
            fields = [("name", args.name), ("kind", stat["kind"]), *stat["info"].items()]
            width = max(len(k) for k, _ in fields)
            return "\n".join(
                f"{k.ljust(width)}  {v if isinstance(v, str) else dumps(v)}" for k, v in fields
            )
        if cmd == "clients":
            rows = [["CONN", "PID", "UID", "NAME", "LANG", "HOLDS", "WAITS"]]
            for x in c.clients():
                rows.append(
                    [
                        str(x["conn_id"]),
                        str(x["pid"]),
                        str(x["uid"]),
                        x["name"],
                        x["lang"],
                        ", ".join(x["holds"]) or "-",
                        ", ".join(x["waits"]) or "-",
                    ]
                )
            return _table(rows)
        if cmd == "delete":
            c.delete(args.name)
            return None
        if cmd == "put":
            value = parse_value(args.value)
            try:
                _queue(c, args.name).put(value, timeout=args.timeout)
            except queue.Full:
                raise OperationError(f"queue {args.name!r} is full") from None
            return None
        if cmd == "get":
            try:
                return dumps(_queue(c, args.name).get(timeout=args.timeout))
            except queue.Empty:
                raise OperationError(f"queue {args.name!r} is empty") from None
        if cmd == "dict":
            return _dict_command(c, args)
        raise UsageError(f"unknown command {cmd!r}")
    finally:
        c.close()


def _dict_command(c: Client, args: argparse.Namespace) -> Optional[str]:
    op = args.op
    if op == "set":
        if args.value is None:
            raise UsageError("dict set NAME KEY JSON")
        value = parse_value(args.value)
        c.dict(args.name)[parse_key(args.key)] = value
        return None
    d = _existing_dict(c, args.name)
    if op in ("get", "del"):
        if args.key is None:
            raise UsageError(f"dict {op} NAME KEY")
        key = parse_key(args.key)
        try:
            if op == "get":
                return dumps(d[key])
            del d[key]
            return None
        except KeyError:
            raise OperationError(f"dict {args.name!r} has no key {args.key}") from None
    if op == "keys":
        return "\n".join(dumps(k) for k in d) or None
    if op == "items":
        return "\n".join(dumps([k, v]) for k, v in d.scan()) or None
    raise UsageError(f"unknown dict operation {op!r}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m xproc", description="Talk to a running xprocd broker."
    )
    p.add_argument(
        "--socket",
        default=None,
        help=f"the broker's socket (default: $XPROC_SOCKET, else {default_socket_path()})",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("ping", help="one round trip to the broker")
    sub.add_parser("ls", help="list every object")
    s = sub.add_parser("stat", help="everything the broker reports about one object")
    s.add_argument("name")
    sub.add_parser("clients", help="list connections")
    s = sub.add_parser("delete", help="delete an object")
    s.add_argument("name")
    s = sub.add_parser("put", help="put a JSON value on a queue")
    s.add_argument("name")
    s.add_argument("value", metavar="JSON")
    s.add_argument("--timeout", type=float, default=None, metavar="SECS")
    s = sub.add_parser("get", help="take the oldest value from a queue")
    s.add_argument("name")
    s.add_argument("--timeout", type=float, default=None, metavar="SECS")
    s = sub.add_parser("dict", help="dict get|set|del|keys|items NAME [KEY [JSON]]")
    s.add_argument("op", choices=["get", "set", "del", "keys", "items"])
    s.add_argument("name")
    s.add_argument("key", nargs="?")
    s.add_argument("value", nargs="?", metavar="JSON")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the CLI; returns the exit status."""
    # argparse takes "-7" for a value, not an option, since no option looks like a number.
    args = _parser().parse_args(argv)
    try:
        out = run(args)
    except UsageError as e:
        print(f"xproc: {e}", file=sys.stderr)
        return 2
    except (NoBrokerError, DisconnectedError) as e:
        print(f"xproc: {e}", file=sys.stderr)
        return 3
    except (OperationError, XprocError, KeyError, ValueError) as e:
        print(f"xproc: {e}", file=sys.stderr)
        return 1
    if out is not None:
        print(out)
    return 0
