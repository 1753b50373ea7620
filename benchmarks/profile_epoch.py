"""Where one chainrule epoch of issue 3's workload spends its time.

    python benchmarks/profile_epoch.py                 # per-operation breakdown, SGD momentum
    python benchmarks/profile_epoch.py --optimizer adam
    python benchmarks/profile_epoch.py --pyinstrument  # pyinstrument's call tree of net.fit

The breakdown replays ``training.fit``'s inner loop (gather a shuffled batch,
forward, loss, backward, optimizer step) with the network's own layers, loss
and optimizer, and a timer around each operation; the matmuls are timed on
their own so the non-matmul work per batch is visible. It mirrors the loop as
written when this script was; if ``fit`` changes, compare its epoch time
(printed first) with the replay's total. ``--pyinstrument`` profiles the real
``net.fit`` instead (``pip install pyinstrument``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import data
import numpy as np

import chainrule as cr


def build(args):
    w = [data.N_FEATURES, *args.hidden, data.N_CLASSES]
    layers = [
        cr.Dense(w[i], w[i + 1], activation="relu" if i < len(w) - 2 else None)
        for i in range(len(w) - 1)
    ]
    net = cr.Sequential(*layers, seed=0)
    if args.optimizer == "sgd":
        opt = cr.SGD(net.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = cr.Adam(net.parameters(), lr=1e-3)
    return net, opt


def fit_epoch(net, opt, X, y, bs) -> float:
    t0 = time.perf_counter()
    net.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=bs, shuffle=True)
    return time.perf_counter() - t0


def replay_epoch(net, opt, X, y, bs) -> tuple[float, dict[str, float]]:
    """One epoch of fit's inner loop with a timer around every operation."""
    T: dict[str, float] = defaultdict(float)
    clock = time.perf_counter
    loss = cr.CrossEntropy()
    n = len(X)
    x_buf = np.empty((bs, X.shape[1]), X.dtype)
    y_buf = np.empty((bs,), np.intp)
    order = np.arange(n)
    layers = net.layers
    start_epoch = clock()
    t = clock()
    np.random.default_rng(0).shuffle(order)
    T["shuffle"] += clock() - t
    for start in range(0, n, bs):
        idx = order[start : start + bs]
        m = len(idx)
        t = clock()
        xb = np.take(X, idx, axis=0, out=x_buf[:m])
        yb = np.take(y, idx, axis=0, out=y_buf[:m])
        T["gather batch (np.take)"] += clock() - t
        out = xb
        for layer in layers:
            t = clock()
            z = out @ layer.weight.value
            T["matmul forward"] += clock() - t
            layer._x = out
            if layer.activation is not None:
                t = clock()
                out = layer.activation.bias_f_(z, layer.bias.value)
                T["bias add + relu"] += clock() - t
                layer._z, layer._a = None, out
            else:
                t = clock()
                z += layer.bias.value
                T["bias add (last layer)"] += clock() - t
                out = z
        t = clock()
        loss.forward(out, yb)
        T["loss forward (softmax + CE)"] += clock() - t
        t = clock()
        g = loss.backward()
        T["loss backward"] += clock() - t
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            t = clock()
            if layer.activation is not None:
                g = layer.activation.vjp_bias_(g, layer._z, layer._a, layer.bias.grad)
                T["relu backward + bias grad"] += clock() - t
            else:
                np.sum(g, axis=0, out=layer.bias.grad)
                T["bias grad (last layer)"] += clock() - t
            t = clock()
            np.matmul(layer._x.T, g, out=layer.weight.grad)
            T["matmul weight grad"] += clock() - t
            if i > 0:
                t = clock()
                g = g @ layer.weight.value.T
                T["matmul input grad"] += clock() - t
        t = clock()
        opt.step()
        T["optimizer step"] += clock() - t
    return clock() - start_epoch, T


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", default="256,128")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--repeat", type=int, default=1, help="replay this many epochs, keep the fastest"
    )
    p.add_argument("--pyinstrument", action="store_true", help="profile net.fit with pyinstrument")
    args = p.parse_args(argv)
    args.hidden = [int(h) for h in args.hidden.split(",") if h]

    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    X, y = data.synthetic(args.rows, seed=0)
    net, opt = build(args)
    bs = args.batch_size
    fit_epoch(net, opt, X[: 5 * bs], y[: 5 * bs], bs)  # warm-up
    n_batches = -(-len(X) // bs)

    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
        elapsed = fit_epoch(net, opt, X, y, bs)
        profiler.stop()
        print(f"net.fit epoch under pyinstrument: {elapsed:.3f} s")
        print(profiler.output_text(unicode=False, color=False))
        return 0

    fitted = min(fit_epoch(net, opt, X, y, bs) for _ in range(args.repeat))
    total, T = min(
        (replay_epoch(net, opt, X, y, bs) for _ in range(args.repeat)), key=lambda r: r[0]
    )
    timed = sum(T.values())
    print(f"kernels: {cr.kernels.backend()}")
    print(
        f"{args.optimizer}: net.fit epoch {fitted * 1e3:.0f} ms; replayed epoch {total * 1e3:.0f} ms "
        f"({n_batches} batches of {bs}, {args.threads} threads); untimed loop overhead "
        f"{(total - timed) * 1e3:.0f} ms"
    )
    print(f"  {'operation':<30} {'ms/epoch':>9} {'share':>6} {'µs/batch':>9}")
    for name, v in sorted(T.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<30} {v * 1e3:9.1f} {100 * v / total:5.1f}% {v / n_batches * 1e6:9.1f}")
    mm = sum(v for k, v in T.items() if k.startswith("matmul"))
    print(
        f"  matmuls {mm * 1e3:.0f} ms ({100 * mm / total:.0f}%); everything else "
        f"{(total - mm) * 1e3:.0f} ms = {(total - mm) / n_batches * 1e6:.0f} µs per batch"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
