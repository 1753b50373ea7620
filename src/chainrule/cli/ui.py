"""Where the command talks: results to stdout; notes, progress and errors to stderr."""

from __future__ import annotations

import os
import sys

from .errors import PROG, _one_line


def _wants_color(stream) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class UI:
    """Where and how the command talks: results to stdout, the rest to stderr.

    Parameters
    ----------
    quiet : bool
        No notes and no progress (results, warnings and errors still appear).
    verbose : bool
        More notes, and the traceback of errors.
    """

    _CODES = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "dim": "2"}

    def __init__(self, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose

    def _paint(self, text: str, style: str, stream) -> str:
        if not _wants_color(stream):
            return text
        return f"\033[{self._CODES[style]}m{text}\033[0m"

    def out(self, text: str = "", style: str | None = None) -> None:
        """A result line on stdout."""
        print(self._paint(text, style, sys.stdout) if style else text, file=sys.stdout)

    def note(self, text: str) -> None:
        """Information on stderr (silenced by --quiet)."""
        if not self.quiet:
            print(text, file=sys.stderr)

    def detail(self, text: str) -> None:
        """Information on stderr shown only with --verbose."""
        if self.verbose and not self.quiet:
            print(text, file=sys.stderr)

    def warn(self, text: str) -> None:
        print(
            f"{PROG}: {self._paint('warning:', 'yellow', sys.stderr)} {_one_line(text)}",
            file=sys.stderr,
        )

    def error(self, text: str) -> None:
        print(
            f"{PROG}: {self._paint('error:', 'red', sys.stderr)} {_one_line(text)}", file=sys.stderr
        )

    @property
    def progress_mode(self) -> str:
        return "off" if self.quiet else "auto"
