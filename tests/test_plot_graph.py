"""``cr.plots.plot_network`` on a graph ``Network``: the figure shows the graph itself."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("matplotlib")
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch  # noqa: E402
from matplotlib.path import Path  # noqa: E402

from chainrule import plots  # noqa: E402


def diamond():
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 2, activation="tanh")(x, name="h")
    left = cr.Dense(2, 2, activation="sigmoid")(h, name="left")
    s = cr.Add()(left, h, name="s")
    return cr.Network(inputs=x, outputs=cr.Dense(2, 1)(s, name="out"), seed=0)


def _box_contains(patch, point, ax, slack=0.02) -> bool:
    """Whether ``point`` (data coordinates) lies on or inside ``patch``, give or take ``slack``."""
    box = patch.get_window_extent().transformed(ax.transData.inverted())
    x, y = point
    return (box.x0 - slack <= x <= box.x1 + slack) and (box.y0 - slack <= y <= box.y1 + slack)


def test_plot_network_draws_a_diamond_as_its_graph(tmp_path):
    net = diamond()
    fig = plots.plot_network(net, save=tmp_path / "g.png")
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert (len(boxes), len(circles), len(arrows)) == (4, 1, 5)  # x, h, left, out; s; 5 edges
    texts = {t.get_text() for t in ax.texts}
    assert {"x\nInput(2)", "h\nDense 2→2, tanh", "left\nDense 2→2, sigmoid", "+", "s",
            "out\nDense 2→1, linear"} <= texts  # fmt: skip
    graph = fig.chainrule_graph
    assert [n["name"] for n in graph["nodes"]] == ["x", "h", "left", "s", "out"]
    assert [n["kind"] for n in graph["nodes"]] == ["input", "layer", "layer", "merge", "layer"]
    assert sorted(graph["edges"]) == sorted(
        [("x", "h"), ("h", "left"), ("h", "s"), ("left", "s"), ("s", "out")]
    )
    # depth columns: x 0, h 1, left 2, s 3 (the longest path), out 4
    assert [n["xy"][0] for n in graph["nodes"]] == [0, 1, 2, 3, 4]
    # each arrow runs from its parent's box to its child's box
    fig.canvas.draw()
    patch = {n["name"]: n["patch"] for n in graph["nodes"]}
    for (src, dst), arrow in zip(graph["edges"], graph["arrows"]):
        path = arrow.get_path()
        drawn = (
            path.vertices[path.codes != Path.CLOSEPOLY] if path.codes is not None else path.vertices
        )
        shown = arrow.get_transform().transform(drawn)  # display coordinates
        verts = ax.transData.inverted().transform(shown)
        assert _box_contains(patch[src], verts[0], ax), (src, dst)  # starts at the parent
        assert any(_box_contains(patch[dst], v, ax) for v in verts), (src, dst)  # tip at child
        others = [n for n in patch if n not in (src, dst)]
        assert not any(_box_contains(patch[o], v, ax, slack=0) for o in others for v in verts)
    # the output has a thick border; the rest a thin one
    assert patch["out"].get_linewidth() > 2 * patch["h"].get_linewidth()
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_network_graph_marks_shared_layers_embeddings_and_several_outputs():
    a, b = cr.Input(5, name="num"), cr.Input(1, name="city")
    z = cr.Concatenate()(a, cr.Embedding(20, 4)(b, name="emb"), name="cat")
    shared = cr.Dense(9, 9, activation="tanh")
    t = shared(shared(z, name="t1"), name="t2")
    net = cr.Network(inputs=[a, b], outputs=[cr.Dense(9, 3)(t, name="y1"),
                                             cr.Dense(9, 1)(t, name="y2")])  # fmt: skip
    fig = plots.plot_network(net)
    ax = fig.axes[0]
    graph = fig.chainrule_graph
    kinds = {n["name"]: n["kind"] for n in graph["nodes"]}
    assert kinds == {"num": "input", "city": "input", "emb": "embedding", "cat": "merge",
                     "t1": "layer", "t2": "layer", "y1": "layer", "y2": "layer"}  # fmt: skip
    assert graph["shared"] == [["t1", "t2"]]
    patch = {n["name"]: n["patch"] for n in graph["nodes"]}
    assert patch["t1"].get_linestyle() == patch["t2"].get_linestyle() == "--"
    assert patch["cat"].get_linestyle() == "-"
    assert "shares the layer of t1" in {t.get_text() for t in ax.texts}
    thick = sorted(n for n, p in patch.items() if p.get_linewidth() > 2)
    assert thick == ["y1", "y2"]
    assert len([p for p in ax.patches if isinstance(p, FancyArrowPatch)]) == 7
    assert "inputs num, city; outputs y1, y2" in ax.get_title()
    assert np.isclose(graph["nodes"][0]["xy"][0], 0) and np.isclose(graph["nodes"][1]["xy"][0], 0)


def test_plot_network_of_a_sequential_is_unchanged():
    net = cr.Sequential(cr.Dense(2, 3, activation="relu"), cr.Dense(3, 1), seed=0)
    fig = plots.plot_network(net)
    assert len(fig.chainrule_edges) == 2 * 3 + 3 * 1  # one edge per weight, as before
    assert not hasattr(fig, "chainrule_graph")


def test_plot_network_folds_a_deep_graph_into_bands():
    """A 16-block residual network is 50 columns deep: drawn in bands of 10, not 100+ inches."""
    x = cr.Input(2, name="x")
    h = cr.Dense(2, 4)(x)
    for _ in range(16):
        h = cr.Add()(h, cr.Dense(4, 4)(cr.Dense(4, 4, activation="sigmoid")(h)))
    net = cr.Network(inputs=x, outputs=cr.Dense(4, 1)(h, name="out"))
    fig = plots.plot_network(net)
    ax = fig.axes[0]
    width, height = fig.get_size_inches()
    assert width <= 24 and height <= 16
    graph = fig.chainrule_graph
    assert len(graph["nodes"]) == 51 and len(graph["edges"]) == 66
    assert len([p for p in ax.patches if isinstance(p, Circle)]) == 16  # the 16 Add nodes
    xs = {n["xy"][0] for n in graph["nodes"]}
    assert xs == set(range(10))  # depth 0..49 folded into columns 0..9
    out_y = next(n["xy"][1] for n in graph["nodes"] if n["name"] == "out")
    assert out_y < min(n["xy"][1] for n in graph["nodes"] if n["name"] != "out")  # last band
    y0, y1 = ax.get_ylim()
    assert all(y0 < n["xy"][1] < y1 for n in graph["nodes"])  # every node inside the axes
