"""Every native declaration of the binding: finds and loads libxproc, declares the C functions
it uses (client-c/include/xproc.h), and wraps its handles so that they free themselves.

This is the only module that knows the C ABI's shapes. The others call the functions bound
here as module attributes (looked up once, argtypes set once: the per-call path is one ctypes
call plus the argument conversions).

Finding the library, in order:

1. ``$XPROC_LIB``: a path to ``libxproc.so`` (development: ``target/release/libxproc.so``);
2. ``libxproc.so`` bundled inside this package (what ``pip install`` puts there);
3. when the package runs from a clone of the repository (``bindings/python/xproc``), the
   workspace's ``target/release/libxproc.so``, else ``target/debug/libxproc.so``;
4. the system's ``libxproc`` (``ctypes.util.find_library``, e.g. after client-c/install.sh).

On Windows the library is ``xproc.dll`` (what ``cargo build -p xproc-c`` makes there), found
the same way; ``find_library`` then searches ``PATH``. That path is written but not tested:
CI has no Windows Python (docs/PYTHON.md).

Handles: each C handle (``xproc_client_t *``, ``xproc_queue_t *``, ...) lives in a
:class:`Handle`, a ``c_void_p`` whose ``__del__`` calls the matching ``xproc_*_free``. A Python
object keeps its handle in an attribute and every call first copies it to a local, so a handle
is freed only after the last call using it has returned — closing an object while another
thread is blocked in a call on it is safe (the C ABI forbids freeing a handle in use).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Any, Callable, Dict, List, Optional, Tuple

#: The file name of the shared library, as bundled in the package.
LIB_NAME = "xproc.dll" if os.name == "nt" else "libxproc.so"

#: Environment variable naming the shared library to load (overrides the bundled one).
LIB_ENV = "XPROC_LIB"


def _find_library() -> str:
    """The path (or soname) of libxproc to load; raises ImportError when there is none."""
    env = os.environ.get(LIB_ENV)
    if env:
        if not os.path.isfile(env):
            raise ImportError(f"{LIB_ENV}={env!r} does not name a file")
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    bundled = os.path.join(here, LIB_NAME)
    if os.path.isfile(bundled):
        return bundled
    # Running from a clone (bindings/python/xproc): the workspace's own build.
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    if os.path.isfile(os.path.join(root, "Cargo.toml")):
        for profile in ("release", "debug"):
            candidate = os.path.join(root, "target", profile, LIB_NAME)
            if os.path.isfile(candidate):
                return candidate
    system = ctypes.util.find_library("xproc")
    if system:
        return system
    raise ImportError(
        "libxproc not found: install the package with `pip install bindings/python` (which "
        f"builds and bundles it), or set {LIB_ENV} to the path of {LIB_NAME} "
        f"(`cargo build --release -p xproc-c` builds target/release/{LIB_NAME})"
    )


#: The path libxproc was loaded from.
LIB_PATH = _find_library()

if os.name == "nt" and os.path.isabs(LIB_PATH):
    # Python 3.8+ no longer searches PATH for a DLL's own dependencies; the DLL's folder is
    # where they would be.
    os.add_dll_directory(os.path.dirname(LIB_PATH))

# CDLL (not PyDLL): the GIL is released during every call, so a call blocked in the broker
# lets the other Python threads run.
_lib = ctypes.CDLL(LIB_PATH)

# ------------------------------------------------------------------------------ statuses
# xproc_status_e (stable values; new ones are only added at the end).
OK = 0
NO_BROKER = 1
TIMEOUT = 2
EMPTY = 3
FULL = 4
TYPE_MISMATCH = 5
CLOSED = 6
DISCONNECTED = 7
LIMIT = 8
KEY_NOT_FOUND = 9
NOT_OWNER = 10
BUSY = 11
BROKEN_BARRIER = 12
INVALID_ARGUMENT = 13
NULL_ARGUMENT = 14
SHUTTING_DOWN = 15
NOT_FOUND = 16
OPTION_MISMATCH = 17
INVALID_NAME = 18
INVALID_VALUE = 19
WRONG_TYPE = 20
OUT_OF_RANGE = 21
BROKER_ERROR = 22
PROTOCOL_ERROR = 23
PANIC = 24
UNKNOWN_DELIVERY = 25
DENIED = 26
INTERRUPTED = 27

#: ``timeout_ms`` that waits as long as it takes.
WAIT_FOREVER = -1


class Limits(Structure):
    """xproc_limits_t: the broker's limits, as announced at connect."""

    _fields_ = [
        ("max_frame", c_uint64),
        ("max_clients", c_uint64),
        ("max_objects", c_uint64),
        ("memory_limit", c_uint64),
    ]


class QueueSize(Structure):
    """xproc_queue_size_t: a queue's counters, read together."""

    _fields_ = [("len", c_uint64), ("maxsize", c_uint64), ("unfinished", c_uint64)]


class BarrierState(Structure):
    """xproc_barrier_state_t: a barrier's parties, waiting count and broken flag."""

    _fields_ = [("parties", c_uint64), ("n_waiting", c_uint64), ("broken", c_bool)]


# ------------------------------------------------------------------------------ handles


class Handle(c_void_p):
    """An owned C handle: freed by ``_free`` (set per subclass) when garbage-collected.

    Instances are passed straight to the C functions (they are ``c_void_p``s). A handle that
    failed to open holds NULL and frees nothing.
    """

    _free: Callable[[Any], None]

    def __del__(self) -> None:
        if self.value:
            # Never raise from a finalizer (e.g. at interpreter exit, when ctypes may be gone).
            with contextlib.suppress(Exception):
                self._free(self)
            self.value = None


#: Every C function declared here: name -> (argtypes, restype). The tests compare it with
#: client-c/include/xproc.h, so a changed C signature cannot go unnoticed.
DECLARED: Dict[str, Tuple[List[Any], Any]] = {}


def _fn(name: str, argtypes: List[Any], restype: Any = c_int) -> Any:
    f = getattr(_lib, name)
    f.argtypes = argtypes
    f.restype = restype
    DECLARED[name] = (argtypes, restype)
    return f


def _handle_class(cname: str, free_fn: str) -> type:
    free = _fn(free_fn, [c_void_p], None)
    return type(cname, (Handle,), {"_free": staticmethod(free), "__slots__": ()})


ClientHandle = _handle_class("ClientHandle", "xproc_client_free")
QueueHandle = _handle_class("QueueHandle", "xproc_queue_free")
DictHandle = _handle_class("DictHandle", "xproc_dict_free")
PipeHandle = _handle_class("PipeHandle", "xproc_pipe_free")
LockHandle = _handle_class("LockHandle", "xproc_lock_free")
SemaphoreHandle = _handle_class("SemaphoreHandle", "xproc_semaphore_free")
EventHandle = _handle_class("EventHandle", "xproc_event_free")
ConditionHandle = _handle_class("ConditionHandle", "xproc_condition_free")
BarrierHandle = _handle_class("BarrierHandle", "xproc_barrier_free")

# Argument type shorthands.
H = c_void_p  # any handle
S = c_char_p  # bytes in (pointer; the length is a separate argument)
N = c_size_t
T = c_int64  # timeout_ms
PH = POINTER(c_void_p)  # handle or buffer out-parameter
PN = POINTER(c_size_t)
PB = POINTER(c_bool)
PU64 = POINTER(c_uint64)
PI64 = POINTER(c_int64)
PU32 = POINTER(c_uint32)

# ------------------------------------------------------------------------------ functions

status_str = _fn("xproc_status_str", [c_int], c_char_p)
last_error = _fn("xproc_last_error", [], c_char_p)
version = _fn("xproc_version", [], c_char_p)
set_interruptible = _fn("xproc_set_interruptible", [c_int], None)
bytes_free = _fn("xproc_bytes_free", [c_void_p, c_size_t], None)

client_connect_as = _fn("xproc_client_connect_as", [S, N, S, N, S, N, T, PH])
client_connect_with = _fn("xproc_client_connect_with", [S, N, S, N, S, N, S, N, T, PH])
client_connect_tls = _fn("xproc_client_connect_tls", [S, N, S, N, S, N, S, N, S, N, S, N, T, PH])
client_ping = _fn("xproc_client_ping", [H])
client_conn_id = _fn("xproc_client_conn_id", [H, PU64])
client_limits = _fn("xproc_client_limits", [H, POINTER(Limits)])
client_list_raw = _fn("xproc_client_list_raw", [H, PH, PN])
client_stat_raw = _fn("xproc_client_stat_raw", [H, S, N, PH, PN])
client_clients_raw = _fn("xproc_client_clients_raw", [H, PH, PN])
client_delete = _fn("xproc_client_delete", [H, S, N, PB])

# The _with forms: maxsize and max_attempts (each negative = not given).
queue_open_with = _fn("xproc_queue_open_with", [H, S, N, c_int64, c_int64, PH])
joinable_queue_open_with = _fn("xproc_joinable_queue_open_with", [H, S, N, c_int64, c_int64, PH])
queue_put_raw = _fn("xproc_queue_put_raw", [H, S, N, T])
queue_get_raw = _fn("xproc_queue_get_raw", [H, T, PH, PN])
queue_put_many_raw = _fn("xproc_queue_put_many_raw", [H, POINTER(c_char_p), PN, N, PN])
queue_qsize = _fn("xproc_queue_qsize", [H, PU64])
queue_size = _fn("xproc_queue_size", [H, POINTER(QueueSize)])
queue_task_done = _fn("xproc_queue_task_done", [H])
queue_join = _fn("xproc_queue_join", [H, T])
queue_get_leased_raw = _fn("xproc_queue_get_leased_raw", [H, T, c_int64, PH, PN, PU64, PU32])
queue_ack = _fn("xproc_queue_ack", [H, c_uint64])
queue_nack = _fn("xproc_queue_nack", [H, c_uint64, c_int64])
queue_put_async_raw = _fn("xproc_queue_put_async_raw", [H, S, N])
queue_flush = _fn("xproc_queue_flush", [H, PU64])
queue_get_many = _fn("xproc_queue_get_many", [H, N, T, PH])
queue_get_many_leased = _fn("xproc_queue_get_many_leased", [H, N, T, c_int64, PH])
queue_ack_many = _fn("xproc_queue_ack_many", [H, PU64, N, PN])
batch_len = _fn("xproc_batch_len", [c_void_p], c_size_t)
batch_item = _fn("xproc_batch_item", [c_void_p, N, POINTER(c_void_p), PN])
batch_delivery = _fn("xproc_batch_delivery", [c_void_p, N, PU64, PU32])
batch_free = _fn("xproc_batch_free", [c_void_p], None)

dict_open = _fn("xproc_dict_open", [H, S, N, PH])
dict_get_raw = _fn("xproc_dict_get_raw", [H, S, N, PH, PN])
dict_set_raw = _fn("xproc_dict_set_raw", [H, S, N, S, N])
dict_delete_raw = _fn("xproc_dict_delete_raw", [H, S, N])
dict_contains_raw = _fn("xproc_dict_contains_raw", [H, S, N, PB])
dict_len = _fn("xproc_dict_len", [H, PU64])
dict_keys_raw = _fn("xproc_dict_keys_raw", [H, PH, PN])
dict_values_raw = _fn("xproc_dict_values_raw", [H, PH, PN])
dict_items_raw = _fn("xproc_dict_items_raw", [H, PH, PN])
dict_scan_raw = _fn("xproc_dict_scan_raw", [H, c_uint64, c_size_t, PU64, PH, PN])
dict_update_raw = _fn("xproc_dict_update_raw", [H, POINTER(c_char_p), PN, POINTER(c_char_p), PN, N])
dict_get_many_raw = _fn("xproc_dict_get_many_raw", [H, POINTER(c_char_p), PN, N, PH, PN])
dict_pop_raw = _fn("xproc_dict_pop_raw", [H, S, N, PH, PN])
dict_popitem_raw = _fn("xproc_dict_popitem_raw", [H, PH, PN, PH, PN])
dict_setdefault_raw = _fn("xproc_dict_setdefault_raw", [H, S, N, S, N, PH, PN])
dict_clear = _fn("xproc_dict_clear", [H])
dict_incr_raw = _fn("xproc_dict_incr_raw", [H, S, N, c_int64, PI64])
dict_compare_and_set_raw = _fn("xproc_dict_compare_and_set_raw", [H, S, N, S, N, S, N, PB])

pipe_open = _fn("xproc_pipe_open", [H, S, N, c_char, c_int, c_int64, PH])
pipe_close = _fn("xproc_pipe_close", [H])
pipe_send_raw = _fn("xproc_pipe_send_raw", [H, S, N, T])
pipe_recv_raw = _fn("xproc_pipe_recv_raw", [H, T, PH, PN])
pipe_poll = _fn("xproc_pipe_poll", [H, T, PB])

lock_open = _fn("xproc_lock_open", [H, S, N, PH])
rlock_open = _fn("xproc_rlock_open", [H, S, N, PH])
lock_acquire = _fn("xproc_lock_acquire", [H, T, PB, PU32])
lock_release = _fn("xproc_lock_release", [H])

semaphore_open = _fn("xproc_semaphore_open", [H, S, N, c_uint64, PH])
bounded_semaphore_open = _fn("xproc_bounded_semaphore_open", [H, S, N, c_uint64, PH])
semaphore_acquire = _fn("xproc_semaphore_acquire", [H, T, PB])
semaphore_release = _fn("xproc_semaphore_release", [H, c_uint64])

event_open = _fn("xproc_event_open", [H, S, N, PH])
event_set = _fn("xproc_event_set", [H])
event_clear = _fn("xproc_event_clear", [H])
event_is_set = _fn("xproc_event_is_set", [H, PB])
event_wait = _fn("xproc_event_wait", [H, T, PB])

condition_open = _fn("xproc_condition_open", [H, S, N, PH])
condition_acquire = _fn("xproc_condition_acquire", [H, T, PB, PU32])
condition_release = _fn("xproc_condition_release", [H])
condition_wait = _fn("xproc_condition_wait", [H, T, PB])
condition_notify = _fn("xproc_condition_notify", [H, c_uint64, PU64])
condition_notify_all = _fn("xproc_condition_notify_all", [H, PU64])



class WaitObject(ctypes.Structure):
    """``xproc_wait_object_t``: a handle and its kind (``WAIT_*``)."""

    _fields_ = [("kind", c_int), ("object", c_void_p)]


WAIT_QUEUE, WAIT_PIPE, WAIT_EVENT, WAIT_LOCK, WAIT_SEMAPHORE = range(5)
queue_get_any_raw = _fn("xproc_queue_get_any_raw", [H, POINTER(c_void_p), N, T, PN, PH, PN])
wait = _fn("xproc_wait", [H, POINTER(WaitObject), N, T, POINTER(ctypes.c_uint8), PN])

# The event-loop API (xproc.aio): one descriptor per client, started requests, completions.
client_event_fd = _fn("xproc_client_event_fd", [H, POINTER(c_int)])
client_process = _fn("xproc_client_process", [H, PN])
client_next_completion = _fn("xproc_client_next_completion", [H, PU64, PH])
client_cancel = _fn("xproc_client_cancel", [H, c_uint64])
queue_get_start = _fn("xproc_queue_get_start", [H, T, PU64])
queue_put_start_raw = _fn("xproc_queue_put_start_raw", [H, S, N, T, PU64])
queue_get_any_start = _fn("xproc_queue_get_any_start", [H, POINTER(c_void_p), N, T, PU64])
wait_start = _fn("xproc_wait_start", [H, POINTER(WaitObject), N, T, PU64])
lock_acquire_start = _fn("xproc_lock_acquire_start", [H, T, PU64])
semaphore_acquire_start = _fn("xproc_semaphore_acquire_start", [H, T, PU64])
event_wait_start = _fn("xproc_event_wait_start", [H, T, PU64])
queue_join_start = _fn("xproc_queue_join_start", [H, T, PU64])
queue_get_leased_start = _fn("xproc_queue_get_leased_start", [H, T, T, PU64])
queue_unlease = _fn("xproc_queue_unlease", [H, c_uint64])
barrier_wait_start = _fn("xproc_barrier_wait_start", [H, T, PU64])
condition_wait_start = _fn("xproc_condition_wait_start", [H, T, PU64])
condition_acquire_start = _fn("xproc_condition_acquire_start", [H, T, PU64])
pipe_send_start_raw = _fn("xproc_pipe_send_start_raw", [H, S, N, T, PU64])
pipe_recv_start = _fn("xproc_pipe_recv_start", [H, T, PU64])
pipe_poll_start = _fn("xproc_pipe_poll_start", [H, T, PU64])
completion_status = _fn("xproc_completion_status", [c_void_p])
completion_value_raw = _fn("xproc_completion_value_raw", [c_void_p, PH, PN])
completion_uint = _fn("xproc_completion_uint", [c_void_p, S, N, PU64])
completion_bool = _fn("xproc_completion_bool", [c_void_p, S, N, PB])
completion_indices = _fn(
    "xproc_completion_indices", [c_void_p, POINTER(ctypes.c_uint8), N, PN]
)
completion_free = _fn("xproc_completion_free", [c_void_p], None)
client_defer_starts = _fn("xproc_client_defer_starts", [H, c_int])
client_flush_starts = _fn("xproc_client_flush_starts", [H])

barrier_open = _fn("xproc_barrier_open", [H, S, N, c_uint64, PH])
barrier_wait = _fn("xproc_barrier_wait", [H, T, PU64])
barrier_abort = _fn("xproc_barrier_abort", [H])
barrier_reset = _fn("xproc_barrier_reset", [H])
barrier_state = _fn("xproc_barrier_state", [H, POINTER(BarrierState)])

_string_at = ctypes.string_at


def take_bytes(ptr: c_void_p, size: c_size_t) -> bytes:
    """Copies a buffer libxproc returned into Python bytes and frees it."""
    n = size.value
    data = _string_at(ptr, n) if n else b""
    bytes_free(ptr, n)
    return data


def error_message() -> str:
    """The message of the last failed libxproc call on this thread."""
    raw = last_error()
    return raw.decode("utf-8", "replace") if raw else ""


def status_name(status: int) -> str:
    """The C name of a status, e.g. ``"XPROC_TIMEOUT"``."""
    raw = status_str(status)
    return raw.decode("ascii", "replace") if raw else f"status {status}"


def library_version() -> str:
    """libxproc's version string."""
    raw = version()
    return raw.decode("ascii", "replace") if raw else "?"


def byte_array(items: List[bytes]) -> "tuple[Any, Any]":
    """A C array of pointers and a C array of lengths for ``items`` (kept alive by the caller)."""
    count = len(items)
    ptrs = (c_char_p * count)(*items)
    lens = (c_size_t * count)(*[len(b) for b in items])
    return ptrs, lens


def optional_name(text: Optional[str]) -> "tuple[Optional[bytes], int]":
    """A (pointer, length) pair for an optional UTF-8 string argument."""
    if text is None:
        return None, 0
    raw = text.encode("utf-8")
    return raw, len(raw)


# --- The per-item calls: queue put/get and dict set/get -------------------------------------
#
# One contract, two implementations: each takes the handle's address (``handle.value``) and
# returns the libxproc status as an int, except that a successful get returns the value's
# bytes. The C module ``_speedups`` (built by pip when a compiler and Python's headers are
# there) makes each one C call that releases the GIL; the ctypes functions below are the
# fallback, and what ``XPROC_NO_SPEEDUPS=1`` selects (the tests run both).


def _ctypes_queue_put(h: int, data: bytes, ms: int) -> int:
    return int(queue_put_raw(h, data, len(data), ms))


def _ctypes_queue_get(h: int, ms: int) -> Any:
    ptr = c_void_p()
    size = c_size_t()
    status = queue_get_raw(h, ms, ptr, size)
    return status if status else take_bytes(ptr, size)


def _ctypes_queue_put_async(h: int, data: bytes) -> int:
    return int(queue_put_async_raw(h, data, len(data)))


def batch_values(b: Any) -> List[bytes]:
    """Every value of a batch (``xproc_batch_t``), copied; the batch is not freed."""
    ptr = c_void_p()
    size = c_size_t()
    out = []
    for i in range(batch_len(b)):
        batch_item(b, i, ptr, size)
        out.append(ctypes.string_at(ptr.value or 0, size.value))
    return out


def _ctypes_queue_get_many(h: int, max_items: int, ms: int) -> Any:
    b = c_void_p()
    status = queue_get_many(h, max_items, ms, b)
    if status:
        return status
    try:
        return batch_values(b)
    finally:
        batch_free(b)


def _ctypes_dict_set(h: int, key: bytes, value: bytes) -> int:
    return int(dict_set_raw(h, key, len(key), value, len(value)))


def _ctypes_dict_get(h: int, key: bytes) -> Any:
    ptr = c_void_p()
    size = c_size_t()
    status = dict_get_raw(h, key, len(key), ptr, size)
    return status if status else take_bytes(ptr, size)


def _load_speedups() -> Any:
    if os.environ.get("XPROC_NO_SPEEDUPS"):
        return None
    try:
        from . import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    address = ctypes.cast
    if hasattr(_speedups, "bind_aio"):
        _speedups.bind_aio(
            *(
                address(f, c_void_p).value
                for f in (
                    queue_get_start,
                    queue_put_start_raw,
                    client_process,
                    client_next_completion,
                    completion_status,
                    completion_value_raw,
                    completion_free,
                    client_flush_starts,
                )
            )
        )
    _speedups.bind(
        *(
            address(f, c_void_p).value
            for f in (
                queue_put_raw,
                queue_get_raw,
                dict_set_raw,
                dict_get_raw,
                bytes_free,
                queue_put_async_raw,
                queue_get_many,
                batch_len,
                batch_item,
                batch_free,
            )
        )
    )
    return _speedups


_fast = _load_speedups()
#: Whether the C module ``_speedups`` serves the per-item calls (else ctypes does).
SPEEDUPS = _fast is not None
queue_put_item: Callable[[int, bytes, int], int] = _fast.queue_put if _fast else _ctypes_queue_put
queue_get_item: Callable[[int, int], Any] = _fast.queue_get if _fast else _ctypes_queue_get
queue_put_async_item: Callable[[int, bytes], int] = (
    _fast.queue_put_async if _fast else _ctypes_queue_put_async
)
queue_get_many_items: Callable[[int, int, int], Any] = (
    _fast.queue_get_many if _fast else _ctypes_queue_get_many
)
dict_set_item: Callable[[int, bytes, bytes], int] = _fast.dict_set if _fast else _ctypes_dict_set
dict_get_item: Callable[[int, bytes], Any] = _fast.dict_get if _fast else _ctypes_dict_get


# xproc.aio's driver calls (handles as integers): start a queue get or put (the ticket, or minus
# the status), collect every finished (ticket, completion) after processing, take one
# completion (its value bytes, None, or its status; freed), flush the deferred starts.
def _ctypes_aio_get_start(h: int, ms: int) -> int:
    t = c_uint64()
    status = queue_get_start(h, ms, ctypes.byref(t))
    return -status if status else t.value


def _ctypes_aio_put_start(h: int, data: bytes, ms: int) -> int:
    t = c_uint64()
    status = queue_put_start_raw(h, data, len(data), ms, ctypes.byref(t))
    return -status if status else t.value


def _ctypes_aio_collect(h: int) -> List[Any]:
    client_process(h, None)
    out = []
    t, cmp = c_uint64(), c_void_p()
    while not client_next_completion(h, ctypes.byref(t), ctypes.byref(cmp)):
        out.append((t.value, cmp.value))
    return out


def _ctypes_aio_take(cmp: int) -> Any:
    try:
        status = completion_status(cmp)
        if status:
            return status
        ptr, size = c_void_p(), c_size_t()
        if completion_value_raw(cmp, ctypes.byref(ptr), ctypes.byref(size)):
            return None
        return _string_at(ptr, size.value)
    finally:
        completion_free(cmp)


_fast_aio = _fast if _fast is not None and hasattr(_fast, "aio_collect") else None
aio_get_start: Callable[[int, int], int] = (
    _fast_aio.aio_get_start if _fast_aio else _ctypes_aio_get_start
)
aio_put_start: Callable[[int, bytes, int], int] = (
    _fast_aio.aio_put_start if _fast_aio else _ctypes_aio_put_start
)
aio_collect: Callable[[int], List[Any]] = (
    _fast_aio.aio_collect if _fast_aio else _ctypes_aio_collect
)
aio_take: Callable[[int], Any] = _fast_aio.aio_take if _fast_aio else _ctypes_aio_take
aio_flush: Callable[[int], int] = _fast_aio.aio_flush if _fast_aio else client_flush_starts
