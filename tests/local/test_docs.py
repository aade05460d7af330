"""Every Python sample of docs/providers/local.md runs, in order, against the local model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mirastream.local import LocalServer

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "providers" / "local.md"
# A ```python fence, unless it sits inside a ````text block (sample output).
BLOCK = re.compile(r"^````.*?^````$|^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_local_guide_runs(local_server: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = [code for code in BLOCK.findall(GUIDE.read_text(encoding="utf-8")) if code]
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"__name__": "local_guide"}
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), namespace)
    out = capsys.readouterr().out

    assert "1.41666" in out  # the code interpreter ran the model's code
    assert namespace["server"] is not local_server  # the options sample made its own (never started)
    assert not namespace["mine"].running  # type: ignore[attr-defined]
    assert namespace["Summary"].base_url == local_server.anthropic_base_url  # type: ignore[attr-defined]
    assert str(namespace["reply"].choices[0].message.content).strip()  # type: ignore[attr-defined]
