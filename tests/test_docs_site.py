"""The documentation site builds with `mkdocs build --strict`: no broken link, no bad reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    site = tmp_path / "site"
    for page in ("index.html", "performance/index.html", "reference/core/index.html", "testing/index.html"):
        assert (site / page).is_file(), page
    # The API reference is generated from the docstrings, and the results come from bench/README.md.
    assert "stream_async" in (site / "reference/openai/index.html").read_text()
    assert "µs per chunk" in (site / "performance/index.html").read_text()
