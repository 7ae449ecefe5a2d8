"""Python values to MessagePack bytes and back, and Python timeouts to ``timeout_ms``.

Values travel as MessagePack (docs/PROTOCOL.md §4), encoded here with the ``msgpack`` package
and handed to libxproc's ``_raw`` functions. The mapping:

=====================  ===================================  ==========================
Python                 MessagePack                          back in Python
=====================  ===================================  ==========================
None, bool             nil, bool                            None, bool
int                    int (i64 and u64 ranges only)        int
float                  float 64 (float 32 from peers)       float
str                    str (UTF-8)                          str
bytes, bytearray,      bin                                  bytes
memoryview
list, tuple            array                                list
dict                   map (any keys, order kept)           dict
msgpack.Timestamp,     timestamp extension (type -1)        msgpack.Timestamp
aware datetime
msgpack.ExtType,       other extensions                     msgpack.ExtType
xproc.ExtType                                               (xproc.ExtType for the
                                                            reserved negative types)
=====================  ===================================  ==========================

Tuples come back as lists (MessagePack has one array type). A map key that is an array or a
map (possible from other languages) comes back as a tuple (of its items), since Python dict
keys must be hashable.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Dict, List, Optional

import msgpack

from ._errors import DecodeError, EncodeError, IntegerRangeError

#: The integer range MessagePack carries: i64 for negatives, u64 for the rest.
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1

# Largest timeout passed to the broker; longer ones mean "as long as it takes" (the wire
# carries u64 milliseconds, libxproc takes int64_t).
_MAX_TIMEOUT_MS = 2**62

# Per thread: `packer`, this thread's Packer (made by `encode` on first use). The hot paths
# (Queue.put, Dict.__setitem__, ...) call `_local.packer.pack` directly and fall back to
# `encode` on any exception, which makes the packer or raises the right error; likewise they
# call `unpack` and fall back to `decode`. That saves a Python call per value (~5% of the
# binding's own work per op).
_local = threading.local()


class ExtType(msgpack.ExtType):  # type: ignore[misc]  # msgpack has no type hints
    """A MessagePack extension value, like ``msgpack.ExtType`` but also allowing the
    negative type codes (-128..-2) the MessagePack spec reserves, which other languages may
    send: ``msgpack.ExtType`` refuses them. Compares equal to a ``msgpack.ExtType`` with the
    same code and data. (Type -1 is a timestamp: ``msgpack.Timestamp``.)"""

    def __new__(cls, code: int, data: bytes) -> "ExtType":
        if not isinstance(code, int) or not -128 <= code <= 127:
            raise ValueError("an extension type code is in -128..127")
        if not isinstance(data, bytes):
            raise TypeError("an extension's data must be bytes")
        return tuple.__new__(cls, (code, data))


def _ext_hook(code: int, data: bytes) -> Any:
    return msgpack.ExtType(code, data) if code >= 0 else ExtType(code, data)


_unpackb = msgpack.unpackb


def unpack(data: bytes) -> Any:
    """The fast path of :func:`decode` for the hot paths (raises msgpack's own errors)."""
    return _unpackb(data, strict_map_key=False, timestamp=0, ext_hook=_ext_hook)


def _new_packer() -> Any:
    # use_bin_type: bytes become bin and str becomes str (the only sane mapping for other
    # languages); datetime: timezone-aware datetimes become timestamps.
    return msgpack.Packer(use_bin_type=True, datetime=True, autoreset=True)


def encode(obj: Any) -> bytes:
    """MessagePack bytes for ``obj``; raises :class:`EncodeError` (or its subclass
    :class:`IntegerRangeError`) for something xproc cannot carry."""
    # One Packer per thread: reusing it saves its setup on every call, and Packers are not
    # thread-safe. (Encoding runs no Python code, so a signal handler cannot re-enter it.)
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = _new_packer()
    try:
        data: bytes = packer.pack(obj)
        return data
    except OverflowError:
        _local.packer = _new_packer()
        raise _range_error(obj) from None
    except (TypeError, ValueError) as e:
        _local.packer = _new_packer()
        raise EncodeError(f"cannot send {_describe(obj)}: {e}") from None


def _describe(obj: Any) -> str:
    text = repr(obj)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(obj).__name__} {text}"


def _find_big_int(obj: Any, depth: int = 0) -> Optional[int]:
    """The first int in ``obj`` outside MessagePack's range (only called on the error path)."""
    if isinstance(obj, bool):
        return None
    if isinstance(obj, int):
        return obj if not INT_MIN <= obj <= INT_MAX else None
    if depth > 200:
        return None
    if isinstance(obj, (list, tuple)):
        items: Any = obj
    elif isinstance(obj, dict):
        items = [x for kv in obj.items() for x in kv]
    else:
        return None
    for item in items:
        found = _find_big_int(item, depth + 1)
        if found is not None:
            return found
    return None


def _range_error(obj: Any) -> IntegerRangeError:
    big = _find_big_int(obj)
    shown = str(big) if big is not None and big.bit_length() <= 256 else "an int"
    return IntegerRangeError(
        f"cannot send {shown}: MessagePack integers must lie in "
        f"-2**63 .. 2**64-1 (signed or unsigned 64 bits); send it as a str or bytes instead"
    )


def decode(data: bytes) -> Any:
    """The Python value of one MessagePack value's bytes."""
    try:
        return msgpack.unpackb(data, strict_map_key=False, timestamp=0, ext_hook=_ext_hook)
    except TypeError:
        # A map key that is an array or a map: unhashable as a list or dict. Decode again,
        # turning such keys into tuples (rare: only other languages make such keys).
        try:
            return msgpack.unpackb(
                data,
                strict_map_key=False,
                timestamp=0,
                ext_hook=_ext_hook,
                object_pairs_hook=_hashable_pairs,
            )
        except Exception as e:  # noqa: BLE001 - reported as one kind of error
            raise DecodeError(f"cannot decode a value from the broker: {e}") from None
    except Exception as e:  # noqa: BLE001 - msgpack raises several kinds
        raise DecodeError(f"cannot decode a value from the broker: {e}") from None


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, dict):
        return tuple((_hashable(k), _hashable(v)) for k, v in key.items())
    return key


def _hashable_pairs(pairs: List[Any]) -> Dict[Any, Any]:
    return {_hashable(k): v for k, v in pairs}


def queue_timeout_ms(block: bool, timeout: Optional[float]) -> int:
    """``timeout_ms`` for ``queue``-style ``(block, timeout)`` arguments: not blocking is 0,
    ``None`` waits forever, a negative timeout is ``ValueError`` (as in ``queue.Queue``)."""
    if not block:
        return 0
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return timeout_ms(timeout)


def timeout_ms(timeout: Optional[float]) -> int:
    """``timeout_ms`` for a timeout in seconds: ``None`` waits forever (-1), 0 or less does not
    wait, a positive one is rounded up to whole milliseconds (so it never becomes 0)."""
    if timeout is None:
        return -1
    if timeout <= 0:
        return 0
    if timeout >= _MAX_TIMEOUT_MS / 1000:
        return -1
    return max(1, math.ceil(timeout * 1000))
