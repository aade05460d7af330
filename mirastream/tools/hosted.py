"""Code execution the provider hosts: `HostedCodeInterpreter`, and its pieces as stream events.

The provider runs the code in its own sandbox, within the model's turn; mirastream only
asks for the tool and shows what the provider streams about it: the code as the same
`CodeEvent` pieces as local code, framed by the same start and end markers, and its output
as the same console and image events, each with `provider_executed=True`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..chunks import HostedPiece
from ..errors import ConfigurationError
from ..events import CodeEvent, ConsoleEvent, Event, ImageEvent, MarkerEvent
from ._specs import HostedTool

__all__ = ["HostedCodeEvents", "HostedCodeInterpreter"]

ANTHROPIC_CODE_EXECUTION = "code_execution_20250825"
"""The version of Anthropic's code execution tool that `HostedCodeInterpreter` asks for."""


class HostedCodeInterpreter(HostedTool):
    """The provider's own code execution, offered to the model as a tool.

    Each encoder sends the provider's definition:

    - OpenAI Responses: `{"type": "code_interpreter", "container": {"type": "auto"}}`
      (`container`: an id or a container dict of your own);
    - Anthropic: `{"type": "code_execution_20250825", "name": "code_execution"}`;
    - Gemini: `{"code_execution": {}}`.

    Chat Completions has no hosted code execution: a prompt that offers this tool there
    raises `ConfigurationError` before any request. The code runs on the provider's servers,
    within the model's turn: no confirmation is offered (it is not ours to stop), and
    mirastream never runs it. Its code and output join the stream as the events of local
    code, with `provider_executed=True`.

    Args:
        container: the OpenAI Responses container (default `{"type": "auto"}`).
    """

    name = "code_interpreter"
    runs_code = True

    def __init__(self, *, container: str | dict[str, Any] | None = None) -> None:
        self.container: str | dict[str, Any] = {"type": "auto"} if container is None else container

    def definition(self, api: str) -> dict[str, Any]:
        """The provider's hosted code execution tool for `api` (see the class docstring)."""
        if api == "openai_responses":
            return {"type": "code_interpreter", "container": self.container}
        if api == "anthropic":
            return {"type": ANTHROPIC_CODE_EXECUTION, "name": "code_execution"}
        if api == "gemini":
            return {"code_execution": {}}
        provider = "openai" if api.startswith("openai") else api
        raise ConfigurationError(
            f"HostedCodeInterpreter: {api} has no hosted code execution (the Chat Completions API "
            "offers none); use OpenAIResponsesPrompt for OpenAI's code_interpreter, or "
            "CodeInterpreter to run the code on this machine",
            provider=provider,
        )

    def __repr__(self) -> str:
        return f"HostedCodeInterpreter(container={self.container!r})"


def _hosted(event: Event) -> Event:
    event.provider_executed = True
    return event


class HostedCodeEvents:
    """Turns `HostedPiece`s into the events of local code, in one pass (IO-free).

    Per execution: the code's start marker, its `CodeEvent` pieces and end marker, then a
    console block (start marker, console and image events, end marker), every event with
    `provider_executed=True`. An execution whose output never came still gets its (empty)
    console block at its end, so each execution reads as code that ran.
    """

    __slots__ = ("_call_id", "_code", "_console", "_language")

    def __init__(self) -> None:
        self._call_id: str | None = None
        self._language = "python"
        self._code: bool | None = None  # None: no code yet; True: block open; False: closed
        self._console: bool | None = None

    def feed(self, pieces: Iterable[HostedPiece]) -> list[Event]:
        """The events of the next pieces."""
        events: list[Event] = []
        for piece in pieces:
            if piece.call_id != self._call_id:
                events += self.finish()
                self._call_id, self._language = piece.call_id, piece.language
            kind = piece.kind
            if kind == "code":
                if piece.text and self._code is not False:
                    events += self._open_code()
                    events.append(_hosted(CodeEvent(self._language, piece.text, piece.call_id)))
            elif kind == "code_done":
                events += self._close_code()
            elif kind in ("output", "image"):
                if piece.text:
                    events += self._open_console()
                    if kind == "output":
                        events.append(_hosted(ConsoleEvent(piece.text, piece.stream)))
                    else:
                        events.append(_hosted(ImageEvent(piece.mime or "image/png", piece.text)))
            else:  # end
                events += self._open_console() + self._close_console()
                self._call_id, self._code, self._console = None, None, None
        return events

    def finish(self) -> list[Event]:
        """The end markers of what is still open (a turn that ended mid-execution)."""
        events = self._close_code()
        if self._console:
            events += self._close_console()
        self._call_id, self._code, self._console = None, None, None
        return events

    def _open_code(self) -> list[Event]:
        if self._code:
            return []
        self._code = True
        fence = f"\n```{self._language}\n"
        return [_hosted(MarkerEvent("assistant", "code", self._language, start=True, content=fence))]

    def _close_code(self) -> list[Event]:
        if not self._code:
            return []
        self._code = False
        return [_hosted(MarkerEvent("assistant", "code", self._language, start=False, content="\n```\n"))]

    def _open_console(self) -> list[Event]:
        events = self._close_code()
        if self._console is None:
            self._console = True
            events.append(_hosted(MarkerEvent("computer", "console", start=True)))
        return events

    def _close_console(self) -> list[Event]:
        if not self._console:
            return []
        self._console = False
        return [_hosted(MarkerEvent("computer", "console", start=False))]
