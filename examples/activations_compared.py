"""The same network with four activation functions: step, sigmoid, tanh and relu.

Each hidden unit computes ``f(w . x + b)``; only ``f`` changes here.

* step (the perceptron's Heaviside function): its derivative is 0 wherever it
  exists, so backpropagation cannot train a network of step units. The best
  a step unit can do is the perceptron rule, and one unit draws one line.
* sigmoid, tanh and relu, in the same 2-16-16-1 network, same seed, same
  optimizer and epochs, learn a closed boundary around the inner disc.
  Sigmoid usually learns slowest (its derivative is at most 0.25 and its
  outputs are not centred on 0); the script prints which one did.

Run ``python examples/activations_compared.py --out figures/``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import plots


def main(out_dir, small: bool = False) -> dict:
    """Train the four variants on circles, print a table and write the figures.

    Parameters
    ----------
    out_dir : str or path
        Folder for the figures.
    small : bool
        Fewer points and epochs for a quick run.

    Returns
    -------
    dict
        ``accuracy`` and ``loss`` per activation and the figure paths.
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = cr.datasets.circles(150 if small else 400, noise=0.08, factor=0.5, seed=0)
    epochs = 40 if small else 150

    def network(act):
        return cr.Sequential(
            cr.Dense(2, 16, activation=act),
            cr.Dense(16, 16, activation=act),
            cr.Dense(16, 1),
            seed=0,
        )

    # the step function cannot be trained by backpropagation: fit says why
    try:
        network("step").fit(X, y, loss="binary_cross_entropy", epochs=1)
        refused = ""
    except ValueError as exc:
        refused = str(exc).split(". ")[0]
    print("step: the same network cannot be trained by gradient descent:")
    print(f"   fit refuses: {refused}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cr.ConvergenceWarning)
        perceptron = cr.Perceptron(2, max_epochs=epochs).fit(X, y)
    models = {"step (perceptron)": perceptron}
    results = {"step (perceptron)": {"accuracy": perceptron.score(X, y), "loss": None}}
    print(
        f"   a single step unit trained by the perceptron rule draws one line: "
        f"{100 * results['step (perceptron)']['accuracy']:.1f}% accuracy"
    )
    histories = {}
    for act in ("sigmoid", "tanh", "relu"):
        net = network(act)
        h = net.fit(
            X, y, loss="binary_cross_entropy", optimizer="adam", lr=0.01, epochs=epochs,
            metrics=["accuracy"],
        )  # fmt: skip
        models[act], histories[act] = net, h
        results[act] = {"accuracy": h["accuracy"][-1], "loss": h["loss"][-1]}

    print(
        f"Same 2-16-16-1 network, Adam lr=0.01, {epochs} epochs on {len(X)} points (a ring around a disc):"
    )
    print(f"   {'activation':<18} {'final loss':>10} {'accuracy':>9}")
    for name, r in results.items():
        loss = "-" if r["loss"] is None else f"{r['loss']:.4f}"
        print(f"   {name:<18} {loss:>10} {100 * r['accuracy']:>8.1f}%")
    trained = ("sigmoid", "tanh", "relu")
    # speed of learning: the mean training loss over the epochs (area under the curve)
    mean_loss = {k: float(np.mean(histories[k]["loss"])) for k in trained}
    slowest = max(trained, key=mean_loss.get)
    best = min(trained, key=lambda k: results[k]["loss"])
    why = " (its derivative is at most 0.25)" if slowest == "sigmoid" else ""
    print(
        f"   {slowest} learns slowest{why}: mean loss over the epochs "
        + ", ".join(f"{k} {v:.3f}" for k, v in mean_loss.items())
        + f"; {best} reaches the lowest final loss; the step unit "
        "is limited to one straight line, which cannot separate a ring from its centre"
    )

    figures = []
    fig = plots.plot_activations(["step", "sigmoid", "tanh", "relu"], ncols=4)
    plots.save_figure(fig, out / "activation_functions.png")
    plt.close(fig)
    figures.append(out / "activation_functions.png")

    fig = plt.figure(figsize=(16, 4.4), dpi=plots.DPI, layout="constrained")
    axes = fig.subplots(1, 4)
    for ax, (name, model) in zip(axes, models.items()):
        r = results[name]
        plots.plot_decision_boundary(
            model, X, y, resolution=80 if small else 200, ax=ax,
            title=f"{name}: {100 * r['accuracy']:.1f}% correct",
        )  # fmt: skip
    fig.suptitle("Decision regions of the same network with four activation functions")
    plots.save_figure(fig, out / "activation_decision_regions.png")
    plt.close(fig)
    figures.append(out / "activation_decision_regions.png")

    fig = plt.figure(figsize=(7, 4.2), dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    for name, h in histories.items():
        ax.plot(np.arange(1, len(h["loss"]) + 1), h["loss"], lw=2, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy (training)")
    ax.set_title("Training loss with each activation")
    ax.grid(alpha=0.3)
    ax.legend()
    plots.save_figure(fig, out / "activation_loss_curves.png")
    plt.close(fig)
    figures.append(out / "activation_loss_curves.png")
    print(f"Figures written to {out}: " + ", ".join(f.name for f in figures))
    return {"results": results, "step_refused": refused, "figures": figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="figures/activations_compared", help="output folder")
    parser.add_argument("--small", action="store_true", help="a quick run")
    args = parser.parse_args()
    main(args.out, small=args.small)
