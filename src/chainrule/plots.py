"""Pictures of a network and its training, with matplotlib (an optional extra).

Every ``plot_*`` function returns the ``matplotlib.figure.Figure`` it draws and
takes ``save=PATH`` to write it too, as PNG, SVG or PDF according to the
suffix (written to a temporary name, then renamed into place, so a file is
never left half-written). Figures are drawn with ``layout="constrained"``
and saved without cropping, so a PNG is exactly ``figsize * dpi`` pixels.

The data behind each picture is kept on the figure (``fig.chainrule_*``
attributes, documented per function) so that what is drawn can be checked
against the model. ``to_svg(fig)`` turns a figure into SVG markup to put in
a web page (the guide's figures are made this way).

matplotlib is imported only when a plot is made; without a display (a
server, CI) the non-interactive Agg backend is selected, unless a backend
was chosen already (``MPLBACKEND`` or an earlier ``matplotlib.use``).
Install it with ``pip install 'chainrule[plots]'``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import require
from .activations import get_activation

__all__ = [
    "plot_activation_histograms",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_diagnostics",
    "plot_graph",
    "plot_history",
    "plot_network",
    "plot_perceptron",
    "plot_weight_histograms",
    "plot_weight_images",
    "save_figure",
    "to_svg",
]

#: the activations drawn by ``plot_activations()`` by default
DEFAULT_ACTIVATIONS = (
    "step",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "gelu",
    "silu",
    "mish",
    "identity",
)
DPI = 100
# the playground's colours, so a figure and the page read the same way: blue for positive
# weights and class 1, orange for negative weights and class 0
_POS, _NEG = "#1f77b4", "#e8710a"
_CLASSES = ("#e8710a", "#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#8c564b")


# -- plumbing -------------------------------------------------------------------------------
def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _pyplot():
    """``matplotlib.pyplot``, imported on first use (Agg when there is no display)."""
    matplotlib = require(
        "matplotlib",
        "chainrule.plots needs matplotlib, an optional extra",
        "'chainrule[plots]' (or pip install matplotlib)",
    )
    if (
        "matplotlib.pyplot" not in sys.modules
        and not os.environ.get("MPLBACKEND")
        and not _has_display()
    ):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(figsize: tuple[float, float]):
    plt = _pyplot()
    return plt.figure(figsize=figsize, dpi=DPI, layout="constrained")


def save_figure(fig, path) -> Any:
    """Write any matplotlib figure to ``path`` as PNG, SVG or PDF (by suffix), atomically.

    The file is written to a temporary name in the same folder and renamed
    into place, so an existing file is never left half-written. The image is
    not cropped: a PNG is ``figsize * dpi`` pixels.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or path
        Ending in .png, .svg or .pdf; missing parent folders are created.

    Returns
    -------
    Figure
        ``fig`` itself.

    Raises
    ------
    ValueError
        If ``path`` does not end in .png, .svg or .pdf.
    """
    return _finish(fig, path)


def to_svg(fig, max_width_in: float | None = None) -> str:
    """The figure as SVG markup, with its text kept as text; the figure is closed.

    Made for putting a figure straight into a web page or a Markdown file
    (the guide's figures are drawn this way while the site is built): the
    result starts at the ``<svg>`` element, without the XML declaration and
    doctype, so it can be printed inside HTML as it is, or written to a
    ``.svg`` file on its own. Labels stay ``<text>`` elements (matplotlib's
    ``svg.fonttype`` is ``"none"`` for this one save only; the global setting is
    left alone), so they can be selected, searched and scaled with the page.
    The date is left out, so the same figure gives the same drawing.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to convert, for example one returned by a ``plot_*``
        function. It is closed afterwards (also when saving fails), so
        drawing many figures does not keep them all in memory.
    max_width_in : float, optional
        Largest width in inches. A wider figure is resized to this width,
        keeping its aspect ratio, before it is saved; the fonts keep their
        size and the layout is redone, so the text stays readable in a
        narrow page column. A narrower figure is left as it is. The default,
        None, keeps the figure's size.

    Returns
    -------
    str
        The ``<svg>...</svg>`` element. Its ``width`` and ``height`` attributes
        are in points (72 per inch).

    Raises
    ------
    ValueError
        If ``max_width_in`` is not a positive finite number.

    Examples
    --------
    >>> from chainrule import plots
    >>> svg = plots.to_svg(plots.plot_activations(["relu"]), max_width_in=3)
    >>> svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    True
    """
    import io

    if max_width_in is not None and not (
        isinstance(max_width_in, Real)
        and not isinstance(max_width_in, bool)
        and math.isfinite(max_width_in)
        and max_width_in > 0
    ):
        raise ValueError(f"max_width_in must be a positive number of inches, got {max_width_in!r}")
    plt = _pyplot()
    try:
        width, height = fig.get_size_inches()
        if max_width_in is not None and width > max_width_in:
            fig.set_size_inches(max_width_in, height * max_width_in / width)
        out = io.StringIO()
        with plt.rc_context({"svg.fonttype": "none"}):
            fig.savefig(out, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    markup = out.getvalue()
    return markup[markup.index("<svg") :]


def _finish(fig, save) -> Any:
    """Write ``fig`` to ``save`` (format from the suffix) atomically; return ``fig``."""
    if save is None:
        return fig
    path = Path(save)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(
            f"save={str(save)!r}: give a file name ending in .png, .svg or .pdf (got "
            f"{path.suffix or 'no suffix'})"
        )
    from .atomic import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: fig.savefig(f, format=fmt, dpi=fig.dpi))
    return fig


def _integer_ticks(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return math.ceil(n / ncols), ncols


def _panels(n: int, ncols: int, size: tuple[float, float], extra: tuple[float, float] = (0, 0)):
    """A figure of ``n`` panels in rows of ``ncols``, each ``size`` inches (plus ``extra``
    for the whole figure): ``(fig, axes)``, ``axes`` the 2-D grid, its unused places hidden."""
    rows, cols = _grid(n, ncols)
    fig = _figure((size[0] * cols + extra[0], size[1] * rows + extra[1]))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def _class_colors(k: int) -> list:
    """One colour per class: the playground's six, then matplotlib's tab10 beyond them."""
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return [_CLASSES[i] if i < len(_CLASSES) else cmap(i % 10) for i in range(k)]


def _as_2d_points(X, what: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"{what} must have shape (n_samples, 2) to be drawn in a plane, got {X.shape}"
        )
    return X


def _dense_layers(net) -> list[tuple[int, Any]]:
    from .layers import Dense

    return [(i, layer) for i, layer in enumerate(net.layers) if isinstance(layer, Dense)]


# -- activations ------------------------------------------------------------------------------
def plot_activations(
    names: Sequence[str] | None = None,
    z: np.ndarray | None = None,
    ncols: int = 4,
    save=None,
):
    """Each activation function ``f(z)`` with its derivative ``f'(z)``.

    Parameters
    ----------
    names : sequence of str, optional
        Activation names (default ``DEFAULT_ACTIVATIONS``). Softmax is not
        elementwise and cannot be drawn this way.
    z : ndarray, optional
        The grid of inputs (default 401 points on [-4, 4]).
    ncols : int, default 4
        Panels per row.
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        ``fig.chainrule_data[name]`` is ``{"z": z, "f": f(z), "df": f'(z)}``,
        exactly the arrays drawn. The step function's derivative is drawn as
        0 (it is undefined at 0 and zero elsewhere).

    Raises
    ------
    ValueError
        For ``"softmax"`` or an unknown activation name, or a bad ``save``
        suffix.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> from chainrule import plots
    >>> fig = plots.plot_activations(["relu", "tanh"])
    >>> sorted(fig.chainrule_data)
    ['relu', 'tanh']
    """
    names = list(DEFAULT_ACTIVATIONS if names is None else names)
    z = np.linspace(-4.0, 4.0, 401) if z is None else np.asarray(z, dtype=np.float64)
    fig, axes = _panels(len(names), ncols, (3.3, 2.7))
    fig.chainrule_data = {}
    for ax, name in zip(axes.flat, names):
        act = get_activation(name)
        if act.name == "softmax":
            raise ValueError("softmax is not elementwise: it cannot be drawn as f(z)")
        a = np.asarray(act.f(z.copy()), dtype=np.float64)
        try:
            d = np.asarray(act.df(z.copy(), a.copy()), dtype=np.float64) * np.ones_like(z)
            d_label = "f'(z)"
        except ValueError:  # the step function refuses: its derivative is 0 almost everywhere
            d = np.zeros_like(z)
            d_label = "f'(z) = 0 (undefined at 0)"
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.plot(z, a, color=_POS, lw=2, label="f(z)")
        ax.plot(z, d, color="#ff7f0e", lw=1.6, ls="--", label=d_label)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.set_ylabel("value")
        ax.set_xlim(z[0], z[-1])
        lo, hi = float(min(a.min(), d.min())), float(max(a.max(), d.max()))
        pad = 0.08 * max(hi - lo, 1e-3)
        # The legend goes in the upper left corner, which these functions leave empty
        # (they are low for z < 0), except the step: it is at its top over the whole
        # right half and its legend is half a panel wide, so it gets a band of its own.
        room = 0.6 * (hi - lo) if d_label != "f'(z)" else 0.0
        ax.set_ylim(lo - pad, hi + pad + room)
        if room:  # no ticks in the legend's band, which the function never reaches
            ax.set_yticks([t for t in ax.get_yticks() if lo - pad <= t <= hi + pad])
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        fig.chainrule_data[name] = {"z": z, "f": a, "df": d}
    fig.suptitle("Activation functions (solid) and their derivatives (dashed)")
    return _finish(fig, save)


# -- training curves --------------------------------------------------------------------------
def plot_history(history, keys: Sequence[str] | None = None, save=None):
    """The loss and metric curves of a training run, one panel per quantity.

    Parameters
    ----------
    history : History or dict of str to list of float
        What ``fit`` returned (or its ``.history`` dict).
    keys : sequence of str, optional
        Which quantities (default: every key without the ``val_`` prefix,
        ``loss`` first). A ``val_`` curve is drawn dashed beside its
        training curve when present.
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        Each line's ``ydata`` is the history list, its ``xdata`` the epochs
        1, 2, ...; ``fig.chainrule_history`` is the dict drawn.

    Raises
    ------
    ValueError
        If the history is empty, or ``save`` has a bad suffix.
    ImportError
        If matplotlib is not installed.
    """
    data: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    if not isinstance(data, Mapping) or not data:
        raise ValueError("plot_history needs a History from fit (or a dict of lists), not empty")
    if keys is None:
        keys = [k for k in data if not k.startswith("val_")]
        keys.sort(key=lambda k: (k != "loss", k))
    keys = list(keys)
    fig, axes = _panels(len(keys), 3, (4.6, 3.4))
    for ax, key in zip(axes.flat, keys):
        values = np.asarray(data[key], dtype=np.float64)
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, color=_POS, lw=2, label=f"training {key}")
        if f"val_{key}" in data:
            v = np.asarray(data[f"val_{key}"], dtype=np.float64)
            ax.plot(np.arange(1, len(v) + 1), v, color="#ff7f0e", lw=2, ls="--",
                    label=f"validation {key}")  # fmt: skip
        ax.set_title(key.replace("_", " "))
        ax.set_xlabel("epoch")
        _integer_ticks(ax)
        ax.set_ylabel(key)
        positive = np.all(values[np.isfinite(values)] > 0)
        if (
            key == "loss"
            and positive
            and values.size
            and np.nanmax(values) > 100 * np.nanmin(values)
        ):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    fig.suptitle("Training history")
    fig.chainrule_history = {k: list(v) for k, v in data.items()}
    return _finish(fig, save)


# -- decision regions ---------------------------------------------------------------------------
def plot_decision_boundary(
    model,
    X,
    y,
    resolution: int = 200,
    ax=None,
    title: str | None = None,
    save=None,
):
    """A classifier's decisions over the plane, with the training points on top.

    Parameters
    ----------
    model : object with predict
        Anything with ``predict(X)`` on 2-D inputs: a fitted ``Sequential``,
        a ``Perceptron``, a scikit-learn estimator.
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
        Class labels (colours of the points).
    resolution : int, default 200
        Grid points per axis.
    ax : matplotlib Axes, optional
        Draw into this panel (for side-by-side figures) instead of a new figure.
    title : str, optional
        Default: the model's class name and its accuracy on ``(X, y)``.
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        ``fig.chainrule_grid = (xx, yy, zz)`` (also on ``ax``): the grid and
        ``zz = model.predict(grid).reshape(xx.shape)``, what is coloured.

    Raises
    ------
    ValueError
        If ``X`` does not have shape (n_samples, 2), ``X`` and ``y`` differ
        in length, ``resolution < 2``, or ``save`` has a bad suffix.
    ImportError
        If matplotlib is not installed.
    """
    X = _as_2d_points(X)
    y = np.asarray(y).ravel()
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} points but y has {len(y)} labels")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.maximum(hi - lo, 1e-9) + 0.1
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.c_[xx.ravel(), yy.ravel()]
    zz = np.asarray(model.predict(grid)).reshape(xx.shape)
    if ax is None:
        fig = _figure((6.0, 5.0))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    size = 22 if len(X) > 50 else 80
    discrete = np.all(np.equal(np.mod(zz, 1), 0)) and np.all(np.equal(np.mod(y, 1), 0))
    if discrete:
        from matplotlib.colors import ListedColormap

        k = int(max(zz.max(), y.max())) + 1
        colors = _class_colors(k)
        ax.contourf(xx, yy, zz, levels=np.arange(k + 1) - 0.5, cmap=ListedColormap(colors),
                    alpha=0.25)  # fmt: skip
        if k > 1:
            ax.contour(xx, yy, zz, levels=np.arange(1, k) - 0.5, colors="0.25", linewidths=1.2)
        for c in range(k):
            mask = y == c
            if mask.any():
                ax.scatter(X[mask, 0], X[mask, 1], s=size, color=colors[c], edgecolor="k",
                           linewidth=0.5, label=f"class {c}")  # fmt: skip
        acc = float(np.mean(np.asarray(model.predict(X)).ravel() == y))
        default = f"{type(model).__name__}: training accuracy {100 * acc:.1f}%"
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
    else:
        cs = ax.contourf(xx, yy, zz, levels=20, cmap="RdBu_r", alpha=0.6)
        fig.colorbar(cs, ax=ax, label="prediction")
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolor="k", s=size)
        default = f"{type(model).__name__}: predictions"
    ax.set_title(title if title is not None else default)
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.chainrule_grid = (xx, yy, zz)
    fig.chainrule_grid = (xx, yy, zz)
    return _finish(fig, save)


# -- diagnostics ------------------------------------------------------------------------------
# Line colours for up to 8 layers, told apart by hue, each dark enough for a contrast of at
# least 3:1 against the white background (relative luminance at most 0.27).
_LAYER_COLORS = (
    "#1f77b4",  # blue
    "#d55e00",  # vermilion
    "#2ca02c",  # green
    "#9467bd",  # purple
    "#8c564b",  # brown
    "#e7298a",  # magenta
    "#006d77",  # dark teal
    "#7f7f7f",  # grey
)


def _layer_colormap():
    """The colour scale for more than 8 layers: plasma without its light, yellow end.

    Cut at 0.6, it runs from dark blue through purple to pink, every shade
    with a contrast of at least 3:1 against white.
    """
    from matplotlib.colors import ListedColormap

    plasma = _pyplot().get_cmap("plasma")
    return ListedColormap(plasma(np.linspace(0.0, 0.6, 256)), name="plasma_dark")


def plot_diagnostics(diagnostics, save=None):
    """Per-layer gradient norms, dead units, saturation and update sizes over the epochs.

    Parameters
    ----------
    diagnostics : chainrule.diagnostics.Diagnostics
        The callback after ``fit(..., callbacks=[diagnostics])``.
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        One panel per recorded quantity; each line is one layer, its
        ``ydata`` the list in ``diagnostics.history[metric][layer]`` (on the
        log-scale panels, epochs where it is exactly 0 are marked with an x
        at the bottom, in an extra unlabelled line) and its
        label ``"layer i (kind)"`` (shown in a legend for up to 8 layers,
        otherwise a colour bar gives the layer index).

    Raises
    ------
    ValueError
        If nothing was recorded (the callback was not passed to ``fit``), or
        ``save`` has a bad suffix.
    ImportError
        If matplotlib is not installed.
    """
    h = diagnostics.history
    if not diagnostics.epochs:
        raise ValueError("nothing recorded: pass the Diagnostics to fit(..., callbacks=[diag])")
    panels = [
        ("grad_norm", "weight-gradient norm |dL/dW|", "|dL/dW|", True),
        ("dead_fraction", "dead ReLU-family units", "fraction of units", False),
        ("saturation", "saturated sigmoid/tanh outputs", "fraction of outputs", False),
        ("update_ratio", "step size |ΔW| / |W|", "|ΔW| / |W|", True),
    ]
    panels = [p for p in panels if h.get(p[0])]
    fig, axes = _panels(len(panels), 2, (5.6, 3.8))
    layers = sorted({i for p in panels for i in h[p[0]]})
    cmap = _layer_colormap()
    if len(layers) <= len(_LAYER_COLORS):  # few lines, each named in a legend: distinct hues
        color = {i: _LAYER_COLORS[k] for k, i in enumerate(layers)}
    else:  # many lines: shades along a colour scale, explained by a colour bar
        color = {i: cmap(k / (len(layers) - 1)) for k, i in enumerate(layers)}
    for ax, (metric, title, ylabel, log) in zip(axes.flat, panels):
        zeros = False
        for i, values in sorted(h[metric].items()):
            values = np.asarray(values, dtype=np.float64)
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, marker="o", ms=3, lw=1.6,
                    color=color[i], label=f"layer {i} ({diagnostics.kinds.get(i, '?')})")  # fmt: skip
            if log and np.any(values == 0):  # a log axis cannot show 0: mark it at the bottom
                zeros = True
                ax.plot(epochs[values == 0], np.full(int(np.sum(values == 0)), 0.03), "x",
                        color=color[i], ms=6, transform=ax.get_xaxis_transform())  # fmt: skip
        if log:
            finite = np.concatenate([np.asarray(v, float) for v in h[metric].values()])
            if np.any(finite[np.isfinite(finite)] > 0):
                ax.set_yscale("log")
            if zeros:
                title += "\n(x at the bottom: exactly 0)"
        else:
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        _integer_ticks(ax)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(layers) <= 8:
            ax.legend(fontsize=8, frameon=False)
    if len(layers) > 8:  # too many lines for a legend: a colour scale of layer indices
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        sm = ScalarMappable(norm=Normalize(min(layers), max(layers)), cmap=cmap)
        fig.colorbar(sm, ax=axes, label="layer index in net.layers (colour of each line)",
                     shrink=0.8)  # fmt: skip
    fig.suptitle("Diagnostics per layer and epoch")
    return _finish(fig, save)


# -- weights and activations -------------------------------------------------------------------
def plot_weight_histograms(net, bins: int = 40, save=None):
    """A histogram of each ``Dense`` layer's weights.

    Parameters
    ----------
    net : Sequential
    bins : int, default 40
        Histogram bins per panel.
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        One panel per Dense layer (``net.layers`` index in the title);
        ``fig.chainrule_weights[i]`` is the flattened weight array counted.

    Raises
    ------
    ValueError
        If the network has no ``Dense`` layer, or ``save`` has a bad suffix.
    ImportError
        If matplotlib is not installed.
    """
    dense = _dense_layers(net)
    if not dense:
        raise ValueError("the network has no Dense layer, so no weights to draw")
    fig, axes = _panels(len(dense), 3, (4.2, 3.2))
    fig.chainrule_weights = {}
    for ax, (i, layer) in zip(axes.flat, dense):
        w = layer.weight.value.astype(np.float64).ravel()
        ax.hist(w, bins=bins, color=_POS, alpha=0.85)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_title(f"layer {i}: W {layer.in_features}x{layer.out_features}\n"
                     f"mean {w.mean():.2g}, std {w.std():.2g}", fontsize=10)  # fmt: skip
        ax.set_xlabel("weight value")
        ax.set_ylabel("count")
        fig.chainrule_weights[i] = w
    fig.suptitle("Weight histograms")
    return _finish(fig, save)


def _layer_outputs(net, X) -> list[np.ndarray]:
    from .network import check_features

    X = check_features(X, net.n_features_in, net.dtype)
    modes = [layer.training for layer in net.layers]
    net.eval()
    try:
        outs, out = [], X
        for layer in net.layers:
            out = layer.forward(out)
            outs.append(np.array(out, dtype=np.float64))
        return outs
    finally:
        for layer, mode in zip(net.layers, modes):
            layer.training = mode


def plot_activation_histograms(net, X, bins: int = 40, save=None):
    """A histogram of each activation layer's outputs on the inputs ``X``.

    The forward pass runs in inference mode. For ReLU layers the title gives
    the share of outputs that are exactly 0.

    Parameters
    ----------
    net : Sequential
    X : array-like of shape (n_samples, n_features)
        Inputs to run through the network.
    bins : int, default 40
        Histogram bins per panel.
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        ``fig.chainrule_activations[i]`` is the output array of
        ``net.layers[i]`` that was counted.

    Raises
    ------
    ValueError
        If the network has no activation function (fused or as a layer),
        ``X`` does not fit the network, or ``save`` has a bad suffix.
    ImportError
        If matplotlib is not installed.
    """
    from .diagnostics import unit_activation

    outs = _layer_outputs(net, X)
    chosen = [(i, unit_activation(layer)) for i, layer in enumerate(net.layers)]
    chosen = [(i, act) for i, act in chosen if act is not None]
    if not chosen:
        raise ValueError("the network has no activation functions to draw")
    fig, axes = _panels(len(chosen), 3, (4.2, 3.2))
    fig.chainrule_activations = {}
    for ax, (i, act) in zip(axes.flat, chosen):
        a = outs[i]
        ax.hist(a.ravel(), bins=bins, color="#2ca02c", alpha=0.85)
        extra = ""
        if act.name == "relu":
            extra = f", {100 * np.mean(a == 0):.0f}% exactly 0"
        ax.set_title(f"layer {i}: {act.name} outputs{extra}", fontsize=10)
        ax.set_xlabel("activation value a = f(z)")
        ax.set_ylabel("count")
        fig.chainrule_activations[i] = a
    fig.suptitle(f"Activation histograms on {len(outs[0])} samples")
    return _finish(fig, save)


def plot_weight_images(
    net,
    image_shape: tuple[int, int],
    layer: int | None = None,
    max_units: int = 32,
    ncols: int = 8,
    titles: Sequence[str] | None = None,
    save=None,
):
    """The weights into each unit of a Dense layer, drawn as images.

    For image inputs (digits: ``image_shape=(8, 8)``) column ``j`` of the
    first layer's ``W`` is the pattern that unit ``j`` responds to: its
    activation is ``f(sum_pixels x * W[:, j] + b_j)``. Blue is a positive
    weight (that pixel excites the unit), red a negative one.

    Parameters
    ----------
    net : Sequential
    image_shape : (int, int)
        Rows and columns of an input image; their product must equal the
        layer's ``in_features``.
    layer : int, optional
        Index in ``net.layers`` (default: the first Dense layer).
    max_units : int, default 32
        How many units to show.
    ncols : int, default 8
        How many units per row.
    titles : sequence of str, optional
        One title per unit shown (None: ``"unit j"``).
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        ``fig.chainrule_images`` is the array (units, rows, cols) drawn:
        ``images[j] = W[:, j].reshape(image_shape)``.

    Raises
    ------
    ValueError
        If the network has no ``Dense`` layer, ``net.layers[layer]`` is not
        one, ``image_shape`` does not match its ``in_features``, or ``save``
        has a bad suffix.
    ImportError
        If matplotlib is not installed.
    """
    from .layers import Dense

    if layer is None:
        dense = _dense_layers(net)
        if not dense:
            raise ValueError("the network has no Dense layer")
        layer, d = dense[0]
    else:
        d = net.layers[layer]
        if not isinstance(d, Dense):
            raise ValueError(f"net.layers[{layer}] is {d!r}, not a Dense layer")
    r, c = image_shape
    if r * c != d.in_features:
        raise ValueError(
            f"image_shape {image_shape} has {r * c} pixels but layer {layer} has "
            f"{d.in_features} inputs"
        )
    W = d.weight.value.astype(np.float64)
    n = min(max_units, d.out_features)
    images = W[:, :n].T.reshape(n, r, c)
    fig, axes = _panels(n, ncols, (1.45, 1.55), extra=(1.0, 0.6))
    vmax = float(np.abs(images).max()) or 1.0
    im = None
    for k, ax in enumerate(axes.flat[:n]):
        ax.set_xticks([])
        ax.set_yticks([])
        im = ax.imshow(images[k], cmap="RdBu", vmin=-vmax, vmax=vmax)
        ax.set_title(titles[k] if titles is not None else f"unit {k}", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.8, label="weight")
    fig.suptitle(f"Weights into the units of layer {layer}, as {r}x{c} images")
    fig.chainrule_images = images
    return _finish(fig, save)


# -- the perceptron ---------------------------------------------------------------------------
def plot_perceptron(perceptron, X, y, save=None):
    """The perceptron's decision line after each epoch, moving while it learns.

    The line is ``w_0 x_0 + w_1 x_1 + b = 0``, for the ``(w, b)`` stored
    in ``perceptron.history_`` after each epoch; early epochs are pale, the
    last one bold. Points on the side where ``w · x + b >= 0`` are
    predicted 1.

    Parameters
    ----------
    perceptron : Perceptron
        A fitted ``chainrule.Perceptron`` with two inputs.
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
        0/1 labels (colours of the points).
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        ``fig.chainrule_lines`` is the list of ``(w, b)`` drawn, one per epoch.

    Raises
    ------
    ValueError
        If the perceptron was not fitted, ``X`` does not have shape
        (n_samples, 2), or ``save`` has a bad suffix.
    ImportError
        If matplotlib is not installed.
    """
    X = _as_2d_points(X)
    y = np.asarray(y).ravel()
    hist = list(getattr(perceptron, "history_", []))
    if not hist:
        raise ValueError("the perceptron has no history_: call perceptron.fit(X, y) first")
    fig = _figure((6.0, 5.4))
    ax = fig.add_subplot()
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.25 * np.maximum(hi - lo, 1e-9) + 0.1
    x0 = np.array([lo[0] - pad[0], hi[0] + pad[0]])
    ylim = (lo[1] - pad[1], hi[1] + pad[1])
    plt = _pyplot()
    cmap = plt.get_cmap("Greys")
    n = len(hist)
    for e, (w, b) in enumerate(hist):
        last = e == n - 1
        color = "k" if last else cmap(0.25 + 0.6 * e / max(1, n - 1))
        lw = 2.5 if last else 1.0
        label = f"epoch {e + 1}" if (e == 0 or last) else None
        w = np.asarray(w, dtype=np.float64)
        if w[1] != 0:
            ax.plot(x0, -(w[0] * x0 + b) / w[1], color=color, lw=lw, label=label)
        elif w[0] != 0:
            ax.plot([-b / w[0]] * 2, list(ylim), color=color, lw=lw, label=label)
    colors = _class_colors(2)
    w_last, b_last = np.asarray(hist[-1][0], dtype=np.float64), float(hist[-1][1])
    gx, gy = np.meshgrid(np.linspace(*x0, 200), np.linspace(*ylim, 200))
    side = (w_last[0] * gx + w_last[1] * gy + b_last >= 0).astype(float)
    ax.contourf(gx, gy, side, levels=[-0.5, 0.5, 1.5], colors=[colors[0], colors[1]], alpha=0.12)
    for c in (0, 1):
        m = y == c
        ax.scatter(X[m, 0], X[m, 1], s=90, color=colors[c], edgecolor="k", zorder=3,
                   marker="o" if c == 0 else "s", label=f"class {c}")  # fmt: skip
    ax.set_xlim(*x0)
    ax.set_ylim(*ylim)
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    done = getattr(perceptron, "converged_", False)
    state = (
        f"converged after {n} epochs"
        if done
        else f"no convergence in {n} epochs ({perceptron.errors_[-1]} mistakes in the last)"
    )
    ax.set_title(
        f"Perceptron decision line after each epoch\n{state}\n"
        "shaded: the last line's prediction, class 1 where w·x + b >= 0",
        fontsize=10,
    )
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    ax.grid(alpha=0.3)
    fig.chainrule_lines = [(np.asarray(w, dtype=np.float64).copy(), float(b)) for w, b in hist]
    return _finish(fig, save)


# -- the network as a diagram -----------------------------------------------------------------
_NODE_AREA = 260  # scatter size of a node, in points squared: a circle sqrt(260) pt across
_NETWORK_BOTTOM = -0.62  # the nodes span y = 0..1; below them, the layer labels and legend


def _network_top(fig_height: float, gap: float = 6.0) -> float:
    """Upper y-limit that keeps ``gap`` points between the top node and the title.

    The nodes are drawn in points, the limits are in data units, so the room
    a node needs depends on the axes' height. It is estimated for the figure
    shrunk to 70% (as ``to_svg(fig, max_width_in=7)`` does with a wide
    network), so the nodes stay clear of the title at that size too.
    """
    radius = math.sqrt(_NODE_AREA) / 2 + 1.0  # points, with the edge line
    axes_height = 0.7 * fig_height * 72 - 24  # points: the figure less the title's band
    f = (radius + gap) / axes_height  # the share of the axes height above y = 1
    return (1 - f * _NETWORK_BOTTOM) / (1 - f)


def plot_network(net, max_units: int = 12, save=None):
    """The network as nodes and edges: each weight an edge, blue positive, orange negative.

    Edge width grows with ``|w|`` relative to the largest weight of the same
    layer. Layers wider than ``max_units`` show their first ``max_units``
    units (the title says so).

    A graph ``Network`` (not a ``Sequential``) is drawn as its graph instead,
    one box per node: see ``plot_graph``.

    Parameters
    ----------
    net : Sequential or Network
    max_units : int, default 12
        Most units drawn per layer (a ``Sequential``).
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        ``fig.chainrule_edges`` lists ``(layer_index, i, j, w)`` for every
        edge drawn, in the order of the edge collections' ``linewidths``
        (one ``LineCollection`` per Dense layer, in ``fig.chainrule_collections``).

    Raises
    ------
    ValueError
        If the network has no ``Dense`` layer, or ``save`` has a bad suffix.
    ImportError
        If matplotlib is not installed.
    """
    from matplotlib.collections import LineCollection

    from .network import Network, Sequential

    if isinstance(net, Network) and not isinstance(net, Sequential):
        return plot_graph(net, save=save)
    dense = _dense_layers(net)
    if not dense:
        raise ValueError("the network has no Dense layer to draw")
    widths = [dense[0][1].in_features] + [d.out_features for _, d in dense]
    shown = [min(w, max_units) for w in widths]
    n_cols = len(widths)
    fig_height = max(3.5, 0.45 * max(shown) + 1.5)
    fig = _figure((max(6.5, 2.2 * n_cols), fig_height))
    ax = fig.add_subplot()
    ys = [np.linspace(0, 1, s) if s > 1 else np.array([0.5]) for s in shown]
    edges: list[tuple[int, int, int, float]] = []
    collections = []
    for k, (idx, d) in enumerate(dense):
        W = d.weight.value.astype(np.float64)
        sub = W[: shown[k], : shown[k + 1]]
        wmax = float(np.abs(sub).max()) or 1.0
        segs, cols, lws = [], [], []
        for i in range(sub.shape[0]):
            for j in range(sub.shape[1]):
                w = sub[i, j]
                segs.append([(k, ys[k][i]), (k + 1, ys[k + 1][j])])
                cols.append(_POS if w >= 0 else _NEG)
                lws.append(0.3 + 3.7 * abs(w) / wmax)
                edges.append((idx, i, j, float(w)))
        lc = LineCollection(segs, colors=cols, linewidths=lws, alpha=0.75, zorder=1)
        ax.add_collection(lc)
        collections.append(lc)
    for k, s in enumerate(shown):
        ax.scatter(np.full(s, k), ys[k], s=_NODE_AREA, color="white", edgecolor="k", zorder=3)
        if k == 0:
            name = "input"
        else:
            act = dense[k - 1][1].activation
            name = f"layer {dense[k - 1][0]}\n{act.name if act is not None else 'linear'}"
        more = f"\n(+{widths[k] - s} more)" if widths[k] > s else ""
        units = f"{widths[k]} unit" + ("s" if widths[k] != 1 else "")
        ax.text(k, -0.08, f"{name}\n{units}{more}", ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.4, n_cols - 0.6)
    ax.set_ylim(_NETWORK_BOTTOM, _network_top(fig_height))
    ax.axis("off")
    from matplotlib.lines import Line2D

    ax.legend(
        handles=[Line2D([], [], color=_POS, lw=2.5, label="positive weight"),
                 Line2D([], [], color=_NEG, lw=2.5, label="negative weight")],
        loc="lower center", ncol=2, frameon=False, fontsize=9,
    )  # fmt: skip
    arch = "-".join(str(w) for w in widths)
    ax.set_title(f"Network {arch}: one edge per weight, width ~ |w| (scaled per layer)")
    fig.chainrule_edges = edges
    fig.chainrule_collections = collections
    return _finish(fig, save)


_GRAPH_STYLE = {  # node kind -> (face colour, shape)
    "input": ("#d9f0d3", "box"),
    "layer": ("#ffffff", "box"),
    "merge": ("#fde0c5", "circle"),
    "embedding": ("#e5d8f0", "box"),
}
_MERGE_SYMBOL = {"Add": "+", "Multiply": "×", "Concatenate": "‖"}


def _graph_label(node) -> tuple[str, str]:
    """(kind, text) of a node's box: its name and what computes it."""
    layer = node.layer
    if layer is None:
        return "input", f"{node.name}\nInput({node.n_features})"
    kind = type(layer).__name__
    if kind in _MERGE_SYMBOL:
        return "merge", _MERGE_SYMBOL[kind]
    if kind == "Dense":
        act = layer.activation.name if layer.activation is not None else "linear"
        return "layer", f"{node.name}\nDense {layer.in_features}→{layer.out_features}, {act}"
    if kind == "Embedding":
        return "embedding", f"{node.name}\nEmbedding {layer.num_embeddings}→{layer.dim}"
    return "layer", f"{node.name}\n{layer!r}"


_GRAPH_BAND = 10  # depth columns per band: a deeper graph continues in a band below
_BAND_STEP = 1.6  # vertical distance between bands, in the units of y (a band spans 0..1)


def _graph_layout(net) -> dict[int, tuple[float, float]]:
    """x = the node's depth (longest path from an input), y spread within each depth.

    Depths beyond ``_GRAPH_BAND`` columns fold into bands below (like lines of
    text), so a deep network stays a readable width.
    """
    depth: dict[int, int] = {}
    for node in net.nodes:
        depth[id(node)] = max((depth[id(p)] + 1 for p in node.inputs), default=0)
    columns: dict[int, list] = {}
    for node in net.nodes:
        columns.setdefault(depth[id(node)], []).append(node)
    xy = {}
    for d, column in columns.items():
        n = len(column)
        band, x = divmod(d, _GRAPH_BAND)
        for r, node in enumerate(column):
            y = 0.5 if n == 1 else 1.0 - r / (n - 1)
            xy[id(node)] = (float(x), y - band * _BAND_STEP)
    return xy


def plot_graph(net, save=None):
    """A graph network drawn as its graph: one box per node, one arrow per connection.

    Columns are depths (the longest path from an input), ten to a band (a
    deeper graph continues in the band below); inputs are green
    boxes, ``Dense`` and other layers white boxes with their name, widths and
    activation, ``Embedding`` lilac boxes, merges (``Add`` +, ``Multiply`` ×,
    ``Concatenate`` ‖) orange circles; outputs have a thick border. Nodes
    that share one layer get the same dashed border colour and a "shares
    the layer of ..." note.

    Parameters
    ----------
    net : Network
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        ``fig.chainrule_graph`` holds ``"nodes"`` (per node in ``net.nodes``
        order: ``name``, ``kind`` - input, layer, embedding or merge -,
        ``label``, ``xy`` and its ``patch``), ``"edges"`` (``(parent, child)``
        name pairs, one per connection, with their ``arrows``) and
        ``"shared"`` (lists of node names that share a layer).
    """
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    xy = _graph_layout(net)
    n_cols = 1 + int(max(x for x, _ in xy.values()))
    n_bands = 1 + int(round(-min(y for _, y in xy.values()) / _BAND_STEP + 0.49))
    cells: dict[tuple[float, int], int] = {}  # nodes per (column, band)
    for x, y in xy.values():
        key = (x, int(math.floor((1.0 - y) / _BAND_STEP)))
        cells[key] = cells.get(key, 0) + 1
    n_rows = max(cells.values())
    height = n_bands * max(2.3, 1.3 * n_rows) + 1.2
    fig = _figure((max(6.5, 2.3 * n_cols), max(3.5, height)))
    ax = fig.add_subplot()
    by_layer: dict[int, list] = {}
    for node in net.nodes:
        if node.layer is not None:
            by_layer.setdefault(id(node.layer), []).append(node.name)
    shared = [names for names in by_layer.values() if len(names) > 1]
    shared_color = {name: _class_colors(len(shared))[k] for k, g in enumerate(shared) for name in g}
    outputs = {id(o) for o in net.outputs}
    half_w, half_h, radius = 0.36, 0.11, 0.07
    records, patches = [], {}
    for node in net.nodes:
        kind, label = _graph_label(node)
        x, y = xy[id(node)]
        face, shape = _GRAPH_STYLE[kind]
        edge = shared_color.get(node.name, "k")
        style = dict(facecolor=face, edgecolor=edge, zorder=3,
                     linewidth=2.6 if id(node) in outputs else 1.0,
                     linestyle="--" if node.name in shared_color else "-")  # fmt: skip
        if shape == "circle":
            patch = Circle((x, y), radius, **style)
            ax.text(x, y, label, ha="center", va="center", fontsize=13, zorder=4)
            ax.text(x, y - radius - 0.02, node.name, ha="center", va="top", fontsize=7, zorder=4)
        else:
            patch = FancyBboxPatch((x - half_w, y - half_h), 2 * half_w, 2 * half_h,
                                   boxstyle="round,pad=0.01", **style)  # fmt: skip
            ax.text(x, y, label, ha="center", va="center", fontsize=8, zorder=4)
        ax.add_patch(patch)
        patches[id(node)] = patch
        records.append({"name": node.name, "kind": kind, "label": label, "xy": (x, y),
                        "patch": patch})  # fmt: skip
    edges, arrows = [], []
    for node in net.nodes:
        for parent in node.inputs:
            arrow = FancyArrowPatch(
                xy[id(parent)], xy[id(node)], patchA=patches[id(parent)],
                patchB=patches[id(node)], arrowstyle="-|>", mutation_scale=12, color="0.35",
                lw=1.2, zorder=2, shrinkA=1, shrinkB=1,
                connectionstyle="arc3,rad=-0.25" if xy[id(parent)][1] == xy[id(node)][1]
                and xy[id(node)][0] - xy[id(parent)][0] > 1
                else "arc3,rad=0.0",  # a skip along a row bends around what it skips
            )  # fmt: skip
            ax.add_patch(arrow)
            edges.append((parent.name, node.name))
            arrows.append(arrow)
    for names in shared:
        for name in names[1:]:
            x, y = next(r["xy"] for r in records if r["name"] == name)
            ax.text(x, y - half_h - 0.03, f"shares the layer of {names[0]}", ha="center",
                    va="top", fontsize=7, color=shared_color[name], zorder=4)  # fmt: skip
    ax.set_xlim(-0.5, n_cols - 0.5)
    ax.set_ylim(-0.3 - (n_bands - 1) * _BAND_STEP, 1.25)
    ax.axis("off")
    ins, outs = ", ".join(net.input_names), ", ".join(net.output_names)
    ax.set_title(
        f"Network: {len(net.nodes)} nodes, {len(edges)} connections, {len(net.layers)} layers "
        f"(inputs {ins}; outputs {outs})"
    )
    fig.chainrule_graph = {"nodes": records, "edges": edges, "arrows": arrows, "shared": shared}
    return _finish(fig, save)


# -- classification results -------------------------------------------------------------------
def plot_confusion_matrix(y_true, y_pred, labels: Sequence | None = None, save=None):
    """Counts of (true class, predicted class) pairs, with the accuracy in the title.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : sequence, optional
        The classes, in the order of the rows and columns (default: every
        label found in either array, sorted).
    save : str or path, optional
        Also write the figure there (.png, .svg or .pdf).

    Returns
    -------
    Figure
        ``fig.chainrule_matrix[i, j]`` is the number of samples of class
        ``labels[i]`` predicted as ``labels[j]``.

    Raises
    ------
    ValueError
        If ``y_true`` and ``y_pred`` differ in size, or ``save`` has a bad
        suffix.
    KeyError
        If ``labels`` is given and misses a label found in the data.
    ImportError
        If matplotlib is not installed.
    """
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    labels = list(np.unique(np.r_[y_true, y_pred]) if labels is None else labels)
    index = {lab: k for k, lab in enumerate(labels)}
    M = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        M[index[t], index[p]] += 1
    k = len(labels)
    size = max(4.5, 0.55 * k + 2.5)
    fig = _figure((size + 1.0, size))
    ax = fig.add_subplot()
    im = ax.imshow(M, cmap="Blues")
    fig.colorbar(im, ax=ax, label="samples")
    vmax = M.max() if M.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(M[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if M[i, j] > vmax / 2 else "black")  # fmt: skip
    ax.set_xticks(range(k), [str(v) for v in labels])
    ax.set_yticks(range(k), [str(v) for v in labels])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = float(np.trace(M) / M.sum()) if M.sum() else float("nan")
    ax.set_title(f"Confusion matrix: accuracy {100 * acc:.1f}% on {M.sum()} samples")
    fig.chainrule_matrix = M
    return _finish(fig, save)
