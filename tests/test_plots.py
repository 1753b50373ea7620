"""Plots: each writes a real PNG (or SVG) of the promised size, and draws the model's data."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

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
    leftovers = [p for p in path.parent.iterdir() if ".tmp" in p.name]
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


# -- SVG for web pages ------------------------------------------------------------------------
SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(root) -> set[str]:
    return {"".join(e.itertext()).strip() for e in root.iter(f"{SVG}text")} - {""}


def points(length: str) -> float:
    assert length.endswith("pt"), length
    return float(length[:-2])


def test_to_svg_keeps_text_as_text_and_closes_the_figure():
    fig = plots.plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2])
    title = fig.axes[0].get_title()
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        svg = plots.to_svg(fig)
        assert matplotlib.rcParams["svg.fonttype"] == "path"  # only that one save was changed
    assert not plt.fignum_exists(fig.number)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")  # no <?xml or doctype
    root = ET.fromstring(svg)  # well-formed, or this raises
    assert root.tag == f"{SVG}svg"
    texts = svg_texts(root)
    assert title in texts
    assert {"predicted class", "true class", "samples"} <= texts
    assert "Date" not in svg and "dc:date" not in svg  # the same figure, the same markup
    w, h = fig.get_size_inches()  # left as it was: it fits any width given below
    assert points(root.get("width")) == pytest.approx(72 * w)
    assert points(root.get("height")) == pytest.approx(72 * h)


def test_to_svg_shrinks_a_wide_figure_to_the_width_given():
    fig = plots.plot_activations(["relu", "tanh", "sigmoid", "gelu"], ncols=4)
    w, h = fig.get_size_inches()
    assert w > 7
    root = ET.fromstring(plots.to_svg(fig, max_width_in=7))
    assert points(root.get("width")) == pytest.approx(7 * 72)
    assert points(root.get("height")) == pytest.approx(72 * h * 7 / w)  # same aspect ratio
    _, _, vw, vh = (float(v) for v in root.get("viewBox").split())
    assert (vw, vh) == pytest.approx((7 * 72, 72 * h * 7 / w))
    assert {"relu", "tanh", "sigmoid", "gelu"} <= svg_texts(root)
    narrow = plots.plot_confusion_matrix([0, 1], [0, 1])
    nw = narrow.get_size_inches()[0]
    assert nw < 7
    assert points(ET.fromstring(plots.to_svg(narrow, 7)).get("width")) == pytest.approx(72 * nw)


@pytest.mark.parametrize("bad", [0, -3.0, float("nan"), float("inf"), "7", True])
def test_to_svg_refuses_a_bad_width_and_leaves_the_figure_open(bad):
    fig = plots.plot_confusion_matrix([0, 1], [0, 1])
    with pytest.raises(ValueError, match="max_width_in"):
        plots.to_svg(fig, max_width_in=bad)
    assert plt.fignum_exists(fig.number)


def test_to_svg_closes_the_figure_when_saving_fails(monkeypatch):
    fig = plots.plot_confusion_matrix([0, 1], [0, 1])

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plots.to_svg(fig)
    assert not plt.fignum_exists(fig.number)


# -- readability ------------------------------------------------------------------------------
def relative_luminance(colour) -> float:
    """WCAG relative luminance: 0 for black, 1 for white."""

    def linear(u: float) -> float:
        return u / 12.92 if u <= 0.04045 else ((u + 0.055) / 1.055) ** 2.4

    r, g, b = matplotlib.colors.to_rgb(colour)
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


# at most this luminance, a line has a contrast of at least 3:1 against white (WCAG's
# minimum for graphics): (1 + 0.05) / (0.30 + 0.05) = 3
DARK_ENOUGH = 0.30


def test_luminance_helper_tells_light_from_dark():
    assert relative_luminance("white") == pytest.approx(1.0)
    assert relative_luminance("black") == 0.0
    assert relative_luminance("#fde725") > DARK_ENOUGH  # viridis' yellow end, hard to see
    assert relative_luminance("#1f77b4") < DARK_ENOUGH


def fake_diagnostics(n_layers: int, epochs: int = 4):
    """What plot_diagnostics reads from a Diagnostics callback, for ``n_layers`` layers."""
    from types import SimpleNamespace

    rng = np.random.default_rng(n_layers)
    grad = {i: list(rng.uniform(1e-3, 1.0, epochs)) for i in range(n_layers)}
    grad[0][1] = 0.0  # drawn as an x at the bottom of the log panel, in the layer's colour
    dead = {i: list(rng.uniform(0, 1, epochs)) for i in range(n_layers)}
    return SimpleNamespace(
        epochs=list(range(epochs)),
        history={"grad_norm": grad, "dead_fraction": dead},
        kinds={i: "relu" for i in range(n_layers)},
    )


@pytest.mark.parametrize("n_layers", [1, 2, 3, 5, 8, 9, 13])
def test_diagnostics_lines_are_dark_enough_on_white(n_layers):
    fig = plots.plot_diagnostics(fake_diagnostics(n_layers))
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_lines()]
    assert len(panels) == 2
    for ax in panels:
        colours = {ln.get_label(): ln.get_color() for ln in ax.get_lines()
                   if ln.get_label().startswith("layer")}  # fmt: skip
        assert len(colours) == n_layers
        for label, colour in colours.items():
            assert relative_luminance(colour) <= DARK_ENOUGH, f"{label}: {colour} is too light"
        for line in ax.get_lines():  # the x marks of zero gradients too
            assert relative_luminance(line.get_color()) <= DARK_ENOUGH
        rgb = {matplotlib.colors.to_hex(c) for c in colours.values()}
        assert len(rgb) == n_layers, "two layers share a colour"
    from matplotlib.collections import QuadMesh

    bars = [ax for ax in fig.axes if "layer index" in ax.get_ylabel()]
    assert len(bars) == (1 if n_layers > 8 else 0)
    for bar in bars:  # the colour bar's scale is the lines' scale: dark from end to end
        (solids,) = [c for c in bar.collections if isinstance(c, QuadMesh)]  # the colour strip
        cmap = solids.get_cmap()
        assert max(relative_luminance(cmap(x)) for x in np.linspace(0, 1, 51)) <= DARK_ENOUGH


def test_diagnostics_two_layers_get_two_different_hues():
    fig = plots.plot_diagnostics(fake_diagnostics(2))
    first, last = (ln.get_color() for ln in fig.axes[0].get_lines()[::2][:2])
    h1 = matplotlib.colors.rgb_to_hsv(matplotlib.colors.to_rgb(first))[0]
    h2 = matplotlib.colors.rgb_to_hsv(matplotlib.colors.to_rgb(last))[0]
    assert min(abs(h1 - h2), 1 - abs(h1 - h2)) > 0.2  # not two shades of one colour


def node_tops(fig) -> list[float]:
    """The top edge of every node circle drawn, in pixels from the bottom of the figure."""
    from matplotlib.collections import PathCollection

    ax = fig.axes[0]
    tops = []
    for c in ax.collections:
        if isinstance(c, PathCollection):
            radius = np.sqrt(c.get_sizes()[0]) / 2 * fig.dpi / 72 + c.get_linewidths()[0]
            tops.extend(ax.transData.transform(c.get_offsets())[:, 1] + radius)
    return tops


@pytest.mark.parametrize("sizes", [(1, 2, 1), (2, 3, 1), (2, 8, 8, 1), (4, 12, 12, 12, 3)])
@pytest.mark.parametrize("scale", [1.0, 0.7])
def test_network_nodes_stay_clear_of_the_title(sizes, scale):
    net = cr.Sequential(*[cr.Dense(a, b, activation="tanh") for a, b in zip(sizes, sizes[1:])],
                        seed=0)  # fmt: skip
    fig = plots.plot_network(net)
    w, h = fig.get_size_inches()
    fig.set_size_inches(w * scale, h * scale)  # as to_svg(fig, max_width_in=...) shrinks it
    fig.canvas.draw()
    ax = fig.axes[0]
    tops = node_tops(fig)
    assert len(tops) == sum(sizes)
    gap = 5 * fig.dpi / 72  # pixels in 5 points
    assert max(tops) <= ax.bbox.y1 - gap, "the top node reaches the edge of the axes"
    assert max(tops) <= ax.title.get_window_extent().y0 - gap, "the top node meets the title"


def legend_overlaps(ax) -> list[str]:
    """Labels of the panel's f and f' lines that pass through its legend box."""
    box = ax.get_legend().get_window_extent()
    hit = []
    for line in ax.get_lines():
        if line.get_label() in ("f(z)",) or line.get_label().startswith("f'(z)"):
            path = line.get_transform().transform_path(line.get_path())
            if path.intersects_bbox(box, filled=False):
                hit.append(line.get_label())
    return hit


@pytest.mark.parametrize(
    "names, ncols",
    [(None, 4), (["step", "sigmoid", "tanh", "relu", "leaky_relu", "gelu"], 2), (["step"], 1)],
)
def test_activation_legends_do_not_cover_the_curves(names, ncols):
    fig = plots.plot_activations(names, ncols=ncols)
    fig.canvas.draw()
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert panels
    for ax in panels:
        lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        assert len(lines) == 2  # f and f', the lines that must stay visible
        assert ax.bbox.contains(*ax.get_legend().get_window_extent().p0)  # inside the panel
        assert ax.bbox.contains(*ax.get_legend().get_window_extent().p1)
        assert legend_overlaps(ax) == [], f"{ax.get_title()}: the legend covers a curve"


def test_figures_use_the_playgrounds_colours():
    """Weights and classes read the same in a figure and on the playground page (issue 18)."""
    import re
    from pathlib import Path

    app = (Path(plots.__file__).parent / "playground" / "static" / "app.js").read_text()
    line = re.search(r"const CLASS_RGB = (.*);", app).group(1)
    rgb = [tuple(map(int, c)) for c in re.findall(r"\[(\d+), (\d+), (\d+)\]", line)]
    pos, neg = re.search(r'const POS = "(#\w{6})", NEG = "(#\w{6})"', app).groups()
    assert (plots._POS, plots._NEG) == (pos, neg)
    as_rgb = [
        tuple(round(255 * v) for v in matplotlib.colors.to_rgb(c)) for c in plots._class_colors(6)
    ]
    assert as_rgb == rgb
