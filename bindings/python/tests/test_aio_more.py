"""xproc.aio for pipes, conditions, barriers, joinable queues and leased gets, against a real
broker with peers on other connections; cancellation that takes nothing (a cancelled leased
get gives its delivery back uncounted, a cancelled pipe receive that got a message returns
it, a cancelled condition wait comes back holding the lock)."""

from __future__ import annotations

import asyncio
import queue
import threading

import pytest

import xproc
import xproc.aio


def run(coro_fn, *args):
    return asyncio.run(coro_fn(*args))


def in_thread(fn):
    t = threading.Thread(target=fn)
    t.start()
    return t


def test_pipe_send_recv_poll_and_cancelled_receives(broker, name):
    n = 300

    async def main():
        async with xproc.aio.connect(broker.path) as c:
            b = c.Pipe(name, end="b")
            assert not await b.poll()
            t = asyncio.ensure_future(b.recv())
            await asyncio.sleep(0.02)  # waiting at the broker
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            peer = xproc.connect(broker.path)
            a = peer.Pipe(name, end="a")
            await b.send("to a")
            assert a.recv(timeout=5) == "to a"

            def writer():
                for i in range(n):
                    a.send(i)
                a.close()

            th = in_thread(writer)
            assert await b.poll(None)
            got, cancelled, i = [], 0, 0
            while True:
                t = asyncio.ensure_future(b.recv())
                i += 1
                if i % 3 == 0:
                    await asyncio.sleep(0)  # started: give it up at once
                    t.cancel()
                try:
                    got.append(await t)
                except asyncio.CancelledError:
                    cancelled += 1
                except EOFError:
                    break
            th.join()
            # Late messages were returned by their cancelled receives: nothing lost or
            # duplicated, and a pipe end has one receiver at a time here, so order holds.
            assert got == list(range(n))
            print(f"{cancelled} receives cancelled")
            assert await b.poll(None)  # end of file is ready too
            peer.close()

    run(main)


def test_condition_wait_notify_and_a_cancelled_wait_holds_the_lock(broker, name):
    async def main():
        async with xproc.aio.connect(broker.path) as c:
            cond = c.Condition(name)
            peer = xproc.connect(broker.path)
            pc = peer.Condition(name)
            state = {"ready": False}

            def producer():
                with pc:
                    state["ready"] = True
                    pc.notify()

            async with cond:
                th = in_thread(producer)
                assert await cond.wait_for(lambda: state["ready"], timeout=30)
            th.join()
            # Cancelled while waiting: the lock is held again when CancelledError comes.
            await cond.acquire()
            t = asyncio.ensure_future(cond.wait())
            await asyncio.sleep(0.02)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            assert not pc.acquire(timeout=0.05), "the cancelled wait gave the lock away"
            cond.release()
            assert pc.acquire(timeout=5)
            pc.release()
            peer.close()

    run(main)


def test_barrier_and_a_cancelled_wait_breaks_it(broker, name):
    async def main():
        async with xproc.aio.connect(broker.path) as c:
            bar = c.Barrier(name, 2)
            peer = xproc.connect(broker.path)
            out = {}
            th = in_thread(lambda: out.setdefault("i", peer.Barrier(name, 2).wait()))
            mine = await bar.wait()
            th.join()
            assert {mine, out["i"]} == {0, 1}
            t = asyncio.ensure_future(bar.wait())
            await asyncio.sleep(0.02)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            assert bar.broken
            with pytest.raises(threading.BrokenBarrierError):
                peer.Barrier(name, 2).wait(timeout=5)
            peer.close()

    run(main)


def test_join_and_leased_gets(broker, name):
    async def main():
        async with xproc.aio.connect(broker.path) as c:
            jq = c.JoinableQueue(name + "-j")
            await jq.put(1)
            with pytest.raises(xproc.TimeoutError):
                await jq.join(timeout=0.01)
            peer = xproc.connect(broker.path)
            pq = peer.JoinableQueue(name + "-j")

            def worker():
                pq.get()
                pq.task_done()

            th = in_thread(worker)
            await jq.join()
            th.join()

            q = c.Queue(name, max_attempts=1)
            with pytest.raises(queue.Empty):
                await q.get_leased(block=False)
            await q.put("x")
            d = await q.get_leased(lease=30)
            assert (d.value, d.attempt) == ("x", 1)
            d.ack()
            peer.close()

    run(main)


def test_cancelled_leased_gets_take_nothing_while_items_arrive(broker, name):
    gets, items = 600, 300

    async def main():
        async with xproc.aio.connect(broker.path) as c:
            # max_attempts 1: an item given back by a nack would go to NAME.dead; a
            # cancelled get's unlease must not count its attempt.
            q = c.Queue(name, max_attempts=1)
            tasks = [asyncio.ensure_future(q.get_leased()) for _ in range(gets)]
            await asyncio.sleep(0.05)  # every get is waiting at the broker

            def producer():
                with xproc.connect(broker.path) as p:
                    pq = p.Queue(name)
                    for i in range(items):
                        pq.put(i)

            th = in_thread(producer)
            for i, t in enumerate(tasks):
                t.cancel()
                if i % 100 == 0:
                    await asyncio.sleep(0.001)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            th.join()
            got = []
            for r in results:
                if isinstance(r, xproc.Delivery):
                    got.append(r.value)
                    r.ack()
                else:
                    assert isinstance(r, asyncio.CancelledError), r
            left = [await q.get(block=False) for _ in range(q.qsize())]
            assert sorted(got + left) == list(range(items)), "an item was lost or duplicated"
            info = c.stat(name)["info"]
            assert info["dead_lettered"] == 0 and info["in_flight"] == 0
            print(f"{len(got)} delivered, {len(left)} left, requeued {info['requeued']}")

    run(main)
