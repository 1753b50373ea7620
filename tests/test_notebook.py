"""chainrule in Jupyter: HTML displays of a network and a History, and the notebooks run.

The notebooks in ``examples/`` are executed with nbclient on the ``python3``
kernel, which jupyter_client resolves to the interpreter running the tests
(ipykernel must be installed in it); they are skipped when the notebook
extra (nbclient, nbformat, ipykernel) is not installed.
"""

from __future__ import annotations

import html
import importlib.util
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.training import History

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Table(HTMLParser):
    """Collect a table's header cells and body rows, checking tags are balanced."""

    VOID = {"br", "hr", "img", "meta", "link", "input", "col", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.foot: list[str] = []
        self.caption = ""
        self._cell: list[str] | None = None
        self._section = ""

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self.stack.append(tag)
        if tag in ("thead", "tbody", "tfoot", "caption"):
            self._section = tag
        if tag == "tr" and self._section == "tbody":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> in {self.stack}"
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            if self._section == "thead":
                self.header.append(text)
            elif self._section == "tbody":
                self.rows[-1].append(text)
            elif self._section == "tfoot":
                self.foot.append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._section == "caption" and self.stack and self.stack[-1] == "caption":
            self.caption += data


def parse(markup: str) -> Table:
    t = Table()
    t.feed(markup)
    t.close()
    assert t.stack == [], f"unclosed tags: {t.stack}"
    return t


# -- Sequential ---------------------------------------------------------------------------
def test_sequential_html_lists_layers_shapes_and_counts():
    net = cr.Sequential(
        cr.Dense(3, 5, activation="relu"), cr.Dropout(0.2), cr.Dense(5, 2), cr.Softmax(), seed=0
    )
    t = parse(net._repr_html_())
    assert t.header == ["#", "layer", "output shape", "params"]
    assert len(t.rows) == len(net.layers) == 4
    # independently: a Dense(i, o) holds i*o weights and o biases; the others none
    expected_counts = [3 * 5 + 5, 0, 5 * 2 + 2, 0]
    expected_widths = [5, 5, 2, 2]
    for k, (row, layer) in enumerate(zip(t.rows, net.layers)):
        assert row[0] == str(k)
        assert row[1] == repr(layer)
        assert row[2] == f"(None, {expected_widths[k]})"
        assert int(row[3].replace(",", "")) == expected_counts[k]
    assert f"Total parameters: {sum(expected_counts)}" in t.foot[0]


def test_sequential_html_counts_with_thousands_and_escapes_text():
    net = cr.Sequential(cr.Dense(100, 50), cr.Dense(50, 1))
    t = parse(net._repr_html_())
    assert t.rows[0][3] == "5,050" and t.rows[1][3] == "51"
    assert "Total parameters: 5,101" in t.foot[0]

    class Odd(cr.ReLU):
        def __repr__(self):
            return "Odd(<b>&</b>)"

    markup = cr.Sequential(cr.Dense(2, 2), Odd())._repr_html_()
    assert "<b>" not in markup and html.escape("Odd(<b>&</b>)") in markup
    assert parse(markup).rows[1][1] == "Odd(<b>&</b>)"


# -- History ------------------------------------------------------------------------------
def test_history_html_shows_every_epoch_value():
    h = History()
    losses = [0.9, 0.5, 0.25]
    accs = [0.5, 0.75, 1.0]
    for e, (l, a) in enumerate(zip(losses, accs)):
        h.append(e, {"loss": l, "accuracy": a})
    t = parse(h._repr_html_())
    assert t.header == ["epoch", "loss", "accuracy"]
    assert len(t.rows) == 3
    for e, row in enumerate(t.rows):
        assert int(row[0]) == e
        assert float(row[1]) == pytest.approx(losses[e])
        assert float(row[2]) == pytest.approx(accs[e])
    assert "3 epochs" in t.caption


def test_history_html_of_a_long_run_shows_the_last_epochs():
    h = History()
    loss = [1.0 / (e + 1) for e in range(50)]
    for e, v in enumerate(loss):
        h.append(e, {"loss": v, "val_loss": 2 * v})
    t = parse(h._repr_html_())
    assert len(t.rows) == 20
    assert [int(r[0]) for r in t.rows] == list(range(30, 50))
    assert float(t.rows[-1][1]) == pytest.approx(loss[-1], rel=1e-5)
    assert float(t.rows[-1][2]) == pytest.approx(2 * loss[-1], rel=1e-5)
    assert "50 epochs" in t.caption and "last 20" in t.caption
    assert len(parse(h._repr_html_(max_rows=5)).rows) == 5


def test_history_html_of_a_real_fit():
    X, y = cr.datasets.xor()
    net = cr.Sequential(cr.Dense(2, 4, activation="tanh"), cr.Dense(4, 1), seed=0)
    h = net.fit(X, y, loss="binary_cross_entropy", epochs=7, batch_size=4, metrics=["accuracy"])
    t = parse(h._repr_html_())
    assert len(t.rows) == 7
    got = np.array([float(r[t.header.index("loss")]) for r in t.rows])
    np.testing.assert_allclose(got, h["loss"], rtol=1e-5)


def test_empty_history_html():
    t = parse(History()._repr_html_())
    assert t.rows == [] and "0 epochs" in t.caption


# -- the notebooks ------------------------------------------------------------------------
def test_notebooks_found():
    names = {p.name for p in NOTEBOOKS}
    assert {"perceptron_to_mlp.ipynb", "why_networks_fail.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_and_draws(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.perf_counter() - start
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2, f"{path.name} drew {len(images)} figures"
    # the HTML displays are used and render as tables
    assert any("<table>" in o.get("data", {}).get("text/html", "") for o in outputs)
    # a verbose fit draws its progress widget (ipywidgets is in the notebook extra)
    if importlib.util.find_spec("ipywidgets") and any("verbose=1" in c.source for c in nb.cells):
        assert any(WIDGET_VIEW in o.get("data", {}) for o in outputs)
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "Tqdm" not in stderr and "IProgress" not in stderr
    assert elapsed < 60, f"{path.name} took {elapsed:.0f} s"


def test_notebooks_match_their_generator():
    """``examples/make_notebooks.py`` is the source: the stored notebooks hold its cells."""
    nbformat = pytest.importorskip("nbformat")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_notebooks", ROOT / "examples/make_notebooks.py"
    )
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    for name, cells in (
        ("perceptron_to_mlp.ipynb", make.PERCEPTRON_TO_MLP),
        ("why_networks_fail.ipynb", make.WHY_NETWORKS_FAIL),
    ):
        nb = nbformat.read(ROOT / "examples" / name, as_version=4)
        stored = [("md" if c.cell_type == "markdown" else "code", c.source) for c in nb.cells]
        assert stored == list(cells), f"{name} is stale: run python examples/make_notebooks.py"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


# -- the progress bar in a real kernel -----------------------------------------------------
FIT_CELLS = [
    """import warnings
warnings.simplefilter("always")  # any warning would reach the cell's stderr
import chainrule as cr
X, y = cr.datasets.xor()
net = cr.Sequential(cr.Dense(2, 4, activation="tanh"), cr.Dense(4, 1), seed=0)""",
    'h = net.fit(X, y, loss="binary_cross_entropy", epochs=5, batch_size=4, verbose=1)',
    "print(f\"final loss={h['loss'][-1]:.4g} after {len(h)} epochs\")",
]


def _run_kernel(cells: list[str], tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("tqdm")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return nb


def _text(outputs, name=None):
    return "".join(
        o.get("text", "")
        for o in outputs
        if o.output_type == "stream" and (name is None or o.name == name)
    )


def test_fit_verbose_draws_a_widget_in_a_kernel(tmp_path):
    pytest.importorskip("ipywidgets")
    nb = _run_kernel(FIT_CELLS, tmp_path)
    fit_out = nb.cells[1].outputs
    final = _text(nb.cells[2].outputs)
    assert final.startswith("final loss=") and "after 5 epochs" in final
    loss = final.split()[1]  # "loss=0.xxxx", as format_logs writes it

    views = [o for o in fit_out if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1, fit_out
    # the saved widget state: an HBox of [label, FloatProgress, text], finished and green
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    box = state[views[0]["data"][WIDGET_VIEW]["model_id"]]
    assert box["model_name"] == "HBoxModel"
    label, bar, text = (state[c.removeprefix("IPY_MODEL_")] for c in box["state"]["children"])
    assert bar["model_name"] == "FloatProgressModel"
    assert bar["state"]["value"] == bar["state"]["max"] == 5
    assert bar["state"]["bar_style"] == "success"
    assert label["state"]["value"].startswith("training")
    assert "5/5" in text["state"]["value"] and loss in text["state"]["value"]

    # below the widget, one text line says where training ended; nothing on stderr
    assert _text(fit_out, "stderr") == ""
    lines = _text(fit_out, "stdout").splitlines()
    assert len(lines) == 1 and lines[0].startswith("training: epoch 5/5  " + loss)


def test_fit_verbose_without_ipywidgets_prints_plain_lines_in_a_kernel(tmp_path):
    hide = 'import sys\nsys.modules["ipywidgets"] = None  # as if it were not installed'
    nb = _run_kernel([hide, *FIT_CELLS], tmp_path)
    fit_out = nb.cells[2].outputs
    loss = _text(nb.cells[3].outputs).split()[1]
    assert not [o for o in fit_out if o.output_type == "display_data"]
    assert not nb.metadata.get("widgets")
    # no TqdmWarning ("IProgress not found"), no text bar with carriage returns
    assert _text(fit_out, "stderr") == ""
    lines = _text(fit_out, "stdout").splitlines()
    assert "\r" not in _text(fit_out)
    assert [line.split()[:3] for line in lines] == [
        ["training:", "epoch", f"{k}/5"] for k in range(1, 6)
    ]
    assert lines[-1].split()[3] == loss
