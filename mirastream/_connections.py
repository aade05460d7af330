"""The sockets a call is reading from, so that a stop from another thread or task is prompt.

A consumer blocked in a read holds the stream's generator: `close()` called from elsewhere
cannot close it. What any thread can do is shut the socket down; the blocked read then
returns at once, the stream sees the end of its data and, knowing it was asked to stop,
ends quietly.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import Any


class Connections:
    """The sockets of one call's live responses; `abort` shuts them all down."""

    __slots__ = ("_lock", "_sockets", "aborted")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.aborted = False

    def add(self, sock: socket.socket) -> None:
        """Track `sock` (shut at once if the call was aborted already)."""
        with self._lock:
            if not self.aborted:
                self._sockets.append(sock)
                return
        shutdown_socket(sock)

    def discard(self, sock: socket.socket) -> None:
        """Stop tracking `sock` (its response was closed)."""
        with self._lock, suppress(ValueError):  # ValueError: not tracked (aborted meanwhile)
            self._sockets.remove(sock)

    def interrupt(self) -> None:
        """Shut the tracked sockets down, but not those tracked later (a retry may connect)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            shutdown_socket(sock)

    def abort(self) -> None:
        """Shut every tracked socket down, and any tracked later; safe from any thread."""
        with self._lock:
            self.aborted = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            shutdown_socket(sock)


class RequestSockets:
    """The sockets of one request: tracked by its call's `Connections` until `forget`."""

    __slots__ = ("_connections", "_sockets")

    def __init__(self, connections: Connections) -> None:
        self._connections = connections
        self._sockets: list[socket.socket] = []

    def add(self, sock: socket.socket | None) -> None:
        """Track `sock` for this request and for the call."""
        if sock is not None:
            self._sockets.append(sock)
            self._connections.add(sock)

    def add_response(self, response: Any) -> None:
        """Track the socket an httpx response arrived on."""
        self.add(socket_of(response))

    def shut_down(self) -> None:
        """Shut the request's sockets down: a thread blocked on one of them returns at once."""
        for sock in self._sockets:
            shutdown_socket(sock)

    def forget(self) -> None:
        """Stop tracking the sockets: a finished request's connection may go back to the pool."""
        while self._sockets:
            self._connections.discard(self._sockets.pop())


def shutdown_socket(sock: socket.socket) -> None:
    """Shut `sock` down for reading and writing; a thread blocked on it returns at once."""
    # OSError: closed already, or never connected; there is nothing left to stop.
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def socket_of(response: Any) -> socket.socket | None:
    """The socket an httpx response arrived on, if its transport tells (httpcore's `network_stream`)."""
    stream = response.extensions.get("network_stream")
    return None if stream is None else stream.get_extra_info("socket")
