"""docs/chat.md stays true to the command: its commands parse, and it lists every option."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mirastream.cli._options import build_parser, parse_options

DOC = Path(__file__).resolve().parents[2] / "docs" / "chat.md"
SHELL_OPERATORS = {"|", ">", "<", "&&", "||", ";"}


def documented_commands() -> list[list[str]]:
    """The arguments of every `mirastream ...` command in the doc's bash blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "mirastream" not in words or words[0] == "pip":
                continue
            start = words.index("mirastream") + 1
            end = next(
                (i for i, word in enumerate(words[start:], start) if word in SHELL_OPERATORS), len(words)
            )
            commands.append(words[start:end])
    return commands


def test_the_doc_shows_commands() -> None:
    assert len(documented_commands()) >= 6


@pytest.mark.parametrize("argv", documented_commands(), ids=" ".join)
def test_every_documented_command_parses(argv: list[str]) -> None:
    options = parse_options(argv)
    assert options.command in ("logs", "models") or options.message or options.interactive


def test_every_option_is_documented() -> None:
    text = DOC.read_text()
    _, chat = build_parser()
    for action in chat._actions:
        for flag in action.option_strings:
            if flag not in ("-h", "--help"):
                assert f"`{flag}" in text or f"{flag}`" in text, flag
    assert "`--version`" in text
