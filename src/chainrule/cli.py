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
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

PROG = "chainrule"
CLASSIFY_LOSSES = ("cross_entropy", "binary_cross_entropy", "hinge")
#: Exit code of ``chainrule train`` when training diverged (NaN, inf or an exploding loss).
EXIT_DIVERGED = 3
#: Model file suffixes ``train --out`` refuses, with what to use instead.
_OTHER_FORMATS = {
    ".onnx": "train to a .safetensors file, then 'chainrule export MODEL --to onnx OUT'",
    ".pt": "train to a .safetensors file, then 'chainrule export MODEL --to torch OUT'",
    ".pth": "train to a .safetensors file, then 'chainrule export MODEL --to torch OUT'",
    ".csv": "--out is the model file; predictions are written by 'chainrule predict'",
    ".json": "--out is the model file (.safetensors)",
    ".pkl": "chainrule writes safetensors model files, never pickles",
    ".pickle": "chainrule writes safetensors model files, never pickles",
}
REGRESS_LOSSES = ("mse", "mae", "huber")


# =============================================================================
# Errors and output
# =============================================================================
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


# =============================================================================
# Argument parsing
# =============================================================================
class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (raised as CLIError, code 2)."""

    def error(self, message: str):  # noqa: D401 - argparse's API
        raise CLIError(f"{message} (see '{self.prog} --help')", code=2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _seed(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _validation_fraction(text: str) -> float:
    value = _fraction(text)
    if value > 0.5:
        raise argparse.ArgumentTypeError(
            f"must be at most 0.5 so that at least half the rows train, got {text}"
        )
    return value


def parse_hidden(text: str) -> list[int]:
    """``"64,32"`` -> ``[64, 32]``; ``""`` or ``"none"`` -> ``[]`` (no hidden layer).

    Raises ``argparse.ArgumentTypeError`` for a size that is not a whole
    number of at least 1.
    """
    if text.strip().lower() in ("", "none"):
        return []
    sizes = []
    for part in text.split(","):
        part = part.strip()
        try:
            size = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a list of layer sizes such as 64,32 ({part!r} is not a whole "
                "number)"
            ) from None
        if size < 1:
            raise argparse.ArgumentTypeError(
                f"layer sizes must be at least 1, got {size} in {text!r}"
            )
        sizes.append(size)
    return sizes


def _activation_name(text: str) -> str:
    from .activations import ACTIVATIONS

    key = text.strip().lower().replace("-", "_")
    if key not in ACTIVATIONS or key == "softmax":
        valid = ", ".join(sorted(k for k in ACTIVATIONS if k != "softmax"))
        raise argparse.ArgumentTypeError(f"unknown activation {text!r}; choose from {valid}")
    return key


def _loss_name(text: str) -> str:
    from .losses import get_loss

    try:
        return get_loss(text).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _column_list(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


class _Once(argparse.Action):
    """An option that may be given once: a repeat is an error, not a silent override."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, self.dest, None) is not None:
            raise argparse.ArgumentError(
                self, "given twice; a network here predicts one target column"
            )
        setattr(namespace, self.dest, values)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``chainrule`` command (all subcommands)."""
    from . import __version__

    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("output")
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress and no notes; only results, warnings and errors",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="more detail, and the Python traceback of errors",
    )
    fmt = argparse.RawDescriptionHelpFormatter

    parser = _Parser(
        prog=PROG,
        description="chainrule: neural networks from first principles on NumPy, from the "
        "command line.",
        formatter_class=fmt,
        epilog=_examples(
            "chainrule demo",
            "chainrule train data.csv --target species --out model.safetensors",
            "chainrule predict model.safetensors new.csv --out predictions.csv",
            "chainrule evaluate model.safetensors test.csv --json",
            "chainrule <command> --help",
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False,
        help="no progress and no notes (also after a command)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False,
        help="more detail and error tracebacks (also after a command)",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", parser_class=_Parser)

    # -- demo --------------------------------------------------------------------------
    p = sub.add_parser(
        "demo",
        parents=[common],
        formatter_class=fmt,
        help="train on built-in data and write plots (start here)",
        description="Train two networks on data that ships with chainrule (no download): "
        "handwritten digits (test accuracy, confusion matrix, loss curve, diagnosis) and "
        "two spirals (decision boundary). Writes PNG plots, models and a CSV to a folder.",
        epilog=_examples(
            "chainrule demo",
            "chainrule demo --out /tmp/demo --epochs 5 --quiet",
        ),
    )
    p.add_argument(
        "--out",
        default="chainrule-demo",
        metavar="DIR",
        help="output folder (default: ./chainrule-demo, created if needed)",
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="epochs for both networks (default: 30 for digits, 300 for spirals)",
    )
    p.add_argument("--seed", type=_seed, default=0, metavar="S", help="random seed (default 0)")
    p.set_defaults(func=cmd_demo)

    # -- train --------------------------------------------------------------------------
    p = sub.add_parser(
        "train",
        parents=[common],
        formatter_class=fmt,
        help="train a network on a CSV or Parquet table",
        description="Train a network on a table. Text columns are one-hot encoded, every "
        "input is standardised, and that preprocessing is stored in the model file so that "
        "'chainrule predict' applies the same steps.",
        epilog=_examples(
            "chainrule train iris.csv --target species",
            "chainrule train houses.parquet --target price --hidden 128,64 --epochs 50",
            "chainrule train data.csv --target label --impute median --validation-split 0.2",
            "chainrule train data.csv --target label --dry-run",
        )
        + f"\n\nexit codes: 0 trained and saved, 1 bad data or files, 2 bad options, "
        f"{EXIT_DIVERGED} training diverged (the model is not saved unless --save-diverged)",
    )
    p.add_argument("data", metavar="DATA", help="a .csv, .tsv or .parquet file")
    p.add_argument(
        "--target", required=True, action=_Once, metavar="COL", help="the column to predict"
    )
    p.add_argument(
        "--task",
        choices=("classify", "regress"),
        default=None,
        help="default: detected from the target (text or a few whole numbers: classify)",
    )
    p.add_argument(
        "--hidden",
        type=parse_hidden,
        default=[100],
        metavar="SIZES",
        help="hidden layer widths, comma separated (default 100; 'none' for a linear model)",
    )
    p.add_argument(
        "--activation",
        type=_activation_name,
        default="relu",
        help="hidden activation (default relu)",
    )
    p.add_argument(
        "--loss",
        type=_loss_name,
        default=None,
        help="default: cross_entropy to classify, mse to regress",
    )
    p.add_argument(
        "--optimizer",
        default="adam",
        choices=("sgd", "adagrad", "rmsprop", "adam", "adamw"),
        help="default adam",
    )
    p.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="peak learning rate (default 2e-3 for adam/adamw, else the optimizer's)",
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="default: scaled with the rows (at least 600 steps, 16 to 256 epochs)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="default: about a tenth of the training rows, 16 to 256",
    )
    p.add_argument(
        "--schedule",
        choices=("warmup_cosine", "constant"),
        default="warmup_cosine",
        help="learning rate over the run (default warmup_cosine: 5%% warm-up, cosine to 0)",
    )
    p.add_argument(
        "--dropout",
        type=_fraction,
        default=0.0,
        metavar="P",
        help="dropout after each hidden layer",
    )
    p.add_argument(
        "--weight-decay",
        type=_nonnegative_float,
        default=0.0,
        metavar="WD",
        help="the optimizer's weight decay (an L2 penalty; decoupled for adamw)",
    )
    p.add_argument(
        "--batchnorm",
        action="store_true",
        help="BatchNorm between each hidden layer and its activation",
    )
    p.add_argument(
        "--class-weight",
        default=None,
        metavar="W",
        help="'balanced' or CLASS=WEIGHT,... (classification: weights each row's loss)",
    )
    p.add_argument(
        "--sample-weight",
        default=None,
        metavar="COL",
        help="a column of non-negative row weights (not used as a feature)",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="MODEL",
        help="continue training a model written by 'chainrule train' (same columns)",
    )
    p.add_argument(
        "--validation-split",
        type=_validation_fraction,
        default=0.2,
        metavar="F",
        help="fraction of rows held out for validation, at most 0.5 (default 0.2; 0 for none)",
    )
    p.add_argument(
        "--patience",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop when the validation loss has not improved for N epochs (needs a "
        "validation split: an error with --validation-split 0)",
    )
    p.add_argument(
        "--impute",
        choices=("mean", "median", "drop"),
        default=None,
        help="fill missing feature values (mean/median) or drop their rows; "
        "without it missing values are an error",
    )
    p.add_argument(
        "--ignore",
        type=_column_list,
        default=[],
        metavar="COLS",
        help="comma-separated columns that are not features (ids...)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="S",
        help="seed for the weights, the split and the shuffling (default 0)",
    )
    p.add_argument(
        "--out",
        default="model.safetensors",
        metavar="FILE",
        help="model file to write (default model.safetensors); not written if training "
        f"diverges (exit code {EXIT_DIVERGED}) unless --save-diverged",
    )
    p.add_argument(
        "--save-diverged",
        action="store_true",
        help=f"save the model even if training diverged (the exit code is still {EXIT_DIVERGED})",
    )
    p.add_argument(
        "--checkpoint",
        action="store_true",
        help="also store the optimizer state (to continue training in Python)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="read the data and show the network; train nothing"
    )
    p.set_defaults(func=cmd_train)

    # -- tune ---------------------------------------------------------------------------
    p = sub.add_parser(
        "tune",
        parents=[common],
        formatter_class=fmt,
        help="search the network's architecture and training settings (Optuna)",
        description="Search depth, width, activation, learning rate, dropout, weight decay and "
        "batch size with Optuna (TPE sampler, median pruner on the per-epoch validation loss), "
        "starting from the default recipe; save the best model with its preprocessing.",
        epilog=_examples(
            "chainrule tune data.csv --target label --trials 50",
            "chainrule tune data.csv --target price --trials 100 --timeout 120 --jobs 2 --plots out",
        ),
    )
    p.add_argument("data", metavar="DATA", help="a .csv, .tsv or .parquet file")
    p.add_argument("--target", required=True, action=_Once, metavar="COL")
    p.add_argument("--task", choices=("classify", "regress"), default=None)
    p.add_argument("--trials", type=_positive_int, default=50, metavar="N", help="default 50")
    p.add_argument(
        "--timeout", type=_positive_float, default=None, metavar="S", help="stop after S seconds"
    )
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N", help="parallel trials")
    p.add_argument("--validation-split", type=_fraction, default=0.2, metavar="F")
    p.add_argument("--impute", choices=("mean", "median", "drop"), default=None)
    p.add_argument("--ignore", type=_column_list, default=[], metavar="COLS")
    p.add_argument("--seed", type=_int, default=0, metavar="S", help="default 0")
    p.add_argument("--top", type=_positive_int, default=10, metavar="N", help="trials shown")
    p.add_argument("--out", default="model.safetensors", metavar="FILE", help="the best model")
    p.add_argument(
        "--plots", default=None, metavar="DIR", help="write history.png and importances.png"
    )
    p.set_defaults(func=cmd_tune)

    # -- predict -------------------------------------------------------------------------
    p = sub.add_parser(
        "predict",
        parents=[common],
        formatter_class=fmt,
        help="predict with a model file",
        description="Predict each row of a table with a model trained by 'chainrule train' "
        "(its preprocessing is applied). Writes CSV: a 'prediction' column (class names or "
        "values) and, with --proba, one probability column per class.",
        epilog=_examples(
            "chainrule predict model.safetensors new.csv --out predictions.csv",
            "chainrule predict model.safetensors new.csv --proba | head",
        ),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", default=None, metavar="FILE", help="CSV file (default: stdout)")
    p.add_argument("--proba", action="store_true", help="add probability columns (classifiers)")
    p.set_defaults(func=cmd_predict)

    # -- evaluate -------------------------------------------------------------------------
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        formatter_class=fmt,
        help="loss and metrics of a model on labelled data",
        description="Loss and metrics on a labelled table: accuracy, precision, recall and F1 "
        "for a classifier; MSE, RMSE, MAE and R^2 in the target's units for a regressor.",
        epilog=_examples(
            "chainrule evaluate model.safetensors test.csv",
            "chainrule evaluate model.safetensors test.csv --target species --json",
        ),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--target",
        default=None,
        metavar="COL",
        help="the label column (default: the one the model was trained on)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_evaluate)

    # -- summary ----------------------------------------------------------------------------
    p = sub.add_parser(
        "summary",
        parents=[common],
        formatter_class=fmt,
        help="what a model file holds",
        description="Layers, parameter counts, task, classes, inputs and training history "
        "of a model file.",
        epilog=_examples(
            "chainrule summary model.safetensors",
            "chainrule summary model.safetensors --json",
        ),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_summary)

    # -- plot -----------------------------------------------------------------------------
    p = sub.add_parser(
        "plot",
        parents=[common],
        formatter_class=fmt,
        help="plot a model (loss curve, confusion, boundary) or the activations",
        description="Write a plot to an image file. 'activations' plots every activation "
        "function with its derivative. For a model: 'loss' (training history, the default "
        "without data), 'confusion' (a classifier on DATA), 'scatter' (a regressor on DATA: "
        "predicted against true) or 'boundary' (a 2-input classifier on DATA).",
        epilog=_examples(
            "chainrule plot activations --out activations.png",
            "chainrule plot model.safetensors --out loss.png",
            "chainrule plot model.safetensors test.csv --kind confusion --out confusion.png",
        ),
    )
    p.add_argument("what", metavar="MODEL|activations")
    p.add_argument("data", nargs="?", default=None, metavar="DATA")
    p.add_argument(
        "--target", default=None, metavar="COL", help="label column of DATA (default: the model's)"
    )
    p.add_argument("--kind", choices=("loss", "confusion", "boundary", "scatter"), default=None)
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="image file, .png/.svg/.pdf (default: <kind>.png)",
    )
    p.set_defaults(func=cmd_plot)

    # -- diagnose ---------------------------------------------------------------------------
    p = sub.add_parser(
        "diagnose",
        parents=[common],
        formatter_class=fmt,
        help="explain why a network learns badly (dead units, vanishing gradients...)",
        description="Run the network on labelled data and report dead ReLUs, saturated "
        "units, vanishing or exploding gradients, in plain words.",
        epilog=_examples("chainrule diagnose model.safetensors data.csv --target species"),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--target", default=None, metavar="COL", help="the label column (default: the model's)"
    )
    p.set_defaults(func=cmd_diagnose)

    # -- export -------------------------------------------------------------------------------
    p = sub.add_parser(
        "export",
        parents=[common],
        formatter_class=fmt,
        help="export a model to ONNX or PyTorch",
        description="Write the network as an ONNX model or a PyTorch TorchScript module.",
        epilog=_examples(
            "chainrule export model.safetensors --to onnx model.onnx",
            "chainrule export model.safetensors --to torch model.pt",
        ),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--to", required=True, choices=("onnx", "torch"))
    p.add_argument("out", metavar="OUT")
    p.set_defaults(func=cmd_export)
    # -- playground -----------------------------------------------------------------------
    p = sub.add_parser(
        "playground",
        parents=[common],
        formatter_class=fmt,
        help="watch a network learn in the browser (a local web app)",
        description="Serve the chainrule playground on http://127.0.0.1:PORT/ (loopback only) "
        "and open it in the browser: pick a dataset, stack layers, press play, and watch the "
        "decision boundary, the diagnosis and the chain rule of any weight.",
        epilog=_examples("chainrule playground", "chainrule playground --port 8001 --no-browser"),
    )
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default: 8000)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.set_defaults(func=cmd_playground)

    return parser


# =============================================================================
# Reading tables and models
# =============================================================================
def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise CLIError("reading tables needs pandas: pip install 'chainrule[cli]'") from None
    return pd


def read_table(path: str | os.PathLike):
    """A pandas DataFrame from a CSV, TSV or Parquet file, or a one-line CLIError."""
    p = Path(path)
    if not p.exists():
        raise CLIError(f"no such file: {path}")
    if p.is_dir():
        raise CLIError(f"{path} is a folder, not a data file")
    pd = _pandas()
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(p)
        except ImportError:
            raise CLIError("reading Parquet needs pyarrow: pip install pyarrow") from None
        except Exception as exc:
            raise CLIError(f"cannot read {path} as Parquet: {_one_line(exc)}") from None
    else:
        sep = "\t" if any(s in (".tsv", ".tab") for s in suffixes) else ","
        try:
            df = pd.read_csv(p, sep=sep)
        except pd.errors.EmptyDataError:
            raise CLIError(f"{path} is empty: expected a header line and rows") from None
        except pd.errors.ParserError as exc:
            raise CLIError(f"cannot parse {path} as CSV: {_one_line(exc)}") from None
        except UnicodeDecodeError:
            raise CLIError(f"{path} is not a text CSV file (is it binary?)") from None
        _check_header(pd, p, sep, path)
    if df.shape[1] == 0:
        raise CLIError(f"{path} is empty: it has no columns")
    if len(df) == 0:
        raise CLIError(f"{path} has a header but no rows")
    df.columns = [str(c) for c in df.columns]
    _refuse_duplicates(list(df.columns), path)
    return df


def _refuse_duplicates(names: list[str], path) -> None:
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        if name in seen:
            raise CLIError(
                f"{path} has two columns named {name!r} (columns {seen[name] + 1} and {k + 1}); "
                "column names must be unique: rename or remove one"
            )
        seen[name] = k


def _check_header(pd, p: Path, sep: str, path) -> None:
    """Refuse repeated column names, which pandas would silently rename ``x``, ``x.1``."""
    try:
        header = pd.read_csv(p, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    except Exception:  # the full read worked; a header it cannot re-read is not our concern
        return
    _refuse_duplicates([str(v) for v in header.iloc[0].tolist()], path)


#: The largest magnitude chainrule's float32 networks can hold.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_columns(df, columns: Sequence[str]) -> None:
    """Refuse cells the network cannot take, naming the column, the row and the value.

    A text cell in a column whose other cells are numbers (at least 90% of them)
    is a typo, not a category; an infinite number, or one too large for float32
    (``1e300``), has no place in a float32 network. Row numbers count data rows
    from 1 (the header is not a row).
    """
    pd = _pandas()
    for name in columns:
        if name not in df.columns:
            continue
        col = df[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            continue
        if pd.api.types.is_numeric_dtype(col.dtype):
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                bad = np.isinf(values) | (np.abs(values) > _FLOAT32_MAX)
            if bad.any():
                i = int(np.argmax(bad))
                why = (
                    "is infinite"
                    if np.isinf(values[i])
                    else f"overflows float32 (largest {_FLOAT32_MAX:.3g})"
                )
                raise CLIError(
                    f"column {name!r} row {i + 1}: the value {values[i]:g} {why}; chainrule "
                    "computes in float32, so fix or rescale that value (or leave the cell empty "
                    "for a missing value)"
                )
            continue
        present = col.dropna()
        if present.empty:
            continue
        sample = present.iloc[:: max(1, len(present) // 500)]  # a text column: stop early
        if pd.to_numeric(sample, errors="coerce").isna().mean() > 0.5:
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        text = numbers.isna()
        n_text = int(text.sum())
        if 0 < n_text <= 0.1 * len(present):
            where = present.index[np.argmax(text.to_numpy())]
            row = df.index.get_loc(where) + 1
            raise CLIError(
                f"column {name!r} holds numbers except {n_text} text cell(s), the first in row "
                f"{row}: {str(present[where])!r}; fix that cell or leave it empty for a missing "
                "value (a numeric column is not one-hot encoded)"
            )


def _columns_hint(df) -> str:
    cols = list(df.columns)
    shown = ", ".join(map(repr, cols[:15])) + (", ..." if len(cols) > 15 else "")
    return f"the columns are: {shown}"


def load_model(path: str | os.PathLike):
    """The network in a model file (``serialization.load``) with clear one-line errors."""
    from .serialization import load

    try:
        return load(path)
    except FileNotFoundError:
        raise CLIError(f"no such model file: {path}") from None
    except ImportError as exc:
        raise CLIError(str(exc)) from None


class _ModelData:
    """A loaded network with the preprocessing it was trained with (if any)."""

    def __init__(self, net) -> None:
        from .preprocessing import Preprocessor

        self.net = net
        info = getattr(net, "preprocessing_", None)
        self.pre = Preprocessor.from_dict(info) if info else None
        if self.pre is not None:
            self.task = self.pre.task
        else:
            from .losses import get_loss

            kind = get_loss(net.loss_).kind if net.loss_ else "regression"
            self.task = "regress" if kind == "regression" else "classify"

    @property
    def target(self) -> str | None:
        return self.pre.target if self.pre is not None else None

    @property
    def classes(self) -> list:
        if self.pre is not None and self.pre.classes is not None:
            return list(self.pre.classes)
        k = self.net.n_outputs or 1
        return list(range(max(k, 2)))

    def features(self, df, target: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Network inputs and the mask of rows kept."""
        from .preprocessing import MissingValuesError

        used = [c["name"] for c in self.pre.columns] if self.pre is not None else df.columns
        check_columns(df, [c for c in used if c != target])
        if self.pre is None:
            cols = [c for c in df.columns if c != target]
            pd = _pandas()
            bad = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c].dtype)]
            if bad:
                raise CLIError(
                    f"this model stores no preprocessing, so every column must be numeric; "
                    f"{', '.join(map(repr, bad[:5]))} are not"
                )
            if len(cols) != self.net.n_features_in:
                raise CLIError(
                    f"the data has {len(cols)} feature columns but the model expects "
                    f"{self.net.n_features_in} (it stores no preprocessing: give exactly its inputs)"
                )
            X = df[cols].to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isnan(X).any():
                raise CLIError("the data has missing values; fill them in first")
            return X, np.ones(len(df), dtype=bool)
        try:
            X, kept = self.pre.transform(df, return_mask=True)
        except MissingValuesError as exc:
            raise CLIError(
                f"missing values in column(s) {_counts_text(exc.counts)}: the model was trained "
                "without --impute, so fill them in first (or retrain with --impute "
                "mean|median|drop)"
            ) from None
        return X, kept

    def encode_target(self, series) -> np.ndarray:
        if self.pre is not None:
            return self.pre.encode_target(series)
        pd = _pandas()
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(numbers) & series.notna().to_numpy()
        if self.task == "classify":
            k = max(self.net.n_outputs or 1, 2)
            with np.errstate(invalid="ignore"):
                bad |= (numbers != np.round(numbers)) | (numbers < 0) | (numbers >= k)
        if bad.any():
            i = int(np.argmax(bad))
            wanted = f"class numbers 0..{k - 1}" if self.task == "classify" else "numbers"
            raise CLIError(
                f"target column {series.name!r} row {i + 1} holds {series.iloc[i]!r}, but this "
                f"model stores no preprocessing, so its targets must be {wanted}"
            )
        if self.task == "classify":
            return numbers.astype(np.int64)
        return numbers

    def decode(self, answers: np.ndarray) -> np.ndarray:
        """``net.predict`` answers to class names or values in the target's units."""
        if self.pre is not None:
            return self.pre.decode_target(answers)
        return answers

    def true_values(self, y_encoded: np.ndarray) -> np.ndarray:
        if self.pre is not None and self.task == "regress":
            return y_encoded * self.pre.target_scale + self.pre.target_mean
        return y_encoded


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name!r} ({n} missing)" for name, n in counts.items())


def scores(model: _ModelData, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Loss and metrics of ``model`` on network inputs ``X`` and encoded targets ``y``.

    Classification: ``loss``, ``accuracy``, ``precision``, ``recall``, ``f1``
    (class 1 for two classes, the macro average otherwise). Regression:
    ``loss`` (the training objective, on the standardised target), then
    ``mse``, ``rmse``, ``mae`` and ``r2`` in the target's units.
    """
    from . import metrics, training

    net = model.net
    result = {"loss": float(training.evaluate(net, X, y, metrics=[])["loss"])} if net.loss_ else {}
    answers = training.predict(net, X)
    if model.task == "classify":
        for name in ("accuracy", "precision", "recall", "f1"):
            result[name] = float(getattr(metrics, name)(y, answers))
    else:
        true = model.true_values(np.asarray(y, dtype=np.float64))
        pred = np.asarray(model.decode(answers), dtype=np.float64)
        result["mse"] = metrics.mse(true, pred)
        result["rmse"] = math.sqrt(result["mse"])
        result["mae"] = metrics.mae(true, pred)
        result["r2"] = metrics.r2(true, pred)
    return result


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 1e5 else f"{v:.4g}"
        return str(v)

    text = [[str(h) for h in header]] + [[cell(v) for v in r] for r in rows]
    widths = [max(len(r[c]) for r in text) for c in range(len(header))]
    lines = []
    for k, r in enumerate(text):
        first = r[0].ljust(widths[0])
        rest = "  ".join(v.rjust(w) for v, w in zip(r[1:], widths[1:]))
        lines.append(f"{first}  {rest}".rstrip())
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _atomic_write_text(path: Path, text: str) -> None:
    from .atomic import write_atomic

    try:
        write_atomic(path, text)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None


def _check_out_folder(path: str | os.PathLike) -> Path:
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CLIError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise CLIError(f"cannot write {path}: it is a folder")
    return path


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1024:.1f} kB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


# =============================================================================
# Plots (chainrule.plots when present, small matplotlib figures otherwise)
# =============================================================================
def _matplotlib():
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure and release it."""
    fig.savefig(path, dpi=100, bbox_inches="tight")
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    return path


def figure_history(ui: UI, history: dict[str, list[float]], title: str = "training"):
    """Loss (and metric) curves per epoch (``chainrule.plots.plot_history``)."""
    from . import plots

    fig = plots.plot_history(history)
    fig.suptitle(title)
    return fig


def figure_confusion(ui: UI, net, X, y_true, y_pred, class_names: Sequence, title: str = ""):
    """Counts of true class (rows) against predicted class (columns)."""
    from . import plots

    labels = list(range(len(class_names)))
    fig = plots.plot_confusion_matrix(y_true, y_pred, labels=labels)
    ax = fig.axes[0]
    ax.set_xticks(labels, [str(c) for c in class_names])
    ax.set_yticks(labels, [str(c) for c in class_names])
    if title:
        fig.suptitle(title)
    return fig


def figure_boundary(ui: UI, net, X, y, class_names: Sequence, feature_names=None, title=""):
    """The classes a 2-input network assigns over the plane, with the points on top."""
    from types import SimpleNamespace

    from . import plots, training

    # the grid is in the network's (standardised) inputs: predict without the stored preprocessing
    bare = SimpleNamespace(predict=lambda A: training.predict(net, A))
    fig = plots.plot_decision_boundary(
        bare, X, y, title=f"{title}: decision boundary" if title else "decision boundary"
    )
    names = feature_names or ["x1", "x2"]
    fig.axes[0].set_xlabel(f"{names[0]} (standardised)")
    fig.axes[0].set_ylabel(f"{names[1]} (standardised)")
    return fig


def figure_scatter(ui: UI, true, pred, target: str | None):
    """Predicted against true values of a regression."""
    Figure = _matplotlib()
    fig = Figure(figsize=(4.8, 4.5))
    ax = fig.subplots()
    ax.scatter(true, pred, s=10, alpha=0.6)
    lo, hi = float(min(np.min(true), np.min(pred))), float(max(np.max(true), np.max(pred)))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"true {target or ''}".strip())
    ax.set_ylabel("predicted")
    ax.set_title("predicted against true")
    fig.tight_layout()
    return fig


def figure_activations(ui: UI):
    """Every built-in elementwise activation and its derivative."""
    from . import plots

    return plots.plot_activations()


def _require_matplotlib() -> None:
    if _matplotlib() is None:
        raise CLIError("plots need matplotlib: pip install 'chainrule[plots]'")


# =============================================================================
# Building and training a network
# =============================================================================
def _progress(ui: UI, epochs: int, desc: str):
    from .progress import ProgressBar

    return ProgressBar(epochs, mode=ui.progress_mode, desc=desc)


def build_network(n_inputs: int, hidden: Sequence[int], activation: str, n_outputs: int, seed):
    """An MLP: ``Dense`` layers of widths ``hidden`` with ``activation``, then a linear output."""
    from .recipe import build_mlp

    return build_mlp(n_inputs, hidden, activation, n_outputs, seed=seed)


def _choose_loss(args, task: str, n_classes: int) -> tuple[str, int]:
    """The loss name and the number of network outputs."""
    if task == "classify":
        loss = args.loss or "cross_entropy"
        if loss not in CLASSIFY_LOSSES:
            raise CLIError(
                f"--loss {loss} is a regression loss but the task is classify; use one of "
                f"{', '.join(CLASSIFY_LOSSES)} (or --task regress)",
                code=2,
            )
        if loss == "binary_cross_entropy":
            if n_classes != 2:
                raise CLIError(
                    f"--loss binary_cross_entropy needs two classes, the target has {n_classes}; "
                    "use cross_entropy",
                    code=2,
                )
            return loss, 1
        if loss == "hinge" and n_classes == 2:
            return loss, 1
        return loss, n_classes
    loss = args.loss or "mse"
    if loss not in REGRESS_LOSSES:
        raise CLIError(
            f"--loss {loss} is a classification loss but the task is regress; use one of "
            f"{', '.join(REGRESS_LOSSES)} (or --task classify)",
            code=2,
        )
    return loss, 1


def _describe_preprocessing(pre) -> str:
    numeric = [c["name"] for c in pre.columns if c["kind"] == "numeric"]
    categorical = [c for c in pre.columns if c["kind"] == "categorical"]
    parts = [f"{len(numeric)} numeric"]
    if categorical:
        cats = ", ".join(f"{c['name']} ({len(c['categories'])})" for c in categorical[:6])
        parts.append(
            f"{len(categorical)} categorical: {cats}{', ...' if len(categorical) > 6 else ''}"
        )
    return f"inputs: {'; '.join(parts)} -> {pre.n_features} network inputs (standardised)"


def _fit(
    ui: UI,
    net,
    X,
    y,
    *,
    loss,
    optimizer,
    lr,
    epochs,
    batch_size,
    validation,
    metrics,
    seed,
    desc="training",
    patience=None,
    extra_callbacks=(),
    sample_weight=None,
):
    from .callbacks import EarlyStopping

    callbacks = [*extra_callbacks, _progress(ui, epochs, desc)]
    if patience is not None and validation is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=patience))
    with warnings.catch_warnings():  # divergence is reported once, by the caller
        warnings.filterwarnings("ignore", message="training diverged")
        return net.fit(
            X,
            y,
            loss=loss,
            optimizer=optimizer,
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation,
            metrics=metrics,
            callbacks=callbacks,
            seed=seed,
            sample_weight=sample_weight,
        )


def _recipe_training(args, net, n_train: int, validation):
    """The default recipe's optimizer, budget and callbacks for ``chainrule train``.

    Adam (or the chosen optimizer) at ``--lr`` (default 2e-3 for adam/adamw),
    ``--batch-size`` and ``--epochs`` scaled with the rows, a warm-up then
    cosine schedule, and with a validation split the weights of the epoch with
    the lowest validation loss restored at the end (``chainrule.recipe``).
    """
    from . import recipe
    from .optimizers import get_optimizer

    bs = min(args.batch_size or recipe.batch_size_for(n_train), n_train)
    epochs = args.epochs or recipe.epoch_budget(n_train, bs)
    kwargs = {}
    if args.optimizer in ("adam", "adamw"):
        kwargs["betas"] = recipe.DEFAULTS["betas"]
        lr = args.lr if args.lr is not None else recipe.DEFAULTS["lr"]
    else:
        lr = args.lr
    if lr is not None:
        kwargs["lr"] = lr
    if args.weight_decay:
        kwargs["weight_decay"] = args.weight_decay
    opt = get_optimizer(args.optimizer, net.parameters(), **kwargs)
    callbacks = []
    if args.schedule == "warmup_cosine":
        steps = epochs * -(-n_train // bs)
        callbacks.append(recipe.WarmupCosine(opt.lr, steps, recipe.DEFAULTS["warmup"]))
    best = recipe.RestoreBest("val_loss") if validation is not None else None
    if best is not None:
        callbacks.append(best)
    return opt, bs, epochs, callbacks, best


# =============================================================================
# Subcommands
# =============================================================================
def _save_model(net, out: Path, optimizer=None) -> None:
    """``serialization.save`` (atomic), with a one-line message when the write fails."""
    from .serialization import save

    existed = out.exists()
    try:
        save(net, out, optimizer=optimizer)
    except OSError as exc:
        from .atomic import SaveError

        kept = "the previous file is unchanged" if existed else "nothing was written"
        if isinstance(exc, SaveError):  # already says "could not save <out>: <why>"
            raise CLIError(f"{exc}; {kept}") from exc
        reason = exc.strerror or str(exc)
        raise CLIError(f"could not save {out}: {reason}; {kept}") from exc


def cmd_train(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule train``: read, preprocess, build, fit, report, save."""
    import contextlib

    with contextlib.ExitStack() as stack:  # undoes the kernel choice of a small job
        return _train(args, ui, stack)


def _train(args: argparse.Namespace, ui: UI, stack) -> int:
    from .preprocessing import MissingValuesError, Preprocessor

    _check_train_options(args)
    out = None if args.dry_run else _check_out_folder(args.out)
    df = read_table(args.data)
    target = args.target
    if target not in df.columns:
        parts = target.split(",")
        if len(parts) > 1 and all(c in df.columns for c in parts):
            raise CLIError(
                f"--target {target}: several target columns are not supported yet; train one "
                "model per target",
                code=2,
            )
        raise CLIError(f"unknown target column {target!r} in {args.data}; {_columns_hint(df)}")
    unknown = [c for c in args.ignore if c not in df.columns]
    if unknown:
        raise CLIError(
            f"--ignore names unknown column(s) {', '.join(map(repr, unknown))}; "
            f"{_columns_hint(df)}",
            code=2,
        )
    if target in args.ignore:
        raise CLIError(f"the target {target!r} cannot also be in --ignore", code=2)
    no_target = df[target].isna()
    if no_target.all():
        raise CLIError(f"the target column {target!r} has no values")
    if no_target.any():
        ui.note(
            f"note: dropped {int(no_target.sum())} row(s) with no value in the target "
            f"column {target!r}"
        )
        df = df[~no_target]
    ignore = list(args.ignore)
    if args.sample_weight is not None:
        _check_weight_column(df, args.sample_weight, target)
        ignore.append(args.sample_weight)  # a weight, not a feature
    resumed = _resume_model(args, target) if args.resume else None

    pre = Preprocessor(target=target, task=args.task, impute=args.impute, ignore=ignore)
    if resumed is not None:
        pre = resumed.pre
    feature_cols = pre.feature_columns(df)
    if not feature_cols:
        raise CLIError(f"no feature columns: {args.data} holds only the target {target!r}")
    check_columns(df, [*feature_cols, target])
    if args.impute == "drop":
        incomplete = df[feature_cols].isna().any(axis=1)
        if incomplete.any():
            ui.note(
                f"note: --impute drop removed {int(incomplete.sum())} row(s) with missing values"
            )
            df = df[~incomplete]
        if len(df) == 0:
            raise CLIError("no rows left after dropping those with missing values")
    df = df.reset_index(drop=True)

    n = len(df)
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(n)
    n_val = int(round(n * args.validation_split)) if args.validation_split > 0 else 0
    if args.validation_split > 0 and not 1 <= n_val < n:
        raise CLIError(
            f"--validation-split {args.validation_split} leaves {n_val} validation row(s) out of "
            f"{n}; use a larger fraction, more data, or --validation-split 0"
        )
    val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])

    try:
        if resumed is None:
            pre.fit(df, rows=train_rows)
        else:
            pre.missing_rows(df)  # every column the model was trained on is there
    except MissingValuesError as exc:
        raise CLIError(
            f"missing values in feature column(s) {_counts_text(exc.counts)}; choose what to do "
            "with --impute mean|median|drop (or fill them in the file)"
        ) from None
    except ValueError as exc:
        if resumed is None:
            raise
        raise CLIError(f"cannot resume {args.resume} on {args.data}: {_one_line(exc)}") from None
    for warning in pre.warnings:
        ui.warn(warning)
    how = (
        "given by --task"
        if args.task
        else f"auto-detected: {pre.task_reason}; override with --task"
    )
    task_line = f"task: {pre.task} ({how})"
    if pre.task == "classify":
        shown = ", ".join(map(str, pre.classes[:10])) + (", ..." if len(pre.classes) > 10 else "")
        task_line += f"; {len(pre.classes)} classes: {shown}"
    ui.note(task_line)
    ui.note(_describe_preprocessing(pre))

    X = pre.transform(df)
    for warning in pre.warnings:
        ui.warn(warning)
    y = pre.encode_target(df[target])
    n_classes = len(pre.classes) if pre.task == "classify" else 0
    loss, n_out = _choose_loss(args, pre.task, n_classes)
    _check_size(pre.n_features, args.hidden, n_out)
    if resumed is not None:
        net = resumed.net
        if net.n_outputs != n_out:
            raise CLIError(
                f"cannot resume {args.resume}: it has {net.n_outputs} output(s) but loss {loss} "
                f"on this target needs {n_out}"
            )
    else:
        from .recipe import DEFAULTS, build_mlp

        net = build_mlp(
            pre.n_features, args.hidden, args.activation, n_out, seed=args.seed,
            batch_norm=args.batchnorm, dropout=args.dropout,
            zero_last_layer=DEFAULTS["zero_last_layer"],
        )  # fmt: skip
    net.preprocessing_ = pre.to_dict()
    weights = _row_weights(args, df, pre, y)
    stack.enter_context(_kernels_for(net, len(df)))
    if args.dry_run:
        ui.out(net.summary())
        ui.out(
            f"loss {loss}, optimizer {args.optimizer}, {len(train_rows)} training rows, "
            f"{n_val} validation rows (dry run: nothing trained or saved)"
        )
        return 0
    ui.detail(net.summary())

    model = _ModelData(net)
    X_tr, y_tr = X[train_rows], y[train_rows]
    validation = (X[val_rows], y[val_rows]) if n_val else None
    opt, batch_size, epochs, callbacks, best = _recipe_training(
        args, net, len(train_rows), validation
    )
    t0 = time.perf_counter()
    history = _fit(
        ui,
        net,
        X_tr,
        y_tr,
        loss=loss,
        optimizer=opt,
        lr=None,
        epochs=epochs,
        batch_size=batch_size,
        validation=validation,
        metrics=["accuracy"] if pre.task == "classify" else ["r2"],
        seed=args.seed,
        patience=args.patience,
        extra_callbacks=callbacks,
        sample_weight=None if weights is None else weights[train_rows],
    )
    seconds = time.perf_counter() - t0
    net.history_ = history.history
    net.preprocessing_ = pre.to_dict()
    if history.diverged and not args.save_diverged:
        raise CLIError(
            f"training diverged: {history.stop_reason}; {out} was not written (--save-diverged "
            "writes it anyway)",
            code=EXIT_DIVERGED,
        )
    _save_model(net, out, optimizer=net.optimizer_ if args.checkpoint else None)
    if history.diverged:
        ui.warn(f"training diverged: {history.stop_reason}; saved to {out} (--save-diverged)")

    columns = [("train", scores(model, X_tr, y_tr), len(train_rows))]
    if validation is not None:
        columns.append(("validation", scores(model, *validation), n_val))
    names = list(columns[0][1])
    rows = [[name, *(c[1][name] for c in columns)] for name in names]
    rows.append(["rows", *(c[2] for c in columns)])
    ui.out(_table(["metric", *(c[0] for c in columns)], rows))
    ui.note(_metric_units(pre))
    restored = ""
    if best is not None and best.best_epoch is not None:
        restored = (
            f"; restored epoch {best.best_epoch} (lowest validation loss, {best.best_value:.4g})"
        )
    ui.out(
        f"trained {len(history)} epoch(s) in {seconds:.1f}s{restored}; saved model to {out} "
        f"({_size(out)})"
    )
    return EXIT_DIVERGED if history.diverged else 0


#: The most parameters ``train`` builds (4 GB of float32 weights, before Adam's state).
MAX_PARAMETERS = 10**9


def _check_size(n_inputs: int, hidden: Sequence[int], n_outputs: int) -> None:
    """Refuse ``--hidden`` sizes whose weights could not fit in memory, before allocating."""
    sizes = [n_inputs, *hidden, n_outputs]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if count > MAX_PARAMETERS:
        raise CLIError(
            f"--hidden {','.join(map(str, hidden))} makes a network of {count:,} parameters "
            f"({count * 4 / 1e9:,.0f} GB of float32), more than the {MAX_PARAMETERS:,} allowed; "
            "use smaller layers",
            code=2,
        )


def _check_train_options(args: argparse.Namespace) -> None:
    """Refuse option combinations of ``train`` that would be ignored or misread."""
    if args.patience is not None and args.validation_split == 0:
        raise CLIError(
            "--patience needs a validation set to watch, but --validation-split is 0; give "
            "--validation-split 0.2 (say) or drop --patience",
            code=2,
        )
    suffix = Path(args.out).suffix.lower()
    if suffix in _OTHER_FORMATS:
        raise CLIError(
            f"--out {args.out}: 'chainrule train' writes a .safetensors model file, not "
            f"{suffix}; {_OTHER_FORMATS[suffix]}",
            code=2,
        )


def _kernels_for(net, n_rows: int):
    """NumPy's kernels for a small job (a context): loading Numba's compiled loops costs ~1 s.

    A table of ``n_rows`` through layers at most ``w`` wide is ``n_rows * w``
    numbers a pass; under 2 million the fused loops gain less than their
    import costs. ``CHAINRULE_KERNELS``, when set, decides instead.
    """
    import contextlib

    from . import kernels

    if os.environ.get("CHAINRULE_KERNELS"):
        return contextlib.nullcontext()
    widest = max([net.n_features_in or 1] + [p.value.shape[-1] for p in net.parameters()])
    if n_rows * widest < 2_000_000:
        return kernels.use("numpy")
    return contextlib.nullcontext()


def _metric_units(pre) -> str:
    """What the numbers of the metrics table are measured in."""
    if pre.task == "classify":
        if len(pre.classes) == 2:
            return (
                f"note: accuracy is a fraction of rows; precision, recall and f1 are for the "
                f"positive class {pre.classes[1]!r} (the other is {pre.classes[0]!r})"
            )
        return (
            "note: accuracy is a fraction of rows; precision, recall and f1 are macro averages "
            "over the classes"
        )
    return (
        f"note: loss is on the standardised target; mae and rmse are in the units of "
        f"{pre.target!r}, mse in its units squared, r2 has none"
    )


def _check_weight_column(df, column: str, target: str) -> None:
    """``--sample-weight``: a numeric column of finite, non-negative weights."""
    pd = _pandas()
    if column not in df.columns:
        raise CLIError(f"unknown --sample-weight column {column!r}; {_columns_hint(df)}", code=2)
    if column == target:
        raise CLIError(f"the target {target!r} cannot also be the --sample-weight column", code=2)
    col = df[column]
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        raise CLIError(f"--sample-weight column {column!r} must hold numbers")
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.isfinite(values)):
        raise CLIError(f"--sample-weight column {column!r} has missing or infinite values")
    if np.any(values < 0):
        raise CLIError(f"--sample-weight column {column!r} has negative weights")
    if not np.any(values > 0):
        raise CLIError(f"--sample-weight column {column!r} is all zeros: nothing to learn from")


def _row_weights(args, df, pre, y):
    """Each training row's weight: ``--sample-weight`` times ``--class-weight`` (or None)."""
    weights = None
    if args.sample_weight is not None:
        weights = df[args.sample_weight].to_numpy(dtype=np.float64)
    if args.class_weight is None:
        return weights
    if pre.task != "classify":
        raise CLIError("--class-weight needs a classification target (or use --sample-weight)")
    from .recipe import class_weight_rows

    names = {str(c): i for i, c in enumerate(pre.classes)}
    if args.class_weight == "balanced":  # n / (K * count), scikit-learn's rule
        row = class_weight_rows(y, "balanced", classes=range(len(names)))
    else:
        per_class = {}
        for item in args.class_weight.split(","):
            name, sep, value = item.rpartition("=")
            if not sep or name not in names:
                raise CLIError(
                    f"--class-weight expects 'balanced' or CLASS=WEIGHT,... with classes "
                    f"{', '.join(names)}; got {item!r}",
                    code=2,
                )
            try:
                w = float(value)
            except ValueError:
                w = -1.0
            if not (math.isfinite(w) and w >= 0):
                raise CLIError(f"--class-weight {item!r}: the weight must be a number >= 0", code=2)
            per_class[names[name]] = w
        row = class_weight_rows(y, per_class, classes=range(len(names)))
    return row if weights is None else weights * row


class _Resumed:
    def __init__(self, net, pre) -> None:
        self.net, self.pre = net, pre


def _resume_model(args, target: str) -> _Resumed:
    """``--resume MODEL``: the network and the preprocessing it was trained with."""
    from .preprocessing import Preprocessor

    net = load_model(args.resume)
    info = getattr(net, "preprocessing_", None)
    if not info:
        raise CLIError(
            f"cannot resume {args.resume}: it stores no preprocessing (was it written by "
            "'chainrule train'?)"
        )
    pre = Preprocessor.from_dict(info)
    if pre.target != target:
        raise CLIError(
            f"cannot resume {args.resume}: it predicts {pre.target!r}, not --target {target!r}",
            code=2,
        )
    return _Resumed(net, pre)


def cmd_tune(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule tune``: preprocess as ``train`` does, search with Optuna, save the best."""
    from .preprocessing import MissingValuesError, Preprocessor

    try:
        from .search import search
    except ImportError as exc:  # pragma: no cover - search.py imports Optuna lazily
        raise CLIError(str(exc)) from None
    out = _check_out_folder(args.out)
    plots = Path(args.plots) if args.plots else None
    if plots is not None:
        _require_matplotlib()
    df = read_table(args.data)
    target = args.target
    if target not in df.columns:
        raise CLIError(f"unknown target column {target!r} in {args.data}; {_columns_hint(df)}")
    df = df[df[target].notna()]
    pre = Preprocessor(target=target, task=args.task, impute=args.impute, ignore=args.ignore)
    if args.impute == "drop":
        df = df[~df[pre.feature_columns(df)].isna().any(axis=1)]
    df = df.reset_index(drop=True)
    n = len(df)
    n_val = int(round(n * args.validation_split))
    if not 1 <= n_val < n - 1:
        raise CLIError(
            f"--validation-split {args.validation_split} leaves {n_val} validation row(s) out of "
            f"{n}; tune needs validation rows to score the trials",
            code=2,
        )
    perm = np.random.default_rng(args.seed).permutation(n)
    val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    try:
        pre.fit(df, rows=train_rows)
    except MissingValuesError as exc:
        raise CLIError(
            f"missing values in feature column(s) {_counts_text(exc.counts)}; choose what to do "
            "with --impute mean|median|drop (or fill them in the file)"
        ) from None
    X, y = pre.transform(df), pre.encode_target(df[target])
    if pre.task == "classify" and len(np.unique(y[train_rows])) < len(pre.classes):
        raise CLIError("some class has no training row; use more data or a smaller split")
    ui.note(f"task: {pre.task}; {_describe_preprocessing(pre)}")
    ui.note(f"searching {args.trials} trial(s) on {len(train_rows)} rows, {n_val} to validate")
    t0 = time.perf_counter()
    try:
        result = search(
            X[train_rows], y[train_rows], task=pre.task, n_trials=args.trials,
            timeout=args.timeout, validation_data=(X[val_rows], y[val_rows]), seed=args.seed,
            n_jobs=args.jobs, progress=ui.progress_mode != "off" and sys.stderr.isatty(),
        )  # fmt: skip
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    except RuntimeError as exc:
        raise CLIError(_one_line(exc)) from None
    seconds = time.perf_counter() - t0
    net = result.net
    net.preprocessing_ = pre.to_dict()
    _save_model(net, out)
    ui.out(result.table(args.top))
    ui.out(
        f"best validation loss {result.best_value:.4f} (the default recipe's "
        f"{result.default_value:.4f}); {len(result.study.trials)} trial(s) in {seconds:.1f}s; "
        f"saved the best model to {out} ({_size(out)})"
    )
    if plots is not None:
        from optuna.visualization.matplotlib import (
            plot_optimization_history,
            plot_param_importances,
        )

        plots.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
            warnings.simplefilter("ignore")
            for name, draw in (("history", plot_optimization_history),
                               ("importances", plot_param_importances)):  # fmt: skip
                ax = draw(result.study)
                ui.note(f"wrote {save_figure(ax.figure, plots / f'{name}.png')}")
    return 0


def _numpy_kernels_for_small_data(command):
    """Run a one-shot inference command on NumPy's kernels when its DATA file is small.

    Loading Numba's compiled loops costs about a second, more than they save
    on a table under 5 MB. ``CHAINRULE_KERNELS``, when set, decides instead.
    """
    import functools

    @functools.wraps(command)
    def run(args: argparse.Namespace, ui: UI) -> int:
        from . import kernels

        path = Path(str(getattr(args, "data", "") or ""))
        small = path.is_file() and path.stat().st_size < 5_000_000
        if small and not os.environ.get("CHAINRULE_KERNELS"):
            with kernels.use("numpy"):
                return command(args, ui)
        return command(args, ui)

    return run


@_numpy_kernels_for_small_data
def cmd_predict(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule predict``: a CSV of predictions in the target's own terms."""
    from . import training

    pd = _pandas()
    out = _check_out_folder(args.out) if args.out else None
    model = _ModelData(load_model(args.model))
    df = read_table(args.data)
    X, kept = model.features(df, target=model.target)
    if model.pre is not None:
        for warning in model.pre.warnings:
            ui.warn(warning)
    result = pd.DataFrame(index=range(len(df)))
    labels = model.decode(training.predict(model.net, X)) if len(X) else np.empty(0)
    if model.task == "classify":
        column = np.full(len(df), None, dtype=object)
    else:
        column = np.full(len(df), np.nan)
    column[kept] = labels
    result["prediction"] = column
    if args.proba:
        if model.task != "classify":
            raise CLIError("--proba is for classifiers; this model is a regressor", code=2)
        try:
            proba = (
                training.predict_proba(model.net, X)
                if len(X)
                else np.empty((0, len(model.classes)))
            )
        except ValueError as exc:
            raise CLIError(f"--proba: {exc}") from None
        if proba.shape[1] == 1:
            proba = np.c_[1 - proba[:, 0], proba[:, 0]]
        for k, name in enumerate(model.classes):
            col = np.full(len(df), np.nan)
            col[kept] = proba[:, k]
            result[f"proba_{name}"] = col
    if not kept.all():
        ui.warn(
            f"{int((~kept).sum())} row(s) with missing values were not predicted (empty prediction)"
        )
    text = result.to_csv(index=False)
    if out is None:
        sys.stdout.write(text)
    else:
        _atomic_write_text(out, text)
        ui.note(f"wrote {len(result)} prediction(s) to {out}")
    return 0


def _labelled(model: _ModelData, df, target: str | None, ui: UI, data_name: str):
    """Network inputs and encoded targets of a labelled table."""
    target = target or model.target
    if target is None:
        raise CLIError("this model stores no target column name; give --target COL", code=2)
    if target not in df.columns:
        raise CLIError(f"unknown target column {target!r} in {data_name}; {_columns_hint(df)}")
    check_columns(df, [target])
    no_target = df[target].isna()
    if no_target.all():
        raise CLIError(f"the target column {target!r} has no values")
    if no_target.any():
        ui.note(f"note: ignored {int(no_target.sum())} row(s) with no value in {target!r}")
        df = df[~no_target].reset_index(drop=True)
    X, kept = model.features(df, target=target)
    if model.pre is not None:
        for warning in model.pre.warnings:
            ui.warn(warning)
    if not kept.all():
        ui.note(f"note: ignored {int((~kept).sum())} row(s) with missing feature values")
    if len(X) == 0:
        raise CLIError("no rows left to evaluate")
    y = model.encode_target(df[target][kept])
    return X, y, target


@_numpy_kernels_for_small_data
def cmd_evaluate(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule evaluate``: loss and metrics on labelled data."""
    model = _ModelData(load_model(args.model))
    df = read_table(args.data)
    X, y, target = _labelled(model, df, args.target, ui, args.data)
    result = scores(model, X, y)
    if args.json:
        ui.out(
            json.dumps(
                {
                    "model": str(args.model),
                    "data": str(args.data),
                    "target": target,
                    "task": model.task,
                    "rows": len(X),
                    "metrics": result,
                },
                indent=2,
            )
        )
    else:
        ui.out(
            _table(["metric", "value"], [[k, v] for k, v in result.items()] + [["rows", len(X)]])
        )
    return 0


def cmd_summary(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule summary``: what a model file holds."""
    from .serialization import read_metadata

    net = load_model(args.model)
    meta = read_metadata(args.model)
    model = _ModelData(net)
    arch = meta["architecture"]
    history = meta.get("history") or {}
    last = {k: v[-1] for k, v in history.items() if v}
    pre = model.pre
    if args.json:
        info: dict[str, Any] = {
            "model": str(args.model),
            "format_version": meta["format_version"],
            "chainrule_version": arch.get("chainrule_version"),
            "dtype": arch.get("dtype"),
            "loss": net.loss_,
            "task": model.task,
            "n_inputs": net.n_features_in,
            "n_outputs": net.n_outputs,
            "n_parameters": net.n_parameters(),
            "layers": arch["layers"],
            "target": model.target,
            "classes": model.classes if model.task == "classify" else None,
            "columns": None
            if pre is None
            else [{"name": c["name"], "kind": c["kind"]} for c in pre.columns],
            "epochs_trained": max((len(v) for v in history.values()), default=0),
            "last_epoch": last,
            "checkpoint": meta.get("optimizer") is not None,
        }
        ui.out(json.dumps(info, indent=2))
        return 0
    path = Path(args.model)
    ui.out(
        f"model: {path} ({_size(path)}, format {meta['format_version']}, written by chainrule "
        f"{arch.get('chainrule_version', '?')})",
        style="bold",
    )
    ui.out(f"task: {model.task}, loss {net.loss_ or 'none (never fitted)'}, dtype {net.dtype}")
    if pre is not None:
        ui.out(
            f"target: {pre.target!r}"
            + (
                f", {len(pre.classes)} classes: {', '.join(map(str, pre.classes[:10]))}"
                f"{', ...' if len(pre.classes) > 10 else ''}"
                if pre.classes is not None
                else ""
            )
        )
        ui.out(_describe_preprocessing(pre))
    else:
        ui.out("preprocessing: none stored (inputs go to the network as they are)")
    if last:
        epochs = max(len(v) for v in history.values())
        ui.out(
            f"trained: {epochs} epoch(s); last epoch: "
            + "  ".join(f"{k}={v:.4g}" for k, v in last.items())
        )
    if meta.get("optimizer") is not None:
        ui.out(f"checkpoint: optimizer state stored ({meta['optimizer'].get('name')})")
    ui.out("")
    ui.out(net.summary())
    return 0


def cmd_plot(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule plot``: one figure to an image file."""
    from . import training

    _require_matplotlib()
    if args.what == "activations" and not Path(args.what).is_file():
        out = _check_out_folder(args.out or "activations.png")
        save_figure(figure_activations(ui), out)
        ui.out(f"wrote {out}")
        return 0
    model = _ModelData(load_model(args.what))
    kind = args.kind or (
        "loss" if args.data is None else ("confusion" if model.task == "classify" else "scatter")
    )
    out = _check_out_folder(args.out or f"{kind}.png")
    if kind == "loss":
        history = getattr(model.net, "history_", None)
        if not history:
            raise CLIError(
                f"{args.what} stores no training history (train it with chainrule "
                "train); give DATA for another kind of plot"
            )
        fig = figure_history(ui, history, title=Path(args.what).stem)
    else:
        if args.data is None:
            raise CLIError(
                f"--kind {kind} needs DATA with labels: chainrule plot MODEL DATA --kind {kind}",
                code=2,
            )
        df = read_table(args.data)
        X, y, target = _labelled(model, df, args.target, ui, args.data)
        answers = training.predict(model.net, X)
        if kind in ("confusion", "boundary") and model.task != "classify":
            raise CLIError(f"--kind {kind} is for classifiers; this model is a regressor", code=2)
        if kind == "scatter" and model.task != "regress":
            raise CLIError("--kind scatter is for regressors; use --kind confusion", code=2)
        if kind == "confusion":
            fig = figure_confusion(
                ui, model.net, X, y, answers, model.classes, title=Path(args.what).stem
            )
        elif kind == "boundary":
            if X.shape[1] != 2:
                raise CLIError(
                    f"a decision boundary needs a model with 2 inputs; this one has {X.shape[1]}"
                )
            names = model.pre.feature_names if model.pre is not None else None
            fig = figure_boundary(
                ui, model.net, X, y, model.classes, names, title=Path(args.what).stem
            )
        else:
            fig = figure_scatter(ui, model.true_values(y), model.decode(answers), target)
    save_figure(fig, out)
    ui.out(f"wrote {out}")
    return 0


def _optional_module(name: str, what: str):
    """``chainrule.<name>`` or a CLIError saying it is not in this build."""
    import importlib

    try:
        return importlib.import_module(f"chainrule.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"chainrule.{name}", "chainrule"):
            raise CLIError(f"{what} are not available in this build") from None
        raise CLIError(f"{what} need the {exc.name} package: pip install {exc.name}") from None


def cmd_diagnose(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule diagnose``: chainrule.diagnostics.diagnose on labelled data."""
    diagnostics = _optional_module("diagnostics", "diagnostics")
    model = _ModelData(load_model(args.model))
    if not model.net.loss_:
        raise CLIError(
            f"{args.model} was never trained (it stores no loss) so it cannot be diagnosed"
        )
    df = read_table(args.data)
    X, y, _ = _labelled(model, df, args.target, ui, args.data)
    # judged with the training history the model file keeps (net.history_), if any
    report = diagnostics.diagnose(model.net, X, y, model.net.loss_)
    ui.out(report.format("cli"))
    if not getattr(model.net, "history_", None):
        ui.out("(no training history in the model file: judged on this batch alone)")
    return 0


def cmd_export(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule export``: chainrule.export.to_onnx / to_torch."""
    export = _optional_module("export", "exporters")
    out = _check_out_folder(args.out)
    net = load_model(args.model)
    if args.to == "onnx":
        export.to_onnx(net, str(out))
        ui.out(f"wrote {out} (ONNX)")
        return 0
    module = export.to_torch(net)
    import torch

    from .atomic import write_atomic

    try:
        scripted = torch.jit.script(module.eval())
        write_atomic(out, lambda f: torch.jit.save(scripted, f))
        how = "torch.jit.load"
    except Exception as exc:  # scripting unsupported: save the whole module
        if isinstance(exc, OSError):
            raise
        ui.detail(f"TorchScript failed ({_one_line(exc)}); saving with torch.save")
        write_atomic(out, lambda f: torch.save(module, f))
        how = "torch.load(..., weights_only=False)"
    ui.out(f"wrote {out} (PyTorch; load it with {how})")
    return 0


# -- demo --------------------------------------------------------------------------------
def cmd_playground(args: argparse.Namespace, ui: UI) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        from .playground.app import main as serve
    except ImportError:
        raise CLIError(
            "the playground needs its extra: pip install 'chainrule[playground]'"
        ) from None
    serve(args.port, not args.no_browser)
    return 0


def _demo_frame(X: np.ndarray, y: np.ndarray, names: Sequence[str], target: str):
    pd = _pandas()
    df = pd.DataFrame(X, columns=list(names))
    df[target] = y
    return df


def _demo_model(ui, df, target, hidden, activation, epochs, lr, seed, test_fraction, desc):
    """Preprocess, split, train; returns (model data, history, splits)."""
    from .preprocessing import Preprocessor

    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(df))
    n_test = int(round(len(df) * test_fraction))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    pre = Preprocessor(target=target, task="classify").fit(df, rows=train)
    X, y = pre.transform(df), pre.encode_target(df[target])
    net = build_network(pre.n_features, hidden, activation, len(pre.classes), seed)
    net.preprocessing_ = pre.to_dict()
    # a validation set for the loss curve, carved at random out of the training rows
    n_val = max(1, len(train) // 10)
    shuffled = rng.permutation(train)
    val, fit_rows = np.sort(shuffled[:n_val]), np.sort(shuffled[n_val:])
    history = _fit(
        ui,
        net,
        X[fit_rows],
        y[fit_rows],
        loss="cross_entropy",
        optimizer="adam",
        lr=lr,
        epochs=epochs,
        batch_size=32,
        validation=(X[val], y[val]),
        metrics=["accuracy"],
        seed=seed,
        desc=desc,
    )
    net.history_ = history.history
    return _ModelData(net), history, (X[train], y[train]), (X[test], y[test])


def cmd_demo(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule demo``: digits (accuracy, confusion, diagnosis) and spirals (boundary)."""
    from . import datasets, training
    from .serialization import save

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    has_plots = _matplotlib() is not None
    if not has_plots:
        ui.warn("matplotlib is not installed: no plots (pip install 'chainrule[plots]')")
    written: list[Path] = []
    t_start = time.perf_counter()

    # 1. handwritten digits: a real classification task ----------------------------------
    try:
        Xd, yd = datasets.digits()
    except ImportError:
        raise CLIError(
            "the demo's digits data ships with scikit-learn: pip install 'chainrule[cli]'"
        ) from None
    ui.out("1. handwritten digits (8x8 pixels, 10 classes, from scikit-learn)", style="bold")
    df = _demo_frame(Xd, yd, [f"pixel_{i}" for i in range(Xd.shape[1])], "digit")
    digits, history, _, (Xt, yt) = _demo_model(
        ui, df, "digit", [64], "relu", args.epochs or 30, 1e-3, args.seed, 0.25, "digits"
    )
    pred = training.predict(digits.net, Xt)
    accuracy = float(np.mean(pred == yt))
    ui.out(
        f"   network: 64 -> 64 (relu) -> 10, {digits.net.n_parameters():,} parameters, "
        f"{len(history)} epochs"
    )
    ui.out(f"   test accuracy: {accuracy:.1%} on {len(yt)} unseen images", style="green")
    written.append(save(digits.net, out / "digits.safetensors"))
    if has_plots:
        written.append(
            save_figure(figure_history(ui, history.history, "digits"), out / "digits_loss.png")
        )
        written.append(
            save_figure(
                figure_confusion(ui, digits.net, Xt, yt, pred, digits.classes, "digits (test)"),
                out / "digits_confusion.png",
            )
        )
    try:
        diagnostics = _optional_module("diagnostics", "diagnostics")
    except CLIError as exc:
        ui.out(f"   diagnosis: {exc}")
    else:
        ui.out("   diagnosis:")
        report = diagnostics.diagnose(digits.net, Xt, yt, "cross_entropy")
        ui.out("\n".join(f"     {line}" for line in str(report).splitlines()))

    # 2. two spirals: a decision boundary no straight line can draw ------------------------
    ui.out("2. two spirals (2-D points, 2 classes: a boundary no line can draw)", style="bold")
    Xs, ys = datasets.spirals(n_samples=600, noise=0.1, seed=args.seed)
    df = _demo_frame(Xs, ys, ["x1", "x2"], "arm")
    spirals, history, (Xtr, ytr), (Xt, yt) = _demo_model(
        ui, df, "arm", [64, 64], "tanh", args.epochs or 300, 1e-2, args.seed, 0.2, "spirals"
    )
    accuracy = float(np.mean(training.predict(spirals.net, Xt) == yt))
    ui.out(f"   network: 2 -> 64 -> 64 (tanh) -> 2, {len(history)} epochs")
    ui.out(f"   test accuracy: {accuracy:.1%} on {len(yt)} unseen points", style="green")
    written.append(save(spirals.net, out / "spirals.safetensors"))
    csv_path = out / "spirals.csv"
    _atomic_write_text(csv_path, df.to_csv(index=False))
    written.append(csv_path)
    if has_plots:
        written.append(
            save_figure(figure_history(ui, history.history, "spirals"), out / "spirals_loss.png")
        )
        written.append(
            save_figure(
                figure_boundary(
                    ui,
                    spirals.net,
                    np.r_[Xtr, Xt],
                    np.r_[ytr, yt],
                    spirals.classes,
                    ["x1", "x2"],
                    "spirals",
                ),
                out / "spirals_boundary.png",
            )
        )

    ui.out(
        f"wrote {len(written)} files to {out}/ in {time.perf_counter() - t_start:.1f}s:",
        style="bold",
    )
    for path in written:
        ui.out(f"   {path}")
    ui.out("next:")
    ui.out(f"   chainrule summary {out / 'digits.safetensors'}")
    ui.out(
        f"   chainrule train {csv_path} --target arm --hidden 64,64 --activation tanh "
        "--epochs 200 --lr 0.01"
    )
    ui.out("   chainrule plot activations --out activations.png")
    return 0


# =============================================================================
# Entry point
# =============================================================================
def _showwarning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


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
        from . import kernels

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


if __name__ == "__main__":
    sys.exit(main())
