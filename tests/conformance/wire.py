"""A client of the xproc wire protocol written from docs/PROTOCOL.md alone: frames (§2) and
request/reply maps (§3) over a Unix socket, with msgpack and socket and nothing else."""

import socket
import struct

import msgpack

READ_TIMEOUT = 10.0


def pack(obj):
    """MessagePack with str and bin kept apart, as §3/§4 require."""
    return msgpack.packb(obj, use_bin_type=True)


def frame(payload: bytes) -> bytes:
    """§2: a 4-byte big-endian length, then the payload."""
    return struct.pack(">I", len(payload)) + payload


def value(v) -> bytes:
    """§4: a user value is the bytes of one MessagePack value (sent as bin)."""
    return pack(v)


class Closed(Exception):
    """The broker closed the connection."""


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.connect(path)
        self.next_id = 1
        self.conn_id = None

    def close(self):
        self.sock.close()

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send_payload(self, payload: bytes):
        self.send_raw(frame(payload))

    def send(self, req: dict) -> int:
        """Sends a request map; gives it a fresh id unless it has one."""
        if "id" not in req:
            req = {"id": self.next_id, **req}
            self.next_id += 1
        self.send_payload(pack(req))
        return req["id"]

    def _read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed(f"EOF after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def recv_frame(self) -> bytes:
        (n,) = struct.unpack(">I", self._read_exact(4))
        return self._read_exact(n)

    def recv(self) -> dict:
        return msgpack.unpackb(self.recv_frame(), raw=False)

    def call(self, req: dict) -> dict:
        id_ = self.send(req)
        r = self.recv()
        assert r["id"] == id_, f"reply {r} is not for request {id_}"
        return r

    def hello(self, **extra):
        r = self.call({"op": "hello", "version": 1, "client": "conformance",
                       "lang": "python", **extra})
        assert "error" not in r, r
        self.conn_id = r["conn_id"]
        return r

    def is_open(self) -> bool:
        """True if the connection still answers a ping."""
        try:
            r = self.call({"op": "ping"})
        except (Closed, ConnectionError):
            return False
        return r.get("error") is None

    def expect_eof(self):
        """The broker closed the connection, and sent nothing more."""
        try:
            data = self.sock.recv(1)
        except ConnectionResetError:
            return
        assert data == b"", f"expected EOF, got {data!r}"


def err(reply: dict, code: str, id_=None) -> str:
    """Asserts an error reply (§3: `error` and `message`, both str) and returns the message."""
    assert reply.get("error") == code, reply
    assert isinstance(reply.get("message"), str) and reply["message"], reply
    if id_ is not None:
        assert reply["id"] == id_, reply
    assert set(reply) == {"id", "error", "message"}, reply
    return reply["message"]


def ok(reply: dict, **fields) -> dict:
    """Asserts a success reply with exactly these result fields (besides `id`)."""
    assert "error" not in reply, reply
    got = {k: v for k, v in reply.items() if k != "id"}
    assert got == fields, reply
    return reply
