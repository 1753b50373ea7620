"""Choose the playground's defaults by measurement: does each candidate learn every
built-in data set, without collapsing (a deeper net) or running away (test loss)?

Runs the playground's own training loop headless (``Session``), no browser, on the
playground's data sets, seeds and train/test split. For each candidate setting,
data set, seed and depth (the default two hidden layers of 8, and two more) it
trains ``--epochs`` epochs (about 2-5 s of playing on the page) and records:

- the test accuracy (classification) or test R² (regression) at the end;
- collapse: the output over the plane is constant (all one class, or values with a
  spread under 1% of the target's);
- run-away: the test loss at the end is more than 1.5x the lowest it reached, and
  above 0.1 (the network has started to learn the training points by heart).

Usage::

    PYTHONPATH=src python benchmarks/playground_defaults.py --epochs 400 --seeds 0 1 \\
        --candidates 'adam 0.01 + l2 0.001'   # one candidate: about 2-3 minutes

Prints one row per candidate and data set, then a verdict per candidate.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from chainrule.playground.session import Session, validate

CANDIDATES = {
    "adam 0.03 (old)": {"optimizer": "adam", "lr": 0.03, "l2": 0.0},
    "adam 0.01": {"optimizer": "adam", "lr": 0.01, "l2": 0.0},
    "adam 0.01 + l2 0.001": {"optimizer": "adam", "lr": 0.01, "l2": 0.001},
    "adam 0.03 + l2 0.001": {"optimizer": "adam", "lr": 0.03, "l2": 0.001},
    "adam 0.03 + l2 0.0003": {"optimizer": "adam", "lr": 0.03, "l2": 0.0003},
    "adam 0.03 + l2 0.0001": {"optimizer": "adam", "lr": 0.03, "l2": 0.0001},
}
DATASETS = ["xor", "circles", "moons", "spirals", "blobs", "plane", "gaussians", "sin"]
DEPTHS = {"8,8": [8, 8], "8,8,8,8": [8, 8, 8, 8]}


def run(setting: dict, dataset: str, seed: int, hidden: list, epochs: int) -> dict:
    s = Session()
    s.configure(
        validate({"type": "config", "dataset": dataset, "seed": seed, "hidden": hidden, **setting})
    )
    best_test = np.inf
    for _ in range(epochs // 100):
        s.train_epochs(100)
        if s.diverged:
            break
        f = s.frame(full=False)
        if f["test_loss"] is not None:
            best_test = min(best_test, f["test_loss"])
    f = s.frame(full=False)
    out = s.net.forward(s.transform(s.grid_points()))
    if s.task == "classify":
        score = f["test_acc"]
        collapsed = len(np.unique(np.argmax(out, axis=1))) == 1
    else:
        pred = s.net.forward(s.F_test).reshape(-1)
        y = s.y_test.reshape(-1)
        score = 1 - float(np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2))
        collapsed = float(np.std(out)) < 0.01 * float(np.std(s.y_train))
    end = f["test_loss"] if f["test_loss"] is not None else np.inf
    runaway = end > 1.5 * best_test and end > 0.1
    return {
        "score": score,
        "collapsed": collapsed,
        "runaway": runaway,
        "diverged": bool(s.diverged),
        "train": f["train_loss"],
        "test": end,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--datasets", nargs="*", default=DATASETS)
    parser.add_argument("--depths", nargs="*", default=list(DEPTHS))
    args = parser.parse_args()
    t0 = time.perf_counter()
    print(
        f"{args.epochs} epochs, seeds {args.seeds}; score = test accuracy or test R² (mean over seeds)"
    )
    print(
        f"{'candidate':24s} {'dataset':10s} {'depth':8s} {'score':>6s} {'min':>6s} collapsed runaway"
    )
    summary = {}
    for name in args.candidates:
        setting = CANDIDATES[name]
        bad = []
        for dataset in args.datasets:
            for depth in args.depths:
                hidden = DEPTHS[depth]
                rows = [run(setting, dataset, seed, hidden, args.epochs) for seed in args.seeds]
                scores = [r["score"] for r in rows]
                col = sum(r["collapsed"] or r["diverged"] for r in rows)
                ra = sum(r["runaway"] for r in rows)
                print(
                    f"{name:24s} {dataset:10s} {depth:8s} {np.mean(scores):6.3f} {min(scores):6.3f} "
                    f"{col}/{len(rows)}       {ra}/{len(rows)}"
                )
                if min(scores) < 0.85 or col:
                    bad.append(f"{dataset}/{depth}: score {min(scores):.2f}, collapsed {col}")
                if ra:
                    bad.append(f"{dataset}/{depth}: test loss ran away in {ra} seed(s)")
        summary[name] = bad
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    for name, bad in summary.items():
        print(
            f"{name}: "
            + ("learns everything, no collapse, no run-away" if not bad else "; ".join(bad))
        )


if __name__ == "__main__":
    main()
