"""``xproc.managers``: the notes' ``task_master.py``/``task_worker.py`` with only the import
line changed — the master ``start()``s a real ``xprocd`` on TCP with an authkey, the worker
is another process that ``connect()``s — plus ``SyncManager`` and ``serve_forever``."""

from __future__ import annotations

import os
import queue
import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import xproc
from xproc.managers import BaseManager, SyncManager

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)

WORKER = textwrap.dedent(
    """
    import queue, sys, time
    sys.path.insert(0, {pkg!r})
    from xproc.managers import BaseManager

    class QueueManager(BaseManager):
        pass

    QueueManager.register('get_task_queue')
    QueueManager.register('get_result_queue')
    m = QueueManager(address=('127.0.0.1', {port}), authkey=b'abc')
    m.connect()
    task = m.get_task_queue()
    result = m.get_result_queue()
    for i in range(10):
        try:
            n = task.get(timeout=1)
            result.put('%d * %d = %d' % (n, n, n * n))
        except queue.Empty:
            print('task queue is empty.')
    print('worker done.')
    """
)


def test_the_notes_master_and_worker(tmp_path: object) -> None:
    task_queue: "queue.Queue[int]" = queue.Queue()
    result_queue: "queue.Queue[str]" = queue.Queue()

    class QueueManager(BaseManager):
        pass

    # The lambda form multiprocessing cannot pickle.
    QueueManager.register("get_task_queue", callable=lambda: task_queue)
    QueueManager.register("get_result_queue", callable=lambda: result_queue)
    manager = QueueManager(address=("127.0.0.1", 0), authkey=b"abc")
    manager.start()
    try:
        port = manager.address[1]
        assert port != 0
        task = manager.get_task_queue()
        result = manager.get_result_queue()
        assert isinstance(task, xproc.Queue) and task.name == "get_task_queue"
        sent = [random.randint(0, 10000) for _ in range(10)]
        for n in sent:
            task.put(n)
        worker = subprocess.run(
            [sys.executable, "-c", WORKER.format(pkg=PKG, port=port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "XPROC_AUTHKEY_FILE"},
        )
        assert worker.returncode == 0, worker.stderr
        assert "worker done." in worker.stdout
        got = sorted(result.get(timeout=10) for _ in range(10))
        assert got == sorted("%d * %d = %d" % (n, n, n * n) for n in sent)
        # A wrong key is refused, as multiprocessing's AuthenticationError would be.
        intruder = QueueManager(address=("127.0.0.1", port), authkey=b"abd")
        with pytest.raises(xproc.DeniedError):
            intruder.connect()
    finally:
        manager.shutdown()
    # The broker is gone with the manager.
    with pytest.raises(xproc.NoBrokerError):
        QueueManager(address=("127.0.0.1", port), authkey=b"abc").connect()


DYING_MASTER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {pkg!r})
    from xproc.managers import BaseManager
    m = BaseManager(address=('127.0.0.1', 0), authkey=b'abc')
    m.start()
    print(m.address[1], m._proc.pid, flush=True)
    if sys.argv[1] == 'kill':
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError('the master fails before its shutdown()')
    """
)


@pytest.mark.parametrize("how", ["exception", "kill"])
def test_no_broker_outlives_its_master(how: str) -> None:
    # Regression: a master that died before shutdown() (the notes' master does when a
    # result.get times out) left its xprocd listening, holding the port, forever.
    master = subprocess.run(
        [sys.executable, "-c", DYING_MASTER.format(pkg=PKG), how],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert master.returncode != 0
    port, pid = map(int, master.stdout.split())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        pytest.fail(f"the broker (pid {pid}) outlived its master ({how})")
    with pytest.raises(xproc.NoBrokerError):
        BaseManager(address=("127.0.0.1", port), authkey=b"abc").connect()


def test_kinds_follow_what_the_callable_returns() -> None:
    class M(BaseManager):
        pass

    M.register("get_stats", callable=lambda: {"hits": 0})
    M.register("get_lock", callable=threading.Lock)
    M.register("get_bounded", callable=lambda: queue.Queue(maxsize=3))
    M.register("get_code", callable=lambda: object())
    with M(address=("127.0.0.1", 0), authkey=os.urandom(32)) as m:
        stats = m.get_stats()
        assert isinstance(stats, xproc.Dict) and stats["hits"] == 0
        with m.get_lock():
            pass
        assert m._client.stat("get_bounded")["info"]["maxsize"] == 3
        with pytest.raises(TypeError, match="not Python code"):
            m.get_code()
        with pytest.raises(xproc.NotFoundError, match="no object named"):
            m._get("never_registered")


def test_sync_manager() -> None:
    with SyncManager(address=("127.0.0.1", 0), authkey=b"sync") as m:
        q = m.Queue()
        q.put(1)
        assert q.get(timeout=5) == 1
        d = m.dict(a=1)
        assert d["a"] == 1
        with m.Lock():
            pass
        e = m.Event()
        e.set()
        assert e.is_set()
        with pytest.raises(NotImplementedError, match="no xproc counterpart"):
            m.list()


def test_serve_forever_until_stopped() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {PKG!r})
        from xproc.managers import BaseManager
        BaseManager(address=('127.0.0.1', int(sys.argv[1])), authkey=b'srv').get_server().serve_forever()
        """
    )
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = subprocess.Popen([sys.executable, "-c", code, str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                c = xproc.connect(f"tcp://127.0.0.1:{port}", authkey=b"srv")
                break
            except xproc.NoBrokerError:
                assert time.monotonic() < deadline, "serve_forever did not start a broker"
                time.sleep(0.05)
        c.Queue("served").put(1)
        c.close()
    finally:
        server.send_signal(2)  # Ctrl-C
        assert server.wait(30) == 0
