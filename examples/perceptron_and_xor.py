"""A perceptron learns AND, fails on XOR, and a two-layer network solves XOR.

The story of the first neural networks in three acts:

1. One perceptron, ``step(w . x + b)``, trained by the perceptron rule,
   learns AND: a single straight line separates (1, 1) from the others.
2. The same perceptron on XOR never settles: no straight line puts (0, 1)
   and (1, 0) on one side and (0, 0) and (1, 1) on the other. XOR is not
   linearly separable.
3. A multilayer network 2-4-1 with tanh hidden units, trained by gradient
   descent and backpropagation, bends the boundary and gets XOR right.

Run ``python examples/perceptron_and_xor.py --out figures/`` and look at the
PNG files it writes.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import plots


def main(out_dir, small: bool = False) -> dict:
    """Tell the story, print it, and write the figures into ``out_dir``.

    Parameters
    ----------
    out_dir : str or path
        Folder for the figures (created if needed).
    small : bool
        Fewer epochs for a quick run (the story is the same).

    Returns
    -------
    dict
        The key facts (convergence, predictions, accuracy) and the figure paths.
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = []

    # 1. AND: linearly separable, the perceptron rule converges
    X, y_and = cr.datasets.logical_and()
    p_and = cr.Perceptron(2).fit(X, y_and)
    print("1. A perceptron learns AND")
    print(
        f"   converged after {p_and.n_epochs_} epochs: w = {p_and.w.tolist()}, b = {p_and.b:g}, "
        f"predictions {p_and.predict(X).tolist()} for targets {y_and.tolist()}"
    )
    fig = plots.plot_perceptron(p_and, X, y_and, save=out / "perceptron_and.png")
    plt.close(fig)
    figures.append(out / "perceptron_and.png")

    # 2. XOR: not linearly separable, the rule cycles for ever
    _, y_xor = cr.datasets.xor()
    epochs = 10 if small else 50
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cr.ConvergenceWarning)
        p_xor = cr.Perceptron(2, max_epochs=epochs).fit(X, y_xor)
    wrong = int(np.sum(p_xor.predict(X) != y_xor))
    print("2. The same perceptron fails on XOR")
    print(
        f"   after {p_xor.n_epochs_} epochs it still gets {wrong} of 4 points wrong "
        f"(mistakes in each of the last 5 epochs: {p_xor.errors_[-5:]}): XOR is not linearly "
        "separable, no single line splits its two classes, so the rule never settles"
    )
    fig = plots.plot_perceptron(p_xor, X, y_xor, save=out / "perceptron_xor.png")
    plt.close(fig)
    figures.append(out / "perceptron_xor.png")

    # 3. an MLP: a hidden layer of two-plus lines, combined, solves XOR
    net = cr.Sequential(cr.Dense(2, 4, activation="tanh"), cr.Dense(4, 1), seed=0)
    history = net.fit(
        X,
        y_xor,
        loss="binary_cross_entropy",
        optimizer="adam",
        lr=0.05,
        epochs=150 if small else 400,
        batch_size=4,
    )
    pred = net.predict(X)
    solved = bool(np.array_equal(pred, y_xor))
    print("3. A 2-4-1 network with tanh hidden units, trained by backpropagation")
    print(
        f"   loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.4f}; predictions "
        f"{pred.tolist()} for targets {y_xor.tolist()}: XOR "
        + ("solved" if solved else "not solved yet (train longer)")
    )
    for name, draw in (
        (
            "mlp_xor_boundary.png",
            lambda path: plots.plot_decision_boundary(net, X, y_xor, save=path),
        ),
        ("mlp_xor_network.png", lambda path: plots.plot_network(net, save=path)),
        ("mlp_xor_history.png", lambda path: plots.plot_history(history, save=path)),
    ):
        plt.close(draw(out / name))
        figures.append(out / name)
    print(f"Figures written to {out}: " + ", ".join(f.name for f in figures))
    return {
        "and_converged": p_and.converged_,
        "xor_converged": p_xor.converged_,
        "xor_solved_by_mlp": solved,
        "figures": figures,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="figures/perceptron_and_xor", help="output folder")
    parser.add_argument("--small", action="store_true", help="a quick run")
    args = parser.parse_args()
    main(args.out, small=args.small)
