"""xproc's exceptions, and the mapping from a libxproc status to the exception to raise.

Where the standard library has an exception for a situation, xproc raises that one (the
call sites map those statuses themselves): ``queue.Empty`` and ``queue.Full``, ``EOFError``
(a pipe whose other end is gone), ``KeyError``, ``ValueError`` and
``threading.BrokenBarrierError``. Everything else is an :class:`XprocError`; subclasses also
derive from the builtin exception closest in meaning (``ConnectionError`` for a missing
broker, ``TypeError`` for a type mismatch, ...), so generic handlers keep working.
"""

from __future__ import annotations

import builtins
import ctypes
import math
import threading
import time
from typing import Any, Callable, Dict, List, NoReturn, Optional, Type

from . import _native as n


class XprocError(Exception):
    """Base class of every error xproc itself reports.

    ``status`` is the libxproc status code (``xproc_status_e``) behind it, or ``None`` for an
    error found in Python before anything was sent.
    """

    status: Optional[int] = None

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def status_name(self) -> Optional[str]:
        """The C name of :attr:`status`, e.g. ``"XPROC_LIMIT"``; ``None`` without a status."""
        return None if self.status is None else n.status_name(self.status)


class NoBrokerError(XprocError, ConnectionError):
    """Nothing accepts connections at the socket path: no broker runs there (or no permission)."""


class DisconnectedError(XprocError, ConnectionError):
    """The connection to the broker is gone (or this process is a fork of the one that
    connected); every later call on the client fails the same way. Connect again."""


class ShuttingDownError(XprocError, ConnectionError):
    """The broker is stopping; calls blocked in it are answered with this."""


class TimeoutError(XprocError, builtins.TimeoutError):  # noqa: A001 - like asyncio.TimeoutError
    """A blocking call's timeout passed where the standard library has no exception of its own
    (``JoinableQueue.join``, ``Connection.recv``/``send`` with a timeout). Also a builtin
    ``TimeoutError``."""


class LimitError(XprocError):
    """A broker limit refused the request (frame size, clients, objects, memory budget); the
    message names the limit."""


class TypeMismatchError(XprocError, TypeError):
    """The name holds an object of another kind (opening a queue named like a dict)."""


class OptionMismatchError(XprocError, ValueError):
    """The object exists with a creation option (``maxsize``, ``value``, ``parties``, ...)
    that differs from the one given; the message names it."""


class InvalidNameError(XprocError, ValueError):
    """An object name that is empty, longer than 255 bytes, or not UTF-8."""


class InvalidValueError(XprocError, ValueError):
    """Bytes that are not exactly one well-formed MessagePack value."""


class WrongTypeError(XprocError, TypeError):
    """The stored value has the wrong type for the operation (``incr`` on a string)."""


class NotFoundError(XprocError):
    """No object has this name any more (it was deleted while this handle was open)."""


class BusyError(XprocError):
    """The pipe end is held by another connection (the message names its pid)."""


class NotOwnerError(XprocError, RuntimeError):
    """This connection does not hold the lock (or pipe end) the call needs — like releasing
    an unlocked ``threading.Lock``, which raises ``RuntimeError``."""


class InvalidArgumentError(XprocError, ValueError):
    """An argument out of range, or an operation not allowed in the object's state."""


class EncodeError(XprocError, ValueError):
    """A Python value xproc cannot carry (raised before anything is sent)."""


class IntegerRangeError(EncodeError, OverflowError):
    """An int outside both the signed and the unsigned 64-bit ranges, which MessagePack cannot
    carry (raised before anything is sent)."""


class DecodeError(XprocError, ValueError):
    """Bytes from the broker that do not decode to a Python value."""


class ProtocolError(XprocError):
    """The broker sent something that does not follow the protocol."""


class BrokerError(XprocError):
    """Any other error the broker reported; the message starts with its wire code."""


class UnknownDeliveryError(XprocError):
    """``ack``/``nack`` of a delivery this connection does not hold: already settled, its
    lease ran out (the item went back to the queue), or handed out elsewhere."""


class DeniedError(XprocError, PermissionError):
    """The broker's allow-lists refused this connection (its uid and groups are not listed)."""


class InterruptedCallError(XprocError, InterruptedError):
    """A signal ended a blocking call. Rarely seen: the binding runs the signal's handlers
    and makes the call again itself (PEP 475), so Ctrl-C surfaces as ``KeyboardInterrupt``."""


class InternalError(XprocError):
    """A bug inside libxproc, caught before it could crash the process."""


# The generic mapping, for statuses a call site does not translate itself.
_BY_STATUS: Dict[int, Type[XprocError]] = {
    n.NO_BROKER: NoBrokerError,
    n.TIMEOUT: TimeoutError,
    n.EMPTY: TimeoutError,
    n.FULL: TimeoutError,
    n.TYPE_MISMATCH: TypeMismatchError,
    n.DISCONNECTED: DisconnectedError,
    n.LIMIT: LimitError,
    n.NOT_OWNER: NotOwnerError,
    n.BUSY: BusyError,
    n.INVALID_ARGUMENT: InvalidArgumentError,
    n.NULL_ARGUMENT: InternalError,
    n.SHUTTING_DOWN: ShuttingDownError,
    n.NOT_FOUND: NotFoundError,
    n.OPTION_MISMATCH: OptionMismatchError,
    n.INVALID_NAME: InvalidNameError,
    n.INVALID_VALUE: InvalidValueError,
    n.WRONG_TYPE: WrongTypeError,
    n.OUT_OF_RANGE: InvalidArgumentError,
    n.BROKER_ERROR: BrokerError,
    n.PROTOCOL_ERROR: ProtocolError,
    n.PANIC: InternalError,
    n.UNKNOWN_DELIVERY: UnknownDeliveryError,
    n.DENIED: DeniedError,
    n.INTERRUPTED: InterruptedCallError,
}


def error_for(status: int) -> XprocError:
    """The exception for a failed call's ``status``, with libxproc's message for this thread.

    Call it right after the failed call: the message is the thread's last error.
    """
    cls = _BY_STATUS.get(status, XprocError)
    message = n.error_message() or n.status_name(status)
    return cls(message, status)


def raise_for(status: int) -> NoReturn:
    """Raises :func:`error_for` ``(status)``."""
    raise error_for(status)


INTERRUPTED = n.INTERRUPTED


def _signal_checker() -> Callable[[], Any]:
    """``PyErr_CheckSignals``: runs pending signal handlers now and raises what they raise
    (``KeyboardInterrupt``) — a PyDLL function, so ctypes raises the exception it leaves set.
    Outside CPython, a no-op: handlers run at the next bytecode anyway."""
    api = getattr(ctypes, "pythonapi", None)
    if api is None:
        return lambda: 0
    f = api.PyErr_CheckSignals
    f.argtypes = []
    f.restype = ctypes.c_int
    return f  # type: ignore[no-any-return]


_check_signals = _signal_checker()


def make_interruptible() -> None:
    """Lets a signal end a blocking call made by this thread if it is the main thread, the
    one where Python runs signal handlers: Ctrl-C then raises ``KeyboardInterrupt`` in a
    ``get()`` that would otherwise wait on. Calls from other threads wait as before."""
    if threading.current_thread() is threading.main_thread():
        n.set_interruptible(1)


def blocking(f: Callable[..., int], h: Any, ms: int, *rest: Any) -> int:
    """``f(h, ms, *rest)`` for a blocking call whose timeout (milliseconds) is its second
    argument, made again with :func:`resume` if a signal interrupted it. The per-item calls
    (queue put/get, pipe send/recv) inline this instead, to keep a Python call off their path.
    """
    status = f(h, ms, *rest)
    if status == INTERRUPTED:
        status = resume(f, [h, ms, *rest], 1)
    return status


def resume(f: Callable[..., Any], args: List[Any], at: int) -> Any:
    """Calls ``f(*args)`` again after a signal interrupted it (status ``INTERRUPTED``), as
    Python retries its own system calls (PEP 475): the signal's handlers run first, and what
    they raise (``KeyboardInterrupt``) propagates; if they return, the call is made again with
    the time left of its timeout, ``args[at]`` (milliseconds, negative = no limit). Returns
    what ``f`` returns: its status, or (the per-item gets of ``_native``) the value's bytes.

    The interrupted request was cancelled at the broker, so it took nothing; a call made
    again waits at the end of the line of waiters.
    """
    ms = args[at]
    deadline = None if ms < 0 else time.monotonic() + ms / 1000
    while True:
        _check_signals()
        if deadline is not None:
            args[at] = max(0, math.ceil((deadline - time.monotonic()) * 1000))
        status = f(*args)
        if status != INTERRUPTED:
            return status


make_interruptible()  # the importing thread; Client() does it again for its own
