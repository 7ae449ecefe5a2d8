"""A drop-in for :mod:`multiprocessing.managers` over xproc: ``BaseManager`` and
``SyncManager`` with the same constructor, ``register``, ``start``, ``connect``,
``shutdown`` and ``get_server().serve_forever()``, so a program written for a
``BaseManager`` with an ``authkey`` runs unchanged except for its import line::

    from xproc.managers import BaseManager        # was: from multiprocessing.managers import ...

    task_queue = queue.Queue()

    class QueueManager(BaseManager):
        pass

    QueueManager.register("get_task_queue", callable=lambda: task_queue)
    manager = QueueManager(address=("", 5000), authkey=b"abc")
    manager.start()                                # an xprocd on tcp://0.0.0.0:5000
    task = manager.get_task_queue()                # the xproc queue named "get_task_queue"

and on another machine::

    QueueManager.register("get_task_queue")
    m = QueueManager(address=("10.0.0.5", 5000), authkey=b"abc")
    m.connect()
    m.get_task_queue().put(7)

What differs, and why (docs/PYTHON.md, "managers"):

- The manager is an ``xprocd`` broker, not a Python process; a registered getter returns the
  xproc object *named by its typeid* — the same object for every caller, in any language.
- The kind of object comes from what the registered callable returns (``queue.Queue`` → a
  queue with its ``maxsize``, ``dict`` → a dict with its items, ``threading.Lock`` → a lock,
  ...), or, for a typeid registered without a callable, from the object the broker holds. The
  callable runs in the calling process (so ``callable=lambda: task_queue`` works, which
  ``multiprocessing`` cannot pickle), only to learn the kind; the data lives in the broker.
- Arbitrary classes with methods cannot be served: xproc holds data, not Python code. A
  callable returning anything else raises :class:`TypeError` naming the type.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing
import os
import sys
import queue as _queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from typing import Any, Callable, Dict as TDict, Optional, Tuple

from ._client import Client, connect
from ._errors import NoBrokerError, NotFoundError

__all__ = ["BaseManager", "SyncManager", "Server", "xprocd_path"]

#: How long :meth:`BaseManager.start` waits for its broker to accept connections.
START_TIMEOUT = 30.0


def xprocd_path() -> str:
    """The ``xprocd`` binary: ``$XPROCD``, else ``xprocd`` on ``PATH``, else the workspace's
    ``target/release/xprocd`` (running from a checkout)."""
    env = os.environ.get("XPROCD")
    if env:
        return env
    found = shutil.which("xprocd")
    if found:
        return found
    here = os.path.dirname(os.path.abspath(__file__))
    for profile in ("release", "debug"):
        p = os.path.join(here, "..", "..", "..", "target", profile, "xprocd")
        if os.path.exists(p):
            return os.path.abspath(p)
    raise FileNotFoundError(
        "no xprocd found: set $XPROCD, put xprocd on PATH, or build it (cargo build --release -p xproc-broker)"
    )


def _endpoint(address: Tuple[str, int]) -> str:
    host, port = address
    host = host or "0.0.0.0"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"tcp://{host}:{port}"


def _connect_endpoint(address: Tuple[str, int]) -> str:
    """Where a client connects for ``address`` (an empty or wildcard host means this host)."""
    host, port = address
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return _endpoint((host, port))


def _kind_of(obj: Any) -> Tuple[str, TDict[str, Any]]:
    """The xproc kind (and creation options) for what a registered callable returned."""
    import threading as th
    from multiprocessing import queues as mpq

    from . import _dict, _queue as xq, _sync

    if isinstance(obj, (xq.JoinableQueue, mpq.JoinableQueue)):
        return "joinable_queue", {"maxsize": getattr(obj, "_maxsize", 0) or 0}
    if isinstance(obj, (xq.Queue, mpq.Queue)):
        return "queue", {"maxsize": getattr(obj, "_maxsize", 0) or 0}
    if type(obj) is _queue.Queue:
        return "queue", {"maxsize": obj.maxsize}
    if isinstance(obj, (dict, _dict.Dict)):
        return "dict", {"items": dict(obj)}
    kinds = [
        (th.Barrier, "barrier"),
        (th.Condition, "condition"),
        (th.Event, "event"),
        (th.BoundedSemaphore, "bounded_semaphore"),
        (th.Semaphore, "semaphore"),
        (_sync.Barrier, "barrier"),
        (_sync.Condition, "condition"),
        (_sync.Event, "event"),
        (_sync.BoundedSemaphore, "bounded_semaphore"),
        (_sync.Semaphore, "semaphore"),
        (_sync.RLock, "rlock"),
        (_sync.Lock, "lock"),
    ]
    for cls, kind in kinds:
        if isinstance(obj, cls):
            return kind, {}
    if isinstance(obj, type(th.RLock())):
        return "rlock", {}
    if isinstance(obj, type(th.Lock())):
        return "lock", {}
    raise TypeError(
        f"xproc.managers cannot serve a {type(obj).__module__}.{type(obj).__qualname__}: "
        "xproc holds data objects (queue.Queue, dict, threading.Lock/RLock/Semaphore/"
        "BoundedSemaphore/Event/Condition/Barrier), not Python code (see docs/PYTHON.md, managers)"
    )


def _open(client: Client, name: str, kind: str, opts: TDict[str, Any]) -> Any:
    """Opens (creating if free) the object ``name`` of ``kind``."""
    if kind == "queue":
        return client.Queue(name, maxsize=opts.get("maxsize"))
    if kind == "joinable_queue":
        return client.JoinableQueue(name, maxsize=opts.get("maxsize"))
    if kind == "dict":
        d = client.dict(name)
        items = opts.get("items")
        if items and len(d) == 0:
            d.update(items)
        return d
    if kind == "pipe":
        raise TypeError(f"{name!r} is a pipe: open its ends with xproc.Client.Pipe")
    factory = {
        "lock": client.Lock,
        "rlock": client.RLock,
        "semaphore": client.Semaphore,
        "bounded_semaphore": client.BoundedSemaphore,
        "event": client.Event,
        "condition": client.Condition,
        "barrier": client.Barrier,
    }.get(kind)
    if factory is None:
        raise TypeError(f"{name!r} is a {kind}, which xproc.managers does not open")
    return factory(name)


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the broker get SIGTERM when the process that started it
    dies, however it dies (SIGKILL, an uncaught signal), so that no broker outlives its
    master — ``multiprocessing``'s manager process does not either. Linux only (prctl)."""

    def set_pdeathsig() -> None:
        PR_SET_PDEATHSIG = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would signal us.
        if os.getppid() != parent:
            os._exit(1)

    return set_pdeathsig


class Server:
    """What :meth:`BaseManager.get_server` returns: ``serve_forever()`` runs the broker in
    the foreground until it is stopped (SIGTERM, or Ctrl-C here)."""

    def __init__(self, manager: "BaseManager") -> None:
        self._manager = manager
        #: The address served.
        self.address = manager.address

    def serve_forever(self) -> None:
        """Serves until the broker stops; Ctrl-C stops it."""
        m = self._manager
        proc = m._spawn()
        try:
            m._wait_ready(proc)
            m._make_registered()
            proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            m._stop(proc)


class BaseManager:
    """A manager whose server is an ``xprocd`` listening on TCP at ``address`` with
    ``authkey`` (docs/PROTOCOL.md §1.2). Same constructor as
    ``multiprocessing.managers.BaseManager``; ``serializer`` and ``ctx`` are accepted and
    ignored (values are MessagePack, and the server is not a Python process)."""

    _registry: TDict[str, Optional[Callable[..., Any]]] = {}

    def __init__(
        self,
        address: Optional[Tuple[str, int]] = None,
        authkey: Optional[bytes] = None,
        serializer: str = "pickle",
        ctx: Any = None,
        *,
        shutdown_timeout: float = 1.0,
    ) -> None:
        if authkey is None:
            authkey = bytes(multiprocessing.current_process().authkey)
        if not isinstance(authkey, (bytes, bytearray)) or not authkey:
            raise TypeError("authkey should be a non-empty byte string")
        #: ``(host, port)``; port 0 is replaced by the one the broker got once started.
        self.address: Tuple[str, int] = tuple(address) if address else ("127.0.0.1", 0)  # type: ignore[assignment]
        self._authkey = bytes(authkey)
        self._shutdown_timeout = shutdown_timeout
        self._client: Optional[Client] = None
        self._proc: Optional[subprocess.Popen] = None
        self._dir: Optional[str] = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ registration

    @classmethod
    def register(
        cls,
        typeid: str,
        callable: Optional[Callable[..., Any]] = None,
        proxytype: Any = None,
        exposed: Any = None,
        method_to_typeid: Any = None,
        create_method: bool = True,
    ) -> None:
        """Registers ``typeid``: the manager gets a method of that name returning the xproc
        object named ``typeid``. ``callable`` (optional) tells its kind by what it returns.
        ``proxytype``, ``exposed`` and ``method_to_typeid`` are accepted for compatibility
        and ignored (there are no proxies: the objects are xproc's own)."""
        if "_registry" not in cls.__dict__:
            cls._registry = dict(cls._registry)
        cls._registry[typeid] = callable
        if create_method:

            def getter(self: "BaseManager", *args: Any, **kwds: Any) -> Any:
                return self._get(typeid, *args, **kwds)

            getter.__name__ = typeid
            setattr(cls, typeid, getter)

    def _get(self, typeid: str, *args: Any, **kwds: Any) -> Any:
        client = self._need_client()
        make = type(self)._registry.get(typeid)
        if make is not None:
            kind, opts = _kind_of(make(*args, **kwds))
            return _open(client, typeid, kind, opts)
        try:
            kind = client.stat(typeid)["kind"]
        except NotFoundError:
            raise NotFoundError(
                f"no object named {typeid!r} at the broker yet: the manager that start()s "
                "registers it with a callable, which creates it"
            ) from None
        return _open(client, typeid, kind, {})

    def _make_registered(self) -> None:
        """Creates every object registered with a callable, so that clients that connect
        before the master calls a getter find them."""
        for typeid, make in type(self)._registry.items():
            if make is not None:
                try:
                    self._get(typeid)
                except Exception:  # needs arguments, or not servable: the getter says so
                    pass

    # ------------------------------------------------------------------ life cycle

    def _need_client(self) -> Client:
        if self._client is None:
            raise ValueError("the manager is not started or connected: call start() or connect()")
        return self._client

    def connect(self) -> None:
        """Connects to the manager's broker at ``address`` with ``authkey``."""
        self._client = connect(_connect_endpoint(self.address), authkey=self._authkey)

    def start(self, initializer: Optional[Callable[..., Any]] = None, initargs: tuple = ()) -> None:
        """Starts an ``xprocd`` listening on ``address`` with ``authkey`` (or reuses one
        that already serves there with that key) and connects to it. ``initializer`` is
        called here with ``initargs`` (there is no server process to run it in)."""
        with self._lock:
            if self._client is not None:
                raise ValueError("the manager is already started or connected")
            if self.address[1] != 0:
                try:
                    self.connect()
                except NoBrokerError:
                    pass
                else:
                    return
            self._proc = self._spawn()
            atexit.register(self.shutdown)
            self._wait_ready(self._proc)
        if initializer is not None:
            initializer(*initargs)
        self._make_registered()

    def get_server(self) -> Server:
        """The server, to run in the foreground with ``serve_forever()``."""
        return Server(self)

    def shutdown(self) -> None:
        """Disconnects, and stops the broker if :meth:`start` started it. Also runs at
        interpreter exit for a manager still started (a master that dies of an exception
        before its ``shutdown()`` leaves no broker behind)."""
        atexit.unregister(self.shutdown)
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._proc is not None:
            self._stop(self._proc)
            self._proc = None

    def join(self, timeout: Optional[float] = None) -> None:
        """Waits for the started broker to exit."""
        if self._proc is not None:
            self._proc.wait(timeout)

    def __enter__(self) -> "BaseManager":
        if self._client is None:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    # ------------------------------------------------------------------ the broker process

    def _spawn(self) -> subprocess.Popen:
        self._dir = tempfile.mkdtemp(prefix="xproc-manager-")
        key = os.path.join(self._dir, "authkey")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            # The broker drops exactly one trailing LF, so any key survives as key + LF.
            f.write(self._authkey + b"\n")
        self._log = os.path.join(self._dir, "xprocd.log")
        args = [
            xprocd_path(),
            "--socket",
            os.path.join(self._dir, "x.sock"),
            "--listen",
            _endpoint(self.address),
            "--authkey-file",
            key,
            "--log-level",
            "info",
        ]
        # The parent-death signal follows the thread that forks, not the process: only a broker
        # started from the main thread gets it (a worker thread may end before the program).
        preexec = None
        if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
            preexec = _die_with_parent(os.getpid())
        with open(self._log, "wb") as log:
            return subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, preexec_fn=preexec
            )

    def _wait_ready(self, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"xprocd exited at startup ({proc.returncode}): {self._log_text()}")
            m = re.search(r"listening on TCP.*addr=(\S+):(\d+)", self._log_text())
            if m and os.path.exists(os.path.join(self._dir or "", "x.sock")):
                if self.address[1] == 0:
                    self.address = (self.address[0], int(m.group(2)))
                self.connect()
                return
            if time.monotonic() > deadline:
                self._stop(proc)
                raise RuntimeError(f"xprocd did not start: {self._log_text()}")
            time.sleep(0.01)

    def _log_text(self) -> str:
        try:
            with open(self._log, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(max(self._shutdown_timeout, 5.0))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class SyncManager(BaseManager):
    """``multiprocessing.managers.SyncManager`` over xproc: ``Queue()``, ``JoinableQueue()``,
    ``dict()``, ``Lock()``, ``RLock()``, ``Semaphore()``, ``BoundedSemaphore()``,
    ``Event()``, ``Condition()``, ``Barrier()`` each make a new object (named uniquely, or
    by the keyword ``name=``) at the manager's broker. ``list``, ``Namespace``, ``Value``,
    ``Array`` and ``Pool`` have no xproc counterpart and raise ``NotImplementedError``."""

    def _fresh(self, kind: str, name: Optional[str]) -> str:
        return name or f"sync.{kind}.{uuid.uuid4().hex}"

    def Queue(self, maxsize: int = 0, *, name: Optional[str] = None) -> Any:
        return self._need_client().Queue(self._fresh("queue", name), maxsize=maxsize)

    def JoinableQueue(self, maxsize: int = 0, *, name: Optional[str] = None) -> Any:
        return self._need_client().JoinableQueue(self._fresh("joinable_queue", name), maxsize=maxsize)

    def dict(self, *args: Any, name: Optional[str] = None, **kwds: Any) -> Any:
        d = self._need_client().dict(self._fresh("dict", name))
        initial = dict(*args, **kwds)
        if initial:
            d.update(initial)
        return d

    def Lock(self, *, name: Optional[str] = None) -> Any:
        return self._need_client().Lock(self._fresh("lock", name))

    def RLock(self, *, name: Optional[str] = None) -> Any:
        return self._need_client().RLock(self._fresh("rlock", name))

    def Semaphore(self, value: int = 1, *, name: Optional[str] = None) -> Any:
        return self._need_client().Semaphore(self._fresh("semaphore", name), value)

    def BoundedSemaphore(self, value: int = 1, *, name: Optional[str] = None) -> Any:
        return self._need_client().BoundedSemaphore(self._fresh("bounded_semaphore", name), value)

    def Event(self, *, name: Optional[str] = None) -> Any:
        return self._need_client().Event(self._fresh("event", name))

    def Condition(self, lock: Any = None, *, name: Optional[str] = None) -> Any:
        if lock is not None:
            raise NotImplementedError("an xproc Condition has its own lock; pass no lock")
        return self._need_client().Condition(self._fresh("condition", name))

    def Barrier(self, parties: int, action: Any = None, timeout: Optional[float] = None, *, name: Optional[str] = None) -> Any:
        return self._need_client().Barrier(self._fresh("barrier", name), parties, action=action, timeout=timeout)

    def _unsupported(self, what: str) -> Any:
        raise NotImplementedError(
            f"SyncManager.{what}() has no xproc counterpart (xproc serves queues, dicts, pipes and "
            "sync primitives); see docs/PYTHON.md, managers"
        )

    def list(self, *args: Any, **kwds: Any) -> Any:
        return self._unsupported("list")

    def Namespace(self, *args: Any, **kwds: Any) -> Any:
        return self._unsupported("Namespace")

    def Value(self, *args: Any, **kwds: Any) -> Any:
        return self._unsupported("Value")

    def Array(self, *args: Any, **kwds: Any) -> Any:
        return self._unsupported("Array")

    def Pool(self, *args: Any, **kwds: Any) -> Any:
        return self._unsupported("Pool")
