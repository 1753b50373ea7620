"""The documentation runs: every ```python block of docs/*.md, and the strict site build.

Each page's Python blocks run in order in one namespace, in a temporary working
folder. A block whose output is shown on the page is followed by a line
``<!-- output -->`` and then a ```text block: the block's printed output must
equal that text exactly (trailing whitespace aside).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md"))

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
OUTPUT_MARK = "<!-- output -->"


def blocks(page: Path) -> list[tuple[str, str | None]]:
    """The page's Python blocks, each with the output shown after it (or None)."""
    text = page.read_text(encoding="utf-8")
    found = list(FENCE.finditer(text))
    result = []
    for k, m in enumerate(found):
        if m.group(1) != "python":
            continue
        expected = None
        if k + 1 < len(found) and found[k + 1].group(1) == "text":
            between = text[m.end() : found[k + 1].start()]
            if between.strip() == OUTPUT_MARK:
                expected = found[k + 1].group(2)
        result.append((m.group(2), expected))
    return result


def _clean(s: str) -> str:
    return "\n".join(line.rstrip() for line in s.strip("\n").splitlines())


def test_pages_found():
    names = {p.name for p in PAGES}
    assert {"index.md", "perceptron.md", "backpropagation.md", "problems.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_code_runs_and_output_matches(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for number, (code, expected) in enumerate(blocks(page), start=1):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("default")
            try:
                exec(compile(code, f"{page.name}[block {number}]", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(
                    f"{page.name}, python block {number} raised {exc!r}:\n{code}"
                ) from exc
        if expected is not None:
            assert _clean(out.getvalue()) == _clean(expected), (
                f"{page.name}, python block {number}: printed output differs from the page"
            )


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "reference" / "network" / "index.html").exists()
