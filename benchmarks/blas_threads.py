"""When does multi-threaded BLAS pay for a chainrule network? One thread against the default.

Times a forward pass over ``rows`` rows (what ``predict``/``evaluate`` do) and
one training epoch at a batch size (what ``fit`` does) for MLPs of a few
widths, with BLAS's default thread count and with one thread
(threadpoolctl). Small matrices finish before the threads have started their
share; on a busy machine the spare thread waits for a core and the product
waits for it. ``chainrule.threads.small_network`` draws its line from these
figures.

Usage::

    python benchmarks/blas_threads.py                  # the grid (about a minute)
    python benchmarks/blas_threads.py --widths 100,256 --rows 150,5000
    python benchmarks/blas_threads.py --estimator      # MLPClassifier on 1,000 digits rows

``--estimator`` times ``chainrule.sklearn.MLPClassifier`` as a user calls it
(fit for 20 epochs, predict 1,000 rows), with ``chainrule.threads``' rule on
and off in alternating rounds: medians show the usual case, means the
stalls of a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from chainrule import recipe  # noqa: E402
from chainrule.training import fit  # noqa: E402


def _median_ms(job, repeats: int) -> float:
    job()  # warm caches and the thread pool
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        job()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def estimator(rounds: int = 4) -> None:
    """MLPClassifier fit and predict on 1,000 digits rows, one BLAS thread against the default."""
    from sklearn.datasets import load_digits

    from chainrule import threads
    from chainrule.sklearn import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X, y = X[:1000] / 16, y[:1000]
    fitted = MLPClassifier(random_state=0, max_iter=20).fit(X, y)
    times = {(job, mode): [] for job in ("fit", "predict") for mode in ("default", "one")}
    width = threads.SMALL_WIDTH
    for _ in range(rounds):
        for mode, limit in (("default", 0), ("one", width)):
            threads.SMALL_WIDTH = limit  # 0: no network is small, BLAS keeps its threads
            for _ in range(3):
                t0 = time.perf_counter()
                MLPClassifier(random_state=0, max_iter=20).fit(X, y)
                times["fit", mode].append(time.perf_counter() - t0)
            for _ in range(25):
                t0 = time.perf_counter()
                fitted.predict(X)
                times["predict", mode].append(time.perf_counter() - t0)
    threads.SMALL_WIDTH = width
    print("| job | BLAS threads | median ms | mean ms |")
    print("|---|---|---|---|")
    for (job, mode), ts in times.items():
        label = "default" if mode == "default" else "1 (chainrule.threads)"
        ms = [1000 * t for t in ts]
        print(f"| {job} | {label} | {statistics.median(ms):.2f} | {statistics.mean(ms):.2f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--widths", default="100,256,512,1024", help="hidden widths (one layer each)")
    ap.add_argument("--rows", default="150,1000,10000", help="rows of the forward pass")
    ap.add_argument("--batches", default="32,256", help="batch sizes of the training epoch")
    ap.add_argument("--inputs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--estimator", action="store_true", help="time MLPClassifier instead")
    args = ap.parse_args(argv)
    if args.estimator:
        estimator()
        return 0
    from threadpoolctl import threadpool_info, threadpool_limits

    default = max(
        (i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1
    )
    rng = np.random.default_rng(0)
    print(f"BLAS default threads: {default}; median of {args.repeats} runs, ms\n")
    print("| job | width | rows | default threads | 1 thread |")
    print("|---|---|---|---|---|")
    for w in map(int, args.widths.split(",")):
        net = recipe.build_mlp(args.inputs, (w, w), "relu", 3, seed=0)
        for n in map(int, args.rows.split(",")):
            X = rng.normal(size=(n, args.inputs)).astype(np.float32)
            cells = []
            for limit in (None, 1):
                with threadpool_limits(limit):
                    cells.append(_median_ms(lambda net=net, X=X: net(X), args.repeats))
            print(f"| forward | {w}x2 | {n} | {cells[0]:.2f} | {cells[1]:.2f} |", flush=True)
        X = rng.normal(size=(2048, args.inputs)).astype(np.float32)
        y = rng.integers(0, 3, size=2048)
        for bs in map(int, args.batches.split(",")):
            cells = []
            for limit in (None, 1):
                with threadpool_limits(limit):

                    def epoch(bs=bs, net=net, X=X, y=y):
                        fit(net, X, y, loss="cross_entropy", epochs=1, batch_size=bs, seed=0)

                    cells.append(_median_ms(epoch, max(3, args.repeats // 2)))
            label = f"epoch of 2048 rows, batch {bs}"
            print(f"| {label} | {w}x2 | {bs} | {cells[0]:.1f} | {cells[1]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
