"""Queues and joinable queues against a real broker, including the ``multiprocessing`` docs'
master/worker example with worker processes."""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading

import pytest
from support import eventually, waits_on

import xproc


def test_put_get_fifo(client, name):
    q = client.Queue(name)
    for i in range(100):
        q.put(i)
    assert q.qsize() == 100
    assert [q.get() for _ in range(100)] == list(range(100))
    assert q.empty()


def test_nowait_and_timeouts_raise_the_queue_module_exceptions(client, name):
    q = client.Queue(name, maxsize=2)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(block=False)
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    q.put_nowait("a")
    q.put("b", timeout=0.05)
    assert q.full()
    with pytest.raises(queue.Full):
        q.put_nowait("c")
    with pytest.raises(queue.Full):
        q.put("c", timeout=0.05)
    with pytest.raises(queue.Full):
        q.put("c", block=False, timeout=10)  # block=False ignores the timeout, as queue does
    assert q.qsize() == 2
    assert q.get() == "a"
    assert not q.full()
    with pytest.raises(ValueError):
        q.get(timeout=-1)


def test_blocked_get_is_served_by_a_put_from_another_connection(client, connect, name):
    q = client.Queue(name)
    got = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=30)))
    t.start()
    eventually("the get to block in the broker", lambda: waits_on(client, f"queue.get {name}"))
    connect().Queue(name).put({"n": 1})
    t.join(30)
    assert got == [{"n": 1}]


def test_blocked_put_waits_for_room(client, connect, name):
    q = client.Queue(name, maxsize=1)
    q.put(1)
    done = threading.Event()

    def put_second() -> None:
        q.put(2)
        done.set()

    t = threading.Thread(target=put_second)
    t.start()
    eventually("the put to block", lambda: waits_on(client, f"queue.put {name}"))
    assert not done.is_set()
    other = connect().Queue(name)
    assert other.get() == 1
    t.join(30)
    assert done.is_set()
    assert other.get() == 2


def test_maxsize_is_fixed_at_creation(client, name):
    q = client.Queue(name, maxsize=3)
    assert q.maxsize == 3
    assert client.Queue(name).maxsize == 3  # no maxsize given: accept the existing one
    assert client.Queue(name, maxsize=3).maxsize == 3
    with pytest.raises(xproc.OptionMismatchError, match="maxsize"):
        client.Queue(name, maxsize=4)
    assert client.Queue(name + "-unbounded", maxsize=0).maxsize == 0
    assert not client.Queue(name + "-unbounded").full()


def test_opening_a_name_as_another_kind_is_a_type_mismatch(client, name):
    client.dict(name)
    with pytest.raises(xproc.TypeMismatchError) as e:
        client.Queue(name)
    assert isinstance(e.value, TypeError)
    with pytest.raises(xproc.TypeMismatchError):
        client.JoinableQueue(name)


def test_close_closes_only_this_handle(client, name):
    q = client.Queue(name)
    q.put(1)
    q.close()
    assert q.closed
    with pytest.raises(ValueError, match="closed"):
        q.put(2)
    with pytest.raises(ValueError, match="closed"):
        q.get()
    q.close()  # twice is fine
    q.join_thread()
    q.cancel_join_thread()
    assert client.Queue(name).get() == 1


def test_put_many_keeps_order(client, name):
    q = client.Queue(name)
    assert q.put_many(range(1000)) == 1000
    assert q.put_many([]) == 0
    assert [q.get() for _ in range(1000)] == list(range(1000))


def test_deleted_queue_fails_blocked_and_later_calls(client, connect, name):
    q = client.Queue(name)
    errors = []

    def get() -> None:
        try:
            q.get(timeout=30)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    t = threading.Thread(target=get)
    t.start()
    eventually("the get to block", lambda: waits_on(client, f"queue.get {name}"))
    assert connect().delete(name) is True
    t.join(30)
    assert len(errors) == 1 and isinstance(errors[0], xproc.NotFoundError), errors
    with pytest.raises(xproc.NotFoundError):
        q.put(1)


def test_joinable_queue_task_done_and_join(client, name):
    jq = client.JoinableQueue(name)
    for i in range(3):
        jq.put(i)
    assert jq.unfinished() == 3
    with pytest.raises(xproc.TimeoutError) as e:
        jq.join(timeout=0.05)
    assert isinstance(e.value, TimeoutError)  # the builtin one too
    for _ in range(3):
        jq.get()
        jq.task_done()
    jq.join(timeout=5)
    jq.join()
    with pytest.raises(ValueError, match="too many times"):
        jq.task_done()


def test_join_returns_when_another_process_marks_the_items_done(broker, client, name):
    jq = client.JoinableQueue(name)
    for i in range(5):
        jq.put(i)
    p = multiprocessing.get_context("fork").Process(target=_drain_joinable, args=(jq, 5))
    p.start()
    jq.join(timeout=60)
    p.join(60)
    assert p.exitcode == 0
    assert jq.qsize() == 0


def _drain_joinable(jq: xproc.JoinableQueue, count: int) -> None:
    # A forked child: jq reconnects on first use, on a connection of its own.
    for _ in range(count):
        jq.get(timeout=30)
        jq.task_done()


def test_task_done_on_a_plain_queue_is_not_available(client, name):
    q = client.Queue(name)
    assert not hasattr(q, "task_done")


# ------------------------------------------------------------------- master / worker example
# The multiprocessing docs' example of a pool of workers fed through queues, ported to xproc:
# the master puts 10 random integers on a task queue, 4 worker processes compute n*n, the
# master reads the results with timeout=10.


def _square_worker(socket_path: str, tasks_name: str, results_name: str) -> None:
    with xproc.connect(socket_path) as c:
        tasks = c.Queue(tasks_name)
        results = c.Queue(results_name)
        for n in iter(tasks.get, "STOP"):
            results.put((n, n * n, multiprocessing.current_process().pid))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_master_worker_example(broker, client, name, start_method):
    ctx = multiprocessing.get_context(start_method)
    tasks = client.Queue(name + "-tasks")
    results = client.Queue(name + "-results")
    numbers = [random.randint(-(10**6), 10**6) for _ in range(10)]
    for n in numbers:
        tasks.put(n)
    workers = [
        ctx.Process(target=_square_worker, args=(broker.path, tasks.name, results.name))
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    got = [results.get(timeout=10) for _ in numbers]
    for _ in workers:
        tasks.put("STOP")
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    assert sorted(n for n, _, _ in got) == sorted(numbers)
    assert all(sq == n * n for n, sq, _ in got)
    assert {pid for _, _, pid in got} <= {w.pid for w in workers}
    with pytest.raises(queue.Empty):
        results.get(timeout=0.1)


def _square_worker_inherited(tasks: xproc.Queue, results: xproc.Queue) -> None:
    for n in iter(tasks.get, "STOP"):
        results.put(n * n)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_queues_passed_to_worker_processes(client, name, start_method):
    """Queue objects handed to ``Process`` work in the child: inherited across fork (they
    reconnect on first use) or pickled for spawn (reopened by name)."""
    ctx = multiprocessing.get_context(start_method)
    tasks = client.Queue(name + "-tasks")
    results = client.Queue(name + "-results")
    workers = [
        ctx.Process(target=_square_worker_inherited, args=(tasks, results)) for _ in range(4)
    ]
    for w in workers:
        w.start()
    for n in range(10):
        tasks.put(n)
    got = sorted(results.get(timeout=10) for _ in range(10))
    for _ in workers:
        tasks.put("STOP")
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    assert got == sorted(n * n for n in range(10))
    # The parent's connection is untouched by the children's.
    tasks.put("still works")
    assert tasks.get(timeout=1) == "still works"
