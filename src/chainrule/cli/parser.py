"""The argument parser of ``chainrule``: every subcommand, its flags and their checks."""

from __future__ import annotations

import argparse
import math

from .demo import cmd_demo
from .errors import EXIT_DIVERGED, PROG, CLIError
from .fitting import REFIT_MAX_ROWS
from .inspect_model import cmd_diagnose, cmd_export, cmd_plot, cmd_summary
from .playground import cmd_playground
from .predict import cmd_evaluate, cmd_predict
from .train import cmd_train, cmd_tune


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


def _folds(text: str) -> int:
    value = _int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 folds, got {value}")
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
    from ..activations import ACTIVATIONS

    key = text.strip().lower().replace("-", "_")
    if key not in ACTIVATIONS or key == "softmax":
        valid = ", ".join(sorted(k for k in ACTIVATIONS if k != "softmax"))
        raise argparse.ArgumentTypeError(f"unknown activation {text!r}; choose from {valid}")
    return key


def _loss_name(text: str) -> str:
    from ..losses import get_loss

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
            several = (
                "name several regression targets once, comma separated: --target a,b"
                if not parser.prog.endswith(" tune")
                else "a network here predicts one target column"
            )
            raise argparse.ArgumentError(self, f"given twice; {several}")
        setattr(namespace, self.dest, values)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``chainrule`` command (all subcommands)."""
    from .._version import __version__

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
            "chainrule train data.csv --target label --no-refit",
            "chainrule train data.csv --target label --dry-run",
            "chainrule train flats.csv --target price,rent   # two regression targets",
        )
        + f"\n\nexit codes: 0 trained and saved, 1 bad data or files, 2 bad options, "
        f"{EXIT_DIVERGED} training diverged (the model is not saved unless --save-diverged)",
    )
    p.add_argument("data", metavar="DATA", help="a .csv, .tsv or .parquet file")
    p.add_argument(
        "--target",
        required=True,
        action=_Once,
        metavar="COL",
        help="the column to predict; several numeric columns, comma separated (a,b), are "
        "regressed together, one network output each",
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
        help="default: scaled with the rows (at least 600 steps, 1200 under 200 rows; 16 to 256 epochs)",
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
        help=(
            "the optimizer's weight decay (an L2 penalty; decoupled for adamw), on top of "
            "the recipe's L2 penalty, alpha 0.05 for classification and 1e-4 for regression"
        ),
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
        help="fraction of rows held out for validation, at most 0.5 (default 0.2; 0 for none: "
        "every row trains once, no validation report)",
    )
    p.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after the hold-out run that reports validation metrics, train the same recipe "
        f"again on every row and save that model (default: on, up to {REFIT_MAX_ROWS:,} rows "
        "and without --patience); --no-refit saves the hold-out model",
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
        description="Search the architecture (a stack or residual blocks; depth, width, "
        "activation) and the learning rate, dropout, weight decay and batch size with Optuna "
        "(TPE sampler, median pruner on the per-epoch validation loss), each trial scored by "
        "cross-validation and trial 0 the default recipe; train the best on every row and save "
        "it with its preprocessing.",
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
    p.add_argument(
        "--cv",
        type=_folds,
        default=5,
        metavar="K",
        help="folds of the cross-validation scoring each trial (default 5: 80%% trains)",
    )
    p.add_argument("--impute", choices=("mean", "median", "drop"), default=None)
    p.add_argument("--ignore", type=_column_list, default=[], metavar="COLS")
    p.add_argument("--seed", type=_seed, default=0, metavar="S", help="default 0")
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
        "values) and, with --proba, one probability column per class. A graph network with "
        "several inputs takes --inputs (which columns feed which cr.Input); several outputs "
        "give one block of columns each, named after the output.",
        epilog=_examples(
            "chainrule predict model.safetensors new.csv --out predictions.csv",
            "chainrule predict model.safetensors new.csv --proba | head",
            'chainrule predict graph.safetensors new.csv --inputs "num=a,b,c;extra=d,e"',
        ),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", default=None, metavar="FILE", help="CSV file (default: stdout)")
    p.add_argument(
        "--inputs",
        default=None,
        metavar="SPEC",
        help='graph networks with several inputs: "NAME=col,col;NAME=col", the columns of '
        "each named input in order (names and widths: chainrule summary MODEL)",
    )
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
            'chainrule evaluate graph.safetensors test.csv --inputs "num=a,b,c;extra=d,e" '
            "--target label,price",
        ),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--inputs",
        default=None,
        metavar="SPEC",
        help='graph networks with several inputs: "NAME=col,col;NAME=col", as for predict; '
        "then --target gives one column per output, in the network's outputs order",
    )
    p.add_argument(
        "--target",
        default=None,
        action=_Once,
        metavar="COL",
        help="the label column (default: the one the model was trained on); for a model with "
        "several targets, one per target, comma separated; for a graph network, one per output",
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
        "--target",
        default=None,
        action=_Once,
        metavar="COL",
        help="label column of DATA (default: the model's)",
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
        "--target",
        default=None,
        action=_Once,
        metavar="COL",
        help="the label column (default: the model's)",
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
    p.add_argument(
        "--no-preprocessing",
        dest="preprocessing",
        action="store_false",
        help="export the network alone, without the stored scaling of inputs and targets "
        "(the exported model then expects prepared inputs)",
    )
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
