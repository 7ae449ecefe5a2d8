"""xproc: queues, dicts, pipes and locks shared by processes written in any language, through
the ``xprocd`` broker — with the ``multiprocessing`` API, and a name per object.

    import xproc

    with xproc.connect() as c:              # the default socket, or xproc.connect("/path.sock")
        tasks = c.Queue("tasks", maxsize=100)
        tasks.put({"n": 7})
        print(tasks.get(timeout=1))         # queue.Empty after a second without an item
        with c.Lock("device"):
            ...

Objects are opened by name and created if the name is free; another process (in Python,
Rust, C or C#) opening the same name gets the same object. Methods, arguments, return values
and exceptions follow ``multiprocessing``, ``threading`` and ``queue``; where xproc differs on
purpose, the docstring says so. xproc's own errors derive from :class:`XprocError`.

Layout of the package:

- ``_client``: :func:`connect`, :class:`Client` (admin calls, one factory per object type).
- ``_queue``: :class:`Queue`, :class:`JoinableQueue`, :class:`Delivery` (leases).
- ``_dict``: :class:`Dict` (a ``MutableMapping``), :data:`ABSENT`.
- ``_pipe``: :class:`Connection` (one pipe end).
- ``_sync``: :class:`Lock`, :class:`RLock`, :class:`Semaphore`, :class:`BoundedSemaphore`,
  :class:`Event`, :class:`Condition`, :class:`Barrier`.
- ``_wait``: :func:`wait` (``multiprocessing.connection.wait`` over broker objects) and
  :func:`get_any` (one item from the first of several queues).
- ``_base``: what every object shares (handle life, reopening after fork, pickling).
- ``_values``: Python values to MessagePack and back; timeouts.
- ``_errors``: the exceptions.
- ``_native``: loading libxproc and every ctypes declaration.
- ``_cli`` / ``__main__``: ``python -m xproc`` (ping, ls, stat, put, get, ...).
- ``managers``: ``BaseManager``/``SyncManager``, a drop-in for ``multiprocessing.managers``
  over a TCP broker with an authkey.
"""

from ._base import BrokerObject
from ._client import (
    DEFAULT_CONNECT_TIMEOUT,
    SOCKET_ENV,
    Client,
    Limits,
    connect,
    default_socket_path,
)
from ._dict import ABSENT, Dict
from ._errors import (
    BrokerError,
    BusyError,
    DecodeError,
    DeniedError,
    DisconnectedError,
    EncodeError,
    IntegerRangeError,
    InternalError,
    InterruptedCallError,
    InvalidArgumentError,
    InvalidNameError,
    InvalidValueError,
    LimitError,
    NoBrokerError,
    NotFoundError,
    NotOwnerError,
    OptionMismatchError,
    ProtocolError,
    ShuttingDownError,
    TimeoutError,
    TypeMismatchError,
    UnknownDeliveryError,
    WrongTypeError,
    XprocError,
)
from ._native import LIB_PATH, library_version
from ._pipe import Connection
from ._queue import Delivery, JoinableQueue, Queue
from ._sync import Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore
from ._values import ExtType, decode, encode
from ._wait import get_any, wait

#: The version of this package.
__version__ = "0.1.0"

__all__ = [
    "ABSENT",
    "Barrier",
    "BoundedSemaphore",
    "BrokerError",
    "BrokerObject",
    "BusyError",
    "Client",
    "Condition",
    "Connection",
    "DEFAULT_CONNECT_TIMEOUT",
    "DecodeError",
    "Delivery",
    "DeniedError",
    "Dict",
    "DisconnectedError",
    "EncodeError",
    "Event",
    "ExtType",
    "IntegerRangeError",
    "InternalError",
    "InterruptedCallError",
    "InvalidArgumentError",
    "InvalidNameError",
    "InvalidValueError",
    "JoinableQueue",
    "LIB_PATH",
    "LimitError",
    "Limits",
    "Lock",
    "NoBrokerError",
    "NotFoundError",
    "NotOwnerError",
    "OptionMismatchError",
    "ProtocolError",
    "Queue",
    "RLock",
    "SOCKET_ENV",
    "Semaphore",
    "ShuttingDownError",
    "TimeoutError",
    "TypeMismatchError",
    "UnknownDeliveryError",
    "WrongTypeError",
    "XprocError",
    "__version__",
    "connect",
    "decode",
    "default_socket_path",
    "encode",
    "get_any",
    "library_version",
    "wait",
]
