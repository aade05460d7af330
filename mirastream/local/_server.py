"""The llama.cpp server that mirastream runs in this process, on a loopback port."""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .._clients import require_module
from ..errors import ConfigurationError, MissingDependencyError
from ._errors import LocalServerError
from ._model import INSTALL_HINT, LocalModel
from ._progress import Progress

THREADS_ENV = "MIRASTREAM_LOCAL_THREADS"
CONTEXT_ENV = "MIRASTREAM_LOCAL_CONTEXT"
VERBOSE_ENV = "MIRASTREAM_LOCAL_VERBOSE"
HOST = "127.0.0.1"
DEFAULT_CONTEXT = 8192
_MAX_DEFAULT_THREADS = 8


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _positive_int(value: str, variable: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigurationError(f"{variable} must be a positive whole number, not {value!r}")
    return number


def default_threads(environ: Mapping[str, str] | None = None) -> int:
    """The thread count to use when none is given.

    `MIRASTREAM_LOCAL_THREADS` if set; else 1 in CI (`CI` set) or on a machine with two
    CPUs or fewer; else half the CPUs this process may use, at most 8. llama.cpp's threads
    spin while they wait for each other, so a thread per CPU collapses as soon as anything
    else needs the CPU; half leaves room (and skips hyper-threading siblings).
    """
    env = os.environ if environ is None else environ
    explicit = env.get(THREADS_ENV, "").strip()
    if explicit:
        return _positive_int(explicit, THREADS_ENV)
    cpus = _usable_cpus()
    if env.get("CI") or cpus <= 2:
        return 1
    return min(cpus // 2, _MAX_DEFAULT_THREADS)


def check_installed(model: LocalModel | None = None) -> None:
    """Raise `MissingDependencyError` unless `mirastream[local]` and the model are installed.

    Nothing is imported or started: a quick check before offering the local model.
    """
    if importlib.util.find_spec("xllamacpp") is None:
        raise MissingDependencyError(
            f"xllamacpp is not installed; install it with: {INSTALL_HINT}", extra="local"
        )
    (model or LocalModel.from_env()).check_installed()


_PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def _keep_loopback_off_proxies() -> None:
    """Add 127.0.0.1 to `NO_PROXY` when a proxy is configured: the SDKs would send it local requests."""
    if not any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [host.strip() for host in os.environ.get(name, "").split(",") if host.strip()]
        if HOST not in hosts and "*" not in hosts:
            os.environ[name] = ",".join([*hosts, HOST])


_LIVE: weakref.WeakSet[LocalServer] = weakref.WeakSet()
# Servers inherited through fork(): their threads did not survive it, so they are never released.
_INHERITED: list[object] = []


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


class LocalServer:
    """llama.cpp's server running a local model inside this process, on 127.0.0.1.

    It speaks the OpenAI Chat Completions API (`openai_base_url`) and Anthropic's
    Messages API (`anthropic_base_url`). Nothing starts until `start()` (or the first
    stream of a prompt class that uses it); starting prepares the model file (assembling
    and checking it on first use), loads it and waits until the server answers. The
    server stops with `stop()`, at the end of a `with` block, or when the process exits.

    Every request needs `api_key` (a random key made for this server), so other programs
    and web pages on this machine cannot use it; `require_key=False` turns that off.

    Args:
        model: a `LocalModel`, a path to a GGUF file, or `None` for
            `LocalModel.from_env()` (the default model unless `MIRASTREAM_LOCAL_MODEL` is set).
        threads: CPU threads for generation; default `default_threads()`.
        context_size: the context window in tokens, shared by all slots; default
            `MIRASTREAM_LOCAL_CONTEXT` or 8192.
        parallel: how many requests are processed at once (the rest wait in a queue).
        port: the port to listen on; 0 (default) picks a free one.
        alias: the model name the server reports; default the model's `name`.
        api_key: the key clients must send; default a new random one.
        require_key: `False` serves without a key.
        cache: the cache folder for assembled models; default `cache_dir()`.
        progress: write progress lines to stderr while preparing and loading.
        verbose: show llama.cpp's own log on stderr; default `MIRASTREAM_LOCAL_VERBOSE`.
        startup_timeout: seconds to wait for the loaded server to answer.
    """

    def __init__(
        self,
        model: LocalModel | str | os.PathLike[str] | None = None,
        *,
        threads: int | None = None,
        context_size: int | None = None,
        parallel: int = 1,
        port: int = 0,
        alias: str | None = None,
        api_key: str | None = None,
        require_key: bool = True,
        cache: str | os.PathLike[str] | None = None,
        progress: bool = True,
        verbose: bool | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        if model is None:
            model = LocalModel.from_env()
        elif not isinstance(model, LocalModel):
            model = LocalModel.from_file(model)
        self.model = model
        self.threads = default_threads() if threads is None else threads
        env_context = os.environ.get(CONTEXT_ENV, "").strip()
        if context_size is None:
            context_size = _positive_int(env_context, CONTEXT_ENV) if env_context else DEFAULT_CONTEXT
        self.context_size = context_size
        self.parallel = parallel
        self.port = port
        self.alias = alias or model.name
        self._api_key = (api_key or secrets.token_urlsafe(24)) if require_key else None
        self.cache = Path(cache).expanduser() if cache is not None else None
        self.progress = progress
        self.verbose = bool(os.environ.get(VERBOSE_ENV)) if verbose is None else verbose
        self.startup_timeout = startup_timeout
        for name in ("threads", "context_size", "parallel"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"LocalServer {name} must be a positive int, not {value!r}")
        if not 0 <= port <= 65535:
            raise ConfigurationError(f"LocalServer port must be 0 to 65535, not {port!r}")
        self._lock = threading.Lock()
        self._handle: Any = None
        self._url: str | None = None
        self._pid = 0

    # State ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether this process's server is up."""
        return self._handle is not None and self._pid == os.getpid()

    @property
    def url(self) -> str:
        """The server's root URL, `http://127.0.0.1:<port>` (starts the server if needed)."""
        if not self.running:
            self.start()
        url = self._url
        if url is None:
            raise LocalServerError("the local server was stopped while it was starting")
        return url

    @property
    def openai_base_url(self) -> str:
        """The `base_url` for the OpenAI SDK and `OpenAIPrompt` (starts the server if needed)."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The `base_url` for the Anthropic SDK and `AnthropicPrompt` (starts the server if needed)."""
        return self.url

    @property
    def api_key(self) -> str | None:
        """The key clients send (`None` when `require_key=False`)."""
        return self._api_key

    def __repr__(self) -> str:
        state = f"running at {self._url}" if self.running else "stopped"
        return f"<LocalServer {self.alias} threads={self.threads} {state}>"

    # Lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalServer:
        """Start the server unless it is running; returns `self`. Safe to call from any thread.

        Raises:
            MissingDependencyError: `mirastream[local]` (xllamacpp or a model package) is missing.
            ChecksumMismatchError: the model file is not the expected one; it is not loaded.
            LocalModelError: the model file cannot be prepared.
            LocalServerError: llama.cpp could not load the model or start serving.
        """
        with self._lock:
            if self.running:
                return self
            if self._handle is not None:
                # Started before this process was forked: it does not run here.
                _INHERITED.append(self._handle)
                self._handle = self._url = None
            xllamacpp = require_module("xllamacpp", extra="local")
            progress = Progress(self.progress)
            path = self.model.prepare(self.cache, progress=progress)
            params = self._params(xllamacpp, path)
            plural = "s" if self.threads > 1 else ""
            progress.start(f"loading {self.model.name} ({self.threads} thread{plural})")
            try:
                handle = xllamacpp.Server(params)
            except RuntimeError as error:
                progress.fail()
                template = self.model.chat_template
                question = "is it a GGUF model file" + (
                    f", and can llama.cpp's Jinja engine parse the chat template {template}"
                    if template is not None
                    else ""
                )
                raise LocalServerError(
                    f"llama.cpp could not load {path} or start serving ({error}); {question}? "
                    f"Set {VERBOSE_ENV}=1 to see llama.cpp's log"
                ) from error
            url = str(handle.listening_address).rstrip("/")
            try:
                self._wait_until_healthy(url)
            except BaseException:
                progress.fail()
                del handle
                raise
            progress.done(f"serving on {url}")
            _keep_loopback_off_proxies()
            self._handle, self._url, self._pid = handle, url, os.getpid()
            _LIVE.add(self)
            return self

    async def astart(self) -> LocalServer:
        """`start()` in a worker thread, so an event loop keeps running while the model loads."""
        return await asyncio.to_thread(self.start)

    def stop(self) -> None:
        """Stop the server (it may be started again). Does nothing if it is not running."""
        with self._lock:
            handle, self._handle, self._url = self._handle, None, None
            _LIVE.discard(self)
            if handle is not None and self._pid != os.getpid():
                _INHERITED.append(handle)
        # Releasing the last reference runs llama.cpp's shutdown, which joins its threads.
        del handle

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _params(self, xllamacpp: Any, path: Path) -> Any:
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.model_alias = {self.alias}
        params.n_ctx = self.context_size
        params.n_parallel = self.parallel
        params.hostnames = [HOST]
        params.port = self.port
        params.use_jinja = True
        template = self.model.chat_template_text()
        if template is not None:
            params.chat_template = template
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.api_keys = [self._api_key] if self._api_key else []
        params.ui = False
        if hasattr(params, "cors_origins_explicit"):  # no web page may read its answers
            params.cors_origins = ""
            params.cors_origins_explicit = True
        params.verbosity = 3 if self.verbose else 0
        return params

    def _wait_until_healthy(self, url: str) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer"
        while True:
            try:
                with opener.open(f"{url}/health", timeout=5) as response:
                    if json.loads(response.read() or b"{}").get("status") == "ok":
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:  # 503 while loading
                error.close()
                last = f"HTTP {error.code}"
            except (urllib.error.URLError, OSError, ValueError) as error:
                last = str(error)
            if time.monotonic() > deadline:
                raise LocalServerError(
                    f"the local server at {url} did not become healthy in {self.startup_timeout:.0f} s "
                    f"(last answer: {last})"
                )
            time.sleep(0.1)


_shared_lock = threading.Lock()
_shared: LocalServer | None = None


def shared_server() -> LocalServer:
    """The process-wide server that `LocalPrompt` uses by default (made, not started, on first call).

    It is configured from the environment: `MIRASTREAM_LOCAL_MODEL`,
    `MIRASTREAM_LOCAL_THREADS`, `MIRASTREAM_LOCAL_CONTEXT`, `MIRASTREAM_CACHE_DIR`, ...
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LocalServer()
        return _shared
