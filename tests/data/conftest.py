"""Shared fixtures for the data tests: no network, and the shared MNIST files."""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from quarch.data import _mnist

# The shared data folder sits beside the project: <repo>/../shared/data.
SHARED_DATA = Path(__file__).parents[2] / ".." / "shared" / "data"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never touch the network or the user's cache: a test that needs bytes serves them."""

    def refuse(url: str, timeout: float) -> bytes:
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(_mnist, "_open_url", refuse)
    monkeypatch.setenv("QUARCH_DATA_DIR", str(tmp_path / "default-data-dir"))


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder with MNIST and Fashion-MNIST; skip when it is absent."""
    for name in ("mnist", "fashion-mnist"):
        if not (SHARED_DATA / name / "train-images-idx3-ubyte.gz").is_file():
            pytest.skip(f"shared data folder {SHARED_DATA.resolve()}/{name} is absent")
    return SHARED_DATA.resolve()


@pytest.fixture
def served_folder(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server for ``tmp_path`` (no outside network needed); yields its URL
    prefix, ``http://127.0.0.1:PORT/``."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=tmp_path)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
