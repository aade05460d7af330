"""Retries given as a number: the first attempt goes without tenacity, the rest through it."""

from __future__ import annotations

from typing import Any

import pytest

from mirastream import Response
from mirastream.errors import BadRequestError, MirastreamError, ServerError
from mirastream.openai import OpenAICallParams, OpenAIPrompt
from mirastream.testing import Reply as AnyReply

from ..loopback import LoopbackServer, Reply
from ..reading import consume

MODES = ["sync", "async"]


class Recipes(OpenAIPrompt):
    prompt_template = "USER: Recommend a recipe with {ingredient}"
    ingredient: str
    call_params = OpenAICallParams(model="gpt-4o-mini")


def error(status: int) -> AnyReply:
    body = {"error": {"message": f"status {status}", "type": "server_error", "code": None}}
    return Reply.error(status, body, headers={"retry-after": "0"})


class RecipesWithoutRetries(Recipes):
    retries = None


def read_with_retries(
    mode: str, retries: Any, prompt_class: type[Recipes] = Recipes
) -> tuple[str, Response | None, BaseException | None]:
    """Read a stream with `retries`; its text ("" after an error), its response and the error raised."""
    chunks, response, raised = consume(
        prompt_class(ingredient="apples"),
        mode,
        catching=(MirastreamError, TypeError, ValueError),
        retries=retries,
    )
    return ("" if raised else "".join(chunk.content for chunk in chunks)), response, raised


@pytest.mark.parametrize("mode", MODES)
def test_two_retries_make_three_attempts_at_most(server: LoopbackServer, mode: str) -> None:
    server.queue(error(503), error(503), error(503), Reply.sse("openai/text.sse"))
    _, _, raised = read_with_retries(mode, 2)
    assert isinstance(raised, ServerError) and raised.status_code == 503
    assert len(server.requests) == 3


@pytest.mark.parametrize("mode", MODES)
def test_a_retried_request_delivers_the_answer_once(server: LoopbackServer, mode: str) -> None:
    server.queue(error(503), error(503), Reply.sse("openai/text.sse"))
    text, response, raised = read_with_retries(mode, 2)
    assert raised is None and response is not None
    assert text == response.text != ""
    assert len(server.requests) == 3


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("prompt_class", [Recipes, RecipesWithoutRetries])
def test_no_retries_make_one_attempt(server: LoopbackServer, mode: str, prompt_class: type[Recipes]) -> None:
    server.queue(error(503), Reply.sse("openai/text.sse"))
    _, _, raised = read_with_retries(mode, 0 if prompt_class is Recipes else None, prompt_class)
    assert isinstance(raised, ServerError)
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_an_error_that_is_not_retryable_is_raised_at_once(server: LoopbackServer, mode: str) -> None:
    server.queue(error(400), Reply.sse("openai/text.sse"))
    _, _, raised = read_with_retries(mode, 2)
    assert isinstance(raised, BadRequestError)
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("retries", "error_class"), [(-1, ValueError), (True, TypeError), ("2", TypeError)])
def test_invalid_retries_fail_before_any_request(
    server: LoopbackServer, mode: str, retries: Any, error_class: type[Exception]
) -> None:
    _, _, raised = read_with_retries(mode, retries)
    assert type(raised) is error_class and "retries must be" in str(raised)
    assert server.requests == []
