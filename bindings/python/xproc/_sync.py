"""Named synchronisation primitives with the ``threading``/``multiprocessing`` interfaces:
``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``, ``Event``, ``Condition``,
``Barrier``.

Ownership is per *connection* (per :class:`~xproc.Client`), not per thread: threads sharing
a client share its locks and permits. When a connection goes away — its process exits or is
killed — the broker releases what it held, and the next acquirer of a lock learns of it
(``lock.abandoned``, ``lock.abandoned_by``).
"""

from __future__ import annotations

import threading
import time
from ctypes import c_bool, c_uint32, c_uint64
from typing import Any, Callable, Optional, TypeVar

from . import _native as native
from ._base import BrokerObject
from ._errors import IntegerRangeError, OptionMismatchError, blocking, raise_for
from ._values import timeout_ms

_T = TypeVar("_T")


def _acquire_timeout_ms(block: bool, timeout: Optional[float]) -> int:
    """``timeout_ms`` for ``acquire(block, timeout)``: ``None`` (``multiprocessing``) or -1
    (``threading``) waits forever; ``block=False`` does not wait."""
    if not block:
        return 0
    if timeout is None or timeout == -1:
        return -1
    return timeout_ms(timeout)


def _count(value: int, what: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}")
    if value >= 2**64:
        raise IntegerRangeError(f"{what} {value} is too large")
    return value


class _Ownable(BrokerObject):
    """A lock-like object: ``acquire``/``release``, a context manager, abandonment news."""

    _acquire_fn: Any
    _release_fn: Any

    def __init__(self, client: Any, name: str, *options: Any) -> None:
        #: Whether the last successful :meth:`acquire` on this handle found the lock abandoned:
        #: released by the broker because its holder disconnected (exited, crashed, was
        #: killed) while holding it. The state it protected may be half-updated.
        self.abandoned = False
        #: The pid of that dead holder, else ``None``.
        self.abandoned_by: Optional[int] = None
        super().__init__(client, name, options)

    def acquire(self, block: bool = True, timeout: Optional[float] = None) -> bool:
        """Acquires the lock, waiting as long as it takes (``timeout=None`` or ``-1``), at
        most ``timeout`` seconds, or not at all (``block=False``). Returns whether it was
        acquired.

        Unlike ``threading``: a lock whose holder died is released by the broker, and the
        acquire that gets it next still returns ``True``, setting :attr:`abandoned` and
        :attr:`abandoned_by` (the dead holder's pid)."""
        h = self._h
        if h is None:
            h = self._revive()
        got = c_bool()
        pid = c_uint32()
        status = blocking(self._acquire_fn, h, _acquire_timeout_ms(block, timeout), got, pid)
        if status:
            raise_for(status)
        if got.value:
            self.abandoned = pid.value != 0
            self.abandoned_by = pid.value or None
        return got.value

    def release(self) -> None:
        """Releases the lock (an ``RLock`` or condition: one level). Raises
        :class:`~xproc.NotOwnerError` (a ``RuntimeError``, as ``threading`` raises) if this
        connection does not hold it."""
        h = self._h
        if h is None:
            h = self._revive()
        status = self._release_fn(h)
        if status:
            raise_for(status)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _info(self) -> Any:
        return self.client.stat(self.name)["info"]

    def locked(self) -> bool:
        """Whether some connection holds the lock now (a snapshot)."""
        return bool(self._info().get("depth"))

    @property
    def holder_pid(self) -> Optional[int]:
        """The pid of the process holding the lock now, else ``None`` (an xproc extension;
        a snapshot)."""
        pid = self._info().get("holder_pid")
        return int(pid) if pid is not None else None

    def close(self) -> None:
        """Releases this handle only: a lock this connection holds stays held until released
        or until the client disconnects."""
        super().close()


class Lock(_Ownable):
    """A named lock: ``threading.Lock``'s interface across processes.

    Owned by the connection that acquired it; acquiring it again from the same connection
    waits, as ``threading.Lock`` does. Released automatically when the owner disconnects (see
    :attr:`abandoned`). Any thread of the owning client may release it.
    """

    kind = "lock"
    _acquire_fn = native.lock_acquire
    _release_fn = native.lock_release

    def __init__(self, client: Any, name: str) -> None:
        super().__init__(client, name)

    def _open(self, client_handle: Any) -> Any:
        return self._call_open(native.lock_open, native.LockHandle, client_handle)


class RLock(Lock):
    """A named reentrant lock: ``threading.RLock``'s interface across processes. Reentrant
    for its owning *connection* (every thread sharing the client), free when released as many
    times as acquired."""

    kind = "rlock"

    def _open(self, client_handle: Any) -> Any:
        return self._call_open(native.rlock_open, native.LockHandle, client_handle)


class Semaphore(BrokerObject):
    """A named semaphore: ``threading.Semaphore``'s interface across processes.

    Permits a connection acquired and has not released are returned when it disconnects.
    """

    kind = "semaphore"
    _open_fn = native.semaphore_open

    def __init__(self, client: Any, name: str, value: Optional[int] = None) -> None:
        self._value_arg = None if value is None else _count(value, "semaphore value")
        super().__init__(client, name, (value,))

    def _open(self, client_handle: Any) -> Any:
        open_fn = type(self)._open_fn
        if self._value_arg is not None:
            return self._call_open(open_fn, native.SemaphoreHandle, client_handle, self._value_arg)
        # No value given: 1 when creating; an existing semaphore's own value otherwise (the
        # C call needs one, so read it from the broker when 1 is not it).
        try:
            return self._call_open(open_fn, native.SemaphoreHandle, client_handle, 1)
        except OptionMismatchError:
            info = self.client.stat(self.name)["info"]
            return self._call_open(
                open_fn, native.SemaphoreHandle, client_handle, int(info["initial"])
            )

    def acquire(self, block: bool = True, timeout: Optional[float] = None) -> bool:
        """Takes a permit, waiting as long as it takes (``timeout=None`` or ``-1``), at most
        ``timeout`` seconds, or not at all (``block=False``). Returns whether it got one."""
        h = self._h
        if h is None:
            h = self._revive()
        got = c_bool()
        status = blocking(native.semaphore_acquire, h, _acquire_timeout_ms(block, timeout), got)
        if status:
            raise_for(status)
        return got.value

    def release(self, n: int = 1) -> None:
        """Returns ``n`` permits (``threading.Semaphore.release(n)``)."""
        h = self._h
        if h is None:
            h = self._revive()
        count = _count(n, "n", 1)
        status = native.semaphore_release(h, count)
        if status:
            if status == native.INVALID_ARGUMENT:
                raise ValueError("Semaphore released too many times")
            raise_for(status)

    def get_value(self) -> int:
        """The number of free permits now (a snapshot; ``multiprocessing``'s
        ``get_value``)."""
        return int(self.client.stat(self.name)["info"]["value"])

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class BoundedSemaphore(Semaphore):
    """A named bounded semaphore: releasing above the initial value raises ``ValueError``, as
    ``threading.BoundedSemaphore`` does."""

    kind = "bounded_semaphore"
    _open_fn = native.bounded_semaphore_open


class Event(BrokerObject):
    """A named event: ``threading.Event``'s interface across processes."""

    kind = "event"

    def __init__(self, client: Any, name: str) -> None:
        super().__init__(client, name, ())

    def _open(self, client_handle: Any) -> Any:
        return self._call_open(native.event_open, native.EventHandle, client_handle)

    def _simple(self, fn: Any) -> None:
        h = self._h
        if h is None:
            h = self._revive()
        status = fn(h)
        if status:
            raise_for(status)

    def set(self) -> None:
        """Sets the flag, waking every waiter."""
        self._simple(native.event_set)

    def clear(self) -> None:
        """Clears the flag."""
        self._simple(native.event_clear)

    def is_set(self) -> bool:
        """Whether the flag is set."""
        h = self._h
        if h is None:
            h = self._revive()
        out = c_bool()
        status = native.event_is_set(h, out)
        if status:
            raise_for(status)
        return out.value

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until the flag is set, at most ``timeout`` seconds (``None``: as long as it
        takes). Returns ``True`` once set, ``False`` on timeout."""
        h = self._h
        if h is None:
            h = self._revive()
        out = c_bool()
        status = blocking(native.event_wait, h, timeout_ms(timeout), out)
        if status:
            raise_for(status)
        return out.value


class Condition(_Ownable):
    """A named condition variable with its own (reentrant) lock: ``threading.Condition``'s
    interface across processes.

    ``wait`` releases the lock, waits for a notify, and reacquires it before returning — also
    after its timeout, for as long as reacquiring takes.
    """

    kind = "condition"
    _acquire_fn = native.condition_acquire
    _release_fn = native.condition_release

    def __init__(self, client: Any, name: str) -> None:
        super().__init__(client, name)

    def _open(self, client_handle: Any) -> Any:
        return self._call_open(native.condition_open, native.ConditionHandle, client_handle)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Releases the lock, waits for a notify (at most ``timeout`` seconds; ``None``: as
        long as it takes), reacquires the lock and returns whether a notify came. Raises
        :class:`~xproc.NotOwnerError` (a ``RuntimeError``) without the lock held."""
        h = self._h
        if h is None:
            h = self._revive()
        notified = c_bool()
        status = blocking(native.condition_wait, h, timeout_ms(timeout), notified)
        if status:
            raise_for(status)
        return notified.value

    def wait_for(self, predicate: Callable[[], _T], timeout: Optional[float] = None) -> _T:
        """Waits until ``predicate()`` is true, calling it first and after each notify, for
        at most ``timeout`` seconds in all. Returns the predicate's last result. Call it with
        the lock held, as ``threading.Condition.wait_for``."""
        end: Optional[float] = None
        wait = timeout
        result = predicate()
        while not result:
            if wait is not None:
                if end is None:
                    end = time.monotonic() + wait
                else:
                    wait = end - time.monotonic()
                    if wait <= 0:
                        break
            self.wait(wait)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> int:
        """Wakes up to ``n`` waiters; returns how many were woken (an xproc
        extension: ``threading`` returns ``None``). Needs the lock held."""
        h = self._h
        if h is None:
            h = self._revive()
        woken = c_uint64()
        status = native.condition_notify(h, _count(n, "n"), woken)
        if status:
            raise_for(status)
        return int(woken.value)

    def notify_all(self) -> int:
        """Wakes every waiter; returns how many were woken. Needs the lock held."""
        h = self._h
        if h is None:
            h = self._revive()
        woken = c_uint64()
        status = native.condition_notify_all(h, woken)
        if status:
            raise_for(status)
        return int(woken.value)

    notifyAll = notify_all  # noqa: N815 - threading's old alias


class Barrier(BrokerObject):
    """A named barrier: ``threading.Barrier``'s interface across processes.

    ``wait`` returns a distinct index 0..parties-1 in arrival order. A wait that times out, an
    :meth:`abort`, or a waiting party's disconnect breaks the barrier: every waiter, and every
    later ``wait`` until :meth:`reset`, raises ``threading.BrokenBarrierError``.

    ``action``, if given, is called by the party that arrives last (index ``parties - 1``)
    when the barrier opens, before its ``wait`` returns; if it raises, the barrier is broken
    (for later waits) and the exception propagates from that ``wait``. Unlike
    ``threading.Barrier``, the other parties are not held until the action has finished: they
    are released by the broker already. The action belongs to this process's ``Barrier``
    object (it is pickled with it, as ``multiprocessing`` does): a party that opened the
    barrier without one runs nothing.
    """

    kind = "barrier"

    def __init__(
        self,
        client: Any,
        name: str,
        parties: Optional[int] = None,
        action: Optional[Callable[[], Any]] = None,
        timeout: Optional[float] = None,
    ) -> None:
        self._parties_arg = None if parties is None else _count(parties, "parties", 1)
        if action is not None and not callable(action):
            raise TypeError(f"action must be callable, not {type(action).__name__}")
        #: Called by the last party to arrive (see the class docs); ``None``: nothing.
        self.action = action
        #: The default timeout of :meth:`wait`, in seconds (``None``: none).
        self.timeout = timeout
        self._n = 0  # the party count, known once opened
        super().__init__(client, name, (parties, action, timeout))

    def _open(self, client_handle: Any) -> Any:
        parties = self._parties_arg
        if parties is None:
            # Opening an existing barrier: take its party count from the broker.
            try:
                stat = self.client.stat(self.name)
            except Exception as e:
                raise ValueError(
                    f"barrier {self.name!r} does not exist: give parties to create it"
                ) from e
            parties = int(stat["info"].get("parties", 0)) or 1
        h = self._call_open(native.barrier_open, native.BarrierHandle, client_handle, parties)
        self._n = parties
        return h

    def wait(self, timeout: Optional[float] = None) -> int:
        """Waits until ``parties`` parties wait, at most ``timeout`` seconds (default: the
        barrier's ``timeout``); returns this party's index. Running out of time breaks the
        barrier (``threading.BrokenBarrierError``)."""
        h = self._h
        if h is None:
            h = self._revive()
        if timeout is None:
            timeout = self.timeout
        index = c_uint64()
        status = blocking(native.barrier_wait, h, timeout_ms(timeout), index)
        if status:
            if status == native.BROKEN_BARRIER:
                raise threading.BrokenBarrierError
            raise_for(status)
        i = int(index.value)
        if self.action is not None and i == self._n - 1:
            try:
                self.action()
            except BaseException:
                self.abort()
                raise
        return i

    def _simple(self, fn: Any) -> None:
        h = self._h
        if h is None:
            h = self._revive()
        status = fn(h)
        if status:
            raise_for(status)

    def abort(self) -> None:
        """Breaks the barrier: current and later waiters raise ``BrokenBarrierError`` until
        :meth:`reset`."""
        self._simple(native.barrier_abort)

    def reset(self) -> None:
        """Returns the barrier to its initial, unbroken state (current waiters raise
        ``BrokenBarrierError``)."""
        self._simple(native.barrier_reset)

    def _state(self) -> Any:
        h = self._h
        if h is None:
            h = self._revive()
        out = native.BarrierState()
        status = native.barrier_state(h, out)
        if status:
            raise_for(status)
        return out

    @property
    def parties(self) -> int:
        """The number of parties needed to pass the barrier."""
        return int(self._state().parties)

    @property
    def n_waiting(self) -> int:
        """The number of parties waiting now."""
        return int(self._state().n_waiting)

    @property
    def broken(self) -> bool:
        """Whether the barrier is broken."""
        return bool(self._state().broken)
