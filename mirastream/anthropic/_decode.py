"""The IO-free decoder of Messages API event streams.

Hosted code execution (the code execution tool) is read into `chunk.hosted`: a
`server_tool_use` block named `code_execution` (Python, its `code`) or `bash_code_execution`
(shell, its `command`) streams its code as its input arrives (`input_json_delta`), complete
at the block's end; a `code_execution_tool_result` / `bash_code_execution_tool_result` block
gives its stdout, stderr, a non-zero return code, the files it wrote and errors, then its end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._accumulate import ChoiceAccumulator, ResponseAccumulator
from .._payload import Fields, parse_object, to_json
from .._sse import RawEvent
from ..chunks import ChunkFields, HostedPiece, ToolCallDelta
from ..errors import MalformedStreamError, StreamInterrupted
from ..messages import ThinkingBlock, parse_arguments
from ..responses import Choice, FinishReason, Response, Usage
from ._errors import error_from_event
from .chunk import AnthropicResponseChunk

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..tools._json_fields import JSONFieldStream

_PROVIDER = "anthropic"
_FIELDS = Fields(_PROVIDER)

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "paused",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Server tools that run code: their language, and the input field that holds the code.
_CODE_TOOLS = {"code_execution": ("python", "code"), "bash_code_execution": ("shell", "command")}
_CODE_RESULTS = frozenset({"code_execution_tool_result", "bash_code_execution_tool_result"})

_INPUT_FIELDS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class _UsageAccumulator:
    """Token counts of one message, as `message_start` and `message_delta` report them.

    `message_start` gives the input counts; every `message_delta` gives cumulative counts
    that replace earlier ones (output tokens always, input counts when present).
    """

    __slots__ = ("counts", "thinking_tokens")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.thinking_tokens: int | None = None

    def update(self, usage: dict[str, Any]) -> None:
        for field in (*_INPUT_FIELDS, "output_tokens"):
            value = _FIELDS.count(usage.get(field), f"usage.{field}")
            if value is not None:
                self.counts[field] = value
        details = _FIELDS.object(usage.get("output_tokens_details"), "usage.output_tokens_details")
        thinking = _FIELDS.count(
            details.get("thinking_tokens"), "usage.output_tokens_details.thinking_tokens"
        )
        if thinking is not None:
            self.thinking_tokens = thinking

    def build(self) -> Usage:
        counts = self.counts
        input_tokens = sum(counts.get(field, 0) for field in _INPUT_FIELDS)
        output_tokens = counts.get("output_tokens", 0)
        return Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
            cached_input_tokens=counts.get("cache_read_input_tokens"),
            reasoning_tokens=self.thinking_tokens,
        )


class _Block:
    """A content block that has started: its kind, and what the decoder keeps of it.

    A `tool_use` block keeps its call's ordinal in the turn and its starting input; a
    `thinking` block its text and signature, a `redacted_thinking` block its data, so that
    both can be sent back with the turn's tool calls.
    """

    __slots__ = (
        "code",
        "data",
        "hosted_id",
        "kind",
        "language",
        "ordinal",
        "partial",
        "signature",
        "start",
        "start_input",
        "streamed",
        "text_span",
        "thinking",
    )

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.hosted_id = ""  # a server tool that runs code: its id, language and code field
        self.language = "python"
        self.code: JSONFieldStream | None = None
        self.ordinal = 0
        self.start_input: dict[str, Any] | None = None
        self.streamed = False
        self.thinking: list[str] = []
        self.signature = ""
        self.data = ""
        self.start: dict[str, Any] = {}  # the block as content_block_start gave it
        self.text_span = (0, 0)  # a text block: its pieces in the choice's text
        self.partial: list[str] = []  # a server tool's input, as it streamed

    def thinking_block(self) -> ThinkingBlock:
        if self.kind == "redacted_thinking":
            return ThinkingBlock(provider=_PROVIDER, type="redacted_thinking", data=self.data)
        return ThinkingBlock(provider=_PROVIDER, thinking="".join(self.thinking), signature=self.signature)


class AnthropicDecoder:
    """Decodes Messages API events into `AnthropicResponseChunk` objects.

    `ping` events and event types it does not know are skipped; an `error` event raises a
    typed error, and an event of the wrong shape (a delta for a content block that never
    started, a field of the wrong type) a `MalformedStreamError`. Tool calls are numbered in
    the order they start, whatever their content block index; thinking blocks are kept, with
    their signatures, for the next request of a tool loop. At the end it checks that the
    message finished: `message_stop`, or a `message_delta` with its stop reason.
    """

    __slots__ = (
        "_acc",
        "_blocks",
        "_choice",
        "_done",
        "_hosted_languages",
        "_server_blocks",
        "_stopped",
        "_thinking_blocks",
        "_tool_count",
        "_usage",
    )

    def __init__(self) -> None:
        self._acc = ResponseAccumulator(_PROVIDER)
        self._choice: ChoiceAccumulator = self._acc.choice(0)
        self._usage = _UsageAccumulator()
        self._blocks: dict[int, _Block] = {}
        self._thinking_blocks: list[_Block] = []
        self._tool_count = 0
        self._hosted_languages: dict[str, str] = {}  # hosted code executions' languages, by id
        self._server_blocks = False  # server tools ran: the turn goes back block for block
        self._done = False  # message_stop arrived: nothing after it counts
        self._stopped = False  # a message_delta gave the stop reason: the message is whole

    @property
    def text(self) -> str:
        return self._acc.text

    def feed(self, event: RawEvent) -> AnthropicResponseChunk | None:
        name, data = event
        if self._done or name == "ping" or not data:
            return None
        if name == "error" and not data.startswith(b"{"):
            message = data.decode(errors="replace")
            raise error_from_event({"type": "error", "error": {"type": "", "message": message}})
        payload = parse_object(data, _PROVIDER)
        event_type = payload.get("type")
        if name == "error" or event_type == "error":
            raise error_from_event(payload)
        if event_type == "content_block_delta":
            delta = payload.get("delta")
            index = payload.get("index")
            if (
                type(delta) is dict
                and delta.get("type") == "text_delta"
                and type(index) is int
                and index in self._blocks
            ):
                # The hot path: one piece of text, in a block that has started.
                text = delta.get("text")
                if type(text) is not str:
                    text = _FIELDS.text(text, "content_block_delta.delta.text")
                self._choice.text.append(text)
                acc = self._acc
                return AnthropicResponseChunk(payload, event_type, acc.model, acc.id, content=text)
            return self._block_delta(payload)
        if event_type == "content_block_start":
            return self._block_start(payload)
        if event_type == "content_block_stop":
            return self._block_stop(payload)
        if event_type == "message_start":
            return self._message_start(payload)
        if event_type == "message_delta":
            return self._message_delta(payload)
        if event_type == "message_stop":
            self._done = True
            return self._chunk(payload, "message_stop")
        return None  # `ping` without its event name, or an event type newer than this decoder

    def _chunk(
        self, payload: dict[str, Any], event_type: str, **fields: Unpack[ChunkFields]
    ) -> AnthropicResponseChunk:
        acc = self._acc
        return AnthropicResponseChunk(payload, event_type, acc.model, acc.id, **fields)

    def _message_start(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        message = _object(payload, "message")
        acc = self._acc
        acc.id = _FIELDS.optional_text(message.get("id"), "message_start.message.id")
        acc.model = _FIELDS.optional_text(message.get("model"), "message_start.message.model")
        usage = message.get("usage")
        if usage is not None:
            self._usage.update(_FIELDS.object(usage, "message_start.message.usage"))
            acc.usage = self._usage.build()  # the input counts, kept if the stream breaks
        return self._chunk(payload, "message_start")

    def _block_start(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        block = _object(payload, "content_block")
        index = _index(payload)
        kind = _FIELDS.text(block.get("type"), "content_block_start.content_block.type")
        started = self._blocks[index] = _Block(kind)
        started.start = block
        choice = self._choice
        if kind == "text":
            text = _FIELDS.text(block.get("text"), "content_block_start.content_block.text")
            begin = len(choice.text)
            if text:
                choice.text.append(text)
            started.text_span = (begin, -1)
            return self._chunk(payload, "content_block_start", content=text)
        if kind == "thinking":
            thinking = _FIELDS.text(block.get("thinking"), "content_block_start.content_block.thinking")
            started.signature = _FIELDS.text(
                block.get("signature"), "content_block_start.content_block.signature"
            )
            self._thinking_blocks.append(started)
            if thinking:
                started.thinking.append(thinking)
                choice.thinking.append(thinking)
            return self._chunk(payload, "content_block_start", thinking=thinking)
        if kind == "redacted_thinking":
            started.data = _FIELDS.text(block.get("data"), "content_block_start.content_block.data")
            self._thinking_blocks.append(started)
            return self._chunk(payload, "content_block_start")
        if kind == "tool_use":
            started.ordinal = ordinal = self._tool_count
            self._tool_count += 1
            start_input = block.get("input")
            started.start_input = start_input if isinstance(start_input, dict) else None
            call = choice.tool_call(ordinal)
            call.id = _FIELDS.optional_text(block.get("id"), "content_block_start.content_block.id")
            call.name = _FIELDS.text(block.get("name"), "content_block_start.content_block.name")
            piece = ToolCallDelta(ordinal, call.id, call.name, "")
            return self._chunk(payload, "content_block_start", tool_calls=(piece,))
        if kind == "server_tool_use" or kind.endswith("_tool_result"):
            self._server_blocks = True
        if kind == "server_tool_use":
            self._server_tool(started, block)
        elif kind in _CODE_RESULTS:
            return self._chunk(payload, "content_block_start", hosted=self._code_result(block))
        return self._chunk(payload, "content_block_start")

    # Hosted code execution ---------------------------------------------------------------

    def _server_tool(self, started: _Block, block: dict[str, Any]) -> None:
        """A server tool starts: if it runs code, its code is read from its input."""
        name = block.get("name")
        if name not in _CODE_TOOLS:
            return  # web search and the other server tools
        from ..tools._json_fields import JSONFieldStream

        started.language, field = _CODE_TOOLS[name]
        started.hosted_id = _FIELDS.text(block.get("id"), "content_block_start.content_block.id")
        started.code = JSONFieldStream((field,))
        self._hosted_languages[started.hosted_id] = started.language
        start_input = block.get("input")
        started.start_input = start_input if isinstance(start_input, dict) and start_input else None

    def _code_pieces(self, block: _Block, deltas: list[Any]) -> tuple[HostedPiece, ...]:
        return tuple(
            HostedPiece("code", block.hosted_id, delta.text, language=block.language)
            for delta in deltas
            if delta.text
        )

    def _code_result(self, block: dict[str, Any]) -> tuple[HostedPiece, ...]:
        """A code execution's result block: its output pieces, then its end."""
        where = f"content_block_start.{block.get('type')}"
        call_id = _FIELDS.text(block.get("tool_use_id"), f"{where}.tool_use_id")
        language = self._hosted_languages.get(call_id, "python")
        content = _FIELDS.object(block.get("content"), f"{where}.content")
        pieces: list[HostedPiece] = []

        def output(text: str, stream: Any = "stdout") -> None:
            if text:
                pieces.append(HostedPiece("output", call_id, text, language=language, stream=stream))

        output(_FIELDS.optional_text(content.get("stdout"), f"{where}.content.stdout") or "")
        output(_FIELDS.optional_text(content.get("stderr"), f"{where}.content.stderr") or "", "stderr")
        code = content.get("return_code")
        if type(code) is int and code != 0:
            output(f"[return code {code}]\n", "stderr")
        error = content.get("error_code")
        if isinstance(error, str):
            output(f"[error: {error}]\n", "stderr")
        for item in _FIELDS.array(content.get("content"), f"{where}.content.content"):
            file_id = _FIELDS.object(item, f"{where}.content.content[]").get("file_id")
            if isinstance(file_id, str):
                output(f"[file: {file_id}]\n")
        pieces.append(HostedPiece("end", call_id, language=language))
        return tuple(pieces)

    def _started(self, payload: dict[str, Any]) -> _Block:
        index = _index(payload)
        block = self._blocks.get(index)
        if block is None:
            raise MalformedStreamError(
                f"anthropic sent a {payload.get('type')} event for content block {index}, "
                "which never started",
                provider=_PROVIDER,
            )
        return block

    def _block_delta(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        delta = _object(payload, "delta")
        block = self._started(payload)
        kind = delta.get("type")
        if kind == "text_delta":
            text = _FIELDS.text(delta.get("text"), "content_block_delta.delta.text")
            self._choice.text.append(text)
            return self._chunk(payload, "content_block_delta", content=text)
        if kind == "thinking_delta":
            thinking = _FIELDS.text(delta.get("thinking"), "content_block_delta.delta.thinking")
            self._choice.thinking.append(thinking)
            block.thinking.append(thinking)
            return self._chunk(payload, "content_block_delta", thinking=thinking)
        if kind == "signature_delta":
            block.signature += _FIELDS.text(delta.get("signature"), "content_block_delta.delta.signature")
            return self._chunk(payload, "content_block_delta")
        if kind == "input_json_delta":
            arguments = _FIELDS.text(delta.get("partial_json"), "content_block_delta.delta.partial_json")
            if block.code is not None and arguments:  # hosted code, as the model writes it
                block.streamed = True
                block.partial.append(arguments)
                hosted = self._code_pieces(block, block.code.feed(arguments))
                return self._chunk(payload, "content_block_delta", hosted=hosted)
            if block.kind != "tool_use" or not arguments:  # a server tool's input, or an empty piece
                if arguments:
                    block.partial.append(arguments)
                return self._chunk(payload, "content_block_delta")
            block.streamed = True
            self._choice.tool_call(block.ordinal).arguments.append(arguments)
            piece = ToolCallDelta(block.ordinal, None, None, arguments)
            return self._chunk(payload, "content_block_delta", tool_calls=(piece,))
        # citations_delta and newer kinds carry no text for the consumer.
        return self._chunk(payload, "content_block_delta")

    def _block_stop(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        block = self._started(payload)
        if block.kind == "text":
            block.text_span = (block.text_span[0], len(self._choice.text))
        if block.code is not None:  # hosted code: complete (its whole input if none streamed)
            code = block.code
            deltas = (
                code.feed(to_json(block.start_input, _PROVIDER))
                if not block.streamed and block.start_input
                else []
            )
            pieces = self._code_pieces(block, [*deltas, *code.finish()])
            done = HostedPiece("code_done", block.hosted_id, language=block.language)
            return self._chunk(payload, "content_block_stop", hosted=(*pieces, done))
        if block.kind != "tool_use" or block.streamed or not block.start_input:
            return self._chunk(payload, "content_block_stop")
        # Some compatible servers send the whole input on content_block_start and no deltas.
        block.streamed = True
        arguments = to_json(block.start_input, _PROVIDER)
        self._choice.tool_call(block.ordinal).arguments.append(arguments)
        piece = ToolCallDelta(block.ordinal, None, None, arguments)
        return self._chunk(payload, "content_block_stop", tool_calls=(piece,))

    def _message_delta(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        delta = _object(payload, "delta")
        raw_finish = _FIELDS.optional_text(delta.get("stop_reason"), "message_delta.delta.stop_reason")
        finish_reason: FinishReason | None = None
        if raw_finish is not None:
            self._choice.finish(_FINISH_REASONS.get(raw_finish), raw_finish)
            finish_reason = self._choice.finish_reason
            self._stopped = True
        usage_payload = payload.get("usage")
        usage = None
        if usage_payload is not None:
            self._usage.update(_FIELDS.object(usage_payload, "message_delta.usage"))
            usage = self._acc.usage = self._usage.build()
        return self._chunk(payload, "message_delta", finish_reason=finish_reason, usage=usage)

    def finish(self) -> None:
        # Like the SDK, a message whose stop reason arrived is whole, even if the stream then
        # ended without its closing `message_stop` event.
        if self._done or self._stopped:
            return
        raise StreamInterrupted(
            "the anthropic stream ended before the answer was finished (no message_stop); "
            "the partial answer is on .response",
            provider=_PROVIDER,
        )

    def response(self, **fields: Any) -> Response:
        response = self._acc.build(**fields)
        if not (self._thinking_blocks or self._server_blocks) or not response.choices:
            return response
        update: dict[str, Any] = {}
        if self._thinking_blocks:
            update["thinking_blocks"] = tuple(block.thinking_block() for block in self._thinking_blocks)
        if self._server_blocks:
            update["provider_blocks"] = self._provider_blocks(response.choices[0])
        first, *rest = response.choices
        return response.model_copy(update={"choices": (first.model_copy(update=update), *rest)})

    def _provider_blocks(self, choice: Choice) -> tuple[dict[str, Any], ...]:
        """The turn's content blocks, rebuilt as the API sent them, for sending back unchanged."""
        calls = {call.id: call for call in choice.tool_calls}
        rebuilt: list[dict[str, Any]] = []
        for _, block in sorted(self._blocks.items()):
            raw = dict(block.start)
            if block.kind == "text":
                begin, end = block.text_span
                raw["text"] = "".join(self._choice.text[begin : len(self._choice.text) if end < 0 else end])
            elif block.kind == "thinking":
                raw.update(thinking="".join(block.thinking), signature=block.signature)
            elif block.kind == "tool_use":
                call = calls.get(str(raw.get("id")))
                raw["input"] = (call.arguments if call is not None else None) or block.start_input or {}
            elif block.kind == "server_tool_use" and block.partial:
                raw["input"] = parse_arguments("".join(block.partial)) or block.start_input or {}
            rebuilt.append(raw)
        return tuple(rebuilt)


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise MalformedStreamError(
            f"anthropic sent a {payload.get('type')} event without its {key!r} object: "
            f"{to_json(payload, _PROVIDER)[:200]}",
            provider=_PROVIDER,
        )
    return value


def _index(payload: dict[str, Any]) -> int:
    index = payload.get("index")
    if type(index) is not int:
        raise MalformedStreamError(
            f"anthropic sent a {payload.get('type')} event without a content block index",
            provider=_PROVIDER,
        )
    return index
