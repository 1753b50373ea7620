"""The labelled scenario suite, fast subset: the right verdict first, and a remedy that works.

The scenarios live in ``benchmarks/diagnosis_scenarios.py`` (shared with
``benchmarks/diagnosis.py``, which runs all of them with three seeds). Each
sick one was provoked on purpose (a learning rate of 1.0, biases of -5,
weights from N(0, 1) on ten sigmoid layers...): its first problem verdict must
name that cause, and applying that verdict's first remedy (same seed) must
reach the scenario's stated target. Each healthy one must get no problem
verdict, and must indeed reach its target.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "diagnosis_scenarios", ROOT / "benchmarks" / "diagnosis_scenarios.py"
)
scenarios = importlib.util.module_from_spec(_spec)
sys.modules["diagnosis_scenarios"] = scenarios
_spec.loader.exec_module(scenarios)

FAST = [s for s in scenarios.SCENARIOS if s.fast]


def test_the_suite_is_as_large_as_promised():
    sick = [s for s in scenarios.SCENARIOS if s.kind]
    healthy = [s for s in scenarios.SCENARIOS if s.kind is None]
    assert len(sick) >= 30 and len(healthy) >= 15
    kinds = {s.kind for s in sick}
    assert kinds == set(scenarios.KINDS) and len(kinds) == 10
    for kind in kinds:
        assert sum(s.kind == kind for s in sick) >= 3, kind
    # the CI subset covers every kind and some healthy networks
    assert {s.kind for s in FAST} == kinds | {None}


@pytest.mark.parametrize("sc", [s for s in FAST if s.kind], ids=lambda s: s.name)
def test_sick_scenario_gets_the_right_first_verdict_and_its_remedy_works(sc):
    out = scenarios.run(sc, seed=0)
    assert not out.target_met_before, "the provocation must actually hurt"
    assert out.first == sc.kind, out.texts
    assert out.remedy_ok, (out.remedy, out.score_after, sc.target)


@pytest.mark.parametrize("sc", [s for s in FAST if s.kind is None], ids=lambda s: s.name)
def test_healthy_scenario_gets_no_problem_verdict(sc):
    out = scenarios.run(sc, seed=0)
    assert out.target_met_before, (out.score_before, sc.target)
    assert out.verdicts == [], out.texts
