"""``main``: parse the arguments, run the subcommand, turn every error into one line."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from .errors import CLIError, _one_line, _showwarning
from .parser import build_parser
from .ui import UI


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``chainrule`` command; returns the exit code.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 for bad data or files, 2 for usage mistakes,
        3 (``EXIT_DIVERGED``) when ``train`` diverged, 130 when interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in argv or "--verbose" in argv
    quiet = "-q" in argv or "--quiet" in argv
    ui = UI(quiet=quiet, verbose=verbose)
    warnings.showwarning = _showwarning
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        ui = UI(quiet=args.quiet, verbose=args.verbose)
        from .. import kernels

        if kernels.environment_error():
            raise CLIError(kernels.environment_error(), code=2)
        if args.command is None:
            parser.print_help()
            return 0
        return int(args.func(args, ui) or 0)
    except CLIError as exc:
        ui.error(str(exc))
        if ui.verbose:
            traceback.print_exc()
        return exc.code
    except KeyboardInterrupt:
        ui.error("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `chainrule predict ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, OSError, ImportError, MemoryError) as exc:
        message = str(exc)
        if isinstance(exc, OSError) and exc.strerror:
            message = exc.strerror + (f": {exc.filename}" if exc.filename else "")
        ui.error(message or type(exc).__name__)
        if ui.verbose:
            traceback.print_exc()
        return 1
    except Exception as exc:
        ui.error(
            f"unexpected {type(exc).__name__}: {_one_line(exc)} (run again with --verbose for "
            "the traceback, and please report it)"
        )
        if ui.verbose:
            traceback.print_exc()
        return 1
