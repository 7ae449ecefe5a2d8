"""Fixtures for the xproc Python tests: a real ``xprocd`` per test module, clients, names.

The package is imported from this checkout (``bindings/python``) unless
``XPROC_TEST_INSTALLED=1`` says it was installed (``run_tests.sh --installed``); libxproc is
found as the package finds it (``$XPROC_LIB``, bundled, or the workspace's ``target/``).
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Iterator, List

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get("XPROC_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from support import Broker  # noqa: E402

import xproc  # noqa: E402


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """A broker for the whole test module."""
    b = Broker()
    yield b
    status = b.stop()
    assert status == 0, f"xprocd exited with {status}; its log:\n{b.log()}"


@pytest.fixture
def client(broker: Broker) -> Iterator[xproc.Client]:
    """A connection to the module's broker, closed after the test."""
    c = xproc.connect(broker.path)
    yield c
    c.close()


@pytest.fixture
def connect(broker: Broker) -> Iterator[Callable[[], xproc.Client]]:
    """A factory of further connections to the module's broker (each closed after the
    test): for tests where ownership per connection matters."""
    made: List[xproc.Client] = []

    def make() -> xproc.Client:
        c = xproc.connect(broker.path)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """An object name unique to this test (tests of a module share one broker)."""
    return request.node.name.replace("[", "-").replace("]", "")[:200]
