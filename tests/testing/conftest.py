"""One replay server for the package's tests, with every provider pointed at it per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mirastream.testing import ReplayServer, serve


@pytest.fixture(scope="session")
def _replay_server() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


@pytest.fixture
def replay(_replay_server: ReplayServer) -> Iterator[ReplayServer]:
    """The replay server, emptied, with every provider's environment pointed at it."""
    _replay_server.reset()
    with serve(server=_replay_server, check=False):
        yield _replay_server
    _replay_server.reset()
