"""xproc.aio against a real broker: awaitable gets, puts, acquires and waits on one
connection's descriptor; cancellation (task.cancel, asyncio.timeout) that takes nothing."""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest

import xproc
import xproc.aio


def run(coro_fn, *args, loop_factory=None):
    if loop_factory is None:
        return asyncio.run(coro_fn(*args))
    loop = loop_factory()
    try:
        return loop.run_until_complete(coro_fn(*args))
    finally:
        loop.close()


def put_later(path, name, values, delay=0.05):
    def go():
        time.sleep(delay)
        with xproc.connect(path) as c:
            q = c.Queue(name)
            for v in values:
                q.put(v)

    t = threading.Thread(target=go)
    t.start()
    return t


def test_get_put_and_timeouts(broker, name):
    async def main():
        async with xproc.aio.connect(broker.path) as c:
            q = c.Queue(name)
            await q.put({"n": 1})
            assert q.qsize() == 1
            assert await q.get() == {"n": 1}
            with pytest.raises(queue.Empty):
                await q.get(block=False)
            t = time.monotonic()
            with pytest.raises(queue.Empty):
                await q.get(timeout=0.05)
            assert time.monotonic() - t >= 0.05
            # Woken by another connection; the loop stays free meanwhile.
            th = put_later(broker.path, name, ["late"])
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.005)
                    ticks += 1

            tk = asyncio.ensure_future(ticker())
            assert await q.get(timeout=5) == "late"
            tk.cancel()
            th.join()
            assert ticks >= 3, "the loop was blocked while get waited"

    run(main)


def test_a_hundred_coroutines_on_one_connection(broker, name):
    async def main():
        async with xproc.aio.connect(broker.path) as c:
            q = c.Queue(name)

            async def worker(i):
                got = []
                for j in range(20):
                    await q.put((i, j))
                    got.append(await q.get(timeout=5))
                return got

            results = await asyncio.gather(*(worker(i) for i in range(100)))
            items = [tuple(x) for r in results for x in r]
            assert sorted(items) == sorted((i, j) for i in range(100) for j in range(20))
            assert q.qsize() == 0

    run(main)


def test_cancelled_gets_take_nothing_while_items_arrive(broker, name):
    # Below the broker's max_blocked (1024 blocked requests per connection).
    gets, items = 1000, 500

    async def main():
        async with xproc.aio.connect(broker.path) as c:
            q = c.Queue(name)
            tasks = [asyncio.ensure_future(q.get()) for _ in range(gets)]
            await asyncio.sleep(0.05)  # every get is waiting at the broker
            th = put_later(broker.path, name, list(range(items)), delay=0)
            for i, t in enumerate(tasks):
                t.cancel()
                if i % 200 == 0:
                    await asyncio.sleep(0.001)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            th.join()
            got = [r for r in results if not isinstance(r, BaseException)]
            cancelled = [r for r in results if isinstance(r, asyncio.CancelledError)]
            assert len(got) + len(cancelled) == gets
            left = [await q.get(block=False) for _ in range(q.qsize())]
            every = got + left
            assert sorted(every) == list(range(items)), "an item was lost or duplicated"
            print(f"{len(got)} late items returned, {len(cancelled)} cancelled, {len(left)} left")

    run(main)


def test_asyncio_timeout_cancels_at_the_broker(broker, name):
    async def main():
        async with xproc.aio.connect(broker.path) as c:
            q = c.Queue(name)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await q.get()
            assert c.stat(name)["info"]["getters"] == 0
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(q.get(), 0.02)
            assert c.stat(name)["info"]["getters"] == 0
            q.sync.put(1)
            assert q.qsize() == 1, "the timed-out gets took nothing"
            assert await q.get() == 1

    run(main)


def test_locks_async_with_and_cancelled_acquire(broker, name):
    async def main():
        a = xproc.aio.connect(broker.path)
        b = xproc.aio.connect(broker.path)
        try:
            la, lb = a.Lock(name), b.Lock(name)
            async with la:
                assert not await lb.acquire(timeout=0.02)
                t = asyncio.ensure_future(lb.acquire())
                await asyncio.sleep(0.02)
                t.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await t
            # The cancelled acquire left the lock to others.
            assert la.sync.holder_pid is None
            assert await lb.acquire(timeout=1)
            lb.release()
            sem = a.Semaphore(name + "-s", 1)
            assert await sem.acquire()
            assert not await sem.acquire(block=False)
            sem.release()
            ev = a.Event(name + "-e")
            assert not await ev.wait(0.01)
            b.sync.Event(name + "-e").set()
            assert await ev.wait(1)
        finally:
            a.close()
            b.close()

    run(main)


def test_aio_wait_and_get_any(broker, name):
    async def main():
        async with xproc.aio.connect(broker.path) as c:
            q1, q2 = c.Queue(name + "-1"), c.Queue(name + "-2")
            ev = c.Event(name + "-e")
            assert await xproc.aio.wait([q1, q2, ev], timeout=0) == []
            th = put_later(broker.path, q2.name, ["x"])
            assert await xproc.aio.wait([q1, q2, ev], timeout=5) == [q2]
            th.join()
            assert await xproc.aio.get_any([q1, q2]) == (q2, "x")
            with pytest.raises(queue.Empty):
                await xproc.aio.get_any([q1, q2], timeout=0.02)
            t = asyncio.ensure_future(xproc.aio.get_any([q1, q2]))
            await asyncio.sleep(0.02)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            q1.sync.put("y")
            assert q1.qsize() == 1

    run(main)


def test_works_with_uvloop(broker, name):
    import uvloop  # run_tests.sh installs it: a missing one is a failure, not a skip

    async def main():
        async with xproc.aio.connect(broker.path) as c:
            q = c.Queue(name)
            th = put_later(broker.path, name, [1, 2])
            assert [await q.get(timeout=5), await q.get(timeout=5)] == [1, 2]
            th.join()

    run(main, loop_factory=uvloop.new_event_loop)


@pytest.mark.parametrize("flavour", ["asyncio", "uvloop"])
def test_requests_started_in_one_turn_all_leave(broker, name, flavour):
    # The driver defers the writes of the requests started in one turn of the loop and sends
    # them together from a call_soon callback; a blocking call of another thread on the same
    # client sends them too. None may stay unsent: every get here must complete.
    async def main():
        async with xproc.aio.connect(broker.path) as c:
            q = c.Queue(name)
            gets = [asyncio.ensure_future(q.get(timeout=10)) for _ in range(300)]
            await asyncio.sleep(0)  # every get has started
            t = threading.Thread(target=lambda: [q.sync.put(i) for i in range(300)])
            t.start()
            got = await asyncio.wait_for(asyncio.gather(*gets), 15)
            t.join()
            assert sorted(got) == list(range(300))
            # Puts and gets started together in later turns leave together too.
            await asyncio.wait_for(
                asyncio.gather(*(q.put(i) for i in range(300)), *(q.get() for _ in range(300))),
                15,
            )
            assert q.qsize() == 0

    if flavour == "uvloop":
        import uvloop

        run(main, loop_factory=uvloop.new_event_loop)
    else:
        run(main)
