"""The ctypes declarations match the C header: every function the binding declares exists in
client-c/include/xproc.h with the same number of parameters and compatible types, so a change
to the C ABI fails here instead of corrupting memory at run time."""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

import pytest
from support import ROOT

from xproc import _native as n

HEADER = os.path.join(ROOT, "client-c", "include", "xproc.h")

# C parameter types, normalised (no const, no names), to the ctypes types they may take.
POINTER_TYPES = {ctypes.c_void_p, ctypes.c_char_p}
SCALARS = {
    "size_t": ctypes.c_size_t,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "int": ctypes.c_int,
    "char": ctypes.c_char,
    "void": None,
    "xproc_status_e": ctypes.c_int,
}
OUT_POINTEES = {
    "size_t": ctypes.c_size_t,
    "bool": ctypes.c_bool,
    "uint64_t": ctypes.c_uint64,
    "int64_t": ctypes.c_int64,
    "uint32_t": ctypes.c_uint32,
    "xproc_limits_t": n.Limits,
    "xproc_queue_size_t": n.QueueSize,
    "xproc_barrier_state_t": n.BarrierState,
    "xproc_wait_object_t": n.WaitObject,
    "uint8_t": ctypes.c_uint8,
    "int": ctypes.c_int,
}


def prototypes():
    text = Path(HEADER).read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found = {}
    for m in re.finditer(r"^([\w ]+?[\s*]+)(xproc_\w+)\(([^)]*)\);", text, flags=re.M):
        ret, name, params = m.group(1).strip(), m.group(2), m.group(3)
        args = [] if params.strip() in ("", "void") else [p.strip() for p in params.split(",")]
        found[name] = (ret, args)
    return found


def c_type(decl: str) -> str:
    """``const uint8_t *const *values`` -> ``uint8_t**``."""
    decl = re.sub(r"\bconst\b", "", decl)
    stars = decl.count("*")
    words = decl.replace("*", " ").split()
    base = words[0] if len(words) == 1 else " ".join(words[:-1])
    return base + "*" * stars


def compatible(c: str, py) -> bool:
    if c.endswith("**"):
        return py in (ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_char_p))
    if c.endswith("*"):
        base = c[:-1]
        if base in OUT_POINTEES and py is ctypes.POINTER(OUT_POINTEES[base]):
            return True
        if base in ("size_t",) and py is ctypes.POINTER(ctypes.c_size_t):
            return True
        return py in POINTER_TYPES
    if c == "xproc_predicate_fn":
        return False  # not used by the binding
    return SCALARS.get(c) is py


def test_every_declaration_matches_the_header():
    if not os.path.isfile(HEADER):
        pytest.fail(f"{HEADER} not found: the tests run from a clone of the repository")
    protos = prototypes()
    assert len(protos) > 50, "the header parser found too few prototypes"
    problems = []
    for name, (argtypes, restype) in n.DECLARED.items():
        if name not in protos:
            problems.append(f"{name}: not in xproc.h")
            continue
        ret, params = protos[name]
        if len(params) != len(argtypes):
            problems.append(f"{name}: {len(params)} parameters in C, {len(argtypes)} declared")
            continue
        for i, (c, py) in enumerate(zip(params, argtypes)):
            if not compatible(c_type(c), py):
                problems.append(f"{name} parameter {i} ({c}): declared {py}")
        cret = c_type(ret)
        want = ctypes.c_char_p if cret == "char*" else SCALARS.get(cret, "?")
        if want is not restype:
            problems.append(f"{name} returns {ret}: declared {restype}")
    assert not problems, "\n".join(problems)


def test_statuses_match_the_header():
    text = Path(HEADER).read_text(encoding="utf-8")
    for name, value in re.findall(r"XPROC_(\w+) = (\d+),", text):
        if hasattr(n, name):
            assert getattr(n, name) == int(value), name
    assert n.status_name(n.TIMEOUT) == "XPROC_TIMEOUT"


# ------------------------------------------------------------------ the C speedups


def test_the_per_item_calls_take_the_path_asked_for():
    """An installed package serves queue put/get and dict set/get from the C module pip
    built (xproc/_speedups.c), unless XPROC_NO_SPEEDUPS selects the ctypes fallback."""
    if os.environ.get("XPROC_NO_SPEEDUPS"):
        assert not n.SPEEDUPS
        assert n.queue_get_item is n._ctypes_queue_get
    elif os.environ.get("XPROC_TEST_INSTALLED"):
        assert n.SPEEDUPS, (
            "pip did not build xproc._speedups: this machine needs a C compiler and Python's "
            "headers (Debian: gcc python3-dev)"
        )
        assert n.queue_get_item is n._fast.queue_get


@pytest.mark.skipif(not n.SPEEDUPS, reason="the C speedups are not built in this run")
def test_the_speedups_refuse_bad_arguments_without_crashing():
    fast = n._fast
    with pytest.raises(ValueError, match="NULL handle"):
        fast.queue_put(0, b"\xc0", 0)
    with pytest.raises(TypeError, match="bytes"):
        fast.queue_put(1, "not bytes", 0)
    with pytest.raises(TypeError, match="arguments"):
        fast.queue_get(1)
    with pytest.raises(TypeError, match="bytes"):
        fast.dict_set(1, b"\xc0", bytearray(b"\xc0"))
    with pytest.raises(TypeError):
        fast.dict_get("not a handle", b"\xc0")


def test_both_paths_keep_one_contract(client, name):
    """Status as an int on failure, the value's bytes on success: the same from C and ctypes."""
    q = client.Queue(name)
    d = client.dict(name + ".d")
    paths = [(n._ctypes_queue_put, n._ctypes_queue_get, n._ctypes_dict_set, n._ctypes_dict_get)]
    if n.SPEEDUPS:
        f = n._fast
        paths.append((f.queue_put, f.queue_get, f.dict_set, f.dict_get))
    for put, get, dset, dget in paths:
        assert get(q._h.value, 0) == n.EMPTY
        assert put(q._h.value, b"\xa1x", 0) == n.OK
        assert get(q._h.value, 0) == b"\xa1x"
        assert dget(d._h.value, b"\xa1k") == n.KEY_NOT_FOUND
        assert dset(d._h.value, b"\xa1k", b"\x07") == n.OK
        assert dget(d._h.value, b"\xa1k") == b"\x07"
        assert dset(d._h.value, b"\xa1k", b"\xc1") == n.INVALID_VALUE  # 0xc1 is never valid
        del d[b"k".decode()]
