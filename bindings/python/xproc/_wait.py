"""Waiting on many objects with one request (docs/PROTOCOL.md §6.9): :func:`wait`, with the
contract of :func:`multiprocessing.connection.wait`, and :func:`get_any`, which takes one item
from the first of several queues to have one.
"""

from __future__ import annotations

import queue as _stdqueue
from ctypes import c_size_t, c_uint8, c_void_p
from typing import Any, List, Optional, Sequence, Tuple

from . import _native as n
from ._errors import INTERRUPTED, raise_for, resume
from ._pipe import Connection
from ._queue import Queue
from ._sync import Event, Lock, Semaphore
from ._values import decode, queue_timeout_ms, timeout_ms

_EMPTY_STATUSES = (n.EMPTY, n.TIMEOUT)


def _handle(obj: Any) -> Any:
    h = obj._h
    return h if h is not None else obj._revive()


def _kind(obj: Any) -> int:
    # Condition is an _Ownable like Lock but not a Lock subclass; RLock is a Lock.
    if isinstance(obj, Queue):
        return n.WAIT_QUEUE
    if isinstance(obj, Connection):
        return n.WAIT_PIPE
    if isinstance(obj, Event):
        return n.WAIT_EVENT
    if isinstance(obj, Lock):
        return n.WAIT_LOCK
    if isinstance(obj, Semaphore):
        return n.WAIT_SEMAPHORE
    raise TypeError(
        "xproc.wait watches Queue, JoinableQueue, Connection (pipe ends), Event, Lock, RLock, "
        f"Semaphore and BoundedSemaphore objects, not {type(obj).__name__}"
    )


def _key(obj: Any) -> Tuple[str, str]:
    return (obj.name, getattr(obj, "end", "") if isinstance(obj, Connection) else "")


def wait(object_list: Sequence[Any], timeout: Optional[float] = None) -> List[Any]:
    """Waits until at least one object in ``object_list`` is ready and returns the list of
    those that are, in the order given — :func:`multiprocessing.connection.wait`'s contract,
    with one request to the broker however many objects are listed.

    Ready means: a queue holds an item, a pipe end (:class:`Connection`) has a message or is at
    end of file (``recv`` would raise ``EOFError``), an event is set, a lock is free, a
    semaphore is above 0. ``timeout``: ``None`` waits as long as it takes; a number waits at
    most that many seconds and returns ``[]`` if nothing became ready (0 or less only looks).

    Nothing is taken or reserved: another process may take the item or the lock first, so
    follow it with ``get(block=False)`` or ``acquire(timeout=...)``. An object listed twice is
    returned twice. Pipe ends must have been opened on the client of the first pipe end
    listed (``NotOwnerError`` otherwise); the request goes through that client (else the first
    object's). An empty list returns ``[]`` at once.
    """
    objs = list(object_list)
    if not objs:
        return []
    kinds = [_kind(o) for o in objs]
    # The broker wants each object once; duplicates share its answer.
    first_at: dict = {}
    unique: List[int] = []
    for i, o in enumerate(objs):
        k = _key(o)
        if k not in first_at:
            first_at[k] = len(unique)
            unique.append(i)
    pipes = [o for o in objs if isinstance(o, Connection)]
    client = (pipes[0] if pipes else objs[0]).client
    arr = (n.WaitObject * len(unique))()
    handles = []
    for j, i in enumerate(unique):
        h = _handle(objs[i])
        handles.append(h)  # keeps each handle alive for the call
        arr[j].kind = kinds[i]
        arr[j].object = h.value
    ready = (c_uint8 * len(unique))()
    count = c_size_t(0)
    ms = timeout_ms(timeout)
    ch = client._handle()
    status = n.wait(ch, arr, len(unique), ms, ready, count)
    if status == INTERRUPTED:
        status = resume(n.wait, [ch, arr, len(unique), ms, ready, count], 3)
    if status:
        raise_for(status)
    return [o for o in objs if ready[first_at[_key(o)]]]


def get_any(
    queues: Sequence[Queue], block: bool = True, timeout: Optional[float] = None
) -> Tuple[Queue, Any]:
    """Removes and returns ``(queue, item)``: the item at the head of the first of ``queues``
    that has one (an xproc extension, like Redis' ``BLPOP`` on many keys). If none has, waits
    — as long as it takes (``timeout=None``), at most ``timeout`` seconds, or not at all
    (``block=False``) — for the first item put to any of them, in each queue's line with its
    other getters; exactly one item is taken. Raises ``queue.Empty`` when nothing came in
    time, ``NotFoundError`` if one of the queues is deleted meanwhile, ``ValueError`` for an
    empty list or a queue listed twice. The request goes through the first queue's client.
    """
    qs = list(queues)
    if not qs:
        raise ValueError("get_any needs at least one queue")
    for q in qs:
        if not isinstance(q, Queue):
            raise TypeError(f"get_any takes Queue objects, not {type(q).__name__}")
    if len({q.name for q in qs}) != len(qs):
        raise ValueError("get_any: a queue is listed twice; list each queue once")
    handles = [_handle(q) for q in qs]
    arr = (c_void_p * len(qs))(*[h.value for h in handles])
    index, ptr, size = c_size_t(0), c_void_p(), c_size_t(0)
    ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
    ch = qs[0].client._handle()
    args = [ch, arr, len(qs), ms, index, ptr, size]
    status = n.queue_get_any_raw(*args)
    if status == INTERRUPTED:
        status = resume(n.queue_get_any_raw, args, 3)
    if status:
        if status in _EMPTY_STATUSES:
            raise _stdqueue.Empty
        raise_for(status)
    data = n.take_bytes(ptr, size)
    return qs[index.value], decode(data)
