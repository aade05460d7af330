"""Every Python sample of the README and the documentation runs, page by page.

A page's ```python blocks run in order in one namespace (a page is a tutorial: later blocks
use earlier names), through the real SDKs, against a replay server on 127.0.0.1 that
answers each request from what it asks (see `tests/docs_support.py`, which also describes
the `<!-- test: ... -->` and `<!-- no-test: ... -->` comments a block may carry).

To cover a new page, add one line to `PAGES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .docs_support import ROOT, PageRun, count_python_fences, python_blocks, run_pages


@dataclass(frozen=True)
class Page:
    """A page whose samples run; `after`: the page whose names it uses (run first)."""

    path: str
    after: str | None = None
    exemptions: int = 0  # blocks marked <!-- no-test: ... -->, counted on purpose

    def __str__(self) -> str:
        return self.path


PAGES = [
    Page("README.md"),
    Page("docs/index.md"),
    Page("docs/getting-started.md"),
    Page("docs/prompts.md", after="docs/index.md"),  # "the RecipeRecommender class from the quickstart"
    Page("docs/streaming.md", after="docs/getting-started.md"),  # its `prompt`
    Page("docs/chunks.md", after="docs/getting-started.md"),
    Page("docs/tools.md"),
    Page("docs/custom-tools.md"),
    Page("docs/errors.md", after="docs/getting-started.md"),
    Page("docs/observability.md"),
    Page("docs/providers/openai.md"),
    Page("docs/providers/anthropic.md"),
    Page("docs/providers/gemini.md"),
]

# Pages with python samples that this module does not run, and why.
ELSEWHERE = {
    "docs/testing.md": "run under pytest by tests/testing/test_docs.py",
    "docs/chat.md": "its commands are parsed, and each flag checked, by tests/cli/test_docs.py",
    "docs/providers/local.md": "run against the local model by tests/local/test_docs.py",
}


def test_every_page_with_python_samples_is_covered() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    with_samples = {str(page.relative_to(ROOT)) for page in pages if count_python_fences(page)}
    listed = {page.path for page in PAGES}
    assert with_samples - listed - set(ELSEWHERE) == set()
    assert listed <= with_samples


def test_every_python_fence_is_read_as_a_block() -> None:
    for page in PAGES:
        path = ROOT / page.path
        assert len(python_blocks(path)) == count_python_fences(path), page


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_the_samples_of_a_page_run(page: Page) -> None:
    paths = [ROOT / page.after] if page.after else []
    result: PageRun = run_pages([*paths, ROOT / page.path])

    problems = [problem for run in result.runs for problem in run.problems()]
    assert problems == [], "\n\n".join(problems)
    assert [block.line for block in result.ran] == [b.line for b in result.blocks if not b.exempt]
    assert len(result.exempt) == page.exemptions, [(b.where, b.exempt) for b in result.exempt]
    assert result.ran, "the page has no sample that runs"
