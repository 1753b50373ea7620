"""``chainrule summary``, ``plot``, ``diagnose`` and ``export``: look inside a model file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .errors import CLIError, _one_line, _optional_module
from .figures import (
    _require_matplotlib,
    figure_activations,
    figure_boundary,
    figure_confusion,
    figure_history,
    figure_scatter,
    save_figure,
)
from .fitting import _describe_preprocessing
from .predict import _labelled
from .tables import _check_out_folder, _ModelData, _size, load_model, read_table
from .ui import UI


def cmd_summary(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule summary``: what a model file holds."""
    from ..serialization import read_metadata

    net = load_model(args.model)
    meta = read_metadata(args.model)
    model = _ModelData(net)
    arch = meta["architecture"]
    history = meta.get("history") or {}
    last = {k: v[-1] for k, v in history.items() if v}
    pre = model.pre
    if args.json:
        info: dict[str, Any] = {
            "model": str(args.model),
            "format_version": meta["format_version"],
            "chainrule_version": arch.get("chainrule_version"),
            "dtype": arch.get("dtype"),
            "loss": net.loss_,
            "task": model.task,
            "n_inputs": net.n_features_in,
            "n_outputs": net.n_outputs,
            "n_parameters": net.n_parameters(),
            "layers": arch["layers"],
            "target": model.target,
            "classes": model.classes if model.task == "classify" else None,
            "columns": None
            if pre is None
            else [{"name": c["name"], "kind": c["kind"]} for c in pre.columns],
            "epochs_trained": max((len(v) for v in history.values()), default=0),
            "last_epoch": last,
            "checkpoint": meta.get("optimizer") is not None,
        }
        ui.out(json.dumps(info, indent=2))
        return 0
    path = Path(args.model)
    ui.out(
        f"model: {path} ({_size(path)}, format {meta['format_version']}, written by chainrule "
        f"{arch.get('chainrule_version', '?')})",
        style="bold",
    )
    ui.out(f"task: {model.task}, loss {net.loss_ or 'none (never fitted)'}, dtype {net.dtype}")
    if pre is not None:
        ui.out(
            f"target: {pre.target!r}"
            + (
                f", {len(pre.classes)} classes: {', '.join(map(str, pre.classes[:10]))}"
                f"{', ...' if len(pre.classes) > 10 else ''}"
                if pre.classes is not None
                else ""
            )
        )
        ui.out(_describe_preprocessing(pre))
    elif getattr(net, "preprocessing_", None):  # a plain scaling, by input and output name
        from .graph_predict import describe_scaling

        ui.out(describe_scaling(net))
    else:
        ui.out("preprocessing: none stored (inputs go to the network as they are)")
    if last:
        epochs = max(len(v) for v in history.values())
        ui.out(
            f"trained: {epochs} epoch(s); last epoch: "
            + "  ".join(f"{k}={v:.4g}" for k, v in last.items())
        )
    if meta.get("optimizer") is not None:
        ui.out(f"checkpoint: optimizer state stored ({meta['optimizer'].get('name')})")
    ui.out("")
    ui.out(net.summary())
    return 0


def cmd_plot(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule plot``: one figure to an image file."""
    from .. import training

    _require_matplotlib()
    if args.what == "activations" and not Path(args.what).is_file():
        out = _check_out_folder(args.out or "activations.png")
        save_figure(figure_activations(ui), out)
        ui.out(f"wrote {out}")
        return 0
    model = _ModelData(load_model(args.what))
    kind = args.kind or (
        "loss" if args.data is None else ("confusion" if model.task == "classify" else "scatter")
    )
    out = _check_out_folder(args.out or f"{kind}.png")
    if kind == "loss":
        history = getattr(model.net, "history_", None)
        if not history:
            raise CLIError(
                f"{args.what} stores no training history (train it with chainrule "
                "train); give DATA for another kind of plot"
            )
        fig = figure_history(ui, history, title=Path(args.what).stem)
    else:
        if args.data is None:
            raise CLIError(
                f"--kind {kind} needs DATA with labels: chainrule plot MODEL DATA --kind {kind}",
                code=2,
            )
        df = read_table(args.data)
        X, y, target = _labelled(model, df, args.target, ui, args.data)
        answers = training.predict(model.net, X)
        if kind in ("confusion", "boundary") and model.task != "classify":
            raise CLIError(f"--kind {kind} is for classifiers; this model is a regressor", code=2)
        if kind == "scatter" and model.task != "regress":
            raise CLIError("--kind scatter is for regressors; use --kind confusion", code=2)
        if kind == "scatter" and len(model.targets) > 1:
            raise CLIError(
                f"--kind scatter draws one target, this model predicts {len(model.targets)}; "
                "write the predictions with 'chainrule predict' and plot each column",
                code=2,
            )
        if kind == "confusion":
            fig = figure_confusion(
                ui, model.net, X, y, answers, model.classes, title=Path(args.what).stem
            )
        elif kind == "boundary":
            if X.shape[1] != 2:
                raise CLIError(
                    f"a decision boundary needs a model with 2 inputs; this one has {X.shape[1]}"
                )
            names = model.pre.feature_names if model.pre is not None else None
            fig = figure_boundary(
                ui, model.net, X, y, model.classes, names, title=Path(args.what).stem
            )
        else:
            fig = figure_scatter(ui, model.true_values(y), model.decode(answers), target)
    save_figure(fig, out)
    ui.out(f"wrote {out}")
    return 0


def cmd_diagnose(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule diagnose``: chainrule.diagnostics.diagnose on labelled data."""
    diagnostics = _optional_module("diagnostics", "diagnostics")
    model = _ModelData(load_model(args.model))
    if not model.net.loss_:
        raise CLIError(
            f"{args.model} was never trained (it stores no loss) so it cannot be diagnosed"
        )
    model.refuse_multi_io()  # before --target is read as one column per target
    df = read_table(args.data)
    X, y, _ = _labelled(model, df, args.target, ui, args.data)
    # judged with the training history the model file keeps (net.history_), if any
    report = diagnostics.diagnose(model.net, X, y, model.net.loss_)
    ui.out(report.format("cli"))
    if not getattr(model.net, "history_", None):
        ui.out("(no training history in the model file: judged on this batch alone)")
    return 0


def cmd_export(args: argparse.Namespace, ui: UI) -> int:
    """``chainrule export``: chainrule.export.to_onnx / to_torch."""
    export = _optional_module("export", "exporters")
    out = _check_out_folder(args.out)
    net = load_model(args.model)
    try:
        if args.to == "onnx":
            export.to_onnx(net, str(out), preprocessing=args.preprocessing)
            ui.out(f"wrote {out} (ONNX)")
            return 0
        module = export.to_torch(net, preprocessing=args.preprocessing)
    except ValueError as exc:  # the library names its argument; here the flag is the fix
        raise ValueError(str(exc).replace("preprocessing=False", "--no-preprocessing")) from None
    import torch

    from ..atomic import write_atomic

    try:
        scripted = torch.jit.script(module.eval())
        write_atomic(out, lambda f: torch.jit.save(scripted, f))
        how = "torch.jit.load"
    except Exception as exc:  # scripting unsupported: save the whole module
        if isinstance(exc, OSError):
            raise
        ui.detail(f"TorchScript failed ({_one_line(exc)}); saving with torch.save")
        write_atomic(out, lambda f: torch.save(module, f))
        how = "torch.load(..., weights_only=False)"
    ui.out(f"wrote {out} (PyTorch; load it with {how})")
    return 0
