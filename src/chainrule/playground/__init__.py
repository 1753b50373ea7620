"""The chainrule playground: watch a network learn in the browser, on the real engine.

Run it with ``chainrule playground`` (or ``python -m chainrule.playground.app``);
it needs the ``playground`` extra (Starlette and uvicorn). The session logic
(:class:`~chainrule.playground.app.Session`) is plain NumPy and chainrule; the
web layer only moves its JSON messages over a WebSocket.
"""

from __future__ import annotations

__all__ = ["main"]


def main(port: int = 8000, open_browser: bool = True) -> None:
    """Serve the playground on ``http://127.0.0.1:<port>/`` until interrupted."""
    from .app import main as _main

    _main(port, open_browser)
