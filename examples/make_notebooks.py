"""Write the example notebooks (``examples/*.ipynb``) from the cells below.

The notebooks are stored without outputs; the test suite executes them
(``tests/test_notebook.py``). Edit the cells here and run
``python examples/make_notebooks.py`` to rewrite them (needs nbformat).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

PERCEPTRON_TO_MLP = [
    (
        "md",
        """# From a perceptron to a multilayer network

The story of the first neural networks in three acts:

1. one perceptron, `step(w · x + b)`, trained by the perceptron rule, learns **AND**;
2. the same perceptron fails on **XOR**, and says so;
3. a 2-4-1 network trained by backpropagation solves XOR.

Every figure below is drawn inline by `chainrule.plots`.""",
    ),
    (
        "code",
        """%matplotlib inline
import warnings

import numpy as np

import chainrule as cr
from chainrule import plots""",
    ),
    (
        "md",
        """## 1. A perceptron learns AND

AND is *linearly separable*: one straight line puts (1, 1) on one side and the
three other points on the other, so the perceptron rule converges.""",
    ),
    (
        "code",
        """X, y_and = cr.datasets.logical_and()
p_and = cr.Perceptron(2).fit(X, y_and)
print(f"converged: {p_and.converged_} after {p_and.n_epochs_} epochs")
print(f"w = {p_and.w.tolist()}, b = {p_and.b:g}")
print("predictions", p_and.predict(X).tolist(), "targets", y_and.tolist())""",
    ),
    ("code", "plots.plot_perceptron(p_and, X, y_and);"),
    (
        "md",
        """## 2. The same perceptron fails on XOR

No straight line separates (0, 1) and (1, 0) from (0, 0) and (1, 1). The rule
never settles, and `fit` ends with a `ConvergenceWarning` that explains why.""",
    ),
    (
        "code",
        """_, y_xor = cr.datasets.xor()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    p_xor = cr.Perceptron(2, max_epochs=20).fit(X, y_xor)
(warning,) = [w for w in caught if issubclass(w.category, cr.ConvergenceWarning)]
print("ConvergenceWarning:", warning.message)
print("mistakes in the last 5 epochs:", p_xor.errors_[-5:])
assert not p_xor.converged_""",
    ),
    ("code", "plots.plot_perceptron(p_xor, X, y_xor);"),
    (
        "md",
        """## 3. A multilayer network solves XOR

A hidden layer of four tanh units draws several lines; the output unit
combines them. In Jupyter the network shows itself as a table, `verbose=1`
draws a progress widget while it trains (one text line per epoch when
ipywidgets is not installed), and the `History` that `fit` returns is a
table of the loss and accuracy per epoch.""",
    ),
    (
        "code",
        """net = cr.Sequential(cr.Dense(2, 4, activation="tanh"), cr.Dense(4, 1), seed=0)
net""",
    ),
    (
        "code",
        """history = net.fit(
    X,
    y_xor,
    loss="binary_cross_entropy",
    optimizer="adam",
    lr=0.05,
    epochs=400,
    batch_size=4,
    metrics=["accuracy"],
    verbose=1,
)
print("predictions", net.predict(X).tolist(), "targets", y_xor.tolist())
assert np.array_equal(net.predict(X), y_xor)
history""",
    ),
    (
        "md",
        "The boundary is no longer a straight line: the network bends it around the two classes.",
    ),
    (
        "code",
        'plots.plot_decision_boundary(net, X, y_xor, resolution=100, title="2-4-1 tanh on XOR");',
    ),
    ("code", "plots.plot_history(history);"),
]

WHY_NETWORKS_FAIL = [
    (
        "md",
        """# Why networks fail to learn, and how to tell

Two classic failures, each provoked, diagnosed with `chainrule.diagnostics`
and fixed:

* **vanishing gradients** in a deep sigmoid network;
* **dying ReLU** after a learning rate that is far too high.""",
    ),
    (
        "code",
        """%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import plots
from chainrule.diagnostics import Diagnostics, diagnose

X, y = cr.datasets.moons(200, noise=0.1, seed=0)""",
    ),
    (
        "md",
        """## 1. Vanishing gradients

Backpropagation multiplies the gradient by `f'(z) Wᵀ` once per layer. A
sigmoid's derivative is at most 0.25, and with weights drawn from N(0, 1)
many units sit on its flat tails, so after a dozen layers almost nothing
reaches the first layers.""",
    ),
    (
        "code",
        """DEPTH, WIDTH = 12, 16


def deep(activation, weight_init, seed=0):
    layers = [cr.Dense(2, WIDTH, activation=activation, weight_init=weight_init)]
    layers += [
        cr.Dense(WIDTH, WIDTH, activation=activation, weight_init=weight_init)
        for _ in range(DEPTH - 1)
    ]
    return cr.Sequential(*layers, cr.Dense(WIDTH, 1), seed=seed)


sigmoid_net = deep("sigmoid", cr.initializers.Normal(0, 1))
report = diagnose(sigmoid_net, X, y, loss="binary_cross_entropy")
report""",
    ),
    (
        "md",
        """The diagnosis, before any training, shows the gradient norm shrinking
layer by layer towards the input. The fix: relu units with He initialisation
(derivative 1 on the active side, a weight scale that keeps the signal's size).""",
    ),
    (
        "code",
        """relu_net = deep("relu", "he_uniform")
fixed = diagnose(relu_net, X, y, loss="binary_cross_entropy")
print(
    f"|dL/dW| first / last layer: sigmoid {report.grad_ratio:.1e}, relu + He {fixed.grad_ratio:.1e}"
)

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for name, r in (("sigmoid, N(0, 1)", report), ("relu, He", fixed)):
    norms = [d["grad_norm"] for d in r.layers if d["grad_norm"]]
    ax.semilogy(np.arange(1, len(norms) + 1), norms, marker="o", label=name)
ax.set_xlabel("Dense layer (1 = next to the input)")
ax.set_ylabel("|dL/dW| (log scale)")
ax.set_title("Gradient norm per layer at initialisation")
ax.legend();""",
    ),
    (
        "code",
        """results = {}
for name, net in (("sigmoid, N(0, 1)", sigmoid_net), ("relu, He", relu_net)):
    h = net.fit(
        X,
        y,
        loss="binary_cross_entropy",
        optimizer="sgd",
        lr=0.1,
        epochs=20,
        batch_size=32,
        metrics=["accuracy"],
    )
    results[name] = h
    print(
        f"{name}: loss {h['loss'][0]:.3f} -> {h['loss'][-1]:.3f}, "
        f"accuracy {100 * h['accuracy'][-1]:.0f}%"
    )
assert results["relu, He"]["accuracy"][-1] > results["sigmoid, N(0, 1)"]["accuracy"][-1]
results["relu, He"]""",
    ),
    (
        "md",
        """## 2. Dying ReLU

A ReLU unit whose `z = w · x + b` is negative on every sample outputs 0 and
passes no gradient: it is dead for good. One huge Adam step (learning rate
1.0) kills many of them. The `Diagnostics` callback counts them during
training and names the cause.""",
    ),
    (
        "code",
        """def relu_net3(act, seed=0):
    return cr.Sequential(
        cr.Dense(2, 32, activation=act),
        cr.Dense(32, 32, activation=act),
        cr.Dense(32, 32, activation=act),
        cr.Dense(32, 1),
        seed=seed,
    )


diag = Diagnostics()
broken = relu_net3("relu")
h = broken.fit(
    X,
    y,
    loss="binary_cross_entropy",
    optimizer="adam",
    lr=1.0,
    epochs=15,
    metrics=["accuracy"],
    callbacks=[diag],
)
print(f"accuracy {100 * h['accuracy'][-1]:.0f}%")
for v in diag.verdicts():
    print("verdict:", v)
assert any(v.kind in ("lr_too_high", "dead_relu") for v in diag.verdicts())""",
    ),
    ("code", "plots.plot_diagnostics(diag);"),
    (
        "md",
        """The fix: leaky_relu keeps a small slope for `z < 0`, so a unit on the
negative side still gets a gradient and can come back; or simply a sensible
learning rate.""",
    ),
    (
        "code",
        """leaky = relu_net3(cr.LeakyReLU(0.1))
h_leaky = leaky.fit(
    X, y, loss="binary_cross_entropy", optimizer="adam", lr=1.0, epochs=15, metrics=["accuracy"]
)
calm = relu_net3("relu")
h_calm = calm.fit(
    X, y, loss="binary_cross_entropy", optimizer="adam", lr=0.01, epochs=15, metrics=["accuracy"]
)
print(
    f"leaky_relu, lr 1.0: {100 * h_leaky['accuracy'][-1]:.0f}%; "
    f"relu, lr 0.01: {100 * h_calm['accuracy'][-1]:.0f}%"
)
assert min(h_leaky["accuracy"][-1], h_calm["accuracy"][-1]) > h["accuracy"][-1]

fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
for ax, (name, net) in zip(
    axes, (("relu, lr 1.0", broken), ("leaky_relu, lr 1.0", leaky), ("relu, lr 0.01", calm))
):
    plots.plot_decision_boundary(net, X, y, resolution=60, ax=ax, title=name)""",
    ),
]


def notebook(cells):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells
        ],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(nb)
    return nb


def main() -> None:
    import nbformat

    for name, cells in (
        ("perceptron_to_mlp.ipynb", PERCEPTRON_TO_MLP),
        ("why_networks_fail.ipynb", WHY_NETWORKS_FAIL),
    ):
        path = HERE / name
        nbformat.write(notebook(cells), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
