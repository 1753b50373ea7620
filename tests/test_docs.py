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
the block has closed. A figure is drawn by a ``cr.plots.plot_*`` function, or
by matplotlib code shown on the page (the gradient-descent steps). The SVG comes from ``chainrule.plots.to_svg``, so a
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
import shutil
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
FIGURE_PAGES = ["perceptron", "network", "activations", "gradient-descent", "problems",
                "backpropagation"]  # fmt: skip
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


def test_display_formula_parts_split_only_at_top_level():
    pytest.importorskip("latex2mathml")
    hook = _load_hook()
    assert hook.split_parts(r"a = 1, \qquad b = 2.") == ["a = 1,", "b = 2."]
    inside = r"\begin{cases} 1 \qquad x \end{cases}"
    assert hook.split_parts(inside) == [inside]  # not inside an environment
    assert hook.split_parts(r"\frac{a \qquad b}{c}") == [r"\frac{a \qquad b}{c}"]
    two = hook.display_html(r"a \qquad b")
    assert two.startswith('<div class="math-display math-parts">') and two.count("<math ") == 2


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    prebuilt = os.environ.get("CHAINRULE_DOCS_SITE")  # a site you just built, to iterate fast
    if prebuilt:
        return Path(prebuilt)
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
    reference = (site / "reference" / "training" / "index.html").read_text(encoding="utf-8")
    assert "array-like" in reference and "array - like" not in reference  # the types hook
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


# -- Nothing cut off: every built page in a real browser, at a laptop's and a phone's width --

CHROMIUM = os.environ.get("CHAINRULE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (1280, 390)
# Measured in the page: blocks that must fit (code and printed output wrap, each display
# formula or formula part fits), what else scrolls sideways (it must draw a scrollbar),
# and code text that runs under a block's copy button.
LAYOUT_JS = """() => {
  const shown = el => el.getClientRects().length > 0;
  const name = el => (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 70);
  const cut = [], hidden = [], covered = [];
  // wrapping blocks (output, traces) and formulas must fit; code that keeps its lines
  // may scroll, and is then checked below for a drawn scrollbar like any other box
  for (const el of document.querySelectorAll(
      '.md-typeset pre > code, .md-typeset .math-display, .md-typeset math[display="block"]')) {
    if (el.tagName === 'CODE' && getComputedStyle(el).whiteSpace === 'pre') continue;
    if (shown(el) && el.scrollWidth > el.clientWidth + 1)
      cut.push(`${el.tagName.toLowerCase()} ${el.scrollWidth}px in ${el.clientWidth}px: ${name(el)}`);
  }
  for (const el of document.querySelectorAll('.md-content *')) {
    if (!shown(el) || el.scrollWidth <= el.clientWidth + 1) continue;
    const style = getComputedStyle(el);
    if (!['auto', 'scroll'].includes(style.overflowX)) continue;
    const bar = el.offsetHeight - el.clientHeight
      - parseFloat(style.borderTopWidth) - parseFloat(style.borderBottomWidth);
    if (bar < 4) hidden.push(`${el.className || el.tagName}: ${name(el)}`);
  }
  for (const button of document.querySelectorAll('.md-typeset pre > .md-clipboard')) {
    const b = button.getBoundingClientRect();
    const code = button.parentElement.querySelector('code');
    if (!code || !shown(button)) continue;
    const range = document.createRange();
    range.selectNodeContents(code);
    for (const r of range.getClientRects()) {
      if (r.width > 0 && r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top) {
        covered.push(name(code)); break;
      }
    }
  }
  // content that spills out of the article (inline formulas do not wrap), unless it
  // sits in a scrolling box (reported above if that box draws no scrollbar)
  const page = [];
  const article = document.querySelector('.md-content__inner');
  const edge = article.getBoundingClientRect().right + 1;
  for (const el of article.querySelectorAll('p math, li math, td math, p code, li code')) {
    let box = el.parentElement, scrolls = false;
    for (; box && box !== article; box = box.parentElement)
      if (['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) { scrolls = true; break; }
    if (scrolls || !shown(el)) continue;
    const range = document.createRange();  // the text itself, not the code's padding
    range.selectNodeContents(el);
    const right = Math.max(...Array.from(range.getClientRects(), r => r.right));
    if (right > edge)
      page.push(`sticks out of the text column by ${Math.round(right - edge + 1)}px: ${name(el)}`);
  }
  return {cut, hidden, covered, page};
}"""


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"chromium not found at {CHROMIUM}")
    with sync_playwright() as p:
        try:  # with scrollbars drawn as a reader sees them (Playwright hides them by default)
            b = p.chromium.launch(
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
                ignore_default_args=["--hide-scrollbars"],
            )
        except Exception as exc:  # pragma: no cover - depends on the machine
            pytest.skip(f"chromium did not start: {exc}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on a free local port (its pages link to folders)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_nothing_is_cut_off_at_1280_or_390_px(site, served, browser):
    """Each code block, trace and display formula of every page fits its column at both
    widths; anything else wider than its column (a table) scrolls with a drawn scrollbar;
    no code runs under its copy button; no page scrolls sideways. Screenshots of every
    page at both widths go to $CHAINRULE_SCREENSHOTS when it is set."""
    shots = os.environ.get("CHAINRULE_SCREENSHOTS")
    pages = sorted(p.parent.relative_to(site).as_posix() for p in site.rglob("index.html"))
    pages = [p for p in pages if p != "404"]
    assert len(pages) >= len(PAGES)
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    # the search index is the slowest thing a page loads, and it draws nothing in the text
    page.route("**/search/**", lambda route: route.abort())
    problems = []
    try:
        for rel in pages:
            page.goto(served + ("" if rel == "." else rel + "/"))
            for width in WIDTHS:  # one load, laid out again at each width
                page.set_viewport_size({"width": width, "height": 900})
                found = page.evaluate(LAYOUT_JS)
                where = f"{'index' if rel == '.' else rel} at {width}px"
                problems += [f"{where}: cut off: {x}" for x in found["cut"]]
                problems += [f"{where}: scrolls without a scrollbar: {x}" for x in found["hidden"]]
                problems += [f"{where}: text under the copy button: {x}" for x in found["covered"]]
                problems += [f"{where}: {x}" for x in found["page"]]
                if shots:
                    out = (
                        Path(shots)
                        / f"{'index' if rel == '.' else rel.replace('/', '-')}-{width}.png"
                    )
                    out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(out), full_page=True)
    finally:
        page.close()
    assert not problems, "\n".join(problems)


# -- Every guide page ends with a "try it" link into the playground, set up for that page --

PLAYGROUND = "http://127.0.0.1:8000/#"  # where `chainrule playground` serves the page
# guide pages another branch owns, whose link is still to come
TRY_IT_PENDING: set[str] = set()  # every guide page has its link


def _guide_pages() -> list[str]:
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *a: None)
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)["nav"]
    guide = next(item["Guide"] for item in nav if isinstance(item, dict) and "Guide" in item)
    return [next(iter(entry.values())) for entry in guide]


def _playground_keys() -> set[str]:
    """The settings the playground page reads from its address (static/app.js)."""
    js = (ROOT / "src" / "chainrule" / "playground" / "static" / "app.js").read_text("utf-8")
    fields = re.search(r"const FIELDS = \[(.*?)\];", js, re.S)
    assert fields, "app.js no longer lists its URL settings in `const FIELDS = [...]`"
    keys = set(re.findall(r'"(\w+)"', fields.group(1)))
    return keys | {k for k in ("hidden", "features") if f'p.has("{k}")' in js}


def _playground_config(url: str) -> dict:
    """The settings a link gives the playground, parsed as app.js parses them."""
    from urllib.parse import parse_qsl

    def number(v: str):
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return v

    cfg: dict = {}
    for key, value in parse_qsl(url[len(PLAYGROUND) :], keep_blank_values=True):
        if key == "hidden":
            cfg[key] = [int(v) for v in value.split(",")] if value else []
        elif key == "features":
            cfg[key] = value.split(",") if value else []
        else:
            cfg[key] = number(value)
    return cfg


@pytest.mark.parametrize("name", _guide_pages())
def test_guide_page_ends_with_a_playground_link(name):
    if name in TRY_IT_PENDING:
        pytest.skip(f"{name} belongs to another branch; its try-it link is still to come")
    text = (DOCS / name).read_text(encoding="utf-8")
    last = text.rsplit("\n## ", 1)[-1]
    assert last.startswith("Try it\n"), f"{name} should end with a '## Try it' section"
    links = re.findall(r"\]\((http[^)\s]*)\)", last)
    assert [u for u in links if u.startswith(PLAYGROUND)], f"{name}: no link to {PLAYGROUND}..."
    pytest.importorskip("starlette")
    from chainrule.playground.app import validate

    keys = _playground_keys()
    for url in (u for u in links if u.startswith(PLAYGROUND)):
        cfg = _playground_config(url)
        assert set(cfg) <= keys, f"{name}: the playground does not read {set(cfg) - keys}"
        checked = validate(dict(cfg))  # what the server would make of it, or its error
        for key, value in cfg.items():
            if key != "loss":
                assert checked[key] == value, f"{name}: {key}={value!r} became {checked[key]!r}"


def test_guide_nav_titles_match_the_page_headings():
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *a: None)
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)["nav"]
    guide = next(item["Guide"] for item in nav if isinstance(item, dict) and "Guide" in item)
    for entry in guide:
        ((title, name),) = entry.items()
        heading = (DOCS / name).read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
        assert heading.startswith(title), f"nav says {title!r}, {name} says {heading!r}"
