"""``chainrule demo``: train on built-in data and write plots, models and a CSV."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import CLIError, _optional_module
from .figures import _matplotlib, figure_boundary, figure_confusion, figure_history, save_figure
from .fitting import _fit, build_network
from .tables import _atomic_write_text, _ModelData, _pandas
from .ui import UI


def _demo_frame(X: np.ndarray, y: np.ndarray, names: Sequence[str], target: str):
    pd = _pandas()
    df = pd.DataFrame(X, columns=list(names))
    df[target] = y
    return df


def _demo_model(ui, df, target, hidden, activation, epochs, lr, seed, test_fraction, desc):
    """Preprocess, split, train; returns (model data, history, splits)."""
    from ..preprocessing import Preprocessor

    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(df))
    n_test = int(round(len(df) * test_fraction))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    pre = Preprocessor(target=target, task="classify").fit(df, rows=train)
    X, y = pre.transform(df), pre.encode_target(df[target])
    net = build_network(pre.n_features, hidden, activation, len(pre.classes), seed)
    net.preprocessing_ = pre.to_dict()
    # a validation set for the loss curve, carved at random out of the training rows
    n_val = max(1, len(train) // 10)
    shuffled = rng.permutation(train)
    val, fit_rows = np.sort(shuffled[:n_val]), np.sort(shuffled[n_val:])
    history = _fit(
        ui,
        net,
        X[fit_rows],
        y[fit_rows],
        loss="cross_entropy",
        optimizer="adam",
        lr=lr,
        epochs=epochs,
        batch_size=32,
        validation=(X[val], y[val]),
        metrics=["accuracy"],
        seed=seed,
        desc=desc,
    )
    net.history_ = history.history
    return _ModelData(net), history, (X[train], y[train]), (X[test], y[test])


def cmd_demo(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule demo``: digits (accuracy, confusion, diagnosis) and spirals (boundary)."""
    from .. import datasets, training
    from ..serialization import save

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    has_plots = _matplotlib() is not None
    if not has_plots:
        ui.warn("matplotlib is not installed: no plots (pip install 'chainrule[plots]')")
    written: list[Path] = []
    t_start = time.perf_counter()

    # 1. handwritten digits: a real classification task ----------------------------------
    try:
        Xd, yd = datasets.digits()
    except ImportError:
        raise CLIError(
            "the demo's digits data ships with scikit-learn: pip install 'chainrule[cli]'"
        ) from None
    ui.out("1. handwritten digits (8x8 pixels, 10 classes, from scikit-learn)", style="bold")
    df = _demo_frame(Xd, yd, [f"pixel_{i}" for i in range(Xd.shape[1])], "digit")
    digits, history, _, (Xt, yt) = _demo_model(
        ui, df, "digit", [64], "relu", args.epochs or 30, 1e-3, args.seed, 0.25, "digits"
    )
    pred = training.predict(digits.net, Xt)
    accuracy = float(np.mean(pred == yt))
    ui.out(
        f"   network: 64 -> 64 (relu) -> 10, {digits.net.n_parameters():,} parameters, "
        f"{len(history)} epochs"
    )
    ui.out(f"   test accuracy: {accuracy:.1%} on {len(yt)} unseen images", style="green")
    written.append(save(digits.net, out / "digits.safetensors"))
    if has_plots:
        written.append(
            save_figure(figure_history(ui, history.history, "digits"), out / "digits_loss.png")
        )
        written.append(
            save_figure(
                figure_confusion(ui, digits.net, Xt, yt, pred, digits.classes, "digits (test)"),
                out / "digits_confusion.png",
            )
        )
    try:
        diagnostics = _optional_module("diagnostics", "diagnostics")
    except CLIError as exc:
        ui.out(f"   diagnosis: {exc}")
    else:
        ui.out("   diagnosis:")
        report = diagnostics.diagnose(digits.net, Xt, yt, "cross_entropy")
        ui.out("\n".join(f"     {line}" for line in str(report).splitlines()))

    # 2. two spirals: a decision boundary no straight line can draw ------------------------
    ui.out("2. two spirals (2-D points, 2 classes: a boundary no line can draw)", style="bold")
    Xs, ys = datasets.spirals(n_samples=600, noise=0.1, seed=args.seed)
    df = _demo_frame(Xs, ys, ["x1", "x2"], "arm")
    spirals, history, (Xtr, ytr), (Xt, yt) = _demo_model(
        ui, df, "arm", [64, 64], "tanh", args.epochs or 300, 1e-2, args.seed, 0.2, "spirals"
    )
    accuracy = float(np.mean(training.predict(spirals.net, Xt) == yt))
    ui.out(f"   network: 2 -> 64 -> 64 (tanh) -> 2, {len(history)} epochs")
    ui.out(f"   test accuracy: {accuracy:.1%} on {len(yt)} unseen points", style="green")
    written.append(save(spirals.net, out / "spirals.safetensors"))
    csv_path = out / "spirals.csv"
    _atomic_write_text(csv_path, df.to_csv(index=False))
    written.append(csv_path)
    if has_plots:
        written.append(
            save_figure(figure_history(ui, history.history, "spirals"), out / "spirals_loss.png")
        )
        written.append(
            save_figure(
                figure_boundary(
                    ui,
                    spirals.net,
                    np.r_[Xtr, Xt],
                    np.r_[ytr, yt],
                    spirals.classes,
                    ["x1", "x2"],
                    "spirals",
                ),
                out / "spirals_boundary.png",
            )
        )

    ui.out(
        f"wrote {len(written)} files to {out}/ in {time.perf_counter() - t_start:.1f}s:",
        style="bold",
    )
    for path in written:
        ui.out(f"   {path}")
    ui.out("next:")
    ui.out(f"   chainrule summary {out / 'digits.safetensors'}")
    ui.out(
        f"   chainrule train {csv_path} --target arm --hidden 64,64 --activation tanh "
        "--epochs 200 --lr 0.01"
    )
    ui.out("   chainrule plot activations --out activations.png")
    return 0
