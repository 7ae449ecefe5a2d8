"""``Connection``: one end of a named pipe in the broker, with
``multiprocessing.connection.Connection``'s methods (``send``, ``recv``, ``poll``, ``close``).

A pipe has ends ``a`` and ``b``; each is held by at most one connection at a time. Messages
sent on one end arrive at the other in order, including messages sent before it was opened.
"""

from __future__ import annotations

from ctypes import c_bool, c_size_t, c_void_p
from typing import Any, Optional

from . import _native as n
from ._base import BrokerObject
from ._errors import (
    INTERRUPTED,
    IntegerRangeError,
    TimeoutError,
    WrongTypeError,
    blocking,
    raise_for,
    resume,
)
from ._values import _local, decode, encode, timeout_ms, unpack

_send_raw = n.pipe_send_raw
_recv_raw = n.pipe_recv_raw
_unpack = unpack
_string_at = n._string_at
_bytes_free = n.bytes_free
_WOULD_BLOCK = (n.EMPTY, n.FULL, n.TIMEOUT)


class Connection(BrokerObject):
    """One end (``end``: ``"a"`` or ``"b"``) of the pipe ``name``, like the objects
    ``multiprocessing.Pipe()`` returns.

    When the other end is closed — or the process holding it exits or dies — this end
    receives what is left, then ``recv`` raises ``EOFError`` and ``send`` raises
    ``BrokenPipeError``. Closing (or garbage-collecting) a ``Connection`` closes its end, and
    the pipe is then finished for both sides; once both ends are released the name is free
    for a fresh pipe.

    Differences on purpose: ``recv`` and ``send`` take an optional ``timeout`` (an xproc
    extension; :class:`xproc.TimeoutError` when it runs out); there is no ``fileno``.
    """

    kind = "pipe"

    def __init__(
        self,
        client: Any,
        name: str,
        end: str,
        duplex: Optional[bool] = None,
        capacity: Optional[int] = None,
    ) -> None:
        if end not in ("a", "b"):
            raise ValueError(f"a pipe end is 'a' or 'b', not {end!r}")
        if capacity is not None and not 0 <= capacity < 2**63:
            raise IntegerRangeError(f"capacity {capacity} is out of range")
        #: Which end this is: ``"a"`` or ``"b"``.
        self.end = end
        self._end_b = end.encode("ascii")
        self._duplex_arg = -1 if duplex is None else int(bool(duplex))
        self._capacity_arg = -1 if capacity is None else capacity
        super().__init__(client, name, (end, duplex, capacity))
        if duplex is None:
            duplex = bool(client.stat(name)["info"].get("duplex", True))
        self._duplex = bool(duplex)

    def _open(self, client_handle: Any) -> Any:
        return self._call_open_pipe(client_handle)

    def _call_open_pipe(self, client_handle: Any) -> Any:
        h = n.PipeHandle()
        status = n.pipe_open(
            client_handle,
            self._name_b,
            len(self._name_b),
            self._end_b,
            self._duplex_arg,
            self._capacity_arg,
            h,
        )
        if status:
            raise_for(status)
        return h

    def _closed_error(self) -> Exception:
        return OSError("handle is closed")

    @property
    def readable(self) -> bool:
        """Whether this end receives (every end of a duplex pipe; end ``b`` of a one-way
        pipe)."""
        return self._duplex or self.end == "b"

    @property
    def writable(self) -> bool:
        """Whether this end sends (every end of a duplex pipe; end ``a`` of a one-way pipe)."""
        return self._duplex or self.end == "a"

    def send(self, obj: Any, timeout: Optional[float] = None) -> None:
        """Sends ``obj`` to the other end, waiting for room in its inbox (``timeout``: at most
        that many seconds). Raises ``BrokenPipeError`` if the other end is closed."""
        h = self._h
        if h is None:
            h = self._revive()
        if not self.writable:
            raise OSError("connection is read-only")
        try:
            data = _local.packer.pack(obj)
        except Exception:
            data = encode(obj)  # first use here, or the error to raise
        ms = -1 if timeout is None else timeout_ms(timeout)
        status = _send_raw(h, data, len(data), ms)
        if status == INTERRUPTED:
            status = resume(_send_raw, [h, data, len(data), ms], 3)
        if status:
            self._failed(status, "send")

    def recv(self, timeout: Optional[float] = None) -> Any:
        """Returns the next message, waiting for one (``timeout``: at most that many seconds).
        Raises ``EOFError`` once the other end is closed and nothing is left."""
        h = self._h
        if h is None:
            h = self._revive()
        if not self.readable:
            raise OSError("connection is write-only")
        ptr = c_void_p()
        size = c_size_t()
        ms = -1 if timeout is None else timeout_ms(timeout)
        status = _recv_raw(h, ms, ptr, size)
        if status == INTERRUPTED:
            status = resume(_recv_raw, [h, ms, ptr, size], 1)
        if status:
            self._failed(status, "recv")
        data = _string_at(ptr, size.value)
        _bytes_free(ptr, size)
        try:
            return _unpack(data)
        except Exception:
            return decode(data)  # the slow path, or the error to raise

    def _failed(self, status: int, op: str) -> None:
        if status == n.CLOSED:
            if self._closed:
                raise OSError("handle is closed")
            if op == "recv":
                raise EOFError
            raise BrokenPipeError(f"the other end of pipe {self.name!r} is closed")
        if status in _WOULD_BLOCK:
            raise TimeoutError(f"{op} on pipe {self.name!r} end {self.end} timed out", status)
        raise_for(status)

    def poll(self, timeout: Optional[float] = 0.0) -> bool:
        """Whether a message is waiting (or ``recv`` would raise ``EOFError``), waiting up to
        ``timeout`` seconds for one (``None``: as long as it takes)."""
        h = self._h
        if h is None:
            h = self._revive()
        if not self.readable:
            raise OSError("connection is write-only")
        ready = c_bool()
        status = blocking(n.pipe_poll, h, timeout_ms(timeout), ready)
        if status:
            self._failed(status, "poll")
        return ready.value

    def send_bytes(self, buf: Any, offset: int = 0, size: Optional[int] = None) -> None:
        """Sends ``buf[offset:offset+size]`` (any bytes-like object) as one bytes message."""
        view = memoryview(buf).cast("B")
        if offset < 0 or offset > len(view):
            raise ValueError("offset is negative or too large")
        end = len(view) if size is None else offset + size
        if size is not None and (size < 0 or end > len(view)):
            raise ValueError("size is negative or too large")
        self.send(bytes(view[offset:end]))

    def recv_bytes(self, maxlength: Optional[int] = None) -> bytes:
        """Receives one message that must be bytes (as :meth:`send_bytes` sends); raises
        ``OSError`` if it is longer than ``maxlength``, :class:`~xproc.WrongTypeError` if it
        is not bytes."""
        msg = self.recv()
        if not isinstance(msg, bytes):
            raise WrongTypeError(f"recv_bytes got a {type(msg).__name__}, not bytes")
        if maxlength is not None and len(msg) > maxlength:
            raise OSError("bad message length")
        return msg

    def close(self) -> None:
        """Closes this end: the other end receives what is left, then ``EOFError``. Later
        calls on this end raise ``OSError``. Closing twice is harmless."""
        h = self._h
        self._detach(True)
        if h is not None:
            status = n.pipe_close(h)
            if status and status != n.DISCONNECTED:
                raise_for(status)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<xproc.Connection {self.name!r} end {self.end}{state}>"
