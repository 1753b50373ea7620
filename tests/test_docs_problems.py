"""docs/problems.md's playground links: settings the server accepts, and the verdict they name.

Each link ``http://127.0.0.1:8000/#key=value&...`` carries the page's
settings in the form ``app.js`` writes and reads (``hashFor`` /
``settingsFromHash``): numbers as numbers, ``hidden`` and ``features`` as
comma-separated lists. The server's ``validate`` must accept each one, and
a few, trained in a playground session, must get the verdict the link is
listed under.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

pytest.importorskip("chainrule.playground.session")
from chainrule.playground.session import Session, validate  # noqa: E402
from chainrule.verdicts import KINDS  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "docs" / "problems.md"
LINK = re.compile(r"^- `(\w+)`: \[[^\]]+\]\((http://127\.0\.0\.1:8000/#[^)]+)\)", re.M)


def _number(v: str):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def settings(url: str) -> dict:
    """The configuration the page sends for ``url``'s hash (as settingsFromHash reads it)."""
    cfg = {}
    for key, value in parse_qsl(urlsplit(url).fragment, strict_parsing=True):
        if key in ("hidden", "features"):
            parts = value.split(",") if value else []
            cfg[key] = [_number(p) for p in parts] if key == "hidden" else parts
        else:
            cfg[key] = _number(value)
    return cfg


LINKS = LINK.findall(PAGE.read_text(encoding="utf-8"))


def test_the_page_links_the_playground_for_its_verdicts():
    kinds = [k for k, _ in LINKS]
    assert len(kinds) >= 5 and len(set(kinds)) == len(kinds)
    assert set(kinds) <= set(KINDS)


@pytest.mark.parametrize("kind, url", LINKS, ids=[k for k, _ in LINKS])
def test_the_server_accepts_every_link(kind, url):
    cfg = settings(url)
    checked = validate(cfg)  # raises PlaygroundError on anything the page would refuse
    for key, value in cfg.items():
        assert checked[key] == value, f"{kind}: {key} became {checked[key]!r}"


@pytest.mark.parametrize("kind", ["not_learning", "vanishing_gradients", "underfitting"])
def test_a_link_provokes_its_verdict(kind):
    url = dict(LINKS)[kind]
    session = Session()
    session.configure(validate(settings(url)))
    session.train_epochs(60)
    verdicts = session._diagnosis()["verdicts"]
    assert verdicts and verdicts[0]["kind"] == kind, verdicts
    assert verdicts[0]["severity"] == "problem"
