"""``xproc.connect()`` and :class:`Client`: one connection to a broker, the admin calls
(``ping``, ``list``, ``stat``, ``clients``, ``delete``), and one factory per object type.

A client is safe to share between threads (libxproc matches replies to callers), and its
objects too. Locks, semaphore permits and pipe ends belong to the *connection*, so threads
sharing a client share them; connect once per thread when each thread must own its locks.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from ctypes import c_bool, c_size_t, c_uint64, c_void_p
from typing import Any, Callable, List, NamedTuple, Optional, Tuple, Union, overload
from typing import Dict as TDict

from . import _base
from . import _native as n
from ._base import BrokerObject
from ._dict import Dict
from ._errors import make_interruptible, raise_for
from ._pipe import Connection
from ._queue import JoinableQueue, Queue
from ._sync import Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore
from ._values import decode, timeout_ms

#: The environment variable that names the broker's socket.
SOCKET_ENV = "XPROC_SOCKET"

#: How long ``connect`` waits for the broker's greeting, in seconds.
DEFAULT_CONNECT_TIMEOUT = 5.0

PathLike = Union[str, "os.PathLike[str]"]


def default_socket_path() -> str:
    """The broker's default socket path: ``$XPROC_SOCKET``, else
    ``$XDG_RUNTIME_DIR/xproc.sock``, else ``/tmp/xproc-<uid>/xproc.sock``."""
    env = os.environ.get(SOCKET_ENV)
    if env:
        return env
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "xproc.sock")
    return f"/tmp/xproc-{os.getuid()}/xproc.sock"


def _program_name() -> str:
    """The name ``xproc clients`` shows by default: the script's file name (the package's
    for ``python -m pkg``), or ``python``."""
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 in ("", "-c", "-"):
        return "python"
    base = os.path.basename(argv0)
    if base == "__main__.py":
        return os.path.basename(os.path.dirname(os.path.abspath(argv0))) or "python"
    return base


class Limits(NamedTuple):
    """The broker's limits, as it announced them when the client connected."""

    max_frame: int
    """Largest request or reply in bytes (larger values are refused before sending)."""
    max_clients: int
    """Most connections at once."""
    max_objects: int
    """Most objects at once."""
    memory_limit: int
    """Bytes of values the broker holds across all objects."""


# Every live client, so that a forked child can drop the connections it inherited.
_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The child must not speak on the parent's socket (libxproc refuses anyway). Free the
    # inherited handles now — which closes the child's copy of the socket, so the broker still
    # sees the parent disconnect when it does — and reconnect lazily on first use.
    global _shared_lock
    _base.reset_locks_after_fork()
    _shared_lock = threading.Lock()  # another thread may have held it at the fork
    for client in list(_clients):
        client._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Client:
    """A connection to an xproc broker. Make one with :func:`connect`.

    Use it as a context manager, or call :meth:`close`, to disconnect: the broker then releases
    whatever this connection held (locks, semaphore permits, pipe ends).

    After ``os.fork`` (``multiprocessing``'s default on Linux) a client and its objects
    inherited by the child reconnect on first use in the child, on a connection of their own;
    locks and pipe ends held by the parent stay the parent's.
    """

    def __init__(
        self,
        path: Optional[PathLike] = None,
        *,
        timeout: Optional[float] = DEFAULT_CONNECT_TIMEOUT,
        name: Optional[str] = None,
        authkey: Optional[bytes] = None,
        tls_ca: Optional[PathLike] = None,
        tls_server_name: Optional[str] = None,
    ) -> None:
        #: The broker's socket path, or its ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` endpoint.
        self.path: str = os.fspath(path) if path is not None else default_socket_path()
        self._timeout = timeout
        self._name = name
        if authkey is not None and not isinstance(authkey, (bytes, bytearray)):
            raise TypeError(f"authkey must be bytes, not {type(authkey).__name__}")
        self._authkey = bytes(authkey) if authkey is not None else None
        self._tls = (
            os.fsencode(tls_ca) if tls_ca is not None else None,
            tls_server_name.encode("utf-8") if tls_server_name is not None else None,
        )
        self._closed = False
        # Objects opened here, to close (or reopen after fork) with the client. Keyed by id:
        # a Dict is unhashable (it compares by contents, like a dict).
        self._objects: "weakref.WeakValueDictionary[int, BrokerObject]" = (
            weakref.WeakValueDictionary()
        )
        self._lock = threading.Lock()
        self._h: Any = None
        self._h = self._connect()
        _clients.add(self)

    def _connect(self) -> Any:
        path = self.path.encode("utf-8")
        name = self._name if self._name is not None else _program_name()
        name_b = name.encode("utf-8")
        make_interruptible()
        h = n.ClientHandle()
        key = self._authkey
        ca, server_name = self._tls
        if ca is None and server_name is None:
            status = n.client_connect_with(
                path,
                len(path),
                name_b,
                len(name_b),
                b"python",
                6,
                key,
                len(key) if key is not None else 0,
                timeout_ms(self._timeout),
                h,
            )
        else:
            status = n.client_connect_tls(
                path,
                len(path),
                name_b,
                len(name_b),
                b"python",
                6,
                key,
                len(key) if key is not None else 0,
                ca,
                len(ca) if ca is not None else 0,
                server_name,
                len(server_name) if server_name is not None else 0,
                timeout_ms(self._timeout),
                h,
            )
        if status:
            raise_for(status)
        return h

    def _handle(self) -> Any:
        """The client handle for a call; reconnects after a fork, raises once closed."""
        h = self._h
        if h is not None:
            return h
        with self._lock:
            if self._closed:
                raise ValueError(f"{self!r} is closed")
            if self._h is None:
                self._h = self._connect()
            return self._h

    def _adopt(self, obj: BrokerObject) -> None:
        """Registers a newly opened object, to be closed with the client (or reopened after a
        fork). Called by the object's constructor, after it opened its handle."""
        with self._lock:
            if self._closed:  # closed by another thread while the object was opening
                obj._detach(True)
                raise ValueError(f"{self!r} is closed")
            self._objects[id(obj)] = obj

    def _forked(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork
        for obj in list(self._objects.values()):
            obj._detach(False)
        self._h = None

    def close(self) -> None:
        """Disconnects from the broker: the connection closes once calls still running on
        other threads have returned, and the broker releases this connection's locks, permits
        and pipe ends. Every object opened from this client is closed too. Closing twice is
        harmless."""
        with self._lock:
            self._closed = True
            for obj in list(self._objects.values()):
                obj._detach(True)
            self._h = None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<xproc.Client {self.path!r}{state}>"

    def __reduce__(self) -> Any:
        # Unpickled in another process: a new connection to the same broker.
        return Client, (self.path,)

    # ---------------------------------------------------------------- admin

    def ping(self) -> None:
        """One round trip to the broker; raises if it does not answer."""
        status = n.client_ping(self._handle())
        if status:
            raise_for(status)

    @property
    def conn_id(self) -> int:
        """This connection's id at the broker (as ``xproc clients`` shows it)."""
        out = c_uint64()
        status = n.client_conn_id(self._handle(), out)
        if status:
            raise_for(status)
        return out.value

    @property
    def limits(self) -> Limits:
        """The broker's limits (``max_frame``, ``max_clients``, ``max_objects``,
        ``memory_limit``)."""
        out = n.Limits()
        status = n.client_limits(self._handle(), out)
        if status:
            raise_for(status)
        return Limits(out.max_frame, out.max_clients, out.max_objects, out.memory_limit)

    def _raw_call(self, fn: Any, *args: Any) -> Any:
        ptr, size = c_void_p(), c_size_t()
        status = fn(self._handle(), *args, ptr, size)
        if status:
            raise_for(status)
        return decode(n.take_bytes(ptr, size))

    def list(self) -> List[TDict[str, Any]]:
        """Every object the broker holds: dicts ``{"name", "kind", "len", "waiters"}``
        (``len``: queue items, dict entries, or messages in both pipe inboxes; 0 for sync
        objects)."""
        result: List[TDict[str, Any]] = self._raw_call(n.client_list_raw)
        return result

    def stat(self, name: str) -> TDict[str, Any]:
        """One object's kind and state: ``{"kind": str, "info": dict}``, whose ``info``
        fields depend on the kind (docs/PROTOCOL.md §6.8: ``len``, ``holder_pid``, ...).
        Raises :class:`~xproc.NotFoundError` if there is no such object."""
        raw = name.encode("utf-8")
        result: TDict[str, Any] = self._raw_call(n.client_stat_raw, raw, len(raw))
        return result

    def clients(self) -> List[TDict[str, Any]]:
        """Every connected client: dicts ``{"conn_id", "pid", "uid", "gid", "name",
        "lang", "holds", "waits"}`` (``holds``/``waits`` read like ``"lock dev"``,
        ``"queue.get tasks"``)."""
        result: List[TDict[str, Any]] = self._raw_call(n.client_clients_raw)
        return result

    def delete(self, name: str) -> bool:
        """Deletes the object ``name`` from the broker (calls blocked on it fail with
        :class:`~xproc.NotFoundError`); returns whether there was one."""
        raw = name.encode("utf-8")
        deleted = c_bool()
        status = n.client_delete(self._handle(), raw, len(raw), deleted)
        if status:
            raise_for(status)
        return deleted.value

    # ---------------------------------------------------------------- objects

    def Queue(
        self, name: str, maxsize: Optional[int] = None, max_attempts: Optional[int] = None
    ) -> Queue:
        """Opens the queue ``name``, creating it if the name is free.

        ``maxsize``: the most items it holds (0 = unbounded). ``None`` (the default) creates
        an unbounded queue and accepts an existing queue's bound; an explicit value that
        differs from an existing queue's is :class:`~xproc.OptionMismatchError`.

        ``max_attempts``: how many leased deliveries (:meth:`Queue.get_leased`) an item gets
        before the broker moves it to the queue ``NAME.dead`` instead of handing it out again
        (0 = never). ``None`` (the default) creates the queue with 5 and accepts an existing
        queue's value; an explicit value that differs is
        :class:`~xproc.OptionMismatchError`, as for ``maxsize``.
        """
        return Queue(self, name, maxsize, max_attempts)

    def JoinableQueue(
        self, name: str, maxsize: Optional[int] = None, max_attempts: Optional[int] = None
    ) -> JoinableQueue:
        """Opens the joinable queue ``name`` (a queue with ``task_done`` and ``join``),
        creating it if the name is free. ``maxsize`` and ``max_attempts`` as for
        :meth:`Queue`."""
        return JoinableQueue(self, name, maxsize, max_attempts)

    def dict(self, name: str) -> Dict:
        """Opens the shared dict ``name``, creating it (empty) if the name is free."""
        return Dict(self, name)

    @overload
    def Pipe(
        self,
        name: str,
        duplex: Optional[bool] = None,
        *,
        end: None = None,
        capacity: Optional[int] = None,
    ) -> Tuple[Connection, Connection]: ...

    @overload
    def Pipe(
        self,
        name: str,
        duplex: Optional[bool] = None,
        *,
        end: str,
        capacity: Optional[int] = None,
    ) -> Connection: ...

    def Pipe(
        self,
        name: str,
        duplex: Optional[bool] = None,
        *,
        end: Optional[str] = None,
        capacity: Optional[int] = None,
    ) -> Union[Connection, Tuple[Connection, Connection]]:
        """Opens the pipe ``name`` (creating it if the name is free) and claims an end.

        With ``end`` (``"a"`` or ``"b"``), returns that end's :class:`~xproc.Connection`. The
        other end is typically opened by another process with the other letter.

        Without ``end``, claims both and returns ``(conn1, conn2)`` like
        ``multiprocessing.Pipe``: ends ``a`` and ``b`` for a duplex pipe; for a one-way pipe
        (``duplex=False``), as in ``multiprocessing``, ``conn1`` only receives (end ``b``) and
        ``conn2`` only sends (end ``a``).

        ``duplex`` (default: ``True`` when creating, an existing pipe's value accepted) and
        ``capacity`` (messages each end's inbox holds before a send waits; default 1024) are
        creation options.
        """
        if end is not None:
            return Connection(self, name, end, duplex, capacity)
        a = Connection(self, name, "a", duplex, capacity)
        b = Connection(self, name, "b", duplex, capacity)
        return (b, a) if not a.readable else (a, b)

    def Lock(self, name: str) -> Lock:
        """Opens the lock ``name``, creating it (free) if the name is free."""
        return Lock(self, name)

    def RLock(self, name: str) -> RLock:
        """Opens the reentrant lock ``name``, creating it (free) if the name is free."""
        return RLock(self, name)

    def Semaphore(self, name: str, value: Optional[int] = None) -> Semaphore:
        """Opens the semaphore ``name``, creating it with ``value`` permits (default 1) if the
        name is free. ``None`` accepts an existing semaphore's value; an explicit value that
        differs is :class:`~xproc.OptionMismatchError`."""
        return Semaphore(self, name, value)

    def BoundedSemaphore(self, name: str, value: Optional[int] = None) -> BoundedSemaphore:
        """Opens the bounded semaphore ``name``: as :meth:`Semaphore`, and releasing above the
        initial value is ``ValueError``."""
        return BoundedSemaphore(self, name, value)

    def Event(self, name: str) -> Event:
        """Opens the event ``name``, creating it (clear) if the name is free."""
        return Event(self, name)

    def Condition(self, name: str) -> Condition:
        """Opens the condition ``name`` (with its own lock), creating it if the name is free."""
        return Condition(self, name)

    def Barrier(
        self,
        name: str,
        parties: Optional[int] = None,
        action: Optional[Callable[[], Any]] = None,
        timeout: Optional[float] = None,
    ) -> Barrier:
        """Opens the barrier ``name``, creating it for ``parties`` parties if the name is free.

        ``parties`` may be left out to open an existing barrier. ``action`` and ``timeout`` are
        ``threading.Barrier``'s: ``action`` is called by the last party to arrive (see
        :class:`Barrier`), ``timeout`` is the default for :meth:`Barrier.wait`.
        """
        return Barrier(self, name, parties, action, timeout)


def connect(
    path: Optional[PathLike] = None,
    *,
    timeout: Optional[float] = DEFAULT_CONNECT_TIMEOUT,
    name: Optional[str] = None,
    authkey: Optional[bytes] = None,
    tls_ca: Optional[PathLike] = None,
    tls_server_name: Optional[str] = None,
) -> Client:
    """Connects to the broker at ``path`` (default: :func:`default_socket_path`), a socket
    path, ``"tcp://HOST:PORT"`` for a broker listening on TCP, or ``"tls://HOST:PORT"`` for
    one listening on TCP with TLS.

    ``timeout`` bounds the wait for the broker's greeting, in seconds (``None``: no bound).
    ``name`` is shown by ``xproc clients`` (default: the program's file name). ``authkey``
    (bytes) is the key a TCP endpoint needs; without it the key is read from the file
    ``$XPROC_AUTHKEY_FILE`` names (mode 0600). Raises :class:`~xproc.NoBrokerError` when
    nothing listens there, and ``PermissionError`` (:class:`~xproc.DeniedError`) for a wrong
    or missing key.

    For ``tls://``: ``tls_ca`` is a PEM file of the CA certificates the broker's certificate
    must chain to (default: ``$XPROC_TLS_CA``; required one way or the other) and
    ``tls_server_name`` the name it must carry (default: ``$XPROC_TLS_SERVER_NAME``, else the
    endpoint's host); a certificate that fails either raises
    :class:`~xproc.DeniedError`. The authkey is required on ``tls://`` as on ``tcp://``.
    """
    return Client(
        path,
        timeout=timeout,
        name=name,
        authkey=authkey,
        tls_ca=tls_ca,
        tls_server_name=tls_server_name,
    )


# One shared connection per socket path and process, for unpickled objects.
_shared: TDict[str, Client] = {}
_shared_lock = threading.Lock()

_CLASSES = {
    cls.__name__: cls
    for cls in (
        Queue,
        JoinableQueue,
        Dict,
        Connection,
        Lock,
        RLock,
        Semaphore,
        BoundedSemaphore,
        Event,
        Condition,
        Barrier,
    )
}


def _rebuild(path: str, cls_name: str, name: str, options: Tuple[Any, ...]) -> BrokerObject:
    """Unpickles an object: opens it again on this process's shared connection to ``path``."""
    with _shared_lock:
        client = _shared.get(path)
        if client is None or client.closed:
            client = _shared[path] = Client(path)
    obj: BrokerObject = _CLASSES[cls_name](client, name, *options)
    return obj


__all__ = [
    "Client",
    "Limits",
    "connect",
    "default_socket_path",
]
