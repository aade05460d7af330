"""Text made safe to print: control characters and terminal escapes shown, never obeyed.

Code and console output come from a model and from the code it wrote: printed raw, an escape
sequence could hide a line (`\\x1b[1A\\x1b[2K`), a carriage return could overwrite one, and a
bidirectional override could reorder what the reader sees. `visible` keeps newlines and tabs
and writes every other control character (C0, DEL, C1) and the bidirectional controls as
escapes (`\\x1b`, `\\r`, `\\u202e`), so what is printed is what is there.
"""

from __future__ import annotations

import re

_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\x0b": "\\v", "\x0c": "\\f", "\x08": "\\b", "\x00": "\\0"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with its control characters shown as escapes (newlines and tabs kept)."""
    if _HIDDEN.search(text) is None:
        return text
    return _HIDDEN.sub(_escape, text)
