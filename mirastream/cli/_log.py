"""The conversations the chat keeps: a SQLite file in the user's data folder.

`$XDG_DATA_HOME/mirastream/logs.db` (`~/.local/share/mirastream/logs.db` without it).
Each conversation has an id, and each turn is stored with its messages (the user's, the
model's, the code it ran and the output), so `mirastream chat -c` or `--cid ID` can send the
whole conversation again and `mirastream logs` can list them.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..errors import ConfigurationError
from ..messages import Message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    first_question TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id),
    time REAL NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    messages TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation, time);
"""


def data_folder(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_DATA_HOME/mirastream`, or `~/.local/share/mirastream`."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME", "").strip()
    root = Path(base).expanduser() if base else Path.home() / ".local" / "share"
    return root / "mirastream"


@dataclass(frozen=True)
class Conversation:
    """One line of `mirastream logs`."""

    id: str
    last: float
    model: str
    provider: str
    first_question: str
    turns: int


class ConversationLog:
    """The conversations kept on this machine (the file is made on the first write)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_folder() / "logs.db"

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if not create and not self.path.exists():
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10)
            connection.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise ConfigurationError(f"cannot open the conversation log {self.path}: {error}") from error
        return connection

    @staticmethod
    def new_id() -> str:
        """A fresh conversation id (12 hex digits)."""
        return secrets.token_hex(6)

    def add_turn(
        self, conversation: str, provider: str, model: str, question: str, messages: Sequence[Message]
    ) -> None:
        """Keep one turn of `conversation` (made when it is its first turn)."""
        connection = self._connect(create=True)
        assert connection is not None
        now = time.time()
        encoded = json.dumps([message.model_dump(mode="json", exclude_defaults=True) for message in messages])
        with connection:
            connection.execute(
                "INSERT OR IGNORE INTO conversations VALUES (?, ?, ?, ?, ?)",
                (conversation, now, provider, model, question),
            )
            connection.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?)", (conversation, now, provider, model, encoded)
            )
        connection.close()

    def conversations(self, count: int) -> list[Conversation]:
        """The `count` conversations with the latest turns, the latest first."""
        connection = self._connect(create=False)
        if connection is None:
            return []
        rows = connection.execute(
            "SELECT c.id, MAX(t.time), c.model, c.provider, c.first_question, COUNT(t.time) "
            "FROM conversations c JOIN turns t ON t.conversation = c.id "
            "GROUP BY c.id ORDER BY MAX(t.time) DESC, c.rowid DESC LIMIT ?",
            (count,),
        ).fetchall()
        connection.close()
        return [Conversation(*row) for row in rows]

    def resolve(self, wanted: str | None) -> str:
        """The id of conversation `wanted` (an id or its unique start), or of the last one.

        Raises:
            ConfigurationError: no such conversation, or none at all.
        """
        connection = self._connect(create=False)
        rows: list[tuple[str]] = []
        if connection is not None:
            if wanted is None:
                rows = connection.execute(
                    "SELECT conversation FROM turns ORDER BY time DESC, rowid DESC LIMIT 1"
                ).fetchall()
            else:
                pattern = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                rows = connection.execute(
                    "SELECT id FROM conversations WHERE id LIKE ? ESCAPE '\\'", (pattern,)
                ).fetchall()
            connection.close()
        if wanted is None and not rows:
            raise ConfigurationError("no conversation to continue yet: the log is empty")
        if not rows:
            raise ConfigurationError(f"no conversation {wanted}; `mirastream logs` lists them")
        if len(rows) > 1:
            raise ConfigurationError(f"{wanted} starts more than one conversation id; give more of it")
        return rows[0][0]

    def messages(self, conversation: str) -> list[Message]:
        """Every message of `conversation`, in order."""
        connection = self._connect(create=False)
        if connection is None:
            return []
        rows = connection.execute(
            "SELECT messages FROM turns WHERE conversation = ? ORDER BY time, rowid", (conversation,)
        ).fetchall()
        connection.close()
        try:
            return [Message.model_validate(item) for (text,) in rows for item in json.loads(text)]
        except (ValueError, ValidationError) as error:
            raise ConfigurationError(
                f"conversation {conversation} in {self.path} is damaged: {error}"
            ) from error


def format_conversations(conversations: Sequence[Conversation]) -> list[str]:
    """The lines of `mirastream logs`: id, time of the last turn, model, turns, first question."""
    lines = []
    for item in conversations:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.last))
        model = item.model or item.provider
        question = " ".join(item.first_question.split())
        if len(question) > 60:
            question = question[:59] + "…"
        turns = f"{item.turns} turn{'s' if item.turns != 1 else ''}"
        lines.append(f"{item.id}  {when}  {model}  {turns}  {question}")
    return lines
