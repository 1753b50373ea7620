"""A deep sigmoid network that cannot learn: diagnosed, then fixed two ways.

Backpropagation multiplies the gradient by ``f'(z) W^T`` once per layer on its
way back to the first layer. A sigmoid's derivative is at most 0.25, and
with weights drawn from N(0, 1) many units sit on the flat tails where it is
nearly 0, so after twenty layers almost nothing is left: the first layers
receive gradients thousands of times smaller than the last and the network
stays at chance level.

``diagnose`` and the ``Diagnostics`` callback measure this and say so. Two
standard fixes, same depth, same data, same optimizer:

* relu units with He initialisation (derivative 1 on the active side, and a
  weight scale that keeps the signal's size from layer to layer);
* keep sigmoid, but put BatchNorm before each activation, which re-centres
  every ``z`` near 0 where the sigmoid is steepest.

Run ``python examples/vanishing_gradients.py --out figures/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import plots
from chainrule.diagnostics import Diagnostics, diagnose

DEPTH, WIDTH = 20, 16


def deep_sigmoid(seed: int = 0) -> cr.Sequential:
    """20 sigmoid layers of 16 units, weights from N(0, 1): the problem."""
    init = cr.initializers.Normal(0, 1)
    layers = [cr.Dense(2, WIDTH, activation="sigmoid", weight_init=init)]
    layers += [
        cr.Dense(WIDTH, WIDTH, activation="sigmoid", weight_init=init) for _ in range(DEPTH - 1)
    ]
    return cr.Sequential(*layers, cr.Dense(WIDTH, 1), seed=seed)


def deep_relu_he(seed: int = 0) -> cr.Sequential:
    """Fix 1: the same shape with relu units and He initialisation."""
    layers = [cr.Dense(2, WIDTH, activation="relu", weight_init="he_uniform")]
    layers += [
        cr.Dense(WIDTH, WIDTH, activation="relu", weight_init="he_uniform")
        for _ in range(DEPTH - 1)
    ]
    return cr.Sequential(*layers, cr.Dense(WIDTH, 1), seed=seed)


def deep_sigmoid_batchnorm(seed: int = 0) -> cr.Sequential:
    """Fix 2: sigmoid and N(0, 1) weights kept, BatchNorm before every sigmoid."""
    init = cr.initializers.Normal(0, 1)
    layers: list = []
    for k in range(DEPTH):
        layers += [
            cr.Dense(2 if k == 0 else WIDTH, WIDTH, weight_init=init),
            cr.BatchNorm(WIDTH),
            cr.Sigmoid(),
        ]
    return cr.Sequential(*layers, cr.Dense(WIDTH, 1), seed=seed)


def main(out_dir, small: bool = False) -> dict:
    """Diagnose, train and fix; print the story and write the figures.

    Parameters
    ----------
    out_dir : str or path
        Folder for the figures.
    small : bool
        Fewer points and epochs for a quick run.

    Returns
    -------
    dict
        Per network: final loss, accuracy, verdicts; and the figure paths.
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = cr.datasets.moons(200 if small else 400, noise=0.1, seed=0)
    epochs = 20 if small else 40
    nets = {
        "sigmoid, N(0, 1) init": deep_sigmoid(),
        "fix 1: relu + He init": deep_relu_he(),
        "fix 2: sigmoid + BatchNorm": deep_sigmoid_batchnorm(),
    }

    problem = nets["sigmoid, N(0, 1) init"]
    report = diagnose(problem, X, y, loss="binary_cross_entropy")
    print(
        f"A {DEPTH}-layer sigmoid network (width {WIDTH}, weights from N(0, 1)), before training:"
    )
    print(report)

    results: dict[str, dict] = {}
    diags: dict[str, Diagnostics] = {}
    norms_at_start = {}
    for name, net in nets.items():
        r = diagnose(net, X, y, loss="binary_cross_entropy")
        norms_at_start[name] = [(d["index"], d["grad_norm"]) for d in r.layers if d["grad_norm"]]
        diag = Diagnostics()
        h = net.fit(
            X, y, loss="binary_cross_entropy", optimizer="sgd", lr=0.1, epochs=epochs,
            batch_size=32, metrics=["accuracy"], callbacks=[diag],
        )  # fmt: skip
        diags[name] = diag
        results[name] = {
            "loss": h["loss"],
            "accuracy": h["accuracy"][-1],
            "grad_ratio": r.grad_ratio,
            "verdicts": diag.verdicts(),
        }

    print(f"\nTraining each network with SGD (lr 0.1) for {epochs} epochs on {len(X)} points:")
    for name, r in results.items():
        print(
            f"- {name}: loss {r['loss'][0]:.3f} -> {r['loss'][-1]:.3f}, accuracy "
            f"{100 * r['accuracy']:.1f}%, |dL/dW| first/last layer at the start "
            f"{r['grad_ratio']:.1e}"
        )
        if r["verdicts"]:
            for v in r["verdicts"]:
                print(f"    verdict: {v}")
        else:
            print("    verdict: no problems found")
    stuck = results["sigmoid, N(0, 1) init"]
    print(
        "\nThe sigmoid network "
        + ("did not learn" if stuck["loss"][-1] > 0.6 else "learned only a little")
        + f" (chance level is loss log 2 = {np.log(2):.3f}); both fixes reach "
        + " and ".join(f"{100 * results[k]['accuracy']:.0f}%" for k in list(results)[1:])
        + " with the same depth, data and optimizer."
    )

    figures = []
    fig = plt.figure(figsize=(8, 4.6), dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    for name, pairs in norms_at_start.items():
        dense_no = np.arange(1, len(pairs) + 1)
        ax.semilogy(dense_no, [g for _, g in pairs], marker="o", ms=4, lw=1.8, label=name)
    ax.set_xlabel("Dense layer (1 = first, next to the input)")
    ax.set_ylabel("|dL/dW| at initialisation (log scale)")
    ax.set_title(f"Gradient norm per layer in a {DEPTH}-layer network, before training")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    figures.append(out / "gradient_norm_per_layer.png")
    plt.close(plots.save_figure(fig, figures[-1]))

    fig = plt.figure(figsize=(8, 4.6), dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    for name, r in results.items():
        ax.plot(np.arange(1, len(r["loss"]) + 1), r["loss"], lw=2, label=name)
    ax.axhline(np.log(2), color="0.5", ls=":", label="chance (log 2)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (binary cross-entropy)")
    ax.set_title("The deep sigmoid network does not learn; both fixes do")
    ax.grid(alpha=0.3)
    ax.legend()
    figures.append(out / "vanishing_loss_curves.png")
    plt.close(plots.save_figure(fig, figures[-1]))

    figures.append(out / "vanishing_diagnostics.png")
    plt.close(plots.plot_diagnostics(diags["sigmoid, N(0, 1) init"], save=figures[-1]))
    print(f"Figures written to {out}: " + ", ".join(f.name for f in figures))
    return {"results": results, "report": report, "figures": figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="figures/vanishing_gradients", help="output folder")
    parser.add_argument("--small", action="store_true", help="a quick run")
    args = parser.parse_args()
    main(args.out, small=args.small)
