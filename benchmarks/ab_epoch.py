"""Interleaved A/B timing of the Sequential training epoch between two source trees.

    python benchmarks/ab_epoch.py /work/main/src src            # 5 rounds, A then B each round
    python benchmarks/ab_epoch.py OLD/src NEW/src --rounds 8

Each measurement is a fresh Python process that imports chainrule from the
given ``src`` folder, warms up, then times ``net.fit`` for 3 epochs of the
benchmark MLP (784-256-128-10, ReLU, Adam, batch 128) on 10,000 synthetic
rows with one BLAS thread. Both wall time and process CPU time are printed:
on a shared machine the CPU time is the steadier of the two.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import data
import chainrule as cr
assert cr.__file__.startswith(sys.argv[2]), cr.__file__
X, y = data.synthetic(10000, seed=0)
net = cr.Sequential(cr.Dense(784, 256, activation="relu"), cr.Dense(256, 128, activation="relu"),
                    cr.Dense(128, 10), seed=0)
net.fit(X[:512], y[:512], loss="cross_entropy", epochs=1, batch_size=128)  # warm-up
t, c = time.perf_counter(), time.process_time()
net.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=128)
print(time.perf_counter() - t, time.process_time() - c)
"""


def measure(src: Path) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE), str(src)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path, help="the src folder of version A")
    p.add_argument("b", type=Path, help="the src folder of version B")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    times: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    for r in range(args.rounds):
        for label, src in (("A", args.a), ("B", args.b)):
            wall, cpu = measure(src.resolve())
            times[label].append((wall, cpu))
            print(f"round {r + 1} {label}: wall {wall:.3f} s  cpu {cpu:.3f} s", flush=True)
    for label, src in (("A", args.a), ("B", args.b)):
        walls, cpus = zip(*times[label])
        print(
            f"{label} {src}: median wall {statistics.median(walls):.3f} s (min {min(walls):.3f}), "
            f"median cpu {statistics.median(cpus):.3f} s (min {min(cpus):.3f})"
        )


if __name__ == "__main__":
    main()
