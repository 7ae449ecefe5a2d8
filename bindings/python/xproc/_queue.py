"""``Queue`` and ``JoinableQueue``: ``multiprocessing.Queue``'s interface over a named queue in
the broker.

The per-call path is deliberately flat (one encode, one ctypes call, one status test): this is
the code the benchmarks measure.
"""

from __future__ import annotations

import queue as _stdqueue
from ctypes import c_size_t, c_uint32, c_uint64, c_void_p
from typing import Any, Iterable, Iterator, Optional

from . import _native as n
from ._base import BrokerObject
from ._errors import (
    INTERRUPTED,
    IntegerRangeError,
    TimeoutError,
    blocking,
    raise_for,
    resume,
)
from ._values import _local, decode, encode, queue_timeout_ms, timeout_ms, unpack

_put_item = n.queue_put_item
_get_item = n.queue_get_item
_put_buffered_item = n.queue_put_async_item
_get_many_items = n.queue_get_many_items
_unpack = unpack
_Empty = _stdqueue.Empty
_Full = _stdqueue.Full

_FULL_STATUSES = (n.FULL, n.TIMEOUT)
_EMPTY_STATUSES = (n.EMPTY, n.TIMEOUT)


def _maxsize_arg(maxsize: Optional[int]) -> int:
    if maxsize is None:
        return -1
    if not isinstance(maxsize, int) or isinstance(maxsize, bool):
        raise TypeError(f"maxsize must be an int, not {type(maxsize).__name__}")
    if maxsize < 0:
        # queue.Queue treats a negative maxsize as unbounded.
        return 0
    if maxsize >= 2**63:
        raise IntegerRangeError(f"maxsize {maxsize} is too large")
    return maxsize


def _max_attempts_arg(max_attempts: Optional[int]) -> int:
    if max_attempts is None:
        return -1
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool):
        raise TypeError(f"max_attempts must be an int, not {type(max_attempts).__name__}")
    if max_attempts < 0:
        raise ValueError(f"max_attempts must be 0 (never dead-letter) or more, not {max_attempts}")
    if max_attempts >= 2**63:
        raise IntegerRangeError(f"max_attempts {max_attempts} is too large")
    return max_attempts


class Queue(BrokerObject):
    """A FIFO queue shared through the broker, with ``multiprocessing.Queue``'s methods.

    Differences on purpose: :meth:`qsize` is exact (and works on every platform);
    :meth:`close` only closes this handle (other handles and processes keep using the
    queue); there is no feeder thread, so ``put`` has reached the broker when it returns and
    ``join_thread``/``cancel_join_thread`` do nothing. Tuples come back as lists.
    """

    kind = "queue"
    _open_fn = n.queue_open_with

    def __init__(
        self,
        client: Any,
        name: str,
        maxsize: Optional[int] = None,
        max_attempts: Optional[int] = None,
    ) -> None:
        self._maxsize_arg = _maxsize_arg(maxsize)
        self._max_attempts_arg = _max_attempts_arg(max_attempts)
        super().__init__(client, name, (maxsize, max_attempts))

    def _open(self, client_handle: Any) -> Any:
        return self._call_open(
            type(self)._open_fn,
            n.QueueHandle,
            client_handle,
            self._maxsize_arg,
            self._max_attempts_arg,
        )

    def put(self, obj: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        """Puts ``obj`` at the tail, waiting for room if the queue is full: as long as it
        takes (``timeout=None``), at most ``timeout`` seconds, or not at all
        (``block=False``). Raises ``queue.Full`` when there is no room in time."""
        h = self._h
        if h is None:
            h = self._revive()
        try:
            data = _local.packer.pack(obj)
        except Exception:
            data = encode(obj)  # first use here, or the error to raise
        ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
        status = _put_item(h.value, data, ms)
        if status == INTERRUPTED:
            status = resume(_put_item, [h.value, data, ms], 2)
        if status:
            if status in _FULL_STATUSES:
                raise _Full
            raise_for(status)

    def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        """Removes and returns the item at the head, waiting for one if the queue is empty:
        as long as it takes (``timeout=None``), at most ``timeout`` seconds, or not at all
        (``block=False``). Raises ``queue.Empty`` when nothing came in time."""
        h = self._h
        if h is None:
            h = self._revive()
        ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
        data = _get_item(h.value, ms)
        if data.__class__ is int:  # a status: nothing was taken
            if data == INTERRUPTED:
                data = resume(_get_item, [h.value, ms], 1)
            if data.__class__ is int:
                if data in _EMPTY_STATUSES:
                    raise _Empty
                raise_for(data)
        try:
            return _unpack(data)
        except Exception:
            return decode(data)  # the slow path, or the error to raise

    def get_leased(
        self, block: bool = True, timeout: Optional[float] = None, lease: Optional[float] = None
    ) -> "Delivery":
        """Takes the item at the head on a *lease* (acknowledged delivery, an xproc
        extension): waits like :meth:`get` (``queue.Empty`` when nothing came in time) and
        returns a :class:`Delivery` holding the value.

        The item stays in the broker, in flight, until the delivery is settled: ``ack()`` (done:
        it leaves the queue) or ``nack(delay=0)`` (it goes back to the head). If ``lease``
        seconds pass first (default: the broker's, 30 s), or this connection closes — the
        process exits or is killed — it goes back to the head for another consumer. After the
        queue's ``max_attempts`` deliveries (5 by default) an item goes to the queue
        ``NAME.dead`` instead. Use it as a context manager to ack on success and nack on an
        exception.
        """
        h = self._h
        if h is None:
            h = self._revive()
        ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
        lease_ms = 0 if lease is None else max(1, timeout_ms(lease))
        ptr = c_void_p()
        size = c_size_t()
        delivery = c_uint64()
        attempt = c_uint32()
        status = blocking(n.queue_get_leased_raw, h, ms, lease_ms, ptr, size, delivery, attempt)
        if status:
            if status in _EMPTY_STATUSES:
                raise _Empty
            raise_for(status)
        data = n.take_bytes(ptr, size)
        try:
            value = decode(data)
        except Exception:
            # Not held for the whole lease when nobody here can use it.
            n.queue_nack(h, delivery.value, 0)
            raise
        return Delivery(self, value, delivery.value, attempt.value)

    def _settle(self, delivery: int, nack_delay_ms: Optional[int]) -> None:
        h = self._h
        if h is None:
            h = self._revive()
        if nack_delay_ms is None:
            status = n.queue_ack(h, delivery)
        else:
            status = n.queue_nack(h, delivery, nack_delay_ms)
        if status:
            raise_for(status)

    def put_buffered(self, obj: Any) -> None:
        """Hands ``obj`` over without waiting for the broker (an xproc extension for
        streaming): items go out in batches, with at most a few batches in flight, so a fast
        producer runs at the speed of the socket. When the window is full this waits for the
        broker, and each item waits there for room, so a bounded queue never holds more than
        ``maxsize``. Order is kept.

        Items gathered at the end of a burst are sent by the next call on this handle, by
        :meth:`flush` or by :meth:`close`. An item the broker refused (the queue was deleted,
        the memory budget is spent) is reported once, by the next ``put_buffered`` (which then
        does not take its ``obj``) or by :meth:`flush`; the message names the position
        (0-based, over every ``put_buffered`` of this handle) of the first item not put.
        """
        h = self._h
        if h is None:
            h = self._revive()
        try:
            data = _local.packer.pack(obj)
        except Exception:
            data = encode(obj)
        status = _put_buffered_item(h.value, data)
        if status:
            raise_for(status)

    def flush(self) -> None:
        """Waits until every item handed to :meth:`put_buffered` has been accepted by the
        broker; raises the first refusal not yet reported."""
        h = self._h
        if h is None:
            h = self._revive()
        failed_at = c_uint64()
        status = n.queue_flush(h, failed_at)
        if status:
            raise_for(status)

    def get_many(
        self, max_items: int = 64, block: bool = True, timeout: Optional[float] = None
    ) -> list:
        """Removes and returns up to ``max_items`` items from the head in one round trip (an
        xproc extension), waiting like :meth:`get` for the first one (``queue.Empty`` when
        nothing came in time); it returns what is there without waiting for more.

        The items are gone from the queue once the broker sent them: a process killed before
        it used them loses them. Use :meth:`get_many_leased` when that is not acceptable."""
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, not {max_items}")
        h = self._h
        if h is None:
            h = self._revive()
        ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
        got = _get_many_items(h.value, max_items, ms)
        if got.__class__ is int:
            if got == INTERRUPTED:
                got = resume(_get_many_items, [h.value, max_items, ms], 2)
            if got.__class__ is int:
                if got in _EMPTY_STATUSES:
                    raise _Empty
                raise_for(got)
        try:
            return [_unpack(d) for d in got]
        except Exception:
            return [decode(d) for d in got]

    def get_many_leased(
        self,
        max_items: int = 64,
        block: bool = True,
        timeout: Optional[float] = None,
        lease: Optional[float] = None,
    ) -> list:
        """Like :meth:`get_many`, each item on its own lease (see :meth:`get_leased`):
        returns a list of :class:`Delivery`. Settle them with :meth:`ack_many` (one request)
        or one by one; those not acked when their lease runs out or this process dies go back
        to the queue, so nothing is lost."""
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, not {max_items}")
        h = self._h
        if h is None:
            h = self._revive()
        ms = -1 if block and timeout is None else queue_timeout_ms(block, timeout)
        lease_ms = 0 if lease is None else max(1, timeout_ms(lease))
        b = c_void_p()
        status = n.queue_get_many_leased(h, max_items, ms, lease_ms, b)
        if status == INTERRUPTED:
            status = resume(n.queue_get_many_leased, [h, max_items, ms, lease_ms, b], 2)
        if status:
            if status in _EMPTY_STATUSES:
                raise _Empty
            raise_for(status)
        try:
            values = n.batch_values(b)
            delivery = c_uint64()
            attempt = c_uint32()
            out = []
            for i, data in enumerate(values):
                n.batch_delivery(b, i, delivery, attempt)
                try:
                    value = decode(data)
                except Exception:
                    n.queue_nack(h, delivery.value, 0)
                    continue
                out.append(Delivery(self, value, delivery.value, attempt.value))
            return out
        finally:
            n.batch_free(b)

    def ack_many(self, deliveries: Iterable["Delivery"]) -> int:
        """Acks every delivery in one request; returns how many were acked (the others were
        no longer held by this connection and changed nothing)."""
        ds = list(deliveries)
        if not ds:
            return 0
        h = self._h
        if h is None:
            h = self._revive()
        ids = (c_uint64 * len(ds))(*(d.id for d in ds))
        for d in ds:
            d._settled = True
        acked = c_size_t()
        status = n.queue_ack_many(h, ids, len(ds), acked)
        if status:
            raise_for(status)
        return int(acked.value)

    def iter(self, batch: int = 64, timeout: Optional[float] = None) -> Iterator[Any]:
        """The queue's items as they come, fetched up to ``batch`` at a time with
        :meth:`get_many`: ``for item in q.iter(batch=256): ...``. Waits for items as long as
        it takes, or (``timeout``) ends once none came for that many seconds. Items fetched
        and not yet yielded when the loop stops are lost with the iterator, as with
        :meth:`get_many`."""
        while True:
            try:
                items = self.get_many(batch, True, timeout)
            except _Empty:
                return
            yield from items

    def close(self) -> None:
        """Flushes what :meth:`put_buffered` handed over, then releases this handle (the
        queue stays in the broker; see ``Client.delete``). Raises the first refusal not yet
        reported, after closing."""
        h = self._h
        status = 0
        if h is not None and not self.closed:
            status = n.queue_flush(h, None)
        super().close()
        if status:
            raise_for(status)

    def put_nowait(self, obj: Any) -> None:
        """``put(obj, block=False)``: raises ``queue.Full`` at once if there is no room."""
        self.put(obj, False)

    def get_nowait(self) -> Any:
        """``get(block=False)``: raises ``queue.Empty`` at once if the queue is empty."""
        return self.get(False)

    def put_many(self, items: Iterable[Any]) -> int:
        """Puts every item of ``items`` in order, pipelined in one call (far faster than one
        ``put`` each), waiting for room as long as it takes. Returns how many were put.

        An xproc extension. On a failure the exception is raised; items before it were put
        (and possibly some after it, already on their way).
        """
        h = self._h
        if h is None:
            h = self._revive()
        blobs = [encode(obj) for obj in items]
        if not blobs:
            return 0
        ptrs, lens = n.byte_array(blobs)
        done = c_size_t()
        status = n.queue_put_many_raw(h, ptrs, lens, len(blobs), done)
        if status:
            raise_for(status)
        return done.value

    def _size(self) -> Any:
        h = self._h
        if h is None:
            h = self._revive()
        out = n.QueueSize()
        status = n.queue_size(h, out)
        if status:
            raise_for(status)
        return out

    def qsize(self) -> int:
        """The number of items in the queue now. Exact (``multiprocessing`` only
        approximates it, and not on every platform)."""
        return int(self._size().len)

    def empty(self) -> bool:
        """Whether the queue is empty now."""
        return bool(self._size().len == 0)

    def full(self) -> bool:
        """Whether the queue is full now (never, for an unbounded queue)."""
        size = self._size()
        return bool(size.maxsize and size.len >= size.maxsize)

    @property
    def maxsize(self) -> int:
        """The queue's bound; 0 means unbounded."""
        return int(self._size().maxsize)

    def join_thread(self) -> None:
        """Does nothing: xproc has no feeder thread (``put`` has reached the broker when it
        returns). Kept for ``multiprocessing.Queue`` compatibility."""

    def cancel_join_thread(self) -> None:
        """Does nothing (see :meth:`join_thread`)."""


class Delivery:
    """An item taken with :meth:`Queue.get_leased`: its ``value``, its delivery ``id`` and
    its ``attempt`` (1 the first time it is handed out, 2 after it came back once, ...).

    Settle it once, from the connection that took it: :meth:`ack` or :meth:`nack`. As a
    context manager it acks when the block ends normally and nacks when it raises (unless
    settled inside already)::

        with tasks.get_leased(timeout=5) as d:
            process(d.value)
    """

    __slots__ = ("queue", "value", "id", "attempt", "_settled")

    def __init__(self, queue: Queue, value: Any, delivery: int, attempt: int) -> None:
        #: The queue the item came from.
        self.queue = queue
        #: The item.
        self.value = value
        #: The delivery id the broker gave this lease (unique for the broker's lifetime).
        self.id = delivery
        #: Which delivery of this item this is: 1 the first time.
        self.attempt = attempt
        self._settled = False

    @property
    def settled(self) -> bool:
        """Whether :meth:`ack` or :meth:`nack` was called."""
        return self._settled

    def ack(self) -> None:
        """The item is done: it leaves the queue (on a joinable queue this counts as
        ``task_done``; do not call both). Raises :class:`~xproc.UnknownDeliveryError` if this
        connection no longer holds it (settled already, or its lease ran out)."""
        self._settled = True
        self.queue._settle(self.id, None)

    def nack(self, delay: float = 0) -> None:
        """Gives the item back: it returns to the head of the queue after ``delay`` seconds
        (at once by default), or goes to ``NAME.dead`` if this was its last attempt. Raises
        :class:`~xproc.UnknownDeliveryError` as :meth:`ack` does."""
        self._settled = True
        self.queue._settle(self.id, timeout_ms(delay))

    def __enter__(self) -> "Delivery":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._settled:
            return
        if exc_type is None:
            self.ack()
        else:
            self.nack()

    def __repr__(self) -> str:
        return f"<xproc.Delivery {self.id} attempt {self.attempt} of {self.queue.name!r}>"


class JoinableQueue(Queue):
    """A :class:`Queue` that also counts unfinished items, like
    ``multiprocessing.JoinableQueue``: every ``put`` adds one, every :meth:`task_done`
    removes one, and :meth:`join` waits until none is left."""

    kind = "joinable_queue"
    _open_fn = n.joinable_queue_open_with

    def task_done(self) -> None:
        """Marks one item as processed. Raises ``ValueError`` if called more times than
        items were put."""
        h = self._h
        if h is None:
            h = self._revive()
        status = n.queue_task_done(h)
        if status:
            if status == n.INVALID_ARGUMENT:
                raise ValueError("task_done() called too many times")
            raise_for(status)

    def join(self, timeout: Optional[float] = None) -> None:
        """Waits until every item put has been marked done. ``timeout`` (seconds; an xproc
        extension) bounds the wait: :class:`xproc.TimeoutError` (a builtin ``TimeoutError``)
        when it runs out."""
        h = self._h
        if h is None:
            h = self._revive()
        status = blocking(n.queue_join, h, timeout_ms(timeout))
        if status:
            if status == n.TIMEOUT:
                raise TimeoutError(f"join on queue {self.name!r} timed out", status)
            raise_for(status)

    def unfinished(self) -> int:
        """Items put and not yet marked done (an xproc extension)."""
        return int(self._size().unfinished)
