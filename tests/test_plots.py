"""Plots: each writes a real PNG (or SVG) of the promised size, and draws the model's data."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import plots  # noqa: E402
from chainrule.diagnostics import Diagnostics  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the 8-byte signature."""
    data = open(path, "rb").read(32)
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    assert data[12:16] == b"IHDR", "the first chunk of a PNG must be IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def check_file(fig, path) -> None:
    """The file exists, is a valid PNG of figsize * dpi pixels, or a valid SVG."""
    assert path.exists() and path.stat().st_size > 0
    if path.suffix == ".png":
        w, h = fig.get_size_inches() * fig.dpi
        assert png_size(path) == (round(w), round(h))
    else:
        text = path.read_text()
        assert text.lstrip().startswith("<?xml") and "<svg" in text
        assert text.rstrip().endswith("</svg>")
    leftovers = [p for p in path.parent.iterdir() if ".tmp." in p.name]
    assert not leftovers, "a temporary file was left behind"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def trained():
    X, y = cr.datasets.moons(120, noise=0.1, seed=0)
    net = cr.Sequential(
        cr.Dense(2, 8, activation="relu"), cr.Dense(8, 8, activation="tanh"), cr.Dense(8, 1), seed=0
    )
    diag = Diagnostics()
    history = net.fit(
        X, y, loss="binary_cross_entropy", lr=0.02, epochs=6, metrics=["accuracy"],
        validation_split=0.25, callbacks=[diag],
    )  # fmt: skip
    return net, X, y, history, diag


FORMATS = ["png", "svg"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_activations_draws_f_and_its_derivative(tmp_path, fmt):
    names = ["step", "sigmoid", "relu", "gelu"]
    path = tmp_path / f"act.{fmt}"
    fig = plots.plot_activations(names, save=path)
    check_file(fig, path)
    z = np.linspace(-4, 4, 401)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == names
    for ax, name in zip(axes, names):
        act = cr.get_activation(name)
        f_line, d_line = ax.get_lines()[-2:]
        np.testing.assert_array_equal(f_line.get_xdata(), z)
        np.testing.assert_allclose(f_line.get_ydata(), act.f(z.copy()), rtol=0, atol=0)
        expected_d = np.zeros_like(z) if name == "step" else act.df(z.copy(), act.f(z.copy()))
        np.testing.assert_allclose(d_line.get_ydata(), expected_d, rtol=0, atol=0)
        assert ax.get_xlabel() == "z" and ax.get_legend() is not None
    assert "derivative" in fig._suptitle.get_text()


def test_activations_default_set_and_errors(tmp_path):
    fig = plots.plot_activations()  # not saved: drawing 12 panels is slow, saving is tested above
    assert set(fig.chainrule_data) == set(plots.DEFAULT_ACTIVATIONS)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 12
    with pytest.raises(ValueError, match="softmax"):
        plots.plot_activations(["softmax"])
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        plots.plot_activations(["relu"], save=tmp_path / "x.jpeg")


@pytest.mark.parametrize("fmt", FORMATS)
def test_history_lines_are_the_history(tmp_path, trained, fmt):
    _, _, _, history, _ = trained
    path = tmp_path / f"history.{fmt}"
    fig = plots.plot_history(history, save=path)
    check_file(fig, path)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    for ax, key in zip(axes, ["loss", "accuracy"]):
        train, val = ax.get_lines()
        np.testing.assert_array_equal(train.get_ydata(), history[key])
        np.testing.assert_array_equal(val.get_ydata(), history[f"val_{key}"])
        np.testing.assert_array_equal(train.get_xdata(), np.arange(1, 7))
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == key
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            f"training {key}",
            f"validation {key}",
        ]
    fig2 = plots.plot_history({"loss": [3.0, 2.0, 1.0]})  # a plain dict works too
    np.testing.assert_array_equal(fig2.axes[0].get_lines()[0].get_ydata(), [3, 2, 1])


@pytest.mark.parametrize("fmt", FORMATS)
def test_decision_boundary_grid_is_the_models_prediction(tmp_path, trained, fmt):
    net, X, y, _, _ = trained
    path = tmp_path / f"boundary.{fmt}"
    fig = plots.plot_decision_boundary(net, X, y, resolution=60, save=path)
    check_file(fig, path)
    xx, yy, zz = fig.chainrule_grid
    assert xx.shape == yy.shape == zz.shape == (60, 60)
    grid = np.c_[xx.ravel(), yy.ravel()]
    np.testing.assert_array_equal(zz, net.predict(grid).reshape(xx.shape))
    assert xx.min() < X[:, 0].min() and xx.max() > X[:, 0].max()  # the data is inside
    assert yy.min() < X[:, 1].min() and yy.max() > X[:, 1].max()
    ax = fig.axes[0]
    points = [c for c in ax.collections if c.get_label().startswith("class ")]
    assert [c.get_label() for c in points] == ["class 0", "class 1"]
    for c, cls in zip(points, (0, 1)):  # every training point drawn, in its class's colour
        np.testing.assert_array_equal(c.get_offsets(), X[y == cls])
    acc = np.mean(net.predict(X) == y)
    assert ax.get_title() == f"Sequential: training accuracy {100 * acc:.1f}%"
    assert ax.get_xlabel() == "x[0]" and ax.get_legend() is not None


def test_decision_boundary_of_a_perceptron_on_a_given_axis(trained):
    _, X, y, _, _ = trained
    p = cr.Perceptron(2, max_epochs=5)
    with pytest.warns(cr.ConvergenceWarning):
        p.fit(X, y)
    fig, axes = plt.subplots(1, 2)
    out = plots.plot_decision_boundary(p, X, y, resolution=30, ax=axes[1], title="perceptron")
    assert out is fig and axes[1].get_title() == "perceptron"
    xx, yy, zz = axes[1].chainrule_grid
    np.testing.assert_array_equal(zz.ravel(), p.predict(np.c_[xx.ravel(), yy.ravel()]))
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        plots.plot_decision_boundary(p, np.zeros((3, 3)), [0, 1, 0])


@pytest.mark.parametrize("fmt", FORMATS)
def test_diagnostics_lines_are_the_recorded_history(tmp_path, trained, fmt):
    _, _, _, _, diag = trained
    path = tmp_path / f"diag.{fmt}"
    fig = plots.plot_diagnostics(diag, save=path)
    check_file(fig, path)
    titles = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    panels = {
        "weight-gradient norm |dL/dW|": "grad_norm",
        "dead ReLU-family units": "dead_fraction",
        "saturated sigmoid/tanh outputs": "saturation",
        "step size |ΔW| / |W|": "update_ratio",
    }
    assert set(panels) <= set(titles)
    for title, metric in panels.items():
        ax = titles[title]
        lines = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_label().startswith("layer")}
        assert len(lines) == len(diag.history[metric])
        for i, values in diag.history[metric].items():
            line = lines[f"layer {i} ({diag.kinds[i]})"]
            np.testing.assert_array_equal(line.get_ydata(), values)
        assert ax.get_xlabel() == "epoch"
    assert titles["weight-gradient norm |dL/dW|"].get_yscale() == "log"
    with pytest.raises(ValueError, match="nothing recorded"):
        plots.plot_diagnostics(Diagnostics())


def test_diagnostics_of_a_deep_net_uses_a_colour_bar(tmp_path):
    X, y = cr.datasets.moons(64, seed=0)
    net = cr.Sequential(*[cr.Dense(2 if k == 0 else 4, 4, activation="relu") for k in range(10)],
                        cr.Dense(4, 1), seed=0)  # fmt: skip
    diag = Diagnostics()
    net.fit(X, y, loss="binary_cross_entropy", epochs=2, callbacks=[diag])
    fig = plots.plot_diagnostics(diag, save=tmp_path / "deep.png")
    check_file(fig, tmp_path / "deep.png")
    assert any("layer index" in ax.get_ylabel() for ax in fig.axes)  # the colour bar


@pytest.mark.parametrize("fmt", FORMATS)
def test_weight_histograms_count_every_weight(tmp_path, trained, fmt):
    net, *_ = trained
    path = tmp_path / f"weights.{fmt}"
    fig = plots.plot_weight_histograms(net, bins=20, save=path)
    check_file(fig, path)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3
    for ax, (i, layer) in zip(axes, [(0, net[0]), (1, net[1]), (2, net[2])]):
        counts = [patch.get_height() for patch in ax.patches]
        assert sum(counts) == layer.weight.value.size
        np.testing.assert_array_equal(fig.chainrule_weights[i], layer.weight.value.ravel())
        assert ax.get_title().startswith(f"layer {i}: W {layer.in_features}x{layer.out_features}")
        assert ax.get_xlabel() == "weight value" and ax.get_ylabel() == "count"


@pytest.mark.parametrize("fmt", FORMATS)
def test_activation_histograms_are_the_layer_outputs(tmp_path, trained, fmt):
    net, X, *_ = trained
    path = tmp_path / f"acts.{fmt}"
    fig = plots.plot_activation_histograms(net, X, bins=15, save=path)
    check_file(fig, path)
    W0, b0 = net[0].weight.value.astype(float), net[0].bias.value.astype(float)
    W1, b1 = net[1].weight.value.astype(float), net[1].bias.value.astype(float)
    a0 = np.maximum(X @ W0 + b0, 0)
    a1 = np.tanh(a0 @ W1 + b1)
    assert sorted(fig.chainrule_activations) == [0, 1]
    np.testing.assert_allclose(fig.chainrule_activations[0], a0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fig.chainrule_activations[1], a1, rtol=1e-5, atol=1e-6)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    for ax, a in zip(axes, (a0, a1)):
        assert sum(p.get_height() for p in ax.patches) == a.size
    zero = np.mean(fig.chainrule_activations[0] == 0)
    assert axes[0].get_title() == f"layer 0: relu outputs, {100 * zero:.0f}% exactly 0"


@pytest.mark.parametrize("fmt", FORMATS)
def test_perceptron_lines_are_its_history(tmp_path, fmt):
    X, y = cr.datasets.logical_and()
    p = cr.Perceptron(2).fit(X, y)
    path = tmp_path / f"perceptron.{fmt}"
    fig = plots.plot_perceptron(p, X, y, save=path)
    check_file(fig, path)
    assert len(fig.chainrule_lines) == p.n_epochs_ == len(p.history_)
    ax = fig.axes[0]
    drawn = [w for w, _ in p.history_ if np.any(w != 0)]
    lines = [line for line in ax.get_lines()]
    assert len(lines) == len(drawn)
    for line, (w, b) in zip(lines, [(w, b) for w, b in p.history_ if np.any(w != 0)]):
        xs, ys = line.get_xdata(), line.get_ydata()
        np.testing.assert_allclose(w[0] * np.asarray(xs) + w[1] * np.asarray(ys) + b, 0,
                                   atol=1e-12)  # fmt: skip
    assert lines[-1].get_linewidth() > lines[0].get_linewidth()  # the final line is bold
    assert f"converged after {p.n_epochs_} epochs" in ax.get_title()
    with pytest.raises(ValueError, match="fit"):
        plots.plot_perceptron(cr.Perceptron(2), X, y)


@pytest.mark.parametrize("fmt", FORMATS)
def test_network_edges_encode_sign_by_colour_and_magnitude_by_width(tmp_path, trained, fmt):
    net, *_ = trained
    path = tmp_path / f"net.{fmt}"
    fig = plots.plot_network(net, save=path)
    check_file(fig, path)
    edges = fig.chainrule_edges
    assert len(edges) == 2 * 8 + 8 * 8 + 8 * 1
    start = 0
    for lc, (i, layer) in zip(fig.chainrule_collections, [(0, net[0]), (1, net[1]), (2, net[2])]):
        W = layer.weight.value.astype(float)
        mine = edges[start : start + W.size]
        start += W.size
        assert {e[0] for e in mine} == {i}  # the layer's index in net.layers
        assert [(e[1], e[2]) for e in mine] == [
            (a, b) for a in range(W.shape[0]) for b in range(W.shape[1])
        ]
        w = np.array([e[3] for e in mine])
        np.testing.assert_allclose(w, W.ravel())
        np.testing.assert_allclose(lc.get_linewidths(), 0.3 + 3.7 * np.abs(w) / np.abs(W).max())
        blue = matplotlib.colors.to_rgba(plots._POS)[:3]
        red = matplotlib.colors.to_rgba(plots._NEG)[:3]
        colours = [tuple(c[:3]) for c in lc.get_colors()]
        assert colours == [blue if v >= 0 else red for v in w]
    assert fig.axes[0].get_title().startswith("Network 2-8-8-1")


def test_network_shows_at_most_max_units_per_layer():
    net = cr.Sequential(cr.Dense(64, 30, activation="relu"), cr.Dense(30, 10), seed=0)
    fig = plots.plot_network(net, max_units=5)
    assert len(fig.chainrule_edges) == 5 * 5 + 5 * 5
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "(+59 more)" in texts and "(+25 more)" in texts and "(+5 more)" in texts


@pytest.mark.parametrize("fmt", FORMATS)
def test_confusion_matrix_counts_pairs(tmp_path, fmt):
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    path = tmp_path / f"cm.{fmt}"
    fig = plots.plot_confusion_matrix(y_true, y_pred, save=path)
    check_file(fig, path)
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(fig.chainrule_matrix, expected)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), expected)
    assert [t.get_text() for t in ax.texts] == [str(v) for v in expected.ravel()]
    assert ax.get_title() == "Confusion matrix: accuracy 71.4% on 7 samples"
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"


@pytest.mark.parametrize("fmt", FORMATS)
def test_weight_images_are_the_columns_of_w(tmp_path, fmt):
    net = cr.Sequential(cr.Dense(16, 6, activation="relu"), cr.Dense(6, 3), seed=0)
    path = tmp_path / f"wimg.{fmt}"
    fig = plots.plot_weight_images(net, (4, 4), ncols=3, save=path)
    check_file(fig, path)
    W = net[0].weight.value
    for j in range(6):
        np.testing.assert_array_equal(fig.chainrule_images[j], W[:, j].reshape(4, 4))
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == 6 and shown[2].get_title() == "unit 2"
    np.testing.assert_array_equal(shown[4].get_images()[0].get_array(), W[:, 4].reshape(4, 4))
    with pytest.raises(ValueError, match="16 inputs"):
        plots.plot_weight_images(net, (3, 3))


def test_missing_matplotlib_gives_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[plots\]'"):
        plots.plot_confusion_matrix([0, 1], [0, 1])


def test_agg_backend_is_chosen_without_a_display(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    }
    code = (
        "import chainrule.plots as p, matplotlib, sys;"
        f"p.plot_confusion_matrix([0, 1], [1, 1], save={str(tmp_path / 'cm.png')!r});"
        "print(matplotlib.get_backend().lower())"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "agg"
    assert png_size(tmp_path / "cm.png")[0] > 0
