"""MkDocs hook: turn the TeX of ``$...$`` and ``$$...$$`` into MathML while building.

``pymdownx.arithmatex`` (``generic: true``) leaves each formula on the page as
``<span class="arithmatex">\\(...\\)</span>`` (inline) or
``<div class="arithmatex">\\[...\\]</div>`` (display). Without this hook a
JavaScript library would have to typeset them in the reader's browser. Here
each formula is converted once, at build time, with ``latex2mathml``; browsers
draw MathML themselves, so the site needs no script and no network.

A formula that latex2mathml cannot translate (an unknown command comes out
as a literal backslash) stops the build with its page and TeX, instead of
showing a broken formula.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert
from mkdocs.exceptions import PluginError

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_DISPLAY = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def tex_to_mathml(tex: str, display: bool, where: str = "") -> str:
    """MathML for one formula; ``tex`` as arithmatex wrote it (HTML-escaped)."""
    source = html.unescape(tex).strip()
    mathml = convert(source, display="block" if display else "inline")
    if "\\" in mathml:
        raise PluginError(f"{where}: latex2mathml could not translate the formula {source!r}")
    # the TeX goes along for screen readers that prefer it and for copy-paste
    return mathml.replace("<math ", f'<math alttext="{html.escape(source)}" ', 1)


def split_parts(tex: str) -> list[str]:
    """The parts of a display formula separated by ``\\qquad`` outside any braces or
    environment, so that a narrow screen can put them one under the other."""
    parts, depth, start = [], 0, 0
    for m in re.finditer(r"\\qquad\b|\\begin\b|\\end\b|(?<!\\)[{}]", tex):
        token = m.group(0)
        if token in ("{", "\\begin"):
            depth += 1
        elif token in ("}", "\\end"):
            depth -= 1
        elif depth == 0:
            parts.append(tex[start : m.start()])
            start = m.end()
    parts.append(tex[start:])
    parts = [p.strip() for p in parts]
    return [p for p in parts if p] or [tex]


def display_html(tex: str, where: str = "") -> str:
    """A display formula's HTML: one block of MathML, or one per ``\\qquad`` part."""
    parts = split_parts(tex)
    inner = "".join(tex_to_mathml(p, True, where) for p in parts)
    kind = "math-display math-parts" if len(parts) > 1 else "math-display"
    return f'<div class="{kind}">{inner}</div>'


def on_page_content(html_text: str, page, **kwargs) -> str:
    where = page.file.src_uri
    html_text = _DISPLAY.sub(lambda m: display_html(m.group(1), where), html_text)
    return _INLINE.sub(lambda m: tex_to_mathml(m.group(1), False, where), html_text)
