"""Pipes against a real broker: both ends in one process, ends in different processes, end of
file when the other end closes or its process dies, one-way pipes, busy ends."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from support import eventually, python_worker, waits_on

import xproc


def test_both_ends_duplex(client, name):
    a, b = client.Pipe(name)
    assert (a.end, b.end) == ("a", "b")
    assert a.readable and a.writable and b.readable and b.writable
    assert not b.poll()
    a.send({"hello": [1, 2]})
    a.send("second")
    assert b.poll(0.1)
    assert b.recv() == {"hello": [1, 2]}
    assert b.recv() == "second"
    b.send(3)
    assert a.recv(timeout=5) == 3


def test_recv_timeouts(client, name):
    a, b = client.Pipe(name)
    with pytest.raises(xproc.TimeoutError) as e:
        b.recv(timeout=0.05)
    assert isinstance(e.value, TimeoutError)
    with pytest.raises(xproc.TimeoutError):
        b.recv(timeout=0)
    assert b.poll(0.05) is False


def test_closing_one_end_gives_eof_after_the_rest(client, name):
    a, b = client.Pipe(name)
    a.send(1)
    a.send(2)
    a.close()
    assert a.closed
    with pytest.raises(OSError, match="closed"):
        a.send(3)
    assert b.poll()  # a message waits
    assert b.recv() == 1
    assert b.recv() == 2
    assert b.poll()  # recv would report end of file
    with pytest.raises(EOFError):
        b.recv()
    with pytest.raises(BrokenPipeError):
        b.send("anyone?")
    b.close()
    # Both ends released: the name holds a fresh pipe.
    a2, b2 = client.Pipe(name)
    a2.send("fresh")
    assert b2.recv() == "fresh"


def test_one_way_pipe_returns_reader_then_writer_like_multiprocessing(client, name):
    r, w = client.Pipe(name, duplex=False)
    assert (r.end, w.end) == ("b", "a")
    assert r.readable and not r.writable
    assert w.writable and not w.readable
    w.send("x")
    assert r.recv() == "x"
    with pytest.raises(OSError, match="read-only"):
        r.send("y")
    with pytest.raises(OSError, match="write-only"):
        w.recv()
    with pytest.raises(xproc.OptionMismatchError, match="duplex"):
        client.Pipe(name, True, end="a")


def test_send_bytes_and_recv_bytes(client, name):
    a, b = client.Pipe(name)
    a.send_bytes(b"hello world", 6)
    a.send_bytes(bytearray(b"abcdef"), 1, 3)
    assert b.recv_bytes() == b"world"
    assert b.recv_bytes(maxlength=3) == b"bcd"
    a.send("not bytes")
    with pytest.raises(xproc.WrongTypeError):
        b.recv_bytes()
    a.send_bytes(b"toolong")
    with pytest.raises(OSError, match="length"):
        b.recv_bytes(maxlength=2)


def test_an_end_is_held_by_one_connection(client, connect, name):
    held = client.Pipe(name, end="a")  # kept: a collected end is closed
    with pytest.raises(xproc.BusyError, match=str(os.getpid())):
        connect().Pipe(name, end="a")
    assert not held.closed
    with pytest.raises(ValueError):
        client.Pipe(name, end="c")


def test_messages_sent_before_the_other_end_opens_are_kept(client, connect, name):
    a = client.Pipe(name, end="a")
    for i in range(5):
        a.send(i)
    b = connect().Pipe(name, end="b")
    assert [b.recv(timeout=5) for _ in range(5)] == list(range(5))


_ECHO = """
import sys, xproc
c = xproc.connect()
end = c.Pipe(sys.argv[1], end="b")
n = 0
while True:
    try:
        msg = end.recv()
    except EOFError:
        break
    end.send(msg)
    n += 1
print(n)
"""


def test_ends_in_two_processes(broker, client, name):
    a = client.Pipe(name, end="a")
    worker = python_worker(broker, _ECHO, name)
    for i in range(50):
        a.send([i, str(i)])
        assert a.recv(timeout=30) == [i, str(i)]
    a.close()
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert out.strip() == "50"


_HOLD = """
import sys, time, xproc
c = xproc.connect()
end = c.Pipe(sys.argv[1], end="b")
end.send("last words")
print("ready", flush=True)
time.sleep(600)
"""


def test_a_killed_peer_is_end_of_file(broker, client, name):
    a = client.Pipe(name, end="a")
    worker = python_worker(broker, _HOLD, name)
    assert worker.stdout.readline().strip() == "ready"
    worker.send_signal(signal.SIGKILL)
    worker.wait(30)
    assert a.recv(timeout=30) == "last words"
    with pytest.raises(EOFError):
        a.recv(timeout=30)


def test_blocked_recv_wakes_on_send_from_another_thread(client, name):
    a, b = client.Pipe(name)
    got = []
    t = threading.Thread(target=lambda: got.append(b.recv(timeout=30)))
    t.start()
    eventually("recv to block", lambda: waits_on(client, f"pipe.recv {name}"))
    a.send("wake")
    t.join(30)
    assert got == ["wake"]


def test_garbage_collected_end_is_closed(client, name):
    a, b = client.Pipe(name)
    a.send("bye")
    del a
    assert b.recv() == "bye"
    with pytest.raises(EOFError):
        b.recv(timeout=5)
