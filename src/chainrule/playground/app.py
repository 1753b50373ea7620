"""The playground server: one page, one WebSocket per browser tab.

Each WebSocket is an independent :class:`~chainrule.playground.session.Session` with
its own data, network and optimizer (its messages are listed in
:meth:`Session.handle <chainrule.playground.session.Session.handle>`). While it
plays, a background task trains in short bursts (``tick_seconds``) in a worker
thread and, whenever the page has acknowledged the last update (``{"type":
"ack"}``), sends the next one: the page never falls behind on a queue of stale
updates, and training goes on while it draws. ``play`` and ``pause`` are answered
at once, without waiting for a burst to end. Closing the tab ends the session.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from .._optional import require
from .session import (  # noqa: F401  (the names tests and users import from here)
    DEFAULTS,
    GRID,
    MAX_LAYERS,
    MAX_PARAMS,
    MAX_UNITS,
    PlaygroundError,
    Session,
    hello,
    validate,
)

STATIC = Path(__file__).parent / "static"
MAX_SESSIONS = 8
MAX_MESSAGE_BYTES = 1 << 18  # a page's message (an uploaded CSV included) is at most 256 KiB
FRAME_INTERVAL = 1 / 60  # at most this many updates a second (the page's frame rate)


def _is_ack(raw: str) -> bool:
    if len(raw) > 40 or "ack" not in raw:
        return False
    try:
        message = json.loads(raw)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ack"


def _quick_type(raw: str) -> str | None:
    """The type of a short play/pause message, read without the session's lock."""
    if len(raw) > 40:
        return None
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("type") in ("play", "pause") and len(message) == 1:
        return message["type"]
    return None


_LOCAL = {"127.0.0.1", "localhost", "::1"}


def origin_allowed(origin: str | None) -> bool:
    """Whether a WebSocket may open from this ``Origin``: none (not a browser) or loopback.

    A header that is not a URL at all (``http://[::1``) is refused like a foreign one.
    """
    if origin is None:
        return True
    try:
        return urlsplit(origin).hostname in _LOCAL
    except ValueError:
        return False


def create_app(max_sessions: int = MAX_SESSIONS, tick_seconds: float = 0.008):
    """The Starlette app. ``app.state.sessions`` maps a session id to its :class:`Session`."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocketDisconnect

    sessions: dict[int, Session] = {}

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def websocket_endpoint(websocket):
        if not origin_allowed(websocket.headers.get("origin")):
            # another web site must not drive a local session; closing before the
            # handshake answers HTTP 403 (a malformed Origin too, never a 500)
            await websocket.close(code=1008)
            return
        await websocket.accept()
        if len(sessions) >= max_sessions:
            await websocket.send_json(
                {
                    "type": "error",
                    "message": f"too many playground sessions (limit {max_sessions}); "
                    "close another tab and reload",
                }
            )
            await websocket.close(code=1013)
            return
        session = Session(tick_seconds)
        sid = id(session)
        sessions[sid] = session
        lock = asyncio.Lock()  # one computation on the session at a time
        send_lock = asyncio.Lock()  # one message on the socket at a time
        task: asyncio.Task | None = None
        page_ready = asyncio.Event()  # the page has drawn the last update
        page_ready.set()

        async def send(message: dict) -> None:
            async with send_lock:
                await websocket.send_text(json.dumps(message, separators=(",", ":")))

        async def run() -> None:
            last = 0.0
            try:
                while session.running:
                    async with lock:
                        if not session.running:
                            break
                        due = time.monotonic() - last >= FRAME_INTERVAL
                        if page_ready.is_set() and due:  # the page is ready: what is now
                            update = await asyncio.to_thread(session.frame)
                            page_ready.clear()
                            last = time.monotonic()
                            await send(update)
                        await asyncio.to_thread(session.burst)  # then train on
                    await asyncio.sleep(0)
                if session.diverged:  # stopped by itself: say so
                    async with lock:
                        update = await asyncio.to_thread(session.frame, True)
                    await send({"type": "status", "running": False})
                    await send(update)
            except Exception:  # the socket closed under us: the session is over
                session.running = False

        try:
            await send(hello())
            while True:
                try:
                    frame = await websocket.receive()
                except (WebSocketDisconnect, RuntimeError):
                    break
                if frame["type"] == "websocket.disconnect":
                    break
                raw = frame.get("text")
                if raw is None:  # a binary frame: the protocol is JSON text only
                    await websocket.close(code=1003, reason="text frames only (JSON messages)")
                    break
                if _is_ack(raw):
                    page_ready.set()
                    continue
                quick = _quick_type(raw)
                if quick == "pause":  # at once: the burst in flight ends on its own
                    session.running = False
                    await send({"type": "status", "running": False, "epoch": session.epoch})
                    async with lock:  # then the final state, once the burst has ended
                        try:
                            update = await asyncio.to_thread(session.frame, True)
                        except RuntimeError:  # the server is shutting down
                            break
                    await send(update)
                    continue
                if quick == "play" and session.net is not None:
                    session.running = session.diverged is None
                    page_ready.set()
                    await send({"type": "status", "running": session.running})
                else:
                    async with lock:
                        replies = await asyncio.to_thread(session.handle, raw)
                    for reply in replies:
                        await send(reply)
                if session.running and (task is None or task.done()):
                    task = asyncio.create_task(run())
        except WebSocketDisconnect:
            pass
        finally:
            session.running = False
            if task is not None:
                task.cancel()
            sessions.pop(sid, None)

    app = Starlette(
        routes=[
            Route("/", index),
            WebSocketRoute("/ws", websocket_endpoint),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.state.sessions = sessions
    return app


def check_port(port) -> int:
    """``port`` as an int from 0 to 65535 (0: the system picks a free one), else ValueError."""
    text = str(port).strip()
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or isinstance(port, bool) or not 0 <= value <= 65535:
        raise ValueError(
            f"--port must be a whole number from 0 to 65535 (0 picks a free port), got {text!r}"
        )
    return value


def bind(host: str, port: int):
    """A listening socket on ``host:port``; a port in use is a one-line ``ValueError``."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        raise ValueError(
            f"cannot listen on {host}:{port} ({why}); choose another --port, or --port 0 "
            "for a free one"
        ) from None
    sock.set_inheritable(True)
    return sock


def main(port: int = 8000, open_browser: bool = True, host: str = "127.0.0.1") -> None:
    """Serve the playground on loopback until interrupted (Ctrl-C).

    The socket is bound before anything is printed, so the address printed is the real
    one (``--port 0`` prints the port the system chose).
    """
    port = check_port(port)
    uvicorn = require(
        "uvicorn", "the playground needs Starlette and uvicorn", "'chainrule[playground]'"
    )
    sock = bind(host, port)
    port = sock.getsockname()[1]
    url = f"http://{host}:{port}/"
    print(f"chainrule playground on {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(create_app(), log_level="warning", ws_max_size=MAX_MESSAGE_BYTES)
    # The page trains small networks in worker threads; OpenBLAS may ignore a thread count
    # set from a worker, so the whole server process runs BLAS on one thread from here.
    from ..threads import one_blas_thread

    one_blas_thread()  # threadpoolctl applies the limit now; it stays until the process ends
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(prog="python -m chainrule.playground.app")
    parser.add_argument("--port", default="8000")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    try:
        main(args.port, not args.no_browser)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except KeyboardInterrupt:
        pass
