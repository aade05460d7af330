"""The aggregated result of a stream: `Response`, its choices and its usage."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .messages import Message, ThinkingBlock, ToolCall

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "paused"]
"""Why the model stopped, the same on every provider.

`"paused"`: the provider paused a long turn before its answer was finished (Anthropic's
`pause_turn`, during server tools); send the turn back to let it continue.
"""

__all__ = ["Choice", "FinishReason", "Response", "Step", "ToolResult", "Usage"]


class Usage(BaseModel):
    """Token counts of one request, normalised across providers.

    Attributes:
        input_tokens: tokens of the prompt, cached ones included.
        output_tokens: tokens the model generated, reasoning included.
        total_tokens: their sum (as the provider reports it, when it does).
        cached_input_tokens: prompt tokens served from the provider's cache, when reported.
        reasoning_tokens: generated tokens spent on hidden reasoning, when reported.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None


class ToolResult(BaseModel):
    """What a tool call gave back to the model.

    Attributes:
        call: the call the model made.
        output: the text sent back to the model (capped for the code interpreter).
        is_error: whether it reports a failure (bad arguments, an exception, a denial, ...).
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    call: ToolCall
    output: str
    is_error: bool = False


class Choice(BaseModel):
    """One of the answers of a request (there are several only with `n > 1`).

    Attributes:
        index: the position of this choice.
        text: the full text of the answer.
        thinking: the model's visible reasoning, when the provider streams it (never in `text`).
        refusal: the model's refusal message, when it refused (OpenAI).
        tool_calls: the tool calls the model made, in order.
        finish_reason: why the model stopped, normalised; `None` if it never said.
        raw_finish_reason: the provider's own value, unchanged.
        thinking_blocks: the reasoning blocks the provider wants back with this turn's tool
            calls (Anthropic's signed `thinking` and `redacted_thinking`), in order.
        provider_blocks: the turn's content blocks as the provider sent them, when it wants
            them back unchanged (Anthropic turns with server tools); `()` otherwise.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    index: int = 0
    text: str = ""
    thinking: str = ""
    refusal: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    thinking_blocks: tuple[ThinkingBlock, ...] = ()
    provider_blocks: tuple[dict[str, Any], ...] = ()


class Response(BaseModel):
    """Everything a stream delivered, aggregated.

    `text`, `thinking`, `tool_calls`, `finish_reason` and `refusal` are those of the
    first choice.

    Attributes:
        provider: the provider that answered.
        model: the model that answered, as the provider named it.
        id: the provider's id for the response.
        choices: every choice, by index.
        usage: token counts, when the provider sent them.
        time_to_first_chunk: seconds from sending the request to the first chunk.
        duration: seconds from sending the request to the end of the stream.
        interrupted: `True` when the stream stopped before the provider finished
            (closed early, cancelled or failed); the rest is what had arrived.
        steps: with tools, every model turn and the tool results it led to, in order; the
            response's own text, choices and finish reason are those of the last turn, and
            its usage is the sum over all turns.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    provider: str
    model: str | None = None
    id: str | None = None
    choices: tuple[Choice, ...] = ()
    usage: Usage | None = None
    time_to_first_chunk: float | None = None
    duration: float | None = None
    interrupted: bool = False
    steps: tuple[Step, ...] = ()

    @property
    def choice(self) -> Choice:
        """The first choice (an empty one if nothing arrived)."""
        return self.choices[0] if self.choices else Choice()

    @property
    def text(self) -> str:
        """The full text of the first choice."""
        return self.choice.text

    @property
    def thinking(self) -> str:
        """The reasoning text of the first choice ("" when the provider sent none)."""
        return self.choice.thinking

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls of the first choice."""
        return self.choice.tool_calls

    @property
    def finish_reason(self) -> FinishReason | None:
        """Why the model stopped (first choice), normalised."""
        return self.choice.finish_reason

    @property
    def refusal(self) -> str | None:
        """The refusal message of the first choice, if the model refused."""
        return self.choice.refusal

    def message(self) -> Message:
        """The first choice as an assistant `Message`, ready to append to a history."""
        choice = self.choice
        return Message(
            role="assistant",
            content=choice.text,
            tool_calls=choice.tool_calls,
            thinking_blocks=choice.thinking_blocks,
            provider_blocks=choice.provider_blocks,
        )

    def messages(self) -> list[Message]:
        """Everything this answer adds to a conversation, ready to extend a history.

        Without tools: its assistant message. After a tool loop: each model turn's
        assistant message followed by its tools' results, as the loop itself sent them. A
        stopped stream keeps what was complete: a tool call without a result is dropped
        (providers reject one), and a turn with neither text nor calls adds nothing.
        """
        steps = self.steps or (Step(response=self),)
        return [message for step in steps for message in step.messages()]

    def lmc_messages(self) -> list[dict[str, Any]]:
        """The answer as Open Interpreter's `interpreter.messages` holds it, one dict per message.

        The model's text, then each code call's code and the output sent back to the model.
        """
        from ._lmc import response_lmc_messages

        return response_lmc_messages(self)


class Step(BaseModel):
    """One model turn of a tool loop and the results of the tools it called."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    response: Response
    results: tuple[ToolResult, ...] = ()

    def messages(self) -> list[Message]:
        """The turn's assistant message (calls that got a result), then one `tool` message per result."""
        answered = {result.call.id for result in self.results}
        choice = self.response.choice
        calls = tuple(call for call in choice.tool_calls if call.id in answered)
        messages = []
        if choice.text or calls or choice.provider_blocks:
            messages.append(
                Message(
                    role="assistant",
                    content=choice.text,
                    tool_calls=calls,
                    thinking_blocks=choice.thinking_blocks,
                    provider_blocks=choice.provider_blocks,
                )
            )
        messages.extend(
            Message(
                role="tool",
                content=result.output,
                tool_call_id=result.call.id,
                name=result.call.name,
                is_error=result.is_error,
            )
            for result in self.results
        )
        return messages


Response.model_rebuild()


def add_usage(first: Usage | None, second: Usage | None) -> Usage | None:
    """The sum of two usages (`None` counts as nothing)."""
    if first is None or second is None:
        return first or second

    def plus(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return Usage(
        input_tokens=first.input_tokens + second.input_tokens,
        output_tokens=first.output_tokens + second.output_tokens,
        total_tokens=first.total_tokens + second.total_tokens,
        cached_input_tokens=plus(first.cached_input_tokens, second.cached_input_tokens),
        reasoning_tokens=plus(first.reasoning_tokens, second.reasoning_tokens),
    )
