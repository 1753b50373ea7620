"""Building and training a network for the commands (train, tune, demo)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from .errors import CLIError
from .ui import UI

CLASSIFY_LOSSES = ("cross_entropy", "binary_cross_entropy", "hinge")


REGRESS_LOSSES = ("mse", "mae", "huber")

#: ``train`` refits on every row by default up to this many rows: the refit
#: is a second training run (on 50,000 rows of 20 numbers, 1.4 s after a 2.1 s
#: hold-out run), and the 20% more rows it trains on matter less the more
#: rows there are.
REFIT_MAX_ROWS = 50_000


def _progress(ui: UI, epochs: int, desc: str):
    from ..progress import ProgressBar

    return ProgressBar(epochs, mode=ui.progress_mode, desc=desc)


def build_network(n_inputs: int, hidden: Sequence[int], activation: str, n_outputs: int, seed):
    """An MLP: ``Dense`` layers of widths ``hidden`` with ``activation``, then a linear output."""
    from ..recipe import build_mlp

    return build_mlp(n_inputs, hidden, activation, n_outputs, seed=seed)


def _choose_loss(args, task: str, n_classes: int) -> tuple[str, int]:
    """The loss name and the number of network outputs."""
    if task == "classify":
        loss = args.loss or "cross_entropy"
        if loss not in CLASSIFY_LOSSES:
            raise CLIError(
                f"--loss {loss} is a regression loss but the task is classify; use one of "
                f"{', '.join(CLASSIFY_LOSSES)} (or --task regress)",
                code=2,
            )
        if loss == "binary_cross_entropy":
            if n_classes != 2:
                raise CLIError(
                    f"--loss binary_cross_entropy needs two classes, the target has {n_classes}; "
                    "use cross_entropy",
                    code=2,
                )
            return loss, 1
        if loss == "hinge" and n_classes == 2:
            return loss, 1
        return loss, n_classes
    loss = args.loss or "mse"
    if loss not in REGRESS_LOSSES:
        raise CLIError(
            f"--loss {loss} is a classification loss but the task is regress; use one of "
            f"{', '.join(REGRESS_LOSSES)} (or --task classify)",
            code=2,
        )
    return loss, 1


def _describe_preprocessing(pre) -> str:
    numeric = [c["name"] for c in pre.columns if c["kind"] == "numeric"]
    categorical = [c for c in pre.columns if c["kind"] == "categorical"]
    parts = [f"{len(numeric)} numeric"]
    if categorical:
        cats = ", ".join(f"{c['name']} ({len(c['categories'])})" for c in categorical[:6])
        parts.append(
            f"{len(categorical)} categorical: {cats}{', ...' if len(categorical) > 6 else ''}"
        )
    return f"inputs: {'; '.join(parts)} -> {pre.n_features} network inputs (standardised)"


def _fit(
    ui: UI,
    net,
    X,
    y,
    *,
    loss,
    optimizer,
    lr,
    epochs,
    batch_size,
    validation,
    metrics,
    seed,
    desc="training",
    patience=None,
    extra_callbacks=(),
    sample_weight=None,
    l2=0.0,
):
    from ..callbacks import EarlyStopping

    callbacks = [*extra_callbacks, _progress(ui, epochs, desc)]
    if patience is not None and validation is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=patience))
    with warnings.catch_warnings():  # divergence is reported once, by the caller
        warnings.filterwarnings("ignore", message="training diverged")
        return net.fit(
            X,
            y,
            loss=loss,
            optimizer=optimizer,
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation,
            metrics=metrics,
            callbacks=callbacks,
            seed=seed,
            sample_weight=sample_weight,
            l2=l2,
        )


def _recipe_training(args, net, n_train: int, validation):
    """The default recipe's optimizer, budget and callbacks for ``chainrule train``.

    Adam (or the chosen optimizer) at ``--lr`` (default 2e-3 for adam/adamw),
    ``--batch-size`` and ``--epochs`` scaled with the rows, a warm-up then
    cosine schedule, and with a validation split the weights of the epoch with
    the lowest validation loss restored at the end (``chainrule.recipe``).
    """
    from .. import recipe
    from ..optimizers import get_optimizer

    bs = min(args.batch_size or recipe.batch_size_for(n_train), n_train)
    epochs = args.epochs or recipe.epoch_budget(n_train, bs)
    kwargs = {}
    if args.optimizer in ("adam", "adamw"):
        kwargs["betas"] = recipe.DEFAULTS["betas"]
        lr = args.lr if args.lr is not None else recipe.DEFAULTS["lr"]
    else:
        lr = args.lr
    if lr is not None:
        kwargs["lr"] = lr
    if args.weight_decay:
        kwargs["weight_decay"] = args.weight_decay
    opt = get_optimizer(args.optimizer, net.parameters(), **kwargs)
    callbacks = []
    if args.schedule == "warmup_cosine":
        steps = epochs * -(-n_train // bs)
        callbacks.append(recipe.WarmupCosine(opt.lr, steps, recipe.DEFAULTS["warmup"]))
    best = recipe.RestoreBest("val_loss") if validation is not None else None
    if best is not None:
        callbacks.append(best)
    return opt, bs, epochs, callbacks, best


def _save_model(net, out: Path, optimizer=None) -> None:
    """``serialization.save`` (atomic), with a one-line message when the write fails."""
    from ..serialization import save

    existed = out.exists()
    try:
        save(net, out, optimizer=optimizer)
    except OSError as exc:
        from ..atomic import SaveError

        kept = "the previous file is unchanged" if existed else "nothing was written"
        if isinstance(exc, SaveError):  # already says "could not save <out>: <why>"
            raise CLIError(f"{exc}; {kept}") from exc
        reason = exc.strerror or str(exc)
        raise CLIError(f"could not save {out}: {reason}; {kept}") from exc
