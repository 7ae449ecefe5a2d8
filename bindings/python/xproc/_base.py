"""What every broker object shares: its handle's life (open, close, reopen after ``fork``),
its pickling, its name and its repr.

Each object (``Queue``, ``Dict``, ``Lock``, ...) keeps its C handle in ``_h`` and opens it
through ``_open(client_handle)``. A call reads ``_h`` into a local first; ``None`` means the
object was closed (or its client was) — or that this process is a ``fork`` of the one that
opened it, in which case ``_revive`` reopens it on a fresh connection (multiprocessing's
manager proxies behave the same way), so queues and locks handed to ``Process`` workers just
work.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Tuple

from ._errors import raise_for

if TYPE_CHECKING:  # pragma: no cover
    from ._client import Client

# Serialises reopening (a slow path: only after fork or on first use of an unpickled object).
_revive_lock = threading.RLock()


def reset_locks_after_fork() -> None:
    """Called in a forked child: another thread of the parent may have held the lock."""
    global _revive_lock
    _revive_lock = threading.RLock()


class BrokerObject:
    """Base of every object that lives in the broker under a name.

    ``name`` is the object's name; ``client`` the :class:`~xproc.Client` it was opened on.
    Objects pickle as (socket path, kind, name, options): unpickled in another process, they
    open the same object there on that process's shared connection to the broker.
    """

    #: The wire kind (``"queue"``, ``"dict"``, ...), for messages.
    kind: str = "object"

    def __init__(self, client: "Client", name: str, options: Tuple[Any, ...]) -> None:
        if not isinstance(name, str):
            raise TypeError(f"an object name must be a str, not {type(name).__name__}")
        self.name = name
        self.client = client
        self._name_b = name.encode("utf-8")
        self._options = options
        self._closed = False
        self._h: Any = None
        self._h = self._open(client._handle())
        client._adopt(self)

    # ---------------------------------------------------------------- handle life

    def _open(self, client_handle: Any) -> Any:
        """Opens the object on ``client_handle``; returns its new handle (raises on failure)."""
        raise NotImplementedError

    def _call_open(self, fn: Any, handle_cls: Any, client_handle: Any, *options: Any) -> Any:
        h = handle_cls()
        status = fn(client_handle, self._name_b, len(self._name_b), *options, h)
        if status:
            raise_for(status)
        return h

    def _revive(self) -> Any:
        """The handle for a call when ``_h`` is ``None``: reopens after a fork, else raises
        the "closed" error."""
        with _revive_lock:
            h = self._h
            if h is not None:
                return h
            if self._closed or self.client._closed:
                raise self._closed_error()
            self._h = self._open(self.client._handle())
            return self._h

    def _closed_error(self) -> Exception:
        return ValueError(f"{self!r} is closed")

    def _detach(self, closed: bool) -> None:
        """Drops the handle (freed once no call uses it any more). ``closed``: for good;
        otherwise (after fork) it is reopened on next use."""
        if closed:
            self._closed = True
        self._h = None

    def close(self) -> None:
        """Releases this handle (the object stays in the broker; see ``Client.delete``).
        Later calls on this handle raise ``ValueError``. Closing twice is harmless."""
        self._detach(True)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (on this object or on its client)."""
        return self._closed or self.client._closed

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------- identity

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<xproc.{type(self).__name__} {self.name!r}{state}>"

    def __reduce__(self) -> Any:
        from ._client import _rebuild

        return _rebuild, (self.client.path, type(self).__name__, self.name, self._options)
