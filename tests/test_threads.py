"""One BLAS thread for small networks (chainrule.threads), read back through threadpoolctl."""

from __future__ import annotations

import threading

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from chainrule import recipe, threads  # noqa: E402


def blas_count() -> int:
    """Threads of NumPy's BLAS (SciPy, once imported, brings its own)."""
    infos = [
        i
        for i in threadpoolctl.threadpool_info()
        if i["user_api"] == "blas" and "numpy" in i["filepath"].replace("\\", "/")
    ]
    if not infos:
        pytest.skip("no NumPy BLAS library found by threadpoolctl")
    return infos[0]["num_threads"]


@pytest.fixture
def two_threads(monkeypatch):
    """BLAS at 2 threads for the test (so that 1 is a change), and no user setting."""
    for name in threads._ENV:
        monkeypatch.delenv(name, raising=False)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if blas_count() != 2:
            pytest.skip("this BLAS cannot be set to 2 threads")
        yield


def test_small_is_at_most_256_wide_and_4096_rows():
    small = recipe.build_mlp(20, (100,), "relu", 3, seed=0)
    wide = recipe.build_mlp(20, (300,), "relu", 3, seed=0)
    many_inputs = recipe.build_mlp(1000, (16,), "relu", 3, seed=0)
    assert threads.small_network(small, 32) and threads.small_network(small, 4096)
    assert not threads.small_network(small, 4097)
    assert not threads.small_network(wide, 32)
    assert not threads.small_network(many_inputs, 32)  # the first layer is 1000 x 16


def test_blas_for_limits_a_small_network_only_and_restores(two_threads, monkeypatch):
    small = recipe.build_mlp(20, (100,), "relu", 3, seed=0)
    wide = recipe.build_mlp(20, (512,), "relu", 3, seed=0)
    with threads.blas_for(small, 64):
        assert blas_count() == 1
    assert blas_count() == 2
    with threads.blas_for(wide, 64):
        assert blas_count() == 2
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # the user chose: nothing is limited
    with threads.blas_for(small, 64):
        assert blas_count() == 2


def test_outside_the_main_thread_nothing_is_limited(two_threads):
    """Threads would restore the one process-wide setting out of order: they leave it alone."""
    small = recipe.build_mlp(20, (100,), "relu", 3, seed=0)
    seen = {}

    def work():
        with threads.blas_for(small, 64):
            seen["count"] = blas_count()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(10)
    assert seen["count"] == 2 and blas_count() == 2


def test_estimator_fit_and_predict_run_on_one_thread(two_threads, monkeypatch):
    from chainrule import sklearn as cr_sklearn

    counts = []
    real_fit, real_inference = cr_sklearn.fit, cr_sklearn._inference

    def fit(*args, **kwargs):
        counts.append(("fit", blas_count()))
        return real_fit(*args, **kwargs)

    def inference(*args, **kwargs):
        counts.append(("predict", blas_count()))
        return real_inference(*args, **kwargs)

    monkeypatch.setattr(cr_sklearn, "fit", fit)
    monkeypatch.setattr(cr_sklearn, "_inference", inference)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 2, size=60)
    clf = cr_sklearn.MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    clf.predict(X)
    assert counts == [("fit", 1), ("predict", 1)]
    assert blas_count() == 2


def test_search_uses_the_shared_helper():
    import importlib

    search = importlib.import_module("chainrule.search")  # chainrule.search is the function
    assert search._blas_threads is threads.blas_threads
    with pytest.raises(ValueError, match="threads must be a whole number >= 1 or None, got 0"):
        threads.blas_threads(0)
