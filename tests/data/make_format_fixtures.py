"""Write the model-file fixtures that tests/test_serialization_fixtures.py loads.

The files in this folder were written by chainrule at commit d80d84a (main,
2026-12-04), before layer specs came from ``get_config()``. They are kept as
they are so that later code proves it still reads them: do NOT rerun this to
"update" them. ``*_expected.npz`` holds ``net(X)`` in eval mode, computed by that
same code when the file was written.

    PYTHONPATH=src python tests/data/make_format_fixtures.py
"""

from pathlib import Path

import numpy as np

import chainrule as cr

HERE = Path(__file__).parent


def stack():
    return cr.Sequential(
        cr.Dense(5, 8, activation=cr.LeakyReLU(0.2)),
        cr.BatchNorm(8, momentum=0.2, eps=1e-4),
        cr.Dropout(0.3),
        cr.Dense(8, 6, activation=cr.GELU(approximate="tanh")),
        cr.Softplus(beta=2.0, threshold=15.0),
        cr.Dense(6, 6, activation="elu"),
        cr.ELU(alpha=0.5),
        cr.Dense(6, 3),
        seed=3,
        dtype=np.float64,
    )


def graph():
    a, b = cr.Input(5, name="num"), cr.Input(1, name="city")
    e = cr.Embedding(7, 3)(b)
    z = cr.Concatenate()(a, e)
    shared = cr.Dense(8, 8, activation="tanh")
    t = shared(shared(z))
    s = cr.Add()(t, z)
    m = cr.Multiply()(s, t)
    y1, y2 = cr.Dense(8, 3)(m), cr.Dense(8, 1, activation="silu")(m)
    return cr.Network(inputs=[a, b], outputs=[y1, y2], seed=4, dtype=np.float64)


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5))
    y = rng.integers(0, 3, 30)
    net = stack()
    net.fit(X, y, loss="cross_entropy", epochs=2, batch_size=8)
    net.save(HERE / "stack_d80d84a.safetensors")
    np.savez(HERE / "stack_d80d84a_expected.npz", X=X, out=net.eval()(X))

    C = rng.integers(0, 7, (30, 1))
    g = graph()
    g.fit([X, C], [y, rng.normal(size=30)], loss=["cross_entropy", "mse"], epochs=2, batch_size=8)
    g.save(HERE / "graph_d80d84a.safetensors")
    out1, out2 = g.eval()([X, C])
    np.savez(HERE / "graph_d80d84a_expected.npz", X=X, C=C, out1=out1, out2=out2)


if __name__ == "__main__":
    main()
