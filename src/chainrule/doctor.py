"""``cr.doctor``: diagnose a training run, apply the first remedy, retrain, compare.

>>> import chainrule as cr
>>> X, y = cr.datasets.moons(300, noise=0.1, seed=0)
>>> def make():
...     bias = cr.initializers.Constant(-5.0)
...     return cr.Sequential(cr.Dense(2, 32, activation="relu", bias_init=bias),
...                          cr.Dense(32, 1), seed=0)
>>> result = cr.doctor(make, X, y, {"loss": "binary_cross_entropy", "lr": 0.01, "epochs": 40})
>>> result.verdict.kind, result.remedy.name
('dead_relu', 'zero_bias')
>>> result.after_loss < result.before_loss / 10
True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .diagnostics import Diagnostics, verdict_lines
from .remedies import NotApplicable, Remedy, Treatment
from .verdicts import Verdict

__all__ = ["DoctorResult", "doctor"]


@dataclass
class DoctorResult:
    """Before and after: the verdicts, the remedy applied, and both training runs.

    Attributes
    ----------
    before, after : list of Verdict
        The records of the first and the treated run.
    verdict : Verdict or None
        The first problem of the first run (None when it was healthy).
    remedy : Remedy or None
        The remedy applied: the verdict's first that this network can take
        (a graph network cannot take ``wider``; ``notes`` says why).
    history_before, history_after : dict
        ``fit``'s per-epoch numbers of both runs.
    net : Sequential
        The treated network (the first one when nothing was wrong).
    treatment : Treatment or None
        What ``remedy.apply`` returned (its ``transform`` rescales new inputs).
    baseline : float or None
        The loss of the best constant prediction, for scale.
    notes : list of str
        Remarks on the runs, in words.
    """

    before: list[Verdict]
    after: list[Verdict]
    verdict: Verdict | None
    remedy: Remedy | None
    history_before: dict[str, list[float]]
    history_after: dict[str, list[float]]
    net: Any
    treatment: Treatment | None = None
    baseline: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def before_loss(self) -> float:
        return float(self.history_before["loss"][-1]) if self.history_before.get("loss") else np.nan

    @property
    def after_loss(self) -> float:
        return float(self.history_after["loss"][-1]) if self.history_after.get("loss") else np.nan

    @property
    def cured(self) -> bool:
        """True when the treated run has no problem verdict."""
        return not any(v.is_problem for v in self.after)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of both runs' verdicts and final losses."""
        return {
            "before": [v.to_dict() for v in self.before],
            "after": [v.to_dict() for v in self.after],
            "remedy": self.remedy.to_dict() if self.remedy else None,
            "before_loss": self.before_loss,
            "after_loss": self.after_loss,
            "cured": self.cured,
        }

    def __str__(self) -> str:
        out = [f"before: final training loss {self.before_loss:.4g}"]
        out += ["  " + line for line in verdict_lines(self.before)]
        out += [f"note: {note}" for note in self.notes]
        if self.remedy is None:
            out.append("no remedy applies to this network." if self.notes else "nothing to treat.")
            return "\n".join(out)
        out.append(f"applied: {self.remedy.name}: {self.remedy.python}")
        out.append(f"after: final training loss {self.after_loss:.4g}")
        out += ["  " + line for line in verdict_lines(self.after)]
        return "\n".join(out)


def _train(net, X, y, kw: dict, seed: int | None, transform=None):
    diag = Diagnostics()
    kw = dict(kw)
    kw["callbacks"] = [*kw.get("callbacks", []), diag]
    if transform is not None:
        X = transform(X)
        if kw.get("validation_data") is not None:
            Xv, yv = kw["validation_data"]
            kw["validation_data"] = (transform(Xv), yv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a diverging run is part of the story, not an error
        history = net.fit(X, y, seed=seed, **kw)
    return history.history, diag


def doctor(
    make_net: Callable[[], Any],
    X,
    y,
    fit_kwargs: dict[str, Any] | None = None,
    seed: int | None = 0,
) -> DoctorResult:
    """Train, diagnose, apply the first remedy of the first problem, retrain, compare.

    Works on a ``Sequential`` and on a graph ``Network`` alike: a remedy that
    changes the network rebuilds it with the same wiring (``remedies.rebuild``);
    one that cannot apply to it (``wider`` on a graph) is skipped with a note.

    Parameters
    ----------
    make_net : callable
        Returns a fresh network each call (give it a fixed seed, so the two
        runs start alike except for the remedy).
    X, y : array-like
        Training data.
    fit_kwargs : dict or None
        ``net.fit`` settings (``loss``, ``optimizer``, ``lr``, ``epochs``,
        ``validation_data``...). The remedy changes a copy.
    seed : int or None
        The fit seed of both runs (shuffling, validation split).

    Returns
    -------
    DoctorResult
        ``str(result)`` shows both runs' verdicts and the remedy applied.
    """
    kw = dict(fit_kwargs or {})
    net = make_net()
    hist, diag = _train(net, X, y, kw, seed)
    before = diag.records()
    problems = [v for v in before if v.is_problem]
    if not problems or not problems[0].remedies:
        return DoctorResult(before, before, None, None, hist, hist, net, baseline=diag.baseline)
    verdict = problems[0]
    notes = []
    for remedy in verdict.remedies:  # the first one this network can take
        try:
            treatment = remedy.apply(make_net(), kw, X=X)
            break
        except NotApplicable as why:
            notes.append(f"{remedy.name} not applied: {why}")
    else:
        return DoctorResult(before, before, verdict, None, hist, hist, net,
                            baseline=diag.baseline, notes=notes)  # fmt: skip
    hist2, diag2 = _train(treatment.net, X, y, treatment.fit_kwargs, seed, treatment.transform)
    return DoctorResult(before, diag2.records(), verdict, remedy, hist, hist2, treatment.net,
                        treatment, diag.baseline, notes)  # fmt: skip
