"""Labelled scenarios for the diagnosis: sick networks provoked on purpose, and healthy ones.

One module, read by ``benchmarks/diagnosis.py`` (all of them, several seeds)
and by ``tests/test_diagnosis_suite.py`` (the ``fast`` ones, one seed).

Each ``Scenario`` says what it provokes (``kind``: the verdict that must come
first, or ``None`` for a healthy network that must get no problem verdict),
how to build and train it, and the ``target`` the network must reach once
the first remedy is applied (or, for a healthy one, that it does reach).

``run(scenario, seed)`` trains it with a ``Diagnostics`` callback, reads the
verdicts, applies the first remedy of the first verdict (same seed) and
checks the target; it returns an ``Outcome``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

import chainrule as cr

Normal = cr.initializers.Normal
Constant = cr.initializers.Constant


# -- data ------------------------------------------------------------------------------------
@cache
def data(name: str):
    """``(X, y)`` float32 / labels for a data set name, always the same rows."""
    if name == "moons":
        return cr.datasets.moons(300, noise=0.1, seed=0)
    if name == "moons_noisy_small":
        return cr.datasets.moons(40, noise=0.3, seed=1)
    if name == "moons_val":
        return cr.datasets.moons(400, noise=0.3, seed=2)
    if name == "moons_val01":
        return cr.datasets.moons(300, noise=0.1, seed=5)
    if name == "xor":
        return cr.datasets.noisy_xor(300, noise=0.2, seed=0)
    if name == "circles":
        return cr.datasets.circles(300, noise=0.05, seed=0)
    if name == "spirals":
        return cr.datasets.spirals(300, noise=0.05, seed=0)
    if name == "blobs":
        return cr.datasets.blobs(300, seed=0)
    if name == "sin":
        X, y = cr.datasets.sin(300, noise=0.05, seed=0)
        return X, y
    if name == "digits":
        X, y = cr.datasets.digits()
        return X[:600].astype(np.float32), y[:600]
    if name == "digits_small":
        X, y = cr.datasets.digits()
        return X[:120].astype(np.float32), y[:120]
    if name == "digits_val":
        X, y = cr.datasets.digits()
        return X[1000:1500].astype(np.float32), y[1000:1500]
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True, scaled=False)
        X = (X - X.mean(0)) / X.std(0)
        y = (y - y.mean()) / y.std()
        return X.astype(np.float32), y.astype(np.float32)
    if name == "diabetes_sklearn_scaled":  # sklearn's own scaling: every feature RMS ~0.048
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()
        return X.astype(np.float32), y.astype(np.float32)
    if name in ("diabetes_small", "diabetes_val"):
        X, y = data("diabetes")
        rows = slice(0, 60) if name == "diabetes_small" else slice(200, 442)
        return X[rows], y[rows]
    if name.endswith("_x100"):
        X, y = data(name[: -len("_x100")])
        return X * 100, y
    if name == "circles_skewed":
        X, y = data("circles")
        return X * np.array([1.0, 1000.0], dtype=X.dtype), y
    if name == "digits_raw":  # pixels 0..255, as an image file holds them
        X, y = data("digits")
        return X * 255, y
    raise KeyError(name)


# -- networks -----------------------------------------------------------------------------------
def mlp(n_in, hidden, n_out, act="relu", init="auto", bias=None, bias_layer=None):
    """A Dense stack; ``bias`` (a constant) goes to every hidden layer or only ``bias_layer``."""
    layers = []
    sizes = [n_in, *hidden]
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        b_init = "zeros"
        if bias is not None and (bias_layer is None or bias_layer == k):
            b_init = Constant(bias)
        layers.append(cr.Dense(a, b, activation=act, weight_init=init, bias_init=b_init))
    layers.append(cr.Dense(sizes[-1], n_out, weight_init=init if init == "zeros" else "auto"))
    return layers


@dataclass
class Scenario:
    """One labelled case.

    ``build(seed)`` returns a network; ``fit`` holds ``net.fit`` settings
    (``validation`` names a data set for ``validation_data``); ``target`` is
    ``(metric, ">=" or "<=", value)`` with metric ``accuracy``, ``r2``,
    ``loss`` or ``val_loss``, measured on the training data (``val_`` on
    the validation data) after training.
    """

    name: str
    kind: str | None
    data: str
    build: Callable[[int], Any]
    fit: dict[str, Any]
    target: tuple[str, str, float]
    fast: bool = False
    validation: str | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _net(layers_fn):
    def build(seed):
        return cr.Sequential(*layers_fn(), seed=seed)

    return build


BCE, CE, MSE = "binary_cross_entropy", "cross_entropy", "mse"


def _fit(loss, optimizer="adam", lr=0.01, epochs=40, batch_size=32, **kw):
    return {"loss": loss, "optimizer": optimizer, "lr": lr, "epochs": epochs,
            "batch_size": batch_size, **kw}  # fmt: skip


ACC90 = ("accuracy", ">=", 0.9)
ACC80 = ("accuracy", ">=", 0.8)

SCENARIOS: list[Scenario] = [
    # -- exploding gradients: large initial weights on a deep ReLU stack ----------------------
    Scenario(
        "explode_moons_relu10_N1",
        "exploding_gradients",
        "moons",
        _net(lambda: mlp(2, [32] * 10, 1, init=Normal(0, 1))),
        _fit(BCE, "sgd", 0.05, 30),
        ACC90,
        fast=True,
    ),
    Scenario(
        "explode_circles_relu8_N1_adam",
        "exploding_gradients",
        "circles",
        _net(lambda: mlp(2, [32] * 8, 1, init=Normal(0, 1))),
        _fit(BCE, "adam", 1e-3, 30),
        ACC90,
    ),
    Scenario(
        "explode_digits_relu6_N1",
        "exploding_gradients",
        "digits",
        _net(lambda: mlp(64, [64] * 6, 10, init=Normal(0, 1))),
        _fit(CE, "sgd", 0.05, 20),
        ACC90,
    ),
    Scenario(
        "explode_diabetes_relu8_N1",
        "exploding_gradients",
        "diabetes",
        _net(lambda: mlp(10, [32] * 8, 1, init=Normal(0, 1))),
        _fit(MSE, "sgd", 1e-3, 30),
        ("r2", ">=", 0.4),
    ),
    # -- learning rate too high ---------------------------------------------------------------
    Scenario(
        "lrhigh_moons_relu3_adam1",
        "lr_too_high",
        "moons",
        _net(lambda: mlp(2, [32] * 3, 1)),
        _fit(BCE, "adam", 1.0, 30),
        ACC90,
        fast=True,
    ),
    Scenario(
        "lrhigh_circles_tanh4x8_sgd",
        "lr_too_high",
        "circles",
        _net(lambda: mlp(2, [8] * 4, 1, act="tanh")),
        _fit(BCE, "sgd", 20.0, 40),
        ACC90,
    ),
    Scenario(
        "lrhigh_spirals_relu_adam",
        "lr_too_high",
        "spirals",
        _net(lambda: mlp(2, [64, 64], 2)),
        _fit(CE, "adam", 0.5, 60),
        ACC80,
    ),
    Scenario(
        "lrhigh_diabetes_adam",
        "lr_too_high",
        "diabetes",
        _net(lambda: mlp(10, [64, 64], 1)),
        _fit(MSE, "adam", 0.5, 40),
        ("r2", ">=", 0.4),
    ),
    Scenario(
        "lrhigh_digits_adam",
        "lr_too_high",
        "digits",
        _net(lambda: mlp(64, [64], 10)),
        _fit(CE, "adam", 1.0, 20),
        ACC90,
    ),
    # -- inputs not standardised --------------------------------------------------------------
    Scenario(
        "inputs_moons_x100_tanh",
        "inputs_not_standardised",
        "moons_x100",
        _net(lambda: mlp(2, [16, 16], 1, act="tanh")),
        _fit(BCE, "adam", 0.01, 40),
        ("accuracy", ">=", 0.98),
        fast=True,
    ),
    Scenario(
        "inputs_circles_skewed_relu",
        "inputs_not_standardised",
        "circles_skewed",
        _net(lambda: mlp(2, [32, 32], 1)),
        _fit(BCE, "adam", 0.01, 40),
        ACC90,
    ),
    Scenario(
        "inputs_digits_raw_sigmoid",
        "inputs_not_standardised",
        "digits_raw",
        _net(lambda: mlp(64, [32], 10, act="sigmoid")),
        _fit(CE, "sgd", 0.05, 20),
        ACC90,
    ),
    Scenario(
        "inputs_diabetes_tiny_sgd",
        "inputs_not_standardised",
        "diabetes_sklearn_scaled",
        _net(lambda: mlp(10, [32, 32], 1, act="tanh")),
        _fit(MSE, "sgd", 0.01, 40),
        ("r2", ">=", 0.4),
    ),
    # -- dead ReLUs from the start --------------------------------------------------------------
    Scenario(
        "dead_moons_bias-5",
        "dead_relu",
        "moons",
        _net(lambda: mlp(2, [32], 1, bias=-5.0)),
        _fit(BCE, "adam", 0.01, 40),
        ACC90,
        fast=True,
    ),
    Scenario(
        "dead_spirals_layer2_bias-3",
        "dead_relu",
        "spirals",
        _net(lambda: mlp(2, [64, 64], 2, bias=-3.0, bias_layer=1)),
        _fit(CE, "adam", 0.01, 60),
        ACC80,
    ),
    Scenario(
        "dead_digits_bias-10",
        "dead_relu",
        "digits",
        _net(lambda: mlp(64, [64], 10, bias=-10.0)),
        _fit(CE, "adam", 1e-3, 20),
        ACC90,
    ),
    Scenario(
        "dead_diabetes_bias-4",
        "dead_relu",
        "diabetes",
        _net(lambda: mlp(10, [32, 32], 1, bias=-4.0)),
        _fit(MSE, "adam", 0.01, 40),
        ("r2", ">=", 0.4),
    ),
    # -- vanishing gradients: deep sigmoid stacks, N(0, 1) weights, SGD ------------------------
    Scenario(
        "vanish_moons_sigmoid10",
        "vanishing_gradients",
        "moons",
        _net(lambda: mlp(2, [16] * 10, 1, act="sigmoid", init=Normal(0, 1))),
        _fit(BCE, "sgd", 0.1, 30),
        ACC90,
        fast=True,
    ),
    Scenario(
        "vanish_circles_sigmoid12",
        "vanishing_gradients",
        "circles",
        _net(lambda: mlp(2, [16] * 12, 1, act="sigmoid", init=Normal(0, 1))),
        _fit(BCE, "sgd", 0.1, 30),
        ACC90,
    ),
    Scenario(
        "vanish_digits_sigmoid10",
        "vanishing_gradients",
        "digits",
        _net(lambda: mlp(64, [32] * 10, 10, act="sigmoid", init=Normal(0, 1))),
        _fit(CE, "sgd", 0.1, 20),
        ("accuracy", ">=", 0.85),
    ),
    Scenario(
        "vanish_blobs_sigmoid12",
        "vanishing_gradients",
        "blobs",
        _net(lambda: mlp(2, [16] * 12, 3, act="sigmoid", init=Normal(0, 1))),
        _fit(CE, "sgd", 0.1, 30),
        ACC90,
    ),
    # -- saturation: one hidden layer with huge weights ----------------------------------------
    Scenario(
        "saturate_circles_tanh_N20",
        "saturation",
        "circles",
        _net(lambda: mlp(2, [16], 1, act="tanh", init=Normal(0, 20))),
        _fit(BCE, "adam", 0.01, 40),
        ACC90,
        fast=True,
    ),
    Scenario(
        "saturate_digits_tanh_N5",
        "saturation",
        "digits",
        _net(lambda: mlp(64, [32], 10, act="tanh", init=Normal(0, 5))),
        _fit(CE, "sgd", 0.05, 20),
        ACC90,
    ),
    Scenario(
        "saturate_digits_sigmoid_N5",
        "saturation",
        "digits",
        _net(lambda: mlp(64, [32], 10, act="sigmoid", init=Normal(0, 5))),
        _fit(CE, "sgd", 0.05, 20),
        ACC90,
    ),
    # -- learning rate too low -----------------------------------------------------------------
    Scenario(
        "lrlow_moons_adam1e-5",
        "lr_too_low",
        "moons",
        _net(lambda: mlp(2, [32, 32], 1)),
        _fit(BCE, "adam", 1e-5, 30),
        ACC90,
        fast=True,
    ),
    Scenario(
        "lrlow_digits_sgd1e-4",
        "lr_too_low",
        "digits",
        _net(lambda: mlp(64, [64], 10)),
        _fit(CE, "sgd", 1e-4, 20),
        ACC90,
    ),
    Scenario(
        "lrlow_diabetes_adam1e-6",
        "lr_too_low",
        "diabetes",
        _net(lambda: mlp(10, [32, 32], 1)),
        _fit(MSE, "adam", 1e-6, 30),
        ("r2", ">=", 0.4),
    ),
    Scenario(
        "lrlow_circles_adam3e-6",
        "lr_too_low",
        "circles",
        _net(lambda: mlp(2, [16, 16], 1)),
        _fit(BCE, "adam", 3e-6, 30),
        ACC90,
    ),
    # -- underfitting: too small a network -----------------------------------------------------
    Scenario(
        "underfit_circles_linear",
        "underfitting",
        "circles",
        _net(lambda: [cr.Dense(2, 1)]),
        _fit(BCE, "adam", 0.05, 40),
        ACC90,
        fast=True,
    ),
    Scenario(
        "underfit_spirals_relu2",
        "underfitting",
        "spirals",
        _net(lambda: mlp(2, [2], 2)),
        _fit(CE, "adam", 0.01, 60),
        ACC80,
    ),
    Scenario(
        "underfit_digits_tanh1",
        "underfitting",
        "digits",
        _net(lambda: mlp(64, [1], 10, act="tanh")),
        _fit(CE, "adam", 0.01, 30),
        ACC90,
    ),
    Scenario(
        "underfit_xor_linear",
        "underfitting",
        "xor",
        _net(lambda: [cr.Dense(2, 1)]),
        _fit(BCE, "adam", 0.01, 40),
        ("accuracy", ">=", 0.85),
    ),
    # -- not learning: all-zero weights, every unit the same -------------------------------------
    Scenario(
        "stuck_moons_zeros_relu",
        "not_learning",
        "moons",
        _net(lambda: mlp(2, [16, 16], 1, init="zeros")),
        _fit(BCE, "sgd", 0.1, 30),
        ACC90,
        fast=True,
    ),
    Scenario(
        "stuck_circles_zeros_tanh",
        "not_learning",
        "circles",
        _net(lambda: mlp(2, [16, 16], 1, act="tanh", init="zeros")),
        _fit(BCE, "adam", 0.01, 30),
        ACC90,
    ),
    Scenario(
        "stuck_digits_zeros",
        "not_learning",
        "digits",
        _net(lambda: mlp(64, [32, 32], 10, init="zeros")),
        _fit(CE, "adam", 1e-3, 20),
        ACC90,
    ),
    # -- overfitting: a big network, few noisy rows, many epochs --------------------------------
    Scenario(
        "overfit_moons_small",
        "overfitting",
        "moons_noisy_small",
        _net(lambda: mlp(2, [128, 128], 1)),
        _fit(BCE, "adam", 0.01, 150, 8),
        ("val_loss", "<=", 0.45),
        validation="moons_val",
        fast=True,
    ),
    Scenario(
        "overfit_diabetes_small",
        "overfitting",
        "diabetes_small",
        _net(lambda: mlp(10, [128, 128], 1)),
        _fit(MSE, "adam", 0.01, 150, 8),
        ("val_loss", "<=", 0.8),
        validation="diabetes_val",
    ),
    Scenario(
        "overfit_digits_small",
        "overfitting",
        "digits_small",
        _net(lambda: mlp(64, [256], 10)),
        _fit(CE, "adam", 0.01, 100, 8),
        ("val_loss", "<=", 0.6),
        validation="digits_val",
    ),
    # -- healthy networks: they learn, some saturate or have dead units, and that is fine -------
    Scenario(
        "healthy_moons_relu_he",
        None,
        "moons",
        _net(lambda: mlp(2, [32, 32], 1)),
        _fit(BCE, "adam", 0.01, 30),
        ACC90,
        fast=True,
    ),
    Scenario(
        "healthy_moons_tanh",
        None,
        "moons",
        _net(lambda: mlp(2, [16], 1, act="tanh")),
        _fit(BCE, "adam", 0.01, 40),
        ACC90,
    ),
    Scenario(
        "healthy_moons_sigmoid_2",
        None,
        "moons",
        _net(lambda: mlp(2, [16, 16], 1, act="sigmoid")),
        _fit(BCE, "adam", 0.01, 60),
        ("accuracy", ">=", 0.85),
    ),
    Scenario(
        "healthy_spirals_tanh_saturating",
        None,
        "spirals",
        _net(lambda: mlp(2, [64, 64], 2, act="tanh")),
        _fit(CE, "adam", 0.05, 200),
        ("accuracy", ">=", 0.97),
        fast=True,
    ),
    Scenario(
        "healthy_circles_tanh_saturating",
        None,
        "circles",
        _net(lambda: mlp(2, [32, 32], 1, act="tanh")),
        _fit(BCE, "adam", 0.05, 100),
        ACC90,
    ),
    Scenario(
        "healthy_spirals_relu3",
        None,
        "spirals",
        _net(lambda: mlp(2, [64, 64, 64], 2)),
        _fit(CE, "adam", 0.01, 100),
        ACC90,
    ),
    Scenario(
        "healthy_circles_relu",
        None,
        "circles",
        _net(lambda: mlp(2, [16, 16], 1)),
        _fit(BCE, "adam", 0.01, 40),
        ACC90,
    ),
    Scenario(
        "healthy_circles_sigmoid_big_lr",
        None,
        "circles",
        _net(lambda: mlp(2, [16], 1, act="sigmoid")),
        _fit(BCE, "adam", 0.1, 60),
        ACC90,
    ),
    Scenario(
        "healthy_deep_relu_he_moons",
        None,
        "moons",
        _net(lambda: mlp(2, [32] * 8, 1)),
        _fit(BCE, "sgd", 0.05, 30),
        ACC90,
        fast=True,
    ),
    Scenario(
        "healthy_deep_relu_he_circles",
        None,
        "circles",
        _net(lambda: mlp(2, [32] * 10, 1)),
        _fit(BCE, "adam", 1e-3, 40),
        ACC90,
    ),
    Scenario(
        "healthy_digits_relu",
        None,
        "digits",
        _net(lambda: mlp(64, [64], 10)),
        _fit(CE, "adam", 1e-3, 20),
        ACC90,
        fast=True,
    ),
    Scenario(
        "healthy_digits_tanh",
        None,
        "digits",
        _net(lambda: mlp(64, [64], 10, act="tanh")),
        _fit(CE, "sgd", 0.1, 20),
        ACC90,
    ),
    Scenario(
        "healthy_digits_sigmoid",
        None,
        "digits",
        _net(lambda: mlp(64, [64], 10, act="sigmoid")),
        _fit(CE, "adam", 0.01, 20),
        ACC90,
    ),
    Scenario(
        "healthy_diabetes_relu",
        None,
        "diabetes",
        _net(lambda: mlp(10, [64, 64], 1)),
        _fit(MSE, "adam", 1e-3, 60),
        ("r2", ">=", 0.5),
        fast=True,
    ),
    Scenario(
        "healthy_diabetes_tanh",
        None,
        "diabetes",
        _net(lambda: mlp(10, [32], 1, act="tanh")),
        _fit(MSE, "adam", 0.01, 60),
        ("r2", ">=", 0.5),
    ),
    Scenario(
        "healthy_sin_tanh",
        None,
        "sin",
        _net(lambda: mlp(1, [32, 32], 1, act="tanh")),
        _fit(MSE, "adam", 0.01, 100),
        ("r2", ">=", 0.95),
    ),
    Scenario(
        "healthy_blobs_leaky",
        None,
        "blobs",
        _net(lambda: mlp(2, [16], 3, act="leaky_relu")),
        _fit(CE, "adam", 0.01, 30),
        ACC90,
    ),
    Scenario(
        "healthy_moons_elu_sgd",
        None,
        "moons",
        _net(lambda: mlp(2, [32, 32], 1, act="elu")),
        _fit(BCE, "sgd", 0.1, 40),
        ACC90,
    ),
    Scenario(
        "healthy_moons_val",
        None,
        "moons",
        _net(lambda: mlp(2, [16, 16], 1)),
        _fit(BCE, "adam", 0.01, 40),
        ACC80,
        validation="moons_val01",
    ),
]

KINDS = sorted({s.kind for s in SCENARIOS if s.kind})


# -- running one ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What happened to one scenario at one seed."""

    scenario: str
    kind: str | None
    seed: int
    verdicts: list[str]  # kinds of the problem verdicts, in order
    first: str | None
    score_before: float
    remedy: str | None = None
    score_after: float | None = None
    remedy_ok: bool | None = None
    target_met_before: bool = False
    seconds: float = 0.0
    texts: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.first == self.kind


def score(net, X, y, metric: str, Xv=None, yv=None) -> float:
    """The target's metric for a trained network."""
    if metric.startswith("val_"):
        X, y, metric = Xv, yv, metric[4:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            if metric in ("accuracy", "r2"):
                value = net.evaluate(X, y, metrics=[metric])[metric]
            else:
                value = net.evaluate(X, y)["loss"]
    value = float(value)
    return value if np.isfinite(value) else (-np.inf if metric in ("accuracy", "r2") else np.inf)


def meets(target, value: float) -> bool:
    _, op, bound = target
    return value >= bound if op == ">=" else value <= bound


def run(sc: Scenario, seed: int = 0, remedy: bool = True) -> Outcome:
    """Train, diagnose, and (for a sick scenario) apply the first remedy and retrain."""
    t0 = time.perf_counter()
    X, y = data(sc.data)
    kw = dict(sc.fit)
    Xv = yv = None
    if sc.validation:
        Xv, yv = data(sc.validation)
        kw["validation_data"] = (Xv, yv)
    net = sc.build(seed)
    diag = cr.Diagnostics()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            net.fit(X, y, callbacks=[diag], seed=seed, **kw)
    problems = diag.verdicts()
    metric = sc.target[0]
    before = score(net, X, y, metric, Xv, yv)
    out = Outcome(sc.name, sc.kind, seed, [v.kind for v in problems],
                  problems[0].kind if problems else None, before,
                  target_met_before=meets(sc.target, before),
                  texts=[v.text for v in problems])  # fmt: skip
    if remedy and problems and problems[0].remedies:
        rem = problems[0].remedies[0]
        out.remedy = rem.name
        treat = rem.apply(sc.build(seed), kw, X=X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                treat.fit(X, y, seed=seed)
        Xs = treat.transform(X) if treat.transform else X
        Xvs = treat.transform(Xv) if (treat.transform and Xv is not None) else Xv
        out.score_after = score(treat.net, Xs, y, metric, Xvs, yv)
        out.remedy_ok = meets(sc.target, out.score_after)
    out.seconds = time.perf_counter() - t0
    return out
