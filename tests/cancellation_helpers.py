"""Helpers for `test_cancellation.py`: slow and tool-call transcripts, and resource accounting.

Resource accounting reads `/proc` (Linux): this process's open file descriptors, its threads
(Python and native), its child processes and the TCP connections the SDKs hold. What belongs
to the shared loopback server (its threads and its side of each connection) is left out, so
a snapshot taken before a scenario and one taken after must be equal.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mirastream import BasePrompt

from .loopback import LoopbackServer, Recorded, Reply, transcript

PROVIDERS = ("openai", "anthropic", "gemini", "gemini-legacy")
TOOL_PROVIDERS = ("openai", "anthropic", "gemini")  # the legacy client runs no tools
API_KEY = "sk-cancellation-test"
"""A key of its own: the sync clients mirastream caches for it are this module's, to close."""

SHELL_SLEEP = "sleep 30 & echo started; wait"  # `sleep` runs by the time "started" shows
PYTHON_SLEEP = "import time\nprint('started', flush=True)\ntime.sleep(30)"

# ---------------------------------------------------------------------------------------------
# Prompt classes and replies


def connect(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every SDK at the loopback server, with this module's own API key."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)


def prompt_class(provider: str, tools: list[Any] | None = None) -> type[BasePrompt]:
    """A one-message prompt class of `provider`, with `tools` when given."""
    params: Any
    base: Any
    if provider == "openai":
        from mirastream.openai import OpenAICallParams, OpenAIPrompt

        base, params = OpenAIPrompt, OpenAICallParams(model="gpt-4o", tools=tools)
    elif provider == "anthropic":
        from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt

        base = AnthropicPrompt
        params = AnthropicCallParams(model="claude-sonnet-4-6", max_tokens=512, tools=tools)
    elif provider == "gemini":
        from mirastream.gemini import GeminiCallParams, GeminiPrompt

        base, params = GeminiPrompt, GeminiCallParams(model="gemini-2.5-flash", tools=tools)
    else:
        from mirastream.gemini import GeminiCallParams, GeminiLegacyPrompt

        assert tools is None
        base, params = GeminiLegacyPrompt, GeminiCallParams(model="gemini-2.5-flash")

    class Chef(base):  # type: ignore[misc]
        prompt_template = "USER: Recommend recipes that use {ingredient}"
        ingredient: str
        call_params = params

    return Chef


def prompt(provider: str, tools: list[Any] | None = None) -> Any:
    """An instance of `prompt_class(provider, tools)`."""
    chef: Any = prompt_class(provider, tools)
    return chef(ingredient="apples")


# Per provider: the transcript, and the index of a text event that can be repeated.
_TEXT = {
    "openai": ("openai/text.sse", 2),
    "anthropic": ("anthropic/text.sse", 4),
    "gemini": ("gemini/text.sse", 1),
}


def slow_reply(provider: str, *, repeat: int = 100, delay: float = 0.05) -> Reply:
    """A valid text stream of about `repeat` events, `delay` seconds apart (5 s by default).

    The first chunk arrives after `delay`; a client that stops reading is noticed by the
    server at its next writes, so within about `2 * delay`.
    """
    if provider == "gemini-legacy":
        from .gemini.wire import legacy_reply

        # One JSON array, one element per chunk ("[e0\n\n,e1\n\n,...\n\n]"): repeat the second.
        reply = legacy_reply("text", delay=delay)
        head, second, *tail = reply.body.split(b"\n\n,")
        reply.body = b"\n\n,".join([head, *[second] * repeat, second, *tail])
        return reply
    name, index = _TEXT[provider]
    events = transcript(name).split(b"\n\n")
    events = [*events[:index], *[events[index]] * repeat, *events[index:]]
    return Reply(b"\n\n".join(events), delay=delay)


def server_error(provider: str) -> Reply:
    """A 500 in the provider's error format (mirastream retries it after a backoff)."""
    if provider == "openai":
        return Reply.error(500, {"error": {"message": "The server had an error", "type": "server_error"}})
    if provider == "anthropic":
        return Reply.error(
            500, {"type": "error", "error": {"type": "api_error", "message": "Internal error"}}
        )
    from .gemini.wire import google_error

    return Reply.error(500, google_error(500, "INTERNAL", "Internal error"))


def tool_reply(provider: str, language: str, code: str) -> Reply:
    """`tools/<provider>_execute.sse` with the code interpreter's arguments replaced by `code`."""
    arguments = {"language": language, "code": code}
    text = transcript(f"tools/{provider}_execute.sse").decode().replace("\r\n", "\n")
    blocks = [block for block in text.split("\n\n") if block]
    out: list[str] = []
    placed = False
    for block in blocks:
        lines = block.split("\n")
        at = next(i for i, line in enumerate(lines) if line.startswith("data: "))
        if lines[at] == "data: [DONE]":
            out.append(block)
            continue
        payload = json.loads(lines[at][len("data: ") :])
        if provider == "openai":
            choices = payload["choices"]
            calls = choices[0]["delta"].get("tool_calls") if choices else None
            if calls and calls[0]["function"].get("arguments"):
                if placed:
                    continue  # the first argument delta carries them all
                calls[0]["function"]["arguments"] = json.dumps(arguments)
                placed = True
        elif provider == "anthropic":
            delta = payload.get("delta") or {}
            if delta.get("type") == "input_json_delta":
                if placed:
                    continue
                delta["partial_json"] = json.dumps(arguments)
                placed = True
        else:
            for part in payload["candidates"][0]["content"]["parts"]:
                if "functionCall" in part:
                    part["functionCall"]["args"] = arguments
                    placed = True
        lines[at] = "data: " + json.dumps(payload)
        out.append("\n".join(lines))
    assert placed, f"no code-interpreter call in tools/{provider}_execute.sse"
    return Reply(("\n\n".join(out) + "\n\n").encode())


# ---------------------------------------------------------------------------------------------
# The SDK clients mirastream caches


def _sync_caches() -> list[dict[Any, Any]]:
    from mirastream.anthropic._client import CLIENTS as ANTHROPIC
    from mirastream.gemini import _client as gemini_client
    from mirastream.gemini import _legacy
    from mirastream.openai._client import CLIENTS as OPENAI

    return [OPENAI._cache._sync, ANTHROPIC._cache._sync, gemini_client._CLIENTS._sync, _legacy._CLIENTS._sync]


def close_cached_clients() -> int:
    """Close and forget the shared sync clients made for `API_KEY`; how many there were.

    They keep idle connections on purpose (a stream read to its end returns its connection
    to the pool), so a leak check closes them before it counts.
    """
    closed = 0
    for cache in _sync_caches():
        for key in [key for key in cache if key[0] == API_KEY]:
            client = cache.pop(key)
            transport = getattr(client, "transport", None)  # the legacy GenerativeServiceClient
            (transport.close if transport is not None else client.close)()
            closed += 1
    return closed


# ---------------------------------------------------------------------------------------------
# TCP connections

_TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def server_port(server: LoopbackServer) -> int:
    port = urlsplit(server.url).port
    assert port is not None
    return port


def tcp_state(local_port: int, remote_port: int) -> str | None:
    """The state of the IPv4 TCP socket from `local_port` to `remote_port` on 127.0.0.1, if any."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == local_port and int(remote, 16) == remote_port:
            return _TCP_STATES.get(fields[3], fields[3])
    return None


def client_connected(server: LoopbackServer, request: Recorded) -> bool:
    """Whether the client's end of the connection that sent `request` is still open.

    Read from the kernel's table at once: unlike `request.disconnected`, which the server
    sets when a write fails, it does not depend on when the server writes next.
    """
    return tcp_state(request.client_port, server_port(server)) == "ESTABLISHED"


# ---------------------------------------------------------------------------------------------
# Processes


def _stat(pid: int | str) -> list[str] | None:
    """The fields of `/proc/<pid>/stat` after the command name: state, ppid, pgrp, session, ..."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants() -> dict[int, str]:
    """This process's child processes and their descendants: pid -> state (`Z`: a zombie)."""
    parents: dict[str, list[tuple[str, str]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) is not None:
            parents.setdefault(fields[1], []).append((entry.name, fields[0]))
    found: dict[int, str] = {}
    todo = [str(os.getpid())]
    while todo:
        for pid, state in parents.get(todo.pop(), []):
            found[int(pid)] = state
            todo.append(pid)
    return found


def running(pids: set[int]) -> set[int]:
    """The pids of `pids` that still run (neither gone nor zombies); reparented ones count too."""
    alive = set()
    for pid in pids:
        fields = _stat(pid)
        if fields is not None and fields[0] != "Z":
            alive.add(pid)
    return alive


# ---------------------------------------------------------------------------------------------
# Snapshots


def _is_server_thread(thread: threading.Thread) -> bool:
    """Whether `thread` is the loopback server's (its accept loop, or one for a connection),
    or mirastream's one watchdog: a daemon started once for every sync stream's first-chunk
    deadline, idle between them."""
    return thread.name.endswith(("(serve_forever)", "(process_request_thread)")) or (
        thread.name == "mirastream-watchdog"
    )


def _socket_port(fd: int) -> int | None:
    """The local TCP port of the socket `fd` (whatever its state), or `None`."""
    try:
        probe = socket.socket(fileno=os.dup(fd))
    except OSError:
        return None
    with probe:
        if probe.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        with contextlib.suppress(OSError):
            return int(probe.getsockname()[1])
    return None


def _open_fds(server_port: int) -> dict[int, str]:
    """This process's open file descriptors (fd -> what it points at), the server's sockets left out."""
    found: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the descriptor of the listing itself, closed meanwhile
        if target.startswith("socket:") and _socket_port(fd) == server_port:
            continue
        found[fd] = target
    return found


def _native_threads(python_ids: set[int | None]) -> Counter[str]:
    """This process's threads that are not Python threads, by name (as the OS names them)."""
    names: Counter[str] = Counter()
    for task in os.listdir("/proc/self/task"):
        if int(task) not in python_ids:
            with contextlib.suppress(OSError):  # ended meanwhile
                names[(Path("/proc/self/task") / task / "comm").read_text().strip()] += 1
    return names


@dataclass(frozen=True)
class Snapshot:
    """What this process holds, the loopback server's share left out."""

    fds: frozenset[tuple[int, str]]
    threads: frozenset[str]
    native_threads: Counter[str]
    children: frozenset[tuple[int, str]]

    @classmethod
    def take(cls, server: LoopbackServer, *, pools: tuple[str, ...] = ()) -> Snapshot:
        """A snapshot; Python threads whose names start with one of `pools` are left out too."""
        python_threads = threading.enumerate()
        ours = [
            t for t in python_threads if not _is_server_thread(t) and not (pools and t.name.startswith(pools))
        ]
        return cls(
            fds=frozenset(_open_fds(server_port(server)).items()),
            threads=frozenset(f"{t.name} ({t.ident})" for t in ours),
            native_threads=_native_threads({t.native_id for t in python_threads}),
            children=frozenset(descendants().items()),
        )

    def grown_since(self, before: Snapshot) -> list[str]:
        """What this snapshot holds that `before` did not (empty: nothing leaked)."""
        problems = [f"open file descriptor {fd} -> {target}" for fd, target in sorted(self.fds - before.fds)]
        problems += [f"thread {name}" for name in sorted(self.threads - before.threads)]
        problems += [
            f"{count} more native threads named {name!r}"
            for name, count in (self.native_threads - before.native_threads).items()
        ]
        problems += [
            f"child process {pid} ({'zombie' if state == 'Z' else 'running'})"
            for pid, state in sorted(self.children - before.children)
        ]
        return problems


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def settle(server: LoopbackServer, before: Snapshot, timeout: float = 2.0) -> list[str]:
    """What is still held, beyond `before`, after up to `timeout` seconds for things to wind down."""
    problems: list[str] = []

    def settled() -> bool:
        nonlocal problems
        problems = Snapshot.take(server).grown_since(before)
        return not problems

    wait_until(settled, timeout)
    return problems
