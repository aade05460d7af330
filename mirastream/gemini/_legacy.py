"""The legacy client: requests, clients and sending over `google-generativeai`'s REST transport.

`google-generativeai` streams through its `google-ai-generativelanguage` service client,
which posts to `/v1beta/models/<model>:streamGenerateContent?$alt=json` and parses the
answer, a JSON array that grows element by element, into `GenerateContentResponse`
protos. mirastream uses that service client directly (as `genai.GenerativeModel` does
inside), configured per prompt class instead of through the global `genai.configure`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping
from contextlib import aclosing, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from .._clients import ClientCache, require_module
from .._connections import Connections, RequestSockets
from ..errors import ConfigurationError, MirastreamError
from ..messages import Message
from ._client import settings
from ._decode import GeminiDecoder
from ._encode import encode_messages, generation_settings
from ._errors import convert_legacy_error
from ._legacy_read import legacy_reader, raw_elements
from ._legacy_schema import declared_schemas, legacy_schema, legacy_tools
from ._legacy_sockets import LegacyExchange, sending, track_sockets
from .chunk import GeminiLegacyResponseChunk
from .params import GeminiCallParams

if TYPE_CHECKING:
    from google.ai.generativelanguage import GenerateContentRequest, GenerativeServiceClient

# Fields the legacy protos (google-ai-generativelanguage 0.6.15) have no place for.
_UNSUPPORTED = ("seed", "thinking_config", "http_options")
# `GenerateContentRequest` fields; the other config fields belong to `generation_config`.
_REQUEST_FIELDS = ("safety_settings", "tool_config")

_CLIENTS = ClientCache()


def request_body(params: GeminiCallParams, messages: Iterable[Message]) -> dict[str, Any]:
    """The `GenerateContentRequest` of the legacy client, as its JSON body (snake_case keys).

    Tools become function declarations whose parameters (like a `response_schema` dict)
    are translated from JSON schema into the legacy `Schema` proto (`_legacy_schema`).

    Raises:
        ConfigurationError: a parameter or schema the legacy protos cannot carry is set.
    """
    unsupported = [name for name in _UNSUPPORTED if getattr(params, name) is not None]
    if isinstance(params.response_schema, type):
        unsupported.append("response_schema (a model class; give a schema dict)")
    if unsupported:
        raise ConfigurationError(
            f"the legacy Gemini client cannot send {', '.join(unsupported)}: google-generativeai's "
            "protos have no field for it; use GeminiPrompt (google-genai) instead",
            provider="gemini",
        )
    system, contents = encode_messages(messages, with_signatures=False)
    body: dict[str, Any] = {
        "model": params.model if "/" in params.model else f"models/{params.model}",
        "contents": contents,
    }
    if system is not None:
        body["system_instruction"] = system
    if params.tools:
        body["tools"] = legacy_tools(params.tools)
    generation = generation_settings(params.model_copy(update={"tools": None}))
    for name in _REQUEST_FIELDS:
        if name in generation:
            body[name] = generation.pop(name)
    if params.response_schema is not None:
        generation["response_schema"] = legacy_schema(params.response_schema, "response_schema")
    generation.update(params.extra_config or {})
    if generation:
        body["generation_config"] = generation
    return body


def request_proto(body: dict[str, Any]) -> GenerateContentRequest:
    """`body` parsed into the request proto; a field the protos lack is a `ConfigurationError`."""
    from google.ai.generativelanguage import GenerateContentRequest

    try:
        request: GenerateContentRequest = GenerateContentRequest.from_json(json.dumps(body))
    except Exception as error:  # protobuf's ParseError, or a value json cannot encode
        raise ConfigurationError(
            f"the legacy Gemini client cannot send this request: {error}", provider="gemini"
        ) from None
    return request


def legacy_client(prompt_class: Any) -> GenerativeServiceClient:
    """The REST service client for `prompt_class`: its own `client`, or a shared default."""
    if prompt_class.client is not None:
        client: GenerativeServiceClient = prompt_class.client
        return client
    api_key, base_url = settings(prompt_class)
    require_module("google.generativeai", extra="gemini-legacy")
    from google.ai.generativelanguage import GenerativeServiceClient
    from google.auth.api_key import Credentials
    from google.auth.credentials import AnonymousCredentials

    options: dict[str, str] = {}
    if base_url is not None:
        options["api_endpoint"] = base_url.rstrip("/")

    def make() -> GenerativeServiceClient:
        # The key as `api_key` credentials, as the client makes from `client_options.api_key`.
        credentials = (
            Credentials(api_key)  # type: ignore[no-untyped-call]
            if api_key
            else AnonymousCredentials()  # type: ignore[no-untyped-call]
        )
        client = GenerativeServiceClient(transport="rest", credentials=credentials, client_options=options)
        track_sockets(client)
        return client

    return _CLIENTS.sync_client((api_key, base_url), make)


def _cancel(responses: Any) -> None:
    cancel = getattr(responses, "cancel", None)  # closes the HTTP response
    if cancel is not None:
        cancel()


async def _to_thread(function: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(function, *args)


async def _in_thread(responses: Iterator[Any]) -> AsyncGenerator[Any, None]:
    """Read a blocking iterator from a worker thread, one item at a time."""
    import asyncio  # here: only async legacy streams need it

    loop = asyncio.get_running_loop()
    end = object()
    while True:
        item = await loop.run_in_executor(None, next, responses, end)
        if item is end:
            return
        yield item


class GeminiLegacyCall:
    """Sends one `stream_generate_content` request through the legacy REST service client.

    With the default clients the answer is read from the HTTP response the transport
    opened (`_legacy_read`), so that thoughts, thought-token counts, the response id and
    errors inside the stream survive; with a client of your own, from the protos it yields.

    The package has no async REST transport (its async client only speaks gRPC), so
    `send_async` runs the blocking REST stream in worker threads. With the default clients,
    stopping a stream shuts its socket down first, so that a worker blocked in a read
    returns at once instead of holding up the stop (and the event loop) until the server
    sends more.
    """

    provider = "gemini"

    def __init__(
        self,
        request: GenerateContentRequest,
        *,
        client: GenerativeServiceClient,
        timeout: float | None,
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._request = request
        self._client = client
        self._timeout = timeout
        self._schemas = schemas or {}
        self._connections = Connections()

    def decoder(self) -> GeminiDecoder[GeminiLegacyResponseChunk]:
        return GeminiDecoder(GeminiLegacyResponseChunk, legacy_reader(self._schemas))

    def _open(self, exchange: LegacyExchange) -> tuple[Any, Iterator[Any]]:
        """Send the request; the SDK's response iterator and the items to decode."""
        # `retry=None`: mirastream's own policy retries; google-api-core's would do it twice over.
        options: dict[str, Any] = {"retry": None}
        if self._timeout is not None:
            options["timeout"] = self._timeout
        with sending(exchange):
            responses = self._client.stream_generate_content(self._request, **options)
        if exchange.response is not None:  # a default client: read the body raw
            return responses, raw_elements(exchange.response)
        return responses, iter(responses)

    @contextmanager
    def send(self) -> Iterator[Iterator[Any]]:
        exchange = LegacyExchange(RequestSockets(self._connections))
        try:
            responses, items = self._open(exchange)
            try:
                yield items
            finally:
                _cancel(responses)
        finally:
            exchange.sockets.forget()

    @asynccontextmanager
    async def send_async(self) -> AsyncIterator[AsyncIterator[Any]]:
        exchange = LegacyExchange(RequestSockets(self._connections))
        try:
            try:
                responses, items = await _to_thread(self._open, exchange)
            except BaseException:
                exchange.sockets.shut_down()  # a worker still waiting for the headers gives up now
                raise
            try:
                async with aclosing(_in_thread(items)) as threaded:
                    yield threaded
            except BaseException:
                exchange.sockets.shut_down()  # stopped early: a worker blocked in a read returns now
                raise
            finally:
                _cancel(responses)
        finally:
            exchange.sockets.forget()

    def abort(self) -> None:
        """Shut the live connection down, from any thread: a blocked read returns at once."""
        self._connections.abort()

    def interrupt(self) -> None:
        """Shut the live connection down, from any thread; the call may be sent again."""
        self._connections.interrupt()

    def convert_error(self, error: Exception) -> MirastreamError | None:
        return convert_legacy_error(error)


def legacy_call(
    body: dict[str, Any], *, client: GenerativeServiceClient, timeout: float | None
) -> GeminiLegacyCall:
    """The call for a request `body` (see `request_body`), checked by the request proto."""
    return GeminiLegacyCall(
        request_proto(body),
        client=client,
        timeout=timeout,
        schemas=declared_schemas(body.get("tools") or []),
    )
