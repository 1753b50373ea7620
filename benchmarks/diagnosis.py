"""How often is the diagnosis right? The labelled scenario suite, scored.

    python benchmarks/diagnosis.py                 # every scenario, seeds 0 1 2
    python benchmarks/diagnosis.py --seeds 0       # one seed
    python benchmarks/diagnosis.py --fast          # the CI subset only
    python benchmarks/diagnosis.py --only vanish   # scenarios whose name contains "vanish"

For each sick scenario (``benchmarks/diagnosis_scenarios.py``) the network is
trained with ``cr.Diagnostics``; the first problem verdict must be the
scenario's kind. Then the first remedy of that verdict is applied (same
seed) and the network must reach the scenario's target. Healthy networks
must get no problem verdict at all. The report prints, per kind, the
scenarios, recall (right kind first), precision (of the first verdicts of
that kind, how many were right), the false alarms on healthy networks and the
remedy success rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagnosis_scenarios import KINDS, SCENARIOS, run  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--fast", action="store_true", help="only the scenarios the tests run")
    p.add_argument("--only", default=None, help="only scenarios whose name contains this")
    p.add_argument("--quiet", action="store_true", help="no line per scenario")
    args = p.parse_args(argv)
    chosen = [s for s in SCENARIOS if (not args.fast or s.fast)]
    if args.only:
        chosen = [s for s in chosen if args.only in s.name]
    t0 = time.perf_counter()
    outcomes = []
    for sc in chosen:
        for seed in args.seeds:
            o = run(sc, seed)
            outcomes.append(o)
            if not args.quiet:
                mark = "ok " if o.correct else "MISS"
                rem = ""
                if o.remedy:
                    rem = (f"  remedy {o.remedy}: {sc.target[0]} {o.score_before:.3g} -> "
                           f"{o.score_after:.3g} {'reached' if o.remedy_ok else 'NOT reached'}")  # fmt: skip
                print(f"{mark} {sc.name:34s} seed {seed}  expected {sc.kind or 'healthy':24s} "
                      f"got {o.verdicts or 'healthy'}{rem}  ({o.seconds:.1f}s)", flush=True)  # fmt: skip
                if not o.correct:
                    for t in o.texts:
                        print(f"       {t}")
    print()
    print(report(outcomes))
    print(f"\n{len(outcomes)} runs in {time.perf_counter() - t0:.0f} s "
          f"(seeds {' '.join(map(str, args.seeds))}, pid {os.getpid()})")  # fmt: skip
    return 0


def report(outcomes) -> str:
    """The table: per kind scenarios, recall, precision; false alarms; remedy success."""
    by_kind = defaultdict(list)
    firsts = defaultdict(list)
    for o in outcomes:
        by_kind[o.kind].append(o)
        if o.first:
            firsts[o.first].append(o)
    lines = [f"{'kind':24s} {'scenarios':>9s} {'runs':>5s} {'recall':>7s} {'precision':>9s} "
             f"{'remedy ok':>9s}"]  # fmt: skip
    lines.append("-" * len(lines[0]))
    all_rem = []
    for kind in KINDS:
        runs = by_kind.get(kind, [])
        if not runs:
            continue
        n_sc = len({o.scenario for o in runs})
        hit = sum(o.correct for o in runs)
        called = firsts.get(kind, [])
        prec = sum(o.kind == kind for o in called) / len(called) if called else float("nan")
        rem = [o.remedy_ok for o in runs if o.remedy_ok is not None]
        all_rem += [bool(o.remedy_ok) for o in runs]
        lines.append(f"{kind:24s} {n_sc:9d} {len(runs):5d} {hit / len(runs):7.0%} {prec:9.0%} "
                     f"{sum(rem) / len(runs):9.0%}")  # fmt: skip
    healthy = by_kind.get(None, [])
    lines.append("-" * len(lines[0]))
    if healthy:
        alarms = [o for o in healthy if o.first]
        lines.append(
            f"healthy networks: {len({o.scenario for o in healthy})} scenarios, "
            f"{len(healthy)} runs, false alarms {len(alarms)}"
            + (f" ({', '.join(sorted({o.scenario for o in alarms}))})" if alarms else "")
        )
        fits = sum(o.target_met_before for o in healthy)
        lines.append(f"healthy networks that reached their own target: {fits}/{len(healthy)}")
    sick = [o for o in outcomes if o.kind]
    if sick:
        met = [o for o in sick if o.target_met_before]
        lines.append(
            f"sick runs that met their target before any remedy: {len(met)}"
            + (f" ({', '.join(sorted({o.scenario for o in met}))})" if met else "")
        )
        hit = sum(o.correct for o in sick)
        lines.append(f"sick runs: {len(sick)}, right first verdict {hit} ({hit / len(sick):.0%}), "
                     f"first remedy reached the target {sum(all_rem)} "
                     f"({sum(all_rem) / len(sick):.0%})")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
