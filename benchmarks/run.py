"""chainrule against PyTorch CPU, scikit-learn and the NumPy matmul ceiling, in one run.

    python benchmarks/run.py                    # issue 3's workload, 5 interleaved rounds
    python benchmarks/run.py --mnist            # the real MNIST, 3 epochs, with test accuracy
    python benchmarks/run.py --scaling          # plus epoch time against rows, width, dtype
    python benchmarks/run.py --quick            # tiny sizes, one round (a smoke test)

Every measurement runs in a fresh process (``worker.py``); the contenders are
interleaved round by round (A, B, C, A, B, C, ...) on the same data, dtype and
thread count. ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are removed from
the workers' environment only. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.py"
UNSET_IN_WORKERS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
OPTIMIZERS = {"sgd": "SGD momentum 0.9, lr 0.01", "adam": "Adam, lr 1e-3"}
NAMES = {
    "chainrule": "chainrule",
    "chainrule_numpy": "chainrule, NumPy kernels only",
    "torch": "PyTorch eager",
    "torch_fused": "PyTorch eager fused=True",
    "sklearn": "scikit-learn MLP",
}

GOALS = [
    # (label, row, reference row, target ratio): row median / reference median <= target
    ("fit epoch, SGD momentum vs PyTorch", "train/chainrule/sgd", "train/torch/sgd", 0.75),
    ("fit epoch, Adam vs PyTorch", "train/chainrule/adam", "train/torch/adam", 0.75),
    ("fit epoch, SGD momentum vs scikit-learn", "train/chainrule/sgd", "train/sklearn/sgd", 0.7),
    ("fit epoch, Adam vs scikit-learn", "train/chainrule/adam", "train/sklearn/adam", 0.7),
    ("predict 1 row vs PyTorch", "predict1/chainrule", "predict1/torch", 0.25),
    ("predict many rows vs PyTorch", "predictN/chainrule", "predictN/torch", 0.8),
]
MATMUL_SHARE_GOAL = 0.8


# -- configuration ----------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--rows", type=int, help="training rows (default 60000; --quick 512)")
    p.add_argument("--test-rows", type=int, help="test rows, also the big predict (default 10000)")
    p.add_argument("--epochs", type=int, help="epochs per timed fit (default 1; --mnist 3)")
    p.add_argument("--repeats", type=int, help="interleaved rounds (default 5; --quick 1)")
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP/torch threads (default 2)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", help="hidden widths, comma separated (default 256,128)")
    p.add_argument("--warmup-batches", type=int, help="untimed warm-up batches (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny sizes and one round: a smoke test")
    p.add_argument("--mnist", action="store_true", help="train and test on the real MNIST files")
    p.add_argument(
        "--mnist-dir",
        help="directory of the MNIST IDX files "
        "(default ../shared/data/mnist from the repository root)",
    )
    p.add_argument(
        "--scaling",
        action="store_true",
        help="also chainrule's epoch time against rows, width and float64",
    )
    p.add_argument(
        "--contenders",
        default="chainrule,torch,sklearn",
        help="comma separated subset of chainrule,torch,sklearn",
    )
    p.add_argument("--no-predict", action="store_true", help="skip the predict measurements")
    p.add_argument(
        "--no-numpy-kernels",
        dest="numpy_kernels",
        action="store_false",
        help="skip the extra chainrule rows that use the NumPy kernels only (no Numba)",
    )
    p.add_argument("--json", metavar="OUT", help="also write every number to this JSON file")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per worker")
    p.add_argument(
        "--contended",
        type=float,
        default=0.25,
        help="a measurement during which other processes kept more than this many cores busy "
        "is contended (default 0.25)",
    )
    p.add_argument(
        "--slow-canary",
        type=float,
        default=1.3,
        help="a measurement whose matmul canary ran more than this many times slower than the "
        "run's fastest is disturbed (default 1.3)",
    )
    p.add_argument(
        "--retries", type=int, help="re-runs of a disturbed measurement (default 2; --quick 0)"
    )
    p.add_argument(
        "--max-wait",
        type=float,
        help="seconds to wait for a quiet machine before each measurement (default 20; --quick 0)",
    )
    args = p.parse_args(argv)

    def default(value, normal, small):
        if value is not None:
            return value
        return small if args.quick else normal

    quick = args.quick
    args.rows = default(args.rows, 60000, 512)
    args.test_rows = default(args.test_rows, 10000, 256)
    args.epochs = args.epochs if args.epochs is not None else (3 if args.mnist else 1)
    args.repeats = default(args.repeats, 5, 1)
    args.hidden = [int(h) for h in default(args.hidden, "256,128", "32,16").split(",") if h]
    args.warmup_batches = default(args.warmup_batches, 5, 2)
    args.retries = default(args.retries, 2, 0)
    args.max_wait = default(args.max_wait, 20.0, 0.0)
    args.predict_calls = 50 if quick else 2000
    args.predict_big_calls = 3 if quick else 20
    args.gemm_n = 256 if quick else 2048
    args.scaling_rows = [256, 512] if quick else [10000, 30000, 60000, 120000]
    args.scaling_widths = [8, 32] if quick else [64, 256, 1024]
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(args.contenders) - {"chainrule", "torch", "sklearn"}
    if unknown:
        p.error(f"unknown contenders {sorted(unknown)}; choose from chainrule, torch, sklearn")
    if args.mnist:
        sys.path.insert(0, str(HERE))
        import mnist

        directory = Path(args.mnist_dir) if args.mnist_dir else mnist.default_dir()
        try:
            for stems in mnist.FILES.values():
                for stem in stems:
                    mnist.find(directory, stem)
        except FileNotFoundError as e:
            p.error(str(e))
        args.mnist_dir = str(directory)
        args.rows = min(args.rows, 60000)
        args.test_rows = min(args.test_rows, 10000)
    for name in ("rows", "test_rows", "epochs", "repeats", "threads", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def base_spec(args) -> dict:
    return {
        "rows": args.rows,
        "test_rows": args.test_rows,
        "hidden": args.hidden,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "warmup_batches": args.warmup_batches,
        "threads": args.threads,
        "dtype": "float32",
        "seed": args.seed,
        "data": "mnist" if args.mnist else "synthetic",
        "mnist_dir": args.mnist_dir,
        "predict_rows": args.test_rows,
        "predict_calls": args.predict_calls,
        "predict_big_calls": args.predict_big_calls,
        "gemm_n": args.gemm_n,
    }


def round_jobs(args) -> list[tuple[str, dict]]:
    """One round of the main comparison: (row key, worker spec), in interleaved order."""
    jobs = []
    for opt in OPTIMIZERS:
        for c in args.contenders:
            jobs.append((f"train/{c}/{opt}", {"kind": "train", "contender": c, "optimizer": opt}))
            if c == "chainrule" and args.numpy_kernels:
                spec = {"kind": "train", "contender": "chainrule_numpy", "optimizer": opt}
                jobs.append((f"train/chainrule_numpy/{opt}", spec))
            if c == "torch" and opt == "adam":
                spec = {"kind": "train", "contender": "torch_fused", "optimizer": opt}
                jobs.append(("train/torch_fused/adam", spec))
    jobs.append(("matmul", {"kind": "matmul"}))
    if not args.no_predict:
        for c in args.contenders:
            jobs.append((f"predict/{c}", {"kind": "predict", "contender": c, "optimizer": "sgd"}))
    return jobs


def scaling_jobs(args) -> list[tuple[str, dict]]:
    """chainrule (SGD momentum) against rows, hidden width and dtype, one round."""
    train = {"kind": "train", "contender": "chainrule", "optimizer": "sgd"}
    jobs = [(f"rows/{n}", {**train, "rows": n}) for n in args.scaling_rows]
    jobs += [(f"width/{w}", {**train, "hidden": [w]}) for w in args.scaling_widths]
    jobs.append(("dtype/float64", {**train, "dtype": "float64"}))
    jobs.append(("dtype/float32", dict(train)))
    jobs.append(("matmul/float64", {"kind": "matmul", "dtype": "float64"}))
    jobs.append(("matmul/float32", {"kind": "matmul"}))
    return jobs


# -- running workers ----------------------------------------------------------------
def worker_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in UNSET_IN_WORKERS}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_worker(spec: dict, env: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(WORKER), json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"exit code {proc.returncode}: " + " | ".join(tail)}


def system_busy_seconds() -> float:
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(threshold: float, max_wait: float) -> float:
    """Wait (at most ``max_wait`` s) until other processes use < ``threshold`` cores.

    Returns the last busy level seen, in cores (this runner itself is idle).
    """
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = system_busy_seconds(), time.monotonic()
        time.sleep(0.5)
        busy = (system_busy_seconds() - b0) / (time.monotonic() - t0)
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        time.sleep(1.0)


CANARY = {"best": math.inf}  # the fastest canary seen in this run: the machine at its best


class Canary:
    """A fixed batch of the workload's own matmul shape, timed in this (runner) process.

    Run just before and just after each worker, while nothing of ours runs
    beside it. Slowdowns from outside this virtual machine (neighbours on the
    host) leave /proc/stat clean but show here.
    """

    def __init__(self, threads: int):
        import numpy as np
        from threadpoolctl import threadpool_limits

        self.limits = threadpool_limits(threads)
        rng = np.random.default_rng(0)
        self.a = rng.random((128, 784), dtype=np.float32)
        self.w = rng.random((784, 256), dtype=np.float32)
        self.out = np.empty((128, 256), np.float32)
        self.matmul = np.matmul

    def __call__(self) -> float:
        self.matmul(self.a, self.w, out=self.out)
        t0 = time.perf_counter()
        for _ in range(40):  # 2 GFLOP: about 12 ms at full speed
            self.matmul(self.a, self.w, out=self.out)
        return time.perf_counter() - t0


def disturbance(res: dict, args) -> float:
    """Above 1: disturbed (other processes busy, or the canary ran slow)."""
    CANARY["best"] = min(CANARY["best"], res["canary"])
    res["canary_slowdown"] = res["canary"] / CANARY["best"]
    return max(res["foreign_cores"] / args.contended, res["canary_slowdown"] / args.slow_canary)


def measure(spec: dict, env: dict, args) -> dict:
    """One measurement; repeated (up to ``--retries``) when the machine was disturbed.

    A worker reports how many cores other processes kept busy during its timed
    part; a fixed matmul "canary" runs here just before and after it.
    With more than ``--contended`` foreign cores, or a canary more than
    ``--slow-canary`` times slower than the run's fastest, the measurement is
    retried after waiting for a quiet moment; the least disturbed attempt is kept.
    """
    best, best_score = None, math.inf
    for attempt in range(1 + args.retries):
        if args.max_wait > 0:
            wait_for_quiet(args.contended, args.max_wait)
        before = args.canary()
        res = run_worker(spec, env, args.timeout)
        if "error" in res:
            res["attempts"] = attempt + 1
            return res
        res["canary"] = (before + args.canary()) / 2
        score = disturbance(res, args)
        if score < best_score:
            best, best_score = res, score
        if score <= 1:
            break
    best["attempts"] = attempt + 1
    return best


def canary_slowdowns(results: list[dict]) -> None:
    """Canary slowdown of every result against the fastest canary of the whole run."""
    fastest = min((r["canary"] for r in results if "canary" in r), default=None)
    for r in results:
        if fastest and "canary" in r:
            r["canary_slowdown"] = r["canary"] / fastest


def run_rounds(jobs, args, env, label: str) -> dict[str, list[dict]]:
    """Run ``jobs`` round robin for ``args.repeats`` rounds; results by row key."""
    results: dict[str, list[dict]] = {key: [] for key, _ in jobs}
    base = base_spec(args)
    for r in range(args.repeats):
        for key, spec in jobs:
            t0 = time.perf_counter()
            res = measure({**base, **spec}, env, args)
            results[key].append(res)
            if "error" in res:
                what = f"error: {res['error']}"
            else:
                what = (
                    f"{fmt_seconds(res['time'])}  others used {res['foreign_cores']:.2f} cores,"
                    f" canary x{res['canary_slowdown']:.2f}  ({res['attempts']} attempt(s))"
                )
            print(
                f"  [{label} round {r + 1}/{args.repeats}] {key:<24} {what}"
                f"  ({time.perf_counter() - t0:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    return results


# -- statistics and formatting -----------------------------------------------------
def fmt_seconds(t: float | None) -> str:
    if t is None or not math.isfinite(t):
        return "n/a"
    if t >= 1:
        return f"{t:.3f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.1f} µs"


NOISY = 1.5  # max/min over rounds above this: another process probably competed


def fmt_spread(t: dict) -> str:
    """``min–max``, marked with ``!`` when the rounds disagree by more than ``NOISY``."""
    if not t.get("min"):
        return "n/a"
    mark = " !" if t["max"] / t["min"] > NOISY else ""
    return f"{fmt_seconds(t['min'])}–{fmt_seconds(t['max'])}{mark}"


def noise_note(rows: list[dict]) -> str | None:
    if any(r["time"].get("min") and r["time"]["max"] / r["time"]["min"] > NOISY for r in rows):
        return (
            f"! max/min over rounds above {NOISY}: another process probably competed for the "
            "CPU in some rounds; the median discounts them while they are a minority"
        )
    return None


def fmt_cores(stat: dict) -> str:
    return "n/a" if stat.get("median") is None else f"{stat['median']:.2f}"


def fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}x"


def summarize(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None, "values": []}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def ok(results: list[dict]) -> list[dict]:
    return [r for r in results if "error" not in r]


def stat_of(results: list[dict], field: str = "time", sub: str | None = None) -> dict:
    vals = []
    for r in ok(results):
        v = r[field] if sub is None else r[field][sub]
        if v is not None:
            vals.append(v)
    return summarize(vals)


def ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or not a.get("median") or not b.get("median"):
        return None
    return a["median"] / b["median"]


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]

    def line(r):
        cells = [str(r[0]).ljust(widths[0])]
        cells += [str(v).rjust(w) for v, w in zip(r[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def build_rows(results: dict[str, list[dict]], args) -> dict[str, dict]:
    """Summary statistics for every row of the main table, keyed like the goals."""
    rows: dict[str, dict] = {}
    for key, res in results.items():
        if key.startswith("train/"):
            _, contender, opt = key.split("/")
            rows[key] = {
                "section": "train",
                "label": f"{NAMES[contender]} — {OPTIMIZERS[opt]}",
                "contender": contender,
                "optimizer": opt,
                "time": stat_of(res),
                "accuracy": stat_of(res, "accuracy"),
                "ref_torch": f"train/torch/{opt}",
                "ref_sklearn": f"train/sklearn/{opt}",
                "errors": [r["error"] for r in res if "error" in r],
                "foreign": stat_of(res, "foreign_cores"),
                "canary": stat_of(res, "canary_slowdown"),
            }
        elif key == "matmul":
            rows[key] = {
                "section": "train",
                "label": "bare NumPy matmuls of one epoch (ceiling)",
                "contender": "numpy",
                "time": stat_of(res),
                "gflop": stat_of(res, "gflop"),
                "gflops": stat_of(res, "gflops"),
                "square_gflops": stat_of(res, "square_gflops"),
                "errors": [r["error"] for r in res if "error" in r],
                "foreign": stat_of(res, "foreign_cores"),
                "canary": stat_of(res, "canary_slowdown"),
            }
        elif key.startswith("predict/"):
            contender = key.split("/")[1]
            errors = [r["error"] for r in res if "error" in r]
            rows[f"predict1/{contender}"] = {
                "section": "predict",
                "label": f"{NAMES[contender]} — predict 1 row (median latency)",
                "contender": contender,
                "time": stat_of(res, "single", "median"),
                "ref_torch": "predict1/torch",
                "ref_sklearn": "predict1/sklearn",
                "errors": errors,
                "foreign": stat_of(res, "foreign_cores"),
                "canary": stat_of(res, "canary_slowdown"),
            }
            rows[f"predictN/{contender}"] = {
                "section": "predict",
                "label": f"{NAMES[contender]} — predict {args.test_rows:,} rows",
                "contender": contender,
                "time": stat_of(res, "big", "median"),
                "ref_torch": "predictN/torch",
                "ref_sklearn": "predictN/sklearn",
                "errors": errors,
                "foreign": stat_of(res, "foreign_cores"),
                "canary": stat_of(res, "canary_slowdown"),
            }
    for row in rows.values():
        row["vs_torch"] = ratio(row["time"], rows.get(row.get("ref_torch"), {}).get("time"))
        row["vs_sklearn"] = ratio(row["time"], rows.get(row.get("ref_sklearn"), {}).get("time"))
    return rows


def print_main(rows: dict[str, dict], args) -> None:
    per = f"s per epoch, mean of {args.epochs} epochs" if args.epochs > 1 else "one epoch"
    acc_label = "MNIST test acc" if args.mnist else "test acc"
    header = [
        "training (" + per + ")",
        "median",
        "min–max",
        "vs torch",
        "vs sklearn",
        acc_label,
        "others",
        "canary",
    ]
    body = []
    for key, row in rows.items():
        if row["section"] != "train":
            continue
        t = row["time"]
        extra = ""
        if key == "matmul":
            if row["gflops"]["median"]:
                extra = f"{row['gflops']['median']:.0f} GFLOP/s"
        elif row["accuracy"]["median"] is not None:
            extra = f"{100 * row['accuracy']['median']:.2f}%"
        if row["errors"]:
            extra += f"  ({len(row['errors'])} failed)"
        body.append(
            [
                row["label"],
                fmt_seconds(t["median"]),
                fmt_spread(t),
                fmt_ratio(row.get("vs_torch")),
                fmt_ratio(row.get("vs_sklearn")),
                extra,
                fmt_cores(row["foreign"]),
                fmt_ratio(row["canary"]["median"]),
            ]
        )
    print(table(header, body))
    predict = [(k, r) for k, r in rows.items() if r["section"] == "predict"]
    if predict:
        print()
        header = ["predict (eval mode, labels out)", "median", "min–max", "vs torch", "vs sklearn"]
        header += ["others", "canary"]
        body = []
        for _, row in predict:
            t = row["time"]
            body.append(
                [
                    row["label"] + (f"  ({len(row['errors'])} failed)" if row["errors"] else ""),
                    fmt_seconds(t["median"]),
                    fmt_spread(t),
                    fmt_ratio(row["vs_torch"]),
                    fmt_ratio(row["vs_sklearn"]),
                    fmt_cores(row["foreign"]),
                    fmt_ratio(row["canary"]["median"]),
                ]
            )
        print(table(header, body))
    note = noise_note(list(rows.values()))
    if note:
        print(note)
    print(
        "others: median number of cores other processes kept busy during the timed part; "
        "canary: median time of a fixed matmul run by the runner just before and after each "
        "worker, against the run's "
        f"fastest (above {args.contended} cores or {args.slow_canary}x, a measurement was "
        f"retried up to {args.retries} time(s))"
    )


def matmul_share(rows: dict[str, dict]) -> dict[str, float | None]:
    mm = rows.get("matmul", {}).get("time")
    return {
        opt: ratio(mm, rows.get(f"train/chainrule/{opt}", {}).get("time")) for opt in OPTIMIZERS
    }


def print_ceiling(rows, shares, args) -> None:
    mm = rows.get("matmul")
    if not mm or not mm["time"]["median"]:
        return
    n = args.gemm_n
    print(
        f"\nmatmul ceiling: the epoch's {mm['gflop']['median']:.1f} GFLOP of products "
        f"(forward 3, weight grads 3, input grads 2 per batch) take "
        f"{fmt_seconds(mm['time']['median'])} = {mm['gflops']['median']:.0f} GFLOP/s; "
        f"a {n}x{n} float32 matmul runs at {mm['square_gflops']['median']:.0f} GFLOP/s"
    )
    for opt, share in shares.items():
        if share is not None:
            mark = "meets" if share >= MATMUL_SHARE_GOAL else "below"
            print(
                f"matmul share of chainrule's {OPTIMIZERS[opt]} epoch: {100 * share:.0f}% "
                f"({mark} the {100 * MATMUL_SHARE_GOAL:.0f}% goal)"
            )


def memory_summary(results: dict[str, list[dict]]) -> list[dict]:
    out = []
    for key, res in results.items():
        if not key.startswith("train/"):
            continue
        good = ok(res)
        if not good:
            continue
        data_bytes = good[0]["data_bytes"]
        before = statistics.median(r["rss_before_fit"] for r in good)
        peaks = [r["peak_rss_fit"] for r in good if r.get("peak_rss_fit") is not None]
        peak = statistics.median(peaks) if peaks else None
        proc = statistics.median(r["peak_rss_process"] for r in good)
        out.append(
            {
                "row": key,
                "data_bytes": data_bytes,
                "rss_before_fit": before,
                "peak_rss_fit": peak,
                "fit_extra_bytes": None if peak is None else peak - before,
                "peak_rss_process": proc,
            }
        )
    return out


def print_memory(mem: list[dict]) -> None:
    if not mem:
        return
    mb = 1024 * 1024
    header = [
        "peak memory (max RSS)",
        "data",
        "RSS before fit",
        "peak in fit",
        "fit extra",
        "process peak",
    ]
    body = []
    for m in mem:
        extra, proc = m["fit_extra_bytes"], m["peak_rss_process"]
        body.append(
            [
                m["row"],
                f"{m['data_bytes'] / mb:.0f} MB",
                f"{m['rss_before_fit'] / mb:.0f} MB",
                "n/a" if m["peak_rss_fit"] is None else f"{m['peak_rss_fit'] / mb:.0f} MB",
                "n/a"
                if extra is None
                else f"{extra / mb:+.0f} MB ({extra / m['data_bytes']:.2f}x data)",
                f"{proc / mb:.0f} MB ({proc / m['data_bytes']:.1f}x data)",
            ]
        )
    print()
    print(table(header, body))
    print(
        "(peak in fit: the kernel's peak-RSS mark is reset just before the timed fit; "
        "fit extra = peak in fit - RSS before fit)"
    )


def best_ratio(a: dict | None, b: dict | None) -> float | None:
    """min over min: the ratio of the least disturbed rounds (a cross-check on the median)."""
    if not a or not b or not a.get("min") or not b.get("min"):
        return None
    return a["min"] / b["min"]


def goals_summary(rows, shares) -> list[dict]:
    out = []
    for label, key, ref, target in GOALS:
        a, b = rows.get(key, {}).get("time"), rows.get(ref, {}).get("time")
        r = ratio(a, b)
        out.append(
            {
                "goal": label,
                "ratio": r,
                "best_of_ratio": best_ratio(a, b),
                "target": f"<= {target}",
                "met": None if r is None else r <= target,
            }
        )
    for opt, share in shares.items():
        a, b = (
            rows.get("matmul", {}).get("time"),
            rows.get(f"train/chainrule/{opt}", {}).get("time"),
        )
        out.append(
            {
                "goal": f"matmul share, {OPTIMIZERS[opt]}",
                "ratio": share,
                "best_of_ratio": best_ratio(a, b),
                "target": f">= {MATMUL_SHARE_GOAL}",
                "met": None if share is None else share >= MATMUL_SHARE_GOAL,
            }
        )
    return out


def print_goals(goals: list[dict]) -> None:
    body = [
        [
            g["goal"],
            "n/a" if g["ratio"] is None else f"{g['ratio']:.2f}",
            "n/a" if g["best_of_ratio"] is None else f"{g['best_of_ratio']:.2f}",
            g["target"],
            {True: "met", False: "NOT MET", None: "n/a"}[g["met"]],
        ]
        for g in goals
    ]
    print()
    print(table(["goal (issue 3)", "median ratio", "best-of ratio", "target", "(median)"], body))


def scaling_summary(results: dict[str, list[dict]], args) -> dict:
    rows = {
        key: {"time": stat_of(res), "errors": [r["error"] for r in res if "error" in r]}
        for key, res in results.items()
    }
    ref = rows.get(f"rows/{60000 if not args.quick else args.scaling_rows[-1]}", {}).get("time")
    return {"rows": rows, "reference": ref}


def print_scaling(summary: dict, args) -> None:
    sys.path.insert(0, str(HERE))
    from worker import matmul_flops  # noqa: E402  (pure arithmetic, imports nothing heavy)

    rows = summary["rows"]
    ref_rows = 60000 if not args.quick else args.scaling_rows[-1]
    ref = rows.get(f"rows/{ref_rows}", {}).get("time") or {}
    ref_per_row = ref["median"] / ref_rows if ref.get("median") else None
    header = [
        "chainrule scaling (SGD momentum, float32)",
        "median",
        "min–max",
        "µs per row",
        "per row vs " + f"{ref_rows:,}",
        "GFLOP/s",
    ]
    body = []

    def add(label, key, n_rows, hidden):
        t = rows.get(key, {}).get("time", {})
        if not t or t.get("median") is None:
            body.append([label, "failed", "", "", "", ""])
            return
        per_row = t["median"] / n_rows
        flops = matmul_flops([784, *hidden, 10], n_rows)
        body.append(
            [
                label,
                fmt_seconds(t["median"]),
                fmt_spread(t),
                f"{per_row * 1e6:.2f}",
                fmt_ratio(per_row / ref_per_row) if ref_per_row else "—",
                f"{flops / t['median'] / 1e9:.0f}",
            ]
        )

    hid = "-".join(str(h) for h in args.hidden)
    for n in args.scaling_rows:
        add(f"784-{hid}-10, {n:,} rows", f"rows/{n}", n, args.hidden)
    for w in args.scaling_widths:
        add(f"784-{w}-10, {args.rows:,} rows", f"width/{w}", args.rows, [w])
    print()
    print(table(header, body))
    note = noise_note(list(rows.values()))
    if note:
        print(note)

    f64 = rows.get("dtype/float64", {}).get("time", {})
    f32 = rows.get("dtype/float32", {}).get("time", {})
    m64 = rows.get("matmul/float64", {}).get("time", {})
    m32 = rows.get("matmul/float32", {}).get("time", {})
    if f64.get("median") and f32.get("median"):
        line = (
            f"float64 / float32 epoch time (784-{hid}-10, {args.rows:,} rows): chainrule "
            f"{fmt_seconds(f64['median'])} / {fmt_seconds(f32['median'])} = "
            f"{f64['median'] / f32['median']:.2f}x"
        )
        if m64.get("median") and m32.get("median"):
            line += (
                f"; bare matmuls {fmt_seconds(m64['median'])} / {fmt_seconds(m32['median'])}"
                f" = {m64['median'] / m32['median']:.2f}x (the ceiling's ratio)"
            )
        print(line)
    failed = {k: r["errors"] for k, r in rows.items() if r["errors"]}
    for k, errs in failed.items():
        print(f"  {k}: {len(errs)} failed: {errs[0]}")


# -- environment report -------------------------------------------------------------
def print_environment(env_info: dict, args, unset: dict, load: tuple) -> None:
    print("chainrule benchmark — issue 3 workload")
    data = (
        "real MNIST (" + str(args.mnist_dir) + ")"
        if args.mnist
        else ("synthetic MNIST-shaped float32 data (seed " + str(args.seed) + ")")
    )
    hid = "-".join(str(h) for h in args.hidden)
    print(
        f"  model 784-{hid}-10 ReLU, softmax cross-entropy, batch {args.batch_size}, "
        f"{args.rows:,} training rows, {args.test_rows:,} test rows, {data}"
    )
    print(
        f"  {args.epochs} timed epoch(s) per fit after {args.warmup_batches} untimed warm-up "
        f"batches; {args.repeats} interleaved round(s), each measurement in a fresh process; "
        f"{args.threads} thread(s)"
    )
    if "error" in env_info:
        print(f"  environment probe failed: {env_info['error']}")
        return
    print(
        f"  python {env_info['python']}, numpy {env_info['numpy']}, torch {env_info['torch']}, "
        f"scikit-learn {env_info['sklearn']}, threadpoolctl {env_info['threadpoolctl']}, "
        f"chainrule {env_info['chainrule']} (kernels: {env_info.get('chainrule_kernels', '?')})"
    )
    print(
        f"  CPU: {env_info['cpu']} ({env_info['cpu_count']} logical CPUs); "
        f"load average at start {load[0]:.2f}"
    )
    for b in env_info.get("blas", []):
        print(
            f"  NumPy BLAS (threadpoolctl): {b['internal_api']} {b['version']}, "
            f"architecture/corename {b.get('architecture')}, {b['num_threads']} threads, "
            f"threading {b.get('threading_layer')}"
        )
    torch_cfg = env_info.get("torch_config", [])
    blas_info = ""
    for ln in torch_cfg:
        if "BLAS_INFO=" in ln:
            blas_info = next(
                (s.split(":")[-1].strip() for s in ln.split(",") if "BLAS_INFO=" in s), ""
            )
    caps = [
        ln.lstrip("- ")
        for ln in torch_cfg
        if "CPU capability" in ln
        or "MKL-DNN" in ln
        or ln.lstrip("- ").startswith("Intel(R) oneAPI Math Kernel")
    ]
    print(
        f"  PyTorch: torch.get_num_threads() = {env_info['torch_num_threads']}, "
        + "; ".join([blas_info, *caps]).strip("; ")
    )
    if unset:
        shown = ", ".join(f"{k}={v}" for k, v in unset.items())
        print(f"  note: {shown} set in this environment; unset in the workers' environment only")
    else:
        print(
            f"  note: {' and '.join(UNSET_IN_WORKERS)} not set here; the workers run with both "
            "unset"
        )
    leftover = env_info.get("openblas_env_in_worker")
    if leftover:
        print(f"  WARNING: workers still see {leftover}")


def check_threads(all_results: list[dict], threads: int) -> list[str]:
    seen = set()
    for r in all_results:
        for p in r.get("pools", []):
            if p["num_threads"] != threads:
                seen.add(f"{p['prefix']} ({p['user_api']}) ran {p['num_threads']} threads")
    return sorted(seen)


def source_digest() -> str:
    """A hash of chainrule's source files: the code measured (others may be editing it)."""
    import hashlib

    root = HERE.parent / "src" / "chainrule"
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


# -- main ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.canary = Canary(args.threads)
    env = worker_env()
    unset = {k: os.environ[k] for k in UNSET_IN_WORKERS if k in os.environ}
    load_start = os.getloadavg()
    digest_start = source_digest()
    started = time.time()
    print("running workers (progress on stderr)...", file=sys.stderr, flush=True)
    env_info = run_worker({**base_spec(args), "kind": "env"}, env, args.timeout)
    results = run_rounds(round_jobs(args), args, env, "main")
    scaling = run_rounds(scaling_jobs(args), args, env, "scaling") if args.scaling else None
    canary_slowdowns(
        [r for group in (results, scaling or {}) for res in group.values() for r in res]
    )
    load_end = os.getloadavg()
    digest_end = source_digest()

    print_environment(env_info, args, unset, load_start)
    print()
    rows = build_rows(results, args)
    print_main(rows, args)
    shares = matmul_share(rows)
    print_ceiling(rows, shares, args)
    mem = memory_summary(results)
    print_memory(mem)
    scaling_out = None
    if scaling is not None:
        scaling_out = scaling_summary(scaling, args)
        print_scaling(scaling_out, args)
    goals = goals_summary(rows, shares)
    print_goals(goals)
    everything = [r for res in results.values() for r in res]
    if scaling:
        everything += [r for res in scaling.values() for r in res]
    failed = [
        (k, r["error"])
        for group in (results, scaling or {})
        for k, res in group.items()
        for r in res
        if "error" in r
    ]
    if failed:
        print(f"\n{len(failed)} measurement(s) failed; the first: {failed[0][0]}: {failed[0][1]}")
    off = check_threads(ok(everything), args.threads)
    if off:
        print("\nWARNING: thread limits not applied everywhere: " + "; ".join(off))
    print(
        f"\nchainrule source digest {digest_start}"
        + (
            ""
            if digest_end == digest_start
            else f" at start, {digest_end} at end: WARNING, src/chainrule changed during the run"
        )
    )
    print(f"load average at end {load_end[0]:.2f}; wall time {time.time() - started:.0f} s")
    if args.json:
        out = {
            "config": {k: v for k, v in vars(args).items() if k not in ("json", "canary")},
            "environment": {
                **env_info,
                "unset_in_workers": list(UNSET_IN_WORKERS),
                "unset_values": unset,
                "load_average": [load_start, load_end],
                "chainrule_source_digest": [digest_start, digest_end],
            },
            "rows": rows,
            "matmul_share": shares,
            "memory": mem,
            "goals": goals,
            "scaling": scaling_out,
            "raw": {"main": results, "scaling": scaling},
        }
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
        print(f"wrote {args.json}")
    n_failed = sum("error" in r for r in everything)
    return 1 if n_failed else 0


if __name__ == "__main__":
    sys.exit(main())
