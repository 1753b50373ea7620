"""The ``chainrule`` command: train, use and inspect networks from a terminal.

Subcommands::

    chainrule demo                                  train on built-in data, write plots
    chainrule train DATA --target COL               fit a network on a CSV/Parquet table
    chainrule tune DATA --target COL                search the architecture (Optuna)
    chainrule predict MODEL DATA [--out preds.csv]  predictions in the table's own terms
    chainrule evaluate MODEL DATA [--json]          loss and metrics on labelled data
    chainrule summary MODEL [--json]                what a model file holds
    chainrule plot MODEL|activations --out FILE     loss curve, confusion, boundary...
    chainrule diagnose MODEL DATA                   why a network learns badly
    chainrule export MODEL --to onnx|torch OUT      hand the network to other tools

Conventions: results (tables, CSV, JSON) go to stdout; notes, progress and
errors go to stderr. Every error is one line ``chainrule: error: ...`` with
exit code 2 for a usage mistake, 1 for bad data or files and 3 when training
diverged (``EXIT_DIVERGED``; the model is then not saved unless
``--save-diverged``); ``--verbose`` adds the traceback. Colour and progress
bars only appear on a terminal.

The package, one way down::

    errors     CLIError, exit codes, PROG          (imports nothing of the CLI)
    ui         UI: stdout for results, stderr for the rest
    tables     reading tables and model files, scores, output files
    figures    the plots the commands write
    fitting    building and training a network (train, tune, demo)
    train      train, tune          predict   predict, evaluate
    inspect_model  summary, plot, diagnose, export
    playground, demo               one command each
    parser     the argparse tree, pointing at the commands
    run        main(): parse, dispatch, one-line errors
"""

from __future__ import annotations

from . import run
from .errors import (
    EXIT_DIVERGED,
    PROG,
    CLIError,
    _optional_module,  # noqa: F401  (tests reach it as cli._optional_module)
)
from .fitting import CLASSIFY_LOSSES, REGRESS_LOSSES, build_network
from .parser import build_parser, parse_hidden
from .run import main
from .tables import (
    _atomic_write_text,  # noqa: F401  (tests reach it as chainrule.cli._atomic_write_text)
    check_columns,
    load_model,
    read_table,
    scores,
)
from .ui import UI

__all__ = [
    "CLASSIFY_LOSSES",
    "CLIError",
    "EXIT_DIVERGED",
    "PROG",
    "REGRESS_LOSSES",
    "UI",
    "build_network",
    "build_parser",
    "check_columns",
    "load_model",
    "main",
    "parse_hidden",
    "read_table",
    "run",
    "scores",
]
