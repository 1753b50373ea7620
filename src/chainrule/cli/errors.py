"""The one-line errors of the ``chainrule`` command: ``CLIError``, exit codes, warnings."""

from __future__ import annotations

import sys

PROG = "chainrule"


#: Exit code of ``chainrule train`` when training diverged (NaN, inf or an exploding loss).
EXIT_DIVERGED = 3


class CLIError(Exception):
    """A problem with the user's input: printed as one line, exit with ``code``.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, how to fix it.
    code : int
        1 for data and file problems, 2 for usage mistakes.
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _optional_module(name: str, what: str):
    """``chainrule.<name>`` or a CLIError saying it is not in this build."""
    import importlib

    try:
        return importlib.import_module(f"chainrule.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"chainrule.{name}", "chainrule"):
            raise CLIError(f"{what} are not available in this build") from None
        raise CLIError(f"{what} need the {exc.name} package: pip install {exc.name}") from None


def _showwarning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)
