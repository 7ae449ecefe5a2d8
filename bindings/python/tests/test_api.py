"""The public surface: every public name has a docstring and type hints, ``py.typed`` ships,
and the factories keep multiprocessing's signatures."""

from __future__ import annotations

import inspect
import os

import pytest

import xproc

PUBLIC = [getattr(xproc, n) for n in xproc.__all__ if not n.startswith("__")]


def _members(cls):
    """Public methods and properties of ``cls`` defined by xproc (inherited ones included)."""
    seen = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("xproc"):
            continue
        for name, member in vars(klass).items():
            if name in seen or name.startswith("_"):
                continue
            if inspect.isfunction(member) or isinstance(member, property):
                seen.add(name)
                yield name, member


@pytest.mark.parametrize(
    "obj",
    [o for o in PUBLIC if inspect.isclass(o) or inspect.isfunction(o)],
    ids=lambda o: o.__name__,
)
def test_every_public_name_has_a_docstring(obj):
    assert inspect.getdoc(obj), f"{obj.__name__} has no docstring"
    if inspect.isclass(obj):
        for name, member in _members(obj):
            assert inspect.getdoc(member), f"{obj.__name__}.{name} has no docstring"


@pytest.mark.parametrize(
    "obj",
    [o for o in PUBLIC if inspect.isclass(o) or inspect.isfunction(o)],
    ids=lambda o: o.__name__,
)
def test_every_public_callable_has_type_hints(obj):
    funcs = [("", obj)] if inspect.isfunction(obj) else list(_members(obj))
    for name, f in funcs:
        f = f.fget if isinstance(f, property) else f
        sig = inspect.signature(f)
        assert sig.return_annotation is not inspect.Signature.empty, f"{obj.__name__}.{name}"
        for p in sig.parameters.values():
            if p.name != "self":
                assert p.annotation is not inspect.Parameter.empty, (
                    f"{obj.__name__}.{name}({p.name})"
                )


def test_py_typed_ships():
    assert os.path.isfile(os.path.join(os.path.dirname(xproc.__file__), "py.typed"))


def test_signatures_follow_the_standard_library():
    def params(f):
        return list(inspect.signature(f).parameters)[1:]

    assert params(xproc.Queue.put) == ["obj", "block", "timeout"]
    assert params(xproc.Queue.get) == ["block", "timeout"]
    assert params(xproc.Lock.acquire) == ["block", "timeout"]
    assert params(xproc.Semaphore.release) == ["n"]
    assert params(xproc.Condition.wait_for) == ["predicate", "timeout"]
    assert params(xproc.Condition.notify) == ["n"]
    assert params(xproc.Connection.poll) == ["timeout"]
    assert params(xproc.Barrier.wait) == ["timeout"]
    assert params(xproc.Event.wait) == ["timeout"]
