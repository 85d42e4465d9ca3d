"""Serving a stand-in's ASGI app: :func:`start_app` runs it with uvicorn on a thread, on a
loopback port (``port=0``: a free one), and returns once it listens; :meth:`Served.stop`
stops it, :meth:`Served.wait` blocks until Ctrl-C (``python -m ingestion_pipelines.standins.<x>``);
:func:`running` is a stand-in's ``serve`` context manager. The part every stand-in's ``start`` /
``serve`` / ``main`` shares; imports nothing of the project."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, TypeVar


@dataclass
class Served:
    """A running app: ``url`` (``http://127.0.0.1:<port>``)."""

    url: str
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving; a request still held by an injected delay is cut off."""
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(10)

    def wait(self) -> None:
        """Serve in the foreground until the server ends or Ctrl-C (then stop it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()


def start_app(app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "stand-in", **config: Any) -> Served:
    """Serve ``app`` with uvicorn on a daemon thread named ``<name>-standin``; ``config``: more
    ``uvicorn.Config`` options. Raises ``RuntimeError`` when it does not listen within 10 s."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"{name}-standin")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError(f"the {name} stand-in did not start")
    return Served(f"http://{host}:{sock.getsockname()[1]}", server, thread)


class _Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Stoppable)


@contextmanager
def running(server: S) -> Iterator[S]:
    """Yield ``server`` (a started stand-in: anything with ``stop()``) and stop it afterwards,
    also when the block raises: each stand-in's ``serve(...) = running(start(...))``."""
    try:
        yield server
    finally:
        server.stop()
