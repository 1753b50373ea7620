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


def on_page_content(html_text: str, page, **kwargs) -> str:
    where = page.file.src_uri
    html_text = _DISPLAY.sub(
        lambda m: f'<div class="math-display">{tex_to_mathml(m.group(1), True, where)}</div>',
        html_text,
    )
    return _INLINE.sub(lambda m: tex_to_mathml(m.group(1), False, where), html_text)
