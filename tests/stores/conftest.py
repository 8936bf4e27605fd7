"""A Chroma server shared by the store tests of this folder, started once and always stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chroma_server import ChromaServer


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    try:
        yield server
    finally:
        server.stop()
