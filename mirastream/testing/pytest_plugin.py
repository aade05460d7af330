"""A pytest fixture for `mirastream.testing`, registered only when a test suite asks for it.

Add this line to your top-level `conftest.py` (or to a test module):

```python
pytest_plugins = ["mirastream.testing.pytest_plugin"]
```

Tests then take the `mirastream_server` fixture: one `ReplayServer` for the whole session,
emptied before each test, with every provider pointed at it (and the environment restored)
for the length of the test. A test that passed is failed at teardown if a request found no
reply or a queued reply was left unused.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from ._serve import serve
from ._server import ReplayServer

__all__ = ["mirastream_server"]

_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test itself passed, for the fixture's final check."""
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    return report


@pytest.fixture(scope="session")
def _mirastream_replay_server() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


@pytest.fixture
def mirastream_server(
    _mirastream_replay_server: ReplayServer, request: pytest.FixtureRequest
) -> Iterator[ReplayServer]:
    """A running `ReplayServer` that every provider's prompt classes talk to in this test."""
    server = _mirastream_replay_server
    server.reset()
    with serve(server=server, check=False):
        yield server
    try:
        if request.node.stash.get(_PASSED, False):
            server.check()
    finally:
        server.reset()
