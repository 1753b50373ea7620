"""Dying ReLU: provoked with a learning rate that is too high, diagnosed, fixed.

A ReLU unit whose pre-activation ``z = w . x + b`` is negative for every
sample outputs 0 everywhere, and its derivative is 0 everywhere too, so no
gradient ever reaches its weights again: it is dead for good. One large
optimizer step that pushes a bias far below zero is enough.

Here Adam with learning rate 1.0 kills most units of a 2-32-32-32-1 ReLU
network on two moons; the ``Diagnostics`` callback counts them and names the
cause. Two fixes:

* leaky_relu (slope 0.1 for z < 0) with the same learning rate: a unit on
  the negative side still passes a gradient, so it can come back;
* relu with a sensible learning rate (0.01).

Run ``python examples/dying_relu.py --out figures/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import plots
from chainrule.diagnostics import Diagnostics, diagnose


def network(act, seed: int = 0) -> cr.Sequential:
    return cr.Sequential(
        cr.Dense(2, 32, activation=act),
        cr.Dense(32, 32, activation=act),
        cr.Dense(32, 32, activation=act),
        cr.Dense(32, 1),
        seed=seed,
    )


def main(out_dir, small: bool = False) -> dict:
    """Provoke, diagnose and fix dying ReLUs; print the story and write the figures.

    Parameters
    ----------
    out_dir : str or path
        Folder for the figures.
    small : bool
        Fewer epochs for a quick run.

    Returns
    -------
    dict
        Per run: accuracy, dead fractions per layer and verdicts; the figure paths.
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = cr.datasets.moons(200, noise=0.1, seed=0)
    epochs = 20 if small else 40
    runs = {
        "relu, lr 1.0": (network("relu"), 1.0),
        "leaky_relu(0.1), lr 1.0": (network(cr.LeakyReLU(0.1)), 1.0),
        "relu, lr 0.01": (network("relu"), 0.01),
    }
    results: dict[str, dict] = {}
    diags: dict[str, Diagnostics] = {}
    for name, (net, lr) in runs.items():
        diag = Diagnostics()
        h = net.fit(
            X, y, loss="binary_cross_entropy", optimizer="adam", lr=lr, epochs=epochs,
            metrics=["accuracy"], callbacks=[diag],
        )  # fmt: skip
        diags[name] = diag
        last = diag.last()
        results[name] = {
            "accuracy": h["accuracy"][-1],
            "dead": {i: d["dead_fraction"] for i, d in last.items() if "dead_fraction" in d},
            "verdicts": diag.verdicts(),
            "loss": h["loss"],
        }

    print(f"2-32-32-32-1 networks on {len(X)} two-moons points, Adam, {epochs} epochs:")
    for name, r in results.items():
        dead = ", ".join(f"layer {i}: {100 * f:.0f}%" for i, f in r["dead"].items())
        kind = "inactive (z <= 0 on every sample)" if "leaky" in name else "dead"
        print(
            f"- {name}: accuracy {100 * r['accuracy']:.1f}%; units {kind} in the last epoch: {dead}"
        )
        for v in r["verdicts"]:
            print(f"    verdict: {v}")
        if not r["verdicts"]:
            print("    verdict: no problems found")

    # an independent look at the broken network: one forward pass on all the data
    broken = runs["relu, lr 1.0"][0]
    report = diagnose(broken, X, y)
    print("\nThe broken network, diagnosed on all the data after training:")
    print(report)
    out_std = float(np.std(broken.predict_proba(X)))
    print(
        f"Its predicted probabilities vary by {out_std:.2g} (standard deviation) over the "
        "data set: with whole layers dead, the output hardly depends on the input."
    )
    leaky = results["leaky_relu(0.1), lr 1.0"]
    print(
        f"\nFixes: leaky_relu at the same rate reaches {100 * leaky['accuracy']:.0f}% (its "
        "'inactive' units still get a gradient through the slope 0.1 and are not flagged); "
        f"relu with lr 0.01 reaches {100 * results['relu, lr 0.01']['accuracy']:.0f}%."
    )

    figures = []
    figures.append(out / "dying_relu_diagnostics.png")
    plt.close(plots.plot_diagnostics(diags["relu, lr 1.0"], save=figures[-1]))
    figures.append(out / "dying_relu_activations.png")
    plt.close(plots.plot_activation_histograms(broken, X, save=figures[-1]))

    fig = plt.figure(figsize=(15, 4.6), dpi=plots.DPI, layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (name, (net, _)) in zip(axes, runs.items()):
        r = results[name]
        worst = max(r["dead"].values())
        plots.plot_decision_boundary(
            net, X, y, resolution=80 if small else 200, ax=ax,
            title=f"{name}: {100 * r['accuracy']:.0f}% correct\n(up to {100 * worst:.0f}% "
            "of a layer's units dead or inactive)",
        )  # fmt: skip
    fig.suptitle("Dying ReLU and two fixes")
    figures.append(out / "dying_relu_decision_regions.png")
    plt.close(plots.save_figure(fig, figures[-1]))

    fig = plt.figure(figsize=(8, 4.4), dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
    for name, diag in diags.items():
        for i, fr in diag.history["dead_fraction"].items():
            if i == 1:
                ax.plot(np.arange(1, len(fr) + 1), fr, lw=2, marker="o", ms=3, label=name)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("epoch")
    ax.set_ylabel("fraction of layer 1's units with z <= 0 on every sample")
    ax.set_title("Dead (relu) or inactive (leaky_relu) units in layer 1")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(loc="center right")
    figures.append(out / "dead_units_over_epochs.png")
    plt.close(plots.save_figure(fig, figures[-1]))
    print(f"Figures written to {out}: " + ", ".join(f.name for f in figures))
    return {"results": results, "report": report, "figures": figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="figures/dying_relu", help="output folder")
    parser.add_argument("--small", action="store_true", help="a quick run")
    args = parser.parse_args()
    main(args.out, small=args.small)
