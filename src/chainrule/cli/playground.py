"""``chainrule playground``: serve the browser playground."""

from __future__ import annotations

import argparse

from .errors import CLIError
from .ui import UI


def cmd_playground(args: argparse.Namespace, ui: UI) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        from ..playground.app import main as serve
    except ImportError:
        raise CLIError(
            "the playground needs its extra: pip install 'chainrule[playground]'"
        ) from None
    serve(args.port, not args.no_browser)
    return 0
