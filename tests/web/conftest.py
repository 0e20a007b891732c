"""The storefront and dashboard over real data: a slice of Amazon Scientific served by ``shopsage serve``,
and a headless chromium driven by Playwright (Debian's ``/usr/bin/chromium``; no browser is downloaded).

The slice: every user whose whole history lies among the 800 most bought items (331 users, 563
items, 1,861 purchases), written as RecBole atomic files and imported with ``shopsage import recbole``, so
the server reads exactly what a shop importing its files would. Two itemknn versions are trained
(the second live), so the dashboard has a version to roll back to.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("SHOPSAGE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AXE = Path(__file__).parent / "fixtures" / "axe.min.js"
TOP_ITEMS = 800


def write_slice(src: Path, dst: Path, top: int = TOP_ITEMS) -> dict[str, int]:
    """RecBole files of the ``top`` most frequent items and the users whose histories lie among them."""
    rows = [line.split("\t") for line in (src / "Scientific.test.inter").read_text().splitlines()[1:]]
    seqs = {u: [*lst.split(), t] for u, lst, t in rows}
    top_items = {i for i, _ in Counter(i for s in seqs.values() for i in s).most_common(top)}
    users = {u for u, s in seqs.items() if set(s) <= top_items}
    used = {i for u in users for i in seqs[u]}
    dst.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        lines = (src / f"Scientific.{split}.inter").read_text().splitlines()
        (dst / f"Scientific.{split}.inter").write_text(
            "\n".join([lines[0], *[x for x in lines[1:] if x.split("\t", 1)[0] in users]]) + "\n")
    asin = {}
    kept = []
    for line in (src / "Scientific.item2index").read_text().splitlines():
        a, i = line.split("\t")
        if i in used:
            asin[a] = i
            kept.append(line)
    (dst / "Scientific.item2index").write_text("\n".join(kept) + "\n")
    (dst / "Scientific.user2index").write_text("\n".join(
        x for x in (src / "Scientific.user2index").read_text().splitlines() if x.split("\t")[1] in users) + "\n")
    text = (src / "Scientific.text").read_text().splitlines()
    (dst / "Scientific.text").write_text("\n".join([text[0], *[x for x in text[1:] if x.split("\t", 1)[0] in asin]]) + "\n")
    return {"users": len(users), "items": len(used), "interactions": sum(len(seqs[u]) for u in users)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "shopsage.cli.main", *args], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


class Shop:
    """A served home: its base URL, home folder and store URL."""

    def __init__(self, base: str, home: Path, store: str, proc: subprocess.Popen[bytes]) -> None:
        self.base, self.home, self.store, self.proc = base, home, store, proc


def serve_slice(home: Path, data_dir: Path, env: dict[str, str] | None = None) -> Shop:
    from shopsage.evaluate.load import start

    store = f"sqlite:///{home / 'shop.db'}"
    if not (home / "shop.db").exists():
        write_slice(data_dir / "amazon-scientific", home / "slice")
        _cli("import", "recbole", str(home / "slice"), "--store", store, "--home", str(home))
        for _ in range(2):  # two versions: the dashboard can roll back to the first
            _cli("models", "train", "itemknn", "--store", store, "--home", str(home), "--promote")
    port = _free_port()
    cmd = [sys.executable, "-m", "shopsage.cli.main", "serve", "--store", store, "--home", str(home),
           "--port", str(port), "--no-access-log"]
    proc = start(cmd, port, home / f"serve-{port}.log", env={"HF_HUB_OFFLINE": "1", **(env or {})})
    return Shop(f"http://127.0.0.1:{port}", home, store, proc)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing and could not be installed (make setup runs apt-get install -y "
                    "chromium as root): the browser journeys need Debian's chromium")
    return CHROMIUM


@pytest.fixture(scope="module")
def shop(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    from shopsage.evaluate.load import stop

    srv = serve_slice(tmp_path_factory.mktemp("web-home"), data_dir)
    yield srv
    stop(srv.proc)


@pytest.fixture()
def keyed_shop(shop: Shop) -> Iterator[Shop]:
    """A second server on the same home with API keys: the dashboard then needs the admin key."""
    from shopsage.evaluate.load import stop

    srv = serve_slice(shop.home, Path("/nonexistent"), env={"SHOPSAGE_API_KEYS": "a-write-key-only",
                                                            "SHOPSAGE_ADMIN_KEYS": "the-admin-key"})
    srv.admin_key = "the-admin-key"  # type: ignore[attr-defined]
    yield srv
    stop(srv.proc)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=["--headless", "--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def axe() -> Any:
    """``axe(page, name)``: assert the page has no serious or critical accessibility violations."""
    return check_accessibility


@pytest.fixture(scope="session")
def screenshot() -> Any:
    """``screenshot(page, name)``: save docs/screenshots/NAME.png."""
    return snap


def check_accessibility(page: Any, name: str) -> list[dict[str, Any]]:
    """axe-core on the page as shown: the serious and critical violations (none expected)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:3]]} for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {bad}"
    return bad


def snap(page: Any, name: str) -> None:
    """A screenshot of the page as the shopper sees it, kept in docs/screenshots (committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
