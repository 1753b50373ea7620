"""A panel of small real tables: chainrule's defaults against scikit-learn's.

Every table ships inside a pip package (nothing is downloaded at run time):
scikit-learn's bundled sets, ``palmerpenguins`` and the data modules of
``statsmodels`` (``pip install -e ".[bench]"``). Tables whose package is
missing are skipped with a note.

Contenders, each scored by 5-fold cross-validation (stratified for
classification; accuracy, or R^2 for regression) on the same folds:

- ``cr-estimator``: ``chainrule.sklearn.MLPClassifier()`` / ``MLPRegressor()``
  with their defaults, after the same table preparation as scikit-learn's MLP;
- ``cr-cli``: ``chainrule train`` with its default flags, run in-process on
  each training fold written as a CSV (a hold-out run for the validation
  report, then the saved model retrained on every row of the fold), then the
  saved model predicts the test fold through its stored preprocessing
  (exactly what ``chainrule predict`` does);
- ``sk-mlp``: ``sklearn.neural_network.MLPClassifier()`` / ``MLPRegressor()``
  defaults (``max_iter`` raised to 500 would change nothing on most tables);
- ``sk-hgb``: ``HistGradientBoostingClassifier()`` / ``Regressor()`` defaults
  (native categorical support and missing values);
- ``sk-linear``: ``LogisticRegression(max_iter=1000)`` / ``Ridge()``.

Table preparation for the scikit-learn-style contenders (cr-estimator,
sk-mlp, sk-linear): median imputation and standardisation of numeric
columns, most-frequent imputation and one-hot encoding of text columns (a
ColumnTransformer fitted on the training fold only).

Usage::

    python benchmarks/tabular.py                     # the panel (a few minutes on 2 cores)
    python benchmarks/tabular.py --quick             # 2 tiny tables, 2 folds (seconds)
    python benchmarks/tabular.py --datasets iris,wine --contenders cr-estimator,sk-mlp
    python benchmarks/tabular.py --json panel.json   # every fold's score and time

One BLAS thread (threadpoolctl) for every contender; wall times are the mean
fit + predict seconds per fold.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


# =============================================================================
# The tables
# =============================================================================
@dataclass
class Table:
    name: str
    task: str  # "classify" | "regress"
    frame: object  # pandas DataFrame, target included
    target: str
    source: str


def _sklearn_frame(loader, target="target"):
    data = loader(as_frame=True)
    return data.frame.rename(columns={"target": target})


def _iris():
    from sklearn.datasets import load_iris

    return Table("iris", "classify", _sklearn_frame(load_iris), "target", "scikit-learn")


def _wine():
    from sklearn.datasets import load_wine

    return Table("wine", "classify", _sklearn_frame(load_wine), "target", "scikit-learn")


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    df = _sklearn_frame(load_breast_cancer)
    return Table("breast_cancer", "classify", df, "target", "scikit-learn")


def _digits():
    from sklearn.datasets import load_digits

    df = _sklearn_frame(load_digits)
    df = df.sample(n=1000, random_state=0).reset_index(drop=True)  # keep the panel short
    return Table("digits (1000 rows)", "classify", df, "target", "scikit-learn")


def _diabetes():
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)  # raw targets and features
    return Table("diabetes", "regress", data.frame, "target", "scikit-learn")


def _penguins():
    from palmerpenguins import load_penguins

    df = load_penguins().drop(columns=["year"])
    df = df[df["species"].notna()].reset_index(drop=True)
    for c in ("species", "island", "sex"):
        df[c] = df[c].astype(object)
    return Table("penguins (species)", "classify", df, "species", "palmerpenguins")


def _penguins_mass():
    from palmerpenguins import load_penguins

    df = load_penguins().drop(columns=["year"])
    df = df[df["body_mass_g"].notna()].reset_index(drop=True)
    for c in ("species", "island", "sex"):
        df[c] = df[c].astype(object)
    return Table("penguins (body mass)", "regress", df, "body_mass_g", "palmerpenguins")


def _statsmodels(name):
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(sm.datasets, name).load_pandas().data.copy()


def _anes96():
    df = _statsmodels("anes96").drop(columns=["logpopul"])
    df["vote"] = df["vote"].astype(int)
    return Table("anes96 (vote)", "classify", df, "vote", "statsmodels")


def _fair():
    df = _statsmodels("fair")
    df["had_affair"] = np.where(df.pop("affairs") > 0, "yes", "no")
    df["occupation"] = df["occupation"].astype(int).map(lambda v: f"occ{v}").astype(object)
    df = df.sample(n=1500, random_state=0).reset_index(drop=True)
    return Table("fair (1500 rows)", "classify", df, "had_affair", "statsmodels")


def _grunfeld():
    df = _statsmodels("grunfeld")
    df["firm"] = df["firm"].astype(str).astype(object)
    return Table("grunfeld (invest)", "regress", df, "invest", "statsmodels")


def _star98():
    df = _statsmodels("star98")
    df["above"] = df.pop("NABOVE") / (df["NBELOW"] + 0.0)
    df = df.drop(columns=["NBELOW"])
    df["above"] = df["above"] / (1 + df["above"])  # share of students above the median
    return Table("star98 (share above)", "regress", df, "above", "statsmodels")


LOADERS: dict[str, Callable[[], Table]] = {
    "iris": _iris,
    "wine": _wine,
    "breast_cancer": _breast_cancer,
    "digits": _digits,
    "penguins": _penguins,
    "anes96": _anes96,
    "fair": _fair,
    "diabetes": _diabetes,
    "penguins_mass": _penguins_mass,
    "grunfeld": _grunfeld,
    "star98": _star98,
}
QUICK = ["iris", "diabetes"]


def load_tables(names):
    tables, skipped = [], []
    for name in names:
        try:
            tables.append(LOADERS[name]())
        except ImportError as exc:
            skipped.append(f"{name} ({exc.name or exc} not installed)")
    return tables, skipped


# =============================================================================
# The contenders
# =============================================================================
def _split_columns(X):
    import pandas as pd

    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    text = [c for c in X.columns if c not in numeric]
    return numeric, text


def _prep(X, scale=True):
    """Impute and standardise numbers, one-hot text: scikit-learn's usual recipe."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric, text = _split_columns(X)
    num_steps = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    parts = [("num", make_pipeline(*num_steps), numeric)]
    if text:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), onehot), text))
    return ColumnTransformer(parts)


def _pipeline(X, est):
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_prep(X), est)


def make_estimator(contender: str, task: str, X, seed: int):
    """A fresh scikit-learn-style estimator for one fold (cr-cli is handled apart)."""
    classify = task == "classify"
    if contender == "cr-estimator":
        from chainrule.sklearn import MLPClassifier, MLPRegressor

        cls = MLPClassifier if classify else MLPRegressor
        return _pipeline(X, cls(random_state=seed))
    if contender == "sk-mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPClassifier if classify else MLPRegressor
        return _pipeline(X, cls(random_state=seed))
    if contender == "sk-hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier as HGBC
        from sklearn.ensemble import HistGradientBoostingRegressor as HGBR

        cls = HGBC if classify else HGBR
        return cls(categorical_features="from_dtype", random_state=seed)
    if contender == "sk-linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        return _pipeline(X, LogisticRegression(max_iter=1000) if classify else Ridge())
    raise ValueError(f"unknown contender {contender!r}")


def _hgb_frame(X):
    """Text columns as pandas categories, for HistGradientBoosting's native support."""
    X = X.copy()
    _, text = _split_columns(X)
    for c in text:
        X[c] = X[c].astype("category")
    return X


def run_cli_fold(table: Table, train, test, seed: int, extra=()) -> np.ndarray:
    """``chainrule train`` with default flags on the training fold; predictions on the test fold."""
    from chainrule import cli
    from chainrule.preprocessing import Preprocessor
    from chainrule.serialization import load

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "train.csv"
        model = Path(tmp) / "model.safetensors"
        train.to_csv(csv, index=False)
        argv = ["train", str(csv), "--target", table.target, "--out", str(model), "--quiet"]
        argv += ["--seed", str(seed)]
        if train.drop(columns=[table.target]).isna().any().any():
            argv += ["--impute", "median"]  # the CLI refuses missing values unless told
        if table.task == "regress":
            argv += ["--task", "regress"]
        argv += list(extra)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli.main(argv)
        if code != 0:
            raise RuntimeError(f"chainrule train failed on {table.name} (exit {code})")
        net = load(model)
        pre = Preprocessor.from_dict(net.preprocessing_)
        X = pre.transform(test)
        net.eval()  # inference mode (dropout off, BatchNorm running statistics)
        return pre.decode_target(net(X))


def _score(task, y_true, y_pred) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    if task == "classify":
        return float(accuracy_score(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)))
    return float(r2_score(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)))


def folds(table: Table, n_folds: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold

    y = table.frame[table.target]
    if table.task == "classify":
        return list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(y, y))
    return list(KFold(n_folds, shuffle=True, random_state=seed).split(y))


def run_panel(tables, contenders, n_folds=5, seed=0, progress=print):
    """{table: {contender: {"scores": [...], "seconds": [...]}}}."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    results = {}
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        for table in tables:
            df = table.frame
            res = results[table.name] = {c: {"scores": [], "seconds": []} for c in contenders}
            for k, (tr, te) in enumerate(folds(table, n_folds, seed)):
                train, test = df.iloc[tr], df.iloc[te]
                X_tr, y_tr = train.drop(columns=[table.target]), train[table.target]
                X_te, y_te = test.drop(columns=[table.target]), test[table.target]
                for c in contenders:
                    t0 = time.perf_counter()
                    if c == "cr-cli":
                        pred = run_cli_fold(table, train, test, seed + k)
                    else:
                        est = make_estimator(c, table.task, X_tr, seed + k)
                        a, b = (
                            (_hgb_frame(X_tr), _hgb_frame(X_te)) if c == "sk-hgb" else (X_tr, X_te)
                        )
                        pred = est.fit(a, y_tr).predict(b)
                    res[c]["seconds"].append(time.perf_counter() - t0)
                    res[c]["scores"].append(_score(table.task, y_te, pred))
            line = "  ".join(f"{c} {np.mean(res[c]['scores']):.4f}" for c in contenders)
            progress(f"{table.name}: {line}")
    return results


# =============================================================================
# Report
# =============================================================================
def report(tables, results, contenders) -> str:
    head = "| table | rows | metric | " + " | ".join(contenders) + " |"
    lines = [head, "|" + "---|" * (3 + len(contenders))]
    for t in tables:
        r = results[t.name]
        cells = [
            f"{np.mean(r[c]['scores']):.3f} ± {np.std(r[c]['scores']):.3f}" for c in contenders
        ]
        metric = "accuracy" if t.task == "classify" else "R²"
        lines.append(f"| {t.name} | {len(t.frame)} | {metric} | " + " | ".join(cells) + " |")
    means = [np.mean([np.mean(results[t.name][c]["scores"]) for t in tables]) for c in contenders]
    lines.append("| **mean** | | | " + " | ".join(f"**{m:.3f}**" for m in means) + " |")
    secs = [np.mean([np.mean(results[t.name][c]["seconds"]) for t in tables]) for c in contenders]
    lines.append("| seconds per fold | | | " + " | ".join(f"{s:.2f}" for s in secs) + " |")
    return "\n".join(lines)


CONTENDERS = ["cr-estimator", "cr-cli", "sk-mlp", "sk-hgb", "sk-linear"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 tiny tables, 2 folds (a smoke test)")
    ap.add_argument("--datasets", default=None, help=f"comma list of {', '.join(LOADERS)}")
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, metavar="FILE", help="write every fold's numbers")
    args = ap.parse_args(argv)
    names = args.datasets.split(",") if args.datasets else (QUICK if args.quick else list(LOADERS))
    unknown = [n for n in names if n not in LOADERS]
    if unknown:
        ap.error(f"unknown dataset(s) {unknown}; choose from {list(LOADERS)}")
    contenders = args.contenders.split(",")
    bad = [c for c in contenders if c not in CONTENDERS]
    if bad:
        ap.error(f"unknown contender(s) {bad}; choose from {CONTENDERS}")
    n_folds = 2 if args.quick else args.folds
    tables, skipped = load_tables(names)
    if args.quick:  # a smoke test: few rows
        for t in tables:
            t.frame = t.frame.sample(n=min(len(t.frame), 120), random_state=0).reset_index(
                drop=True
            )
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    t0 = time.perf_counter()
    results = run_panel(tables, contenders, n_folds, args.seed, lambda s: print(s, file=sys.stderr))
    print(f"{n_folds}-fold CV, seed {args.seed}, 1 BLAS thread; mean ± std over folds\n")
    print(report(tables, results, contenders))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
