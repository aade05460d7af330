"""The local model for the end-to-end tests: one server for this folder, with one thread.

Without `mirastream[local]` these tests are skipped with the reason, except in CI (`CI`
set), where a missing install fails them: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mirastream.errors import MissingDependencyError
from mirastream.local import LocalServer, check_installed, shared_server


def require_local_model() -> None:
    """Skip (or in CI, fail) unless xllamacpp and the default model's packages are installed."""
    try:
        check_installed()
    except MissingDependencyError as error:
        reason = f"the local model is not installed: {error}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the local end-to-end tests)")
        pytest.skip(reason)


@pytest.fixture(scope="package")
def local_server() -> Iterator[LocalServer]:
    """The shared server `LocalPrompt` uses, started once, with one thread.

    One thread keeps decoding steady on a busy machine: llama.cpp's threads spin while
    they wait for each other.
    """
    require_local_model()
    saved = os.environ.get("MIRASTREAM_LOCAL_THREADS")
    os.environ["MIRASTREAM_LOCAL_THREADS"] = "1"
    try:
        server = shared_server()
    finally:
        if saved is None:
            del os.environ["MIRASTREAM_LOCAL_THREADS"]
        else:
            os.environ["MIRASTREAM_LOCAL_THREADS"] = saved
    assert server.threads == 1, "the shared server was made before the tests could set its threads"
    server.start()
    yield server
    server.stop()
