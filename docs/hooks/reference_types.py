"""MkDocs hook: keep numpydoc's ``array-like`` as written in the API reference.

mkdocstrings reads a docstring's type as a Python expression where it can, so
``X : array-like`` is shown as ``array - like``. The reference pages get the
hyphen back; nothing else on them is touched.
"""

from __future__ import annotations

import re

_SPLIT = re.compile(r"\barray - like\b")


def on_page_content(html_text: str, page, **kwargs) -> str:
    if not page.file.src_uri.startswith("reference/"):
        return html_text
    return _SPLIT.sub("array-like", html_text)
