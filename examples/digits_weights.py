"""Handwritten digits, classified, with a look at what the first layer learned.

scikit-learn's bundled digits are 8x8 grey images (1797 of them, no
download). A 64-32-10 network with relu hidden units learns them in
seconds. Each hidden unit ``j`` computes ``relu(sum_p x_p W[p, j] + b_j)``
over the 64 pixels ``p``, so column ``W[:, j]`` is itself an 8x8 image: the
pattern of ink that excites the unit (blue) or silences it (red). Drawing
those 32 images shows what the network looks at; averaging each unit's
activation per digit shows which digits it responds to.

Needs scikit-learn for the data. Run ``python examples/digits_weights.py --out figures/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import plots


def main(out_dir, small: bool = False) -> dict:
    """Train on digits, print the results, and draw the weights.

    Parameters
    ----------
    out_dir : str or path
        Folder for the figures.
    small : bool
        Fewer epochs for a quick run.

    Returns
    -------
    dict
        Test accuracy, the most confused pair of digits, each unit's favourite
        digit, and the figure paths.
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = cr.datasets.digits()
    order = np.random.default_rng(0).permutation(len(X))
    n_test = len(X) // 4
    test, train = order[:n_test], order[n_test:]
    net = cr.Sequential(cr.Dense(64, 32, activation="relu"), cr.Dense(32, 10), seed=0)
    epochs = 8 if small else 40
    history = net.fit(
        X[train], y[train], loss="cross_entropy", optimizer="adam", lr=3e-3, epochs=epochs,
        batch_size=32, metrics=["accuracy"], validation_data=(X[test], y[test]),
    )  # fmt: skip
    pred = net.predict(X[test])
    acc = float(np.mean(pred == y[test]))
    print(f"A 64-32-10 relu network, {epochs} epochs of Adam on {len(train)} digits:")
    print(f"   test accuracy {100 * acc:.1f}% on {n_test} unseen digits")

    M = np.zeros((10, 10), dtype=int)
    np.add.at(M, (y[test], pred), 1)
    off = M.copy()
    np.fill_diagonal(off, 0)
    t, p = np.unravel_index(int(off.argmax()), off.shape)
    print(f"   most frequent mistake: a {t} read as a {p} ({off[t, p]} times)")

    # which digit excites each hidden unit most, on average over the test set
    hidden = np.maximum(X[test] @ net[0].weight.value + net[0].bias.value, 0)
    per_digit = np.stack([hidden[y[test] == d].mean(axis=0) for d in range(10)])  # (10, 32)
    silent = np.flatnonzero(per_digit.max(axis=0) == 0)
    favourite = np.where(per_digit.max(axis=0) > 0, per_digit.argmax(axis=0), -1)  # -1: silent
    print(
        "   first-layer units and the digit each responds to most: "
        + ", ".join(f"unit {j}: {favourite[j]}" for j in range(8) if favourite[j] >= 0)
        + ", ..."
    )
    if silent.size:
        print(f"   units that never fire on the test set (dead): {silent.tolist()}")
    counts = np.bincount(favourite[favourite >= 0], minlength=10)
    print(
        "   units per favourite digit: "
        + " ".join(f"{d}:{c}" for d, c in enumerate(counts))
        + " (each weight image below is titled with its unit's favourite)"
    )

    figures = [
        out / "digits_first_layer_weights.png",
        out / "digits_confusion_matrix.png",
        out / "digits_history.png",
        out / "digits_examples.png",
    ]
    n_units = 16 if small else 32
    titles = [f"unit {j} → {favourite[j]}" if favourite[j] >= 0 else f"unit {j} (dead)"
              for j in range(n_units)]  # fmt: skip
    plt.close(
        plots.plot_weight_images(net, (8, 8), max_units=n_units, titles=titles, save=figures[0])
    )
    plt.close(plots.plot_confusion_matrix(y[test], pred, labels=range(10), save=figures[1]))
    plt.close(plots.plot_history(history, save=figures[2]))

    fig = plt.figure(figsize=(10, 2.9), dpi=plots.DPI, layout="constrained")
    axes = fig.subplots(2, 10)
    wrong = np.flatnonzero(pred != y[test])[:10]
    right = np.flatnonzero(pred == y[test])[:10]
    for row, idx, label in ((0, right, "correct"), (1, wrong, "wrong")):
        for k in range(10):
            ax = axes[row][k]
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= len(idx):
                ax.set_visible(False)
                continue
            i = idx[k]
            ax.imshow(X[test][i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"{y[test][i]} → {pred[i]}", fontsize=9,
                         color="black" if label == "correct" else "#d62728")  # fmt: skip
        axes[row][0].set_ylabel(label)
    fig.suptitle("Test digits: true → predicted (top: right, bottom: wrong)")
    plt.close(plots.save_figure(fig, figures[3]))
    print(f"Figures written to {out}: " + ", ".join(f.name for f in figures))
    return {
        "accuracy": acc,
        "confused": (int(t), int(p)),
        "favourite": favourite,
        "figures": figures,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="figures/digits_weights", help="output folder")
    parser.add_argument("--small", action="store_true", help="a quick run")
    args = parser.parse_args()
    main(args.out, small=args.small)
