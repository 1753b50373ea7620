"""The command's figures: ``chainrule.plots`` when present, small matplotlib ones otherwise."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import CLIError
from .ui import UI


def _matplotlib():
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure and release it."""
    fig.savefig(path, dpi=100, bbox_inches="tight")
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    return path


def figure_history(ui: UI, history: dict[str, list[float]], title: str = "training"):
    """Loss (and metric) curves per epoch (``chainrule.plots.plot_history``)."""
    from .. import plots

    fig = plots.plot_history(history)
    fig.suptitle(title)
    return fig


def figure_confusion(ui: UI, net, X, y_true, y_pred, class_names: Sequence, title: str = ""):
    """Counts of true class (rows) against predicted class (columns)."""
    from .. import plots

    labels = list(range(len(class_names)))
    fig = plots.plot_confusion_matrix(y_true, y_pred, labels=labels)
    ax = fig.axes[0]
    ax.set_xticks(labels, [str(c) for c in class_names])
    ax.set_yticks(labels, [str(c) for c in class_names])
    if title:
        fig.suptitle(title)
    return fig


def figure_boundary(ui: UI, net, X, y, class_names: Sequence, feature_names=None, title=""):
    """The classes a 2-input network assigns over the plane, with the points on top."""
    from types import SimpleNamespace

    from .. import plots, training

    # the grid is in the network's (standardised) inputs: predict without the stored preprocessing
    bare = SimpleNamespace(predict=lambda A: training.predict(net, A))
    fig = plots.plot_decision_boundary(
        bare, X, y, title=f"{title}: decision boundary" if title else "decision boundary"
    )
    names = feature_names or ["x1", "x2"]
    fig.axes[0].set_xlabel(f"{names[0]} (standardised)")
    fig.axes[0].set_ylabel(f"{names[1]} (standardised)")
    return fig


def figure_scatter(ui: UI, true, pred, target: str | None):
    """Predicted against true values of a regression."""
    Figure = _matplotlib()
    fig = Figure(figsize=(4.8, 4.5))
    ax = fig.subplots()
    ax.scatter(true, pred, s=10, alpha=0.6)
    lo, hi = float(min(np.min(true), np.min(pred))), float(max(np.max(true), np.max(pred)))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"true {target or ''}".strip())
    ax.set_ylabel("predicted")
    ax.set_title("predicted against true")
    fig.tight_layout()
    return fig


def figure_activations(ui: UI):
    """Every built-in elementwise activation and its derivative."""
    from .. import plots

    return plots.plot_activations()


def _require_matplotlib() -> None:
    if _matplotlib() is None:
        raise CLIError("plots need matplotlib: pip install 'chainrule[plots]'")
