"""Does ``chainrule tune`` beat ``chainrule train``'s defaults? (issue 17's search goal)

On one table that ships with scikit-learn, split once into train (75%) and
test (25%) with a seed, this runs the two commands as a user would, on the
training file only:

    chainrule train train.csv --target target
    chainrule tune  train.csv --target target --trials 50 --timeout 120

and ``chainrule train --no-refit`` (the hold-out run's model, for
comparison), and scores the saved models on the held-out test file with
``chainrule evaluate --json`` (accuracy for a classifier, R^2 for a
regression). Wall times are those of the commands, start-up included.

    python benchmarks/tune.py                          # digits, 1,000 rows, 50 trials, 120 s
    python benchmarks/tune.py --data breast_cancer     # 569 rows
    python benchmarks/tune.py --trials 20 --timeout 60 --jobs 2

One split's test score carries sampling noise (about 1.5 points of
accuracy on 250 rows); read small differences as ties.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATASETS = ("digits", "breast_cancer", "diabetes", "wine")


def _table(name: str, rows: int | None, seed: int):
    import numpy as np
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    if rows is not None and rows < len(frame):
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), rows, replace=False))
        frame = frame.iloc[keep].reset_index(drop=True)
    return frame


def _cli(*args) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"chainrule {args[0]} failed: {done.stderr.strip()[-2000:]}")
    return done, seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=DATASETS, default="digits")
    ap.add_argument("--rows", type=int, default=1000, help="subsample (default 1000)")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, metavar="DIR", help="keep the files here")
    args = ap.parse_args(argv)

    from sklearn.model_selection import train_test_split

    df = _table(args.data, args.rows, args.seed)
    classify = args.data != "diabetes"
    train, test = train_test_split(
        df,
        test_size=0.25,
        random_state=args.seed,
        stratify=df["target"] if classify else None,
    )
    work = Path(args.keep or tempfile.mkdtemp(prefix="chainrule-tune-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    train.to_csv(work / "train.csv", index=False)
    test.to_csv(work / "test.csv", index=False)
    task = ["--task", "classify" if classify else "regress"]
    metric = "accuracy" if classify else "r2"
    print(
        f"{args.data}: {len(df)} rows ({len(train)} train, {len(test)} test), "
        f"{df.shape[1] - 1} features; files in {work}",
        file=sys.stderr,
    )

    _, t_train = _cli(
        "train",
        work / "train.csv",
        "--target",
        "target",
        *task,
        "--seed",
        args.seed,
        "--out",
        work / "train.st",
        "-q",
    )
    # the hold-out run's model (best epoch, 80% of the rows), for comparison
    _, t_hold = _cli(
        "train", work / "train.csv", "--target", "target", *task, "--seed", args.seed, "--no-refit",
        "--out", work / "holdout.st", "-q",
    )  # fmt: skip
    tune_args = ["--trials", args.trials, "--timeout", args.timeout, "--jobs", args.jobs]
    tuned, t_tune = _cli(
        "tune", work / "train.csv", "--target", "target", *task, "--seed", args.seed, "-q",
        *tune_args, "--out", work / "tune.st", "--plots", work / "plots",
    )  # fmt: skip
    summary = tuned.stdout.strip().splitlines()[-1]

    results = {}
    for name in ("train", "holdout", "tune"):
        done, _ = _cli("evaluate", work / f"{name}.st", work / "test.csv", "--json")
        results[name] = json.loads(done.stdout)["metrics"][metric]
    print(f"| command | test {metric} | wall s |")
    print("|---|---:|---:|")
    print(
        f"| chainrule train (defaults: refit on every row) | {results['train']:.4f} | {t_train:.1f} |"
    )
    print(
        f"| chainrule train --no-refit (hold-out model) | {results['holdout']:.4f} | {t_hold:.1f} |"
    )
    print(
        f"| chainrule tune --trials {args.trials} --timeout {args.timeout:g} --jobs {args.jobs} "
        f"| {results['tune']:.4f} | {t_tune:.1f} |"
    )
    print(f"tune: {summary}")
    verdict = "met" if results["tune"] >= results["train"] else "NOT met"
    print(f"goal (tune >= train defaults on the test rows): {verdict}")
    print(
        f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
