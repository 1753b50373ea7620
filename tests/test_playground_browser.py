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


def _number(page, selector: str) -> float:
    text = page.text_content(selector)
    try:
        return float(text)
    except ValueError:
        return float("inf")


def test_spirals_learn_on_the_page_and_the_diagnosis_appears(server, browser, shots):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "#dataset=circles&hidden=6")  # state from the URL
    page.wait_for_function("document.getElementById('conn').textContent === 'connected'")
    assert page.input_value("#dataset") == "circles"
    assert page.locator("#layer-editor input.units").count() == 1

    # features: one input node per chosen feature, named in the diagram
    page.wait_for_function("document.querySelectorAll('#network circle.input').length === 2")
    page.check("#feature-boxes input[data-feature='x1^2']")
    page.wait_for_function("document.querySelectorAll('#network circle.input').length === 3")
    assert "x1²" in page.text_content("#network")
    assert "features=x1%2Cx2%2Cx1%5E2" in page.url
    page.uncheck("#feature-boxes input[data-feature='x1^2']")
    page.wait_for_function("document.querySelectorAll('#network circle.input').length === 2")

    # choose spirals, two hidden layers of 8 tanh units, and play
    page.select_option("#dataset", "spirals")
    page.click("#add-layer")
    for k in range(2):
        page.fill(f"#layer-editor input[data-layer='{k}']", "8")
        page.dispatch_event(f"#layer-editor input[data-layer='{k}']", "change")
    page.select_option("#activation", "tanh")
    page.wait_for_function("location.hash.includes('dataset=spirals')")
    page.wait_for_function("document.getElementById('epoch').textContent === '0'")
    page.wait_for_function("document.querySelectorAll('#network line').length === 2*8+8*8+8*2")
    before = page.evaluate("document.getElementById('boundary').toDataURL()")
    first_loss = _number(page, "#test-loss")
    page.click("#play")
    page.wait_for_function(
        "Number(document.getElementById('test-loss').textContent) < 0.3", timeout=60_000
    )
    assert first_loss > 0.5
    after = page.evaluate("document.getElementById('boundary').toDataURL()")
    assert after != before, "the decision boundary image did not change"
    assert page.locator("#network image.unit").count() == 16  # each unit's own output

    # click an edge: its gradient as a chain-rule product
    page.locator("#network line").first.dispatch_event("click")
    page.wait_for_function("document.getElementById('chain').textContent.includes('dL/dW1[0,0]')")
    assert "sum =" in page.text_content("#chain")
    page.screenshot(path=str(shots / "playground-spirals.png"), full_page=True)

    # export the network as a chainrule model file
    if importlib.util.find_spec("safetensors") is not None:
        import chainrule as cr

        with page.expect_download() as info:
            page.click("#export")
        saved = shots / "playground-spirals.safetensors"
        info.value.save_as(saved)
        assert cr.load(saved).n_parameters() == 2 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2

    # a bad learning rate: the error is shown and the session carries on
    page.fill("#lr", "abc")
    page.dispatch_event("#lr", "change")
    page.wait_for_selector("#error:not([hidden])")
    assert "lr must be a number" in page.text_content("#error")

    # change the activation: the network is rebuilt (epoch back to 0)
    page.click("#play")  # pause
    page.wait_for_function("document.getElementById('play').textContent.includes('Play')")
    page.fill("#lr", "0.03")
    page.select_option("#activation", "relu")
    page.wait_for_function("document.getElementById('epoch').textContent === '0'")
    assert page.is_hidden("#error")
    assert "relu" in page.text_content("#network")

    # learning rate 10 kills the ReLUs, and the page says so
    page.fill("#lr", "10")
    page.dispatch_event("#lr", "change")
    page.wait_for_function("location.hash.includes('lr=10')")
    page.click("#play")
    page.wait_for_function(
        "document.getElementById('verdicts').textContent.includes('ReLU units are dead')",
        timeout=30_000,
    )
    page.click("#play")  # pause
    page.wait_for_function("document.getElementById('play').textContent.includes('Play')")
    page.screenshot(path=str(shots / "playground-dead-relu.png"), full_page=True)
    assert not errors, errors

    # the link reproduces the setup in a new tab (an independent session)
    link = page.url
    other = browser.new_page()
    other.goto(link)
    other.wait_for_function("document.getElementById('epoch').textContent === '0'")
    assert other.input_value("#activation") == "relu" and other.input_value("#lr") == "10"
    assert other.input_value("#dataset") == "spirals"
    other.close()
    page.close()
