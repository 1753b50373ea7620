"""The playground end to end, in a real headless browser (Debian's chromium + Playwright).

Skipped only when Playwright or chromium is missing or cannot start. Screenshots go
to ``$CHAINRULE_SCREENSHOTS`` when set (else to pytest's tmp_path).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

CHROMIUM = os.environ.get("CHAINRULE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    from chainrule.playground.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "the playground server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        except Exception as exc:  # pragma: no cover - depends on the machine
            pytest.skip(f"chromium did not start: {exc}")
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    out = Path(os.environ.get("CHAINRULE_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def page(server, browser):
    """A fresh tab on the playground, connected; fails the test on any page error."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto_playground = lambda hash="": _open(page, server, hash)
    yield page
    page.close()
    assert not errors, errors


def _open(page, server: str, hash: str = "") -> None:
    page.goto(server + hash)
    page.wait_for_function("document.getElementById('conn').textContent === 'connected'")
    page.wait_for_function("window.playgroundEdgeMidpoint && playgroundEdgeMidpoint(0, 0, 0)")


def _report(name: str, value) -> None:
    """Figures for the note: printed (pytest -s) and appended to $CHAINRULE_FIGURES."""
    line = f"{name}: {value}"
    print(line)
    path = os.environ.get("CHAINRULE_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def _number(page, selector: str) -> float:
    text = page.text_content(selector)
    try:
        return float(text)
    except ValueError:
        return float("inf")


def _edges(widths):
    return [
        (k, i, j)
        for k in range(len(widths) - 1)
        for i in range(widths[k])
        for j in range(widths[k + 1])
    ]


def _click_edge(page, k, i, j):
    m = page.evaluate(f"playgroundEdgeMidpoint({k}, {i}, {j})")
    page.mouse.click(m["x"], m["y"])


def test_default_network_redraws_smoothly_and_every_edge_is_selectable_at_its_midpoint(page, shots):
    page.goto_playground()
    assert page.input_value("#dataset") == "spirals"
    page.click("#play")
    page.wait_for_function("document.getElementById('play').textContent.includes('Pause')")
    page.wait_for_timeout(2000)
    stats = page.evaluate("playgroundStats()")
    _report("default network (2-8-8-2, spirals), playing", stats)
    assert set(stats) == {"redraws_per_second", "epochs_per_second", "last_draw_ms"}
    assert stats["redraws_per_second"] >= 10, stats  # 30+ measured on a quiet machine
    assert stats["epochs_per_second"] > 0 and stats["last_draw_ms"] < 100, stats
    # while playing, a click selects its edge and it is highlighted at once
    _click_edge(page, 1, 3, 5)
    assert page.evaluate("playgroundSelected()") == {"kind": "weight", "layer": 1, "i": 3, "j": 5}
    page.wait_for_function(
        "document.getElementById('chain-title').textContent.includes('at epoch')"
    )
    first = page.text_content("#chain-title")
    page.wait_for_function(
        f"document.getElementById('chain-title').textContent !== {first!r}", timeout=5000
    )  # the chain rule refreshes with the network, stamped with its epoch
    page.click("#play")
    page.wait_for_function("document.getElementById('play').textContent.includes('Play')")
    # paused: every one of the 96 edges is selected by a click at its midpoint
    before = page.evaluate("document.getElementById('network').toDataURL()")
    wrong = page.evaluate(
        """(edges) => {
            const canvas = document.getElementById('network'), wrong = [];
            for (const [k, i, j] of edges) {
                const m = playgroundEdgeMidpoint(k, i, j);
                canvas.dispatchEvent(new MouseEvent('click', {clientX: m.x, clientY: m.y, bubbles: true}));
                const s = playgroundSelected();
                if (!s || s.kind !== 'weight' || s.layer !== k || s.i !== i || s.j !== j) wrong.push([k, i, j, s]);
            }
            return wrong;
        }""",
        _edges([2, 8, 8, 2]),
    )
    _report("edges selected by a click at their midpoint", f"{96 - len(wrong)} of 96")
    assert not wrong, wrong
    after = page.evaluate("document.getElementById('network').toDataURL()")
    assert after != before  # the highlight is drawn while paused
    page.wait_for_function("document.getElementById('chain').textContent.includes('dL/dW3[7,1]')")
    assert "sum =" in page.text_content("#chain")
    page.screenshot(path=str(shots / "pg-default-1280.png"), full_page=True)


def test_the_largest_network_answers_pause_within_200ms(page, shots):
    page.goto_playground("#hidden=128,128,128&batch_size=1")
    page.wait_for_function("document.querySelectorAll('#layer-editor input').length === 3")
    page.click("#step")  # one epoch first: compiles the optimizer's kernels, if Numba is there
    page.wait_for_function("document.getElementById('epoch').textContent === '1'", timeout=30_000)
    page.click("#play")
    page.wait_for_function("document.getElementById('play').textContent.includes('Pause')")
    page.wait_for_timeout(1500)
    stats = page.evaluate("playgroundStats()")
    waited = page.evaluate(
        """() => new Promise((done) => {
            const button = document.getElementById('play');
            const t0 = performance.now();
            new MutationObserver(() => {
                if (button.textContent.includes('Play')) done(performance.now() - t0);
            }).observe(button, {childList: true, characterData: true, subtree: true});
            button.click();
        })"""
    )
    _report("largest network (2-128-128-128-2, batch 1), playing", stats)
    _report("largest network: click on Pause to the page showing Play (ms)", round(waited, 1))
    assert waited < 1000, waited  # 200 ms is the goal, measured; CI machines vary
    page.wait_for_timeout(300)  # the final state comes once the burst in flight has ended
    epoch = page.text_content("#epoch")
    page.wait_for_timeout(400)
    assert page.text_content("#epoch") == epoch  # it really stopped
    page.screenshot(path=str(shots / "pg-largest-1280.png"), full_page=True)


def test_invalid_values_never_reach_the_url_and_the_error_echoes_them(page):
    page.goto_playground("#lr=abc&hidden=8,abc")
    page.wait_for_selector("#error:not([hidden])")
    error = page.text_content("#error")
    assert "abc" in error, error
    page.wait_for_function("location.hash.includes('lr=')")  # the defaults, accepted
    assert "abc" not in page.url
    assert page.locator("#layer-editor input").count() == 2  # a network, not a blank page
    # typed into a control: refused, echoed, and the control goes back
    page.fill("#batch-size", "2.5")
    page.dispatch_event("#batch-size", "change")
    page.wait_for_function("document.getElementById('error').textContent.includes('2.5')")
    assert "batch_size=2.5" not in page.url and page.input_value("#batch-size") == "16"
    page.fill("#layer-editor input[data-layer='1']", "500")
    page.dispatch_event("#layer-editor input[data-layer='1']", "change")
    page.wait_for_function("document.getElementById('error').textContent.includes('500')")
    assert "500" not in page.url and page.input_value("#layer-editor input[data-layer='1']") == "8"
    # a bad value typed into the address: refused, echoed, and the address is put back
    page.evaluate("location.hash = '#lr=zzz'")
    page.wait_for_function("document.getElementById('error').textContent.includes('zzz')")
    page.wait_for_function("!location.hash.includes('zzz') && location.hash.includes('lr=')")
    # the learning rate is a list of values: it cannot hold an invalid one
    assert page.eval_on_selector("#lr", "e => e.tagName") == "SELECT"
    page.select_option("#lr", "0.03")
    page.wait_for_function("location.hash.includes('lr=0.03')")


def test_layout_fits_390px_without_sideways_scrolling(server, browser, shots):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(server)
    page.wait_for_function("document.getElementById('conn').textContent === 'connected'")
    page.wait_for_function("window.playgroundEdgeMidpoint && playgroundEdgeMidpoint(0, 0, 0)")
    page.click("#play")
    page.wait_for_timeout(800)
    page.click("#play")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    assert page.evaluate("document.getElementById('network').getBoundingClientRect().right") <= 390
    page.screenshot(path=str(shots / "pg-390.png"), full_page=True)
    page.close()


def _image(page, selector: str) -> str:
    return page.evaluate(f"document.querySelector({selector!r}).toDataURL()")


def test_tf_playground_controls_edit_toggle_regress_and_upload(page, shots, tmp_path):
    page.goto_playground("#dataset=circles&hidden=4")
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').textContent) > 30")
    page.click("#play")
    page.wait_for_function("document.getElementById('play').textContent.includes('Play')")
    assert "accuracy" in page.text_content("#test-acc")  # train and test accuracy are shown
    # show test data, discretize output: the picture changes, the address keeps them
    plain = _image(page, "#boundary")
    page.check("#show-test")
    with_test = _image(page, "#boundary")
    page.check("#discretize")
    assert len({plain, with_test, _image(page, "#boundary")}) == 3
    assert "show_test=1" in page.url and "discretize=1" in page.url
    # click a weight, type a value, set it: the server's network has it
    _click_edge(page, 0, 1, 2)
    page.wait_for_selector("#editor:not([hidden])")
    page.fill("#editor-value", "1.5")
    page.click("#editor-set")
    page.wait_for_function(
        "document.getElementById('chain').textContent.startsWith('W1[1,2] = 1.500')"
    )
    # a node: its bias, shown in the node's square, selectable and editable the same way
    lay = page.evaluate(
        "(() => { const c = document.getElementById('network'); const r = c.getBoundingClientRect(); return [r.left + c.clientLeft, r.top + c.clientTop]; })()"
    )
    node = page.evaluate("playgroundNode(1, 0)")
    page.mouse.click(lay[0] + node["x"], lay[1] + node["y"])
    assert page.evaluate("playgroundSelected()") == {"kind": "bias", "layer": 0, "i": None, "j": 0}
    page.wait_for_function("document.getElementById('chain-title').textContent.includes('b1[0]')")
    page.fill("#editor-value", "-0.25")
    page.press("#editor-value", "Enter")
    page.wait_for_function(
        "document.getElementById('chain').textContent.startsWith('b1[0] = -0.2500')"
    )
    # the edited network downloads as a chainrule model file
    if importlib.util.find_spec("safetensors") is not None:
        import chainrule as cr

        with page.expect_download() as info:
            page.click("#export")
        saved = shots / "playground-circles.safetensors"
        info.value.save_as(saved)
        net = cr.load(saved)
        assert net.n_parameters() == 2 * 4 + 4 + 4 * 2 + 2
        assert net.layers[0].weight.value[1, 2] == 1.5 and net.layers[0].bias.value[0] == -0.25
    # hovering a node enlarges its map
    page.mouse.move(lay[0] + node["x"], lay[1] + node["y"])
    page.wait_for_selector("#zoom:not([hidden])")
    page.screenshot(path=str(shots / "pg-circles-edit-1280.png"), full_page=True)
    # L1 regularisation
    page.select_option("#l1", "0.01")
    page.wait_for_function("location.hash.includes('l1=0.01')")
    # the problem type: regression data sets, one output, no accuracy
    page.select_option("#problem", "regress")
    page.wait_for_function("document.getElementById('dataset').value === 'plane'")
    options = page.eval_on_selector_all("#dataset option", "os => os.map(o => o.value)")
    assert options == ["plane", "gaussians", "sin"]
    page.select_option("#dataset", "gaussians")
    page.wait_for_function("location.hash.includes('dataset=gaussians')")
    assert page.text_content("#test-acc") == "" and page.input_value("#loss") == "mse"
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').textContent) > 20")
    page.click("#play")
    page.screenshot(path=str(shots / "pg-gaussians-1280.png"), full_page=True)
    # your own data: a CSV with a header, two numbers and a label
    page.select_option("#problem", "classify")
    page.wait_for_function("document.getElementById('dataset').value === 'xor'")
    rows = ["height,weight,kind"] + [
        f"{x:.3f},{y:.3f},{'cat' if x * x + y * y < 4 else 'dog'}"
        for x, y in ((i % 7 - 3, i // 7 - 3) for i in range(49))
    ]
    good = tmp_path / "pets.csv"
    good.write_text("\n".join(rows) + "\n")
    page.set_input_files("#csv", str(good))
    page.wait_for_function("document.getElementById('dataset').value === 'custom'")
    assert "pets.csv" in page.text_content("#dataset")
    page.wait_for_function("document.getElementById('epoch').textContent === '0'")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n" + "\n".join(f"{i},{i},x" for i in range(11)) + "\n1,oops,y\n")
    page.set_input_files("#csv", str(bad))
    page.wait_for_function("document.getElementById('error').textContent.includes('oops')")
    assert "row 13 of bad.csv" in page.text_content("#error")
    assert page.input_value("#dataset") == "custom"  # the good data stays


def test_step_mode_walks_one_batch_forward_backward_and_update(page, shots):
    page.goto_playground("#dataset=xor&hidden=3")
    page.click("#walk")
    page.wait_for_function(
        "document.getElementById('walk-text').textContent.includes('forward pass of a batch')"
    )
    assert "Step batch: backward" in page.text_content("#walk")
    before = _image(page, "#network")
    page.click("#walk")
    page.wait_for_function(
        "document.getElementById('walk-text').textContent.includes('backward pass')"
    )
    assert _image(page, "#network") != before  # the chain rule's numbers along the edges
    page.screenshot(path=str(shots / "pg-walk-backward-1280.png"), full_page=True)
    page.click("#walk")
    page.wait_for_function("document.getElementById('walk-text').textContent.includes('→')")
    assert "batch 1 of epoch 1" in page.text_content("#walk-text")
    page.click("#walk")
    page.wait_for_function(
        "document.getElementById('walk-text').textContent.includes('batch 2 of')"
    )


def test_a_sick_net_shows_the_librarys_verdict_and_its_first_remedy_sets_the_control(page, shots):
    # issue 13's setup: 6 sigmoid layers of 8 on spirals, SGD 0.03
    page.goto_playground(
        "#dataset=spirals&activation=sigmoid&hidden=8,8,8,8,8,8&optimizer=sgd&lr=0.03"
    )
    for epoch in ("1", "2", "3"):
        page.click("#step")
        page.wait_for_function(f"document.getElementById('epoch').textContent === '{epoch}'")
    page.wait_for_selector("#verdicts li[data-kind='vanishing_gradients']")
    kinds = page.eval_on_selector_all(
        "#verdicts li[data-kind]", "xs => xs.map(x => x.dataset.kind)"
    )
    assert len(kinds) == len(set(kinds)), kinds  # one line per kind
    names = page.eval_on_selector_all(
        "#verdicts button.remedy", "xs => xs.map(x => x.dataset.remedy)"
    )
    assert len(names) == len(set(names)) and names[0] == "relu_he", names
    page.locator("#insight").screenshot(path=str(shots / "pg-verdicts-sick-sigmoid.png"))
    page.click("#verdicts li[data-kind='vanishing_gradients'] button.remedy >> nth=0")
    page.wait_for_function("document.getElementById('activation').value === 'relu'")
    assert "activation=relu" in page.evaluate("location.hash")
