"""The playground server, driven over its WebSocket without a browser."""

from __future__ import annotations

import base64

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")  # Starlette's TestClient

from starlette.testclient import TestClient  # noqa: E402

from chainrule.playground.app import GRID, create_app  # noqa: E402

UPDATE_KEYS = {
    "type",
    "epoch",
    "running",
    "train_loss",
    "test_loss",
    "train_acc",
    "test_acc",
    "params",
    "widths",
    "output",
}


def f32(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def params(u: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (W, b) of every Dense layer, from an update's float32 bytes."""
    flat, w, out = f32(u["params"]), u["widths"], []
    for a, b in zip(w[:-1], w[1:]):
        out.append((flat[: a * b].reshape(a, b), flat[a * b : a * b + b]))
        flat = flat[a * b + b :]
    assert flat.size == 0
    return out


def proba(u: dict) -> np.ndarray:
    """The class probabilities over the grid, from an update's bytes (to 1/255)."""
    o = u["output"]
    q = np.frombuffer(base64.b64decode(o["p"]), dtype=np.uint8) / 255.0
    return np.c_[1 - q, q] if o["k"] == 2 else q.reshape(-1, o["k"])


def shapes(u: dict) -> list[tuple[int, int]]:
    return [w.shape for w, _ in params(u)]


@pytest.fixture
def client():
    app = create_app(max_sessions=2)
    with TestClient(app) as c:
        c.app_state = app.state
        yield c


def receive_until(ws, kind: str, limit: int = 50) -> dict:
    for _ in range(limit):
        m = ws.receive_json()
        if m["type"] == kind:
            return m
    raise AssertionError(f"no {kind!r} message in {limit} messages")


def configure(ws, **cfg) -> dict:
    ws.send_json({"type": "config", **cfg})
    m = ws.receive_json()
    assert m["type"] == "data", m
    update = ws.receive_json()
    assert update["type"] == "update" and update["epoch"] == 0
    return update


def test_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "chainrule playground" in page.text
    for asset in ("app.js", "style.css"):
        assert client.get(f"/static/{asset}").status_code == 200


def test_step_returns_an_update_whose_boundary_is_the_networks_prediction(client):
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and "spirals" in hello["options"]["dataset"]
        configure(ws, dataset="moons", hidden=[5, 3], activation="tanh", lr=0.05)
        ws.send_json({"type": "step"})
        u = ws.receive_json()
        assert u["type"] == "update" and UPDATE_KEYS <= set(u) and u["epoch"] == 1
        assert shapes(u) == [(2, 5), (5, 3), (3, 2)]
        layers = u["diagnosis"]["layers"]
        assert len(layers) == 3 and layers[0]["dead_fraction"] is None
        b = u["output"]
        assert b["size"] == GRID and b["k"] == 2

        (session,) = client.app_state.sessions.values()
        expected = session.net.predict_proba(session.grid_points())
        np.testing.assert_allclose(proba(u), expected, atol=0.5 / 255 + 1e-6)
        # the weights on the page are the network's, exactly (float32 bytes)
        for (w, b_), layer in zip(params(u), session.net.layers):
            np.testing.assert_array_equal(w, layer.weight.value)
            np.testing.assert_array_equal(b_, layer.bias.value)
        maps = u["unit_maps"]  # each hidden unit's output over the input plane, int8-scaled
        q = np.frombuffer(base64.b64decode(maps["q"]), dtype=np.int8).reshape(8, -1)
        assert q.shape[1] == maps["size"] ** 2 and len(maps["scale"]) == 8
        first = q[:5] / 127 * np.array(maps["scale"][:5])[:, None]
        grid = session.grid_points(maps["size"])
        expected = session.net.layers[0].forward(grid).T  # tanh units of layer 1
        np.testing.assert_allclose(first, expected, atol=max(maps["scale"]) / 254 + 1e-6)


def test_export_gives_a_model_file_that_loads_and_predicts_the_same(client, tmp_path):
    pytest.importorskip("safetensors")
    import base64

    import chainrule as cr

    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        configure(ws, dataset="blobs", hidden=[4])
        ws.send_json({"type": "step"})
        receive_until(ws, "update")
        ws.send_json({"type": "export"})
        m = ws.receive_json()
        assert m["type"] == "export" and m["filename"].endswith(".safetensors"), m
        path = tmp_path / m["filename"]
        path.write_bytes(base64.b64decode(m["data"]))
        (session,) = client.app_state.sessions.values()
        net = cr.load(path)
        np.testing.assert_array_equal(net(session.X_test), session.net(session.X_test))


@pytest.mark.parametrize(
    "dataset,features",
    [("xor", ["x1", "x2", "x1*x2"]), ("blobs", ["x1", "x2"]), ("sin", ["x", "sin(x)"])],
)
def test_exported_model_predicts_a_csv_with_the_command_line(client, tmp_path, dataset, features):
    """The file carries a full preprocessing description: `chainrule predict` reads it."""
    pytest.importorskip("pandas")
    import base64

    from chainrule.cli import main

    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        configure(ws, dataset=dataset, hidden=[4], features=features)
        for _ in range(3):
            ws.send_json({"type": "step"})
            receive_until(ws, "update")
        ws.send_json({"type": "export"})
        m = receive_until(ws, "export")
        (session,) = client.app_state.sessions.values()
    model = tmp_path / "model.safetensors"
    model.write_bytes(base64.b64decode(m["data"]))
    F = session.transform(session.X_test)
    header = ",".join(f'"{f}"' for f in features)
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in F)
    (tmp_path / "points.csv").write_text(header + "\n" + rows + "\n")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(tmp_path / "points.csv"), "--out", str(out), "-q"]) == 0
    got = np.loadtxt(out, delimiter=",", skiprows=1, usecols=0)
    expected = session.net.predict(F)
    if dataset == "sin":
        np.testing.assert_allclose(got, expected.ravel(), rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, expected)


def test_weight_message_returns_the_traced_chain_rule_product(client):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        configure(ws, dataset="xor", hidden=[3])
        ws.send_json({"type": "select", "layer": 0, "i": 1, "j": 2})
        m = ws.receive_json()
        assert m["type"] == "chain" and m["epoch"] == 0, m
        assert "dL/dW1[1,2] = Σ_n dL/da1[n,2]" in m["text"] and "sum =" in m["text"]
        (session,) = client.app_state.sessions.values()
        net, n = session.net, m["n_points"]
        loss = __import__("chainrule").get_loss("cross_entropy")
        net.zero_grad()
        loss.forward(net.forward(session.X_train[:n]), session.y_train[:n])
        net.backward(loss.backward())
        assert m["grad"] == pytest.approx(float(net.layers[0].weight.grad[1, 2]), abs=1e-6)


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"type": "config", "dataset": "mnist"}, "unknown dataset"),
        ({"type": "config", "hidden": [4, 0]}, "0 units"),
        ({"type": "config", "lr": "abc"}, "lr must be a number"),
        ({"type": "config", "hidden": [128] * 8}, "parameters"),
        ({"type": "config", "hidden": [4096]}, "units"),
        ({"type": "select", "layer": 7, "i": 0, "j": 0}, "layer must be"),
        ({"type": "dance"}, "unknown message type"),
    ],
)
def test_bad_messages_give_an_error_and_the_socket_keeps_working(client, bad, words):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        configure(ws, dataset="circles", hidden=[4])
        ws.send_json(bad)
        m = ws.receive_json()
        assert m["type"] == "error" and words in m["message"], m
        ws.send_text("not json")
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"type": "step"})  # the old network is still there and trains
        u = ws.receive_json()
        assert u["type"] == "update" and u["epoch"] == 1
        configure(ws, dataset="spirals", hidden=[6])


@pytest.mark.parametrize("dataset", ["xor", "moons", "sin"])
def test_playing_lowers_the_loss_and_pause_stops(client, dataset):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        first = configure(ws, dataset=dataset, hidden=[8, 8], activation="tanh", lr=0.03)
        ws.send_json({"type": "play"})
        assert receive_until(ws, "status")["running"] is True
        for _ in range(200):
            u = receive_until(ws, "update")
            ws.send_json({"type": "ack"})  # the page acknowledges each update it has drawn
            if u["epoch"] >= 150:
                break
        ws.send_json({"type": "pause"})
        receive_until(ws, "status")
        assert u["train_loss"] < 0.6 * first["train_loss"], (first["train_loss"], u)
        (session,) = client.app_state.sessions.values()
        assert session.running is False


def test_updates_wait_for_the_pages_ack_while_training_goes_on(client):
    import time

    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        configure(ws, dataset="moons", hidden=[4])
        ws.send_json({"type": "play"})
        receive_until(ws, "status")
        first = receive_until(ws, "update")
        (session,) = client.app_state.sessions.values()
        deadline = time.monotonic() + 10
        while session.epoch <= first["epoch"] + 5:  # no ack yet: training goes on, unsent
            assert time.monotonic() < deadline
            time.sleep(0.02)
        ws.send_json({"type": "ack"})
        second = receive_until(ws, "update")
        assert second["epoch"] > first["epoch"] + 5
        ws.send_json({"type": "pause"})
        receive_until(ws, "status")


def test_config_rebuilds_and_sessions_are_capped_and_closed(client):
    sessions = client.app_state.sessions
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        receive_until(a, "hello")
        receive_until(b, "hello")
        configure(a, dataset="moons", hidden=[4])
        configure(b, dataset="circles", hidden=[2, 2])
        a.send_json({"type": "step"})
        assert a.receive_json()["epoch"] == 1
        assert len(sessions) == 2
        shapes = {tuple(np.shape(s.net.layers[0].weight.value)) for s in sessions.values()}
        assert shapes == {(2, 4), (2, 2)}  # independent sessions
        configure(a, dataset="moons", hidden=[4], activation="relu")  # epoch back to 0
        with client.websocket_connect("/ws") as c:
            m = c.receive_json()
            assert m["type"] == "error" and "too many" in m["message"]
    for _ in range(100):  # the server notices the closed sockets
        if not sessions:
            break
        __import__("time").sleep(0.02)
    assert not sessions


def test_other_origins_are_refused(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws", headers={"origin": "https://evil.example"}) as ws:
            ws.receive_json()


def test_features_set_the_input_width_and_the_boundary_uses_them(client):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        ws.send_json(
            {"type": "config", "dataset": "xor", "hidden": [4], "features": ["x1", "x2", "x1*x2"]}
        )
        data = receive_until(ws, "data")
        assert data["config"]["features"] == ["x1", "x2", "x1*x2"]
        assert np.shape(data["X_train"])[1] == 2  # the raw points, drawn on the input plane
        u = receive_until(ws, "update")
        assert shapes(u) == [(3, 4), (4, 2)]
        ws.send_json({"type": "step"})
        u = receive_until(ws, "update")
        (session,) = client.app_state.sessions.values()
        assert session.net.layers[0].weight.value.shape == (3, 4)
        grid = session.grid_points()
        assert grid.shape == (GRID * GRID, 2)
        feats = np.c_[grid, grid[:, 0] * grid[:, 1]]
        expected = session.net.predict_proba(feats)
        np.testing.assert_allclose(proba(u), expected, atol=0.5 / 255 + 1e-6)
        assert session.net.preprocessing_["feature_names"] == ["x1", "x2", "x1*x2"]
        ws.send_json({"type": "export"})
        assert receive_until(ws, "export")["feature_names"] == ["x1", "x2", "x1*x2"]
        # the 1-D dataset has its own features
        configure(ws, dataset="sin", hidden=[4], features=["x", "x^3", "sin(x)"])
        assert session.net.layers[0].weight.value.shape == (3, 4)


def test_squared_features_make_circles_linearly_separable(client):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        first = configure(
            ws, dataset="circles", hidden=[], features=["x1^2", "x2^2"], lr=0.1, noise=0.05
        )
        assert shapes(first) == [(2, 2)]  # no hidden layer
        for _ in range(60):
            ws.send_json({"type": "step"})
            u = receive_until(ws, "update")
        assert u["test_loss"] < 0.2, (first["test_loss"], u["test_loss"])


@pytest.mark.parametrize(
    "features, words",
    [
        (["x1", "x3"], "unknown feature 'x3'"),
        (["x"], "unknown feature 'x'"),  # a 1-D feature on a 2-D dataset
        ([], "at least one feature"),
        ("x1", "list of feature names"),
    ],
)
def test_bad_features_give_an_error_and_the_socket_keeps_working(client, features, words):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        configure(ws, dataset="circles", hidden=[4], features=["x1", "x2", "x1^2"])
        ws.send_json({"type": "config", "dataset": "circles", "features": features})
        m = ws.receive_json()
        assert m["type"] == "error" and words in m["message"], m
        ws.send_json({"type": "step"})  # the old network is still there and trains
        u = ws.receive_json()
        assert u["type"] == "update" and u["epoch"] == 1 and shapes(u)[0][0] == 3


# -- the server as the command line runs it (issue 14: hostile requests, --port) ----------
@pytest.fixture(scope="module")
def live_server():
    """The app served by uvicorn on a free loopback port, as `chainrule playground` serves it."""
    import threading
    import time

    uvicorn = pytest.importorskip("uvicorn")
    from chainrule.playground.app import MAX_MESSAGE_BYTES, bind

    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(create_app(), log_level="critical", ws_max_size=MAX_MESSAGE_BYTES)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the playground server did not start"
        time.sleep(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


def _handshake(port: int, origin: str) -> str:
    """The status line the server answers to a WebSocket upgrade with this Origin."""
    import socket

    request = (
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request.encode("latin-1"))
        return s.recv(4096).decode("latin-1").split("\r\n", 1)[0]


@pytest.mark.parametrize(
    "origin, status",
    [
        ("http://[::1", "403"),  # not a URL: urlsplit raises, once a 500 with a traceback
        ("http://[zz]:80", "403"),
        ("https://evil.example", "403"),
        ("null", "403"),
        ("http://127.0.0.1:8000", "101"),
        ("http://localhost:1234", "101"),
    ],
)
def test_origin_header_is_checked_without_a_server_error(live_server, origin, status):
    assert _handshake(live_server, origin).split()[1] == status


def test_a_binary_frame_is_answered_with_close_code_1003(live_server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{live_server}/ws", open_timeout=5) as ws:
        assert '"hello"' in ws.recv(timeout=5)
        ws.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=5)
        assert info.value.rcvd is not None, "no close frame from the server"
        assert info.value.rcvd.code == 1003 and "text" in info.value.rcvd.reason


def test_a_message_over_the_size_limit_is_refused_with_1009(live_server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from chainrule.playground.app import MAX_MESSAGE_BYTES

    with connect(f"ws://127.0.0.1:{live_server}/ws", open_timeout=5, max_size=None) as ws:
        ws.recv(timeout=5)
        ws.send('{"type": "config", "x": "' + "a" * MAX_MESSAGE_BYTES + '"}')
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009


@pytest.mark.parametrize("port", ["70000", "-1", "65536"])
def test_cli_refuses_a_port_out_of_range_in_one_line(port, capsys):
    from chainrule.cli import main

    assert main(["playground", "--port", port, "--no-browser"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "--port" in err and "0 to 65535" in err and port in err, err


def test_cli_says_when_the_port_is_in_use(capsys):
    import socket

    from chainrule.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["playground", "--port", str(port), "--no-browser"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"127.0.0.1:{port}" in err and "--port 0" in err, err


def test_port_0_prints_the_port_the_system_chose(tmp_path):
    import os
    import subprocess
    import sys
    import urllib.request

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule.cli", "playground", "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() else "")
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        assert port != 0
        for _ in range(100):  # uvicorn starts serving on the bound socket
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200 and "chainrule playground" in r.read().decode()
                break
            except OSError:
                __import__("time").sleep(0.05)
        else:
            raise AssertionError(f"nothing answers on the printed port {port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- the session's own training loop, step mode, verdicts and data (issue 16) ---------------
def _session(**cfg):
    from chainrule.playground.session import Session, validate

    s = Session()
    s.configure(validate({"type": "config", **cfg}))
    return s


def _torch_grads(session, rows, l1=0.0, l2=0.0):
    """dL/dparam of the (penalised) batch loss by PyTorch autograd: an independent reference."""
    torch = pytest.importorskip("torch")
    import chainrule as cr

    module = cr.export.to_torch(session.net).double()
    x = torch.tensor(session.F_train[rows], dtype=torch.float64)
    y = torch.tensor(session.y_train[rows])
    out = module(x)
    if session.task == "classify":
        loss = torch.nn.functional.cross_entropy(out, y.long())
    else:
        loss = torch.mean((out.reshape(-1) - y.double()) ** 2)
    weights = [p for name, p in module.named_parameters() if name.endswith("weight")]
    penalty = sum(l1 * w.abs().sum() + 0.5 * l2 * (w * w).sum() for w in weights)
    (loss + penalty).backward()
    # torch Linear weights are (out, in): transpose to chainrule's (in, out)
    return [
        (p.grad.T.numpy() if name.endswith("weight") else p.grad.numpy())
        for name, p in module.named_parameters()
    ]


@pytest.mark.parametrize("dataset", ["moons", "gaussians"])
def test_one_sgd_step_with_l1_and_l2_matches_pytorch_autograd(dataset):
    s = _session(dataset=dataset, hidden=[5, 3], optimizer="sgd", lr=0.1, l1=0.01, l2=0.03)
    rows = s._next_batch().copy()
    before = [p.value.astype(np.float64) for p in s.net.parameters()]
    grads = _torch_grads(s, rows, l1=0.01, l2=0.03)
    assert s.train_step() and s.batches == 1
    for b, g, p in zip(before, grads, s.net.parameters()):
        np.testing.assert_allclose(p.value, b - 0.1 * g, rtol=1e-4, atol=1e-6)


def test_l1_drives_weights_to_zero_and_the_update_reports_the_penalty():
    plain = _session(dataset="circles", hidden=[8], lr=0.03, l1=0.0, l2=0.0)
    sparse = _session(dataset="circles", hidden=[8], lr=0.03, l1=0.03, l2=0.0)
    plain.train_epochs(60)
    sparse.train_epochs(60)
    small = lambda s: np.mean(np.abs(s.net.layers[0].weight.value) < 0.02)  # noqa: E731
    assert small(sparse) > small(plain) + 0.2, (small(sparse), small(plain))


def test_walk_shows_the_batchs_forward_values_chain_rule_and_real_update():
    torch = pytest.importorskip("torch")
    s = _session(dataset="xor", hidden=[3], optimizer="sgd", lr=0.5, l2=0.0)
    s.selected = {"kind": "weight", "layer": 0, "i": 1, "j": 2}
    rows = s._next_batch().copy()
    grads = _torch_grads(s, rows)
    before = s.net.layers[0].weight.value.copy()
    fwd = s.walk()
    assert fwd["phase"] == "forward" and fwd["rows"] == rows.tolist() and s.batches == 0
    x = torch.tensor(s.F_train[rows[:1]], dtype=torch.float64)
    h = torch.tanh(
        x @ torch.tensor(before, dtype=torch.float64)
        + torch.tensor(s.net.layers[0].bias.value, dtype=torch.float64)
    )
    np.testing.assert_allclose(fwd["nodes"][1], h[0].numpy(), atol=1e-4)  # values on nodes
    assert "z1[0,2]" in fwd["text"] and "L = " in fwd["text"]
    back = s.walk()
    assert back["phase"] == "backward"
    edge = np.frombuffer(base64.b64decode(back["edge_grads"]), dtype="<f4")
    np.testing.assert_allclose(edge[: 2 * 3].reshape(2, 3), grads[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(back["node_grads"][1], grads[1], rtol=1e-3, atol=1e-5)
    assert "dL/dW1[1,2] = Σ_n" in back["text"]
    upd = s.walk()
    assert upd["phase"] == "update" and s.batches == 1 and upd["batch"] == 1
    after = s.net.layers[0].weight.value
    np.testing.assert_allclose(after, before - 0.5 * grads[0], rtol=1e-4, atol=1e-6)
    delta = np.frombuffer(base64.b64decode(upd["edge_deltas"]), dtype="<f4")[:6].reshape(2, 3)
    np.testing.assert_allclose(delta, after - before, atol=1e-7)
    expected = f"{before[1, 2]:.6g} − 0.5·({grads[0][1, 2]:.6g}) = {before[1, 2] - 0.5 * grads[0][1, 2]:.6g}"
    assert expected in upd["text"], upd["text"]


def test_set_edits_a_weight_and_a_bias_and_refuses_bad_values(client):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        configure(ws, dataset="moons", hidden=[4])
        ws.send_json({"type": "set", "kind": "weight", "layer": 1, "i": 3, "j": 1, "value": -2.5})
        u = receive_until(ws, "update")
        assert params(u)[1][0][3, 1] == -2.5 and u["chain"]["value"] == -2.5
        ws.send_json({"type": "set", "kind": "bias", "layer": 0, "j": 2, "value": "0.75"})
        assert params(receive_until(ws, "update"))[0][1][2] == 0.75
        for bad, words in [("abc", "got 'abc'"), (1e9, "between -100 and 100"), (None, "number")]:
            ws.send_json({"type": "set", "kind": "bias", "layer": 0, "j": 2, "value": bad})
            m = ws.receive_json()
            assert m["type"] == "error" and words in m["message"], m
        ws.send_json({"type": "set", "kind": "bias", "layer": 0, "j": 9, "value": 1})
        assert "j must be 0 to 3" in ws.receive_json()["message"]


def _sick_session(**cfg):
    from chainrule.playground.session import Session, validate

    s = Session()
    s.configure(validate(cfg))
    return s


def test_verdict_payload_is_the_librarys_diagnosis_of_the_same_net_and_history():
    import chainrule as cr
    from chainrule.losses import get_loss

    # issue 13's sick setup: 6 sigmoid layers of 8 on spirals, SGD 0.03
    s = _sick_session(
        dataset="spirals", hidden=[8] * 6, activation="sigmoid", optimizer="sgd", lr=0.03
    )
    s.train_epochs(12)
    # the story is the per-epoch loss on the whole train and test sets, one value per epoch
    assert len(s.history["loss"]) == len(s.history["val_loss"]) == s.epoch == 12
    loss = get_loss(s.cfg["loss"])
    assert s.history["loss"][-1] == pytest.approx(loss.forward(s.net.forward(s.F_train), s.y_train))
    assert s.history["val_loss"][-1] == pytest.approx(
        loss.forward(s.net.forward(s.F_test), s.y_test)
    )
    page = s.frame(full=True)["diagnosis"]["verdicts"]
    report = cr.diagnose(s.net, s.F_train, s.y_train, loss=s.cfg["loss"], history=s.history)
    kinds = list(dict.fromkeys(v.kind for v in report.verdicts))
    assert [v["kind"] for v in page] == kinds and "vanishing_gradients" in kinds
    for v in page:
        lib = [r for r in report.verdicts if r.kind == v["kind"]]
        assert v["layers"] == [r.layer for r in lib if r.layer is not None]
        assert v["detail"] == [r.text for r in lib]
    names = list(dict.fromkeys(m.name for r in report.verdicts for m in r.remedies))
    assert [r["name"] for v in page for r in v["remedies"]] == names
    # the library's remedies for it, as buttons for this page's controls
    (vg,) = [v for v in page if v["kind"] == "vanishing_gradients"]
    sets = {r["name"]: r["set"] for r in vg["remedies"]}
    assert sets["relu_he"] == {"activation": "relu"}  # init "auto" is He for relu already
    assert sets["adam"] == {"optimizer": "adam", "lr": 0.001}


def test_six_dead_relu_layers_are_one_line_and_each_remedy_is_offered_once():
    s = _sick_session(dataset="spirals", hidden=[8] * 6, activation="relu")
    for d in s.dense[:-1]:
        d.bias.value[...] = -50.0  # every hidden unit outputs 0 for every point
    page = s.frame(full=True)["diagnosis"]["verdicts"]
    dead = [v for v in page if v["kind"] == "dead_relu"]
    assert len(dead) == 1 and dead[0]["layers"] == [0, 1, 2, 3, 4, 5], page
    assert (
        len(dead[0]["detail"]) == 6
        and dead[0]["text"]
        == "dead ReLUs in layers 0 (100%), 1 (100%), 2 (100%), 3 (100%), 4 (100%), 5 (100%)"
    )
    names = [r["name"] for v in page for r in v["remedies"]]
    assert len(names) == len(set(names)), names
    sets = {r["name"]: r["set"] for v in page for r in v["remedies"]}
    assert sets["leaky_relu"] == {"activation": "leaky_relu"}
    # "auto" (He for relu) is what the page has already: no button, not shown
    (reinit,) = [r for v in page for r in v["remedies"] if r["name"] == "reinit"]
    assert reinit["set"] is None and reinit["have"] is True
    # every button sets only controls the page has, to values it accepts
    from chainrule.playground.session import validate

    for v in page:
        for r in v["remedies"]:
            if r["set"] is not None:
                validate({**s.cfg, **r["set"]})


def test_remedies_without_a_page_control_are_words_not_buttons():
    s = _sick_session(dataset="spirals", hidden=[8] * 4, activation="relu", lr=10)
    s.train_epochs(10)
    page = s.frame(full=True)["diagnosis"]["verdicts"]
    (high,) = [v for v in page if v["kind"] == "lr_too_high"]
    sets = {r["name"]: r["set"] for r in high["remedies"]}
    assert sets["lower_lr"] == {"lr": 1.0}  # from the session's own lr of 10
    assert sets["clip_norm"] is None  # no clipping control on the page
    clip = next(r for r in high["remedies"] if r["name"] == "clip_norm")
    assert "clip_norm=1.0" in clip["label"]


def test_the_page_never_reads_a_verdicts_wording(monkeypatch):
    import chainrule.playground.session as session_mod
    from chainrule.verdicts import Verdict

    s = _sick_session(dataset="spirals", hidden=[8] * 6, activation="relu")
    for d in s.dense[:-1]:
        d.bias.value[...] = -50.0
    before = s.frame(full=True)["diagnosis"]["verdicts"]
    real = session_mod.diagnose

    def garbled(*args, **kwargs):
        report = real(*args, **kwargs)
        report.verdicts = [
            Verdict(v.kind, v.layer, v.severity, v.evidence, "lorem ipsum", v.remedies)
            for v in report.verdicts
        ]
        return report

    monkeypatch.setattr(session_mod, "diagnose", garbled)
    after = s.frame(full=True)["diagnosis"]["verdicts"]
    strip = lambda vs: [  # noqa: E731
        (v["kind"], v["layers"], v["severity"], v["remedies"]) for v in vs
    ]
    assert strip(after) == strip(before) and before
    assert all(set(d) == {"lorem ipsum"} for d in (set(v["detail"]) for v in after))


def test_the_verdict_is_judged_over_the_run_not_the_last_redraw():
    # a net that learns: the mechanism the probe batch shows is a note once the history says so
    s = _sick_session(dataset="xor", hidden=[8, 8], activation="tanh")
    s.train_epochs(40)
    page = s.frame(full=True)["diagnosis"]
    assert page["epochs_judged"] == 40
    assert not [v for v in page["verdicts"] if v["severity"] == "problem"], page["verdicts"]
    # a reconfigured net starts a new story
    s.configure(s.cfg)
    assert s.history == {"loss": [], "val_loss": []}


@pytest.mark.parametrize(
    "text, problem, words",
    [
        ("", "classify", "is empty"),
        ("a,b\n" + "1,2\n" * 12, "classify", "has 2 columns"),
        ("x,y,c\n" + "1,2,a\n" * 5, "classify", "5 data rows; it needs at least 10"),
        ("x,y,c\n" + "1,2,a\n" * 10 + "1,2\n", "classify", "row 12 of t.csv has 2 cells"),
        ("x,y,c\n" + "1,2,a\n" * 10 + "nan,2,b\n", "classify", "x is 'nan', not a finite number"),
        ("x,y,c\n" + "".join(f"{i},{i % 3},a\n" for i in range(12)), "classify", "one class"),
        ("".join(f"{i},{i % 3},{i}\n" for i in range(12)), "classify", "12 distinct values"),
        (
            "x,y,v\n" + "".join(f"{i},{i % 3},hot\n" for i in range(12)),
            "regress",
            "'hot', not a finite",
        ),
        (
            "x,y,v\n" + "".join(f"1,{i % 3},{i}\n" for i in range(12)),
            "regress",
            "same value in every row",
        ),
        ("x,y,v\n" + "1,2,3\n" * 2001, "regress", "at most 2000"),
    ],
)
def test_csv_upload_is_checked_with_clear_errors(client, text, problem, words):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        ws.send_json({"type": "upload", "csv": text, "problem": problem, "name": "t.csv"})
        m = ws.receive_json()
        assert m["type"] == "error" and words in m["message"], m
        ws.send_json({"type": "config", "dataset": "custom"})
        assert "no CSV uploaded" in ws.receive_json()["message"]


def test_an_uploaded_csv_trains_with_its_class_names(client):
    rng = np.random.default_rng(0)
    X = rng.uniform(-5, 5, size=(120, 2))
    label = np.where(X[:, 0] > X[:, 1], "left", "right")
    text = "a;b;side\n" + "".join(f"{x:.4f};{y:.4f};{c}\n" for (x, y), c in zip(X, label))
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        ws.send_json({"type": "upload", "csv": text, "problem": "classify", "name": "s.csv"})
        m = ws.receive_json()
        assert m == {
            "type": "uploaded",
            "task": "classify",
            "rows": 120,
            "classes": ["left", "right"],
        }
        ws.send_json({"type": "config", "dataset": "custom", "hidden": [4], "lr": 0.03})
        data = receive_until(ws, "data")
        assert data["classes"] == ["left", "right"] and data["dim"] == 2
        assert np.abs(np.r_[data["X_train"], data["X_test"]]).max() <= 1.0  # scaled to [-1, 1]
        receive_until(ws, "update")
        for _ in range(40):
            ws.send_json({"type": "step"})
            u = receive_until(ws, "update")
        assert u["test_acc"] > 0.9, u["test_acc"]


@pytest.mark.parametrize("dataset", ["plane", "gaussians"])
def test_2d_regression_sets_draw_values_over_the_plane(dataset):
    s = _session(dataset=dataset, hidden=[8, 8], lr=0.03)
    first = s.frame(full=True)
    assert first["train_acc"] is None and first["output"]["kind"] == "value"
    s.train_epochs(150)
    u = s.frame()
    y = np.frombuffer(base64.b64decode(u["output"]["y"]), dtype="<f4")
    expected = s.net.forward(s.transform(s.grid_points())).reshape(-1)
    np.testing.assert_array_equal(y, expected)
    pred = s.net.forward(s.F_test).reshape(-1)
    r2 = 1 - np.sum((pred - s.y_test) ** 2) / np.sum((s.y_test - s.y_test.mean()) ** 2)
    assert r2 > 0.8, r2


def test_walks_adam_update_is_written_out_and_matches_the_real_step():
    """The text's Adam rule, with its m, v and bias corrections, lands where the engine's
    own Adam step put the weight."""
    s = _session(dataset="moons", hidden=[4], lr=0.03, l2=0.001)
    s.selected = {"kind": "weight", "layer": 1, "i": 2, "j": 0}
    for _ in range(2):  # two batches: the second shows m and v carried over
        for _ in range(3):
            upd = s.walk()
    lines = upd["text"].splitlines()
    assert "Adam, step t = 2" in upd["text"]
    formula = next(x for x in lines if "← W2[2,0] − lr·m̂/(√v̂ + ε)" in x).rsplit("= ", 1)[1]
    actual = lines[-1].split("→ ")[1].split()[0]
    assert float(formula) == pytest.approx(float(actual), rel=1e-5), upd["text"]
    assert float(actual) == pytest.approx(float(s.net.layers[1].weight.value[2, 0]), rel=1e-5)


def test_a_diverged_run_stops_says_why_and_offers_a_lower_rate(client):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "hello")
        configure(ws, dataset="sin", hidden=[8], activation="identity", optimizer="sgd", lr=100)
        ws.send_json({"type": "play"})
        assert receive_until(ws, "status")["running"] is True
        status = receive_until(ws, "status")  # stopped by itself
        assert status["running"] is False
        u = receive_until(ws, "update")
        (v,) = [v for v in u["diagnosis"]["verdicts"] if v["kind"] == "diverged"]
        assert v["text"].startswith("training stopped: the loss became") and "epoch 1" in v["text"]
        assert [(r["label"], r["set"]) for r in v["remedies"]] == [
            ("Learning rate: 10", {"lr": 10.0})
        ]
        assert np.isfinite(f32(u["params"])).all()  # the weights from before the blow-up
        ws.send_json({"type": "play"})  # cannot play on: reset or change a setting first
        assert receive_until(ws, "status")["running"] is False
