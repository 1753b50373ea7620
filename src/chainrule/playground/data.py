"""The playground's data: built-in data sets, input features, and a learner's own CSV.

Every data set is a set of points ``X`` (one or two columns) with a target ``y``:
class labels to classify, or values to regress. The network is fed *features*
computed from the points (as in TensorFlow Playground): ``x1``, ``x2``, ``x1^2``...
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

from .. import datasets
from ..tasks import TARGET_TASKS as TASKS

#: playground name -> (task, what it is); "custom" is the learner's uploaded CSV
PLAY_DATASETS = {
    "xor": ("classify", "four squares, opposite corners alike"),
    "circles": ("classify", "a ring around a disc"),
    "moons": ("classify", "two interleaving half moons"),
    "spirals": ("classify", "two spiral arms"),
    "blobs": ("classify", "three clusters, three classes"),
    "plane": ("regress", "a tilted plane: y = (x1 + x2) / 2"),
    "gaussians": ("regress", "hills and valleys: a sum of Gaussian bumps"),
    "sin": ("regress", "a curve: y = sin(x), one input"),
    "custom": ("either", "your own CSV: two numeric columns and a label or value"),
}


def _features_2d() -> dict:
    return {
        "x1": lambda X: X[:, 0],
        "x2": lambda X: X[:, 1],
        "x1^2": lambda X: X[:, 0] ** 2,
        "x2^2": lambda X: X[:, 1] ** 2,
        "x1*x2": lambda X: X[:, 0] * X[:, 1],
        "sin(x1)": lambda X: np.sin(X[:, 0]),
        "sin(x2)": lambda X: np.sin(X[:, 1]),
    }


#: dimension of the points -> feature name -> the column it computes from the raw points;
#: the network's inputs are the chosen columns, in this order
FEATURES = {
    2: _features_2d(),
    1: {
        "x": lambda X: X[:, 0],
        "x^2": lambda X: X[:, 0] ** 2,
        "x^3": lambda X: X[:, 0] ** 3,
        "sin(x)": lambda X: np.sin(X[:, 0]),
    },
}
DEFAULT_FEATURES = {2: ["x1", "x2"], 1: ["x"]}

N_SAMPLES = 400
MAX_CSV_ROWS = 2000
MAX_CSV_CLASSES = 6


@dataclass
class Data:
    """Points, targets and what they mean, before the train/test split."""

    X: np.ndarray  # (n, 1 or 2) float32
    y: np.ndarray  # (n,) int64 class indices, or float32 values
    task: str  # "classify" or "regress"
    classes: list = field(default_factory=list)  # the label of each class index
    name: str = ""

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])


def feature_matrix(X: np.ndarray, names: list[str]) -> np.ndarray:
    """The network's input: the named feature columns of the raw points ``X``, in order."""
    X = np.asarray(X, dtype=np.float32)
    table = FEATURES[X.shape[1]]
    return np.stack([table[name](X) for name in names], axis=1).astype(np.float32)


def _plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-1, 1, size=(n, 2))
    y = (X[:, 0] + X[:, 1]) / 2
    return X, y + rng.normal(0, noise, n)


def _gaussians(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # four bumps, two up and two down, as in TensorFlow Playground's "multi gaussian"
    centres = np.array([[-0.5, 0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, -0.5]])
    signs = np.array([1.0, 1.0, -1.0, -1.0])
    X = rng.uniform(-1, 1, size=(n, 2))
    d2 = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    y = (signs * np.exp(-d2 / (2 * 0.2**2))).sum(axis=1)
    return X, y + rng.normal(0, noise, n)


def builtin(name: str, noise: float, seed: int, n: int = N_SAMPLES) -> Data:
    """A built-in data set of ``n`` points drawn from ``seed`` with ``noise``."""
    task = PLAY_DATASETS[name][0]
    rng = np.random.default_rng(seed)
    if name == "xor":
        X, y = datasets.noisy_xor(n_samples=n, noise=noise, seed=seed)
    elif name == "blobs":
        X, y = datasets.blobs(n_samples=n, std=0.3 + 2 * noise, seed=seed)
    elif name in ("circles", "moons", "spirals"):
        X, y = datasets.load(name, n_samples=n, noise=noise, seed=seed)
    elif name == "sin":
        X, y = datasets.sin(n_samples=n, noise=noise, seed=seed)
    elif name == "plane":
        X, y = _plane(n, noise, rng)
    elif name == "gaussians":
        X, y = _gaussians(n, noise, rng)
    else:  # pragma: no cover - validate() only lets known names through
        raise ValueError(f"unknown dataset {name!r}")
    X = np.asarray(X, dtype=np.float32)
    if task == "regress":
        return Data(X, np.asarray(y, dtype=np.float32), task, [], name)
    k = int(np.max(y)) + 1
    return Data(X, np.asarray(y, dtype=np.int64), task, list(range(k)), name)


class CSVError(ValueError):
    """A CSV the playground cannot use; the message says what is wrong and what to send."""


def _float(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v


def parse_csv(text: str, task: str, name: str = "your CSV") -> Data:
    """Read a learner's CSV: two numeric columns, then a label (classify) or value (regress).

    The first row is a header when any of its cells is not a number. Rows must have
    exactly three cells; the two inputs and (for regression) the value must be finite
    numbers; classification takes 2 to ``MAX_CSV_CLASSES`` distinct labels (numbers or
    words). Raises :class:`CSVError` naming the row and the problem.
    """
    if task not in TASKS:
        raise CSVError(f"problem must be classify or regress, got {task!r}")
    if not isinstance(text, str) or not text.strip():
        raise CSVError(f"{name} is empty; it needs a header-less or headed table of 3 columns")
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = [
        r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)
    ]
    header = None
    if rows and any(_float(c) is None for c in rows[0][:2]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if header is not None and len(header) != 3:
        raise CSVError(
            f"{name} has {len(header)} columns ({', '.join(header) or 'none'}); it needs 3: "
            "x1, x2 and a label or value"
        )
    if len(rows) < 10:
        raise CSVError(f"{name} has {len(rows)} data rows; it needs at least 10")
    if len(rows) > MAX_CSV_ROWS:
        raise CSVError(
            f"{name} has {len(rows)} data rows; the playground takes at most {MAX_CSV_ROWS}"
        )
    X = np.empty((len(rows), 2), dtype=np.float64)
    labels: list[str] = []
    first = 2 if header is not None else 1
    for k, row in enumerate(rows):
        line = first + k
        if len(row) != 3:
            raise CSVError(
                f"row {line} of {name} has {len(row)} cells ({delimiter.join(row)!r}); every row "
                "needs 3: x1, x2 and a label or value"
            )
        for c in range(2):
            v = _float(row[c])
            if v is None or not math.isfinite(v):
                col = header[c] if header else f"column {c + 1}"
                raise CSVError(
                    f"row {line} of {name}: {col} is {row[c].strip()!r}, not a finite number"
                )
            X[k, c] = v
        labels.append(row[2].strip())
    if np.ptp(X[:, 0]) == 0 or np.ptp(X[:, 1]) == 0:
        raise CSVError(f"in {name} one input column has the same value in every row")
    # inputs scaled into [-1, 1] (the network and the feature maps work on this square)
    centre, half = (X.max(0) + X.min(0)) / 2, (X.max(0) - X.min(0)) / 2
    Xs = ((X - centre) / half).astype(np.float32)
    target = header[2] if header else "column 3"
    if task == "regress":
        values = []
        for k, label in enumerate(labels):
            v = _float(label)
            if v is None or not math.isfinite(v):
                raise CSVError(
                    f"row {first + k} of {name}: {target} is {label!r}, not a finite number "
                    "(choose classify for labels)"
                )
            values.append(v)
        y = np.asarray(values, dtype=np.float64)
        if np.ptp(y) == 0:
            raise CSVError(f"in {name} {target} has the same value in every row")
        return Data(Xs, y.astype(np.float32), "regress", [], "custom")
    classes = sorted(set(labels), key=lambda s: (_float(s) is None, _float(s) or 0.0, s))
    if "" in classes:
        k = labels.index("")
        raise CSVError(f"row {first + k} of {name} has an empty {target}")
    if len(classes) < 2:
        raise CSVError(f"{name} has one class ({classes[0]!r}); classification needs 2 or more")
    if len(classes) > MAX_CSV_CLASSES:
        raise CSVError(
            f"{name} has {len(classes)} distinct values in {target}; classification takes at most "
            f"{MAX_CSV_CLASSES} (choose regress for a numeric value)"
        )
    index = {c: i for i, c in enumerate(classes)}
    y = np.asarray([index[s] for s in labels], dtype=np.int64)
    return Data(Xs, y, "classify", classes, "custom")
