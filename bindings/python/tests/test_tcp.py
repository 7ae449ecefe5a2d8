"""The Python binding over TCP with an authkey (docs/PROTOCOL.md §1.2), against a real
``xprocd`` listening on ``tcp://127.0.0.1:0`` beside its local socket."""

from __future__ import annotations

import os
import queue
import re
import tempfile
import time
from typing import Iterator, Tuple

import pytest

from support import Broker

import xproc

KEY = b"python-tcp-key-42"


def tcp_endpoint(b: Broker) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = re.search(r"listening on TCP.*addr=(\S+)", b.log())
        if m:
            return "tcp://" + m.group(1)
        time.sleep(0.01)
    raise AssertionError(f"no TCP listener in the log:\n{b.log()}")


@pytest.fixture(scope="module")
def keyfile() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="xpy-key-")
    p = os.path.join(d, "authkey")
    with open(p, "wb") as f:
        f.write(KEY + b"\n")
    os.chmod(p, 0o600)
    yield p
    os.unlink(p)
    os.rmdir(d)


@pytest.fixture(scope="module")
def tcp(keyfile: str) -> Iterator[Tuple[Broker, str]]:
    b = Broker("--listen", "tcp://127.0.0.1:0", "--authkey-file", keyfile)
    yield b, tcp_endpoint(b)
    assert b.stop() == 0, b.log()


def test_remote_and_local_share_a_queue(tcp: Tuple[Broker, str]) -> None:
    b, endpoint = tcp
    with xproc.connect(endpoint, authkey=KEY) as remote, xproc.connect(b.path) as local:
        assert remote.path == endpoint
        remote.Queue("py-tcp-q").put({"n": 7})
        assert local.Queue("py-tcp-q").get(timeout=5) == {"n": 7}
        with pytest.raises(queue.Empty):
            remote.Queue("py-tcp-q").get(timeout=0.1)


def test_a_wrong_or_missing_key_is_denied(tcp: Tuple[Broker, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, endpoint = tcp
    with pytest.raises(xproc.DeniedError, match="wrong authkey"):
        xproc.connect(endpoint, authkey=b"nope")
    monkeypatch.delenv("XPROC_AUTHKEY_FILE", raising=False)
    with pytest.raises(PermissionError, match="needs an authkey"):
        xproc.connect(endpoint)
    with pytest.raises(TypeError):
        xproc.connect(endpoint, authkey="text")  # type: ignore[arg-type]


def test_the_key_file_from_the_environment(
    tcp: Tuple[Broker, str], keyfile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, endpoint = tcp
    monkeypatch.setenv("XPROC_AUTHKEY_FILE", keyfile)
    monkeypatch.setenv("XPROC_SOCKET", endpoint)
    with xproc.connect() as c:
        d = c.dict("py-tcp-d")
        d["k"] = 1
        assert d["k"] == 1


def test_a_key_limited_to_its_queues_is_denied_elsewhere(keyfile: str) -> None:
    # [keys.NAME] in the config file (docs/SECURITY.md §7): a worker machine's key reaches its
    # queues, reads the settings dict, and gets xproc.DeniedError naming the rule elsewhere.
    d = tempfile.mkdtemp(prefix="xpy-rules-")
    worker_key = os.path.join(d, "worker.key")
    with open(worker_key, "wb") as f:
        f.write(b"worker machine key\n")
    os.chmod(worker_key, 0o600)
    cfg = os.path.join(d, "xprocd.toml")
    with open(cfg, "w") as f:
        f.write(
            f'listen = ["tcp://127.0.0.1:0"]\nauthkey_file = "{keyfile}"\n\n'
            f'[keys.worker]\nfile = "{worker_key}"\n'
            'read_write = ["jobs.*"]\nread_only = ["settings"]\n'
        )
    b = Broker("--config", cfg)
    try:
        endpoint = tcp_endpoint(b)
        with xproc.connect(b.path) as local:
            local.dict("settings")["batch"] = 8
            local.Queue("payroll").put(1)
        with xproc.connect(endpoint, authkey=b"worker machine key") as w:
            q = w.Queue("jobs.eu")
            q.put(3)
            assert q.get(timeout=5) == 3
            settings = w.dict("settings")
            assert settings["batch"] == 8
            with pytest.raises(xproc.DeniedError, match="may only read 'settings'"):
                settings["batch"] = 9
            with pytest.raises(xproc.DeniedError, match=r"no pattern of \[keys.worker\]"):
                w.Queue("payroll")
            q.put(4)  # still connected
            assert q.get(timeout=5) == 4
    finally:
        assert b.stop() == 0, b.log()
        for p in (worker_key, cfg):
            os.unlink(p)
        os.rmdir(d)


def _pki(d: str) -> None:
    """A CA and a broker certificate for localhost/127.0.0.1 signed by it, made by openssl."""
    import subprocess

    def run(*args: str) -> None:
        r = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True)
        assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=xproc test CA")
    run("req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "broker.pem", "-days", "2", "-extfile", "san.ext")
    os.chmod(os.path.join(d, "broker.key"), 0o600)


def test_tls_with_the_ca_and_the_key(keyfile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    d = tempfile.mkdtemp(prefix="xpy-tls-")
    try:
        _pki(d)
        b = Broker(
            "--listen", "tls://127.0.0.1:0",
            "--tls-cert", os.path.join(d, "broker.pem"),
            "--tls-key", os.path.join(d, "broker.key"),
            "--authkey-file", keyfile,
        )
        try:
            endpoint = tcp_endpoint(b).replace("tcp://", "tls://")
            ca = os.path.join(d, "ca.pem")
            with xproc.connect(endpoint, authkey=KEY, tls_ca=ca) as c:
                q = c.Queue("py-tls-q")
                q.put(b"x" * 300_000)
                assert q.get(timeout=10) == b"x" * 300_000
            with xproc.connect(endpoint, authkey=KEY, tls_ca=ca, tls_server_name="localhost") as c:
                c.Queue("py-tls-q").put(1)
            # The CA from the environment; the name must match the certificate.
            monkeypatch.setenv("XPROC_TLS_CA", ca)
            with xproc.connect(endpoint, authkey=KEY) as c:
                assert c.Queue("py-tls-q").get(timeout=5) == 1
            with pytest.raises(xproc.DeniedError, match="TLS handshake"):
                xproc.connect(endpoint, authkey=KEY, tls_server_name="elsewhere.example")
            with pytest.raises(xproc.DeniedError, match="wrong authkey"):
                xproc.connect(endpoint, authkey=b"not the key")
        finally:
            assert b.stop() == 0, b.log()
    finally:
        shutil.rmtree(d)
