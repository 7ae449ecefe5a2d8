"""xproc for ``asyncio``: ``await q.get()``, ``await lock.acquire()``, ``async with lock:``,
``await xproc.aio.wait(objects)`` — on the client's one event descriptor
(``loop.add_reader``), never a thread per call. Works with any loop that implements
``add_reader`` (the default selector loop, ``uvloop``).

    import asyncio, xproc.aio

    async def main():
        c = xproc.aio.connect()                 # an xproc.aio.Client over xproc.connect()
        jobs, urgent = c.Queue("jobs"), c.Queue("urgent")
        while True:
            q, job = await xproc.aio.get_any([urgent, jobs])
            async with c.Lock("device"):
                ...

How it works: each call *starts* its request without waiting; the requests started in one turn
of the loop leave together, in one write, from a callback scheduled with ``call_soon`` (the
client defers its starts: ``xproc_client_defer_starts``). The client's descriptor
(``xproc_client_event_fd``) becomes readable when replies come; the loop's reader callback
collects every completion in one call and resolves the awaiting futures. One client serves
one event loop (use another client for another loop or thread); the blocking API of the same
client still works from other threads (a blocking call sends any deferred request first).

**Timeouts and cancellation.** ``timeout=`` is the broker's, as in the blocking API
(``queue.Empty`` when nothing came). A task cancelled while it awaits — ``task.cancel()``,
``asyncio.timeout()``, ``asyncio.wait_for`` — cancels the request at the broker, so it takes
nothing: a cancelled ``get`` leaves the item in the queue, a cancelled ``acquire`` leaves the
lock. If the broker had already completed the request when the cancellation reached it (the
item was on its way), nothing is lost either: a ``get`` then returns its item instead of
raising ``CancelledError`` (``asyncio.timeout()`` then does not raise ``TimeoutError``), and an
``acquire`` that got the lock releases it again and raises.
"""

from __future__ import annotations

import asyncio
import queue as _stdqueue
import threading
import time
from ctypes import byref, c_bool, c_int, c_size_t, c_uint8, c_uint64, c_void_p, string_at
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from . import _native as n
from ._client import Client as _SyncClient
from ._client import connect as _connect
from ._errors import raise_for
from ._pipe import Connection as _SyncConnection
from ._queue import Delivery
from ._queue import Queue as _SyncQueue
from ._sync import Barrier as _SyncBarrier
from ._sync import Condition as _SyncCondition
from ._sync import Event as _SyncEvent
from ._sync import Lock as _SyncLock
from ._sync import Semaphore as _SyncSemaphore
from ._values import _local, decode, encode, queue_timeout_ms, timeout_ms
from ._wait import _handle, _key, _kind

__all__ = [
    "Barrier",
    "Client",
    "Condition",
    "Connection",
    "Event",
    "Lock",
    "Queue",
    "Semaphore",
    "connect",
    "get_any",
    "wait",
]

_EMPTY_STATUSES = (n.EMPTY, n.TIMEOUT)
_aio_get_start = n.aio_get_start
_aio_put_start = n.aio_put_start
_aio_take = n.aio_take


class _Driver:
    """The reader callback of one client on one loop: collects completions and resolves the
    futures waiting for them."""

    def __init__(self, client: _SyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop
        fd = c_int(-1)
        status = n.client_event_fd(client._handle(), byref(fd))
        if status:
            raise_for(status)
        self.fd = fd.value
        #: Futures by ticket.
        self.waiting: Dict[int, asyncio.Future] = {}
        #: Completions whose future was cancelled before they came (kept for the canceller).
        self.orphans: Dict[int, int] = {}
        #: Whether a flush of the deferred starts is scheduled for the end of this turn.
        self.flush_owed = False
        status = n.client_defer_starts(client._handle(), True)
        if status:
            raise_for(status)
        loop.add_reader(self.fd, self._on_readable)

    def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        try:
            n.client_defer_starts(self.client._handle(), False)  # flushes
        except ValueError:
            pass  # the client is closed already

    def started(self, ticket: int) -> int:
        """Records that a request was started (``ticket``, or minus the status it failed with):
        its write is deferred, so a flush is scheduled once per turn of the loop — after the
        other tasks woken in this turn have started theirs."""
        if ticket < 0:
            raise_for(-ticket)
        if not self.flush_owed:
            self.flush_owed = True
            self.loop.call_soon(self._flush)
        return ticket

    def _flush(self) -> None:
        self.flush_owed = False
        try:
            # A failed write kills the connection: every waiting request then completes with
            # XPROC_DISCONNECTED through the descriptor, so the status needs no handling here.
            n.aio_flush(self.client._handle().value)
        except ValueError:
            pass  # closed meanwhile

    def _on_readable(self) -> None:
        waiting = self.waiting
        for ticket, cmp in n.aio_collect(self.client._handle().value):
            fut = waiting.pop(ticket, None)
            if fut is not None and not fut.done():
                fut.set_result(cmp)
            else:
                self.orphans[ticket] = cmp

    async def run(self, ticket: int) -> Tuple[int, Optional[BaseException]]:
        """Awaits started request ``ticket``: its completion (owned by the caller: free it),
        and the ``CancelledError`` that interrupted the wait, if one did — the request was then
        cancelled at the broker, and the completion is its real outcome."""
        fut = self.loop.create_future()
        self.waiting[ticket] = fut
        try:
            return await fut, None
        except asyncio.CancelledError as e:
            cancelled: BaseException = e
        self.waiting.pop(ticket, None)
        if ticket in self.orphans:
            return self.orphans.pop(ticket), cancelled
        n.client_cancel(self.client._handle(), ticket)
        fut = self.loop.create_future()
        self.waiting[ticket] = fut
        while True:
            try:
                return await asyncio.shield(fut), cancelled
            except asyncio.CancelledError:
                if fut.done():
                    return fut.result(), cancelled


def _driver(client: _SyncClient) -> _Driver:
    loop = asyncio.get_running_loop()
    d: Optional[_Driver] = getattr(client, "_aio_driver", None)
    if d is None:
        d = _Driver(client, loop)
        client._aio_driver = d  # type: ignore[attr-defined]
    elif d.loop is not loop:
        raise RuntimeError(
            f"{client!r} already serves another event loop; use one client per loop"
        )
    return d


async def _started(client: _SyncClient, start: Any, *args: Any) -> Tuple[int, Optional[BaseException]]:
    """Starts a request with ``start(*args, &ticket)`` and awaits its completion."""
    d = _driver(client)
    ticket = c_uint64()
    status = start(*args, byref(ticket))
    return await d.run(d.started(-status if status else ticket.value))




def _status(cmp: int) -> int:
    return n.completion_status(cmp)  # type: ignore[no-any-return]


def _value(cmp: int) -> Any:
    ptr, size = c_void_p(), c_size_t()
    status = n.completion_value_raw(cmp, byref(ptr), byref(size))
    if status:
        raise_for(status)
    return decode(string_at(ptr, size.value))


def _bool(cmp: int, field: bytes) -> bool:
    out = c_bool()
    status = n.completion_bool(cmp, field, len(field), byref(out))
    if status:
        raise_for(status)
    return out.value


def _uint(cmp: int, field: bytes) -> Optional[int]:
    out = c_uint64()
    status = n.completion_uint(cmp, field, len(field), byref(out))
    return None if status else out.value


class Queue:
    """An awaitable view of a :class:`xproc.Queue` (or ``JoinableQueue``): ``get``, ``put``
    and ``get_leased``-free basics as coroutines; ``qsize``, ``empty``, ``put_nowait``,
    ``get_nowait``, ``task_done`` are the queue's own (they never wait)."""

    def __init__(self, queue: _SyncQueue) -> None:
        self.sync = queue
        self.name = queue.name
        self.client = queue.client

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.sync, attr)

    def __repr__(self) -> str:
        return f"<xproc.aio.Queue {self.name!r}>"

    async def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        """Removes and returns the item at the head, waiting for one as long as it takes
        (``timeout=None``), at most ``timeout`` seconds, or not at all (``block=False``);
        ``queue.Empty`` when nothing came. Cancelling the awaiting task takes nothing (see
        the module docs)."""
        ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
        d = _driver(self.client)
        ticket = d.started(_aio_get_start(_handle(self.sync).value, ms))
        cmp, cancelled = await d.run(ticket)
        got = _aio_take(cmp)
        if type(got) is bytes:
            return decode(got)  # an item that came is returned, even when cancelled late
        if got is None:
            raise_for(n.PROTOCOL_ERROR)
        if cancelled is not None:
            raise cancelled
        if got in _EMPTY_STATUSES:
            raise _stdqueue.Empty
        raise_for(got)

    async def join(self, timeout: Optional[float] = None) -> None:
        """Waits until every item put in this joinable queue was marked done
        (``task_done`` or an ack), at most ``timeout`` seconds (:class:`xproc.TimeoutError`);
        cancelling it takes nothing."""
        ms = -1 if timeout is None else timeout_ms(timeout)
        cmp, cancelled = await _started(self.client, n.queue_join_start, _handle(self.sync), ms)
        try:
            status = _status(cmp)
        finally:
            n.completion_free(cmp)
        if status and cancelled is not None:
            raise cancelled
        if status:
            raise_for(status)

    async def get_leased(
        self, block: bool = True, timeout: Optional[float] = None, lease: Optional[float] = None
    ) -> Delivery:
        """:meth:`xproc.Queue.get_leased` as a coroutine: the item at the head on a lease,
        as a :class:`xproc.Delivery` (settle it with its ``ack()`` / ``nack()``, quick
        blocking calls). Cancelling it takes nothing: if the broker had already handed the
        item over, it is given back (``queue.unlease``: to the head of the queue, the attempt
        not counted) and ``CancelledError`` is raised."""
        ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
        lease_ms = 0 if lease is None else max(1, timeout_ms(lease))
        h = _handle(self.sync)
        cmp, cancelled = await _started(self.client, n.queue_get_leased_start, h, ms, lease_ms)
        try:
            status = _status(cmp)
            if status:
                if cancelled is not None:
                    raise cancelled
                if status in _EMPTY_STATUSES:
                    raise _stdqueue.Empty
                raise_for(status)
            delivery = _uint(cmp, b"delivery") or 0
            attempt = _uint(cmp, b"attempt") or 0
            if cancelled is not None:
                n.queue_unlease(h, delivery)  # never seen by the caller: back, uncounted
                raise cancelled
            try:
                value = _value(cmp)
            except Exception:
                n.queue_nack(h, delivery, 0)  # nobody here can use it (as the sync call)
                raise
            return Delivery(self.sync, value, delivery, attempt)
        finally:
            n.completion_free(cmp)

    async def put(self, obj: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        """Puts ``obj`` at the tail, waiting for room like :meth:`xproc.Queue.put`
        (``queue.Full`` when there is none in time)."""
        try:
            data = _local.packer.pack(obj)
        except Exception:
            data = encode(obj)
        ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
        d = _driver(self.client)
        ticket = d.started(_aio_put_start(_handle(self.sync).value, data, ms))
        cmp, cancelled = await d.run(ticket)
        status = _aio_take(cmp)
        if type(status) is int:
            if status in (n.FULL, n.TIMEOUT):
                if cancelled is not None:
                    raise cancelled
                raise _stdqueue.Full
            raise_for(status)
        # A put that went in is not undone by a late cancellation.


class _Acquirable:
    """``acquire`` as a coroutine, ``release`` as is, ``async with``."""

    _start: Any = None

    def __init__(self, obj: Any) -> None:
        self.sync = obj
        self.name = obj.name
        self.client = obj.client

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.sync, attr)

    async def acquire(self, block: bool = True, timeout: Optional[float] = None) -> bool:
        """Acquires, waiting as long as it takes (``timeout=None``), at most ``timeout``
        seconds, or not at all (``block=False``); True if acquired. A cancelled acquire leaves
        the lock (or permit) to others."""
        ms = (-1 if timeout is None else timeout_ms(timeout)) if block else 0
        cmp, cancelled = await _started(self.client, type(self)._start, _handle(self.sync), ms)
        try:
            status = _status(cmp)
            if status:
                raise_for(status)
            acquired = _bool(cmp, b"acquired")
            abandoned = _uint(cmp, b"abandoned_by")
        finally:
            n.completion_free(cmp)
        if acquired:
            self._abandoned(abandoned)
        if cancelled is not None:
            if acquired:
                self.sync.release()  # the caller gave up: it must not hold it
            raise cancelled
        return acquired

    def _abandoned(self, pid: Optional[int]) -> None:
        self.sync.abandoned = pid is not None
        self.sync.abandoned_by = pid

    def release(self, *args: Any) -> None:
        self.sync.release(*args)

    async def __aenter__(self) -> "_Acquirable":
        await self.acquire()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.release()


class Lock(_Acquirable):
    """An awaitable view of a :class:`xproc.Lock` or ``RLock``."""

    _start = n.lock_acquire_start

    def __repr__(self) -> str:
        return f"<xproc.aio.Lock {self.name!r}>"


class Semaphore(_Acquirable):
    """An awaitable view of a :class:`xproc.Semaphore` or ``BoundedSemaphore``."""

    _start = n.semaphore_acquire_start

    def _abandoned(self, pid: Optional[int]) -> None:
        pass

    def __repr__(self) -> str:
        return f"<xproc.aio.Semaphore {self.name!r}>"


class Event:
    """An awaitable view of a :class:`xproc.Event`: ``await ev.wait(timeout)``."""

    def __init__(self, event: _SyncEvent) -> None:
        self.sync = event
        self.name = event.name
        self.client = event.client

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.sync, attr)

    async def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until the event is set (True) or ``timeout`` seconds pass (False)."""
        cmp, cancelled = await _started(
            self.client, n.event_wait_start, _handle(self.sync), timeout_ms(timeout)
        )
        try:
            status = _status(cmp)
            if status:
                raise_for(status)
            is_set = _bool(cmp, b"set")
        finally:
            n.completion_free(cmp)
        if cancelled is not None:
            raise cancelled
        return is_set


_T = TypeVar("_T")


class Condition(_Acquirable):
    """An awaitable view of a :class:`xproc.Condition`, as ``asyncio.Condition`` across
    processes: ``async with cond:``, ``await cond.wait()``, ``await cond.wait_for(pred)``;
    ``notify`` and ``notify_all`` are the condition's own (they never wait)."""

    _start = n.condition_acquire_start

    def __repr__(self) -> str:
        return f"<xproc.aio.Condition {self.name!r}>"

    async def wait(self, timeout: Optional[float] = None) -> bool:
        """Releases the lock, waits for a notify (at most ``timeout`` seconds; ``None``: as
        long as it takes), reacquires the lock and returns whether a notify came. If the task
        is cancelled, the wait for a notify is given up, the lock is still reacquired (as
        ``asyncio.Condition.wait`` does) and then ``CancelledError`` is raised."""
        ms = -1 if timeout is None else timeout_ms(timeout)
        cmp, cancelled = await _started(self.client, n.condition_wait_start, _handle(self.sync), ms)
        try:
            status = _status(cmp)
            if status:
                raise_for(status)
            notified = _bool(cmp, b"notified")
            abandoned = _uint(cmp, b"abandoned_by")
        finally:
            n.completion_free(cmp)
        if abandoned is not None:
            self._abandoned(abandoned)
        if cancelled is not None:
            raise cancelled
        return notified

    async def wait_for(self, predicate: Callable[[], _T], timeout: Optional[float] = None) -> _T:
        """Waits until ``predicate()`` is true, calling it first and after each notify, for at
        most ``timeout`` seconds in all; returns its last result. Call it with the lock
        held."""
        end = None if timeout is None else time.monotonic() + timeout
        result = predicate()
        while not result:
            wait = None
            if end is not None:
                wait = end - time.monotonic()
                if wait <= 0:
                    break
            await self.wait(wait)
            result = predicate()
        return result


class Barrier:
    """An awaitable view of a :class:`xproc.Barrier`: ``await barrier.wait()``."""

    def __init__(self, barrier: _SyncBarrier) -> None:
        self.sync = barrier
        self.name = barrier.name
        self.client = barrier.client

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.sync, attr)

    def __repr__(self) -> str:
        return f"<xproc.aio.Barrier {self.name!r}>"

    async def wait(self, timeout: Optional[float] = None) -> int:
        """Waits until every party waits, at most ``timeout`` seconds (default: the barrier's
        ``timeout``); returns this party's index (``threading.BrokenBarrierError`` when it
        breaks). Cancelling the task while it waits breaks the barrier for every party, as a
        timeout does (a party that gave up would leave the others waiting forever); if the
        barrier had passed already, the index is returned."""
        if timeout is None:
            timeout = self.sync.timeout
        ms = -1 if timeout is None else timeout_ms(timeout)
        cmp, cancelled = await _started(self.client, n.barrier_wait_start, _handle(self.sync), ms)
        try:
            status = _status(cmp)
            if status == n.BROKEN_BARRIER:
                if cancelled is not None:
                    raise cancelled
                raise threading.BrokenBarrierError
            if status:
                raise_for(status)
            index = _uint(cmp, b"index") or 0
        finally:
            n.completion_free(cmp)
        action = self.sync.action
        if action is not None and index == self.sync._n - 1:
            try:
                action()
            except BaseException:
                self.sync.abort()
                raise
        return index


class Connection:
    """An awaitable view of a pipe end (:class:`xproc.Connection`): ``await end.send(x)``,
    ``await end.recv()``, ``await end.poll(timeout)``; ``close`` and the rest are the end's
    own."""

    def __init__(self, conn: _SyncConnection) -> None:
        self.sync = conn
        self.name = conn.name
        self.end = conn.end
        self.client = conn.client

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.sync, attr)

    def __repr__(self) -> str:
        return f"<xproc.aio.Connection {self.name!r} end {self.end}>"

    async def send(self, obj: Any, timeout: Optional[float] = None) -> None:
        """Sends ``obj``, waiting for room (at most ``timeout`` seconds:
        :class:`xproc.TimeoutError`); ``BrokenPipeError`` when the other end is closed. A
        message the broker took before a cancellation reached it stays sent."""
        if not self.sync.writable:
            raise OSError("connection is read-only")
        try:
            data = _local.packer.pack(obj)
        except Exception:
            data = encode(obj)
        ms = -1 if timeout is None else timeout_ms(timeout)
        cmp, cancelled = await _started(
            self.client, n.pipe_send_start_raw, _handle(self.sync), data, len(data), ms
        )
        try:
            status = _status(cmp)
        finally:
            n.completion_free(cmp)
        if status and cancelled is not None:
            raise cancelled
        if status:
            self.sync._failed(status, "send")

    async def recv(self, timeout: Optional[float] = None) -> Any:
        """Returns the next message, waiting for one (at most ``timeout`` seconds:
        :class:`xproc.TimeoutError`); ``EOFError`` once the other end is closed and nothing
        is left. Cancelling it takes nothing: if the broker had already handed a message
        over, it is returned instead of raising ``CancelledError`` (as :meth:`Queue.get`
        does; this end has no other receiver to give it to)."""
        if not self.sync.readable:
            raise OSError("connection is write-only")
        ms = -1 if timeout is None else timeout_ms(timeout)
        cmp, cancelled = await _started(self.client, n.pipe_recv_start, _handle(self.sync), ms)
        try:
            status = _status(cmp)
            if status:
                if cancelled is not None:
                    raise cancelled
                self.sync._failed(status, "recv")
            return _value(cmp)  # a message that came is returned, even when cancelled late
        finally:
            n.completion_free(cmp)

    async def poll(self, timeout: Optional[float] = 0.0) -> bool:
        """Whether a message waits (or ``recv`` would raise ``EOFError``), waiting up to
        ``timeout`` seconds for one (``None``: as long as it takes). Takes nothing."""
        if not self.sync.readable:
            raise OSError("connection is write-only")
        cmp, cancelled = await _started(
            self.client, n.pipe_poll_start, _handle(self.sync), timeout_ms(timeout)
        )
        try:
            status = _status(cmp)
            if status:
                raise_for(status)
            ready = _bool(cmp, b"ready")
        finally:
            n.completion_free(cmp)
        if cancelled is not None:
            raise cancelled
        return ready


_WRAPPERS = (
    (_SyncQueue, Queue),
    (_SyncLock, Lock),
    (_SyncSemaphore, Semaphore),
    (_SyncEvent, Event),
    (_SyncCondition, Condition),
    (_SyncBarrier, Barrier),
    (_SyncConnection, Connection),
)


def wrap(obj: Any) -> Any:
    """The awaitable view of a blocking object (a Queue, Lock, RLock, Semaphore, Event,
    Condition, Barrier or pipe end); any other object is returned as is."""
    for sync, view in _WRAPPERS:
        if isinstance(obj, sync):
            return view(obj)
    return obj


def _sync(obj: Any) -> Any:
    return getattr(obj, "sync", obj)


async def wait(object_list: Sequence[Any], timeout: Optional[float] = None) -> List[Any]:
    """:func:`xproc.wait` as a coroutine: the objects of ``object_list`` that are ready, in
    the order given, ``[]`` after ``timeout`` seconds. Ready is a hint, not a reservation.
    Cancelling it gives the request up at the broker."""
    objs = list(object_list)
    if not objs:
        return []
    syncs = [_sync(o) for o in objs]
    kinds = [_kind(o) for o in syncs]
    first_at: Dict[Any, int] = {}
    unique: List[int] = []
    for i, o in enumerate(syncs):
        k = _key(o)
        if k not in first_at:
            first_at[k] = len(unique)
            unique.append(i)
    pipes = [o for o in syncs if isinstance(o, _SyncConnection)]
    client = (pipes[0] if pipes else syncs[0]).client
    arr = (n.WaitObject * len(unique))()
    handles = []
    for j, i in enumerate(unique):
        h = _handle(syncs[i])
        handles.append(h)
        arr[j].kind = kinds[i]
        arr[j].object = h.value
    cmp, cancelled = await _started(
        client, n.wait_start, client._handle(), arr, len(unique), timeout_ms(timeout)
    )
    try:
        status = _status(cmp)
        if status:
            raise_for(status)
        ready = (c_uint8 * len(unique))()
        status = n.completion_indices(cmp, ready, len(unique), None)
        if status:
            raise_for(status)
    finally:
        n.completion_free(cmp)
    if cancelled is not None:
        raise cancelled
    return [o for o, s in zip(objs, syncs) if ready[first_at[_key(s)]]]


async def get_any(
    queues: Sequence[Any], block: bool = True, timeout: Optional[float] = None
) -> Tuple[Any, Any]:
    """:func:`xproc.get_any` as a coroutine: ``(queue, item)`` from the first of ``queues``
    with an item (the queue as given), ``queue.Empty`` when nothing came in time. Cancelling
    it takes nothing (an item already on its way is returned, as for :meth:`Queue.get`)."""
    qs = list(queues)
    if not qs:
        raise ValueError("get_any needs at least one queue")
    syncs = [_sync(q) for q in qs]
    for q in syncs:
        if not isinstance(q, _SyncQueue):
            raise TypeError(f"get_any takes Queue objects, not {type(q).__name__}")
    if len({q.name for q in syncs}) != len(syncs):
        raise ValueError("get_any: a queue is listed twice; list each queue once")
    handles = [_handle(q) for q in syncs]
    arr = (c_void_p * len(qs))(*[h.value for h in handles])
    ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
    client = syncs[0].client
    cmp, cancelled = await _started(
        client, n.queue_get_any_start, client._handle(), arr, len(qs), ms
    )
    try:
        status = _status(cmp)
        if status:
            if cancelled is not None:
                raise cancelled
            if status in _EMPTY_STATUSES:
                raise _stdqueue.Empty
            raise_for(status)
        index = _uint(cmp, b"index") or 0
        return qs[index], _value(cmp)
    finally:
        n.completion_free(cmp)


class Client:
    """An :class:`xproc.Client` whose factories return awaitable views: ``c.Queue(name)``,
    ``c.Lock(name)``, ... Everything else is the wrapped client's (``c.sync``)."""

    def __init__(self, client: _SyncClient) -> None:
        self.sync = client

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.sync, attr)

    def Queue(self, *args: Any, **kw: Any) -> Queue:
        return Queue(self.sync.Queue(*args, **kw))

    def JoinableQueue(self, *args: Any, **kw: Any) -> Queue:
        return Queue(self.sync.JoinableQueue(*args, **kw))

    def Lock(self, *args: Any, **kw: Any) -> Lock:
        return Lock(self.sync.Lock(*args, **kw))

    def RLock(self, *args: Any, **kw: Any) -> Lock:
        return Lock(self.sync.RLock(*args, **kw))

    def Semaphore(self, *args: Any, **kw: Any) -> Semaphore:
        return Semaphore(self.sync.Semaphore(*args, **kw))

    def BoundedSemaphore(self, *args: Any, **kw: Any) -> Semaphore:
        return Semaphore(self.sync.BoundedSemaphore(*args, **kw))

    def Event(self, *args: Any, **kw: Any) -> Event:
        return Event(self.sync.Event(*args, **kw))

    def Condition(self, *args: Any, **kw: Any) -> Condition:
        return Condition(self.sync.Condition(*args, **kw))

    def Barrier(self, *args: Any, **kw: Any) -> Barrier:
        return Barrier(self.sync.Barrier(*args, **kw))

    def Pipe(self, *args: Any, **kw: Any) -> Any:
        """:meth:`xproc.Client.Pipe` with awaitable ends: one :class:`Connection` with
        ``end=``, else a pair."""
        got = self.sync.Pipe(*args, **kw)
        if isinstance(got, tuple):
            return tuple(Connection(c) for c in got)
        return Connection(got)

    def close(self) -> None:
        d = getattr(self.sync, "_aio_driver", None)
        if d is not None:
            d.close()
        self.sync.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


def connect(*args: Any, **kw: Any) -> Client:
    """:func:`xproc.connect`, wrapped in an :class:`xproc.aio.Client`. Connecting itself does
    not wait on the loop (it is one quick round trip)."""
    return Client(_connect(*args, **kw))
