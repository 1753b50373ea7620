"""``benchmarks/tabular.py --quick`` runs end to end (a smoke test: 2 small tables, 2 folds)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("pandas")
pytest.importorskip("threadpoolctl")
pytest.importorskip("safetensors")

ROOT = Path(__file__).resolve().parent.parent


def test_quick_panel_reports_every_contender(capsys):
    spec = importlib.util.spec_from_file_location(
        "tabular_bench", ROOT / "benchmarks" / "tabular.py"
    )
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("| table"))
    assert header.split("|")[4:-1] == [f" {c} " for c in bench.CONTENDERS]
    iris = next(line for line in out.splitlines() if line.startswith("| iris"))
    means = [float(m) for m in re.findall(r"(\d\.\d{3}) ±", iris)]
    assert len(means) == 5 and all(m > 0.75 for m in means), iris  # 120 iris rows, 2 folds
    diabetes = next(line for line in out.splitlines() if line.startswith("| diabetes"))
    cells = diabetes.split("|")[4:-1]
    # chainrule standardises the regression target; scikit-learn's MLP default does not
    cr_est, sk_mlp = (float(cells[i].split("±")[0]) for i in (0, 2))
    assert cr_est > -0.5 > sk_mlp, diabetes  # 60 training rows: R^2 near 0 against -3.8
