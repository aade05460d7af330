"""SDK loading, API-key checks and client reuse, shared by every provider."""

from __future__ import annotations

import importlib
import os
import threading
import weakref
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import MissingAPIKeyError, MissingDependencyError

ClientT = TypeVar("ClientT")

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def require_module(module: str, *, extra: str) -> ModuleType:
    """Import an optional SDK, or explain which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f'{module} is not installed; install it with: pip install "mirastream[{extra}]"',
            extra=extra,
        ) from error


def is_loopback(url: str) -> bool:
    """Whether `url` points at this machine (a local server rarely wants a key)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def resolve_api_key(
    explicit: str | None,
    *,
    env_var: str,
    default_env_var: str,
    provider: str,
    owner: str,
    base_url: str | None,
    class_base_url: bool,
    home_host: str,
) -> str:
    """The API key to use: `explicit`, else the environment variable `env_var`.

    The provider's own variable (`default_env_var`) is never sent to a `base_url` that a
    class points at another host: such a class names its key with `api_key` or `api_key_env`.
    A server on a loopback address gets a placeholder key when none is set, since local
    OpenAI-compatible servers usually need none.

    Raises:
        MissingAPIKeyError: no usable key; the message says what to set.
    """
    if explicit:
        return explicit
    foreign = (
        class_base_url
        and env_var == default_env_var
        and base_url is not None
        and (urlsplit(base_url).hostname or "").lower() != home_host
    )
    if not foreign:
        key = os.environ.get(env_var)
        if key:
            return key
    if base_url is not None and is_loopback(base_url):
        return "no-key-needed"
    if foreign:
        raise MissingAPIKeyError(
            f"{owner} sets base_url = {base_url!r}, and mirastream never sends {default_env_var} to "
            f"another host: set `api_key` on {owner}, or `api_key_env` to the environment variable "
            "that holds this server's key (for example DASHSCOPE_API_KEY)",
            provider=provider,
            env_var=None,
        )
    raise MissingAPIKeyError(
        f"no {provider} API key: set the {env_var} environment variable, or set `api_key` "
        f"(or a configured `client`) on {owner}",
        provider=provider,
        env_var=env_var,
    )


class ClientCache:
    """Keeps SDK clients for reuse, so every stream shares one connection pool.

    Sync clients are kept per settings; async clients per settings *and* event loop, since
    an async connection pool cannot outlive the loop it was made in.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: dict[Hashable, Any] = {}
        self._async: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = weakref.WeakKeyDictionary()

    def sync_client(self, key: Hashable, factory: Callable[[], ClientT]) -> ClientT:
        """The sync client for `key`, made by `factory` on first use."""
        with self._lock:
            client = self._sync.get(key)
            if client is None:
                client = self._sync[key] = factory()
            return client

    def async_client(self, key: Hashable, factory: Callable[[], ClientT]) -> ClientT:
        """The async client for `key` in the running event loop, made on first use."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            clients = self._async.get(loop)
            if clients is None:
                clients = self._async[loop] = {}
            client = clients.get(key)
            if client is None:
                client = clients[key] = factory()
            return client
