"""What does diagnosis cost during fit? The benchmark MLP, with and without it.

    python benchmarks/diagnosis_cost.py              # 784-256-128-10, batch 128, 5 rounds
    python benchmarks/diagnosis_cost.py --every 1    # measure every batch instead of "auto"

The network and batch size of ``benchmarks/run.py`` (784-256-128-10, ReLU,
batch 128, Adam), on random data of MNIST's shape. Each round fits one epoch
without diagnostics and one with a ``cr.Diagnostics`` callback that also
judges the story (``records()``) at the end of every epoch, interleaved;
the report gives the median epoch time of each and the overhead. On a
shared machine that difference is noisy, so the script also times the
callback's own hooks (and the verdicts) inside one fit and reports them
against the rest of the epoch: the steadier figure.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import chainrule as cr


class TimedDiagnostics(cr.Diagnostics):
    """Diagnostics that adds up the time spent in its own hooks, and judges every epoch."""

    spent = 0.0

    def _timed(name):  # noqa: N805 - a decorator factory used in the class body
        def hook(self, *args, **kwargs):
            t = time.perf_counter()
            getattr(cr.Diagnostics, name)(self, *args, **kwargs)
            if name == "on_epoch_end":
                self.records()  # the verdicts, as a live view would ask for them
            self.spent += time.perf_counter() - t

        return hook

    on_train_begin = _timed("on_train_begin")
    on_epoch_begin = _timed("on_epoch_begin")
    on_batch_end = _timed("on_batch_end")
    on_epoch_end = _timed("on_epoch_end")


class JudgeEveryEpoch(cr.Callback):
    """Ask for the verdicts after every epoch, as a live view would."""

    def __init__(self, diag):
        self.diag = diag
        self.n = 0

    def on_epoch_end(self, epoch, logs=None):
        self.n += len(self.diag.records())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--every", default="auto")
    p.add_argument("--optimizer", default="adam")
    args = p.parse_args(argv)
    every = args.every if args.every == "auto" else int(args.every)
    rng = np.random.default_rng(0)
    X = rng.random((args.rows, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.rows)
    net = cr.Sequential(
        cr.Dense(784, 256, activation="relu"),
        cr.Dense(256, 128, activation="relu"),
        cr.Dense(128, 10),
        seed=0,
    )
    kw = dict(loss="cross_entropy", optimizer=args.optimizer, lr=1e-3, batch_size=128)
    net.fit(X[:2048], y[:2048], epochs=1, **kw)  # warm-up
    plain, diagnosed = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        net.fit(X, y, epochs=1, **kw)
        plain.append(time.perf_counter() - t)
        diag = cr.Diagnostics(every=every)
        t = time.perf_counter()
        net.fit(X, y, epochs=2, callbacks=[diag, JudgeEveryEpoch(diag)], **kw)
        diagnosed.append((time.perf_counter() - t) / 2)  # epoch 1 measures 1 in 8, then "auto"
    timed = TimedDiagnostics(every=every)
    t = time.perf_counter()
    net.fit(X, y, epochs=args.rounds, callbacks=[timed], **kw)
    total = time.perf_counter() - t
    a, b = statistics.median(plain), statistics.median(diagnosed)
    print(f"784-256-128-10, batch 128, {args.optimizer}, {args.rows} rows, every={every!r}")
    print(f"epoch without diagnostics: {a * 1e3:.0f} ms (median of {args.rounds})")
    print(f"epoch with Diagnostics + verdicts every epoch: {b * 1e3:.0f} ms")
    print(f"overhead (interleaved epochs, noisy on a shared machine): {100 * (b / a - 1):+.1f}%")
    print(f"time inside the Diagnostics hooks and verdicts, in one {args.rounds}-epoch fit: "
          f"{timed.spent * 1e3:.0f} ms of {total * 1e3:.0f} ms = "
          f"{100 * timed.spent / (total - timed.spent):.1f}% of the epochs' own time")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
