"""The chainrule playground: watch a network learn in the browser, on the real engine.

Run it with ``chainrule playground`` (or ``python -m chainrule.playground.app``);
it needs the ``playground`` extra (Starlette and uvicorn). Three files:

- ``data``: the data sets, the input features and a learner's own CSV;
- ``session``: one tab's network and its training loop, plain NumPy and chainrule
  (:class:`~chainrule.playground.session.Session`), answering JSON messages;
- ``app``: the web layer, which only moves those messages over a WebSocket.
"""

from __future__ import annotations

__all__ = ["main"]


def main(port: int = 8000, open_browser: bool = True) -> None:
    """Serve the playground on ``http://127.0.0.1:<port>/`` until interrupted."""
    from .app import main as _main

    _main(port, open_browser)
