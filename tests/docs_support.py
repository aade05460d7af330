"""Running the Python samples of a documentation page, in order, against a replay server.

A page is a tutorial: its ```python blocks run one after the other in one module namespace,
as a reader would paste them into one script. Every request the samples send goes to a
`mirastream.testing.ReplayServer` on 127.0.0.1, through the real SDKs, and a responder
answers it from what it asks: plain text for a plain prompt; a call of the code
interpreter (running tiny code) when the request offers it; a call of a function tool with
arguments that fit its JSON schema; and a text answer once tool results come back.

A block runs statement by statement: a top-level `await` or `async with` runs as in
`python -m asyncio`, a prompt class is pointed at the server (`serve(cls)`) as soon as it is
defined, so a class with its own `base_url` talks to the server too, and `input()` answers
"y". The code interpreters the samples make are closed at the end of the page.

An HTML comment on the line before a block (the docs renderer ignores it) changes how
the block runs:

- `<!-- no-test: why -->`: the block is not run (the reason is required, and the test
  counts these exemptions);
- `<!-- test: option ... -->` with options among:
  - `offline`: no API key and no base URL in the environment (a sample of what happens
    when nothing is configured);
  - `reply=drop`: the block's first request is answered by a stream whose connection drops
    midway; `reply=slow`: by a stream that stalls for a second midway;
  - `raises=ErrorName`: the block must raise that error (or a subclass);
  - `prints="text"`: the block's output must contain that text (may be repeated).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import json
import os
import re
import shlex
import sys
import threading
import traceback
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mirastream import BasePrompt
from mirastream.anthropic import AnthropicPrompt
from mirastream.gemini import GeminiLegacyPrompt, GeminiPrompt
from mirastream.openai import OpenAIPrompt, OpenAIResponsesPrompt
from mirastream.testing import (
    Call,
    Disconnect,
    Pause,
    Queued,
    RecordedRequest,
    ReplayServer,
    Reply,
    Text,
    Thinking,
    Turn,
    serve,
)
from mirastream.tools import CodeInterpreter

ROOT = Path(__file__).resolve().parent.parent
PYTHON_LANGUAGES = frozenset({"python", "py", "python3", "py3", "pycon", "ipython"})
REPLIES = ("drop", "slow")
PROVIDER_PROMPTS = (OpenAIPrompt, OpenAIResponsesPrompt, AnthropicPrompt, GeminiPrompt, GeminiLegacyPrompt)

# The environment a page runs in when it must look unconfigured (`offline`).
PROVIDER_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
)

# What the model runs when a request offers the code interpreter: 34/24, as in the docs.
CODE = "print(34 / 24)"


# --- Reading the blocks of a page ---------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """How a block runs and what it must show (from its `<!-- test: ... -->` comment)."""

    offline: bool = False
    reply: str | None = None
    raises: str | None = None
    prints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    """A ```python block of a page."""

    page: Path
    line: int  # of the block's first code line, from 1
    code: str
    exempt: str | None = None  # the reason given by `<!-- no-test: ... -->`
    options: Options = field(default_factory=Options)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
ANNOTATION = re.compile(r"^\s*<!--\s*(?P<kind>test|no-test)\s*:(?P<body>.*?)-->\s*$")
ANY_PYTHON_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*\{?\.?(python3?|py3?|pycon|ipython)\b", re.MULTILINE)


def language(info: str) -> str:
    """The language named by a fence's info string (`python title="x.py"` -> `python`)."""
    words = info.strip().lstrip("{").lstrip(".").split()
    return words[0].lower().rstrip("}") if words else ""


def parse_options(body: str, where: str) -> Options:
    """The options of a `<!-- test: ... -->` comment."""
    offline, reply, raises, prints = False, None, None, []
    for word in shlex.split(body):
        name, _, value = word.partition("=")
        if name == "offline" and not value:
            offline = True
        elif name == "reply" and value in REPLIES:
            reply = value
        elif name == "raises" and value.isidentifier():
            raises = value
        elif name == "prints" and value:
            prints.append(value)
        else:
            raise ValueError(f"{where}: unknown docs-test option {word!r}")
    return Options(offline, reply, raises, tuple(prints))


def python_blocks(page: Path) -> list[Block]:
    """Every ```python block of a page, with its annotation; fences may be indented (tabs)."""
    lines = page.read_text().splitlines()
    blocks: list[Block] = []
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        number += 1
        if opening is None:
            continue
        indent, fence = opening["indent"], opening["fence"]
        start = number
        while number < len(lines):
            closing = FENCE.match(lines[number])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            number += 1
        body = lines[start:number]
        number += 1
        if language(opening["info"]) not in PYTHON_LANGUAGES:
            continue
        where = f"{page.relative_to(ROOT)}:{start + 1}"
        code = "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in body)
        exempt, options = None, Options()
        before = _previous_text_line(lines, start - 2)
        annotation = ANNOTATION.match(before) if before is not None else None
        if annotation and annotation["kind"] == "no-test":
            exempt = annotation["body"].strip()
            if not exempt:
                raise ValueError(f"{where}: a no-test comment needs a reason")
        elif annotation:
            options = parse_options(annotation["body"], where)
        blocks.append(Block(page, start + 1, code + "\n", exempt, options))
    _check_annotations_are_used(page, lines, blocks)
    return blocks


def _previous_text_line(lines: list[str], index: int) -> str | None:
    while index >= 0 and not lines[index].strip():
        index -= 1
    return lines[index] if index >= 0 else None


def _check_annotations_are_used(page: Path, lines: list[str], blocks: list[Block]) -> None:
    """Fail on a `<!-- test: ... -->` comment that no python block follows (a typo in a fence)."""
    first_code_lines = {block.line for block in blocks}
    for index, line in enumerate(lines):
        if not ANNOTATION.match(line):
            continue
        fence = index + 1
        while fence < len(lines) and not lines[fence].strip():
            fence += 1
        if fence + 2 not in first_code_lines:  # the fence's index + 1 is its line; + 2 the code's
            raise ValueError(f"{page.relative_to(ROOT)}:{index + 1}: no python block follows this comment")


def count_python_fences(page: Path) -> int:
    """A second, simpler count of the python fences of a page (a check on `python_blocks`)."""
    return len(ANY_PYTHON_FENCE.findall(page.read_text()))


# --- Answering the requests -----------------------------------------------------------------


def _get(mapping: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = mapping.get(camel)
    return mapping.get(snake) if value is None else value


def declared_tools(request: RecordedRequest) -> list[tuple[str, dict[str, Any]]]:
    """The function tools a request declares: `(name, JSON schema of the arguments)`."""
    body = request.json()
    tools: list[tuple[str, dict[str, Any]]] = []
    for tool in body.get("tools") or ():
        if request.wire == "openai" and isinstance(tool.get("function"), dict):
            tools.append((tool["function"]["name"], tool["function"].get("parameters") or {}))
        elif request.wire == "openai-responses" and tool.get("type") == "function":
            tools.append((tool["name"], tool.get("parameters") or {}))
        elif request.wire == "anthropic" and "name" in tool:
            tools.append((tool["name"], tool.get("input_schema") or {}))
        elif request.wire in ("gemini", "gemini-legacy"):
            for declaration in _get(tool, "functionDeclarations", "function_declarations") or ():
                schema = _get(declaration, "parametersJsonSchema", "parameters_json_schema")
                tools.append((declaration["name"], schema or declaration.get("parameters") or {}))
    return tools


def example_value(name: str, schema: Mapping[str, Any]) -> Any:
    """A value that fits a JSON schema, chosen to read naturally for the parameter's name."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: example_value(key, properties[key]) for key in schema.get("required") or ()}
    if kind == "array":
        return [example_value(name, schema.get("items") or {"type": "string"})]
    if kind == "integer":
        return 3
    if kind == "number":
        return 2.5
    if kind == "boolean":
        return True
    return {"city": "Paris", "location": "Paris", "name": "Ada"}.get(name.lower(), f"an example {name}")


def wants_thinking(request: RecordedRequest) -> bool:
    """Whether the request asks to see the model's reasoning."""
    body = request.json()
    if request.wire == "anthropic":
        return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    if request.wire == "openai":
        return body.get("enable_thinking") is True
    if request.wire == "openai-responses":
        return bool((body.get("reasoning") or {}).get("summary"))
    config = _get(body, "generationConfig", "generation_config") or {}
    thinking = _get(config, "thinkingConfig", "thinking_config") or {}
    return bool(_get(thinking, "includeThoughts", "include_thoughts"))


ANSWER = (
    "A short answer first, then the details.",
    "\n\n",
    "Keep the first step simple: use what you already have,",
    " and change one thing at a time so you can tell what helped.",
    " Small changes are easier to judge than big ones.",
    "\n\n",
    "Then look at the result with fresh eyes.",
    " If something is off, go back one step rather than starting over;",
    " most problems come from the last change you made.",
    "\n\n",
    "Finally, write down what worked.",
    " The next time you will start from a better place,",
    " and the whole thing will take half as long.",
    " That is all there is to it: simple steps, checked one at a time.",
)


class Responder:
    """Answers each request in a plausible way, and keeps the texts it streamed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.streamed: list[str] = []

    def _text(self, *pieces: str) -> Text:
        with self._lock:
            self.streamed.extend(piece for piece in pieces if piece.strip())
        return Text(*pieces)

    def __call__(self, request: RecordedRequest) -> Turn | Reply:
        messages = request.messages()
        usage = (sum(len(m.content.split()) for m in messages) + 1, 40)
        if messages and messages[-1].role == "tool":
            lines = [line.strip() for line in messages[-1].content.splitlines() if line.strip()]
            result = lines[0][:80] if lines else "nothing"
            return Turn(self._text("The result is ", f"{result}."), usage=usage)
        tools = dict(declared_tools(request))
        if CodeInterpreter.name in tools:
            arguments = json.dumps({"language": "python", "code": CODE})
            pieces = [arguments[i : i + 12] for i in range(0, len(arguments), 12)]  # written bit by bit
            return Turn(self._text("Let me compute it."), Call(CodeInterpreter.name, pieces), usage=usage)
        if tools:
            name, schema = next(iter(tools.items()))
            return Turn(self._text("Let me check."), Call(name, example_value("", schema)), usage=usage)
        choices = int(request.json().get("n") or 1) if request.wire == "openai" else 1
        if choices > 1:
            return self._openai_choices(request, choices)
        steps = [Thinking("Let me think about", " the question.")] if wants_thinking(request) else []
        return Turn(*steps, self._text(*ANSWER), usage=usage)

    def _openai_choices(self, request: RecordedRequest, choices: int) -> Reply:
        """An OpenAI stream with several choices (scripted turns have one), as the API sends it."""
        body = request.json()

        def event(deltas: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
            chunk = {"id": "chatcmpl-docs", "object": "chat.completion.chunk", "created": 1}
            chunk.update({"model": body["model"], "choices": deltas, "usage": usage})
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        pieces = ["Try ", "apple ", "pie."]
        events = [event([{"index": i, "delta": {"role": "assistant"}}]) for i in range(choices)]
        for piece in pieces:
            events += [event([{"index": i, "delta": {"content": piece}}]) for i in range(choices)]
        events += [event([{"index": i, "delta": {}, "finish_reason": "stop"}]) for i in range(choices)]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(event([], {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}))
        self._text(*pieces)
        return Reply(b"".join(events) + b"data: [DONE]\n\n")

    def broken(self, how: str) -> Queued:
        """A responder whose stream drops (`drop`) or stalls for a second (`slow`) midway."""

        def answer(request: RecordedRequest) -> Turn:
            if how == "drop":
                return Turn(self._text(*ANSWER[:4]), Disconnect())
            return Turn(self._text(*ANSWER[:2]), Pause(1.0), self._text(*ANSWER[2:]))

        return answer


class DocsServer(ReplayServer):
    """A replay server that answers with the responder when nothing else was queued."""

    def __init__(self, responder: Responder) -> None:
        super().__init__()
        self.responder = responder

    def next_reply(self) -> Queued | None:
        queued = super().next_reply()
        return self.responder if queued is None else queued


# --- Running a page -------------------------------------------------------------------------


@dataclass
class BlockRun:
    """What running one block did."""

    block: Block
    output: str = ""
    error: BaseException | None = None
    requests: int = 0
    streamed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unused_replies: int = 0

    def problems(self) -> list[str]:
        """What is wrong with this run, as messages (empty when the block did as it should)."""
        options, found = self.block.options, []
        names = [kind.__name__ for kind in type(self.error).__mro__] if self.error else []
        if options.raises and options.raises not in names:
            found.append(f"it should raise {options.raises}")
        if self.error is not None and options.raises not in names:
            found.append("it raised:\n" + _sample_traceback(self.error))
        found += [f"the server: {failure}" for failure in self.failures]
        if self.unused_replies:
            found.append(f"its reply={options.reply} was never requested")
        if _prints(self.block.code) and not self.output.strip():
            found.append("it prints, but printed nothing")
        found += [f"its output lacks {text!r}" for text in options.prints if text not in self.output]
        shown = any(piece.strip() in self.output for piece in self.streamed)
        if self.output and self.streamed and not options.prints and not shown:
            found.append("its output shows none of the streamed text (say what it prints with prints=)")
        return [f"{self.block.where}: {problem}\n--- output:\n{self.output}" for problem in found]


def _sample_traceback(error: BaseException) -> str:
    """The traceback of an error a sample raised, without this module's own frames."""
    report = traceback.TracebackException.from_exception(error)
    report.stack = traceback.StackSummary.from_list(
        [frame for frame in report.stack if frame.filename != __file__]
    )
    return "".join(report.format())


def _prints(code: str) -> bool:
    tree = ast.parse(code)
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
        for node in ast.walk(tree)
    )


@contextlib.contextmanager
def _without_provider_settings() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in PROVIDER_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        for name in PROVIDER_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(saved)


class PageRunner:
    """Runs the python blocks of pages in one module namespace, against one `DocsServer`.

    A prompt class that a sample defines is pointed at the server as soon as its statement
    has run (`serve(cls)`), so a class with its own `base_url` (a DashScope or vLLM class)
    talks to the server too, with a stand-in key.
    """

    def __init__(self, name: str, server: DocsServer, stack: contextlib.ExitStack) -> None:
        self.server = server
        self.module = types.ModuleType(name)
        self.module.__dict__["input"] = self._input  # a reader who answers "y"
        self._stack = stack
        self._seen: set[int] = set()

    def _input(self, prompt: str = "") -> str:
        print(f"{prompt}y")
        return "y"

    def run(self, block: Block) -> BlockRun:
        run = BlockRun(block)
        server = self.server
        streamed_before, requests_before = len(server.responder.streamed), len(server.requests)
        if block.options.reply:
            server.queue(server.responder.broken(block.options.reply))
        output = io.StringIO()
        with contextlib.ExitStack() as scope:
            if block.options.offline:
                scope.enter_context(_without_provider_settings())
            scope.enter_context(contextlib.redirect_stdout(output))
            try:
                self._execute(block)
            except Exception as error:
                run.error = error
        for request in server.requests[requests_before:]:
            request.finished.wait(5)
        run.output = output.getvalue()
        run.requests = len(server.requests) - requests_before
        run.streamed = server.responder.streamed[streamed_before:]
        run.failures = list(server.failures)
        run.unused_replies = server.pending
        server.reset()  # the next block starts with no queued reply, request or failure
        return run

    def _execute(self, block: Block) -> None:
        filename = str(block.page)
        tree = ast.parse(block.code, filename)
        ast.increment_lineno(tree, block.line - 1)
        for statement in tree.body:
            module = ast.Module(body=[statement], type_ignores=[])
            code = compile(module, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            if code.co_flags & inspect.CO_COROUTINE:
                asyncio.run(eval(code, self.module.__dict__))
            else:
                exec(code, self.module.__dict__)
            self._point_new_classes_at_the_server()

    def _point_new_classes_at_the_server(self) -> None:
        for value in list(self.module.__dict__.values()):
            defined_here = isinstance(value, type) and value.__module__ == self.module.__name__
            if not defined_here or id(value) in self._seen:
                continue
            self._seen.add(id(value))
            own_client = any(getattr(value, name, None) is not None for name in ("client", "async_client"))
            if issubclass(value, PROVIDER_PROMPTS) and not own_client:
                self._stack.enter_context(serve(value, server=self.server, check=False))

    def close(self) -> None:
        """Close the code interpreters the samples made (their child processes stop)."""
        for value in self.module.__dict__.values():
            tools = [value]
            if isinstance(value, type) and issubclass(value, BasePrompt):
                tools = list(getattr(getattr(value, "call_params", None), "tools", None) or ())
            for tool in tools:
                if isinstance(tool, CodeInterpreter):
                    tool.close()


@dataclass
class PageRun:
    """What running a page did: the runs of its blocks, after those of the pages it builds on."""

    page: Path
    runs: list[BlockRun]

    @property
    def blocks(self) -> list[Block]:
        """The page's python blocks."""
        return python_blocks(self.page)

    @property
    def exempt(self) -> list[Block]:
        """The page's blocks marked `<!-- no-test: ... -->`."""
        return [block for block in self.blocks if block.exempt]

    @property
    def ran(self) -> list[Block]:
        """The page's own blocks that ran."""
        return [run.block for run in self.runs if run.block.page == self.page]


def run_pages(pages: list[Path]) -> PageRun:
    """Run the blocks of `pages` in order, in one namespace, as one script.

    The result describes the last page. A block that fails stops the run (later blocks
    depend on it); its run is then the last one.
    """
    responder = Responder()
    name = "docs_" + re.sub(r"\W", "_", pages[-1].stem)
    runs: list[BlockRun] = []
    with contextlib.ExitStack() as stack:
        server = DocsServer(responder)
        stack.enter_context(server)
        stack.enter_context(serve(server=server, check=False))
        runner = PageRunner(name, server, stack)
        sys.modules[name] = runner.module
        stack.callback(sys.modules.pop, name, None)
        stack.callback(runner.close)
        for page in pages:
            for block in python_blocks(page):
                if block.exempt:
                    continue
                runs.append(runner.run(block))
                if runs[-1].problems():
                    return PageRun(pages[-1], runs)
    return PageRun(pages[-1], runs)
