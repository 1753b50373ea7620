"""One measurement, run by ``run.py`` in a fresh process: ``python worker.py '<json spec>'``.

Kinds of measurement (``spec["kind"]``):

- ``train``: one contender (chainrule, torch, torch_fused, sklearn) trains the
  MLP with one optimizer for ``epochs`` epochs after an untimed warm-up of a
  few batches; reports the time per epoch, test accuracy and peak memory.
- ``predict``: single-row predict latency (median over many calls) and the
  time to predict ``predict_rows`` rows (median over a few calls).
- ``matmul``: the bare matrix products one epoch of the workload performs,
  in NumPy, into preallocated buffers (the matmul ceiling), plus the GFLOP/s
  of a big square matmul.
- ``env``: versions, the BLAS that NumPy runs (threadpoolctl) and PyTorch's
  build and thread settings.

The result is printed as one line ``RESULT {json}`` on stdout.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from itertools import pairwise

import data
import numpy as np

MB = 1024 * 1024
LEARNING_RATES = {"sgd": 0.01, "adam": 1e-3}
MOMENTUM = 0.9


# -- process-level helpers ---------------------------------------------------------
def limit_threads(n_threads: int):
    """Limit every BLAS/OpenMP pool loaded so far (import the heavy modules first)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads)


def numpy_blas() -> list[dict]:
    """threadpoolctl's view of the BLAS libraries NumPy itself loaded."""
    from threadpoolctl import threadpool_info

    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer", "prefix")
    return [
        {k: info.get(k) for k in keep}
        for info in threadpool_info()
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", "")
    ]


def pools() -> list[dict]:
    """Every thread pool threadpoolctl sees, with its size (to check the limits held)."""
    from threadpoolctl import threadpool_info

    return [
        {"prefix": i.get("prefix"), "user_api": i.get("user_api"), "num_threads": i["num_threads"]}
        for i in threadpool_info()
    ]


def current_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so the next peak is the fit's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def system_busy_seconds() -> float:
    """CPU seconds all processes spent busy so far (steal counts: the host took the core)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Contention:
    """How many cores *other* processes kept busy while the block ran (on average).

    System-wide busy time from /proc/stat minus this process's own CPU time
    (all its threads). About 0 on a quiet machine; near 1 when another process
    holds a whole core, which can slow a 2-thread BLAS many times over.
    """

    def __enter__(self):
        self.busy0 = system_busy_seconds()
        self.own0 = time.process_time()
        self.wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall0
        own = time.process_time() - self.own0
        busy = system_busy_seconds() - self.busy0
        self.foreign_cores = max(0.0, busy - own) / wall if wall > 0 else 0.0
        return False


def median_time(fn, calls: int, warmup: int) -> dict:
    """Median, min and max wall time of ``fn()`` over ``calls`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    clock = time.perf_counter
    for _ in range(calls):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "calls": calls,
    }


# -- the three contenders ----------------------------------------------------------
def widths(spec) -> list[int]:
    return [data.N_FEATURES, *spec["hidden"], data.N_CLASSES]


def lr_of(spec) -> float:
    return spec.get("lr") or LEARNING_RATES[spec["optimizer"]]


class Chainrule:
    """chainrule with its default kernels (Numba when installed), or NumPy only."""

    name = "chainrule"

    def __init__(self, spec, kernels="auto"):
        import chainrule as cr

        cr.kernels.use(kernels)
        self.cr = cr
        self.spec = spec
        w = widths(spec)
        layers = [
            cr.Dense(w[i], w[i + 1], activation="relu" if i < len(w) - 2 else None)
            for i in range(len(w) - 1)
        ]
        self.net = cr.Sequential(*layers, seed=spec["seed"], dtype=np.dtype(spec["dtype"]))
        if spec["optimizer"] == "sgd":
            self.opt = cr.SGD(self.net.parameters(), lr=lr_of(spec), momentum=MOMENTUM)
        else:
            self.opt = cr.Adam(self.net.parameters(), lr=lr_of(spec))

    def fit(self, X, y, epochs):
        self.net.fit(
            X,
            y,
            loss="cross_entropy",
            optimizer=self.opt,
            epochs=epochs,
            batch_size=self.spec["batch_size"],
            shuffle=True,
        )

    def predict(self, X):
        return self.net.predict(X)

    def param_dtype(self):
        return str(self.net.parameters()[0].value.dtype)


class Torch:
    """PyTorch eager on the CPU, the idiomatic loop."""

    name = "torch"

    def __init__(self, spec, fused=False):
        import torch
        from torch import nn

        self.torch = torch
        self.spec = spec
        torch.manual_seed(spec["seed"])
        w = widths(spec)
        mods = []
        for i in range(len(w) - 1):
            mods.append(nn.Linear(w[i], w[i + 1]))
            if i < len(w) - 2:
                mods.append(nn.ReLU())
        self.model = nn.Sequential(*mods)
        if np.dtype(spec["dtype"]) == np.float64:
            self.model.double()
        params = self.model.parameters()
        if spec["optimizer"] == "sgd":
            self.opt = torch.optim.SGD(params, lr=lr_of(spec), momentum=MOMENTUM)
        elif fused:
            self.opt = torch.optim.Adam(params, lr=lr_of(spec), fused=True)
        else:
            self.opt = torch.optim.Adam(params, lr=lr_of(spec))
        self.loss_fn = nn.CrossEntropyLoss()
        self.gen = torch.Generator().manual_seed(spec["seed"])

    def fit(self, X, y, epochs):
        torch = self.torch
        Xt = torch.from_numpy(X)  # preloaded once, shared with NumPy (no copy)
        yt = torch.from_numpy(y.astype(np.int64, copy=False))
        model, opt, loss_fn, bs = self.model, self.opt, self.loss_fn, self.spec["batch_size"]
        model.train()
        n = len(X)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=self.gen)
            total = 0.0
            for start in range(0, n, bs):
                idx = perm[start : start + bs]
                xb, yb = Xt[idx], yt[idx]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item()  # chainrule's fit also records the loss of every batch

    def predict(self, X):
        # called under torch.inference_mode() with model.eval() (see measure_predict)
        return self.model(self.torch.from_numpy(X)).argmax(1).numpy()

    def param_dtype(self):
        return str(next(self.model.parameters()).dtype)


class Sklearn:
    """scikit-learn's MLPClassifier, one fit() call of ``epochs`` epochs (warm start)."""

    name = "sklearn"

    def __init__(self, spec):
        from sklearn.neural_network import MLPClassifier

        self.spec = spec
        self.clf = MLPClassifier(
            hidden_layer_sizes=tuple(spec["hidden"]),
            activation="relu",
            solver=spec["optimizer"],
            alpha=0.0,
            batch_size=spec["batch_size"],
            learning_rate="constant",
            learning_rate_init=lr_of(spec),
            momentum=MOMENTUM,
            nesterovs_momentum=False,  # PyTorch's and chainrule's default
            max_iter=1,
            shuffle=True,
            tol=0.0,
            n_iter_no_change=10**9,
            early_stopping=False,
            random_state=spec["seed"],
            warm_start=True,  # the timed fit continues from the warm-up's weights
        )

    def fit(self, X, y, epochs):
        from sklearn.exceptions import ConvergenceWarning

        self.clf.set_params(max_iter=epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clf.fit(X, y)

    def predict(self, X):
        return self.clf.predict(X)

    def param_dtype(self):
        return str(self.clf.coefs_[0].dtype)


def make_contender(spec):
    name = spec["contender"]
    if name == "chainrule":
        return Chainrule(spec)
    if name == "chainrule_numpy":
        return Chainrule(spec, kernels="numpy")
    if name == "torch":
        return Torch(spec)
    if name == "torch_fused":
        return Torch(spec, fused=True)
    if name == "sklearn":
        return Sklearn(spec)
    raise ValueError(f"unknown contender {name!r}")


def import_for(contender: str) -> None:
    """Import the contender's heavy modules before threadpoolctl sets the limits."""
    if contender.startswith("torch"):
        import torch

        torch.set_num_threads(SPEC["threads"])
    elif contender == "sklearn":
        import sklearn.neural_network  # noqa: F401  (loads SciPy's BLAS too)
    else:
        import chainrule  # noqa: F401


def load_data(spec):
    return data.load(
        spec["data"],
        spec["rows"],
        spec["test_rows"],
        seed=spec["seed"],
        dtype=np.dtype(spec["dtype"]),
        mnist_dir=spec.get("mnist_dir"),
    )


def warmup_rows(spec, y) -> int:
    """Rows for the untimed warm-up: a few batches, holding every class (sklearn needs it)."""
    m = min(len(y), spec["warmup_batches"] * spec["batch_size"])
    while len(np.unique(y[:m])) < len(np.unique(y)) and m < len(y):
        m = min(len(y), m + spec["batch_size"])
    return m


# -- the measurements --------------------------------------------------------------
def measure_train(spec) -> dict:
    X, y, X_test, y_test = load_data(spec)
    model = make_contender(spec)
    w = warmup_rows(spec, y)
    model.fit(X[:w], y[:w], 1)  # warm-up: a few batches, not timed
    rss_before = current_rss()
    peak_was_reset = reset_peak_rss()
    with Contention() as contention:
        t0 = time.perf_counter()
        model.fit(X, y, spec["epochs"])
        elapsed = time.perf_counter() - t0
    peak = peak_rss()
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    return {
        "time": elapsed / spec["epochs"],
        "total_time": elapsed,
        "foreign_cores": contention.foreign_cores,
        "accuracy": accuracy,
        "param_dtype": model.param_dtype(),
        "data_bytes": X.nbytes + y.nbytes,
        "rss_before_fit": rss_before,
        "peak_rss_fit": peak if peak_was_reset else None,
    }


def measure_predict(spec) -> dict:
    X, y, X_test, y_test = load_data(spec)
    model = make_contender(spec)
    model.fit(X[: warmup_rows(spec, y)], y[: warmup_rows(spec, y)], 1)  # a fitted classifier
    one = np.ascontiguousarray(X_test[:1])
    many = np.ascontiguousarray(X_test[: spec["predict_rows"]])
    calls, big_calls = spec["predict_calls"], spec["predict_big_calls"]

    def run():
        single = median_time(lambda: model.predict(one), calls, max(10, calls // 10))
        big = median_time(lambda: model.predict(many), big_calls, 2)
        return single, big

    with Contention() as contention:
        if spec["contender"].startswith("torch"):
            model.model.eval()
            with model.torch.inference_mode():
                single, big = run()
        else:
            single, big = run()
    return {
        "time": single["median"],
        "foreign_cores": contention.foreign_cores,
        "single": single,
        "big": big,
        "big_rows": len(many),
        "param_dtype": model.param_dtype(),
    }


def epoch_matmuls(X, weights, batch_size):
    """The products of one epoch: forward, weight gradients, input gradients (not layer 1)."""
    dtype = X.dtype
    n_layers = len(weights)
    bs = batch_size
    acts = [np.empty((bs, W.shape[1]), dtype) for W in weights]
    grads = [np.empty((bs, W.shape[1]), dtype) for W in weights]
    wgrads = [np.empty_like(W) for W in weights]
    grads[-1][...] = np.random.default_rng(1).standard_normal(grads[-1].shape) * 0.01

    def run(X):
        n = len(X)
        for start in range(0, n, bs):
            m = min(bs, n - start)
            inputs = [X[start : start + m]]
            for i, W in enumerate(weights):  # forward: a_i = a_{i-1} W_i
                np.matmul(inputs[i], W, out=acts[i][:m])
                inputs.append(acts[i][:m])
            g = grads[-1][:m]
            for i in range(n_layers - 1, -1, -1):  # backward
                np.matmul(inputs[i].T, g, out=wgrads[i])  # dW_i = a_{i-1}^T g_i
                if i > 0:
                    np.matmul(g, weights[i].T, out=grads[i - 1][:m])  # g_{i-1} = g_i W_i^T
                    g = grads[i - 1][:m]

    return run


def matmul_flops(w: list[int], rows: int) -> float:
    per_row = sum(2 * a * b for a, b in pairwise(w))  # forward
    per_row += per_row  # weight gradients
    per_row += sum(2 * a * b for a, b in pairwise(w[1:]))  # input gradients, layers 2..L
    return float(per_row) * rows


def measure_matmul(spec) -> dict:
    dtype = np.dtype(spec["dtype"])
    X, _, _, _ = load_data(spec)
    w = widths(spec)
    rng = np.random.default_rng(spec["seed"])
    weights = [(rng.standard_normal((a, b)) * (2 / a) ** 0.5).astype(dtype) for a, b in pairwise(w)]
    run = epoch_matmuls(X, weights, spec["batch_size"])
    run(X[: spec["warmup_batches"] * spec["batch_size"]])  # warm-up
    with Contention() as contention:
        t0 = time.perf_counter()
        for _ in range(spec["epochs"]):
            run(X)
        epoch = (time.perf_counter() - t0) / spec["epochs"]
    flops = matmul_flops(w, len(X))

    n = spec["gemm_n"]
    A = rng.random((n, n), dtype=np.float64).astype(dtype)
    B = rng.random((n, n), dtype=np.float64).astype(dtype)
    C = np.empty((n, n), dtype)
    square = median_time(lambda: np.matmul(A, B, out=C), 5, 1)
    return {
        "time": epoch,
        "foreign_cores": contention.foreign_cores,
        "gflop": flops / 1e9,
        "gflops": flops / epoch / 1e9,
        "square_n": n,
        "square_time": square["min"],
        "square_gflops": 2 * n**3 / square["min"] / 1e9,
    }


def measure_env(spec) -> dict:
    import sklearn
    import threadpoolctl
    import torch

    import chainrule

    torch.set_num_threads(spec["threads"])
    cfg = torch.__config__.show()
    wanted = ("BLAS", "LAPACK", "CPU capability", "MKL", "OpenMP", "oneDNN", "MKLDNN")
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    return {
        "time": 0.0,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "threadpoolctl": threadpoolctl.__version__,
        "chainrule": getattr(chainrule, "__version__", "?"),
        "chainrule_kernels": chainrule.kernels.backend(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_num_threads": torch.get_num_threads(),
        "torch_config": [ln.strip() for ln in cfg.splitlines() if any(w in ln for w in wanted)],
        "openblas_env_in_worker": {
            k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ
        },
    }


KINDS = {
    "train": measure_train,
    "predict": measure_predict,
    "matmul": measure_matmul,
    "env": measure_env,
}
SPEC: dict = {}


def main(argv: list[str]) -> int:
    load_at_start = os.getloadavg()[0]
    SPEC.update(json.loads(argv[1]))
    kind = SPEC["kind"]
    if kind in ("train", "predict"):
        import_for(SPEC["contender"])
    elif kind == "env":
        import sklearn.neural_network  # noqa: F401
        import torch  # noqa: F401
    limiter = limit_threads(SPEC["threads"])
    result = KINDS[kind](SPEC)
    result["blas"] = numpy_blas()
    result["pools"] = pools()
    result["peak_rss_process"] = peak_rss()
    result["load_at_start"] = load_at_start
    del limiter
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
