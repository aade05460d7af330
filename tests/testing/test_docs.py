"""The testing guide and the example test file run, under pytest, as a user would run them.

Every ```python block of `docs/testing.md` (the one titled `conftest.py` included) is put
together, in order, into one test module, and the block titled
`examples/testing_my_prompt.py` must be that file, word for word. Both run in one pytest
session, with the plugin the guide registers, and every test must pass. The session runs in
this process, so the SDKs are imported once.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "testing.md"
EXAMPLE = ROOT / "examples" / "testing_my_prompt.py"
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def guide_blocks() -> list[tuple[str, str]]:
    return [(match.group(1).strip(), match.group(2)) for match in BLOCK.finditer(GUIDE.read_text())]


def test_the_guide_shows_the_example_file_as_it_is() -> None:
    titled = [code for info, code in guide_blocks() if info == 'title="examples/testing_my_prompt.py"']
    assert titled == [EXAMPLE.read_text()]


class Outcomes:
    """A pytest plugin that keeps the outcome of every test of a session."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.problems: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.passed and report.when == "call":
            self.passed.append(report.nodeid)
        elif not report.passed:
            self.problems.append(f"{report.nodeid} ({report.when}):\n{report.longreprtext}")


def test_the_guide_and_the_example_pass_under_pytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [code for info, code in guide_blocks() if info in ("", 'title="conftest.py"')]
    assert len(blocks) >= 10
    module = tmp_path / "test_testing_guide.py"
    module.write_text("\n\n".join(blocks))
    example = tmp_path / EXAMPLE.name
    example.write_text(EXAMPLE.read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the session adds tmp_path to it

    outcomes = Outcomes()
    try:
        code = pytest.main(
            [
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:faulthandler",
                "--rootdir",
                str(tmp_path),
                str(module),
                str(example),
            ],
            plugins=[outcomes],
        )
    finally:
        for name in (module.stem, example.stem):
            sys.modules.pop(name, None)

    assert outcomes.problems == []
    assert code == pytest.ExitCode.OK
    expected = module.read_text().count("\ndef test_") + EXAMPLE.read_text().count("\ndef test_") + 2
    assert len(outcomes.passed) == expected, outcomes.passed
