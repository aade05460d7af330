"""The chat itself: one message, or an interactive conversation that remembers earlier turns."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ..errors import ConfigurationError, MirastreamError, MissingAPIKeyError
from ._history import turn_messages
from ._log import ConversationLog
from ._providers import ChatModel, ProviderChoice, choose_provider, interpreter_languages
from ._render import ImageSaver
from ._turn import TurnView, run_turn, summary

if TYPE_CHECKING:
    from ..messages import Message
    from ..tools import CodeInterpreter
    from ._interrupts import InterruptGuard
    from ._options import ChatOptions
    from ._render import Renderer

EXIT_OK = 0
EXIT_PROVIDER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

COMMANDS = {
    "/help": "show these commands",
    "/reset": "forget the conversation (the next message starts a new one in the log)",
    "/exit": "quit (also /quit, or Ctrl-D)",
}
HINT = "/help lists the commands, /exit (or Ctrl-D) quits, Ctrl-C stops an answer or running code."
HELP = "\n".join(f"{name:<7} {meaning}" for name, meaning in COMMANDS.items())
NO_SANDBOX_WARNING = (
    "warning: --no-sandbox: the model's code runs as you, uncontained: it can read and change "
    "any of your files and use the network"
)


def exit_status(error: BaseException) -> int:
    """2 for the user's own configuration (or machine), 1 for anything the provider did."""
    from ..tools.execution import SandboxUnavailableError

    usage = (ConfigurationError, ValidationError, SandboxUnavailableError)
    return EXIT_USAGE if isinstance(error, usage) else EXIT_PROVIDER_ERROR


def describe(error: BaseException, options: ChatOptions) -> str:
    """An error in words for the command line user (no traceback)."""
    if isinstance(error, MissingAPIKeyError):
        provider = error.provider or "the provider"
        if error.env_var is None:
            return (
                f"no key for {options.base_url}: mirastream does not send your {provider} key to "
                "another host; pass --api-key-env NAME, the environment variable that holds this server's key"
            )
        variables = error.env_var + (" (or GOOGLE_API_KEY)" if error.env_var == "GEMINI_API_KEY" else "")
        return (
            f"no {provider} API key: set {variables}, or choose another provider with --provider "
            "(--provider local needs no key)"
        )
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'value'}: {problem['msg']}"
            for problem in error.errors()
        )
        return f"invalid setting: {problems}"
    from ..tools.execution import SandboxUnavailableError

    if isinstance(error, SandboxUnavailableError):
        why = error.message.partition(" (")[0].partition(":")[0]
        return (
            f"{why}; run with --no-sandbox to run the model's code uncontained, as your user "
            "(or --no-tools to chat without code)"
        )
    if isinstance(error, MirastreamError):
        return error.message
    return str(error)


class ChatSession:
    """A chat with one provider: the model, the code interpreter, the conversation so far."""

    def __init__(
        self,
        options: ChatOptions,
        renderer: Renderer,
        guard: InterruptGuard,
    ) -> None:
        self.options = options
        self.renderer = renderer
        self.guard = guard
        self.history: list[Message] = []
        self.interpreter: CodeInterpreter | None = None
        self.log = ConversationLog() if options.log else None
        self.conversation: str | None = None
        """The id of the conversation in the log (`None` until its first turn is kept)."""
        if self.log is not None and (options.resume or options.conversation):
            self.conversation = self.log.resolve(options.conversation)
            self.history = self.log.messages(self.conversation)
        choice = choose_provider(options.provider, os.environ)
        if options.tools:
            from ..tools import CodeInterpreter, Limits

            if not options.sandbox:
                renderer.notice(NO_SANDBOX_WARNING)
            self.interpreter = CodeInterpreter(
                confirm="auto" if options.auto_run else "ask",
                limits=Limits(workdir=(options.workdir or Path.cwd()).resolve()),
                languages=interpreter_languages(choice.name),
                sandbox=options.sandbox,
            )
        self.view = TurnView(renderer, ImageSaver(options.images_dir))
        try:
            self.model = ChatModel(choice, options, [self.interpreter] if self.interpreter else [])
        except (MirastreamError, ValidationError):
            renderer.notice(self._introduction(choice, ""))
            raise
        renderer.notice(self._introduction(choice, self.model.model))
        self.model.check()
        if self.interpreter is not None:
            contained = "the only folder it can write to" if options.sandbox else "not sandboxed"
            renderer.notice(f"code runs in {self.interpreter.workspace} ({contained})")
        if self.conversation is not None:
            renderer.notice(f"continuing conversation {self.conversation} ({len(self.history)} messages)")

    def _introduction(self, choice: ProviderChoice, model: str) -> str:
        """One line: which provider and model, and why."""
        who = "the local model" if choice.name == "local" else choice.name
        named = f" ({model})" if model else ""
        hint = "" if self.options.provider else "; --provider chooses another"
        return f"{who}{named}: {choice.reason}{hint}"

    def run(self) -> int:
        """The message from the command line, then the interactive chat if asked; the exit status."""
        status = EXIT_OK
        if self.options.message is not None:
            status = self.turn(self.options.message)
            if not self.options.interactive:
                return status
        return self.interact()

    def turn(self, message: str) -> int:
        """Send `message` with the conversation so far and show the answer; its exit status."""
        self.guard.arm()
        try:
            stream = self.model.stream(self.history, message)
            result = run_turn(stream, self.view, self.renderer)
        except KeyboardInterrupt:
            self.renderer.finish()
            self.renderer.notice("interrupted")
            return EXIT_INTERRUPTED
        except (MirastreamError, ValidationError) as error:
            self.renderer.finish()
            partial = getattr(error, "response", None)
            if partial is not None:
                self._keep(message, turn_messages(message, partial))
            self.renderer.error(describe(error, self.options))
            return exit_status(error)
        self._keep(message, turn_messages(message, result.response))
        response = result.response
        if response.refusal:
            self.renderer.notice(f"the model refused: {response.refusal}")
        if response.finish_reason == "length" and not response.interrupted:
            self.renderer.notice("the answer was cut off: the model reached its token limit")
        self.renderer.footer(summary(self.model.provider, response, self.model.model))
        return EXIT_INTERRUPTED if result.interrupted else EXIT_OK

    def _keep(self, question: str, messages: list[Message]) -> None:
        """Add a turn's messages to the conversation, and to the log."""
        self.history.extend(messages)
        if self.log is None or not messages:
            return
        if self.conversation is None:
            self.conversation = self.log.new_id()
        try:
            self.log.add_turn(self.conversation, self.model.provider, self.model.model, question, messages)
        except ConfigurationError as error:  # the chat goes on without its log
            self.renderer.error(f"{error.message}; this conversation is not kept")
            self.log = None

    def interact(self) -> int:
        """Read messages until /exit or the end of input; a second Ctrl-C in a row at the prompt quits."""
        _enable_line_editing()
        self.renderer.notice(HINT)
        presses = 0
        while True:
            self.guard.arm()
            try:
                line = self.renderer.read_message()
            except KeyboardInterrupt:
                presses += 1
                if presses >= 2:
                    self.renderer.notice("bye")
                    return EXIT_INTERRUPTED
                self.renderer.notice("(press Ctrl-C again, Ctrl-D or type /exit to quit)")
                continue
            presses = 0
            if line is None:
                return EXIT_OK
            text = line.strip()
            if not text:
                continue
            command = text.lower()
            if command in ("/exit", "/quit", "exit", "quit"):
                return EXIT_OK
            if command in ("/reset", "/clear"):
                self.history.clear()
                self.conversation = None
                self.renderer.notice("the conversation is forgotten")
                continue
            if command in ("/help", "/?"):
                self.renderer.notice(HELP)
                continue
            if command.startswith("/") and " " not in command:
                self.renderer.notice(f"unknown command {text}: /help lists the commands")
                continue
            self.turn(text)

    def close(self) -> None:
        """Stop the code interpreter's sessions (their child processes end)."""
        self.guard.disarm()
        if self.interpreter is not None:
            self.interpreter.close()


def _enable_line_editing() -> None:
    """Arrow keys and history at the prompt, when the terminal and platform allow it."""
    if sys.stdin.isatty():
        try:
            import readline  # noqa: F401  (importing it is what enables line editing in input())
        except ImportError:  # not available on this platform: plain input() still works
            return
