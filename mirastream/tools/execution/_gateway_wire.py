"""What talking to a Jupyter gateway needs besides IO: addresses, messages, routing, errors.

A Jupyter Kernel Gateway (or Enterprise Gateway) speaks the Jupyter server's kernel API:
`POST /api/kernels` starts a kernel, `POST /api/kernels/{id}/interrupt` interrupts it,
`DELETE /api/kernels/{id}` ends it, and one WebSocket, `/api/kernels/{id}/channels`,
carries every channel's messages as JSON text, each naming its `channel`. The token goes
in `Authorization: token <token>`. Everything here is IO-free: `_gateway_child` does the
IO, in either world.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from ...errors import ConfigurationError
from ._errors import SessionStartError
from ._jupyter_decode import message_type

Message = dict[str, Any]
Channel = Literal["iopub", "shell"]

PROTOCOL_VERSION = "5.3"
_KERNEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ENDED_STATES = {
    "dead": "the gateway reports the kernel dead",
    "restarting": "the gateway restarted the kernel",
    "autorestarting": "the gateway restarted the kernel",
}


class GatewayError(SessionStartError):
    """A Jupyter gateway could not give the session a kernel.

    Raised when the gateway cannot be reached, refuses the token (HTTP 401 or 403), answers
    with another error, or sends what is not the Jupyter protocol. The message names the
    gateway's URL (never the token) and the cause.

    Attributes:
        url: the gateway's URL, as given.
        status_code: the HTTP status the gateway answered with, if it answered.
    """

    def __init__(self, message: str, *, url: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status_code = status_code


@dataclass(frozen=True)
class Gateway:
    """Where a gateway is and how to authenticate to it (checked when made)."""

    url: str
    token: str | None = field(default=None, repr=False)
    kernel_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str):
            raise ConfigurationError(f"the gateway URL must be a str, not {type(self.url).__name__}")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"the gateway URL must be an http:// or https:// URL with a host, not {self.url!r}"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigurationError(
                f"the gateway URL takes no query, fragment or credentials (pass gateway_token): {self.url!r}"
            )
        _check_text("gateway_token", self.token)
        _check_text("kernel_name", self.kernel_name)

    @property
    def base(self) -> str:
        """The URL without a trailing slash."""
        return self.url.rstrip("/")

    @property
    def headers(self) -> dict[str, str]:
        """The headers of every request (the token, when there is one)."""
        return {"Authorization": f"token {self.token}"} if self.token else {}

    @property
    def kernels_url(self) -> str:
        """`POST` here starts a kernel."""
        return f"{self.base}/api/kernels"

    def kernel_url(self, kernel_id: str) -> str:
        """`DELETE` here ends the kernel; `/interrupt` under it interrupts it."""
        return f"{self.kernels_url}/{quote(kernel_id, safe='')}"

    def channels_url(self, kernel_id: str, session_id: str) -> str:
        """The kernel's WebSocket (`ws://` or `wss://`)."""
        scheme = "wss" if self.base.startswith("https:") else "ws"
        rest = self.kernel_url(kernel_id).split(":", 1)[1]
        return f"{scheme}:{rest}/channels?session_id={quote(session_id, safe='')}"

    def start_body(self) -> dict[str, str]:
        """The body of `POST /api/kernels`: the gateway's default kernel unless one is named."""
        return {"name": self.kernel_name} if self.kernel_name else {}


def _check_text(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value or any(ch in value for ch in "\r\n\0"):
        raise ConfigurationError(f"{name} must be a non-empty str on one line, or None")


def request(msg_type: str, content: Mapping[str, Any], session_id: str) -> tuple[str, str]:
    """A shell-channel request as the WebSocket's JSON text; its `msg_id` and the text."""
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "username": "mirastream",
        "session": session_id,
        "date": datetime.now(timezone.utc).isoformat(),
        "version": PROTOCOL_VERSION,
    }
    message = {
        "header": header,
        "parent_header": {},
        "metadata": {},
        "content": dict(content),
        "channel": "shell",
        "buffers": [],
    }
    return msg_id, json.dumps(message)


def execute_request(code: str, *, silent: bool) -> dict[str, Any]:
    """The content of an `execute_request`: no stdin, every cell run even after an error."""
    return {
        "code": code,
        "silent": silent,
        "store_history": not silent,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": False,
    }


class Inbox:
    """The messages received and not taken yet, per channel; notes the kernel's end.

    The gateway multiplexes all channels on one socket: a wait for one channel keeps what
    arrives for the other. Messages of channels the session does not use (`stdin`,
    `control`) and binary frames (messages with buffers: comms, widgets) are dropped.
    """

    __slots__ = ("_queues", "ended", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self._queues: dict[str, deque[Message]] = {"iopub": deque(), "shell": deque()}
        self.ended: str | None = None
        """Why the kernel is gone (the gateway said it died or restarted it), once it is."""

    def take(self, channel: Channel) -> Message | None:
        """The oldest message of `channel` received so far, if any."""
        queue = self._queues[channel]
        return queue.popleft() if queue else None

    def put(self, frame: str | bytes) -> None:
        """Keep one WebSocket message for its channel.

        Raises:
            GatewayError: the text is not a Jupyter message.
        """
        if isinstance(frame, bytes):
            return
        try:
            message = json.loads(frame)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("channel"), str):
            raise GatewayError(
                f"the Jupyter gateway at {self.url} sent a message that is not a Jupyter message: "
                f"{frame[:200]!r}",
                url=self.url,
            )
        channel = message["channel"]
        if channel == "iopub" and message_type(message) == "status":
            content = message.get("content")
            state = content.get("execution_state") if isinstance(content, dict) else None
            if isinstance(state, str) and state in _ENDED_STATES:
                self.ended = self.ended or _ENDED_STATES[state]
        queue = self._queues.get(channel)
        if queue is not None:
            queue.append(message)

    def clear(self) -> None:
        """Drop what is waiting (answers to earlier requests)."""
        for queue in self._queues.values():
            queue.clear()


def unreachable(url: str, error: BaseException) -> GatewayError:
    """The error for a gateway that could not be reached (refused, timed out, bad TLS, ...)."""
    cause = str(error) or type(error).__name__
    return GatewayError(f"cannot reach the Jupyter gateway at {url}: {cause}", url=url)


def refused(url: str, what: str, status: int, body: str, *, token: bool) -> GatewayError:
    """The error for an HTTP error status the gateway answered `what` with."""
    if status in (401, 403):
        hint = "check gateway_token" if token else "it needs a token: pass gateway_token"
        return GatewayError(
            f"the Jupyter gateway at {url} refused the token (HTTP {status}) when asked to {what}; {hint}",
            url=url,
            status_code=status,
        )
    detail = _error_detail(body)
    return GatewayError(
        f"the Jupyter gateway at {url} answered HTTP {status} when asked to {what}"
        + (f": {detail}" if detail else ""),
        url=url,
        status_code=status,
    )


def _error_detail(body: str) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body.strip()[:300]
    if isinstance(payload, dict):
        parts = [str(payload[key]) for key in ("reason", "message") if payload.get(key)]
        return ": ".join(parts)[:300]
    return body.strip()[:300]


def kernel_id_of(url: str, body: str) -> str:
    """The id of the kernel that `POST /api/kernels` started.

    Raises:
        GatewayError: the answer is not a kernel model with a usable id.
    """
    try:
        model = json.loads(body)
    except ValueError:
        model = None
    kernel_id = model.get("id") if isinstance(model, dict) else None
    if not isinstance(kernel_id, str) or not _KERNEL_ID.match(kernel_id):
        raise GatewayError(
            f"the Jupyter gateway at {url} started a kernel but its answer names no kernel id: "
            f"{body[:200]!r}",
            url=url,
        )
    return kernel_id
