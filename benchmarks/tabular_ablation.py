"""Which ingredients of the default tabular recipe help? One at a time, on the panel.

Each variant changes one thing of ``chainrule.recipe``'s defaults and is
scored by 5-fold CV on the tables of ``benchmarks/tabular.py`` (same folds,
same table preparation as scikit-learn's MLP gets there: median imputation,
standardisation, one-hot). Training goes straight through ``chainrule.fit``
with the recipe's callbacks, so a variant is a few keyword arguments.

Usage::

    python benchmarks/tabular_ablation.py                       # every variant
    python benchmarks/tabular_ablation.py --variants recipe,no-smoothing --datasets iris,wine
    python benchmarks/tabular_ablation.py --folds 3
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import tabular  # noqa: E402

from chainrule import recipe  # noqa: E402
from chainrule.optimizers import get_optimizer  # noqa: E402
from chainrule.training import fit  # noqa: E402

BASE = dict(
    hidden=recipe.DEFAULTS["hidden"],
    activation=recipe.DEFAULTS["activation"],
    lr=recipe.DEFAULTS["lr"],
    betas=recipe.DEFAULTS["betas"],
    smoothing=recipe.DEFAULTS["label_smoothing"],
    schedule="warmup_cosine",
    zero_last=True,
    std_target=True,
    validation=0.0,
    refit_best=False,  # after the hold-out run, train on every row for its best epoch count
    min_steps=recipe.MIN_STEPS,
    small_rows=recipe.SMALL_TABLE_ROWS,  # fewer training rows than this get small_steps
    small_steps=recipe.SMALL_TABLE_MIN_STEPS,
    batch="auto",
    clip=False,
    l2=1e-4,
    l2_regress=None,  # a different penalty for regression targets (None: l2)
    dtype=np.float32,
)

VARIANTS = {
    "recipe": {},
    "label-smoothing-0.1": dict(smoothing=0.1),
    "beta2-0.95": dict(betas=(0.9, 0.95)),
    "constant-lr": dict(schedule="constant"),
    "random-last": dict(zero_last=False),
    "raw-target": dict(std_target=False),
    "restore-best-20%": dict(validation=0.2),
    "refit-best-epoch": dict(validation=0.2, refit_best=True),
    "width-256x2": dict(hidden=(256, 256)),
    "width-100x2": dict(hidden=(100, 100)),
    "width-256": dict(hidden=(256,)),
    "lr-1e-3": dict(lr=1e-3),
    "steps-300": dict(min_steps=300),
    "steps-1200": dict(min_steps=1200),
    "batch-200": dict(batch=200),
    "smooth-clip": dict(clip=True),
    "silu": dict(activation="silu"),
    "l2-1e-3": dict(l2=1e-3),
    "l2-1e-2": dict(l2=1e-2),
    "l2-0.03": dict(l2=0.03),
    "l2-0.1": dict(l2=0.1),
    "l2-0.05-classify": dict(l2=0.05, l2_regress=1e-4),  # the penalty on classifiers only
    "l2-0.1-classify": dict(l2=0.1, l2_regress=1e-4),
    "l2-0.3": dict(l2=0.3),
    "l2-1": dict(l2=1.0),
    "lr-3e-3": dict(lr=3e-3),
    "lr-5e-3": dict(lr=5e-3),
    "small-600": dict(small_steps=600),  # the recipe before tables under 200 rows got 1200
    "small-2400": dict(small_steps=2400),
    "small-under-300": dict(small_rows=300),
}


def train_predict(X, y, X_te, task, seed, o, epochs=None):
    """Fit one variant on (X, y); predictions for X_te (labels as indices, or values)."""
    if o["refit_best"]:
        best = []
        train_predict(X, y, X_te, task, seed, dict(o, refit_best=False), epochs=best)
        o = dict(o, validation=0.0, refit_best=False)
        return train_predict(X, y, X_te, task, seed, o, epochs=best[0])
    n = len(X)
    dtype = o["dtype"]
    if o["clip"]:  # RealMLP's smooth clipping of standardised numbers: x / sqrt(1 + (x/3)^2)
        X, X_te = (A / np.sqrt(1 + (A / 3) ** 2) for A in (X, X_te))
    X, X_te = X.astype(dtype), X_te.astype(dtype)
    rng = np.random.default_rng(seed)
    if task == "classify":
        classes, idx = np.unique(y, return_inverse=True)
        k = len(classes)
        Y = recipe.smooth_labels(idx, k, o["smoothing"], dtype) if o["smoothing"] else idx
        loss, n_out = "cross_entropy", k
    else:
        y = np.asarray(y, dtype=np.float64)
        mu, sd = (y.mean(), y.std() or 1.0) if o["std_target"] else (0.0, 1.0)
        Y = ((y - mu) / sd).astype(dtype)[:, None]
        loss, n_out = "mse", 1
    val = None
    if o["validation"]:
        perm = rng.permutation(n)
        n_val = max(1, int(round(o["validation"] * n)))
        vi, ti = perm[:n_val], perm[n_val:]
        y_val = idx[vi] if task == "classify" else Y[vi]
        val = (X[vi], y_val)
        X, Y = X[ti], Y[ti]
    small = len(X) < o["small_rows"]
    if o["batch"] == "auto" or (o["batch"] == "small8" and not small):
        bs = recipe.batch_size_for(len(X))
    else:
        bs = 8 if o["batch"] == "small8" else o["batch"]
    bs = min(bs, len(X))
    min_steps = o["small_steps"] if small else o["min_steps"]
    budget = recipe.epoch_budget(len(X), bs, min_steps=min_steps)
    if isinstance(epochs, int):  # a given count (a refit's)
        budget = epochs
    l2 = o["l2"] if task == "classify" or o["l2_regress"] is None else o["l2_regress"]
    net = recipe.build_mlp(
        X.shape[1], o["hidden"], o["activation"], n_out, seed=seed, dtype=dtype,
        zero_last_layer=o["zero_last"],
    )  # fmt: skip
    opt = get_optimizer("adam", net.parameters(), lr=o["lr"], betas=o["betas"])
    steps = budget * int(np.ceil(len(X) / bs))
    cbs = []
    if o["schedule"] == "warmup_cosine":
        cbs.append(recipe.WarmupCosine(o["lr"], steps, recipe.DEFAULTS["warmup"]))
    restore = recipe.RestoreBest("val_loss")
    if val is not None:
        cbs.append(restore)
    fit(net, X, Y, loss=loss, optimizer=opt, epochs=budget, batch_size=bs, callbacks=cbs,
        validation_data=val, seed=seed, l2=l2)  # fmt: skip
    if isinstance(epochs, list):  # the caller asked for the best epoch
        epochs.append(restore.best_epoch or budget)
    net.eval()
    out = net(X_te).astype(np.float64)
    if task == "classify":
        return classes[out.argmax(axis=1)]
    return out[:, 0] * sd + mu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--datasets", default=",".join(tabular.LOADERS))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1, help="repeat with seeds seed..seed+N-1")
    ap.add_argument(
        "--float64",
        action="store_true",
        help="train in float64 (the estimators' precision on float64 input)",
    )
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    variants = args.variants.split(",")
    tables, skipped = tabular.load_tables(args.datasets.split(","))
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    scores = {v: {} for v in variants}
    secs = {v: [] for v in variants}
    t00 = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in tables:
            for v in variants:
                o = dict(BASE, **VARIANTS[v])
                if args.float64:
                    o["dtype"] = np.float64
                s = []
                runs = [
                    (seed, k, tr, te)
                    for seed in range(args.seed, args.seed + args.seeds)
                    for k, (tr, te) in enumerate(tabular.folds(t, args.folds, seed))
                ]
                for seed, k, tr, te in runs:
                    train, test = t.frame.iloc[tr], t.frame.iloc[te]
                    X_tr, y_tr = train.drop(columns=[t.target]), train[t.target].to_numpy()
                    X_te, y_te = test.drop(columns=[t.target]), test[t.target].to_numpy()
                    prep = tabular._prep(X_tr).fit(X_tr)
                    t0 = time.perf_counter()
                    pred = train_predict(prep.transform(X_tr), y_tr, prep.transform(X_te),
                                         t.task, seed + k, o)  # fmt: skip
                    secs[v].append(time.perf_counter() - t0)
                    s.append(tabular._score(t.task, y_te, pred))
                scores[v][t.name] = s
            print(t.name, " ".join(f"{v}={np.mean(scores[v][t.name]):.4f}" for v in variants),
                  file=sys.stderr, flush=True)  # fmt: skip
    names = [t.name for t in tables]
    print(
        f"{args.folds}-fold CV x {args.seeds} seed(s), mean over folds; last columns: mean over "
        "tables, s per fit\n"
    )
    print("| variant | " + " | ".join(names) + " | mean | s/fit |")
    print("|---|" + "---|" * (len(names) + 2))
    for v in variants:
        means = [np.mean(scores[v][n]) for n in names]
        cells = " | ".join(f"{m:.4f}" for m in means)
        print(f"| {v} | {cells} | {np.mean(means):.4f} | {np.mean(secs[v]):.2f} |")
    print(f"\ntotal {time.perf_counter() - t00:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
