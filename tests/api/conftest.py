"""The API over the synthetic shop: in-process apps, a real uvicorn server on a free port, and the
Redis-backed mode against the real Redis (a unique key prefix per run, deleted afterwards)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shopsage.errors import StoreError
from shopsage.testing.services import require_service
from shopsage.testing.shop import make_shop

REDIS_URL = os.environ.get("SHOPSAGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}"
    make_shop(url).close()
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def redis_prefix() -> Iterator[str]:
    """A unique key prefix on the real Redis; every key under it is deleted afterwards."""
    from shopsage.state import open_state

    prefix = f"ss_test_{uuid.uuid4().hex[:12]}"
    try:
        st = open_state(f"{REDIS_URL}?prefix={prefix}")
    except StoreError as exc:
        require_service("Redis", str(exc))
    yield prefix
    st.clear()  # type: ignore[attr-defined]
    st.close()


class Server:
    """A ``shopsage serve`` subprocess; its output goes to ``log`` (read it after :meth:`stop`)."""

    def __init__(self, proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
        self.proc, self.base, self.log = proc, base, log

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.log.read_text(errors="replace")


def start_server(store: str, home: Path, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 90.0) -> Server:
    """``shopsage serve`` in a subprocess on a free port; returns once /ready answers 200."""
    port = free_port()
    cmd = [sys.executable, "-m", "shopsage.cli.main", "serve", "--store", store, "--home", str(home),
           "--port", str(port), *args]
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"serve-{port}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"shopsage serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return Server(proc, base, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"shopsage serve did not become ready in time:\n{log.read_text(errors='replace')}")


@pytest.fixture()
def server(shop_url: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start real servers (``server(*cli_args, env=...)``); all stopped afterwards."""
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        srv = start_server(shop_url, tmp_path / "home", *args, env=env)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        if srv.proc.poll() is None:
            srv.stop()


@pytest.fixture(scope="module")
def one_worker(shop_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One ``shopsage serve`` (one worker, in-process state) shared by a module's tests."""
    home = tmp_path_factory.mktemp("one-worker")
    srv = start_server(shop_url, home)
    srv.home = home  # type: ignore[attr-defined]
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


class Live:
    """An app served by uvicorn in a thread of this process (for raw sockets and concurrent requests)."""

    def __init__(self, app: object) -> None:
        import threading

        import uvicorn

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",  # type: ignore[arg-type]
                                                    lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the in-thread uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture()
def live() -> Iterator[Callable[[object], Live]]:
    """``live(app)`` serves ``app`` on a free port until the test ends."""
    started: list[Live] = []

    def start(app: object) -> Live:
        srv = Live(app)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def make_service(tmp_path: Path, store_url: str | None = None, state_url: str = "memory://") -> object:
    """A started service over the synthetic shop (SQLite in ``tmp_path`` unless ``store_url``)."""
    from shopsage.serving.service import Service, ServiceOptions

    url = store_url or f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    return Service(ServiceOptions(store_url=url, state_url=state_url, home=tmp_path / "home", reload_interval_s=0)).start()
