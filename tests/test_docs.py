"""The documentation runs: every ```python block of docs/*.md, and the strict site build.

Each page's plain Python blocks run in order in one namespace, in a temporary
working folder. A block whose output is shown on the page is followed by a
line ``<!-- output -->`` and then a ```text block: the block's printed output
must equal that text exactly (trailing whitespace aside).

Blocks fenced as ```python exec="on" ...``` are run again by markdown-exec
while the site is built, each in a fresh namespace (shared only between
blocks of the same ``session="..."``), and what they print goes into the page.
They are run the same way here. Those with ``html="on"`` draw the guide's
figures: each must print one inline SVG that contains drawn shapes and the
figure's text, from a matplotlib figure with a title and labelled axes that
the block has closed. The SVG comes from ``chainrule.plots.to_svg``, so a
block hides at most the one line that prints it.

The built site must render its formulas as MathML (docs/hooks/mathml.py) and
load nothing from a CDN, so that it reads the same offline.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md"))

FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
OPTION = re.compile(r'(\w+)="([^"]*)"')
OUTPUT_MARK = "<!-- output -->"
SVG_NS = "{http://www.w3.org/2000/svg}"
FIGURE = re.compile(r'\A<div class="cr-figure">(<svg\b.*</svg>)\s*</div>\Z', re.S)
# the guide pages that must carry at least one figure drawn at build time
FIGURE_PAGES = ["perceptron", "activations", "gradient-descent", "problems", "backpropagation"]
MATH_PAGES = ["perceptron", "losses", "gradient-descent", "backpropagation", "activations",
              "problems"]  # fmt: skip


def blocks(page: Path) -> list[tuple[str, str | None, dict[str, str]]]:
    """The page's Python blocks: code, the output shown after it (or None), fence options."""
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
                expected = found[k + 1].group(3)
        result.append((m.group(3), expected, dict(OPTION.findall(m.group(2)))))
    return result


def figure_blocks(page: Path) -> list[str]:
    return [code for code, _, opts in blocks(page) if opts.get("exec") == "on" and
            opts.get("html") == "on"]  # fmt: skip


def _clean(s: str) -> str:
    return "\n".join(line.rstrip() for line in s.strip("\n").splitlines())


def check_figure(printed: str, fig, where: str) -> None:
    """What a figure block printed is a real drawing of ``fig``, readable, and closed."""
    import matplotlib.pyplot as plt

    m = FIGURE.match(printed.strip())
    assert m, f'{where}: should print one <div class="cr-figure"><svg ...>...</svg></div>'
    root = ET.fromstring(m.group(1))  # well-formed XML, or this raises
    assert root.tag == f"{SVG_NS}svg"
    _, _, w, h = (float(v) for v in root.get("viewBox").split())
    assert w > 200 and h > 150, f"{where}: a {w}x{h} drawing is too small to read"
    shapes = [e for e in root.iter(f"{SVG_NS}path") if len(e.get("d", "")) > 20]
    assert len(shapes) >= 6, f"{where}: only {len(shapes)} shapes drawn"
    texts = {"".join(e.itertext()).strip() for e in root.iter(f"{SVG_NS}text")} - {""}
    assert len(texts) >= 5, f"{where}: the SVG should carry its text as text, found {texts}"

    assert fig is not None, f"{where}: the block should keep its figure in `fig`"
    assert not plt.fignum_exists(fig.number), f"{where}: the figure was left open"
    titles = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
    titles = [t for t in titles if t]
    assert titles, f"{where}: the figure has no title"
    assert any(t.splitlines()[0] in texts for t in titles), f"{where}: title not in the SVG"
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert panels, f"{where}: nothing drawn"
    for ax in panels:  # every panel shows data, not just a frame
        assert ax.lines or ax.collections or ax.patches or ax.images, (
            f"{where}: panel {ax.get_title()!r} is empty"
        )
        if ax.axison:
            assert ax.get_xlabel() and ax.get_ylabel(), (
                f"{where}: panel {ax.get_title()!r} has an unlabelled axis"
            )
            assert ax.get_xlabel() in texts


def test_pages_found():
    names = {p.name for p in PAGES}
    assert {"index.md", "perceptron.md", "backpropagation.md", "problems.md"} <= names


def test_fence_options_are_read():
    page = DOCS / "activations.md"
    kinds = [opts for _, _, opts in blocks(page)]
    assert {} in kinds  # plain blocks
    assert {"exec": "on", "html": "on", "source": "above"} in kinds


@pytest.mark.parametrize("name", FIGURE_PAGES)
def test_guide_page_has_a_figure_drawn_by_its_code(name):
    codes = figure_blocks(DOCS / f"{name}.md")
    assert codes, f'{name}.md has no ```python exec="on" html="on"``` figure block'
    for code in codes:
        # drawn from numbers the block computes: by a cr.plots function, or by the block's
        # own matplotlib code from the runs it trains (never a pasted picture)
        assert "cr.plots.plot_" in code or "plt.subplots(" in code
        # the SVG is made by the library too: at most the line printing it is hidden
        hidden = [line for line in code.splitlines() if line.endswith("# markdown-exec: hide")]
        assert len(hidden) <= 1, f"hidden helper lines: {hidden}"
        assert "cr.plots.to_svg(fig" in code


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_code_runs_and_output_matches(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    sessions: dict[str, dict] = {}
    for number, (code, expected, opts) in enumerate(blocks(page), start=1):
        where = f"{page.name}, python block {number}"
        executed = opts.get("exec") == "on"
        if executed:  # as markdown-exec runs it: a fresh namespace, or its session's
            session = opts.get("session")
            scope = sessions.setdefault(session, {}) if session else {}
            scope["__name__"] = f"docs_{page.stem}_{number}"
        else:
            scope = namespace
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("default")
            try:
                exec(compile(code, f"{page.name}[block {number}]", "exec"), scope)
            except Exception as exc:
                raise AssertionError(f"{where} raised {exc!r}:\n{code}") from exc
        if expected is not None:
            assert _clean(out.getvalue()) == _clean(expected), (
                f"{where}: printed output differs from the page"
            )
        if executed and opts.get("html") == "on":
            check_figure(out.getvalue(), scope.get("fig"), where)


def _load_hook():
    spec = importlib.util.spec_from_file_location("mathml_hook", DOCS / "hooks" / "mathml.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tex_becomes_mathml():
    pytest.importorskip("latex2mathml")
    hook = _load_hook()
    inline = hook.tex_to_mathml(r"\frac{\partial L}{\partial w} &lt; \eta", display=False)
    assert inline.startswith("<math ") and 'display="inline"' in inline
    assert "<mfrac>" in inline and "&lt;" in inline  # the HTML escape became a real "<"
    assert 'display="block"' in hook.tex_to_mathml(r"w \leftarrow w", display=True)
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="nosuchcommand"):
        hook.tex_to_mathml(r"\nosuchcommand{x}", display=False, where="page.md")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_mkdocs_build_strict(site):
    assert (site / "reference" / "network" / "index.html").exists()
    assert not (site / "hooks").exists()  # the build hook is not published


def test_built_pages_load_nothing_from_a_cdn(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= len(PAGES)
    for html in pages:
        text = html.read_text(encoding="utf-8")
        for needle in ("unpkg.com", "cdn.jsdelivr", "cdnjs", "mathjax", "fonts.googleapis"):
            assert needle not in text.lower(), f"{html.relative_to(site)} refers to {needle}"
        external = re.findall(r'<script[^>]*\bsrc="(https?:)?//', text)
        assert not external, f"{html.relative_to(site)} loads a script from another site"


@pytest.mark.parametrize("name", MATH_PAGES)
def test_built_math_is_mathml(site, name):
    source = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    text = (site / name / "index.html").read_text(encoding="utf-8")
    formulas = re.findall(r"<math\b.*?</math>", text, re.S)
    displays = source.count("\n$$\n") // 2 + source.startswith("$$\n")
    assert displays >= 1, f"{name}.md should show at least one displayed formula"
    assert len(formulas) >= displays
    assert text.count('<math alttext="') == len(formulas)  # each came from the hook
    assert 'display="block"' in text
    assert "arithmatex" not in text and "\\(" not in text and "\\[" not in text
    for formula in formulas:
        assert re.search(r"<m(i|n|o|frac|sub|sup)\b", formula), formula


@pytest.mark.parametrize("name", FIGURE_PAGES)
def test_built_pages_show_their_figures(site, name):
    text = (site / name / "index.html").read_text(encoding="utf-8")
    figures = re.findall(r'<div class="cr-figure"><svg\b.*?</svg>\s*</div>', text, re.S)
    assert len(figures) == len(figure_blocks(DOCS / f"{name}.md"))
    for svg in figures:
        assert svg.count("<path") >= 6 and "<text" in svg
    assert "markdown-exec: hide" not in text  # the SVG plumbing is not shown to readers
    assert "Execution of python code block" not in text
