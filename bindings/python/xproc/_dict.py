"""``Dict``: a ``MutableMapping`` over a named dict in the broker (``multiprocessing``'s
``Manager().dict()``), plus the atomic ``incr`` and ``compare_and_set``.

Keys and values are encoded with MessagePack (see ``_values``); keys compare by their encoded
bytes, which is what makes ``1`` from Python and ``1`` from C# the same key.
"""

from __future__ import annotations

from collections.abc import Mapping
from ctypes import c_bool, c_int64, c_size_t, c_uint64, c_void_p
from typing import Any, Iterator, List, Tuple
from typing import Dict as TDict
from typing import MutableMapping as TMutableMapping

from . import _native as n
from ._base import BrokerObject
from ._errors import IntegerRangeError, raise_for
from ._values import _hashable, _local, decode, encode, unpack

_get_item = n.dict_get_item
_unpack = unpack
_set_item = n.dict_set_item
_KEY_NOT_FOUND = n.KEY_NOT_FOUND


class _Absent:
    """The type of :data:`ABSENT`."""

    _instance = None

    def __new__(cls) -> "_Absent":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "xproc.ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"


#: For :meth:`Dict.compare_and_set`: "the key must be absent".
ABSENT: Any = _Absent()

_NO_DEFAULT: Any = object()


class Dict(BrokerObject, TMutableMapping[Any, Any]):
    """A dict shared through the broker: ``d[k]``, ``d[k] = v``, ``del d[k]``, ``in``,
    ``len``, iteration, ``get``, ``update``, ``pop``, ``popitem``, ``setdefault``, ``clear``,
    ``copy``, plus the atomic :meth:`incr` and :meth:`compare_and_set`.

    Each operation is one atomic request. Insertion order is kept. ``keys()``, ``values()``
    and ``items()`` return lists — snapshots, as ``Manager().dict()`` does. Keys compare by
    their MessagePack bytes, so ``1``, ``1.0`` and ``True`` are three different keys (one
    each in Python they would be one), and a tuple key comes back from ``keys()`` as a list
    (it still finds the same entry).
    """

    kind = "dict"

    def __init__(self, client: Any, name: str) -> None:
        super().__init__(client, name, ())

    def _open(self, client_handle: Any) -> Any:
        return self._call_open(n.dict_open, n.DictHandle, client_handle)

    def _handle(self) -> Any:
        h = self._h
        return h if h is not None else self._revive()

    # ---------------------------------------------------------------- single keys

    def __getitem__(self, key: Any) -> Any:
        h = self._h
        if h is None:
            h = self._revive()
        try:
            k = _local.packer.pack(key)
        except Exception:
            k = encode(key)  # first use here, or the error to raise
        data = _get_item(h.value, k)
        if data.__class__ is int:  # a status
            if data == _KEY_NOT_FOUND:
                raise KeyError(key)
            raise_for(data)
        try:
            return _unpack(data)
        except Exception:
            return decode(data)  # the slow path, or the error to raise

    def get(self, key: Any, default: Any = None) -> Any:
        """``d[key]`` if the key is there, else ``default`` (one round trip)."""
        h = self._h
        if h is None:
            h = self._revive()
        try:
            k = _local.packer.pack(key)
        except Exception:
            k = encode(key)  # first use here, or the error to raise
        data = _get_item(h.value, k)
        if data.__class__ is int:  # a status
            if data == _KEY_NOT_FOUND:
                return default
            raise_for(data)
        try:
            return _unpack(data)
        except Exception:
            return decode(data)  # the slow path, or the error to raise

    def __setitem__(self, key: Any, value: Any) -> None:
        h = self._h
        if h is None:
            h = self._revive()
        try:
            k = _local.packer.pack(key)
        except Exception:
            k = encode(key)  # first use here, or the error to raise
        try:
            v = _local.packer.pack(value)
        except Exception:
            v = encode(value)  # first use here, or the error to raise
        status = _set_item(h.value, k, v)
        if status:
            raise_for(status)

    def __delitem__(self, key: Any) -> None:
        k = encode(key)
        status = n.dict_delete_raw(self._handle(), k, len(k))
        if status:
            if status == _KEY_NOT_FOUND:
                raise KeyError(key)
            raise_for(status)

    def __contains__(self, key: object) -> bool:
        k = encode(key)
        found = c_bool()
        status = n.dict_contains_raw(self._handle(), k, len(k), found)
        if status:
            raise_for(status)
        return found.value

    def pop(self, key: Any, default: Any = _NO_DEFAULT) -> Any:
        """Removes ``key`` and returns its value; if it is missing, returns ``default`` or,
        without one, raises ``KeyError``."""
        k = encode(key)
        ptr, size = c_void_p(), c_size_t()
        status = n.dict_pop_raw(self._handle(), k, len(k), ptr, size)
        if status:
            if status == _KEY_NOT_FOUND:
                if default is _NO_DEFAULT:
                    raise KeyError(key)
                return default
            raise_for(status)
        return decode(n.take_bytes(ptr, size))

    def popitem(self) -> Tuple[Any, Any]:
        """Removes and returns the most recently inserted ``(key, value)`` pair (LIFO, like
        ``dict``); ``KeyError`` if the dict is empty."""
        kp, kn, vp, vn = c_void_p(), c_size_t(), c_void_p(), c_size_t()
        status = n.dict_popitem_raw(self._handle(), kp, kn, vp, vn)
        if status:
            if status == _KEY_NOT_FOUND:
                raise KeyError("popitem(): dictionary is empty")
            raise_for(status)
        return decode(n.take_bytes(kp, kn)), decode(n.take_bytes(vp, vn))

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """``d[key]`` if the key is there, else sets it to ``default`` and returns that —
        atomically (no other process can slip in between)."""
        k = encode(key)
        v = encode(default)
        ptr, size = c_void_p(), c_size_t()
        status = n.dict_setdefault_raw(self._handle(), k, len(k), v, len(v), ptr, size)
        if status:
            raise_for(status)
        return decode(n.take_bytes(ptr, size))

    def incr(self, key: Any, delta: int = 1) -> int:
        """Atomically adds ``delta`` to the integer under ``key`` (a missing key counts from
        0) and returns the new value. Raises :class:`~xproc.WrongTypeError` (a ``TypeError``)
        if the value is not an integer, :class:`~xproc.InvalidArgumentError` (a
        ``ValueError``) if the result would leave the signed 64-bit range."""
        if not isinstance(delta, int):
            raise TypeError(f"delta must be an int, not {type(delta).__name__}")
        if not -(2**63) <= delta < 2**63:
            raise IntegerRangeError(f"delta {delta} is outside the signed 64-bit range")
        k = encode(key)
        out = c_int64()
        status = n.dict_incr_raw(self._handle(), k, len(k), delta, out)
        if status:
            raise_for(status)
        return out.value

    def compare_and_set(self, key: Any, expected: Any, new: Any) -> bool:
        """Atomically sets ``key`` to ``new`` if its value is currently ``expected`` —
        compared as MessagePack bytes, so ``1`` does not match ``1.0`` — or, with
        ``expected=xproc.ABSENT``, only if the key is absent. Returns whether it did."""
        k = encode(key)
        v = encode(new)
        e = None if expected is ABSENT else encode(expected)
        swapped = c_bool()
        status = n.dict_compare_and_set_raw(
            self._handle(), k, len(k), e, 0 if e is None else len(e), v, len(v), swapped
        )
        if status:
            raise_for(status)
        return swapped.value

    # ---------------------------------------------------------------- whole dict

    def __len__(self) -> int:
        out = c_uint64()
        status = n.dict_len(self._handle(), out)
        if status:
            raise_for(status)
        return int(out.value)

    def _snapshot(self, fn: Any) -> Any:
        ptr, size = c_void_p(), c_size_t()
        status = fn(self._handle(), ptr, size)
        if status:
            raise_for(status)
        return decode(n.take_bytes(ptr, size))

    def scan(self, count: int = 0) -> Iterator[Tuple[Any, Any]]:
        """Iterates over every ``(key, value)`` pair by cursor scan, one request per page of
        ``count`` entries (0: the broker's default, 100; at most 1000), so it reads a dict of
        any size — ``items()`` is one snapshot that must fit in the broker's ``max_frame``.

        Not a snapshot: every key present for the whole iteration comes exactly once, with
        its value when its page was read; keys set or deleted meanwhile may or may not come
        (docs/PROTOCOL.md §6.4). Stopping early costs nothing."""
        cursor = 0
        while True:
            ptr, size, nxt = c_void_p(), c_size_t(), c_uint64()
            status = n.dict_scan_raw(self._handle(), cursor, count, nxt, ptr, size)
            if status:
                raise_for(status)
            for k, v in decode(n.take_bytes(ptr, size)):
                yield k, v
            cursor = int(nxt.value)
            if cursor == 0:
                return

    def keys(self) -> List[Any]:  # type: ignore[override]
        """Every key, in insertion order (a snapshot, as a list). For a dict too large for
        one frame, iterate ``for k in d`` or use :meth:`scan`."""
        result: List[Any] = self._snapshot(n.dict_keys_raw)
        return result

    def values(self) -> List[Any]:  # type: ignore[override]
        """Every value, in insertion order (a snapshot, as a list)."""
        result: List[Any] = self._snapshot(n.dict_values_raw)
        return result

    def items(self) -> List[Tuple[Any, Any]]:  # type: ignore[override]
        """Every ``(key, value)`` pair, in insertion order (a snapshot, as a list)."""
        return [(k, v) for k, v in self._snapshot(n.dict_items_raw)]

    def __iter__(self) -> Iterator[Any]:
        """Iterates over the keys by cursor scan (:meth:`scan`): any size of dict, a page per
        request; every key present throughout comes exactly once."""
        return (k for k, _ in self.scan())

    def copy(self) -> TDict[Any, Any]:
        """A plain ``dict`` with a snapshot of the entries (array keys become tuples)."""
        return {_hashable(k): v for k, v in self._snapshot(n.dict_items_raw)}

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Sets every entry of ``other`` (a mapping, or an iterable of pairs) and of
        ``kwargs`` in one atomic request: all of them or, if the broker's memory budget
        refuses, none."""
        if isinstance(other, Mapping) or hasattr(other, "keys"):
            keys = other.keys()  # like dict.update: anything with keys() is a mapping
            pairs = [(k, other[k]) for k in keys]
        else:
            pairs = list(other)
        pairs.extend(kwargs.items())
        if not pairs:
            return
        keys = [encode(k) for k, _ in pairs]
        values = [encode(v) for _, v in pairs]
        kp, kl = n.byte_array(keys)
        vp, vl = n.byte_array(values)
        status = n.dict_update_raw(self._handle(), kp, kl, vp, vl, len(pairs))
        if status:
            raise_for(status)

    def clear(self) -> None:
        """Removes every entry (atomically)."""
        status = n.dict_clear(self._handle())
        if status:
            raise_for(status)

    def __eq__(self, other: object) -> bool:
        """Equal to a mapping with the same entries (compared on a snapshot), and to another
        handle on the same broker dict."""
        if isinstance(other, Dict):
            if self.client.path == other.client.path and self.name == other.name:
                return True
            return self.copy() == other.copy()
        if isinstance(other, Mapping):
            return self.copy() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
